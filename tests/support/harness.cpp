#include "tests/support/harness.h"

#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>

#include <cmath>
#include <regex>
#include <stdexcept>
#include <thread>

namespace rtcmesh::test {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string with_test_engine(const std::string& launch) {
  std::string props;
  const char* engine = g_getenv("RTCMESH_TEST_SFU_ENGINE");
  if (engine && *engine && launch.find("engine=") == std::string::npos) props += std::string(" engine=") + engine;
  const char* ingress = g_getenv("RTCMESH_TEST_SFU_INGRESS");
  bool webrtcbin = launch.find("engine=webrtcbin") != std::string::npos || props == " engine=webrtcbin";
  if (ingress && *ingress && !webrtcbin && launch.find("ingress=") == std::string::npos)
    props += std::string(" ingress=") + ingress;
  if (props.empty()) return launch;
  std::regex rtcsfu("(^|[\\s!])rtcsfu(?=\\s|$)");
  return std::regex_replace(launch, rtcsfu, std::string("$&") + props);
}

Pipeline::Pipeline(const std::string& launch_string) {
  GError* err = nullptr;
  const std::string launch = with_test_engine(launch_string);
  pipeline_ = gst_parse_launch(launch.c_str(), &err);
  if (!pipeline_) {
    std::string msg = err ? err->message : "?";
    g_clear_error(&err);
    throw std::runtime_error("cannot parse '" + launch + "': " + msg);
  }
  g_clear_error(&err);  // may be a warning about unlinked pads
  if (!GST_IS_PIPELINE(pipeline_)) {  // a single element comes back as itself
    GstElement* element = pipeline_;
    pipeline_ = gst_pipeline_new(nullptr);
    gst_bin_add(GST_BIN(pipeline_), element);
  }
  GstBus* bus = gst_element_get_bus(pipeline_);
  gst_bus_set_sync_handler(bus, &Pipeline::on_message, this, nullptr);
  gst_object_unref(bus);
}

Pipeline::~Pipeline() {
  gst_element_set_state(pipeline_, GST_STATE_NULL);
  GstBus* bus = gst_element_get_bus(pipeline_);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
  gst_object_unref(bus);
  gst_object_unref(pipeline_);
}

GstElement* Pipeline::by_name(const char* name) const {
  GstElement* e = gst_bin_get_by_name(GST_BIN(pipeline_), name);
  if (e) gst_object_unref(e);  // the pipeline keeps it alive
  return e;
}

GstStateChangeReturn Pipeline::set_state(GstState state) {
  return gst_element_set_state(pipeline_, state);
}

GstBusSyncReply Pipeline::on_message(GstBus*, GstMessage* message, gpointer data) {
  auto* self = static_cast<Pipeline*>(data);
  GError* err = nullptr;
  gchar* debug = nullptr;
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      bool error = GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR;
      if (error) gst_message_parse_error(message, &err, &debug);
      else gst_message_parse_warning(message, &err, &debug);
      std::string text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(message))) + ": " +
                         (err ? err->message : "") + " (" + (debug ? debug : "") + ")";
      std::lock_guard lock(self->mutex_);
      (error ? self->errors_ : self->warnings_).push_back(text);
      break;
    }
    case GST_MESSAGE_EOS:
      self->eos_ = true;
      break;
    case GST_MESSAGE_ELEMENT:
      if (self->element_hook_) self->element_hook_(message);
      break;
    default:
      break;
  }
  g_clear_error(&err);
  g_free(debug);
  return GST_BUS_DROP;
}

std::vector<std::string> Pipeline::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

std::vector<std::string> Pipeline::warnings() const {
  std::lock_guard lock(mutex_);
  return warnings_;
}

