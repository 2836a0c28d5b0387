#include "gst/engine/rewriter.h"

#include "gst/engine/packet.h"

namespace rtcmesh::engine {

RtpRewriter::RtpRewriter(uint32_t ssrc, uint8_t payload_type, uint32_t clock_rate)
    : ssrc_(ssrc), payload_type_(payload_type), clock_rate_(clock_rate ? clock_rate : 90000) {}

bool RtpRewriter::rewrite(uint8_t* data, size_t size, Clock::time_point arrival) {
  auto h = parse_rtp(data, size);
  if (!h) return false;
  if (!started_ || h->ssrc != in_ssrc_) {
    if (started_ && h->ssrc == previous_in_ssrc_) return false;  // late packet of the old source
    uint16_t first_seq = started_ ? uint16_t(last_seq_ + 1) : h->sequence;
    uint32_t first_ts = h->timestamp;
    if (started_) {
      auto gap = std::chrono::duration_cast<std::chrono::microseconds>(arrival - last_arrival_).count();
      uint64_t ticks = gap > 0 ? uint64_t(gap) * clock_rate_ / 1000000 : 0;
      first_ts = last_ts_ + uint32_t(ticks ? ticks : 1);
      ++switches_;
    }
    previous_in_ssrc_ = started_ ? in_ssrc_ : 0;
    in_ssrc_ = h->ssrc;
    seq_offset_ = uint16_t(first_seq - h->sequence);
    ts_offset_ = first_ts - h->timestamp;
    epoch_first_seq_ = first_seq;
    last_seq_ = uint16_t(first_seq - 1);
    last_ts_ = first_ts;
    started_ = true;
  }
  uint16_t seq = uint16_t(h->sequence + seq_offset_);
  uint32_t ts = h->timestamp + ts_offset_;
  // Newer than the highest sent (modulo 2^16): it becomes the reference.
  if (int16_t(seq - last_seq_) > 0) {
    last_seq_ = seq;
    last_ts_ = ts;
    last_arrival_ = arrival;
  }
  write_rtp(data, payload_type_, seq, ts, ssrc_);
  return true;
}

std::optional<uint16_t> RtpRewriter::source_sequence(uint16_t out_sequence) const {
  if (!started_) return std::nullopt;
  // Within [first of this source, highest sent].
  if (uint16_t(out_sequence - epoch_first_seq_) > uint16_t(last_seq_ - epoch_first_seq_)) return std::nullopt;
  return uint16_t(out_sequence - seq_offset_);
}

}  // namespace rtcmesh::engine
