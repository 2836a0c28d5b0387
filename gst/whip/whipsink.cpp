#include "gst/whip/whipsink.h"

#include <memory>
#include <mutex>

#include "gst/client/client_session.h"
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
  PROP_ICE_FIRST = PROP_CLIENT_FIRST + ClientProps::kCount,
};

// One attempt to publish: a connection and its WHIP resource.
struct Session {
  std::unique_ptr<sig::ResourceClient> client;
  std::unique_ptr<peer::SentTracks> tracks;  // destroyed after the peer
  std::unique_ptr<peer::Peer> peer;
  std::vector<std::string> mids;                 // of our offer, by m-line
  Timer deadline;
  gint64 started_us = g_get_monotonic_time();
  bool connected = false;
};

}  // namespace

struct RtcWhipSinkPrivate {
  explicit RtcWhipSinkPrivate(RtcWhipSink* s)
      : self(s),
        inputs(GST_ELEMENT(s), [this] { return encoder_settings(); },
               {[this] { on_chain_ready(); }, [this] { on_input_eos(); }}),
        retry(GST_ELEMENT(s), "WHIP publishing", GST_RESOURCE_ERROR_WRITE) {}
  RtcWhipSink* self;

  std::mutex props_mutex;
  ClientProps client;
  media::EncoderSettings encoder;
  IceProps ice;

  std::unique_ptr<Worker> worker;
  std::mutex worker_mutex;  // streaming threads post to the worker under it
  // Request pads: added/removed on the application thread, read on the
  // worker and streaming threads.
  media::SendInputs inputs;
  media::EncoderSettings encoder_settings() {
    std::lock_guard lock(props_mutex);
    return encoder;
  }

  // Worker only.
  std::unique_ptr<Session> session;
  ResourceCloser closing;  // sessions whose DELETE is under way
  // The session's webrtcbin, for telling its error messages apart on any thread.
  std::atomic<GstElement*> current_webrtc{nullptr};
  SessionRetry retry;
  bool running = false, finished = false;
  guint64 sessions_started = 0, sessions_failed = 0;
  std::string last_error;

  void start();
  void stop();
  void maybe_start_session();
  void start_session();
  void connect_session(Session* raw, const peer::IceSettings& ice_settings, guint timeout_ms);
  void session_failed(const std::string& why, int http_status = 0);
  void end_session(std::function<void()> done = {});
  void on_chain_ready();
  void on_input_eos();
  GstStructure* stats();
};

struct _RtcWhipSink {
  GstBin parent;
  RtcWhipSinkPrivate* priv;
};

G_DEFINE_TYPE(RtcWhipSink, rtc_whip_sink, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcwhipsink, "rtcwhipsink", GST_RANK_NONE, RTC_TYPE_WHIP_SINK)

void RtcWhipSinkPrivate::start() {
  worker = std::make_unique<Worker>("rtcwhipsink");
  worker->call([this] {
    running = true;
    finished = false;
    retry.reset();
    maybe_start_session();
  });
}

void RtcWhipSinkPrivate::stop() {
  // DELETE the resource, waiting a bounded time for the reply.
  stop_client_worker(worker, worker_mutex, closing, [this](std::function<void()> done) {
    running = false;
    retry.reset();
    end_session(std::move(done));
  });
}

// Publishing starts once every request pad knows its caps (the offer needs
// each track's codec) and the element runs.
void RtcWhipSinkPrivate::maybe_start_session() {
  if (!running || finished || session || retry.pending()) return;
  if (inputs.empty() || !inputs.all_ready()) return;
  worker->post([this] {
    if (running && !finished && !session && !retry.pending()) start_session();
  });
}

void RtcWhipSinkPrivate::start_session() {
  sig::ResourceClient::Options opts;
  peer::IceSettings ice_settings;
  guint timeout_ms, deadline_ms;
  {
    std::lock_guard lock(props_mutex);
    opts = client.resource_options();
    ice_settings = ice.settings();
    timeout_ms = client.peer_timeout_ms;
    deadline_ms = client.connect_deadline_ms();
  }
  sessions_started++;
  auto s = std::make_unique<Session>();
  s->client = std::make_unique<sig::ResourceClient>(worker->context(), opts);
  Session* raw = s.get();
  s->deadline = worker->timeout(deadline_ms, [this, raw] {
    if (session.get() == raw) session_failed("not connected in time");
    return false;
  });
  session = std::move(s);
  if (!ice_settings.stun_server.empty() || !ice_settings.turn_servers.empty())
    return connect_session(raw, ice_settings, timeout_ms);
  // No ICE servers of our own: use the ones the endpoint advertises (Link on
  // OPTIONS, RFC 9725 §4.6); a server without OPTIONS just gets none.
  raw->client->options([this, raw, ice_settings, timeout_ms](
                           int status, std::vector<sig::IceServer> servers, int) mutable {
    if (session.get() != raw) return;
    GST_DEBUG_OBJECT(self, "OPTIONS: status %d, %zu ICE servers", status, servers.size());
    use_link_servers(ice_settings, servers);
    connect_session(raw, ice_settings, timeout_ms);
  });
}

