// SHA1_Init/Update/Final: deprecated in OpenSSL 3 but kept, and without
// EVP's per-message allocations (see CmKeys::Hmac).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "gst/engine/srtp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "gst/engine/packet.h"

namespace rtcmesh::engine {

namespace {

// RFC 3711 §4.3.1 with kdr 0: AES-CM keystream of the master key, IV =
// (master salt XOR label · 2^48) · 2^16.
void derive(const uint8_t* key, const uint8_t* salt, uint8_t label, uint8_t* out, size_t n) {
  uint8_t iv[16] = {};
  std::memcpy(iv, salt, 14);
  iv[7] ^= label;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  std::vector<uint8_t> zero(n, 0);
  int len = 0;
  bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), nullptr, key, iv) == 1 &&
            EVP_EncryptUpdate(c, out, &len, zero.data(), int(n)) == 1;
  EVP_CIPHER_CTX_free(c);
  if (!ok) throw std::runtime_error("SRTP: OpenSSL AES-CTR unavailable");
}

constexpr size_t kAuthTag = 10;  // HMAC-SHA1-80
constexpr size_t kGcmTag = 16;
constexpr size_t kRtcpHeader = 8;  // what SRTCP leaves in the clear
constexpr size_t kRtcpTrailer = 4;  // E bit and 31-bit SRTCP index
constexpr uint32_t kEBit = 0x80000000u;
constexpr int64_t kSendWindow = 1024;

// RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt.
void gcm_rtp_iv(const uint8_t* salt, const uint8_t* packet, uint64_t index, uint8_t* iv) {
  uint8_t v[12] = {0, 0, packet[8], packet[9], packet[10], packet[11],
                   uint8_t(index >> 40), uint8_t(index >> 32), uint8_t(index >> 24), uint8_t(index >> 16),
                   packet[2], packet[3]};
  for (int i = 0; i < 12; ++i) iv[i] = v[i] ^ salt[i];
}

// RFC 7714 §9.1: IV = (00 00 || SSRC || 00 00 || 0 || SRTCP index) XOR salt.
void gcm_rtcp_iv(const uint8_t* salt, const uint8_t* packet, uint32_t index, uint8_t* iv) {
  uint8_t v[12] = {0, 0, packet[4], packet[5], packet[6], packet[7], 0, 0};
  store32(v + 8, index & ~kEBit);
  for (int i = 0; i < 12; ++i) iv[i] = v[i] ^ salt[i];
}

}  // namespace

size_t rtp_header_length(const uint8_t* p, size_t n) {
  if (n < 12 || (p[0] >> 6) != 2) return 0;
  size_t header = 12 + 4 * size_t(p[0] & 0x0F);
  if (p[0] & 0x10) {
    if (header + 4 > n) return 0;
    header += 4 + 4 * size_t(load16(p + header + 2));
  }
  return header > n ? 0 : header;
}

uint64_t estimate_index(uint64_t local, uint16_t seq, int64_t* delta) {
  if (local <= 0x8000) {
    *delta = int64_t(seq) - int64_t(local);
    return seq;
  }
  uint32_t roc = uint32_t(local >> 16);
  uint16_t lseq = uint16_t(local);
  if (lseq < 0x8000) {
    if (int(seq) - int(lseq) > 0x8000) roc -= 1, *delta = int64_t(seq) - lseq - 0x10000;
    else *delta = int64_t(seq) - lseq;
  } else if (int(lseq) - 0x8000 > int(seq)) {
    roc += 1, *delta = int64_t(seq) - lseq + 0x10000;
  } else {
    *delta = int64_t(seq) - lseq;
  }
  return uint64_t(roc) << 16 | seq;
}

ReplayWindow::ReplayWindow(size_t size) : size_(size), bits_(size / 64, 0) {
  if (size == 0 || size % 64) throw std::invalid_argument("ReplayWindow: size not a multiple of 64");
}

bool ReplayWindow::check(int64_t delta) const {
  if (delta > 0) return true;
  if (delta <= -int64_t(size_)) return false;  // libsrtp2: replay_old
  return !bit(uint64_t(int64_t(highest_) + delta));  // libsrtp2: replay_fail
}

