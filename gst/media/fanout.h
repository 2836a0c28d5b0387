// Fan-out (DESIGN §8): one RTP stream, encoded and payloaded once, shared by
// 0..N connections. Each connection gets a leaky queue so a slow one drops its
// own packets and never stalls the others.
#pragma once

#include <gst/gst.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gst/common/ptr.h"

namespace rtcmesh::media {

class FanOut {
 public:
  // Inside `bin`: rtp_src → tee allow-not-linked=true with a permanent internal
  // fakesink sync=false async=false branch (so EOS and -e work with zero
  // connections). Links rtp_src into the tee. Throws std::runtime_error.
  FanOut(GstBin* bin, GstPad* rtp_src, std::string name);
  // Detaches every branch, unlinks rtp_src (when it is idle) and removes the
  // tee and the fakesink. Not from the streaming thread of the tee. Stop or
  // unlink what feeds rtp_src first: its next push would be not-linked.
  ~FanOut();
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  // Adds a branch tee → queue(leaky=downstream, max-size-time=200ms, no buffer
  // or byte limit) → `target` (e.g. a webrtcbin sink pad; it must be linkable
  // from an element of `bin`). Returns the branch id. Safe while PLAYING.
  // Throws std::runtime_error when the link fails.
  int attach(GstPad* target);
  // Removes that branch without stalling the others: blocks the tee src pad
  // (idle probe), unlinks, releases it, unlinks the queue from `target`, sets
  // the queue to NULL and removes it. Never waits for `target`: if the queue is
  // inside a push into it (webrtcbin holds RTP until DTLS is done), the queue
  // is stopped and removed once that push returns. `target` is left alone
  // (unlinked). Unknown ids are ignored. Safe from any thread except the
  // streaming thread of this tee.
  void detach(int branch);

  // Upstream force-key-unit (all-headers=TRUE) toward the encoder / parser,
  // merged and rate-limited: at most one per `min_interval` however many ask.
  // Returns true if sent now. A request that falls inside the interval is not
  // lost: one trailing request is sent when the interval ends (with the next
  // buffer), so a connection that joined just after the last keyframe went by
  // still gets one. Force-key-unit events arriving from any branch (a webrtcbin
  // that got a PLI) go through the same merge and rate limit.
  bool request_keyframe(GstClockTime min_interval = 500 * GST_MSECOND);
  // The limit applied to requests arriving from branches (viewers' PLI/FIR).
  void set_keyframe_min_interval(GstClockTime interval);

  guint64 keyframe_requests() const;  // every request: calls and branch events
  guint64 keyframes_sent() const;     // events that reached upstream
  size_t branch_count() const;
  GstElement* tee() const { return tee_; }

  struct KeyframeLimiter;  // shared with the pad probe (outlives us if needed)

 private:
  struct Branch {
    GstPad* tee_pad = nullptr;  // request pad, owned by the tee
    GstElement* queue = nullptr;
    GPtr<GstPad> target;
  };

  GstBin* bin_;
  std::string name_;
  GPtr<GstPad> rtp_src_;
  GstElement* tee_ = nullptr;
  GstElement* sink_ = nullptr;
  std::shared_ptr<KeyframeLimiter> limiter_;

  mutable std::mutex mutex_;  // branches_, next_id_; never held while calling GStreamer
  std::map<int, Branch> branches_;
  int next_id_ = 0;
};

// Unlinks src from its peer once src is idle (no push in progress), waiting for
// it. Safe from any thread but the one streaming through src.
void unlink_when_idle(GstPad* src);

}  // namespace rtcmesh::media
