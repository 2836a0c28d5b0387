#include "gst/engine/srtp.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <srtp2/srtp.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace rtcmesh::engine {

namespace {

void set_policy(srtp_policy_t* policy, SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
      return;
    case SrtpProfile::kAes128CmSha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtcp);
      return;
    case SrtpProfile::kNone: break;
  }
  throw std::runtime_error("SRTP: no profile");
}

srtp_t create(const SrtpKeys& keys, const std::vector<uint8_t>& key, srtp_ssrc_type_t direction) {
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  set_policy(&policy, keys.profile);
  size_t want = keys.profile == SrtpProfile::kAeadAes128Gcm ? SRTP_AES_GCM_128_KEY_LEN_WSALT
                                                           : SRTP_AES_ICM_128_KEY_LEN_WSALT;
  if (key.size() != want) throw std::runtime_error("SRTP: key length " + std::to_string(key.size()));
  std::vector<uint8_t> copy = key;  // libsrtp2 takes a non-const pointer
  policy.key = copy.data();
  policy.ssrc.type = direction;
  // Retransmissions answer NACKs with packets sent before: allow them.
  policy.allow_repeat_tx = 1;
  policy.window_size = 1024;
  srtp_t session = nullptr;
  srtp_err_status_t err = srtp_create(&session, &policy);
  if (err != srtp_err_status_ok)
    throw std::runtime_error("SRTP: srtp_create failed (" + std::to_string(int(err)) + ")");
  return session;
}

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

// The RTP header's length (CSRCs and extension included), 0 if not RTP.
size_t rtp_header_length(const uint8_t* p, size_t n) {
  if (n < 12 || (p[0] >> 6) != 2) return 0;
  size_t header = 12 + 4 * size_t(p[0] & 0x0F);
  if ((p[0] & 0x10) && header + 4 <= n) header += 4 + 4 * size_t(p[header + 2] << 8 | p[header + 3]);
  return header > n ? 0 : header;
}

constexpr size_t kAuthTag = 10;  // HMAC-SHA1-80
constexpr size_t kGcmTag = 16;
constexpr int64_t kWindow = 1024;

}  // namespace

bool SendIndex::next(const uint8_t* packet, size_t size, size_t* header, uint64_t* index) {
  *header = rtp_header_length(packet, size);
  if (!*header) return false;
  uint16_t seq = uint16_t(packet[2] << 8 | packet[3]);
  uint32_t ssrc = uint32_t(packet[8]) << 24 | uint32_t(packet[9]) << 16 | uint32_t(packet[10]) << 8 | packet[11];
  // libsrtp2's srtp_rdbx_estimate_index / srtp_index_guess.
  uint64_t& local = highest_[ssrc];
  uint64_t guess;
  int64_t delta;
  if (local > 0x8000) {
    uint32_t roc = uint32_t(local >> 16);
    uint16_t lseq = uint16_t(local);
    if (lseq < 0x8000) {
      if (int(seq) - int(lseq) > 0x8000) roc -= 1, delta = int64_t(seq) - lseq - 0x10000;
      else delta = int64_t(seq) - lseq;
    } else if (int(lseq) - 0x8000 > int(seq)) {
      roc += 1, delta = int64_t(seq) - lseq + 0x10000;
    } else {
      delta = int64_t(seq) - lseq;
    }
    guess = uint64_t(roc) << 16 | seq;
  } else {
    guess = seq;
    delta = int64_t(guess) - int64_t(local);
  }
  if (delta < -kWindow) return false;  // libsrtp2: srtp_err_status_replay_old
  if (delta > 0) local = guess;
  *index = guess;
  return true;
}

CmSender::CmSender(const std::vector<uint8_t>& master) {
  if (master.size() != 30) throw std::runtime_error("SRTP: key length " + std::to_string(master.size()));
  uint8_t key[16], auth[20];
  derive(master.data(), master.data() + 16, 0, key, sizeof key);
  derive(master.data(), master.data() + 16, 1, auth, sizeof auth);
  derive(master.data(), master.data() + 16, 2, salt_, sizeof salt_);
  cipher_ = EVP_CIPHER_CTX_new();
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  hmac_ = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  EVP_MAC_free(mac);  // the context holds its own reference
  char sha1[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha1, 0),
                         OSSL_PARAM_construct_end()};
  bool ok = cipher_ && hmac_ && EVP_EncryptInit_ex(cipher_, EVP_aes_128_ctr(), nullptr, key, nullptr) == 1 &&
            EVP_MAC_init(hmac_, auth, sizeof auth, params) == 1;
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(auth, sizeof auth);
  if (!ok) {
    EVP_CIPHER_CTX_free(cipher_);
    EVP_MAC_CTX_free(hmac_);
    throw std::runtime_error("SRTP: OpenSSL AES-CTR or HMAC-SHA1 unavailable");
  }
}

CmSender::~CmSender() {
  EVP_CIPHER_CTX_free(cipher_);
  EVP_MAC_CTX_free(hmac_);
}

