// Time through an SFU per RTP packet (rtcmesh-bench sfu): the publisher's send
// path stamps every media packet, the subscribers' receive paths look it up.
// The SFU rewrites SSRC, sequence numbers and timestamps and strips header
// extensions but forwards the payload unchanged, so a packet is known by its
// payload. Publisher and subscribers live in this process: one clock
// (CLOCK_MONOTONIC), one table.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace bench {

class PacketClock {
 public:
  PacketClock() = default;
  ~PacketClock() { g_rand_free(rand_); }
  PacketClock(const PacketClock&) = delete;
  PacketClock& operator=(const PacketClock&) = delete;

  // The publisher: a probe on its webrtcbin's rtpbin send_rtp_src pads (after
  // rtprtxsend keeps the packet for retransmission, before SRTP) stamps each
  // media packet, and drops the share set by set_drop (never RTX or RTCP).
  void watch_publisher(GstElement* pipeline);
  // A subscriber: a probe on its rtpssrcdemux's sink (after SRTP and
  // rtpsession, before the jitterbuffer) takes the arrival time.
  void watch_subscriber(GstElement* pipeline);
  void set_drop(double fraction) { drop_ = fraction; }

  // What happened since the last take().
  struct Window {
    guint64 sent = 0, dropped = 0;  // media packets at the publisher (dropped included in sent)
    guint64 unmatched = 0;          // arrivals whose payload was never sent (RTX, or a bug)
    std::vector<double> latency_ms;    // every arrival of a packet that was not dropped
    std::vector<double> recovered_ms;  // first arrivals of dropped packets at each subscriber
    guint64 duplicates = 0;  // a dropped packet again at a subscriber (its own NACK to the SFU)
  };
  Window take();
  guint64 sent() const { return sent_total_; }

 private:
  static GstPadProbeReturn on_send(GstPad*, GstPadProbeInfo* info, gpointer self);
  static GstPadProbeReturn on_receive(GstPad*, GstPadProbeInfo* info, gpointer self);
  bool stamp(GstBuffer* buffer, gint64 now);  // false: drop it
  void arrive(GstBuffer* buffer, gint64 now, const void* subscriber);

  struct Sent {
    gint64 at_us;
    bool dropped;
    std::vector<const void*> got;  // dropped ones: the subscribers that had it
  };
  std::atomic<double> drop_{0};
  std::atomic<int> media_pt_{-1};  // the first payload type sent: RTX comes only after a NACK
  std::atomic<guint64> sent_total_{0};
  std::mutex mutex_;
  std::unordered_map<guint64, Sent> sent_;
  std::deque<std::pair<gint64, guint64>> order_;  // (time, key), to forget old packets
  Window window_;
  GRand* rand_ = g_rand_new_with_seed(5);  // under mutex_
};

}  // namespace bench
