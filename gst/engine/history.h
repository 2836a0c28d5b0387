// One track's recent original packets, shared by every subscriber of the
// track: a NACK from any of them is answered from here (the publisher's
// packet, rewritten for that subscriber), so no per-subscriber history
// exists. A ring indexed by sequence number; a packet older than max_age is
// not resent (the receiver gave up on it), and is let go by the next store
// rather than held until its slot comes round again (2048 slots of a 2 Mb/s
// video track are ~9 s of packets, of an audio track ~40 s). Thread-safe:
// the publisher's streaming thread stores, engine threads look up.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace rtcmesh::engine {

// A publisher packet as received, shared by every subscriber queue and the
// history (never modified after creation).
struct SharedPacket {
  std::vector<uint8_t> data;
  std::chrono::steady_clock::time_point arrival;
  uint16_t sequence = 0;
  uint32_t ssrc = 0;
};
using PacketRef = std::shared_ptr<const SharedPacket>;

class PacketHistory {
 public:
  using Clock = std::chrono::steady_clock;
  // `capacity` rounded up to a power of two; at 1.5 Mb/s video (~150
  // packets/s) 2048 slots hold more than 10 s, so max_age decides.
  explicit PacketHistory(size_t capacity = 2048, Clock::duration max_age = std::chrono::seconds(2));

  void store(PacketRef packet);
  // The packet with this sequence number, if held and not older than max_age.
  PacketRef find(uint16_t sequence, Clock::time_point now) const;
  uint64_t stored() const;

 private:
  mutable std::mutex lock_;
  std::vector<PacketRef> ring_;
  // The sequence numbers stored, in arrival order (a ring as large as
  // ring_, from oldest_): what expires first.
  std::vector<uint16_t> arrivals_;
  size_t oldest_ = 0, held_ = 0;
  size_t mask_;
  Clock::duration max_age_;
  uint64_t stored_ = 0;
};

}  // namespace rtcmesh::engine
