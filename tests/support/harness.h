// Test harness: pipelines run from launch strings with their bus watched, and
// a WHIP ingest (rtcwhipsrc, port 0) whose pads feed counting appsinks.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rtcmesh::test {

using namespace std::chrono_literals;

// Polls `pred` every 20 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

class Pipeline {
 public:
  explicit Pipeline(const std::string& launch);
  ~Pipeline();  // to NULL
  GstElement* get() const { return pipeline_; }
  GstElement* by_name(const char* name) const;  // borrowed
  GstStateChangeReturn set_state(GstState state);
  // Messages of these types seen on the bus, as "type: source: text".
  std::vector<std::string> errors() const;
  std::vector<std::string> warnings() const;
  bool got_eos() const { return eos_; }

 private:
  static GstBusSyncReply on_message(GstBus*, GstMessage* message, gpointer data);
  GstElement* pipeline_;
  mutable std::mutex mutex_;
  std::vector<std::string> errors_, warnings_;
  std::atomic<bool> eos_{false};
};

// One received track of the ingest.
struct Track {
  std::string pad, peer_id, room, codec, caps;  // caps of the first sample
  std::atomic<int> buffers{0};
  std::atomic<guint64> audio_samples{0};
  std::atomic<gint64> first_buffer_us{0};  // g_get_monotonic_time()
  std::atomic<bool> eos{false};
  bool video() const { return pad.rfind("video", 0) == 0; }
};

class Ingest {
 public:
  // `props`: extra rtcwhipsrc properties ("peer-timeout=2000 auth-token=x");
  // `video_caps`/`audio_caps`: what the appsinks accept (they choose the form).
  explicit Ingest(const std::string& props = "", const std::string& video_caps = "video/x-raw",
                  const std::string& audio_caps = "audio/x-raw", unsigned port = 0);
  ~Ingest();
  unsigned port() const;
  std::string url(const std::string& path = "/whip") const;
  GstElement* src() const { return src_; }
  Pipeline& pipeline() { return *pipeline_; }

  std::vector<std::shared_ptr<Track>> tracks() const;
  // Totals over tracks, optionally only those of one peer id.
  int video_frames(const std::string& peer = "") const;
  guint64 audio_samples(const std::string& peer = "") const;
  size_t added() const { return added_; }
  size_t removed() const { return removed_; }

 private:
  static void on_pad_added(GstElement*, GstPad* pad, gpointer data);
  std::unique_ptr<Pipeline> pipeline_;
  GstElement* src_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Track>> tracks_;
  std::string video_caps_, audio_caps_;
  std::atomic<size_t> added_{0}, removed_{0};
};

// "rtcwhipsink name=s endpoint=URL <props> <video> ! s.video_0 <audio> ! s.audio_0"
// with 320x240@15 test sources; empty video/audio leave that input out.
std::string publisher_launch(const std::string& endpoint, const std::string& props = "",
                             const std::string& video = "videotestsrc is-live=true",
                             const std::string& audio = "audiotestsrc is-live=true wave=ticks");

}  // namespace rtcmesh::test
