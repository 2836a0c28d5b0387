#include "gst/whep/whepsink.h"

#include <gst/sdp/sdp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "gst/common/base_bin.h"
#include "gst/common/data_signals.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/server/endpoint_host.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/media/codec.h"
#include "gst/media/send_inputs.h"
#include "gst/peer/peer.h"
#include "gst/peer/sent_tracks.h"
#include "gst/whep/player_page.h"

GST_DEBUG_CATEGORY_STATIC(rtcwhepsink_debug);
#define GST_CAT_DEFAULT rtcwhepsink_debug

using namespace rtcmesh;

namespace {

enum {
  PROP_0,
  PROP_MAX_VIEWERS,
  PROP_VIDEO_CODEC,
  PROP_VIDEO_BITRATE,
  PROP_KEYFRAME_INTERVAL,
  PROP_KEYFRAME_MIN_INTERVAL,
  PROP_STATS,
  PROP_SERVER_FIRST,  // ServerProps take the ids from here on
};

const ServerProps::Defaults kServerDefaults{
    8081, "/whep",
    "Endpoint path viewers POST their offers to; the player page is at / and <path>/player",
    "Bearer token viewers must send (empty = no authentication)",
    "Milliseconds without RTCP from a viewer after which it is removed (rtcwhepsrc and "
    "browsers report about every second; other GStreamer players every 5 s)",
    sig::kGrantSubscribe};

// A viewer came before the pipeline's first caps: 503, come back later.
struct NotReady : std::runtime_error {
  using std::runtime_error::runtime_error;
  NotReady() : NotReady("nothing to play yet: the pipeline has not started sending") {}
};

// WHEP cannot add a track to a viewer later, so a viewer that comes while
// one input has caps and another not yet (a slow first video frame) waits
// this long for the others rather than getting audio only for good.
constexpr gint64 kOtherInputsGraceUs = 5 * G_USEC_PER_SEC;

enum { SIGNAL_VIEWER_ADDED, SIGNAL_VIEWER_REMOVED, SIGNAL_DATA_RECEIVED, N_SIGNALS };
guint signals[N_SIGNALS];

// One viewer: its connection and the tracks it is sent.
struct Viewer {
  std::string id;
  std::unique_ptr<peer::SentTracks> tracks;  // destroyed after the peer
  std::unique_ptr<peer::Peer> peer;
  Timer connect_deadline;
  gint64 created_us = g_get_monotonic_time();
};

}  // namespace

struct RtcWhepSinkPrivate : BaseBinState, sig::ResourceEndpoint::Handler {
  explicit RtcWhepSinkPrivate(RtcWhepSink* s)
      : BaseBinState(GST_ELEMENT(s), {.start_before_children = true,
                                      .server = "the WHEP server",
                                      .start_error = GST_RESOURCE_ERROR_OPEN_WRITE},
                     props_mutex, ice),
        self(s),
        inputs(GST_ELEMENT(s), [this] { return encoder_settings(); },
               {[this] { on_input_ready(); }, [this] { on_input_eos(); }}) {}
  RtcWhepSink* self;

  std::mutex props_mutex;
  ServerProps server{kServerDefaults};
  guint max_viewers = 0;
  media::EncoderSettings encoder;
  guint keyframe_min_interval_ms = 500;
  IceProps ice;

  std::unique_ptr<EndpointHost> host;  // while PAUSED or PLAYING
  Worker* worker = nullptr;
  std::mutex worker_mutex;  // `worker` as application threads see it (send-data)

  // Request pads; added/removed on the application thread, read elsewhere.
  media::SendInputs inputs;
  std::atomic<gint64> first_input_ready_us{0};  // monotonic; 0 = none yet
  media::EncoderSettings encoder_settings() {
    std::lock_guard lock(props_mutex);
    return encoder;
  }

  // Viewers: worker only (stats copies under the mutex).
  std::mutex viewers_mutex;
  std::map<std::string, std::unique_ptr<Viewer>> viewers;
  guint64 viewers_total = 0, viewers_failed = 0;

