#include "gst/engine/stun.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>

#include <cstring>

namespace rtcmesh::engine::stun {

namespace {

constexpr uint32_t kFingerprintXor = 0x5354554e;

uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
void put32(uint8_t* p, uint32_t v) { p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v); }

bool fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return false;
}

// HMAC-SHA1 over data[0, end) with the header's length field replaced by
// `length` (RFC 8489 §14.5: the length as if the message ended after
// MESSAGE-INTEGRITY).
std::array<uint8_t, 20> hmac_sha1(const uint8_t* data, size_t end, uint16_t length, std::string_view key) {
  std::vector<uint8_t> copy(data, data + end);
  put16(copy.data() + 2, length);
  std::array<uint8_t, 20> out{};
  unsigned int out_len = 0;
  HMAC(EVP_sha1(), key.data(), int(key.size()), copy.data(), copy.size(), out.data(), &out_len);
  return out;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

const Attribute* Message::find(uint16_t attr) const {
  for (const Attribute& a : attributes)
    if (a.type == attr) return &a;
  return nullptr;
}

std::optional<std::string_view> Message::username() const {
  if (const Attribute* a = find(kUsername)) return a->value;
  return std::nullopt;
}

std::optional<uint32_t> Message::priority() const {
  const Attribute* a = find(kPriority);
  if (!a || a->value.size() != 4) return std::nullopt;
  return get32(reinterpret_cast<const uint8_t*>(a->value.data()));
}

std::optional<Address> Message::xor_mapped_address() const {
  const Attribute* a = find(kXorMappedAddress);
  if (!a || a->value.size() < 8) return std::nullopt;
  auto* v = reinterpret_cast<const uint8_t*>(a->value.data());
  uint16_t port = get16(v + 2) ^ uint16_t(kMagicCookie >> 16);
  Address out;
  if (v[1] == 1 && a->value.size() == 8) {
    auto* s = reinterpret_cast<sockaddr_in*>(&out.storage);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr.s_addr = htonl(get32(v + 4) ^ kMagicCookie);
    out.length = sizeof(sockaddr_in);
  } else if (v[1] == 2 && a->value.size() == 20) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&out.storage);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    uint8_t mask[16];
    put32(mask, kMagicCookie);
    std::memcpy(mask + 4, transaction_id.data(), 12);
    for (int i = 0; i < 16; ++i) s->sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
    out.length = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;
  }
  return out;
}

bool looks_like_stun(const uint8_t* data, size_t size) {
  return size >= kHeaderSize && data[0] < 4 && get32(data + 4) == kMagicCookie;
}

std::optional<Message> parse(const uint8_t* data, size_t size, std::string* why) {
  if (size < kHeaderSize) return fail(why, "truncated header"), std::nullopt;
  if (!looks_like_stun(data, size)) return fail(why, "not STUN"), std::nullopt;
  size_t length = get16(data + 2);
  if (length % 4 != 0) return fail(why, "length not a multiple of 4"), std::nullopt;
  if (kHeaderSize + length != size) return fail(why, "length does not match the datagram"), std::nullopt;
  Message m;
  m.type = get16(data);
  std::memcpy(m.transaction_id.data(), data + 8, 12);
  size_t pos = kHeaderSize;
  while (pos < size) {
    if (size - pos < 4) return fail(why, "truncated attribute header"), std::nullopt;
    uint16_t type = get16(data + pos);
    size_t len = get16(data + pos + 2);
    size_t padded = (len + 3) & ~size_t(3);
    if (size - pos - 4 < padded) return fail(why, "attribute overflows the message"), std::nullopt;
    if (m.fingerprint_offset) return fail(why, "attribute after FINGERPRINT"), std::nullopt;
    std::string_view value(reinterpret_cast<const char*>(data + pos + 4), len);
    if (type == kFingerprint) {
      if (len != 4) return fail(why, "bad FINGERPRINT length"), std::nullopt;
      m.fingerprint_offset = pos;
      uint32_t want = crc32(data, pos) ^ kFingerprintXor;  // length already covers it
      m.fingerprint_ok = get32(data + pos + 4) == want;
      if (!m.fingerprint_ok) return fail(why, "FINGERPRINT mismatch"), std::nullopt;
    } else if (type == kMessageIntegrity) {
      if (len != 20) return fail(why, "bad MESSAGE-INTEGRITY length"), std::nullopt;
      if (!m.integrity_offset) m.integrity_offset = pos;
    } else if (!m.integrity_offset) {
      // RFC 8489 §14.5: attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are ignored.
      m.attributes.push_back({type, value});
    }
    pos += 4 + padded;
  }
  return m;
}

