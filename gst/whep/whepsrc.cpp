#include "gst/whep/whepsrc.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "gst/client/client_session.h"
#include "gst/common/base_bin.h"
#include "gst/common/data_signals.h"
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
};

// A server advertising more tracks than this is broken, not busy: 2×16
// m-lines already make a large offer.
constexpr int kMaxSlots = 16;

// After the connection is up, how long the tracks that carry media have to
// bring their first buffer before no-more-pads says the pads are complete
// (sooner when every answered track has its pad). RTP flows at once on
// loopback; the receive jitterbuffer adds its 200 ms.
constexpr guint kSettleMs = 1000;

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

struct RtcWhepSrcPrivate : BaseBinState {
  explicit RtcWhepSrcPrivate(RtcWhepSrc* s)
      : BaseBinState(GST_ELEMENT(s), {.live = true}, props_mutex, ice),
        self(s),
        loop(GST_ELEMENT(s), rtcwhepsrc_debug, "WHEP playback", GST_RESOURCE_ERROR_READ,
             props_mutex, client, [this] { start_session(); }) {}
  RtcWhepSrc* self;

  // Properties: written by set_property, copied out when a session starts.
  std::mutex props_mutex;
  ClientProps client;
  std::string video_codecs = "vp8,vp9,h264", audio_codecs = "opus";
  media::OutputMode output = media::OutputMode::kAuto;
  IceProps ice;

  ClientLoop loop;  // the worker and the sessions

  // The exposed tracks, kept across sessions while a reconnect brings the
  // same ones. Replaced on the worker under `tracks_mutex`, which webrtcbin's
  // pad-added (inside Peer::Life::mutex) takes to link into them.
  std::mutex tracks_mutex;
  std::unique_ptr<media::ReceivedTracks> tracks;
  // no-more-pads for `tracks` (worker thread): sent once every answered
  // track has its pad, or once the settle time after connecting passed and
  // at least one has.
  bool pads_announced = false, settled = false;
  Timer settle;

  std::string configuration_problem() override;
  bool start(std::string& error) override;
  void stop() override;
  bool route_session_failure(GstMessage* message, const std::string& why) override;
  bool end_of_stream() override;
  void start_session();
  void offer(ClientSession* s, int track_count, const std::vector<sig::IceServer>& link_servers);
  void on_created(ClientSession* s, sig::ResourceClient::Created created);
  void prepare_tracks(const sig::SdpSummary& answer);
  void on_connected();
  void maybe_announce_pads();
  GstStructure* stats();
};

struct _RtcWhepSrc {
  RtcBaseBin parent;
  RtcWhepSrcPrivate* priv;
};

static void rtc_whep_src_uri_handler_init(gpointer iface, gpointer);

G_DEFINE_TYPE_WITH_CODE(RtcWhepSrc, rtc_whep_src, RTC_TYPE_BASE_BIN,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, rtc_whep_src_uri_handler_init))
// SECONDARY, not NONE: uridecodebin (playbin, gst-play-1.0) only picks URI
// handlers with a rank.
GST_ELEMENT_REGISTER_DEFINE(rtcwhepsrc, "rtcwhepsrc", GST_RANK_SECONDARY, RTC_TYPE_WHEP_SRC)

bool RtcWhepSrcPrivate::start(std::string&) {
  loop.start("rtcwhepsrc", [this] { start_session(); });
  return true;
}

void RtcWhepSrcPrivate::stop() {
  if (Worker* worker = loop.worker()) worker->call([this] { settle.reset(); });
  loop.stop();
  // No webrtcbin feeds them any more: the pads go.
  std::unique_ptr<media::ReceivedTracks> old;
  {
    std::lock_guard lock(tracks_mutex);
    old = std::move(tracks);
  }
}

// OPTIONS first: the server may advertise its track count and ICE servers.
void RtcWhepSrcPrivate::start_session() {
  guint deadline_ms;
  {
    std::lock_guard lock(props_mutex);
    // OPTIONS, POST, then ICE/DTLS.
    deadline_ms = client.connect_deadline_ms() + client.http_timeout_s * 1000;
  }
  ClientSession* raw = loop.begin(deadline_ms);
  if (!raw) return;
  raw->client->options([this, raw](int status, std::vector<sig::IceServer> servers, int count) {
    if (status > 0) loop.reached();
    if (!loop.current(raw)) return;
    // Advisory: a server without OPTIONS (or unreachable: the POST will say
    // why) gets one slot of each kind.
    GST_DEBUG_OBJECT(self, "OPTIONS: status %d, %zu ICE servers, %d tracks", status, servers.size(),
                     count);
    try {
      offer(raw, count, servers);
    } catch (const std::exception& e) {
      loop.failed(std::string("cannot build the offer: ") + e.what(), -1);
    }
  });
}

