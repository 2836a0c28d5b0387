#include "gst/whep/whepsrc.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "gst/client/client_session.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/common/track_pad.h"
#include "gst/common/worker.h"
#include "gst/media/codec.h"
#include "gst/media/output.h"
#include "gst/media/received_tracks.h"
#include "gst/peer/peer.h"
#include "signaling/http/ice_servers.h"
#include "signaling/http/resource_client.h"
#include "signaling/http/sdp.h"

GST_DEBUG_CATEGORY_STATIC(rtcwhepsrc_debug);
#define GST_CAT_DEFAULT rtcwhepsrc_debug

using namespace rtcmesh;

namespace {

enum {
  PROP_0,
  PROP_VIDEO_CODECS,
  PROP_AUDIO_CODECS,
  PROP_OUTPUT,
  PROP_STATS,
  PROP_CLIENT_FIRST,  // ClientProps take the ids from here on
  PROP_ICE_FIRST = PROP_CLIENT_FIRST + ClientProps::kCount,
};

// A server advertising more tracks than this is broken, not busy: 2×16
// m-lines already make a large offer.
constexpr int kMaxSlots = 16;

// One attempt to play: a connection and its WHEP resource.
struct Session {
  std::unique_ptr<sig::ResourceClient> client;
  std::unique_ptr<peer::Peer> peer;
  std::vector<std::string> mids;  // of our offer, by m-line; set once it went out
  Timer deadline;
  gint64 started_us = g_get_monotonic_time();
  bool connected = false;
};

// whep://host:port/path?token=t → http://host:port/path and "t" (wheps: https).
// Other query parameters stay in the endpoint. Throws std::invalid_argument.
std::pair<std::string, std::string> parse_whep_uri(const char* uri) {
  GError* err = nullptr;
  GUri* parsed = g_uri_parse(uri ? uri : "", G_URI_FLAGS_ENCODED, &err);
  if (!parsed) {
    std::string why = err ? err->message : "unparseable";
    g_clear_error(&err);
    throw std::invalid_argument(why);
  }
  std::unique_ptr<GUri, decltype(&g_uri_unref)> holder(parsed, g_uri_unref);
  std::string scheme = g_uri_get_scheme(parsed);
  const char* http_scheme = scheme == "whep" ? "http" : scheme == "wheps" ? "https" : nullptr;
  if (!http_scheme) throw std::invalid_argument("the scheme must be whep:// or wheps://");
  const char* host = g_uri_get_host(parsed);
  if (!host || !*host) throw std::invalid_argument("no host");
  std::string token, query;
  if (const char* q = g_uri_get_query(parsed)) {
    gchar** params = g_strsplit(q, "&", -1);
    for (gchar** p = params; *p; ++p) {
      if (!**p) continue;
      if (g_str_has_prefix(*p, "token=")) {
        GCharPtr value(g_uri_unescape_string(*p + 6, nullptr));
        if (!value) throw std::invalid_argument("the token is not valid percent-encoding");
        token = value.get();
      } else {
        query += (query.empty() ? "" : "&") + std::string(*p);
      }
    }
    g_strfreev(params);
  }
  const char* path = g_uri_get_path(parsed);
  GCharPtr endpoint(g_uri_join(G_URI_FLAGS_ENCODED, http_scheme, g_uri_get_userinfo(parsed), host,
                               g_uri_get_port(parsed), path && *path ? path : "/",
                               query.empty() ? nullptr : query.c_str(),
                               g_uri_get_fragment(parsed)));
  return {endpoint.get(), token};
}

}  // namespace

struct RtcWhepSrcPrivate {
  explicit RtcWhepSrcPrivate(RtcWhepSrc* s)
      : self(s), retry(GST_ELEMENT(s), "WHEP playback", GST_RESOURCE_ERROR_READ) {}
  RtcWhepSrc* self;

  // Properties: written by set_property, copied out when a session starts.
  std::mutex props_mutex;
  ClientProps client;
  std::string video_codecs = "vp8,vp9,h264", audio_codecs = "opus";
  media::OutputMode output = media::OutputMode::kAuto;
  IceProps ice;