bool check_integrity(const uint8_t* data, size_t size, const Message& m, std::string_view key) {
  if (!m.integrity_offset || m.integrity_offset + 24 > size) return false;
  auto mac = hmac_sha1(data, m.integrity_offset,
                       uint16_t(m.integrity_offset + 24 - kHeaderSize), key);
  return CRYPTO_memcmp(mac.data(), data + m.integrity_offset + 4, mac.size()) == 0;
}

Builder::Builder(uint16_t type, const TransactionId& id) : buf_(kHeaderSize) {
  put16(buf_.data(), type);
  put32(buf_.data() + 4, kMagicCookie);
  std::memcpy(buf_.data() + 8, id.data(), id.size());
}

void Builder::set_length(size_t length) { put16(buf_.data() + 2, uint16_t(length)); }

Builder& Builder::add(uint16_t attr, std::string_view value) {
  size_t pos = buf_.size();
  buf_.resize(pos + 4 + ((value.size() + 3) & ~size_t(3)), 0);
  put16(buf_.data() + pos, attr);
  put16(buf_.data() + pos + 2, uint16_t(value.size()));
  std::memcpy(buf_.data() + pos + 4, value.data(), value.size());
  set_length(buf_.size() - kHeaderSize);
  return *this;
}

Builder& Builder::add_u32(uint16_t attr, uint32_t value) {
  uint8_t v[4];
  put32(v, value);
  return add(attr, std::string_view(reinterpret_cast<char*>(v), 4));
}

Builder& Builder::add_u64(uint16_t attr, uint64_t value) {
  uint8_t v[8];
  put32(v, uint32_t(value >> 32));
  put32(v + 4, uint32_t(value));
  return add(attr, std::string_view(reinterpret_cast<char*>(v), 8));
}

Builder& Builder::add_xor_address(const Address& address) {
  uint8_t v[20] = {};
  size_t len = 0;
  put16(v + 2, address.port() ^ uint16_t(kMagicCookie >> 16));
  if (address.family() == AF_INET) {
    v[1] = 1;
    auto* s = reinterpret_cast<const sockaddr_in*>(&address.storage);
    put32(v + 4, ntohl(s->sin_addr.s_addr) ^ kMagicCookie);
    len = 8;
  } else if (address.family() == AF_INET6) {
    v[1] = 2;
    auto* s = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    uint8_t mask[16];
    put32(mask, kMagicCookie);
    std::memcpy(mask + 4, buf_.data() + 8, 12);
    for (int i = 0; i < 16; ++i) v[4 + i] = s->sin6_addr.s6_addr[i] ^ mask[i];
    len = 20;
  }
  return add(kXorMappedAddress, std::string_view(reinterpret_cast<char*>(v), len));
}

Builder& Builder::add_error(int code, std::string_view reason) {
  std::string v(4, '\0');
  v[2] = char(code / 100);
  v[3] = char(code % 100);
  v += reason;
  return add(kErrorCode, v);
}

std::vector<uint8_t> Builder::finish(std::string_view key, bool fingerprint) {
  if (!key.empty()) {
    size_t pos = buf_.size();
    auto mac = hmac_sha1(buf_.data(), pos, uint16_t(pos + 24 - kHeaderSize), key);
    add(kMessageIntegrity, std::string_view(reinterpret_cast<char*>(mac.data()), mac.size()));
  }
  if (fingerprint) {
    size_t pos = buf_.size();
    buf_.resize(pos + 8);
    put16(buf_.data() + pos, kFingerprint);
    put16(buf_.data() + pos + 2, 4);
    set_length(buf_.size() - kHeaderSize);
    put32(buf_.data() + pos + 4, crc32(buf_.data(), pos) ^ kFingerprintXor);
  }
  return std::move(buf_);
}

}  // namespace rtcmesh::engine::stun