void RtcWhipSinkPrivate::connect_session(Session* raw, const peer::IceSettings& ice_settings,
                                         guint timeout_ms) {

  peer::PeerEvents events;
  events.local_candidate = [this, raw](guint mline, const std::string& candidate) {
    // Candidates found after the offer went out are trickled by PATCH.
    if (session.get() != raw || mline >= raw->mids.size()) return;
    raw->client->trickle({{raw->mids[mline], int(mline), candidate}}, false);
  };
  events.connected = [this, raw] {
    if (session.get() != raw) return;
    raw->connected = true;
    raw->deadline.reset();
    retry.connected();
    GST_INFO_OBJECT(self, "publishing: connected %.0f ms after start",
                    (g_get_monotonic_time() - raw->started_us) / 1000.0);
    // The server's decoder needs a keyframe now, not at the next GOP.
    raw->tracks->request_keyframes();
  };
  events.failed = [this, raw](const std::string& why) {
    worker->post([this, raw, why] {
      if (session.get() == raw) session_failed(why);
    });
  };
  raw->peer = std::make_unique<peer::Peer>(GST_BIN(self), *worker, "whip-session",
                                           ice_settings, timeout_ms * GST_MSECOND, events);
  raw->tracks = std::make_unique<peer::SentTracks>(GST_BIN(self), *raw->peer);
  raw->tracks->offer(inputs.ready(), false);
  current_webrtc = raw->peer->webrtcbin();

  raw->peer->make_offer([this, raw](const std::string& offer, const std::string& error) {
    if (session.get() != raw) return;
    if (!error.empty()) return session_failed(error);
    try {
      for (const auto& m : sig::validate_offer(offer).media) raw->mids.push_back(m.mid);
    } catch (const std::exception& e) {
      return session_failed(std::string("our own offer is invalid: ") + e.what());
    }
    GST_DEBUG_OBJECT(self, "offer:\n%s", offer.c_str());
    raw->client->create(offer, [this, raw](sig::ResourceClient::Created created) {
      if (session.get() != raw) return;
      if (created.status != 201 && created.status != 200)
        return session_failed(created.status == 0 ? created.reason
                                                  : std::to_string(created.status) + " " +
                                                        created.reason,
                              created.retryable() ? 0 : created.status);
      GST_INFO_OBJECT(self, "resource %s created", created.location.c_str());
      raw->peer->accept_answer(created.answer_sdp, [this, raw](const std::string& error) {
        if (session.get() == raw && !error.empty())
          session_failed("the server's answer cannot be applied: " + error, 422);
      });
    });
  });
}

// 4xx (but 408/429) is final; anything else is retried with a new session.
void RtcWhipSinkPrivate::session_failed(const std::string& why, int http_status) {
  GST_WARNING_OBJECT(self, "session failed: %s (HTTP status %d)", why.c_str(), http_status);
  sessions_failed++;
  last_error = why;
  end_session();
  bool reconnect;
  std::string endpoint;
  {
    std::lock_guard lock(props_mutex);
    reconnect = client.reconnect;
    endpoint = client.endpoint;
  }
  if (!retry.failed(*worker, why, http_status, reconnect, endpoint, [this] {
        if (running && !finished && !session) start_session();
      }))
    finished = true;
}

// Detaches the session from the fan-outs, drops its connection and DELETEs
// its resource; `done` runs once the server replied (or gave up).
void RtcWhipSinkPrivate::end_session(std::function<void()> done) {
  if (!session) {
    if (done) done();
    return;
  }
  std::unique_ptr<Session> s = std::move(session);
  current_webrtc = nullptr;
  // Stop the connection first: its NULL state unblocks any branch thread
  // waiting inside webrtcbin, so the fan-out detach cannot hang.
  s->peer.reset();
  s->tracks.reset();
  // The client lives on until its DELETE was answered.
  closing.close(std::move(s->client), std::move(done));
}

void RtcWhipSinkPrivate::on_chain_ready() {
  std::lock_guard lock(worker_mutex);
  if (worker) worker->post([this] { maybe_start_session(); });
}

void RtcWhipSinkPrivate::on_input_eos() {
  if (!inputs.all_ended()) return;
  // Every input ended: DELETE, then tell the pipeline we are done.
  auto post_eos = [this] {
    GST_INFO_OBJECT(self, "all inputs ended");
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_eos(GST_OBJECT(self)));
  };
  {
    std::lock_guard lock(worker_mutex);
    if (worker) {
      worker->post([this, post_eos] {
        finished = true;
        retry.reset();
        end_session(post_eos);
      });
      return;
    }
  }
  post_eos();
}

