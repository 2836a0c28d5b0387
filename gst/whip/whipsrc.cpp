#include "gst/whip/whipsrc.h"

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
#include "gst/common/track_pad.h"
#include "gst/common/worker.h"
#include "gst/media/codec.h"
#include "gst/media/output.h"
#include "gst/media/received_tracks.h"
#include "gst/peer/peer.h"
#include "gst/whip/publish_page.h"

GST_DEBUG_CATEGORY_STATIC(rtcwhipsrc_debug);
#define GST_CAT_DEFAULT rtcwhipsrc_debug

using namespace rtcmesh;

namespace {

enum {
  PROP_0,
  PROP_MAX_PUBLISHERS,
  PROP_VIDEO_CODECS,
  PROP_AUDIO_CODECS,
  PROP_OUTPUT,
  PROP_EOS_ON_LEAVE,
  PROP_STATS,
  PROP_SERVER_FIRST,  // ServerProps take the ids from here on
};

const ServerProps::Defaults kServerDefaults{
    8080, "/whip",
    "Endpoint path: publishers POST to <path>, <path>/<room> or <path>/<room>/<publisher>",
    "Bearer token publishers must send (empty = no authentication)",
    "Milliseconds without RTP or RTCP after which a publisher is removed", sig::kGrantPublish};

enum { SIGNAL_PUBLISHER_ADDED, SIGNAL_PUBLISHER_REMOVED, SIGNAL_DATA_RECEIVED, N_SIGNALS };
guint signals[N_SIGNALS];

// The src pads of a publisher name in a room: they outlive its sessions, so
// a publisher that comes back (OBS reconnecting) continues on them.
struct Feed {
  std::string room, name;  // name "": anonymous (POST to /whip or /whip/<room>)
  std::unique_ptr<media::ReceivedTracks> tracks;
  std::vector<media::Codec> codecs;  // what its pads carry
  std::string session;               // the publisher feeding it, "" = idle
};

struct Publisher {
  std::string id, room, name;
  std::unique_ptr<peer::Peer> peer;
  Feed* feed = nullptr;  // once answered; the element's `feeds` own it
  Timer connect_deadline;
  gint64 created_us = g_get_monotonic_time();
};

}  // namespace

struct RtcWhipSrcPrivate : BaseBinState, sig::ResourceEndpoint::Handler {
  explicit RtcWhipSrcPrivate(RtcWhipSrc* s)
      : BaseBinState(GST_ELEMENT(s), {.live = true,
                                      .start_before_children = true,
                                      .server = "the WHIP server",
                                      .start_error = GST_RESOURCE_ERROR_OPEN_READ},
                     props_mutex, ice),
        self(s) {}

  RtcWhipSrc* self;

  // Properties: written by set_property, read when the server starts.
  std::mutex props_mutex;
  ServerProps server{kServerDefaults};
  guint max_publishers = 0;
  std::string video_codecs = "vp8,vp9,h264";
  std::string audio_codecs = "opus";
  media::OutputMode output = media::OutputMode::kAuto;
  bool eos_on_leave = false;
  IceProps ice;

  std::unique_ptr<EndpointHost> host;  // while PAUSED or PLAYING
  Worker* worker = nullptr;            // the host's
  std::mutex worker_mutex;             // `worker` as application threads see it (send-data)
  sig::ResourceEndpoint* endpoint = nullptr;

  // Publishers and feeds: changed on the worker under `publishers_mutex`,
  // which the streaming threads take to find the output of a new webrtcbin pad.
  std::mutex publishers_mutex;
  std::map<std::string, std::unique_ptr<Publisher>> publishers;
  std::vector<std::unique_ptr<Feed>> feeds;
  guint next_video = 0, next_audio = 0;  // worker only
  guint64 publishers_total = 0, publishers_failed = 0;

