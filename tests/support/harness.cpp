#include "tests/support/harness.h"

#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>

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

Pipeline::Pipeline(const std::string& launch) {
  GError* err = nullptr;
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

Ingest::Ingest(const std::string& props, const std::string& video_caps,
               const std::string& audio_caps, unsigned port)
    : video_caps_(video_caps), audio_caps_(audio_caps) {
  pipeline_ = std::make_unique<Pipeline>("rtcwhipsrc name=src port=" + std::to_string(port) +
                                         " " + props);
  src_ = pipeline_->by_name("src");
  g_signal_connect(src_, "pad-added", G_CALLBACK(&Ingest::on_pad_added), this);
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

void Ingest::on_pad_added(GstElement* src, GstPad* pad, gpointer data) {
  auto* self = static_cast<Ingest*>(data);
  auto track = std::make_shared<Track>();
  track->pad = GST_PAD_NAME(pad);
  gchar *peer = nullptr, *room = nullptr, *codec = nullptr;
  g_object_get(pad, "peer-id", &peer, "room", &room, "codec", &codec, nullptr);
  track->peer_id = peer ? peer : "";
  track->room = room ? room : "";
  track->codec = codec ? codec : "";
  g_free(peer);
  g_free(room);
  g_free(codec);

  GstElement* sink = gst_element_factory_make("appsink", nullptr);
  GstCaps* caps =
      gst_caps_from_string((track->video() ? self->video_caps_ : self->audio_caps_).c_str());
  g_object_set(sink, "caps", caps, "sync", FALSE, "async", FALSE, nullptr);
  gst_caps_unref(caps);
  GstAppSinkCallbacks callbacks = {};
  callbacks.eos = [](GstAppSink*, gpointer d) { static_cast<Track*>(d)->eos = true; };
  callbacks.new_sample = [](GstAppSink* sink, gpointer d) {
    auto* t = static_cast<Track*>(d);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_ERROR;
    if (t->buffers++ == 0) {
      t->first_buffer_us = g_get_monotonic_time();
      gchar* c = gst_caps_to_string(gst_sample_get_caps(sample));
      t->caps = c;
      g_free(c);
    }
    GstAudioInfo info;
    if (!t->video() && gst_audio_info_from_caps(&info, gst_sample_get_caps(sample)) &&
        GST_AUDIO_INFO_BPF(&info) > 0)
      t->audio_samples += gst_buffer_get_size(gst_sample_get_buffer(sample)) /
                          GST_AUDIO_INFO_BPF(&info);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  };
  // The track outlives the sink: tracks_ keeps it until the Ingest goes.
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, track.get(), nullptr);
  {
    std::lock_guard lock(self->mutex_);
    self->tracks_.push_back(track);
  }
  GstElement* pipeline = GST_ELEMENT(gst_element_get_parent(src));
  gst_bin_add(GST_BIN(pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad* sinkpad = gst_element_get_static_pad(sink, "sink");
  if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK)
    g_printerr("cannot link %s to an appsink\n", GST_PAD_NAME(pad));
  gst_object_unref(sinkpad);
  gst_object_unref(pipeline);
}

std::vector<std::shared_ptr<Track>> Ingest::tracks() const {
  std::lock_guard lock(mutex_);
  return tracks_;
}

int Ingest::video_frames(const std::string& peer) const {
  int n = 0;
  for (auto& t : tracks())
    if (t->video() && (peer.empty() || t->peer_id == peer)) n += t->buffers;
  return n;
}

guint64 Ingest::audio_samples(const std::string& peer) const {
  guint64 n = 0;
  for (auto& t : tracks())
    if (!t->video() && (peer.empty() || t->peer_id == peer)) n += t->audio_samples;
  return n;
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