void RtcWhepSrcPrivate::offer(ClientSession* raw, int track_count,
                              const std::vector<sig::IceServer>& link_servers) {
  peer::IceSettings ice_settings;
  guint timeout_ms;
  std::string video, audio;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.client_settings(client.endpoint);
    timeout_ms = client.peer_timeout_ms;
    video = video_codecs;
    audio = audio_codecs;
  }
  // The server's ICE servers, unless the user chose their own.
  use_link_servers(ice_settings, link_servers);
  int slots = track_count < 0 ? 1 : std::clamp(track_count, 1, kMaxSlots);
  if (track_count > kMaxSlots)
    GST_WARNING_OBJECT(self, "the server advertises %d tracks; offering %d", track_count, slots);

  peer::PeerEvents events = loop.events(raw, "playing", [this] { on_connected(); });
  events.remote_pad = [this](GstPad* pad, const std::string& mid) {
    std::lock_guard lock(tracks_mutex);
    return tracks && tracks->link(pad, mid);
  };
  // The server ended the stream (an RTCP BYE: the publisher of a
  // /whep/<room>/<publisher> player left, or the server pipeline's EOS):
  // every track ends with EOS, the resource is deleted, no new session.
  events.remote_bye = [this, raw](guint ssrc) {
    if (!loop.current(raw) || loop.finished) return;
    GST_INFO_OBJECT(self, "the server ended the stream (RTCP BYE of SSRC %u): EOS", ssrc);
    loop.finished = true;
    loop.retry.cancel();
    loop.worker()->post([this] {  // (not inside the Peer's own callback: end() destroys it)
      loop.end();
      if (tracks) tracks->finish();
    });
  };
  std::string name = "whep-session-" + std::to_string(loop.sessions_started());
  raw->peer = std::make_unique<peer::Peer>(GST_BIN(self), *loop.worker(), name, ice_settings,
                                           timeout_ms * GST_MSECOND, events);
  raw->peer->force_retransmission();  // every slot NACKs its losses (Peer::force_retransmission)
  loop.attach(raw);
  // K recvonly slots of each kind; the server answers the unused ones inactive.
  CapsPtr video_caps = media::offered_rtp_caps(video, media::Kind::kVideo);
  CapsPtr audio_caps = media::offered_rtp_caps(audio, media::Kind::kAudio);
  for (int i = 0; i < slots && !gst_caps_is_empty(video_caps.get()); ++i)
    raw->peer->add_recv_track(video_caps.get());
  for (int i = 0; i < slots && !gst_caps_is_empty(audio_caps.get()); ++i)
    raw->peer->add_recv_track(audio_caps.get());
  loop.offer(raw, [this, raw](sig::ResourceClient::Created created) {
    on_created(raw, std::move(created));
  });
}

