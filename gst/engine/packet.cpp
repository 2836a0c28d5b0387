#include "gst/engine/packet.h"

namespace rtcmesh::engine {

PacketKind classify(const uint8_t* data, size_t size) {
  if (size == 0) return PacketKind::kUnknown;
  uint8_t b = data[0];
  if (b <= 3) return PacketKind::kStun;
  if (b >= 20 && b <= 63) return PacketKind::kDtls;
  if (b >= 128 && b <= 191) {
    if (size < 8) return PacketKind::kUnknown;
    // RFC 5761 §4: RTCP packet types 192..223 collide with no dynamic RTP PT.
    uint8_t pt = data[1];
    return pt >= 192 && pt <= 223 ? PacketKind::kRtcp : PacketKind::kRtp;
  }
  return PacketKind::kUnknown;
}

const char* to_string(PacketKind kind) {
  switch (kind) {
    case PacketKind::kStun: return "stun";
    case PacketKind::kDtls: return "dtls";
    case PacketKind::kRtp: return "rtp";
    case PacketKind::kRtcp: return "rtcp";
    case PacketKind::kUnknown: break;
  }
  return "unknown";
}

std::optional<RtpHeader> parse_rtp(const uint8_t* data, size_t size) {
  if (size < 12 || (data[0] >> 6) != 2) return std::nullopt;
  RtpHeader h;
  h.payload_type = data[1] & 0x7F;
  h.marker = data[1] & 0x80;
  h.sequence = load16(data + 2);
  h.timestamp = load32(data + 4);
  h.ssrc = load32(data + 8);
  size_t pos = 12 + 4 * size_t(data[0] & 0x0F);
  if (pos > size) return std::nullopt;
  if (data[0] & 0x10) {
    if (pos + 4 > size) return std::nullopt;
    pos += 4 + 4 * size_t(load16(data + pos + 2));
    if (pos > size) return std::nullopt;
  }
  if (data[0] & 0x20) {
    h.padding = data[size - 1];
    if (h.padding == 0 || pos + h.padding > size) return std::nullopt;
  }
  h.header_size = pos;
  return h;
}

void write_rtp(uint8_t* data, uint8_t payload_type, uint16_t sequence, uint32_t timestamp, uint32_t ssrc) {
  data[1] = uint8_t((data[1] & 0x80) | (payload_type & 0x7F));
  store16(data + 2, sequence);
  store32(data + 4, timestamp);
  store32(data + 8, ssrc);
}

size_t make_rtx(uint8_t* packet, size_t size, size_t capacity, uint8_t payload_type, uint16_t sequence,
                uint32_t ssrc) {
  auto h = parse_rtp(packet, size);
  if (!h) return 0;
  size_t payload = size - h->header_size - h->padding;
  size_t out = h->header_size + 2 + payload;
  if (out > capacity) return 0;
  uint8_t* body = packet + h->header_size;
  std::memmove(body + 2, body, payload);
  store16(body, h->sequence);  // OSN
  packet[0] &= uint8_t(~0x20);  // no padding any more
  write_rtp(packet, payload_type, sequence, h->timestamp, ssrc);
  return out;
}

}  // namespace rtcmesh::engine