  std::unique_ptr<Worker> worker;
  std::mutex worker_mutex;  // streaming threads post to the worker under it

  // Worker only.
  std::unique_ptr<Session> session;
  ResourceCloser closing;  // sessions whose DELETE is under way
  SessionRetry retry;
  bool running = false, finished = false;
  guint64 sessions_started = 0, sessions_failed = 0;
  std::string last_error;
  // The session's webrtcbin, for telling its error messages apart on any thread.
  std::atomic<GstElement*> current_webrtc{nullptr};

  // The exposed tracks, kept across sessions while a reconnect brings the
  // same ones. Replaced on the worker under `tracks_mutex`, which webrtcbin's
  // pad-added (inside Peer::Life::mutex) takes to link into them.
  std::mutex tracks_mutex;
  std::unique_ptr<media::ReceivedTracks> tracks;

  void start();
  void stop();
  void start_session();
  void offer(Session* s, int track_count, const std::vector<sig::IceServer>& link_servers);
  void on_created(Session* s, sig::ResourceClient::Created created);
  void prepare_tracks(const sig::SdpSummary& answer);
  void session_failed(const std::string& why, int http_status = 0);
  void end_session(std::function<void()> done = {});
  void post(std::function<void()> fn);
  GstStructure* stats();
};

struct _RtcWhepSrc {
  GstBin parent;
  RtcWhepSrcPrivate* priv;
};

static void rtc_whep_src_uri_handler_init(gpointer iface, gpointer);

G_DEFINE_TYPE_WITH_CODE(RtcWhepSrc, rtc_whep_src, GST_TYPE_BIN,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, rtc_whep_src_uri_handler_init))
// SECONDARY, not NONE: uridecodebin (playbin, gst-play-1.0) only picks URI
// handlers with a rank.
GST_ELEMENT_REGISTER_DEFINE(rtcwhepsrc, "rtcwhepsrc", GST_RANK_SECONDARY, RTC_TYPE_WHEP_SRC)

void RtcWhepSrcPrivate::post(std::function<void()> fn) {
  std::lock_guard lock(worker_mutex);
  if (worker) worker->post(std::move(fn));
}

void RtcWhepSrcPrivate::start() {
  {
    std::lock_guard lock(worker_mutex);
    worker = std::make_unique<Worker>("rtcwhepsrc");
  }
  worker->call([this] {
    running = true;
    finished = false;
    retry.reset();
    start_session();
  });
}

void RtcWhepSrcPrivate::stop() {
  // DELETE the resource, waiting a bounded time for the reply.
  stop_client_worker(worker, worker_mutex, closing, [this](std::function<void()> done) {
    running = false;
    retry.reset();
    end_session(std::move(done));
  });
  // No webrtcbin feeds them any more: the pads go.
  std::unique_ptr<media::ReceivedTracks> old;
  {
    std::lock_guard lock(tracks_mutex);
    old = std::move(tracks);
  }
}

// OPTIONS first: the server may advertise its track count and ICE servers.
void RtcWhepSrcPrivate::start_session() {
  sig::ResourceClient::Options opts;
  guint deadline_ms;
  {
    std::lock_guard lock(props_mutex);
    opts = client.resource_options();
    // OPTIONS, POST, then ICE/DTLS.
    deadline_ms = client.connect_deadline_ms() + client.http_timeout_s * 1000;
  }
  sessions_started++;
  auto s = std::make_unique<Session>();
  try {
    s->client = std::make_unique<sig::ResourceClient>(worker->context(), opts);
  } catch (const std::exception& e) {
    return session_failed(std::string("cannot set up HTTP: ") + e.what(), -1);
  }
  Session* raw = s.get();
  s->deadline = worker->timeout(deadline_ms, [this, raw] {
    if (session.get() == raw) session_failed("not connected in time");
    return false;
  });
  session = std::move(s);
  raw->client->options([this, raw](int status, std::vector<sig::IceServer> servers, int count) {
    if (session.get() != raw) return;
    // Advisory: a server without OPTIONS (or unreachable: the POST will say
    // why) gets one slot of each kind.
    GST_DEBUG_OBJECT(self, "OPTIONS: status %d, %zu ICE servers, %d tracks", status, servers.size(),
                     count);
    try {
      offer(raw, count, servers);
    } catch (const std::exception& e) {
      session_failed(std::string("cannot build the offer: ") + e.what(), -1);
    }
  });
}