GstElement* make_counting_sink(const std::shared_ptr<Track>& track, const std::string& caps) {
  GstElement* sink = gst_element_factory_make("appsink", nullptr);
  GstCaps* c = gst_caps_from_string(caps.c_str());
  g_object_set(sink, "caps", c, "sync", FALSE, "async", FALSE, nullptr);
  gst_caps_unref(c);
  GstAppSinkCallbacks callbacks = {};
  callbacks.eos = [](GstAppSink*, gpointer d) { (*static_cast<std::shared_ptr<Track>*>(d))->eos = true; };
  callbacks.new_sample = [](GstAppSink* sink, gpointer d) {
    Track* t = static_cast<std::shared_ptr<Track>*>(d)->get();
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_ERROR;
    gint64 now = g_get_monotonic_time();
    if (gint64 last = t->last_buffer_us.exchange(now); last && now - last > t->max_gap_us) t->max_gap_us = now - last;
    if (t->buffers++ == 0) {
      t->first_buffer_us = now;
      gchar* c = gst_caps_to_string(gst_sample_get_caps(sample));
      t->caps = c;
      g_free(c);
    }
    GstAudioInfo info;
    GstVideoInfo vinfo;
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (!t->video() && gst_audio_info_from_caps(&info, gst_sample_get_caps(sample)) &&
        GST_AUDIO_INFO_BPF(&info) > 0) {
      t->audio_samples += gst_buffer_get_size(buffer) / GST_AUDIO_INFO_BPF(&info);
      if (GST_AUDIO_INFO_FORMAT(&info) == GST_AUDIO_FORMAT_S16LE &&
          gst_buffer_map(buffer, &map, GST_MAP_READ)) {
        const auto* s = reinterpret_cast<const gint16*>(map.data);
        size_t n = map.size / 2;
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += double(s[i]) * s[i];
        if (n && std::sqrt(sum / n) > 327) t->loud_buffers++;
        gst_buffer_unmap(buffer, &map);
      }
    } else if (t->video() && gst_video_info_from_caps(&vinfo, gst_sample_get_caps(sample)) &&
               GST_VIDEO_INFO_FORMAT(&vinfo) == GST_VIDEO_FORMAT_I420 &&
               gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      // Every 8th pixel of every 8th row of the Y plane.
      guint64 sum = 0, n = 0;
      for (int y = 0; y < GST_VIDEO_INFO_HEIGHT(&vinfo); y += 8)
        for (int x = 0; x < GST_VIDEO_INFO_WIDTH(&vinfo); x += 8, n++)
          sum += map.data[GST_VIDEO_INFO_PLANE_OFFSET(&vinfo, 0) +
                          y * GST_VIDEO_INFO_PLANE_STRIDE(&vinfo, 0) + x];
      if (n) t->luma = static_cast<int>(sum / n);
      gst_buffer_unmap(buffer, &map);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  };
  // The sink keeps the track alive as long as it may call back.
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, new std::shared_ptr<Track>(track),
                             [](gpointer d) { delete static_cast<std::shared_ptr<Track>*>(d); });
  return sink;
}

double png_green_share(const std::string& png) {
  gchar* desc = g_strdup_printf(
      "filesrc location=\"%s\" ! pngdec ! videoconvert ! video/x-raw,format=RGB ! appsink name=out",
      png.c_str());
  GstElement* p = gst_parse_launch(desc, nullptr);
  g_free(desc);
  if (!p) return -1;
  GstElement* out = gst_bin_get_by_name(GST_BIN(p), "out");
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(out), 5 * GST_SECOND);
  double share = -1;
  GstVideoInfo info;
  GstMapInfo map;
  if (sample && gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) &&
      gst_buffer_map(gst_sample_get_buffer(sample), &map, GST_MAP_READ)) {
    long green = 0, all = 0;
    for (int y = 0; y < GST_VIDEO_INFO_HEIGHT(&info); y++) {
      const guint8* row = map.data + y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
      for (int x = 0; x < GST_VIDEO_INFO_WIDTH(&info); x++, all++) {
        const guint8* px = row + 3 * x;
        if (px[1] > 100 && px[0] < 90 && px[2] < 90) green++;
      }
    }
    share = all ? double(green) / all : -1;
    gst_buffer_unmap(gst_sample_get_buffer(sample), &map);
  }
  if (sample) gst_sample_unref(sample);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(out);
  gst_object_unref(p);
  return share;
}