  std::string configuration_problem() override {
    std::lock_guard lock(props_mutex);
    return encoder.codec_problem();
  }
  bool start(std::string& error) override;
  void stop() override;
  bool route_session_failure(GstMessage* message, const std::string& why) override;
  // Unreleased request pads (gst-launch never releases them) go while their
  // elements are still in the bin.
  void dispose() override { inputs.clear(); }
  void on_offer(const sig::ResourceEndpoint::Offer& offer,
                std::function<void(sig::ResourceEndpoint::Answer)> reply) override;
  void on_trickle(const std::string& id, const std::vector<sig::TrickleCandidate>& candidates,
                  bool end_of_candidates) override;
  void on_delete(const std::string& id) override { remove_viewer(id, "DELETE"); }
  gboolean send(const std::string& to, std::string data, bool text, bool reliable);
  std::vector<media::SendInput*> ready_inputs();
  void remove_viewer(const std::string& id, const std::string& why);
  void on_input_ready();
  void on_input_eos();
  GstStructure* stats();
};

struct _RtcWhepSink {
  RtcBaseBin parent;
  RtcWhepSinkPrivate* priv;
};

G_DEFINE_TYPE(RtcWhepSink, rtc_whep_sink, RTC_TYPE_BASE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcwhepsink, "rtcwhepsink", GST_RANK_NONE, RTC_TYPE_WHEP_SINK)

