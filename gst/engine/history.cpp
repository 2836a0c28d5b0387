#include "gst/engine/history.h"

namespace rtcmesh::engine {

PacketHistory::PacketHistory(size_t capacity, Clock::duration max_age) : max_age_(max_age) {
  size_t n = 1;
  while (n < capacity) n <<= 1;
  ring_.resize(n);
  arrivals_.resize(n);
  mask_ = n - 1;
}

void PacketHistory::store(PacketRef packet) {
  std::lock_guard<std::mutex> g(lock_);
  // Expired packets go, oldest first (an entry whose slot holds another
  // packet by now just leaves the queue).
  while (held_) {
    uint16_t sequence = arrivals_[oldest_];
    PacketRef& held = ring_[sequence & mask_];
    if (held && held->sequence == sequence) {
      if (packet->arrival - held->arrival <= max_age_) break;
      held.reset();
    }
    oldest_ = (oldest_ + 1) & mask_;
    --held_;
  }
  if (held_ == arrivals_.size()) {  // the ring is full: its oldest entry is overwritten below
    oldest_ = (oldest_ + 1) & mask_;
    --held_;
  }
  arrivals_[(oldest_ + held_++) & mask_] = packet->sequence;
  ring_[packet->sequence & mask_] = std::move(packet);
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