PlaybinSinks::PlaybinSinks(GstElement* playbin)
    : video(std::make_shared<Track>()), audio(std::make_shared<Track>()) {
  video->pad = "video";
  audio->pad = "audio";
  g_object_set(playbin, "video-sink", make_counting_sink(video, "video/x-raw"), "audio-sink",
               make_counting_sink(audio, "audio/x-raw"), nullptr);
}

TrackSinks::TrackSinks(GstElement* element, std::string video_caps, std::string audio_caps)
    : element_(element), video_caps_(std::move(video_caps)), audio_caps_(std::move(audio_caps)) {
  g_signal_connect(element_, "pad-added", G_CALLBACK(&TrackSinks::on_pad_added), this);
}

TrackSinks::~TrackSinks() { g_signal_handlers_disconnect_by_data(element_, this); }

void TrackSinks::on_pad_added(GstElement* element, GstPad* pad, gpointer data) {
  auto* self = static_cast<TrackSinks*>(data);
  auto track = std::make_shared<Track>();
  track->pad = GST_PAD_NAME(pad);
  gchar *peer = nullptr, *room = nullptr, *codec = nullptr;
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(pad), "peer-id"))
    g_object_get(pad, "peer-id", &peer, "room", &room, "codec", &codec, nullptr);
  track->peer_id = peer ? peer : "";
  track->room = room ? room : "";
  track->codec = codec ? codec : "";
  g_free(peer);
  g_free(room);
  g_free(codec);

  GstElement* sink =
      make_counting_sink(track, track->video() ? self->video_caps_ : self->audio_caps_);
  {
    std::lock_guard lock(self->mutex_);
    self->tracks_.push_back(track);
  }
  GstElement* parent = GST_ELEMENT(gst_element_get_parent(element));
  gst_bin_add(GST_BIN(parent), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad* sinkpad = gst_element_get_static_pad(sink, "sink");
  if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK)
    g_printerr("cannot link %s to an appsink\n", GST_PAD_NAME(pad));
  gst_object_unref(sinkpad);
  gst_object_unref(parent);
}

std::vector<std::shared_ptr<Track>> TrackSinks::tracks() const {
  std::lock_guard lock(mutex_);
  return tracks_;
}

int TrackSinks::video_frames(const std::string& peer) const {
  int n = 0;
  for (auto& t : tracks())
    if (t->video() && (peer.empty() || t->peer_id == peer)) n += t->buffers;
  return n;
}

guint64 TrackSinks::audio_samples(const std::string& peer) const {
  guint64 n = 0;
  for (auto& t : tracks())
    if (!t->video() && (peer.empty() || t->peer_id == peer)) n += t->audio_samples;
  return n;
}