void ReplayWindow::add(int64_t delta) {
  if (delta > 0) {
    if (uint64_t(delta) >= size_) {
      std::fill(bits_.begin(), bits_.end(), 0);
    } else {
      for (int64_t i = 1; i <= delta; ++i) {
        uint64_t at = (highest_ + uint64_t(i)) % size_;
        bits_[at / 64] &= ~(uint64_t(1) << (at % 64));
      }
    }
    highest_ += uint64_t(delta);
    delta = 0;
  }
  uint64_t at = uint64_t(int64_t(highest_) + delta) % size_;
  bits_[at / 64] |= uint64_t(1) << (at % 64);
}

bool SendIndex::next(const uint8_t* packet, size_t size, size_t* header, uint64_t* index) {
  *header = rtp_header_length(packet, size);
  if (!*header) return false;
  uint64_t& local = highest_[load32(packet + 8)];
  int64_t delta;
  *index = estimate_index(local, load16(packet + 2), &delta);
  if (delta <= -kSendWindow) return false;  // libsrtp2: srtp_err_status_replay_old
  if (delta > 0) local = *index;
  return true;
}

// HMAC-SHA1 (RFC 2104) with the key's inner and outer blocks hashed once:
// a tag costs two copies of a SHA1 state and the hashing of the message.
// EVP_MAC re-keys, allocates and cleanses for every packet (1.25 against
// 1.15 µs per 1200-byte unprotect, Srtp.UnprotectMicroBenchmark).
struct CmKeys::Hmac {
  SHA_CTX inner, outer;

  explicit Hmac(const uint8_t* key, size_t size) {  // size <= one SHA1 block
    uint8_t pad[SHA_CBLOCK];
    for (auto [ctx, byte] : {std::pair{&inner, uint8_t(0x36)}, std::pair{&outer, uint8_t(0x5c)}}) {
      std::memset(pad, byte, sizeof pad);
      for (size_t i = 0; i < size; ++i) pad[i] ^= key[i];
      SHA1_Init(ctx);
      SHA1_Update(ctx, pad, sizeof pad);
    }
    OPENSSL_cleanse(pad, sizeof pad);
  }
  ~Hmac() {
    OPENSSL_cleanse(&inner, sizeof inner);
    OPENSSL_cleanse(&outer, sizeof outer);
  }

  void sign(const uint8_t* a, size_t a_size, const uint8_t* b, size_t b_size, uint8_t* out) const {
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA_CTX c = inner;
    SHA1_Update(&c, a, a_size);
    if (b_size) SHA1_Update(&c, b, b_size);
    SHA1_Final(digest, &c);
    c = outer;
    SHA1_Update(&c, digest, sizeof digest);
    SHA1_Final(digest, &c);
    std::memcpy(out, digest, kAuthTag);
  }
};

