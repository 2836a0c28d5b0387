#include "gst/whip/whipsink.h"

#include <memory>
#include <mutex>

#include "gst/client/client_session.h"
#include "gst/common/base_bin.h"
#include "gst/common/data_signals.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/common/worker.h"
#include "gst/media/codec.h"
#include "gst/media/send_inputs.h"
#include "gst/peer/peer.h"
#include "gst/peer/sent_tracks.h"
#include "signaling/http/resource_client.h"
#include "signaling/http/sdp.h"

GST_DEBUG_CATEGORY_STATIC(rtcwhipsink_debug);
#define GST_CAT_DEFAULT rtcwhipsink_debug

using namespace rtcmesh;

namespace {

enum {
  PROP_0,
  PROP_VIDEO_CODEC,
  PROP_AUDIO_CODEC,
  PROP_VIDEO_BITRATE,
  PROP_KEYFRAME_INTERVAL,
  PROP_STATS,
  PROP_CLIENT_FIRST,  // ClientProps take the ids from here on
};

}  // namespace

struct RtcWhipSinkPrivate : BaseBinState {
  explicit RtcWhipSinkPrivate(RtcWhipSink* s)
      : BaseBinState(GST_ELEMENT(s), {}, props_mutex, ice),
        self(s),
        inputs(GST_ELEMENT(s), [this] { return encoder_settings(); },
               {[this] { on_chain_ready(); }, [this] { on_input_eos(); }}),
        loop(GST_ELEMENT(s), rtcwhipsink_debug, "WHIP publishing", GST_RESOURCE_ERROR_WRITE,
             props_mutex, client, [this] { start_session(); }) {}
  RtcWhipSink* self;

  std::mutex props_mutex;
  ClientProps client;
  media::EncoderSettings encoder;
  IceProps ice;

  // Request pads: added/removed on the application thread, read on the
  // worker and streaming threads.
  media::SendInputs inputs;
  media::EncoderSettings encoder_settings() {
    std::lock_guard lock(props_mutex);
    return encoder;
  }

  ClientLoop loop;  // the worker and the sessions

  std::string configuration_problem() override;
  bool start(std::string& error) override;
  void stop() override { loop.stop(); }
  bool route_session_failure(GstMessage* message, const std::string& why) override {
    return loop.route_failure(message, why);
  }
  void dispose() override { inputs.clear(); }
  void maybe_start_session();
  void start_session();
  void connect_session(ClientSession* raw, const peer::IceSettings& ice_settings,
                       guint timeout_ms);
  void on_chain_ready();
  void on_input_eos();
  GstStructure* stats();
};

struct _RtcWhipSink {
  RtcBaseBin parent;
  RtcWhipSinkPrivate* priv;
};

G_DEFINE_TYPE(RtcWhipSink, rtc_whip_sink, RTC_TYPE_BASE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcwhipsink, "rtcwhipsink", GST_RANK_NONE, RTC_TYPE_WHIP_SINK)

std::string RtcWhipSinkPrivate::configuration_problem() {
  std::lock_guard lock(props_mutex);
  if (std::string problem = encoder.codec_problem(); !problem.empty()) return problem;
  return client.endpoint_problem("WHIP");
}

bool RtcWhipSinkPrivate::start(std::string&) {
  loop.start("rtcwhipsink", [this] { maybe_start_session(); });
  return true;
}

// Publishing starts once every request pad knows its caps (the offer needs
// each track's codec) and the element runs. Worker thread.
void RtcWhipSinkPrivate::maybe_start_session() {
  auto can_start = [this] {
    return loop.running && !loop.finished && !loop.session() && !loop.retry.pending();
  };
  if (!can_start() || inputs.empty() || !inputs.all_ready()) return;
  loop.post([this, can_start] {
    if (can_start()) start_session();
  });
}