  bool start(std::string& error) override;
  void stop() override;
  bool route_session_failure(GstMessage* message, const std::string& why) override;
  bool end_of_stream() override;
  void on_offer(const sig::ResourceEndpoint::Offer& offer,
                std::function<void(sig::ResourceEndpoint::Answer)> reply) override;
  void on_trickle(const std::string& id, const std::vector<sig::TrickleCandidate>& candidates,
                  bool end_of_candidates) override;
  void on_delete(const std::string& id) override;
  void expose(Publisher& pub, const std::string& answer);
  Feed* idle_feed(const std::string& room, const std::string& name);
  void drop_feed(Feed* feed);
  void remove_publisher(const std::string& id, const std::string& why);
  gboolean send(const std::string& to, std::string data, bool text, bool reliable);
  bool link_track(const std::string& id, GstPad* pad, const std::string& mid);
  GstStructure* stats();
};

struct _RtcWhipSrc {
  RtcBaseBin parent;
  RtcWhipSrcPrivate* priv;
};

G_DEFINE_TYPE(RtcWhipSrc, rtc_whip_src, RTC_TYPE_BASE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcwhipsrc, "rtcwhipsrc", GST_RANK_NONE, RTC_TYPE_WHIP_SRC)

bool RtcWhipSrcPrivate::start(std::string& error) {
  sig::ResourceEndpoint::Config config;
  try {
    sig::HttpServer::Options opts;
    {
      std::lock_guard lock(props_mutex);
      std::vector<std::string> video, audio;
      for (auto c : media::parse_codec_list(video_codecs, media::Kind::kVideo))
        video.push_back(media::codec_info(c).name);
      for (auto c : media::parse_codec_list(audio_codecs, media::Kind::kAudio))
        audio.push_back(media::codec_info(c).name);
      opts = server.http_options();
      config = server.endpoint_config(ice);
      config.video_codecs = video;
      config.audio_codecs = audio;
      config.max_sessions = max_publishers;
      config.accepted_direction = "sendonly";
    }
    // GET /: the publish page, for a browser's camera (room and name optional).
    auto routes = EndpointHost::page_routes(
        whip_publish_page({config.path, true, true, config.video_codecs, config.audio_codecs}),
        "the publish page", "WHIP", config.path);
    host = std::make_unique<EndpointHost>("rtcwhipsrc", opts, config, *this, routes);
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  {
    std::lock_guard lock(worker_mutex);
    worker = &host->worker();
  }
  endpoint = &host->endpoint();
  GST_INFO_OBJECT(self, "WHIP endpoint at %s%s", host->base_url().c_str(), config.path.c_str());
  return true;
}

void RtcWhipSrcPrivate::stop() {
  if (!host) return;
  host->stop([this] {
    std::vector<std::string> ids;
    for (auto& [id, pub] : publishers) ids.push_back(id);
    for (auto& id : ids) remove_publisher(id, "element stopping");
    while (!feeds.empty()) drop_feed(feeds.back().get());
    endpoint = nullptr;
  });
  std::lock_guard lock(worker_mutex);
  host.reset();
  worker = nullptr;
}

// send-string / send-data: to one publisher (its id) or to every one whose
// offer brought data channels.
gboolean RtcWhipSrcPrivate::send(const std::string& to, std::string data, bool text, bool reliable) {
  std::lock_guard lock(worker_mutex);
  return peer::post_data_to(worker, publishers, to, std::move(data), text, reliable);
}

void RtcWhipSrcPrivate::on_offer(const sig::ResourceEndpoint::Offer& offer,
                                 std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  auto pub = std::make_unique<Publisher>();
  pub->id = offer.id;
  pub->room = offer.room;
  pub->name = offer.publisher;
  std::string id = offer.id;
  // A named publisher that publishes again replaces its live session (a
  // reconnect seen before the old one timed out), as MediaMTX does.
  if (!pub->name.empty()) {
    std::string old;
    for (auto& [k, p] : publishers)
      if (p->room == pub->room && p->name == pub->name) old = k;
    if (!old.empty()) remove_publisher(old, "replaced by a new session of the same name");
  }

  peer::PeerEvents events;
  events.remote_pad = [this, id](GstPad* pad, const std::string& mid) {
    return link_track(id, pad, mid);
  };
  events.failed = [this, id](const std::string& why) {
    // Not from inside the Peer's own callback: it is about to be destroyed.
    worker->post([this, id, why] { remove_publisher(id, why); });
  };
  events.data = [this, id](const peer::DataMessage& m) {
    emit_data_received(GST_ELEMENT(self), signals[SIGNAL_DATA_RECEIVED], id, m.label, m.data,
                       m.text);
  };
  events.connected = [this, id] {
    std::lock_guard lock(publishers_mutex);
    auto it = publishers.find(id);
    if (it == publishers.end()) return;
    it->second->connect_deadline.reset();
    GST_INFO_OBJECT(self, "publisher %s connected after %.0f ms", id.c_str(),
                    (g_get_monotonic_time() - it->second->created_us) / 1000.0);
  };

  std::string video, audio;
  guint timeout_ms;
  peer::IceSettings ice_settings;
  {
    std::lock_guard lock(props_mutex);
    video = video_codecs;
    audio = audio_codecs;
    timeout_ms = server.peer_timeout_ms;
    ice_settings = ice.server_settings(server.address);
  }
  try {
    pub->peer = std::make_unique<peer::Peer>(GST_BIN(self), *worker, "whip-" + id.substr(0, 8),
                                             ice_settings, timeout_ms * GST_MSECOND,
                                             std::move(events));
  } catch (const std::exception& e) {
    return reply({500, e.what(), {}});
  }
  pub->peer->enable_data_channels();  // the publisher's, if its offer has any
  // One that comes back keeps its codecs when it offers them: same pads, same caps.
  std::vector<media::Codec> previous;
  if (Feed* feed = idle_feed(pub->room, pub->name)) previous = feed->codecs;
  pub->peer->set_accepted_codecs(media::accepted_rtp_caps(video, audio, previous, offer.sdp));
  // A publisher that never connects must not linger.
  pub->connect_deadline = worker->timeout(std::max(timeout_ms, 10000u), [this, id] {
    remove_publisher(id, "ICE did not connect in time");
    return false;
  });
  peer::Peer* peer = pub->peer.get();
  {
    std::lock_guard lock(publishers_mutex);
    publishers[id] = std::move(pub);
  }
  publishers_total++;

  peer->answer_offer(offer.sdp, [this, id, reply](const std::string& sdp, const std::string& error) {
    Publisher* pub = nullptr;
    {
      std::lock_guard lock(publishers_mutex);
      auto it = publishers.find(id);
      if (it != publishers.end()) pub = it->second.get();
    }
    if (!pub) return reply({503, "publisher went away during negotiation", {}});
    if (!error.empty()) {
      remove_publisher(id, error);
      return reply({422, error, {}});
    }
    try {
      expose(*pub, sdp);
    } catch (const std::exception& e) {
      remove_publisher(id, e.what());
      return reply({422, e.what(), {}});
    }
    reply({201, {}, sdp});
    g_signal_emit(self, signals[SIGNAL_PUBLISHER_ADDED], 0, id.c_str(), pub->room.c_str(),
                  pub->name.c_str());
  });
}

// An idle feed of that name (for an anonymous publisher: the first idle
// anonymous feed of the room). Worker thread.
Feed* RtcWhipSrcPrivate::idle_feed(const std::string& room, const std::string& name) {
  for (auto& f : feeds)
    if (f->session.empty() && f->room == room && f->name == name) return f.get();
  return nullptr;
}

static bool feed_linked(const Feed& feed) {
  for (GstPad* pad : feed.tracks->src_pads())
    if (gst_pad_is_linked(pad)) return true;
  return false;
}

// EOS out of a feed's pads (muxers finish), then they go. Worker thread, the
// feed idle.
void RtcWhipSrcPrivate::drop_feed(Feed* feed) {
  std::unique_ptr<Feed> gone;
  {
    std::lock_guard lock(publishers_mutex);
    for (auto it = feeds.begin(); it != feeds.end(); ++it)
      if (it->get() == feed) {
        gone = std::move(*it);
        feeds.erase(it);
        break;
      }
  }
  if (!gone) return;
  gone->tracks->finish();
  gone->tracks.reset();
}

// The answer's tracks continue on the idle feed of the publisher's name when
// they match it (kinds and codecs, in order); otherwise that feed ends and a
// new one gets new pads. No no-more-pads: publishers come and go, there is
// never a last pad, and gst-launch fails every delayed link still waiting
// when it comes (`s.video_1` of a second publisher would never link).
void RtcWhipSrcPrivate::expose(Publisher& pub, const std::string& answer) {
  sig::SdpSummary summary = sig::validate_offer(answer);
  Feed* feed = nullptr;
  for (auto& f : feeds)
    if (f->session.empty() && f->room == pub.room && f->name == pub.name &&
        f->tracks->matches(summary, true)) {
      feed = f.get();
      break;
    }
  // A named publisher that comes back with other tracks: its old pads end.
  if (!feed && !pub.name.empty())
    if (Feed* old = idle_feed(pub.room, pub.name)) drop_feed(old);
  if (feed) {
    GST_INFO_OBJECT(self, "publisher %s continues on the pads of '%s'", pub.id.c_str(),
                    pub.name.c_str());
    std::lock_guard lock(publishers_mutex);
    feed->session = pub.id;
    pub.feed = feed;
    return;
  }
  media::OutputMode mode;
  {
    std::lock_guard lock(props_mutex);
    mode = output;
  }
  auto fresh = std::make_unique<Feed>();
  fresh->room = pub.room;
  fresh->name = pub.name;
  fresh->session = pub.id;
  for (const auto& r : media::ReceivedTracks::receivable(summary, true))
    fresh->codecs.push_back(r.codec);
  fresh->tracks = std::make_unique<media::ReceivedTracks>(
      GST_ELEMENT(self), summary, true, mode,
      media::ReceivedTracks::Identity{pub.name.empty() ? pub.id : pub.name, pub.room, pub.id},
      [this](media::Kind kind) {
        bool video = kind == media::Kind::kVideo;
        return (video ? "video_" : "audio_") + std::to_string(video ? next_video++ : next_audio++);
      });
  std::vector<GstPad*> pads = fresh->tracks->src_pads();
  {
    std::lock_guard lock(publishers_mutex);
    pub.feed = fresh.get();
    feeds.push_back(std::move(fresh));
  }
  for (GstPad* pad : pads) {
    gst_pad_set_active(pad, TRUE);
    gst_element_add_pad(GST_ELEMENT(self), pad);
  }
}

bool RtcWhipSrcPrivate::link_track(const std::string& id, GstPad* pad, const std::string& mid) {
  std::lock_guard lock(publishers_mutex);
  auto it = publishers.find(id);
  return it != publishers.end() && it->second->feed && it->second->feed->tracks->link(pad, mid);
}

// Worker thread, where publishers change: no lock while webrtcbin takes them.
void RtcWhipSrcPrivate::on_trickle(const std::string& id,
                                   const std::vector<sig::TrickleCandidate>& candidates, bool) {
  auto it = publishers.find(id);
  if (it == publishers.end()) return;
  for (const auto& c : candidates)
    if (c.mline_index >= 0) it->second->peer->add_remote_candidate(c.mline_index, c.candidate);
}

void RtcWhipSrcPrivate::on_delete(const std::string& id) { remove_publisher(id, "DELETE"); }

// Ends a publisher's session. Its pads stay, idle, for its next session
// (eos-on-leave=false), or get EOS so muxers finish, then go.
void RtcWhipSrcPrivate::remove_publisher(const std::string& id, const std::string& why) {
  std::unique_ptr<Publisher> pub;
  {
    std::lock_guard lock(publishers_mutex);
    auto it = publishers.find(id);
    if (it == publishers.end()) return;
    pub = std::move(it->second);
    publishers.erase(it);
    if (pub->feed) pub->feed->session.clear();
  }
  if (endpoint) endpoint->remove(id);
  bool had_pads = pub->feed != nullptr;
  GST_INFO_OBJECT(self, "publisher %s removed: %s", id.c_str(), why.c_str());
  if (why != "DELETE" && why != "element stopping" && why.rfind("replaced", 0) != 0)
    publishers_failed++;
  pub->connect_deadline.reset();
  pub->peer.reset();  // stops the inflow first
  bool eos;
  {
    std::lock_guard lock(props_mutex);
    eos = eos_on_leave;
  }
  // Pads nobody linked go too: a server whose pads nobody uses keeps nothing
  // per publisher that came and went.
  if (pub->feed && (eos || !feed_linked(*pub->feed))) drop_feed(pub->feed);
  if (had_pads) {
    g_signal_emit(self, signals[SIGNAL_PUBLISHER_REMOVED], 0, id.c_str(), why.c_str());
    gst_element_post_message(
        GST_ELEMENT(self),
        gst_message_new_element(GST_OBJECT(self),
                                gst_structure_new("publisher-removed", "id", G_TYPE_STRING,
                                                  id.c_str(), "reason", G_TYPE_STRING, why.c_str(),
                                                  nullptr)));
  }
}

bool RtcWhipSrcPrivate::route_session_failure(GstMessage* message, const std::string& why) {
  std::string failed;
  {
    std::lock_guard lock(publishers_mutex);
    for (auto& [id, pub] : publishers)
      if (pub->peer->posted(message)) failed = id;
  }
  if (failed.empty()) return false;
  GST_WARNING_OBJECT(self, "publisher %s failed: %s", failed.c_str(), why.c_str());
  if (Worker* w = worker) w->post([this, failed, why] { remove_publisher(failed, why); });
  return true;
}

// gst-launch -e: finish every track so muxers write their index. On the
// worker, which owns the publishers: no lock held while EOS goes out.
bool RtcWhipSrcPrivate::end_of_stream() {
  GST_INFO_OBJECT(self, "EOS requested: ending every track");
  if (worker)
    worker->call([this] {
      for (auto& feed : feeds) feed->tracks->finish();
    });
  return true;
}

GstStructure* RtcWhipSrcPrivate::stats() {
  GValue list = G_VALUE_INIT;
  gst_value_list_init(&list, 0);
  guint count = 0;
  {
    std::lock_guard lock(publishers_mutex);
    for (auto& [id, pub] : publishers) {
      GstStructure* s = gst_structure_new("publisher", "id", G_TYPE_STRING, id.c_str(), "room",
                                          G_TYPE_STRING, pub->room.c_str(), "connected",
                                          G_TYPE_BOOLEAN, pub->peer->is_connected(), "tracks",
                                          G_TYPE_UINT, guint(pub->feed ? pub->feed->tracks->size() : 0), "age-ms",
                                          G_TYPE_UINT64,
                                          guint64(g_get_monotonic_time() - pub->created_us) / 1000,
                                          nullptr);
      add_rtp_totals(s, pub->peer->stats().get());
      GValue v = G_VALUE_INIT;
      g_value_init(&v, GST_TYPE_STRUCTURE);
      g_value_take_boxed(&v, s);
      gst_value_list_append_and_take_value(&list, &v);
      count++;
    }
  }
  GstStructure* s = gst_structure_new("rtcwhipsrc-stats", "publishers", G_TYPE_UINT, count,
                                      "publishers-total", G_TYPE_UINT64, publishers_total,
                                      "publishers-failed", G_TYPE_UINT64, publishers_failed,
                                      nullptr);
  gst_structure_take_value(s, "publisher-stats", &list);
  return s;
}

static void rtc_whip_src_set_property(GObject* object, guint id, const GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_WHIP_SRC(object)->priv;
  std::lock_guard lock(p->props_mutex);
  if (p->server.set(PROP_SERVER_FIRST, id, value)) return;
  switch (id) {
    case PROP_MAX_PUBLISHERS: p->max_publishers = g_value_get_uint(value); break;
    case PROP_VIDEO_CODECS: p->video_codecs = g_value_get_string(value) ?: ""; break;
    case PROP_AUDIO_CODECS: p->audio_codecs = g_value_get_string(value) ?: ""; break;
    case PROP_OUTPUT: p->output = media::OutputMode(g_value_get_enum(value)); break;
    case PROP_EOS_ON_LEAVE: p->eos_on_leave = g_value_get_boolean(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_whip_src_get_property(GObject* object, guint id, GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_WHIP_SRC(object)->priv;
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  if (p->server.get(PROP_SERVER_FIRST, id, value, p->host ? p->host->port() : 0)) return;
  switch (id) {
    case PROP_MAX_PUBLISHERS: g_value_set_uint(value, p->max_publishers); break;
    case PROP_VIDEO_CODECS: g_value_set_string(value, p->video_codecs.c_str()); break;
    case PROP_AUDIO_CODECS: g_value_set_string(value, p->audio_codecs.c_str()); break;
    case PROP_OUTPUT: g_value_set_enum(value, int(p->output)); break;
    case PROP_EOS_ON_LEAVE: g_value_set_boolean(value, p->eos_on_leave); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_whip_src_class_init(RtcWhipSrcClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcwhipsrc_debug, "rtcwhipsrc", 0, "WHIP server source");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_whip_src_set_property;
  object_class->get_property = rtc_whip_src_get_property;

  ServerProps::install(object_class, PROP_SERVER_FIRST, kServerDefaults);
  install_uint(object_class, PROP_MAX_PUBLISHERS, "max-publishers",
               "Concurrent publishers accepted before answering 503 (0 = unlimited)", 0, G_MAXUINT,
               0);
  install_string(object_class, PROP_VIDEO_CODECS, "video-codecs",
                 "Comma-separated video codecs answers accept, in preference order (vp8, vp9, "
                 "h264)",
                 "vp8,vp9,h264");
  install_string(object_class, PROP_AUDIO_CODECS, "audio-codecs",
                 "Comma-separated audio codecs answers accept (opus)", "opus");
  g_object_class_install_property(
      object_class, PROP_OUTPUT,
      g_param_spec_enum("output", "output",
                        "Form of the src pads: auto (chosen from the linked peer's caps), raw "
                        "(decoded), encoded (depayloaded and parsed) or rtp",
                        media::output_mode_get_type(), int(media::OutputMode::kAuto), rw_flags()));
  install_eos_on_leave(object_class, PROP_EOS_ON_LEAVE);
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "Publishers; per publisher: id, room, connected, tracks, age-ms (since its POST) and RTP counters",
                         GST_TYPE_STRUCTURE, ro_flags()));

  signals[SIGNAL_PUBLISHER_ADDED] = g_signal_new(
      "publisher-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_PUBLISHER_REMOVED] =
      g_signal_new("publisher-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr,
                   nullptr, nullptr, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  // Data channels a publisher's offer brings (rtcwhipsink data-channels=true):
  // data-received names the publisher by its id, send-* take that id.
  signals[SIGNAL_DATA_RECEIVED] = install_data_signals(
      object_class, +[](GstElement* e, const std::string& to, std::string data, bool text,
                        bool reliable) {
        return RTC_WHIP_SRC(e)->priv->send(to, std::move(data), text, reliable);
      });

  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
                                                     GST_CAPS_ANY, RTC_TYPE_TRACK_PAD));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
                                                     GST_CAPS_ANY, RTC_TYPE_TRACK_PAD));
  add_data_pads(element_class);
  gst_element_class_set_static_metadata(
      element_class, "WHIP server source", "Source/Network/WebRTC",
      "Ingests WHIP publishers (browsers, OBS, pipelines): each publisher's tracks become "
      "video_%u/audio_%u pads, decoded, encoded or RTP",
      "rtcmesh");
  // gst-inspect-1.0 prints every metadata key: the signals' arguments
  // (it names them arg0, arg1, …).
  gst_element_class_add_static_metadata(
      element_class, "signals",
      "publisher-added (id, room, name): a publisher was answered (201); id: its WHIP resource id, "
      "room and name: the <room> and <publisher> of its POST path (\"\" when absent; its pads' "
      "peer-id is the name, else the id). publisher-removed (id, reason): it left (DELETE), timed "
      "out or failed (its linked pads stay for its return; eos-on-leave). " RTCMESH_DATA_SIGNALS_DOC);
}

static void rtc_whip_src_init(RtcWhipSrc* self) {
  self->priv = new RtcWhipSrcPrivate(self);
  keep_source_flags(GST_ELEMENT(self));
}
