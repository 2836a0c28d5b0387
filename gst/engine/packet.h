// What arrives on the shared port, by its first bytes (RFC 7983, RFC 5761),
// and the RTP fixed header (RFC 3550 §5.1) read and written in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace rtcmesh::engine {

enum class PacketKind { kStun, kDtls, kRtp, kRtcp, kUnknown };
PacketKind classify(const uint8_t* data, size_t size);
const char* to_string(PacketKind kind);

struct RtpHeader {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  size_t header_size = 0;  // fixed header, CSRCs and extension: where the payload starts
  size_t padding = 0;
};
// Nullopt when not version 2 or the header (CSRCs, extension, padding)
// overflows the packet.
std::optional<RtpHeader> parse_rtp(const uint8_t* data, size_t size);
// Overwrites payload type (keeping the marker bit), sequence, timestamp, SSRC.
void write_rtp(uint8_t* data, uint8_t payload_type, uint16_t sequence, uint32_t timestamp, uint32_t ssrc);

// RFC 4588 §4: the retransmission of `packet` (an RTP packet as sent: its
// header rewritten for the subscriber) on the RTX stream, in place: the
// header keeps its CSRCs, extension, marker and timestamp, takes
// `payload_type`, `sequence` and `ssrc` of the RTX stream, and the payload
// becomes the original sequence number (OSN, 2 bytes) then the original
// payload without its padding. `capacity` is the buffer's size; returns the
// new size, 0 when not RTP or it does not fit.
size_t make_rtx(uint8_t* packet, size_t size, size_t capacity, uint8_t payload_type, uint16_t sequence,
                uint32_t ssrc);

inline uint16_t load16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void store32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

}  // namespace rtcmesh::engine
