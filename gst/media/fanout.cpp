#include "gst/media/fanout.h"

#include <gst/video/video.h>

#include <atomic>
#include <condition_variable>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gst/common/debug.h"
#include "gst/common/guard.h"
#include "gst/media/util.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

constexpr GstClockTime kBranchRequestInterval = 500 * GST_MSECOND;
constexpr guint64 kQueueTime = 200 * GST_MSECOND;

GstClockTime now_ns() {
  return static_cast<GstClockTime>(g_get_monotonic_time()) * GST_USECOND;
}

std::string child_name(const std::string& base, const char* suffix) {
  return base.empty() ? std::string() : base + "-" + suffix;
}
const char* or_null(const std::string& s) {
  return s.empty() ? nullptr : s.c_str();
}

}  // namespace

// Rate limit state. The tee's pad probe holds a reference, so a probe still
// running while the FanOut goes away never touches freed memory.
struct FanOut::KeyframeLimiter {
  std::string name;
  std::mutex mutex;  // leaf lock: nothing is called with it held
  GstClockTime last_sent = GST_CLOCK_TIME_NONE;
  GstClockTime interval = kBranchRequestInterval;
  std::atomic<GstClockTime> branch_interval{kBranchRequestInterval};  // for branches' events
  bool pending = false;
  std::atomic<bool> maybe_pending{false};  // lock-free check on every buffer
  std::atomic<guint64> requests{0};
  std::atomic<guint64> sent{0};
  std::atomic<guint> count{0};  // the events' "count" field

  // True: send now. False: merged into one trailing request.
  bool ask(GstClockTime min_interval) {
    ++requests;
    GstClockTime now = now_ns();
    std::lock_guard lock(mutex);
    interval = min_interval;
    if (last_sent == GST_CLOCK_TIME_NONE || now - last_sent >= min_interval) {
      last_sent = now;
      pending = false;
      maybe_pending = false;
      ++sent;
      return true;
    }
    pending = true;
    maybe_pending = true;
    return false;
  }

  // The trailing request, once its interval is over.
  bool take_trailing() {
    if (!maybe_pending.load(std::memory_order_relaxed)) return false;
    GstClockTime now = now_ns();
    std::lock_guard lock(mutex);
    if (!pending || now - last_sent < interval) return false;
    pending = false;
    maybe_pending = false;
    last_sent = now;
    ++sent;
    return true;
  }

  GstEvent* make_event() {
    return gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, ++count);
  }

  // Sends to the peer of the tee's sink pad directly, so that our own event
  // does not go through the probe again.
  void send(GstPad* tee_sink) {
    GPtr<GstPad> peer = adopt(gst_pad_get_peer(tee_sink));
    if (!peer) {
      GST_DEBUG("%s: keyframe request, but nothing feeds the tee", name.c_str());
      return;
    }
    GST_DEBUG("%s: keyframe request #%" G_GUINT64_FORMAT " upstream", name.c_str(), sent.load());
    gst_pad_send_event(peer.get(), make_event());
  }

  static GstPadProbeReturn probe(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
    auto& self = **static_cast<std::shared_ptr<KeyframeLimiter>*>(data);
    return guard(nullptr, "fan-out keyframe probe", [&] {
      if (info->type & (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST)) {
        if (self.take_trailing()) self.send(pad);
        return GST_PAD_PROBE_OK;
      }
      GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
      if (!event || GST_EVENT_TYPE(event) != GST_EVENT_CUSTOM_UPSTREAM ||
          !gst_video_event_is_force_key_unit(event))
        return GST_PAD_PROBE_OK;
      if (!self.ask(self.branch_interval)) {
        GST_LOG("%s: merged a branch keyframe request", self.name.c_str());
        return GST_PAD_PROBE_DROP;
      }
      GstClockTime running_time;
      gboolean all_headers = FALSE;
      guint count = 0;
      gst_video_event_parse_upstream_force_key_unit(event, &running_time, &all_headers, &count);
      if (!all_headers) {
        // Viewers joining need SPS/PPS too.
        gst_event_unref(event);
        GST_PAD_PROBE_INFO_DATA(info) = self.make_event();
      }
      GST_DEBUG("%s: forwarding a branch keyframe request", self.name.c_str());
      return GST_PAD_PROBE_OK;
    });
  }

  static void free_ref(gpointer data) {
    delete static_cast<std::shared_ptr<KeyframeLimiter>*>(data);
  }
};