CmKeys::CmKeys(const std::vector<uint8_t>& master, uint8_t label) {
  if (master.size() != 30) throw std::runtime_error("SRTP: key length " + std::to_string(master.size()));
  uint8_t key[16], auth[20];
  derive(master.data(), master.data() + 16, label, key, sizeof key);
  derive(master.data(), master.data() + 16, uint8_t(label + 1), auth, sizeof auth);
  derive(master.data(), master.data() + 16, uint8_t(label + 2), salt_, sizeof salt_);
  hmac_ = std::make_unique<Hmac>(auth, sizeof auth);
  cipher_ = EVP_CIPHER_CTX_new();
  bool ok = cipher_ && EVP_EncryptInit_ex(cipher_, EVP_aes_128_ctr(), nullptr, key, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(auth, sizeof auth);
  if (!ok) {
    EVP_CIPHER_CTX_free(cipher_);
    throw std::runtime_error("SRTP: OpenSSL AES-CTR unavailable");
  }
}

CmKeys::~CmKeys() { EVP_CIPHER_CTX_free(cipher_); }

bool CmKeys::crypt(uint32_t ssrc, uint64_t index, uint8_t* data, size_t size) {
  // IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (index · 2^16)
  uint8_t iv[16] = {};
  std::memcpy(iv, salt_, 14);
  for (int i = 0; i < 4; ++i) iv[4 + i] ^= uint8_t(ssrc >> (24 - 8 * i));
  for (int i = 0; i < 6; ++i) iv[8 + i] ^= uint8_t(index >> (40 - 8 * i));
  int len = 0;
  return EVP_EncryptInit_ex(cipher_, nullptr, nullptr, nullptr, iv) == 1 &&
         EVP_EncryptUpdate(cipher_, data, &len, data, int(size)) == 1;
}

bool CmKeys::tag(const uint8_t* a, size_t a_size, const uint8_t* b, size_t b_size, uint8_t* out) {
  hmac_->sign(a, a_size, b, b_size, out);
  return true;
}

GcmKeys::GcmKeys(const std::vector<uint8_t>& master, uint8_t label) {
  if (master.size() != 28) throw std::runtime_error("SRTP: key length " + std::to_string(master.size()));
  // RFC 7714 §11: RFC 3711's KDF, the 96-bit master salt padded to 112 bits
  // with zeros (as libsrtp2 does).
  uint8_t key[16], salt14[14] = {};
  std::memcpy(salt14, master.data() + 16, 12);
  derive(master.data(), salt14, label, key, sizeof key);
  derive(master.data(), salt14, uint8_t(label + 2), salt_, sizeof salt_);
  seal_ = EVP_CIPHER_CTX_new();
  open_ = EVP_CIPHER_CTX_new();
  bool ok = seal_ && open_ && EVP_EncryptInit_ex(seal_, EVP_aes_128_gcm(), nullptr, key, nullptr) == 1 &&
            EVP_DecryptInit_ex(open_, EVP_aes_128_gcm(), nullptr, key, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  if (!ok) {
    EVP_CIPHER_CTX_free(seal_);
    EVP_CIPHER_CTX_free(open_);
    throw std::runtime_error("SRTP: OpenSSL AES-GCM unavailable");
  }
}

GcmKeys::~GcmKeys() {
  EVP_CIPHER_CTX_free(seal_);
  EVP_CIPHER_CTX_free(open_);
}

bool GcmKeys::seal(const uint8_t* iv, const uint8_t* aad, size_t aad_size, const uint8_t* aad2, size_t aad2_size,
                   uint8_t* data, size_t size) {
  int len = 0;
  return EVP_EncryptInit_ex(seal_, nullptr, nullptr, nullptr, iv) == 1 &&
         EVP_EncryptUpdate(seal_, nullptr, &len, aad, int(aad_size)) == 1 &&
         (!aad2_size || EVP_EncryptUpdate(seal_, nullptr, &len, aad2, int(aad2_size)) == 1) &&
         EVP_EncryptUpdate(seal_, data, &len, data, int(size)) == 1 &&
         EVP_EncryptFinal_ex(seal_, data + size, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(seal_, EVP_CTRL_GCM_GET_TAG, int(kGcmTag), data + size) == 1;
}

bool GcmKeys::open(const uint8_t* iv, const uint8_t* aad, size_t aad_size, const uint8_t* aad2, size_t aad2_size,
                   uint8_t* data, size_t size) {
  if (scratch_.size() < size + kGcmTag) scratch_.resize(size + kGcmTag);
  int len = 0;
  if (EVP_DecryptInit_ex(open_, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_DecryptUpdate(open_, nullptr, &len, aad, int(aad_size)) != 1 ||
      (aad2_size && EVP_DecryptUpdate(open_, nullptr, &len, aad2, int(aad2_size)) != 1) ||
      EVP_DecryptUpdate(open_, scratch_.data(), &len, data, int(size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(open_, EVP_CTRL_GCM_SET_TAG, int(kGcmTag), data + size) != 1 ||
      EVP_DecryptFinal_ex(open_, scratch_.data() + size, &len) != 1)
    return false;
  std::memcpy(data, scratch_.data(), size);
  return true;
}

bool CmSender::protect(uint8_t* buffer, size_t* size) {
  size_t n = *size, header = 0;
  uint64_t index;
  if (!index_.next(buffer, n, &header, &index)) return false;
  uint8_t roc[4];
  store32(roc, uint32_t(index >> 16));
  if (!keys_.crypt(load32(buffer + 8), index, buffer + header, n - header) ||
      !keys_.tag(buffer, n, roc, sizeof roc, buffer + n))
    return false;
  *size = n + kAuthTag;
  return true;
}

bool GcmSender::protect(uint8_t* buffer, size_t* size) {
  size_t n = *size, header = 0;
  uint64_t index;
  if (!index_.next(buffer, n, &header, &index)) return false;
  // AAD = the header.
  uint8_t iv[12];
  gcm_rtp_iv(keys_.salt(), buffer, index, iv);
  if (!keys_.seal(iv, buffer, header, nullptr, 0, buffer + header, n - header)) return false;
  *size = n + kGcmTag;
  return true;
}

SrtpSession::SrtpSession(const SrtpKeys& keys)
    : profile_(keys.profile), gcm_(keys.profile == SrtpProfile::kAeadAes128Gcm) {
  if (keys.profile == SrtpProfile::kAes128CmSha1_80) {
    cm_out_ = std::make_unique<CmSender>(keys.local);
    cm_rtcp_out_ = std::make_unique<CmKeys>(keys.local, 3);
    cm_rtp_in_ = std::make_unique<CmKeys>(keys.remote, 0);
    cm_rtcp_in_ = std::make_unique<CmKeys>(keys.remote, 3);
  } else if (gcm_) {
    gcm_out_ = std::make_unique<GcmSender>(keys.local);
    gcm_rtcp_out_ = std::make_unique<GcmKeys>(keys.local, 3);
    gcm_rtp_in_ = std::make_unique<GcmKeys>(keys.remote, 0);
    gcm_rtcp_in_ = std::make_unique<GcmKeys>(keys.remote, 3);
  } else {
    throw std::runtime_error("SRTP: no profile");
  }
}

SrtpSession::~SrtpSession() = default;

bool SrtpSession::counted(bool ok) {
  if (!ok) ++failures_;
  return ok;
}

bool SrtpSession::protect_rtp(uint8_t* buffer, size_t* size) {
  return counted(gcm_ ? gcm_out_->protect(buffer, size) : cm_out_->protect(buffer, size));
}
bool SrtpSession::protect_rtcp(uint8_t* buffer, size_t* size) { return counted(protect_rtcp_(buffer, size)); }
bool SrtpSession::unprotect_rtp(uint8_t* buffer, size_t* size) { return counted(unprotect_rtp_(buffer, size)); }
bool SrtpSession::unprotect_rtcp(uint8_t* buffer, size_t* size) { return counted(unprotect_rtcp_(buffer, size)); }

// RFC 3711 §3.4 / RFC 7714 §9: the first 8 bytes in the clear, the rest
// encrypted, then E bit and index (AES-CM: then the tag over all before it;
// GCM: the tag before them, they and the header the AAD). The index counts
// from 1 per sender SSRC, as libsrtp2's.
bool SrtpSession::protect_rtcp_(uint8_t* p, size_t* size) {
  size_t n = *size;
  if (n < kRtcpHeader) return false;
  uint32_t ssrc = load32(p + 4);
  uint32_t& last = rtcp_sent_[ssrc];
  if (last >= 0x7FFFFFFF) return false;  // libsrtp2: key_expired
  uint32_t index = ++last;
  uint8_t trailer[kRtcpTrailer];
  store32(trailer, kEBit | index);
  if (gcm_) {
    uint8_t iv[12];
    gcm_rtcp_iv(gcm_rtcp_out_->salt(), p, index, iv);
    if (!gcm_rtcp_out_->seal(iv, p, kRtcpHeader, trailer, sizeof trailer, p + kRtcpHeader, n - kRtcpHeader))
      return false;
    std::memcpy(p + n + kGcmTag, trailer, sizeof trailer);
    *size = n + kGcmTag + kRtcpTrailer;
    return true;
  }
  if (!cm_rtcp_out_->crypt(ssrc, index, p + kRtcpHeader, n - kRtcpHeader)) return false;
  std::memcpy(p + n, trailer, sizeof trailer);
  if (!cm_rtcp_out_->tag(p, n + kRtcpTrailer, nullptr, 0, p + n + kRtcpTrailer)) return false;
  *size = n + kRtcpTrailer + kAuthTag;
  return true;
}

// RFC 3711 §3.3: the index estimated from the highest received of the SSRC,
// the replay window checked, the packet authenticated, and only then
// decrypted and the window moved.
bool SrtpSession::unprotect_rtp_(uint8_t* p, size_t* size) {
  size_t n = *size, tag = gcm_ ? kGcmTag : kAuthTag;
  size_t header = rtp_header_length(p, n);
  if (!header || n < header + tag) return false;
  uint32_t ssrc = load32(p + 8);
  auto found = rtp_received_.find(ssrc);
  uint64_t highest = found == rtp_received_.end() ? 0 : found->second.highest();
  int64_t delta;
  uint64_t index = estimate_index(highest, load16(p + 2), &delta);
  if (found != rtp_received_.end() && !found->second.check(delta)) return false;
  size_t body = n - tag - header;
  if (gcm_) {
    uint8_t iv[12];
    gcm_rtp_iv(gcm_rtp_in_->salt(), p, index, iv);
    if (!gcm_rtp_in_->open(iv, p, header, nullptr, 0, p + header, body)) return false;
  } else {
    uint8_t roc[4], expected[kAuthTag];
    store32(roc, uint32_t(index >> 16));
    if (!cm_rtp_in_->tag(p, n - tag, roc, sizeof roc, expected) || CRYPTO_memcmp(expected, p + n - tag, tag) != 0 ||
        !cm_rtp_in_->crypt(ssrc, index, p + header, body))
      return false;
  }
  if (found == rtp_received_.end()) found = rtp_received_.emplace(ssrc, ReplayWindow(kRtpWindow)).first;
  found->second.add(delta);
  *size = n - tag;
  return true;
}

bool SrtpSession::unprotect_rtcp_(uint8_t* p, size_t* size) {
  size_t n = *size, tag = gcm_ ? kGcmTag : kAuthTag;
  if (n < kRtcpHeader + kRtcpTrailer + tag) return false;
  // GCM: ... tag | E+index; AES-CM: ... E+index | tag.
  const uint8_t* trailer = p + n - (gcm_ ? kRtcpTrailer : kRtcpTrailer + kAuthTag);
  uint32_t word = load32(trailer);
  if (!(word & kEBit)) return false;  // we ask for encrypted SRTCP, as libsrtp2 does
  uint32_t index = word & ~kEBit, ssrc = load32(p + 4);
  auto found = rtcp_received_.find(ssrc);
  int64_t delta = int64_t(index) - int64_t(found == rtcp_received_.end() ? 0 : found->second.highest());
  if (found != rtcp_received_.end() && !found->second.check(delta)) return false;
  size_t body = n - kRtcpHeader - kRtcpTrailer - tag;
  if (gcm_) {
    uint8_t iv[12];
    gcm_rtcp_iv(gcm_rtcp_in_->salt(), p, index, iv);
    if (!gcm_rtcp_in_->open(iv, p, kRtcpHeader, trailer, kRtcpTrailer, p + kRtcpHeader, body)) return false;
  } else {
    uint8_t expected[kAuthTag];
    if (!cm_rtcp_in_->tag(p, n - tag, nullptr, 0, expected) || CRYPTO_memcmp(expected, p + n - tag, tag) != 0 ||
        !cm_rtcp_in_->crypt(ssrc, index, p + kRtcpHeader, body))
      return false;
  }
  if (found == rtcp_received_.end()) found = rtcp_received_.emplace(ssrc, ReplayWindow(kRtcpWindow)).first;
  found->second.add(delta);
  *size = n - kRtcpTrailer - tag;
  return true;
}

}  // namespace rtcmesh::engine
