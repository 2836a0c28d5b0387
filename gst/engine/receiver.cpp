#include "gst/engine/receiver.h"

#include <algorithm>
#include <cmath>

namespace rtcmesh::engine {

ReceiveStream::ReceiveStream(Config config) : config_(config) { window_.fill(-1); }

void ReceiveStream::start(uint16_t sequence) {
  started_ = true;
  base_ = highest_ = sequence;
  bad_sequence_ = -1;
  received_ = expected_prior_ = received_prior_ = 0;
  window_.fill(-1);
  missing_.clear();
  have_transit_ = false;
}

uint64_t ReceiveStream::reset() {
  uint64_t lost = missing_.size();
  missing_.clear();
  started_ = false;
  return lost;
}

ReceiveStream::Outcome ReceiveStream::receive(uint16_t sequence, uint32_t timestamp, bool retransmission,
                                              Clock::time_point now) {
  Outcome out;
  if (!started_) {
    if (retransmission) return out;  // nothing to place it against
    start(sequence);
    highest_ = int64_t(sequence) - 1;  // so that this one is the next
  }
  int64_t ext = highest_ + int16_t(uint16_t(sequence - uint16_t(highest_)));
  int64_t delta = ext - highest_;
  if (delta > kMaxDropout || delta <= -kWindow) {
    if (retransmission) return out;
    if (bad_sequence_ != sequence) {  // wait for the next one to follow it
      bad_sequence_ = uint16_t(sequence + 1);
      return out;
    }
    out.lost += missing_.size();
    start(sequence);
    ext = highest_;
    delta = 0;
  }
  bad_sequence_ = -1;
  int64_t& seen = window_[size_t(ext & (kWindow - 1))];  // a power of two: negative ext too
  if (seen == ext) return out;                          // a duplicate
  if (delta > 0) {
    if (delta > 1) {
      if (config_.nack && delta <= config_.max_nack_gap) {
        for (int64_t e = highest_ + 1; e < ext; ++e) {
          missing_[e] = {now, now, 1};
          out.nack.push_back(uint16_t(e));
        }
      } else {
        out.lost += uint64_t(delta - 1);
      }
    }
    highest_ = ext;
    // What fell out of the window can no longer be told from a duplicate.
    while (!missing_.empty() &&
           (missing_.begin()->first <= ext - kWindow || missing_.size() > config_.max_missing)) {
      missing_.erase(missing_.begin());
      out.lost++;
    }
  } else {
    auto it = missing_.find(ext);
    if (it != missing_.end()) {
      out.recovered = it->second.nacks > 0;
      missing_.erase(it);
    }
    base_ = std::min(base_, ext);
  }
  seen = ext;
  received_++;
  out.accepted = true;
  if (!retransmission) {  // RFC 3550 A.8: a retransmission's arrival says nothing of the path
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    uint32_t arrival = uint32_t(uint64_t(us) * config_.clock_rate / 1000000);
    uint32_t transit = arrival - timestamp;
    if (have_transit_) jitter_ += (std::abs(double(int32_t(transit - last_transit_))) - jitter_) / 16.0;
    last_transit_ = transit;
    have_transit_ = true;
  }
  return out;
}

ReceiveStream::Outcome ReceiveStream::due(Clock::time_point now) {
  Outcome out;
  for (auto it = missing_.begin(); it != missing_.end();) {
    Missing& m = it->second;
    if (now - m.first >= config_.give_up) {
      it = missing_.erase(it);
      out.lost++;
      continue;
    }
    if (m.nacks <= config_.nack_retries && now - m.last_nack >= config_.nack_interval) {
      m.nacks++;
      m.last_nack = now;
      out.nack.push_back(uint16_t(it->first));
    }
    ++it;
  }
  return out;
}

void ReceiveStream::on_sender_report(uint64_t ntp, Clock::time_point now) {
  last_sr_ = uint32_t(ntp >> 16);
  last_sr_arrival_ = now;
}

rtcp::ReportBlock ReceiveStream::report(uint32_t ssrc, Clock::time_point now) {
  rtcp::ReportBlock b;
  b.ssrc = ssrc;
  if (!started_) return b;
  int64_t expected = highest_ - base_ + 1;
  b.cumulative_lost = int32_t(std::clamp<int64_t>(expected - int64_t(received_), -0x800000, 0x7FFFFF));
  int64_t expected_interval = expected - int64_t(expected_prior_);
  int64_t lost_interval = expected_interval - (int64_t(received_) - int64_t(received_prior_));
  expected_prior_ = uint64_t(expected);
  received_prior_ = received_;
  if (expected_interval > 0 && lost_interval > 0)
    b.fraction_lost = uint8_t(std::min<int64_t>(255, (lost_interval << 8) / expected_interval));
  b.highest_sequence = uint32_t(highest_);
  b.jitter = uint32_t(jitter_);
  if (last_sr_) {
    b.last_sr = last_sr_;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - last_sr_arrival_).count();
    b.delay_since_sr = uint32_t((uint64_t(std::max<int64_t>(us, 0)) << 16) / 1000000);
  }
  return b;
}

}  // namespace rtcmesh::engine