bool RtcWhepSinkPrivate::start(std::string& error) {
  sig::HttpServer::Options opts;
  sig::ResourceEndpoint::Config config;
  try {
    std::lock_guard lock(props_mutex);
    opts = server.http_options();
    config = server.endpoint_config(ice);
    config.max_sessions = max_viewers;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  config.accepted_direction = "recvonly";
  config.track_count = 1;  // one video and one audio track per viewer
  auto routes = EndpointHost::page_routes(whep_player_page(config.path), "the player page",
                                          "WHEP", config.path, "player");
  try {
    host = std::make_unique<EndpointHost>("rtcwhepsink", opts, config, *this, routes);
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  {
    std::lock_guard lock(worker_mutex);
    worker = &host->worker();
  }
  GST_INFO_OBJECT(self, "WHEP endpoint at %s%s, player at %s/", host->base_url().c_str(),
                  config.path.c_str(), host->base_url().c_str());
  return true;
}

void RtcWhepSinkPrivate::stop() {
  if (!host) return;
  host->stop([this] {
    std::vector<std::string> ids;
    for (auto& [id, v] : viewers) ids.push_back(id);
    for (auto& id : ids) remove_viewer(id, "element stopping");
  });
  std::lock_guard lock(worker_mutex);
  host.reset();
  worker = nullptr;
}

// send-string / send-data: to one viewer (its id) or to every viewer whose
// offer brought data channels.
gboolean RtcWhepSinkPrivate::send(const std::string& to, std::string data, bool text, bool reliable) {
  std::lock_guard lock(worker_mutex);
  return peer::post_data_to(worker, viewers, to, std::move(data), text, reliable);
}

void RtcWhepSinkPrivate::on_offer(const sig::ResourceEndpoint::Offer& offer,
                                  std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  auto viewer = std::make_unique<Viewer>();
  viewer->id = offer.id;
  std::string id = offer.id;
  peer::IceSettings ice_settings;
  guint timeout_ms;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.server_settings(server.address);
    timeout_ms = server.peer_timeout_ms;
  }
  peer::PeerEvents events;
  events.failed = [this, id](const std::string& why) {
    worker->post([this, id, why] { remove_viewer(id, why); });
  };
  events.data = [this, id](const peer::DataMessage& m) {
    emit_data_received(GST_ELEMENT(self), signals[SIGNAL_DATA_RECEIVED], id, m.label, m.data,
                       m.text);
  };
  events.connected = [this, id] {
    auto it = viewers.find(id);
    if (it == viewers.end()) return;
    Viewer& v = *it->second;
    v.connect_deadline.reset();
    GST_INFO_OBJECT(self, "viewer %s connected after %.0f ms", id.c_str(),
                    (g_get_monotonic_time() - v.created_us) / 1000.0);
    // Keyframe on join: the viewer's decoder cannot start without one.
    v.tracks->request_keyframes();
  };
  try {
    viewer->peer = std::make_unique<peer::Peer>(GST_BIN(self), *worker, "whep-" + id.substr(0, 8),
                                                ice_settings, timeout_ms * GST_MSECOND, events);
    viewer->peer->enable_data_channels();  // the viewer's, if its offer has any
    viewer->tracks = std::make_unique<peer::SentTracks>(GST_BIN(self), *viewer->peer);
    viewer->tracks->answer(ready_inputs(), offer.sdp, false);
  } catch (const std::exception& e) {
    viewer->peer.reset();
    viewer->tracks.reset();
    return reply({dynamic_cast<const NotReady*>(&e) ? 503 : 422, e.what(), {}});
  }
  viewer->connect_deadline = worker->timeout(std::max(timeout_ms, 10000u), [this, id] {
    remove_viewer(id, "ICE did not connect in time");
    return false;
  });
  peer::Peer* peer = viewer->peer.get();
  {
    std::lock_guard lock(viewers_mutex);
    viewers[id] = std::move(viewer);
    viewers_total++;
  }
  peer->answer_offer(offer.sdp, [this, id, reply](const std::string& sdp, const std::string& error) {
    auto it = viewers.find(id);
    if (it == viewers.end()) return reply({503, "viewer went away during negotiation", {}});
    if (!error.empty()) {
      remove_viewer(id, error);
      return reply({422, error, {}});
    }
    reply({201, {}, sdp});
    g_signal_emit(self, signals[SIGNAL_VIEWER_ADDED], 0, id.c_str(), it->second->peer->webrtcbin());
  });
}

// Inputs that were encoded and payloaded once (their caps are known).
std::vector<media::SendInput*> RtcWhepSinkPrivate::ready_inputs() {
  std::vector<media::SendInput*> ready = inputs.ready();
  if (ready.empty()) throw NotReady();
  if (!inputs.all_ready() &&
      g_get_monotonic_time() - first_input_ready_us.load() < kOtherInputsGraceUs)
    throw NotReady("not every track is ready yet: the pipeline has not sent them all");
  return ready;
}

void RtcWhepSinkPrivate::on_trickle(const std::string& id,
                                    const std::vector<sig::TrickleCandidate>& candidates, bool) {
  auto it = viewers.find(id);
  if (it == viewers.end()) return;
  for (const auto& c : candidates)
    if (c.mline_index >= 0) it->second->peer->add_remote_candidate(c.mline_index, c.candidate);
}

// Stops the connection first (nothing waits inside it any more), then takes
// its branches off the fan-outs: the other viewers never notice.
void RtcWhepSinkPrivate::remove_viewer(const std::string& id, const std::string& why) {
  std::unique_ptr<Viewer> v;
  {
    std::lock_guard lock(viewers_mutex);
    auto it = viewers.find(id);
    if (it == viewers.end()) return;
    v = std::move(it->second);
    viewers.erase(it);
    if (why != "DELETE" && why != "element stopping") viewers_failed++;
  }
  if (host) host->endpoint().remove(id);
  GST_INFO_OBJECT(self, "viewer %s removed: %s", id.c_str(), why.c_str());
  g_signal_emit(self, signals[SIGNAL_VIEWER_REMOVED], 0, id.c_str(), v->peer->webrtcbin());
  v->connect_deadline.reset();
  v->peer.reset();
  v->tracks.reset();
}

bool RtcWhepSinkPrivate::route_session_failure(GstMessage* message, const std::string& why) {
  std::string failed;
  {
    std::lock_guard lock(viewers_mutex);
    for (auto& [id, v] : viewers)
      if (v->peer->posted(message)) failed = id;
  }
  if (failed.empty() || !worker) return false;
  GST_WARNING_OBJECT(self, "viewer %s failed: %s", failed.c_str(), why.c_str());
  worker->post([this, failed, why] { remove_viewer(failed, why); });
  return true;
}

void RtcWhepSinkPrivate::on_input_ready() {
  gint64 none = 0;
  first_input_ready_us.compare_exchange_strong(none, g_get_monotonic_time());
  guint ms;
  {
    std::lock_guard lock(props_mutex);
    ms = keyframe_min_interval_ms;
  }
  inputs.for_each([ms](media::SendInput& in) {
    if (auto* f = in.fanout()) f->set_keyframe_min_interval(ms * GST_MSECOND);
  });
}

void RtcWhepSinkPrivate::on_input_eos() {
  if (!inputs.all_ended()) return;
  GST_INFO_OBJECT(self, "all inputs ended");
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_eos(GST_OBJECT(self)));
}