void RtcWhipSinkPrivate::start_session() {
  peer::IceSettings ice_settings;
  guint timeout_ms, deadline_ms;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.client_settings(client.endpoint);
    timeout_ms = client.peer_timeout_ms;
    deadline_ms = client.connect_deadline_ms();
  }
  ClientSession* raw = loop.begin(deadline_ms);
  if (!raw) return;
  if (!ice_settings.stun_server.empty() || !ice_settings.turn_servers.empty())
    return connect_session(raw, ice_settings, timeout_ms);
  // No ICE servers of our own: use the ones the endpoint advertises (Link on
  // OPTIONS, RFC 9725 §4.6); a server without OPTIONS just gets none.
  raw->client->options([this, raw, ice_settings, timeout_ms](
                           int status, std::vector<sig::IceServer> servers, int) mutable {
    if (!loop.current(raw)) return;
    GST_DEBUG_OBJECT(self, "OPTIONS: status %d, %zu ICE servers", status, servers.size());
    use_link_servers(ice_settings, servers);
    connect_session(raw, ice_settings, timeout_ms);
  });
}

void RtcWhipSinkPrivate::connect_session(ClientSession* raw, const peer::IceSettings& ice_settings,
                                         guint timeout_ms) {
  // The server's decoder needs a keyframe once connected, not at the next GOP.
  peer::PeerEvents events =
      loop.events(raw, "publishing", [raw] { raw->sent->request_keyframes(); });
  raw->peer = std::make_unique<peer::Peer>(GST_BIN(self), *loop.worker(), "whip-session",
                                           ice_settings, timeout_ms * GST_MSECOND, events);

  raw->sent = std::make_unique<peer::SentTracks>(GST_BIN(self), *raw->peer);
  raw->sent->offer(inputs.ready(), false);
  loop.attach(raw);
  loop.offer(raw, [this, raw](sig::ResourceClient::Created created) {
    if (created.status != 201 && created.status != 200)
      return loop.failed(created.status == 0 ? created.reason
                                             : std::to_string(created.status) + " " +
                                                   created.reason,
                         created.retryable() ? 0 : created.status);
    GST_INFO_OBJECT(self, "resource %s created", created.location.c_str());
    raw->peer->accept_answer(created.answer_sdp, [this, raw](const std::string& error) {
      if (loop.current(raw) && !error.empty())
        loop.failed("the server's answer cannot be applied: " + error, 422);
    });
  });
}

void RtcWhipSinkPrivate::on_chain_ready() {
  loop.post([this] { maybe_start_session(); });
}

void RtcWhipSinkPrivate::on_input_eos() {
  if (!inputs.all_ended()) return;
  // Every input ended: DELETE, then tell the pipeline we are done.
  auto post_eos = [this] {
    GST_INFO_OBJECT(self, "all inputs ended");
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_eos(GST_OBJECT(self)));
  };
  bool posted = loop.post([this, post_eos] {
    loop.finished = true;
    loop.retry.reset();
    loop.end(post_eos);
  });
  if (!posted) post_eos();
}

GstStructure* RtcWhipSinkPrivate::stats() {
  GstStructure* s = gst_structure_new_empty("rtcwhipsink-stats");
  loop.fill_stats(s);
  return s;
}

static GstPad* rtc_whip_sink_request_new_pad(GstElement* element, GstPadTemplate* templ,
                                             const gchar* name, const GstCaps*) {
  auto* p = RTC_WHIP_SINK(element)->priv;
  return guard(element, "request pad", [&] { return p->inputs.add(templ, name); });
}

static void rtc_whip_sink_release_pad(GstElement* element, GstPad* pad) {
  auto* p = RTC_WHIP_SINK(element)->priv;
  std::unique_ptr<media::SendInput> in = p->inputs.take(pad);
  if (!in) return;
  // The session was built with this track: it must go (a new one follows).
  if (Worker* worker = p->loop.worker()) worker->call([p] { p->loop.end(); });
  gst_element_remove_pad(element, pad);
  in.reset();
  p->loop.post([p] { p->maybe_start_session(); });
}