Ingest::Ingest(const std::string& props, const std::string& video_caps,
               const std::string& audio_caps, unsigned port) {
  pipeline_ = std::make_unique<Pipeline>("rtcwhipsrc name=src port=" + std::to_string(port) +
                                         " " + props);
  src_ = pipeline_->by_name("src");
  sinks_ = std::make_unique<TrackSinks>(src_, video_caps, audio_caps);
  g_signal_connect(src_, "publisher-added",
                   G_CALLBACK(+[](GstElement*, gchar*, gchar*, gchar*, gpointer d) {
                     static_cast<Ingest*>(d)->added_++;
                   }),
                   this);
  g_signal_connect(src_, "publisher-removed",
                   G_CALLBACK(+[](GstElement*, gchar*, gchar*, gpointer d) {
                     static_cast<Ingest*>(d)->removed_++;
                   }),
                   this);
  if (pipeline_->set_state(GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    throw std::runtime_error("rtcwhipsrc did not start: " +
                             (pipeline_->errors().empty() ? "" : pipeline_->errors()[0]));
}

Ingest::~Ingest() {
  pipeline_->set_state(GST_STATE_NULL);
  g_signal_handlers_disconnect_by_data(src_, this);
}

unsigned Ingest::port() const {
  guint port = 0;
  g_object_get(src_, "port", &port, nullptr);
  return port;
}

std::string Ingest::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

const char* const kTestVideo =
    "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1";
const char* const kTestAudio =
    "audiotestsrc is-live=true wave=ticks ! audio/x-raw,rate=48000,channels=2";
const char* const kTestH264LongGop =
    "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 ! "
    "video/x-h264,profile=constrained-baseline";

WhepStream::WhepStream(const std::string& props, const std::string& video,
                       const std::string& audio, unsigned port) {
  std::string launch = "rtcwhepsink name=w port=" + std::to_string(port) + " " + props;
  if (!video.empty()) {
    launch += " " + video + " ! queue ! w.video_0";
    inputs_.push_back("video_0");
  }
  if (!audio.empty()) {
    launch += " " + audio + " ! queue ! w.audio_0";
    inputs_.push_back("audio_0");
  }
  pipeline_ = std::make_unique<Pipeline>(launch);
  sink_ = pipeline_->by_name("w");
  if (pipeline_->set_state(GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    throw std::runtime_error("rtcwhepsink did not start: " +
                             (pipeline_->errors().empty() ? "" : pipeline_->errors()[0]));
}

WhepStream::~WhepStream() { pipeline_->set_state(GST_STATE_NULL); }

unsigned WhepStream::port() const {
  guint port = 0;
  g_object_get(sink_, "port", &port, nullptr);
  return port;
}

std::string WhepStream::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

bool WhepStream::wait_ready(std::chrono::milliseconds timeout) const {
  // The fan-out of input X is the tee "X-tee" (media/fanout); its caps are
  // the payloader's, which rtcwhepsink waits for before it answers.
  return wait_until(
      [&] {
        for (const auto& input : inputs_) {
          GstElement* tee = gst_bin_get_by_name(GST_BIN(sink_), (input + "-tee").c_str());
          if (!tee) return false;
          GstPad* pad = gst_element_get_static_pad(tee, "sink");
          GstCaps* caps = pad ? gst_pad_get_current_caps(pad) : nullptr;
          if (caps) gst_caps_unref(caps);
          if (pad) gst_object_unref(pad);
          gst_object_unref(tee);
          if (!caps) return false;
        }
        return true;
      },
      timeout);
}

guint WhepStream::viewers() const {
  return guint(stats_counter(sink_, "viewers"));
}

guint64 stats_counter(GstElement* element, const char* field) {
  GstStructure* stats = nullptr;
  g_object_get(element, "stats", &stats, nullptr);
  guint64 n = 0;
  const GValue* v = stats ? gst_structure_get_value(stats, field) : nullptr;
  if (v && G_VALUE_HOLDS_UINT(v)) n = g_value_get_uint(v);
  if (v && G_VALUE_HOLDS_UINT64(v)) n = g_value_get_uint64(v);
  if (stats) gst_structure_free(stats);
  return n;
}

WhepViewer::WhepViewer(const std::string& endpoint, const std::string& props,
                       const std::string& video_caps, const std::string& audio_caps) {
  pipeline_ = std::make_unique<Pipeline>("rtcwhepsrc name=r endpoint=" + endpoint + " " + props);
  src_ = pipeline_->by_name("r");
  sinks_ = std::make_unique<TrackSinks>(src_, video_caps, audio_caps);
}

WhepViewer::~WhepViewer() { pipeline_->set_state(GST_STATE_NULL); }

bool WhepViewer::play() {
  played_us_ = g_get_monotonic_time();
  return pipeline_->set_state(GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

gint64 WhepViewer::first_frame_delay_us() const {
  gint64 first = 0;
  for (auto& t : tracks())
    if (t->video() && t->first_buffer_us && (!first || t->first_buffer_us < first))
      first = t->first_buffer_us;
  return first ? first - played_us_ : -1;
}

gint64 WhepViewer::stat(const char* field) const {
  GstStructure* stats = nullptr;
  g_object_get(src_, "stats", &stats, nullptr);
  if (!stats) return -1;
  gint64 out = -1;
  guint64 u64;
  gboolean b;
  if (gst_structure_get_uint64(stats, field, &u64)) out = gint64(u64);
  else if (gst_structure_get_boolean(stats, field, &b)) out = b ? 1 : 0;
  gst_structure_free(stats);
  return out;
}

RoomParticipant::RoomParticipant(const std::string& url, const std::string& id,
                                 const std::string& props, const std::string& room,
                                 bool publish) {
  std::string inputs =
      publish ? std::string(kTestVideo) + " ! m.video_0 " + kTestAudio + " ! m.audio_0" : "";
  pipeline_ = std::make_unique<Pipeline>("rtcmeshbin name=m url=" + url + " room=" + room +
                                         " peer-id=" + id + " peer-timeout=3000 " + props + " " +
                                         inputs);
  sinks_ = std::make_unique<TrackSinks>(pipeline_->by_name("m"), "video/x-raw", "audio/x-raw");
  started_us_ = g_get_monotonic_time();
  pipeline_->set_state(GST_STATE_PLAYING);
}

RoomParticipant::~RoomParticipant() { pipeline_->set_state(GST_STATE_NULL); }

double RoomParticipant::first_frame_ms(const std::string& peer) const {
  for (auto& t : sinks_->tracks())
    if (t->video() && t->peer_id == peer && t->first_buffer_us)
      return (t->first_buffer_us - started_us_) / 1000.0;
  return -1;
}

std::string HttpReply::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (g_ascii_strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return {};
}

HttpReply http_request(const char* method, const std::string& url, const char* type,
                       const std::string& body, const char* token) {
  SoupSession* session = soup_session_new();
  SoupMessage* msg = soup_message_new(method, url.c_str());
  if (token) {
    std::string auth = std::string("Bearer ") + token;
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 auth.c_str());
  }
  if (type) {
    GBytes* b = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, type, b);
    g_bytes_unref(b);
  }
  GError* err = nullptr;
  GBytes* out = soup_session_send_and_read(session, msg, nullptr, &err);
  HttpReply r;
  r.status = soup_message_get_status(msg);
  if (out) {
    gsize n;
    auto* d = static_cast<const char*>(g_bytes_get_data(out, &n));
    r.body.assign(d, n);
    g_bytes_unref(out);
  }
  SoupMessageHeadersIter it;
  const char *name, *value;
  soup_message_headers_iter_init(&it, soup_message_get_response_headers(msg));
  while (soup_message_headers_iter_next(&it, &name, &value)) r.headers.emplace_back(name, value);
  g_clear_error(&err);
  g_object_unref(msg);
  g_object_unref(session);
  return r;
}

SelfSigned::SelfSigned() {
  GError* err = nullptr;
  char* d = g_dir_make_tmp("rtcmesh-tls-XXXXXX", &err);
  if (!d) {
    ADD_FAILURE() << "no temporary directory: " << (err ? err->message : "");
    g_clear_error(&err);
    return;
  }
  dir = d;
  g_free(d);
  cert = dir + "/cert.pem";
  key = dir + "/key.pem";
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key + " -out " + cert;
  gint status = 0;
  char *out = nullptr, *errout = nullptr;
  ok = g_spawn_command_line_sync(cmd.c_str(), &out, &errout, &status, &err) &&
       g_spawn_check_wait_status(status, nullptr);
  if (!ok)
    ADD_FAILURE() << "openssl failed: " << (errout ? errout : "") << (err ? err->message : "");
  g_free(out);
  g_free(errout);
  g_clear_error(&err);
}

SelfSigned::~SelfSigned() {
  if (!cert.empty()) g_remove(cert.c_str());
  if (!key.empty()) g_remove(key.c_str());
  if (!dir.empty()) g_rmdir(dir.c_str());
}

std::string publisher_launch(const std::string& endpoint, const std::string& props,
                             const std::string& video, const std::string& audio) {
  std::string s = "rtcwhipsink name=s endpoint=" + endpoint + " " + props;
  if (!video.empty())
    s += " " + video + " ! video/x-raw,width=320,height=240,framerate=15/1 ! queue ! s.video_0";
  if (!audio.empty()) s += " " + audio + " ! audio/x-raw,rate=48000,channels=2 ! queue ! s.audio_0";
  return s;
}

}  // namespace rtcmesh::test