GstStructure* RtcWhepSinkPrivate::stats() {
  GValue list = G_VALUE_INIT;
  gst_value_list_init(&list, 0);
  guint count = 0;
  guint64 total, failed;
  {
    std::lock_guard lock(viewers_mutex);
    total = viewers_total;
    failed = viewers_failed;
    for (auto& [id, v] : viewers) {
      GstStructure* s = gst_structure_new(
          "viewer", "id", G_TYPE_STRING, id.c_str(), "connected", G_TYPE_BOOLEAN,
          v->peer->is_connected(), "tracks", G_TYPE_UINT, guint(v->tracks->size()), "age-ms",
          G_TYPE_UINT64, guint64(g_get_monotonic_time() - v->created_us) / 1000, nullptr);
      add_rtp_totals(s, v->peer->stats().get());
      GValue value = G_VALUE_INIT;
      g_value_init(&value, GST_TYPE_STRUCTURE);
      g_value_take_boxed(&value, s);
      gst_value_list_append_and_take_value(&list, &value);
      count++;
    }
  }
  guint64 requests = 0, sent = 0;
  inputs.for_each([&](media::SendInput& in) {
    if (auto* f = in.fanout()) {
      requests += f->keyframe_requests();
      sent += f->keyframes_sent();
    }
  });
  GstStructure* s = gst_structure_new(
      "rtcwhepsink-stats", "viewers", G_TYPE_UINT, count, "viewers-total", G_TYPE_UINT64, total,
      "viewers-failed", G_TYPE_UINT64, failed, "keyframe-requests", G_TYPE_UINT64, requests,
      "keyframes-requested-upstream", G_TYPE_UINT64, sent, nullptr);
  gst_structure_take_value(s, "viewer-stats", &list);
  return s;
}

static GstPad* rtc_whep_sink_request_new_pad(GstElement* element, GstPadTemplate* templ,
                                             const gchar* name, const GstCaps*) {
  auto* p = RTC_WHEP_SINK(element)->priv;
  return guard(element, "request pad", [&] { return p->inputs.add(templ, name); });
}

static void rtc_whep_sink_release_pad(GstElement* element, GstPad* pad) {
  auto* p = RTC_WHEP_SINK(element)->priv;
  // Viewers were answered with this track: they go (and come back on their own).
  if (p->worker)
    p->worker->call([p] {
      std::vector<std::string> ids;
      for (auto& [id, v] : p->viewers) ids.push_back(id);
      for (auto& id : ids) p->remove_viewer(id, "a track was removed");
    });
  std::unique_ptr<media::SendInput> in = p->inputs.take(pad);
  gst_element_remove_pad(element, pad);
}

