// The RTP identity of one outgoing stream (a subscriber's slot): whatever
// source feeds it, packets leave with the slot's SSRC and payload type and
// with sequence numbers and timestamps that continue across source switches
// (the next source's first packet follows the last one sent, its timestamp
// advanced by the wall-clock gap), so the receiver's jitter buffer and
// decoder see one stream. Reordering within a source is kept. Header
// extensions are left as they are. Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace rtcmesh::engine {

class RtpRewriter {
 public:
  using Clock = std::chrono::steady_clock;
  RtpRewriter(uint32_t ssrc, uint8_t payload_type, uint32_t clock_rate);

  // Rewrites the packet in place. False: drop it (not RTP, or a late packet
  // of the source fed before the current one).
  bool rewrite(uint8_t* data, size_t size, Clock::time_point arrival);

  // The source sequence number an outgoing one was made from, when it
  // belongs to the current source (NACK lookup in the source's history).
  std::optional<uint16_t> source_sequence(uint16_t out_sequence) const;
  uint32_t source_ssrc() const { return in_ssrc_; }
  // Outgoing timestamp minus the current source's (for its SR mapping).
  uint32_t timestamp_offset() const { return ts_offset_; }

  uint32_t ssrc() const { return ssrc_; }
  uint8_t payload_type() const { return payload_type_; }
  bool started() const { return started_; }
  uint16_t last_sequence() const { return last_seq_; }
  uint32_t last_timestamp() const { return last_ts_; }
  uint64_t switches() const { return switches_; }

 private:
  uint32_t ssrc_;
  uint8_t payload_type_;
  uint32_t clock_rate_;
  bool started_ = false;
  uint32_t in_ssrc_ = 0, previous_in_ssrc_ = 0;
  uint16_t seq_offset_ = 0;
  uint32_t ts_offset_ = 0;
  uint16_t epoch_first_seq_ = 0;  // first outgoing sequence of the current source
  uint16_t last_seq_ = 0;         // highest outgoing sequence sent
  uint32_t last_ts_ = 0;
  Clock::time_point last_arrival_{};
  uint64_t switches_ = 0;
};

}  // namespace rtcmesh::engine
