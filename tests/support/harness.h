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

// An unsigned counter (guint or guint64) of an element's `stats`; 0 if absent.
guint64 stats_counter(GstElement* element, const char* field);

// RTCMESH_TEST_SFU_ENGINE=webrtcbin|native runs the SFU tests with that
// rtcsfu engine (default native): every launch string's rtcsfu without an
// engine= gets engine=…. RTCMESH_TEST_SFU_INGRESS=native|webrtcbin likewise
// adds ingress=… where the engine is native.
std::string with_test_engine(const std::string& launch);

class Pipeline {
 public:
  explicit Pipeline(const std::string& launch);  // through with_test_engine
  ~Pipeline();  // to NULL
  GstElement* get() const { return pipeline_; }
  GstElement* by_name(const char* name) const;  // borrowed
  GstStateChangeReturn set_state(GstState state);
  // Messages of these types seen on the bus, as "type: source: text".
  std::vector<std::string> errors() const;
  std::vector<std::string> warnings() const;
  bool got_eos() const { return eos_; }
  // Element messages (e.g. `spectrum`'s) go to `fn` on the posting thread.
  // Set before PLAYING.
  void on_element_message(std::function<void(GstMessage*)> fn) { element_hook_ = std::move(fn); }

 private:
  static GstBusSyncReply on_message(GstBus*, GstMessage* message, gpointer data);
  GstElement* pipeline_;
  mutable std::mutex mutex_;
  std::vector<std::string> errors_, warnings_;
  std::atomic<bool> eos_{false};
  std::function<void(GstMessage*)> element_hook_;
};

// One received track of the ingest.
struct Track {
  std::string pad, peer_id, room, codec, caps;  // caps of the first sample
  std::atomic<int> buffers{0};
  std::atomic<guint64> audio_samples{0};
  std::atomic<gint64> first_buffer_us{0};  // g_get_monotonic_time()
  std::atomic<gint64> last_buffer_us{0};
  // Freezes: the longest wall-clock gap between two samples after the
  // first; reset_gaps() starts a new window.
  std::atomic<gint64> max_gap_us{0};
  void reset_gaps() {
    max_gap_us = 0;
    last_buffer_us = 0;
  }
  std::atomic<bool> eos{false};
  // With caps format=I420: the last frame's mean luma (0-255), -1 before one.
  std::atomic<int> luma{-1};
  // With caps format=S16LE: buffers whose RMS is above ~1 % of full scale.
  std::atomic<int> loud_buffers{0};
  bool video() const { return pad.find("video") != std::string::npos; }
};

// An appsink accepting `caps` that counts what arrives into `track` (the
// caller adds and links it); I420 and S16LE also measure luma and loudness.
GstElement* make_counting_sink(const std::shared_ptr<Track>& track, const std::string& caps);

// playbin's video-sink and audio-sink as counting appsinks of raw media.
struct PlaybinSinks {
  explicit PlaybinSinks(GstElement* playbin);
  std::shared_ptr<Track> video, audio;
};

// Every src pad `element` adds gets a counting appsink in the element's
// parent bin; `video_caps`/`audio_caps` choose the form (raw, encoded, RTP).
class TrackSinks {
 public:
  TrackSinks(GstElement* element, std::string video_caps, std::string audio_caps);
  ~TrackSinks();  // stop the pipeline first
  std::vector<std::shared_ptr<Track>> tracks() const;
  // Totals over tracks, optionally only those of one peer id.
  int video_frames(const std::string& peer = "") const;
  guint64 audio_samples(const std::string& peer = "") const;

 private:
  static void on_pad_added(GstElement*, GstPad* pad, gpointer data);
  GstElement* element_;
  std::string video_caps_, audio_caps_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Track>> tracks_;
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

  std::vector<std::shared_ptr<Track>> tracks() const { return sinks_->tracks(); }
  // Totals over tracks, optionally only those of one peer id.
  int video_frames(const std::string& peer = "") const { return sinks_->video_frames(peer); }
  guint64 audio_samples(const std::string& peer = "") const {
    return sinks_->audio_samples(peer);
  }
  size_t added() const { return added_; }
  size_t removed() const { return removed_; }

 private:
  std::unique_ptr<Pipeline> pipeline_;
  GstElement* src_;
  std::unique_ptr<TrackSinks> sinks_;
  std::atomic<size_t> added_{0}, removed_{0};
};

// Launch fragments of the 320x240@15 test sources (DESIGN §10).
extern const char* const kTestVideo;
extern const char* const kTestAudio;
// H.264 with a 20 s GOP (key-int-max=300 at 15 fps): a receiver that joins
// late decodes quickly only if a keyframe is asked for.
extern const char* const kTestH264LongGop;