bool CmSender::protect(uint8_t* buffer, size_t* size) {
  size_t n = *size, header = 0;
  uint64_t guess;
  if (!index_.next(buffer, n, &header, &guess)) return false;
  uint32_t ssrc = uint32_t(buffer[8]) << 24 | uint32_t(buffer[9]) << 16 | uint32_t(buffer[10]) << 8 | buffer[11];
  // IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (index · 2^16)
  uint8_t iv[16] = {};
  std::memcpy(iv, salt_, 14);
  for (int i = 0; i < 4; ++i) iv[4 + i] ^= uint8_t(ssrc >> (24 - 8 * i));
  for (int i = 0; i < 6; ++i) iv[8 + i] ^= uint8_t(guess >> (40 - 8 * i));
  int len = 0;
  if (EVP_EncryptInit_ex(cipher_, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_EncryptUpdate(cipher_, buffer + header, &len, buffer + header, int(n - header)) != 1)
    return false;
  uint8_t roc[4] = {uint8_t(guess >> 40), uint8_t(guess >> 32), uint8_t(guess >> 24), uint8_t(guess >> 16)};
  uint8_t tag[EVP_MAX_MD_SIZE];
  size_t tag_len = 0;
  if (EVP_MAC_init(hmac_, nullptr, 0, nullptr) != 1 || EVP_MAC_update(hmac_, buffer, n) != 1 ||
      EVP_MAC_update(hmac_, roc, sizeof roc) != 1 || EVP_MAC_final(hmac_, tag, &tag_len, sizeof tag) != 1)
    return false;
  std::memcpy(buffer + n, tag, kAuthTag);
  *size = n + kAuthTag;
  return true;
}

GcmSender::GcmSender(const std::vector<uint8_t>& master) {
  if (master.size() != 28) throw std::runtime_error("SRTP: key length " + std::to_string(master.size()));
  // RFC 7714 §11: RFC 3711's KDF, the 96-bit master salt padded to 112 bits
  // with zeros (as libsrtp2 does).
  uint8_t key[16], salt14[14] = {};
  std::memcpy(salt14, master.data() + 16, 12);
  derive(master.data(), salt14, 0, key, sizeof key);
  derive(master.data(), salt14, 2, salt_, sizeof salt_);
  cipher_ = EVP_CIPHER_CTX_new();
  bool ok = cipher_ && EVP_EncryptInit_ex(cipher_, EVP_aes_128_gcm(), nullptr, key, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  if (!ok) {
    EVP_CIPHER_CTX_free(cipher_);
    throw std::runtime_error("SRTP: OpenSSL AES-GCM unavailable");
  }
}

GcmSender::~GcmSender() { EVP_CIPHER_CTX_free(cipher_); }

bool GcmSender::protect(uint8_t* buffer, size_t* size) {
  size_t n = *size, header = 0;
  uint64_t index;
  if (!index_.next(buffer, n, &header, &index)) return false;
  // RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt; AAD = the header.
  uint8_t iv[12] = {0, 0, buffer[8], buffer[9], buffer[10], buffer[11],
                    uint8_t(index >> 40), uint8_t(index >> 32), uint8_t(index >> 24), uint8_t(index >> 16),
                    buffer[2], buffer[3]};
  for (int i = 0; i < 12; ++i) iv[i] ^= salt_[i];
  int len = 0;
  if (EVP_EncryptInit_ex(cipher_, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_EncryptUpdate(cipher_, nullptr, &len, buffer, int(header)) != 1 ||
      EVP_EncryptUpdate(cipher_, buffer + header, &len, buffer + header, int(n - header)) != 1 ||
      EVP_EncryptFinal_ex(cipher_, buffer + n, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher_, EVP_CTRL_GCM_GET_TAG, int(kGcmTag), buffer + n) != 1)
    return false;
  *size = n + kGcmTag;
  return true;
}

void SrtpSession::init_library() {
  static std::once_flag once;
  // GStreamer's srtp plugin (webrtcbin's srtpenc/srtpdec) initialises the
  // same library in this process, and a second srtp_init re-runs the cipher
  // self-tests and may report failure although the kernel works: whether it
  // really does shows in srtp_create, which throws with its status.
  std::call_once(once, [] { (void)srtp_init(); });
}

SrtpSession::SrtpSession(const SrtpKeys& keys) : profile_(keys.profile) {
  init_library();
  out_ = create(keys, keys.local, ssrc_any_outbound);
  if (keys.profile == SrtpProfile::kAes128CmSha1_80) cm_out_ = std::make_unique<CmSender>(keys.local);
  if (keys.profile == SrtpProfile::kAeadAes128Gcm) gcm_out_ = std::make_unique<GcmSender>(keys.local);
  try {
    in_ = create(keys, keys.remote, ssrc_any_inbound);
  } catch (...) {
    srtp_dealloc(out_);
    throw;
  }
}

SrtpSession::~SrtpSession() {
  if (out_) srtp_dealloc(out_);
  if (in_) srtp_dealloc(in_);
}

#define RTCMESH_SRTP_CALL(fn, ctx)                       \
  int len = int(*size);                                  \
  if (fn(ctx, buffer, &len) != srtp_err_status_ok) {     \
    ++failures_;                                         \
    return false;                                        \
  }                                                      \
  *size = size_t(len);                                   \
  return true;

bool SrtpSession::protect_rtp(uint8_t* buffer, size_t* size) {
  if (cm_out_ || gcm_out_) {
    if (cm_out_ ? cm_out_->protect(buffer, size) : gcm_out_->protect(buffer, size)) return true;
    ++failures_;
    return false;
  }
  RTCMESH_SRTP_CALL(srtp_protect, out_)
}
bool SrtpSession::protect_rtcp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_protect_rtcp, out_) }
bool SrtpSession::unprotect_rtp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_unprotect, in_) }
bool SrtpSession::unprotect_rtcp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_unprotect_rtcp, in_) }

#undef RTCMESH_SRTP_CALL

}  // namespace rtcmesh::engine