void unlink_when_idle(GstPad* src) {
  struct Wait {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    void finish() {
      std::lock_guard lock(m);
      done = true;
      cv.notify_all();
    }
  };
  auto wait = std::make_shared<Wait>();
  gst_pad_add_probe(
      src, GST_PAD_PROBE_TYPE_IDLE,
      [](GstPad* pad, GstPadProbeInfo*, gpointer data) -> GstPadProbeReturn {
        if (GPtr<GstPad> peer = adopt(gst_pad_get_peer(pad))) gst_pad_unlink(pad, peer.get());
        (*static_cast<std::shared_ptr<Wait>*>(data))->finish();
        return GST_PAD_PROBE_REMOVE;
      },
      new std::shared_ptr<Wait>(wait),
      [](gpointer data) {
        // Also reached when the pad goes away before it was ever idle.
        auto* w = static_cast<std::shared_ptr<Wait>*>(data);
        (*w)->finish();
        delete w;
      });
  std::unique_lock lock(wait->m);
  wait->cv.wait(lock, [&] { return wait->done; });
}

FanOut::FanOut(GstBin* bin, GstPad* rtp_src, std::string name)
    : bin_(bin),
      name_(std::move(name)),
      rtp_src_(retain(rtp_src)),
      limiter_(std::make_shared<KeyframeLimiter>()) {
  limiter_->name = name_.empty() ? "fan-out" : name_;
  std::string tee_name = child_name(name_, "tee");
  std::string sink_name = child_name(name_, "sink");
  tee_ = make_element("tee", or_null(tee_name));
  g_object_set(tee_, "allow-not-linked", TRUE, nullptr);
  try {
    sink_ = make_element("fakesink", or_null(sink_name));
  } catch (...) {
    gst_object_unref(gst_object_ref_sink(tee_));
    throw;
  }
  // The permanent branch: EOS and -e still work with zero connections.
  g_object_set(sink_, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, "qos", FALSE,
               nullptr);
  add_and_link(bin_, {tee_, sink_});  // the tee requests its src pad on link
  try {
    sync_with_parent({tee_, sink_});
    GPtr<GstPad> tee_sink = adopt(gst_element_get_static_pad(tee_, "sink"));
    GstPadLinkReturn r = gst_pad_link(rtp_src, tee_sink.get());
    if (GST_PAD_LINK_FAILED(r)) {
      throw std::runtime_error("fan-out " + limiter_->name + ": cannot link " + pad_name(rtp_src) +
                               " to the tee (" + gst_pad_link_get_name(r) + ")");
    }
    gst_pad_add_probe(
        tee_sink.get(),
        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                     GST_PAD_PROBE_TYPE_EVENT_UPSTREAM),
        &KeyframeLimiter::probe, new std::shared_ptr<KeyframeLimiter>(limiter_),
        &KeyframeLimiter::free_ref);
  } catch (...) {
    remove_elements(bin_, {sink_, tee_});
    throw;
  }
}

FanOut::~FanOut() {
  guard(nullptr, "FanOut::~FanOut", [&] {
    std::vector<int> ids;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, b] : branches_) ids.push_back(id);
    }
    for (int id : ids) detach(id);
    GPtr<GstPad> tee_sink = adopt(gst_element_get_static_pad(tee_, "sink"));
    if (gst_pad_is_linked(tee_sink.get())) unlink_when_idle(rtp_src_.get());
    remove_elements(bin_, {tee_, sink_});
  });
}

int FanOut::attach(GstPad* target) {
  GPtr<GstElement> owned = adopt_sink(make_element("queue"));
  GstElement* queue = owned.get();
  g_object_set(queue, "max-size-time", kQueueTime, "max-size-buffers", 0u, "max-size-bytes", 0u,
               nullptr);
  set_property_string(queue, "leaky", "downstream");
  if (!gst_bin_add(bin_, queue)) {
    throw std::runtime_error("fan-out " + limiter_->name + ": cannot add a queue");
  }
  GstPad* tee_pad = nullptr;
  try {
    GPtr<GstPad> qsrc = adopt(gst_element_get_static_pad(queue, "src"));
    GstPadLinkReturn r = gst_pad_link(qsrc.get(), target);
    if (GST_PAD_LINK_FAILED(r)) {
      throw std::runtime_error("fan-out " + limiter_->name + ": cannot link to " +
                               pad_name(target) + " (" + gst_pad_link_get_name(r) + ")");
    }
    if (!gst_element_sync_state_with_parent(queue))
      throw std::runtime_error("fan-out " + limiter_->name + ": queue failed to start");
    // Linked last: data only flows once everything downstream runs.
    tee_pad = gst_element_request_pad_simple(tee_, "src_%u");
    if (!tee_pad) throw std::runtime_error("fan-out " + limiter_->name + ": no tee pad");
    GPtr<GstPad> qsink = adopt(gst_element_get_static_pad(queue, "sink"));
    r = gst_pad_link(tee_pad, qsink.get());
    if (GST_PAD_LINK_FAILED(r)) {
      throw std::runtime_error("fan-out " + limiter_->name + ": cannot link the tee (" +
                               gst_pad_link_get_name(r) + ")");
    }
  } catch (...) {
    if (tee_pad) {
      gst_element_release_request_pad(tee_, tee_pad);
      gst_object_unref(tee_pad);
    }
    remove_elements(bin_, {queue});
    throw;
  }
  // The tee keeps its own reference to the request pad.
  gst_object_unref(tee_pad);
  std::lock_guard lock(mutex_);
  int id = next_id_++;
  branches_.emplace(id, Branch{tee_pad, queue, retain(target)});
  GST_DEBUG_OBJECT(bin_, "fan-out %s: branch %d → %s:%s", limiter_->name.c_str(), id,
                   GST_DEBUG_PAD_NAME(target));
  return id;
}