void RtcWhepSrcPrivate::on_created(ClientSession* raw, sig::ResourceClient::Created created) {
  if (!created.ok()) {
    bool has_status = created.status >= 300 || created.status < 200;
    std::string why = created.status == 0 || !has_status
                          ? created.reason
                          : std::to_string(created.status) + " " + created.reason;
    return loop.failed(why, created.retryable() ? 0 : created.status);
  }
  GST_INFO_OBJECT(self, "resource %s created", created.location.c_str());
  GST_DEBUG_OBJECT(self, "answer:\n%s", created.answer_sdp.c_str());
  // Pads first, so that webrtcbin's src pads find their outputs.
  try {
    prepare_tracks(sig::validate_offer(created.answer_sdp));
  } catch (const std::exception& e) {
    return loop.failed(std::string("the server's answer: ") + e.what(), 422);
  }
  raw->peer->accept_answer(created.answer_sdp, [this, raw](const std::string& error) {
    if (loop.current(raw) && !error.empty())
      loop.failed("the server's answer cannot be applied: " + error, 422);
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
  // A pad per track that carries media, when its first buffer comes: the
  // empty slots of a room never become pads (decodebin would wait for them
  // and a live pipeline would never play). Only the worker replaces
  // `tracks`, so it is read here without the lock.
  fresh->expose_when_fed([this] { loop.post([this] { maybe_announce_pads(); }); });
  settle.reset();
  pads_announced = settled = false;
  std::lock_guard lock(tracks_mutex);
  tracks = std::move(fresh);
}

// Worker thread. The connection is up: the tracks that carry media bring
// their first buffers now.
void RtcWhepSrcPrivate::on_connected() {
  if (pads_announced || settle || !loop.worker()) return;
  settled = false;
  settle = loop.worker()->timeout(kSettleMs, [this] {
    settle.release();  // this source ends by returning false
    settled = true;
    maybe_announce_pads();
    if (!pads_announced)
      GST_INFO_OBJECT(self, "connected, but no track carries media yet (nothing published?)");
    return false;
  });
}

// Worker thread (it owns `tracks`).
void RtcWhepSrcPrivate::maybe_announce_pads() {
  if (!tracks || pads_announced || loop.finished) return;
  size_t exposed = tracks->exposed();
  if (exposed == 0 || (exposed < tracks->size() && !settled)) return;
  pads_announced = true;
  GST_INFO_OBJECT(self, "no-more-pads: %zu of %zu answered tracks carry media", exposed,
                  tracks->size());
  gst_element_no_more_pads(GST_ELEMENT(self));
}

// Errors of any webrtcbin inside are a session's, never the pipeline's: the
// current one's starts a new session, an ended one's are dropped.
bool RtcWhepSrcPrivate::route_session_failure(GstMessage* message, const std::string& why) {
  if (loop.route_failure(message, why)) return true;
  if (!peer::Peer::posted_by_any(message)) return false;
  GST_DEBUG_OBJECT(self, "error of an ended session dropped: %s", why.c_str());
  return true;
}

// gst-launch -e: end every track so muxers write their index; no new session
// (and no new pads) after this. On the worker, which owns `tracks`: no lock
// is held while EOS goes out.
bool RtcWhepSrcPrivate::end_of_stream() {
  GST_INFO_OBJECT(self, "EOS requested: ending every track");
  if (Worker* worker = loop.worker())
    worker->call([this] {
      loop.finished = true;
      loop.retry.cancel();
      if (tracks) tracks->finish();
    });
  return true;
}

GstStructure* RtcWhepSrcPrivate::stats() {
  GstStructure* s = gst_structure_new_empty("rtcwhepsrc-stats");
  loop.fill_stats(s, [this](GstStructure* s) {
    ClientSession* session = loop.session();
    gst_structure_set(s, "resource", G_TYPE_STRING,
                      session ? session->client->location().c_str() : "", nullptr);
  });
  std::lock_guard lock(tracks_mutex);
  gst_structure_set(s, "tracks", G_TYPE_UINT, guint(tracks ? tracks->exposed() : 0), nullptr);
  return s;
}

static void rtc_whep_src_set_property(GObject* object, guint id, const GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_WHEP_SRC(object)->priv;
  std::lock_guard lock(p->props_mutex);
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
  if (p->client.get(PROP_CLIENT_FIRST, id, value)) return;
  switch (id) {
    case PROP_VIDEO_CODECS: g_value_set_string(value, p->video_codecs.c_str()); break;
    case PROP_AUDIO_CODECS: g_value_set_string(value, p->audio_codecs.c_str()); break;
    case PROP_OUTPUT: g_value_set_enum(value, int(p->output)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

std::string RtcWhepSrcPrivate::configuration_problem() {
  std::lock_guard lock(props_mutex);
  if (std::string problem = client.endpoint_problem("WHEP"); !problem.empty()) return problem;
  try {
    if (media::parse_codec_list(video_codecs, media::Kind::kVideo).empty() &&
        media::parse_codec_list(audio_codecs, media::Kind::kAudio).empty())
      return "video-codecs and audio-codecs are both empty: nothing to play";
    sig::parse_ice_servers(ice.stun_server, split_list(ice.turn_servers));
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
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
  object_class->set_property = rtc_whep_src_set_property;
  object_class->get_property = rtc_whep_src_get_property;

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

  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
                                                     GST_CAPS_ANY, RTC_TYPE_TRACK_PAD));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
                                                     GST_CAPS_ANY, RTC_TYPE_TRACK_PAD));
  add_data_pads(element_class);
  gst_element_class_set_static_metadata(
      element_class, "WHEP client source", "Source/Network/WebRTC",
      "Plays a WHEP stream: offers to receive the tracks the server advertises and exposes "
      "them as video_%u/audio_%u pads, decoded, encoded or RTP; reconnects when the server "
      "goes away, ends them with EOS when the server ends the stream (RTCP BYE). Also plays "
      "whep:// and wheps:// URIs (?token= sets auth-token)",
      "rtcmesh");
  // data-channels=true: messages to and from the server (rtcwhepsink).
  install_data_signals(object_class, +[](GstElement* e, const std::string&, std::string data,
                                         bool text, bool reliable) {
    return RTC_WHEP_SRC(e)->priv->loop.send_data(std::move(data), text, reliable);
  });
  gst_element_class_add_static_metadata(element_class, "signals",
                                        RTCMESH_DATA_SIGNALS_DOC
                                        ". Only with data-channels=true; to is ignored (the "
                                        "server), from is \"server\"");
}

static void rtc_whep_src_init(RtcWhepSrc* self) {
  self->priv = new RtcWhepSrcPrivate(self);
  keep_source_flags(GST_ELEMENT(self));
}