static void rtc_whip_sink_set_property(GObject* object, guint id, const GValue* value,
                                       GParamSpec* pspec) {
  auto* p = RTC_WHIP_SINK(object)->priv;
  // The lock is released before guard posts an error.
  guard(GST_ELEMENT(object), "set_property", [&] {
    std::lock_guard lock(p->props_mutex);
    if (p->client.set(PROP_CLIENT_FIRST, id, value)) return;
    switch (id) {
      case PROP_VIDEO_CODEC:
        p->encoder.set_codec("video-codec", g_value_get_string(value), media::Kind::kVideo);
        break;
      case PROP_AUDIO_CODEC:
        p->encoder.set_codec("audio-codec", g_value_get_string(value), media::Kind::kAudio);
        break;
      case PROP_VIDEO_BITRATE: p->encoder.video_bitrate_kbps = g_value_get_uint(value); break;
      case PROP_KEYFRAME_INTERVAL: p->encoder.keyframe_interval = g_value_get_uint(value); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
  });
}

static void rtc_whip_sink_get_property(GObject* object, guint id, GValue* value,
                                       GParamSpec* pspec) {
  auto* p = RTC_WHIP_SINK(object)->priv;
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  if (p->client.get(PROP_CLIENT_FIRST, id, value)) return;
  switch (id) {
    case PROP_VIDEO_CODEC:
      g_value_take_string(value, g_ascii_strdown(media::codec_info(p->encoder.video_codec).name, -1));
      break;
    case PROP_AUDIO_CODEC:
      g_value_take_string(value, g_ascii_strdown(media::codec_info(p->encoder.audio_codec).name, -1));
      break;
    case PROP_VIDEO_BITRATE: g_value_set_uint(value, p->encoder.video_bitrate_kbps); break;
    case PROP_KEYFRAME_INTERVAL: g_value_set_uint(value, p->encoder.keyframe_interval); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_whip_sink_class_init(RtcWhipSinkClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcwhipsink_debug, "rtcwhipsink", 0, "WHIP client sink");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_whip_sink_set_property;
  object_class->get_property = rtc_whip_sink_get_property;
  element_class->request_new_pad = rtc_whip_sink_request_new_pad;
  element_class->release_pad = rtc_whip_sink_release_pad;

  ClientProps::install(object_class, PROP_CLIENT_FIRST, "WHIP");
  install_string(object_class, PROP_VIDEO_CODEC, "video-codec",
                 "Codec raw video is encoded to: vp8, vp9 or h264 (encoded input keeps its own)",
                 "vp8");
  install_string(object_class, PROP_AUDIO_CODEC, "audio-codec",
                 "Codec raw audio is encoded to: opus", "opus");
  install_uint(object_class, PROP_VIDEO_BITRATE, "video-bitrate",
               "Target bitrate of encoded raw video in kbit/s", 50, 100000, 2000);
  install_uint(object_class, PROP_KEYFRAME_INTERVAL, "keyframe-interval",
               "Maximum frames between keyframes of encoded raw video (0 = encoder default)", 0,
               100000, 60);
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "Connection state, sessions started/failed, last error and RTP counters",
                         GST_TYPE_STRUCTURE, ro_flags()));
  // data-channels=true: messages go to the current session's server ("to"
  // is ignored) once its channel opens; between sessions they are dropped.
  install_data_signals(object_class, +[](GstElement* e, const std::string&, std::string data,
                                         bool text, bool reliable) {
    return RTC_WHIP_SINK(e)->priv->loop.send_data(std::move(data), text, reliable);
  });

  CapsPtr video = media::sink_template_caps(media::Kind::kVideo);
  CapsPtr audio = media::sink_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio.get()));
  add_data_pads(element_class);
  gst_element_class_set_static_metadata(
      element_class, "WHIP client sink", "Sink/Network/WebRTC",
      "Publishes video and audio to a WHIP endpoint: raw input is encoded (VP8/VP9/H.264, "
      "Opus), encoded input is sent as it is",
      "rtcmesh");
  gst_element_class_add_static_metadata(element_class, "signals",
                                        RTCMESH_DATA_SIGNALS_DOC
                                        ". Only with data-channels=true; to is ignored (the "
                                        "server), from is \"server\"");
}

static void rtc_whip_sink_init(RtcWhipSink* self) {
  self->priv = new RtcWhipSinkPrivate(self);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}