void FanOut::detach(int id) {
  Branch b;
  {
    std::lock_guard lock(mutex_);
    auto it = branches_.find(id);
    if (it == branches_.end()) return;
    b = std::move(it->second);
    branches_.erase(it);
  }
  // Keep the pad alive across release for the unlink below.
  GPtr<GstPad> tee_pad = retain(b.tee_pad);
  unlink_when_idle(b.tee_pad);
  gst_element_release_request_pad(tee_, b.tee_pad);
  // The queue's streaming thread may be parked inside `target` for as long as
  // the element behind it wants: webrtcbin holds RTP until DTLS is done (for a
  // WHEP player killed mid-handshake: until that connection is timed out) and
  // a new sink pad until it is negotiated. Setting the queue to NULL joins that
  // thread, so the caller hung until then, and for good when the caller is the
  // SFU host's worker, which is also what times the connection out (a
  // publisher leaving while such a player waited wedged rtcmesh-server).
  // Unlinked from target, the queue cannot push into it again; it is stopped
  // here if no push is in flight, else as soon as the one in flight returns
  // (the connection connects or goes to NULL).
  GstElement* queue = b.queue;
  GPtr<GstElement> keep = retain(queue);
  gst_element_set_locked_state(queue, TRUE);  // the bin's own state changes leave it alone
  GPtr<GstPad> qsrc = adopt(gst_element_get_static_pad(queue, "src"));
  // What it still holds is dropped (a push answered NOT_LINKED after an EOS
  // would make the queue post an error).
  gst_pad_add_probe(
      qsrc.get(), GST_PAD_PROBE_TYPE_DATA_DOWNSTREAM,
      [](GstPad*, GstPadProbeInfo*, gpointer) { return GST_PAD_PROBE_DROP; }, nullptr, nullptr);
  if (GPtr<GstPad> peer = adopt(gst_pad_get_peer(qsrc.get())))
    gst_pad_unlink(qsrc.get(), peer.get());
  struct Later {
    std::thread::id caller;
    GPtr<GstElement> bin, queue;
  };
  // An IDLE probe runs at once, on this thread, when no push is in flight.
  gulong probe = gst_pad_add_probe(
      qsrc.get(), GST_PAD_PROBE_TYPE_IDLE,
      [](GstPad*, GstPadProbeInfo*, gpointer data) -> GstPadProbeReturn {
        auto* l = static_cast<Later*>(data);
        if (std::this_thread::get_id() != l->caller) {
          // The push in flight returned: the queue's own streaming thread
          // cannot stop the queue, a GStreamer pool thread does.
          gst_element_call_async(
              l->bin.get(),
              [](GstElement* bin, gpointer queue) {
                remove_elements(GST_BIN(bin), {GST_ELEMENT(queue)});
                GST_INFO_OBJECT(bin, "fan-out: detached queue %s stopped and removed",
                                GST_OBJECT_NAME(queue));
              },
              gst_object_ref(l->queue.get()), gst_object_unref);
        }
        return GST_PAD_PROBE_REMOVE;
      },
      new Later{std::this_thread::get_id(), retain(GST_ELEMENT(bin_)), retain(queue)},
      [](gpointer data) { delete static_cast<Later*>(data); });
  if (probe != 0) {
    GST_INFO_OBJECT(bin_,
                    "fan-out %s: branch %d (%s) is inside a push downstream; its queue "
                    "stops when that returns",
                    limiter_->name.c_str(), id, GST_OBJECT_NAME(queue));
    return;
  }
  remove_elements(bin_, {queue});
  GST_DEBUG_OBJECT(bin_, "fan-out %s: branch %d removed", limiter_->name.c_str(), id);
}

void FanOut::set_keyframe_min_interval(GstClockTime interval) {
  limiter_->branch_interval = interval;
}

bool FanOut::request_keyframe(GstClockTime min_interval) {
  if (!limiter_->ask(min_interval)) return false;
  GPtr<GstPad> tee_sink = adopt(gst_element_get_static_pad(tee_, "sink"));
  limiter_->send(tee_sink.get());
  return true;
}

guint64 FanOut::keyframe_requests() const {
  return limiter_->requests.load();
}
guint64 FanOut::keyframes_sent() const {
  return limiter_->sent.load();
}

size_t FanOut::branch_count() const {
  std::lock_guard lock(mutex_);
  return branches_.size();
}

}  // namespace rtcmesh::media