GstStructure* RtcWhipSinkPrivate::stats() {
  GstStructure* s = gst_structure_new_empty("rtcwhipsink-stats");
  auto fill = [&] {
    gst_structure_set(s, "connected", G_TYPE_BOOLEAN, session && session->connected,
                      "sessions-started", G_TYPE_UINT64, sessions_started, "sessions-failed",
                      G_TYPE_UINT64, sessions_failed, "last-error", G_TYPE_STRING,
                      last_error.c_str(), nullptr);
    add_rtp_totals(s, session && session->peer ? session->peer->stats().get() : nullptr);
  };
  if (worker) worker->call(fill);
  else fill();
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
  if (p->worker) p->worker->call([p] { p->end_session(); });
  gst_element_remove_pad(element, pad);
  in.reset();
  if (p->worker) p->worker->post([p] { p->maybe_start_session(); });
}

static void rtc_whip_sink_set_property(GObject* object, guint id, const GValue* value,
                                       GParamSpec* pspec) {
  auto* p = RTC_WHIP_SINK(object)->priv;
  std::lock_guard lock(p->props_mutex);
  if (p->ice.set(PROP_ICE_FIRST, id, value)) return;
  if (p->client.set(PROP_CLIENT_FIRST, id, value)) return;
  auto codec = [&](media::Kind kind, media::Codec& out) {
    const char* name = g_value_get_string(value);
    auto list = media::parse_codec_list(name ? name : "", kind);
    if (list.size() != 1) throw std::invalid_argument("expected exactly one codec");
    out = list[0];
  };
  guard(GST_ELEMENT(object), "set_property", [&] {
    switch (id) {
      case PROP_VIDEO_CODEC: codec(media::Kind::kVideo, p->encoder.video_codec); break;
      case PROP_AUDIO_CODEC: codec(media::Kind::kAudio, p->encoder.audio_codec); break;
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
  if (p->ice.get(PROP_ICE_FIRST, id, value)) return;
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

static GstStateChangeReturn rtc_whip_sink_change_state(GstElement* element,
                                                       GstStateChange transition) {
  auto* self = RTC_WHIP_SINK(element);
  auto* p = self->priv;
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    std::lock_guard lock(p->props_mutex);
    if (std::string problem = p->client.endpoint_problem("WHIP"); !problem.empty()) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", problem.c_str()), (nullptr));
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(rtc_whip_sink_parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      guard(element, "start", [&] { p->start(); });
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      guard(element, "stop", [&] { p->stop(); });
      break;
    default:
      break;
  }
  return ret;
}

static void rtc_whip_sink_handle_message(GstBin* bin, GstMessage* message) {
  auto* p = RTC_WHIP_SINK(bin)->priv;
  GstElement* webrtc = p->current_webrtc;
  if (webrtc && is_session_failure(message) && is_from(message, webrtc)) {
    // The connection failed, not the pipeline: start a new session. Never
    // wait for the worker here: it may be stopping this very thread.
    std::string why = message_text(message);
    std::lock_guard lock(p->worker_mutex);
    if (p->worker)
      p->worker->post([p, webrtc, why] {
        if (p->current_webrtc == webrtc) p->session_failed(why);
      });
    gst_message_unref(message);
    return;
  }
  if (drop_internal_eos(bin, message)) return;
  GST_BIN_CLASS(rtc_whip_sink_parent_class)->handle_message(bin, message);
}

// Unreleased request pads (gst-launch never releases them): their fan-outs
// must go while their elements are still in the bin.
static void rtc_whip_sink_dispose(GObject* object) {
  RTC_WHIP_SINK(object)->priv->inputs.clear();
  G_OBJECT_CLASS(rtc_whip_sink_parent_class)->dispose(object);
}

static void rtc_whip_sink_finalize(GObject* object) {
  delete RTC_WHIP_SINK(object)->priv;
  G_OBJECT_CLASS(rtc_whip_sink_parent_class)->finalize(object);
}

static void rtc_whip_sink_class_init(RtcWhipSinkClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcwhipsink_debug, "rtcwhipsink", 0, "WHIP client sink");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_whip_sink_set_property;
  object_class->get_property = rtc_whip_sink_get_property;
  object_class->dispose = rtc_whip_sink_dispose;
  object_class->finalize = rtc_whip_sink_finalize;
  element_class->change_state = rtc_whip_sink_change_state;
  element_class->request_new_pad = rtc_whip_sink_request_new_pad;
  element_class->release_pad = rtc_whip_sink_release_pad;
  GST_BIN_CLASS(klass)->handle_message = rtc_whip_sink_handle_message;

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
  IceProps::install(object_class, PROP_ICE_FIRST);

  CapsPtr video = media::sink_template_caps(media::Kind::kVideo);
  CapsPtr audio = media::sink_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio.get()));
  gst_element_class_set_static_metadata(
      element_class, "WHIP client sink", "Sink/Network/WebRTC",
      "Publishes video and audio to a WHIP endpoint: raw input is encoded (VP8/VP9/H.264, "
      "Opus), encoded input is sent as it is",
      "rtcmesh");
}

static void rtc_whip_sink_init(RtcWhipSink* self) {
  self->priv = new RtcWhipSinkPrivate(self);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}