void RtcWhepSrcPrivate::offer(Session* raw, int track_count,
                              const std::vector<sig::IceServer>& link_servers) {
  peer::IceSettings ice_settings;
  guint timeout_ms;
  std::string video, audio;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.settings();
    timeout_ms = client.peer_timeout_ms;
    video = video_codecs;
    audio = audio_codecs;
  }
  // The server's ICE servers, unless the user chose their own.
  use_link_servers(ice_settings, link_servers);
  int slots = track_count < 0 ? 1 : std::clamp(track_count, 1, kMaxSlots);
  if (track_count > kMaxSlots)
    GST_WARNING_OBJECT(self, "the server advertises %d tracks; offering %d", track_count, slots);

  peer::PeerEvents events;
  events.local_candidate = [this, raw](guint mline, const std::string& candidate) {
    // Candidates found after the offer went out are trickled by PATCH; the
    // ones before are in it.
    if (session.get() != raw || mline >= raw->mids.size()) return;
    raw->client->trickle({{raw->mids[mline], int(mline), candidate}}, false);
  };
  events.remote_pad = [this](GstPad* pad, const std::string& mid) {
    std::lock_guard lock(tracks_mutex);
    return tracks && tracks->link(pad, mid);
  };
  events.connected = [this, raw] {
    if (session.get() != raw) return;
    raw->connected = true;
    raw->deadline.reset();
    retry.connected();
    GST_INFO_OBJECT(self, "playing: connected %.0f ms after start",
                    (g_get_monotonic_time() - raw->started_us) / 1000.0);
  };
  events.failed = [this, raw](const std::string& why) {
    // Not from inside the Peer's own callback: it is about to be destroyed.
    worker->post([this, raw, why] {
      if (session.get() == raw) session_failed(why);
    });
  };
  raw->peer = std::make_unique<peer::Peer>(GST_BIN(self), *worker,
                                           "whep-session-" + std::to_string(sessions_started),
                                           ice_settings, timeout_ms * GST_MSECOND, events);
  current_webrtc = raw->peer->webrtcbin();
  // K recvonly slots of each kind; the server answers the unused ones inactive.
  CapsPtr video_caps = media::offered_rtp_caps(video, media::Kind::kVideo);
  CapsPtr audio_caps = media::offered_rtp_caps(audio, media::Kind::kAudio);
  for (int i = 0; i < slots && !gst_caps_is_empty(video_caps.get()); ++i)
    raw->peer->add_recv_track(video_caps.get());
  for (int i = 0; i < slots && !gst_caps_is_empty(audio_caps.get()); ++i)
    raw->peer->add_recv_track(audio_caps.get());

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
      if (session.get() == raw) on_created(raw, std::move(created));
    });
  });
}

void RtcWhepSrcPrivate::on_created(Session* raw, sig::ResourceClient::Created created) {
  if (!created.ok()) {
    bool has_status = created.status >= 300 || created.status < 200;
    std::string why = created.status == 0 || !has_status
                          ? created.reason
                          : std::to_string(created.status) + " " + created.reason;
    return session_failed(why, created.retryable() ? 0 : created.status);
  }
  GST_INFO_OBJECT(self, "resource %s created", created.location.c_str());
  GST_DEBUG_OBJECT(self, "answer:\n%s", created.answer_sdp.c_str());
  // Pads first, so that webrtcbin's src pads find their outputs.
  try {
    prepare_tracks(sig::validate_offer(created.answer_sdp));
  } catch (const std::exception& e) {
    return session_failed(std::string("the server's answer: ") + e.what(), 422);
  }
  raw->peer->accept_answer(created.answer_sdp, [this, raw](const std::string& error) {
    if (session.get() == raw && !error.empty())
      session_failed("the server's answer cannot be applied: " + error, 422);
  });
}