static void rtc_whep_sink_set_property(GObject* object, guint id, const GValue* value,
                                       GParamSpec* pspec) {
  auto* p = RTC_WHEP_SINK(object)->priv;
  // The lock is released before guard posts an error.
  guard(GST_ELEMENT(object), "set_property", [&] {
    std::lock_guard lock(p->props_mutex);
    if (p->server.set(PROP_SERVER_FIRST, id, value)) return;
    switch (id) {
      case PROP_MAX_VIEWERS: p->max_viewers = g_value_get_uint(value); break;
      case PROP_VIDEO_CODEC:
        p->encoder.set_codec("video-codec", g_value_get_string(value), media::Kind::kVideo);
        break;
      case PROP_VIDEO_BITRATE: p->encoder.video_bitrate_kbps = g_value_get_uint(value); break;
      case PROP_KEYFRAME_INTERVAL: p->encoder.keyframe_interval = g_value_get_uint(value); break;
      case PROP_KEYFRAME_MIN_INTERVAL: p->keyframe_min_interval_ms = g_value_get_uint(value); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
  });
}

static void rtc_whep_sink_get_property(GObject* object, guint id, GValue* value,
                                       GParamSpec* pspec) {
  auto* p = RTC_WHEP_SINK(object)->priv;
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  if (p->server.get(PROP_SERVER_FIRST, id, value, p->host ? p->host->port() : 0)) return;
  switch (id) {
    case PROP_MAX_VIEWERS: g_value_set_uint(value, p->max_viewers); break;
    case PROP_VIDEO_CODEC:
      g_value_take_string(value,
                          g_ascii_strdown(media::codec_info(p->encoder.video_codec).name, -1));
      break;
    case PROP_VIDEO_BITRATE: g_value_set_uint(value, p->encoder.video_bitrate_kbps); break;
    case PROP_KEYFRAME_INTERVAL: g_value_set_uint(value, p->encoder.keyframe_interval); break;
    case PROP_KEYFRAME_MIN_INTERVAL: g_value_set_uint(value, p->keyframe_min_interval_ms); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_whep_sink_class_init(RtcWhepSinkClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcwhepsink_debug, "rtcwhepsink", 0, "WHEP server sink");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_whep_sink_set_property;
  object_class->get_property = rtc_whep_sink_get_property;
  element_class->request_new_pad = rtc_whep_sink_request_new_pad;
  element_class->release_pad = rtc_whep_sink_release_pad;

  ServerProps::install(object_class, PROP_SERVER_FIRST, kServerDefaults);
  install_uint(object_class, PROP_MAX_VIEWERS, "max-viewers",
               "Concurrent viewers accepted before answering 503 (0 = unlimited)", 0, G_MAXUINT, 0);
  install_string(object_class, PROP_VIDEO_CODEC, "video-codec",
                 "Codec raw video is encoded to, once for all viewers: vp8, vp9 or h264 (encoded "
                 "input keeps its own)",
                 "vp8");
  install_uint(object_class, PROP_VIDEO_BITRATE, "video-bitrate",
               "Target bitrate of encoded raw video in kbit/s", 50, 100000, 2000);
  install_uint(object_class, PROP_KEYFRAME_INTERVAL, "keyframe-interval",
               "Maximum frames between keyframes of encoded raw video (0 = encoder default)", 0,
               100000, 60);
  install_uint(object_class, PROP_KEYFRAME_MIN_INTERVAL, "keyframe-min-interval",
               "Milliseconds between keyframe requests sent upstream, however many viewers ask "
               "(joins, PLI, FIR are merged)",
               0, 60000, 500);
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "Viewers; per viewer: id, connected, tracks, age-ms and RTP counters "
                         "(packets/bytes sent, NACK, PLI, FIR); keyframe requests merged and sent",
                         GST_TYPE_STRUCTURE, ro_flags()));

  signals[SIGNAL_VIEWER_ADDED] =
      g_signal_new("viewer-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr,
                   nullptr, nullptr, G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_ELEMENT);
  signals[SIGNAL_VIEWER_REMOVED] =
      g_signal_new("viewer-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr,
                   nullptr, nullptr, G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_ELEMENT);

  CapsPtr video = media::sink_template_caps(media::Kind::kVideo);
  CapsPtr audio = media::sink_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio.get()));
  add_data_pads(element_class);
  gst_element_class_set_static_metadata(
      element_class, "WHEP server sink", "Sink/Network/WebRTC",
      "Serves the pipeline to any number of WHEP viewers (browsers, players, rtcwhepsrc): "
      "encoded once, forwarded to every viewer; player page at /",
      "rtcmesh");
  // gst-inspect-1.0 prints every metadata key: the signals' arguments
  // (it names them arg0, arg1, …).
  gst_element_class_add_static_metadata(
      element_class, "signals",
      "viewer-added (id, webrtcbin): a viewer was answered; id: its WHEP resource id, webrtcbin: "
      "its connection (for its stats; do not change it). viewer-removed (id, webrtcbin): the "
      "viewer left (DELETE), timed out or failed. " RTCMESH_DATA_SIGNALS_DOC " (a viewer's "
      "channels, rtcwhepsrc data-channels=true; ids are viewer ids)");
  signals[SIGNAL_DATA_RECEIVED] = install_data_signals(
      object_class, +[](GstElement* e, const std::string& to, std::string data, bool text,
                        bool reliable) {
        return RTC_WHEP_SINK(e)->priv->send(to, std::move(data), text, reliable);
      });
}

static void rtc_whep_sink_init(RtcWhepSink* self) {
  self->priv = new RtcWhepSinkPrivate(self);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}
