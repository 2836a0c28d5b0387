// libFuzzer target: a datagram arriving on the native engine's shared UDP
// port (gst/engine): classified by its first byte, then parsed as STUN
// (integrity checked, answered by an ICE-lite session whose credentials
// the seeds use: ufrag "fuzz", password "fuzzpassword0123456789"), RTCP
// (compound, every message type we read) or RTP (rewritten for a
// subscriber slot and looked up in a packet history).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gst/engine/history.h"
#include "gst/engine/ice_lite.h"
#include "gst/engine/packet.h"
#include "gst/engine/rewriter.h"
#include "gst/engine/rtcp.h"
#include "gst/engine/stun.h"

using namespace rtcmesh::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static IceLite ice("fuzz", "fuzzpassword0123456789");
  static RtpRewriter rewriter(0x12345678, 100, 90000);
  static PacketHistory history(64);
  static const Address from = Address::parse("127.0.0.1", 5000);
  auto now = Clock::now();
  switch (classify(data, size)) {
    case PacketKind::kStun: {
      std::string why;
      if (auto m = stun::parse(data, size, &why)) {
        (void)m->xor_mapped_address();
        (void)m->priority();
        auto out = ice.on_stun(data, size, *m, from, now);
        if (!out.response.empty()) (void)stun::parse(out.response.data(), out.response.size());
      }
      break;
    }
    case PacketKind::kRtcp: {
      rtcp::Packets packets;
      (void)rtcp::parse(data, size, &packets);
      for (const rtcp::Nack& n : packets.nacks)
        for (uint16_t s : n.sequences)
          if (auto src = rewriter.source_sequence(s)) (void)history.find(*src, now);
      break;
    }
    case PacketKind::kRtp: {
      if (auto h = parse_rtp(data, size)) {
        auto p = std::make_shared<SharedPacket>();
        p->data.assign(data, data + size);
        p->sequence = h->sequence;
        p->arrival = now;
        history.store(p);
        std::vector<uint8_t> copy(data, data + size);
        (void)rewriter.rewrite(copy.data(), copy.size(), now);
      }
      break;
    }
    default:
      break;
  }
  return 0;
}