// The answer's tracks become pads. A reconnect that brings the same tracks
// (kinds and codecs) keeps the pads, so playback goes on where it was
// linked; otherwise the old pads end (EOS) and new ones replace them.
void RtcWhepSrcPrivate::prepare_tracks(const sig::SdpSummary& answer) {
  std::unique_ptr<media::ReceivedTracks> old;
  {
    std::lock_guard lock(tracks_mutex);
    if (tracks && tracks->matches(answer, false)) {
      GST_INFO_OBJECT(self, "same tracks as before: the new connection feeds the same pads");
      return;
    }
    old = std::move(tracks);
  }
  if (old) {
    GST_INFO_OBJECT(self, "the server's tracks changed: ending the old pads");
    old->finish();
    old.reset();  // removes its pads: their names are free again
  }
  media::OutputMode mode;
  std::string endpoint;
  {
    std::lock_guard lock(props_mutex);
    mode = output;
    endpoint = client.endpoint;
  }
  guint next_video = 0, next_audio = 0;
  auto fresh = std::make_unique<media::ReceivedTracks>(
      GST_ELEMENT(self), answer, false, mode,
      media::ReceivedTracks::Identity{endpoint, "", endpoint}, [&](media::Kind kind) {
        bool video = kind == media::Kind::kVideo;
        return (video ? "video_" : "audio_") + std::to_string(video ? next_video++ : next_audio++);
      });
  media::ReceivedTracks* raw = fresh.get();
  {
    std::lock_guard lock(tracks_mutex);
    tracks = std::move(fresh);
  }
  raw->expose();  // only the worker replaces `tracks`
}

// 4xx (but 408/429) and configuration problems are final; anything else is
// retried with a new session.
void RtcWhepSrcPrivate::session_failed(const std::string& why, int http_status) {
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
  if (finished) return;  // EOS was requested: no new session
  if (!retry.failed(*worker, why, http_status, reconnect, endpoint, [this] {
        if (running && !finished && !session) start_session();
      }))
    finished = true;
}

// Drops the connection (its src pads unlink from the tracks, which stay for
// the next session) and DELETEs the resource; `done` runs once the server
// replied (or gave up).
void RtcWhepSrcPrivate::end_session(std::function<void()> done) {
  if (!session) {
    if (done) done();
    return;
  }
  std::unique_ptr<Session> s = std::move(session);
  current_webrtc = nullptr;
  s->deadline.reset();
  s->peer.reset();
  closing.close(std::move(s->client), std::move(done));
}

GstStructure* RtcWhepSrcPrivate::stats() {
  GstStructure* s = gst_structure_new_empty("rtcwhepsrc-stats");
  auto fill = [&] {
    gst_structure_set(s, "connected", G_TYPE_BOOLEAN, session && session->connected,
                      "sessions-started", G_TYPE_UINT64, sessions_started, "sessions-failed",
                      G_TYPE_UINT64, sessions_failed, "last-error", G_TYPE_STRING,
                      last_error.c_str(), "resource", G_TYPE_STRING,
                      session ? session->client->location().c_str() : "", nullptr);
    add_rtp_totals(s, session && session->peer ? session->peer->stats().get() : nullptr);
  };
  if (worker) worker->call(fill);
  else fill();
  std::lock_guard lock(tracks_mutex);
  gst_structure_set(s, "tracks", G_TYPE_UINT, guint(tracks ? tracks->size() : 0), nullptr);
  return s;
}

