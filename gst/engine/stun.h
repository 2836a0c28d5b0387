// STUN (RFC 8489) as ICE-lite needs it: parse a datagram without trusting
// it, check MESSAGE-INTEGRITY (short-term credentials, HMAC-SHA1) and
// FINGERPRINT, and build responses carrying both. No allocation beyond the
// attribute list; values point into the caller's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gst/engine/address.h"

namespace rtcmesh::engine::stun {

constexpr uint32_t kMagicCookie = 0x2112A442;
constexpr size_t kHeaderSize = 20;

enum Type : uint16_t {
  kBindingRequest = 0x0001,
  kBindingIndication = 0x0011,
  kBindingSuccess = 0x0101,
  kBindingError = 0x0111,
};

enum Attr : uint16_t {
  kMappedAddress = 0x0001,
  kUsername = 0x0006,
  kMessageIntegrity = 0x0008,
  kErrorCode = 0x0009,
  kXorMappedAddress = 0x0020,
  kPriority = 0x0024,
  kUseCandidate = 0x0025,
  kSoftware = 0x8022,
  kFingerprint = 0x8028,
  kIceControlled = 0x8029,
  kIceControlling = 0x802A,
};

using TransactionId = std::array<uint8_t, 12>;

struct Attribute {
  uint16_t type;
  std::string_view value;  // into the parsed buffer
};

struct Message {
  uint16_t type = 0;
  TransactionId transaction_id{};
  std::vector<Attribute> attributes;  // in order, up to MESSAGE-INTEGRITY/FINGERPRINT
  // Offsets in the datagram of the MESSAGE-INTEGRITY and FINGERPRINT
  // attribute headers (0: absent).
  size_t integrity_offset = 0;
  size_t fingerprint_offset = 0;
  bool fingerprint_ok = false;  // present and matching

  const Attribute* find(uint16_t attr) const;
  std::optional<std::string_view> username() const;
  std::optional<uint32_t> priority() const;
  bool use_candidate() const { return find(kUseCandidate) != nullptr; }
  // XOR-MAPPED-ADDRESS, decoded.
  std::optional<Address> xor_mapped_address() const;
};

// Whether the first bytes can be STUN (RFC 7983: first byte 0..3, magic cookie).
bool looks_like_stun(const uint8_t* data, size_t size);

// The message, or nullopt with *why set: truncated, not STUN, attribute
// overflowing the message, bad FINGERPRINT (when present), attributes after
// FINGERPRINT.
std::optional<Message> parse(const uint8_t* data, size_t size, std::string* why = nullptr);

// MESSAGE-INTEGRITY of a parsed message with the short-term key (the ICE
// password). False when absent.
bool check_integrity(const uint8_t* data, size_t size, const Message& message,
                     std::string_view key);

uint32_t crc32(const uint8_t* data, size_t size);

// Builds one message: attributes in the order added, then optionally
// MESSAGE-INTEGRITY and FINGERPRINT.
class Builder {
 public:
  Builder(uint16_t type, const TransactionId& id);
  Builder& add(uint16_t attr, std::string_view value);
  Builder& add_u32(uint16_t attr, uint32_t value);
  Builder& add_u64(uint16_t attr, uint64_t value);
  Builder& add_xor_address(const Address& address);
  Builder& add_error(int code, std::string_view reason);
  // Appends MESSAGE-INTEGRITY when key is not empty, then FINGERPRINT when
  // asked, and returns the datagram.
  std::vector<uint8_t> finish(std::string_view integrity_key, bool fingerprint);

 private:
  void set_length(size_t length);
  std::vector<uint8_t> buf_;
};

}  // namespace rtcmesh::engine::stun
