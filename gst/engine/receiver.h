// What a publisher session (native ingress) keeps of one stream it
// receives: the extended sequence number (RFC 3550 A.1, with its restart
// rule), duplicates, gaps to ask again with RTCP NACK (RFC 4585) and when
// to repeat or give up, and the loss and interarrival jitter of its RR
// blocks (RFC 3550 A.3, A.8) with LSR/DLSR of the sender's SRs. No I/O:
// the engine sends what it says. Not thread-safe: one engine thread owns a
// session.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "gst/engine/rtcp.h"

namespace rtcmesh::engine {

class ReceiveStream {
 public:
  using Clock = std::chrono::steady_clock;
  struct Config {
    uint32_t clock_rate = 90000;
    bool nack = false;          // ask gaps again (video); otherwise a gap is lost at once
    int64_t max_nack_gap = 200;  // a larger jump is lost at once
    Clock::duration nack_interval = std::chrono::milliseconds(100);
    int nack_retries = 3;  // repeats after the first NACK
    Clock::duration give_up = std::chrono::seconds(1);
    size_t max_missing = 500;
  };
  // Received sequence numbers remembered: a packet further back is dropped.
  static constexpr int64_t kWindow = 1024;  // a power of two
  // RFC 3550 A.1: a jump larger than this (or further back than kWindow) is
  // a restart of the sequence only when the next packet follows it.
  static constexpr int64_t kMaxDropout = 3000;

  struct Outcome {
    bool accepted = false;   // new: feed it (false: duplicate, too old, or a jump on probation)
    bool recovered = false;  // it filled a gap we had NACKed
    uint64_t lost = 0;       // packets given up on by this call
    std::vector<uint16_t> nack;  // to NACK now (ascending)
  };

  explicit ReceiveStream(Config config);

  // A packet (RTX unwrapped: `retransmission`, which never restarts the
  // sequence nor counts for jitter) arriving `now`; the first one starts
  // the sequence.
  Outcome receive(uint16_t sequence, uint32_t timestamp, bool retransmission, Clock::time_point now);
  // Housekeeping: gaps due to be NACKed again, and those given up.
  Outcome due(Clock::time_point now);
  // A new SSRC: the sequence starts again at its next packet; returns the
  // gaps given up.
  uint64_t reset();

  void on_sender_report(uint64_t ntp, Clock::time_point now);
  // The RR block for `ssrc` (none before a packet); moves the interval of
  // fraction lost on.
  rtcp::ReportBlock report(uint32_t ssrc, Clock::time_point now);
  bool started() const { return started_; }
  size_t missing() const { return missing_.size(); }

 private:
  struct Missing {
    Clock::time_point first{}, last_nack{};
    int nacks = 0;
  };
  void start(uint16_t sequence);
  Config config_;
  bool started_ = false;
  int64_t base_ = 0, highest_ = 0;  // extended sequence numbers
  int64_t bad_sequence_ = -1;
  uint64_t received_ = 0, expected_prior_ = 0, received_prior_ = 0;
  std::array<int64_t, kWindow> window_{};  // [ext % kWindow] == ext: received
  std::map<int64_t, Missing> missing_;      // by extended sequence
  double jitter_ = 0;
  uint32_t last_transit_ = 0;
  bool have_transit_ = false;
  uint32_t last_sr_ = 0;  // middle 32 bits of the last SR's NTP
  Clock::time_point last_sr_arrival_{};
};

}  // namespace rtcmesh::engine