// A pipeline served over WHEP: "rtcwhepsink name=w port=<port> <props>" fed by
// `video` and `audio` launch fragments (raw or encoded; "" leaves one out).
class WhepStream {
 public:
  explicit WhepStream(const std::string& props = "", const std::string& video = kTestVideo,
                      const std::string& audio = kTestAudio, unsigned port = 0);
  ~WhepStream();
  unsigned port() const;
  std::string url(const std::string& path = "/whep") const;
  GstElement* sink() const { return sink_; }
  Pipeline& pipeline() { return *pipeline_; }
  // rtcwhepsink refuses viewers until every input was encoded and payloaded
  // once: waits until each input's fan-out carries caps.
  bool wait_ready(std::chrono::milliseconds timeout = 10s) const;
  guint viewers() const;  // from its stats

 private:
  std::unique_ptr<Pipeline> pipeline_;
  GstElement* sink_;
  std::vector<std::string> inputs_;
};

// A WHEP player: "rtcwhepsrc name=r endpoint=URL <props>" whose pads feed
// counting appsinks. Not started: play() sets PLAYING and notes when.
class WhepViewer {
 public:
  explicit WhepViewer(const std::string& endpoint, const std::string& props = "",
                      const std::string& video_caps = "video/x-raw",
                      const std::string& audio_caps = "audio/x-raw");
  ~WhepViewer();
  bool play();
  gint64 played_us() const { return played_us_; }  // g_get_monotonic_time() at play()
  GstElement* src() const { return src_; }
  Pipeline& pipeline() { return *pipeline_; }
  std::vector<std::shared_ptr<Track>> tracks() const { return sinks_->tracks(); }
  int video_frames() const { return sinks_->video_frames(); }
  guint64 audio_samples() const { return sinks_->audio_samples(); }
  // Microseconds from play() to the first video sample, -1 before it.
  gint64 first_frame_delay_us() const;
  // A field of the rtcwhepsrc stats (uint64 or boolean as 0/1; -1 if absent).
  gint64 stat(const char* field) const;

 private:
  std::unique_ptr<Pipeline> pipeline_;
  GstElement* src_;
  std::unique_ptr<TrackSinks> sinks_;
  gint64 played_us_ = 0;
};

// A room participant: "rtcmeshbin url=URL room=<room> peer-id=<id> <props>"
// sending the test pattern and tone (publish=false: no inputs, it only
// receives), every remote track counted. Playing at once.
class RoomParticipant {
 public:
  RoomParticipant(const std::string& url, const std::string& id, const std::string& props = "",
                  const std::string& room = "r", bool publish = true);
  ~RoomParticipant();  // stops the pipeline before its sinks go
  int frames_from(const std::string& peer) const { return sinks_->video_frames(peer); }
  guint64 samples_from(const std::string& peer) const { return sinks_->audio_samples(peer); }
  std::vector<std::shared_ptr<Track>> tracks() const { return sinks_->tracks(); }
  // Milliseconds from PLAYING (it joins at once) to the first decoded frame
  // from `peer`; -1 before it.
  double first_frame_ms(const std::string& peer) const;
  Pipeline& pipeline() { return *pipeline_; }
  GstElement* bin() { return pipeline_->by_name("m"); }

 private:
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<TrackSinks> sinks_;
  gint64 started_us_ = 0;
};

struct HttpReply {
  guint status = 0;  // 0: no answer
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(const std::string& name) const;  // "" if absent
};
// One synchronous HTTP request (libsoup 3); `type` null = no body, `token`
// null = no Authorization.
HttpReply http_request(const char* method, const std::string& url, const char* type,
                       const std::string& body, const char* token = nullptr);

// Share of a PNG's pixels that are clearly green (Chromium's fake camera
// paints green), decoded by GStreamer; -1 when it cannot be read.
double png_green_share(const std::string& png);

// A self-signed certificate for 127.0.0.1 made by openssl at test time, in a
// temporary directory removed with it; `ok` is false (and a failure added)
// when openssl fails.
struct SelfSigned {
  SelfSigned();
  ~SelfSigned();
  std::string dir, cert, key;
  bool ok = false;
};

// "rtcwhipsink name=s endpoint=URL <props> <video> ! s.video_0 <audio> ! s.audio_0"
// with 320x240@15 test sources; empty video/audio leave that input out.
std::string publisher_launch(const std::string& endpoint, const std::string& props = "",
                             const std::string& video = "videotestsrc is-live=true",
                             const std::string& audio = "audiotestsrc is-live=true wave=ticks");

}  // namespace rtcmesh::test
