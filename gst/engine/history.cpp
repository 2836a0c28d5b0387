#include "gst/engine/history.h"

namespace rtcmesh::engine {

PacketHistory::PacketHistory(size_t capacity, Clock::duration max_age) : max_age_(max_age) {
  size_t n = 1;
  while (n < capacity) n <<= 1;
  ring_.resize(n);
  mask_ = n - 1;
}

void PacketHistory::store(PacketRef packet) {
  std::lock_guard<std::mutex> g(lock_);
  size_t slot = packet->sequence & mask_;
  ring_[slot] = std::move(packet);
  ++stored_;
}

PacketRef PacketHistory::find(uint16_t sequence, Clock::time_point now) const {
  std::lock_guard<std::mutex> g(lock_);
  const PacketRef& p = ring_[sequence & mask_];
  if (!p || p->sequence != sequence || now - p->arrival > max_age_) return nullptr;
  return p;
}

uint64_t PacketHistory::stored() const {
  std::lock_guard<std::mutex> g(lock_);
  return stored_;
}

}  // namespace rtcmesh::engine