static void rtc_whep_src_set_property(GObject* object, guint id, const GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_WHEP_SRC(object)->priv;
  std::lock_guard lock(p->props_mutex);
  if (p->ice.set(PROP_ICE_FIRST, id, value)) return;
  if (p->client.set(PROP_CLIENT_FIRST, id, value)) return;
  switch (id) {
    case PROP_VIDEO_CODECS: p->video_codecs = g_value_get_string(value) ?: ""; break;
    case PROP_AUDIO_CODECS: p->audio_codecs = g_value_get_string(value) ?: ""; break;
    case PROP_OUTPUT: p->output = media::OutputMode(g_value_get_enum(value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_whep_src_get_property(GObject* object, guint id, GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_WHEP_SRC(object)->priv;
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  if (p->ice.get(PROP_ICE_FIRST, id, value)) return;
  if (p->client.get(PROP_CLIENT_FIRST, id, value)) return;
  switch (id) {
    case PROP_VIDEO_CODECS: g_value_set_string(value, p->video_codecs.c_str()); break;
    case PROP_AUDIO_CODECS: g_value_set_string(value, p->audio_codecs.c_str()); break;
    case PROP_OUTPUT: g_value_set_enum(value, int(p->output)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

// What to fix in the configuration, or "".
static std::string configuration_problem(RtcWhepSrcPrivate* p) {
  std::lock_guard lock(p->props_mutex);
  if (std::string problem = p->client.endpoint_problem("WHEP"); !problem.empty()) return problem;
  try {
    if (media::parse_codec_list(p->video_codecs, media::Kind::kVideo).empty() &&
        media::parse_codec_list(p->audio_codecs, media::Kind::kAudio).empty())
      return "video-codecs and audio-codecs are both empty: nothing to play";
    sig::parse_ice_servers(p->ice.stun_server, split_list(p->ice.turn_servers));
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

static GstStateChangeReturn rtc_whep_src_change_state(GstElement* element,
                                                      GstStateChange transition) {
  auto* self = RTC_WHEP_SRC(element);
  auto* p = self->priv;
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    if (std::string problem = configuration_problem(p); !problem.empty()) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", problem.c_str()), (nullptr));
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(rtc_whep_src_parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      guard(element, "start", [&] { p->start(); });
      return GST_STATE_CHANGE_NO_PREROLL;  // live source
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      return GST_STATE_CHANGE_NO_PREROLL;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      guard(element, "stop", [&] { p->stop(); });
      break;
    default:
      break;
  }
  return ret;
}

static gboolean rtc_whep_src_send_event(GstElement* element, GstEvent* event) {
  auto* p = RTC_WHEP_SRC(element)->priv;
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    // gst-launch -e: end every track so muxers write their index; no new
    // session (and no new pads) after this.
    GST_INFO_OBJECT(element, "EOS requested: ending every track");
    {
      std::lock_guard lock(p->tracks_mutex);
      if (p->tracks) p->tracks->finish();
    }
    p->post([p] {
      p->finished = true;
      p->retry.cancel();
    });
    gst_event_unref(event);
    return TRUE;
  }
  return GST_ELEMENT_CLASS(rtc_whep_src_parent_class)->send_event(element, event);
}

static void rtc_whep_src_handle_message(GstBin* bin, GstMessage* message) {
  auto* p = RTC_WHEP_SRC(bin)->priv;
  if (is_session_failure(message) && peer::Peer::posted_by_any(message)) {
    // The connection failed, not the pipeline: start a new session. Never
    // wait for the worker here: it may be stopping this very thread.
    GstElement* webrtc = p->current_webrtc;
    std::string why = message_text(message);
    if (webrtc && is_from(message, webrtc)) {
      p->post([p, webrtc, why] {
        if (p->current_webrtc == webrtc) p->session_failed(why);
      });
    } else {
      GST_DEBUG_OBJECT(bin, "error of an ended session dropped: %s", why.c_str());
    }
    gst_message_unref(message);
    return;
  }
  if (drop_internal_eos(bin, message)) return;
  GST_BIN_CLASS(rtc_whep_src_parent_class)->handle_message(bin, message);
}

static void rtc_whep_src_finalize(GObject* object) {
  delete RTC_WHEP_SRC(object)->priv;
  G_OBJECT_CLASS(rtc_whep_src_parent_class)->finalize(object);
}

// GstURIHandler: whep://host[:port]/path[?token=…] plays http://host[:port]/path
// (wheps: https) with the token as auth-token.

static GstURIType rtc_whep_src_uri_get_type(GType) { return GST_URI_SRC; }

static const gchar* const* rtc_whep_src_uri_get_protocols(GType) {
  static const gchar* const protocols[] = {"whep", "wheps", nullptr};
  return protocols;
}

static gchar* rtc_whep_src_uri_get_uri(GstURIHandler* handler) {
  auto* p = RTC_WHEP_SRC(handler)->priv;
  std::lock_guard lock(p->props_mutex);
  const std::string& e = p->client.endpoint;
  // The token stays out: URIs end up in logs and tags.
  if (g_str_has_prefix(e.c_str(), "http://")) return g_strconcat("whep://", e.c_str() + 7, nullptr);
  if (g_str_has_prefix(e.c_str(), "https://"))
    return g_strconcat("wheps://", e.c_str() + 8, nullptr);
  return nullptr;
}

static gboolean rtc_whep_src_uri_set_uri(GstURIHandler* handler, const gchar* uri,
                                         GError** error) {
  auto* self = RTC_WHEP_SRC(handler);
  if (GST_STATE(self) > GST_STATE_READY) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
                "The URI of a running rtcwhepsrc cannot change");
    return FALSE;
  }
  try {
    auto [endpoint, token] = parse_whep_uri(uri);
    std::lock_guard lock(self->priv->props_mutex);
    self->priv->client.endpoint = endpoint;
    if (!token.empty()) self->priv->client.auth_token = token;
    GST_DEBUG_OBJECT(self, "URI %s: endpoint %s%s", uri, endpoint.c_str(),
                     token.empty() ? "" : " with a token");
    return TRUE;
  } catch (const std::exception& e) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI, "Invalid WHEP URI '%s': %s", uri,
                e.what());
    return FALSE;
  }
}

static void rtc_whep_src_uri_handler_init(gpointer g_iface, gpointer) {
  auto* iface = static_cast<GstURIHandlerInterface*>(g_iface);
  iface->get_type = rtc_whep_src_uri_get_type;
  iface->get_protocols = rtc_whep_src_uri_get_protocols;
  iface->get_uri = rtc_whep_src_uri_get_uri;
  iface->set_uri = rtc_whep_src_uri_set_uri;
}

static void rtc_whep_src_class_init(RtcWhepSrcClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcwhepsrc_debug, "rtcwhepsrc", 0, "WHEP client source");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  auto* bin_class = GST_BIN_CLASS(klass);
  object_class->set_property = rtc_whep_src_set_property;
  object_class->get_property = rtc_whep_src_get_property;
  object_class->finalize = rtc_whep_src_finalize;
  element_class->change_state = rtc_whep_src_change_state;
  element_class->send_event = rtc_whep_src_send_event;
  bin_class->handle_message = rtc_whep_src_handle_message;

  ClientProps::install(object_class, PROP_CLIENT_FIRST, "WHEP");
  install_string(object_class, PROP_VIDEO_CODECS, "video-codecs",
                 "Comma-separated video codecs offered for each video track, in preference "
                 "order (vp8, vp9, h264; empty = no video)",
                 "vp8,vp9,h264");
  install_string(object_class, PROP_AUDIO_CODECS, "audio-codecs",
                 "Comma-separated audio codecs offered for each audio track (opus; empty = no "
                 "audio)",
                 "opus");
  g_object_class_install_property(
      object_class, PROP_OUTPUT,
      g_param_spec_enum("output", "output",
                        "Form of the src pads: auto (chosen from the linked peer's caps), raw "
                        "(decoded), encoded (depayloaded and parsed) or rtp",
                        media::output_mode_get_type(), int(media::OutputMode::kAuto), rw_flags()));
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "connected, sessions-started, sessions-failed, last-error, resource "
                         "(URL of the current session), tracks (pads) and RTP counters",
                         GST_TYPE_STRUCTURE, ro_flags()));
  IceProps::install(object_class, PROP_ICE_FIRST);

  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
                                                     GST_CAPS_ANY, RTC_TYPE_TRACK_PAD));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
                                                     GST_CAPS_ANY, RTC_TYPE_TRACK_PAD));
  gst_element_class_set_static_metadata(
      element_class, "WHEP client source", "Source/Network/WebRTC",
      "Plays a WHEP stream: offers to receive the tracks the server advertises and exposes "
      "them as video_%u/audio_%u pads, decoded, encoded or RTP; reconnects when the server "
      "goes away. Also plays whep:// and wheps:// URIs (?token= sets auth-token)",
      "rtcmesh");
}

static void rtc_whep_src_init(RtcWhepSrc* self) {
  self->priv = new RtcWhepSrcPrivate(self);
  keep_source_flags(GST_ELEMENT(self));
}
