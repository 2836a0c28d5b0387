#include "gst/sfu/sfu.h"

#include <gst/sdp/sdp.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/common/track_pad.h"
#include "gst/media/codec.h"
#include "gst/media/jitter_passthrough.h"
#include "gst/media/output.h"
#include "gst/media/received_tracks.h"
#include "gst/media/send_inputs.h"
#include "gst/peer/peer.h"
#include "gst/sfu/forward.h"
#include "gst/server/host.h"
#include "signaling/http/sdp.h"
#include "signaling/util.h"

GST_DEBUG_CATEGORY_STATIC(rtcsfu_debug);
#define GST_CAT_DEFAULT rtcsfu_debug

using namespace rtcmesh;
using sfu::Source;
using sfu::Subscription;

namespace {

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_PORT,
  PROP_ROOM,
  PROP_AUTH_TOKEN,
  PROP_METRICS_TOKEN,
  PROP_MAX_PUBLISHERS,
  PROP_MAX_SUBSCRIBERS,
  PROP_MAX_SESSIONS,
  PROP_MAX_MLINES,
  PROP_WHEP_SLOTS,
  PROP_PEER_TIMEOUT,
  PROP_TLS_CERTIFICATE,
  PROP_TLS_KEY,
  PROP_PUBLISHER_ID,
  PROP_OUTPUT,
  PROP_STATS,
  PROP_ICE_FIRST,
  PROP_LIMITS_FIRST = PROP_ICE_FIRST + IceProps::kCount,  // AddressLimitProps from here on
};

enum {
  SIGNAL_PUBLISHER_ADDED,
  SIGNAL_PUBLISHER_REMOVED,
  SIGNAL_SUBSCRIBER_ADDED,
  SIGNAL_SUBSCRIBER_REMOVED,
  N_SIGNALS
};
guint signals[N_SIGNALS];

std::string key_of(const std::string& room, const std::string& peer) { return room + "/" + peer; }

// Each remote connection is a webrtcbin (~8 threads, ~1 MB): without a cap a
// burst of offers takes the machine (200 WHIP offers in 5 s: 1600 threads).
constexpr guint kDefaultMaxSessions = 500;
constexpr guint kDefaultMaxSubscribers = 200;

// A publisher of a room: a remote connection (WHIP or JSON-RPC) or the
// pipeline's own request pads.
struct Publisher {
  std::string room, id;
  std::string resource;  // WHIP resource id, else empty
  std::unique_ptr<peer::Peer> peer;            // remote only; stopped before the sources go
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::unique_ptr<media::OutputBranch>> outputs;  // src pads, remote only
  std::vector<int> output_branches;
  Timer connect_deadline;
  gint64 created_us = g_get_monotonic_time();
  bool in_room = false;  // RoomServer knows it
};

// A subscriber connection: a JSON-RPC participant's (the server offers) or a
// WHEP player's (it offers).
struct Subscriber {
  std::string room, id;
  bool whep = false;
  bool room_slots = false;  // a /whep/<room> player: later publishers fill its free slots
  std::unique_ptr<Subscription> sub;
  uint64_t session = 0;
  Timer connect_deadline;
  gint64 created_us = g_get_monotonic_time();
};

// What a room's connections did, summed: the sessions still there are added
// to it when read, the ones gone were added when they left (so the counters
// of /metrics never go down).
struct RoomCounters {
  guint64 publishers_total = 0, subscribers_total = 0, failures = 0;
  guint64 packets_in = 0, bytes_in = 0, packets_out = 0, bytes_out = 0;
  guint64 nacks_received = 0, nacks_sent = 0, plis_received = 0, retransmissions = 0;
  guint64 keyframe_requests = 0, keyframes_upstream = 0;

  void add_publisher(const GstStructure* totals) {
    packets_in += get(totals, "packets-received");
    bytes_in += get(totals, "bytes-received");
    nacks_sent += get(totals, "nack-count");
  }
  void add_subscriber(const GstStructure* totals, guint64 rtx) {
    packets_out += get(totals, "packets-sent");
    bytes_out += get(totals, "bytes-sent");
    nacks_received += get(totals, "nack-count");
    plis_received += get(totals, "pli-count") + get(totals, "fir-count");
    retransmissions += rtx;
  }
  static guint64 get(const GstStructure* s, const char* field) {
    guint64 u64 = 0;
    guint u = 0;
    if (gst_structure_get_uint64(s, field, &u64)) return u64;
    if (gst_structure_get_uint(s, field, &u)) return u;
    return 0;
  }
};

// Packets the connection's rtprtxsend resent (answers to NACKs).
guint64 retransmissions(GstElement* webrtcbin) {
  guint64 total = 0;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(webrtcbin));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&v));
    GstElementFactory* f = gst_element_get_factory(e);
    if (f && g_strcmp0(GST_OBJECT_NAME(f), "rtprtxsend") == 0) {
      guint n = 0;
      g_object_get(e, "num-rtx-packets", &n, nullptr);
      total += n;
    }
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return total;
}

StructurePtr rtp_totals(peer::Peer& peer) {
  StructurePtr s(gst_structure_new_empty("totals"));
  add_rtp_totals(s.get(), peer.stats().get());
  return s;
}

}  // namespace

struct RtcSfuPrivate : sig::RoomMedia {
  explicit RtcSfuPrivate(RtcSfu* s)
      : self(s),
        inputs(GST_ELEMENT(s), [] { return media::EncoderSettings{}; },
               {[this] {
                  post([this] { update_local_publisher(); });
                }, {}}),
        whip(this),
        whep(this) {}
  RtcSfu* self;

  std::mutex props_mutex;
  std::string address = "0.0.0.0";
  guint port = 8443;
  std::string room, auth_token, metrics_token, tls_certificate, tls_key, publisher_id;
  guint max_publishers = 0, max_subscribers = kDefaultMaxSubscribers, max_mlines = 16,
        whep_slots = 4;
  guint max_sessions = kDefaultMaxSessions;
  guint peer_timeout_ms = 10000;
  media::OutputMode output = media::OutputMode::kAuto;
  IceProps ice;
  AddressLimitProps address_limits;  // per client address, for the shared host

  std::shared_ptr<sfu::Host> host;  // while PAUSED or PLAYING
  Worker* worker = nullptr;         // the host's; its thread runs all session work
  // The worker is shared with other rtcsfu of the port and outlives our
  // sessions: work posted for us runs only while this element runs.
  std::mutex host_mutex;  // host and alive, for threads that post
  std::shared_ptr<std::atomic<bool>> alive;
  void post(std::function<void()> fn);
  std::string hosted;  // the room routed to us ("" = all)

  media::SendInputs inputs;  // request sink pads: the local publisher

  // Sessions: changed on the worker only; the mutex guards them against
  // webrtcbin's threads (linking pads) and stats readers.
  std::mutex sessions_mutex;
  std::map<std::string, std::unique_ptr<Publisher>> publishers;  // key_of(room, peer)
  std::map<std::string, std::unique_ptr<Subscriber>> subscribers;  // key_of(room, peer) or WHEP id
  std::map<std::string, RoomCounters> counters;
  guint next_src_video = 0, next_src_audio = 0;

  // WHIP and WHEP requests routed to us by the host.
  struct WhipHandler : sig::ResourceEndpoint::Handler {
    explicit WhipHandler(RtcSfuPrivate* p) : p(p) {}
    RtcSfuPrivate* p;
    void on_offer(const sig::ResourceEndpoint::Offer& o,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply) override {
      p->post([p = p, o, reply] { p->whip_offer(o, reply); });
    }
    void on_trickle(const std::string& id, const std::vector<sig::TrickleCandidate>& c,
                    bool) override {
      p->post([p = p, id, c] { p->trickle_resource(id, c); });
    }
    void on_delete(const std::string& id) override {
      p->post([p = p, id] { p->remove_resource(id, "DELETE"); });
    }
  } whip;
  struct WhepHandler : WhipHandler {
    using WhipHandler::WhipHandler;
    void on_offer(const sig::ResourceEndpoint::Offer& o,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply) override {
      p->post([p = p, o, reply] { p->whep_offer(o, reply); });
    }
  } whep;

  bool start(std::string& error);
  void stop();

  // Publishers.
  Publisher* start_publisher(const std::string& room, const std::string& id,
                             const std::string& resource, const std::string& offer,
                             std::function<void(const std::string& answer,
                                                std::vector<sig::SfuTrack> tracks,
                                                const std::string& error)> done);
  void publisher_answered(Publisher& pub, const std::string& answer);
  bool link_publisher_pad(const std::string& key, GstPad* pad, GstWebRTCRTPTransceiver* trans);
  void publisher_ready(Publisher& pub);
  void remove_publisher(const std::string& key, const std::string& why, bool tell_room);
  void update_local_publisher();
  // {room, publisher id} of the pipeline's own tracks (room empty: none).
  std::pair<std::string, std::string> local_publisher();
  void whip_offer(const sig::ResourceEndpoint::Offer& offer,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply);

  // Subscribers.
  std::unique_ptr<Subscription> new_subscription(const std::string& room, const std::string& key,
                                                 const std::string& name);
  void whep_offer(const sig::ResourceEndpoint::Offer& offer,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply);
  void fill_whep_slots(const std::string& room);
  void remove_subscriber(const std::string& key, const std::string& why, bool tell_room);
  Source* find_source(const std::string& room, const std::string& publisher,
                      const std::string& track);
  void trickle_resource(const std::string& id, const std::vector<sig::TrickleCandidate>& c);
  void remove_resource(const std::string& id, const std::string& why);
  void count_failure(const std::string& room) { counters[room].failures++; }
  // Why a new remote connection to `room` (a publisher `id`, or a WHEP
  // player when id is empty) is refused now, or "" (admission control).
  std::string refusal(const std::string& room, const std::string& id);

  // sig::RoomMedia (the RoomServer, on the worker).
  void publish(const std::string& room, const std::string& peer, const std::string& sdp,
               std::function<void(PublishResult)> done) override;
  void unpublish(const std::string& room, const std::string& peer) override;
  void offer(const std::string& room, const sig::SfuOffer& offer,
             std::function<void(const std::string&, const std::string&)> done) override;
  void answer(const std::string& room, const std::string& peer, uint64_t negotiation,
              const std::string& sdp, std::function<void(const std::string&)> done) override;
  void candidate(const std::string& room, const std::string& peer, const std::string& connection,
                 int mline, const std::string& mid, const std::string& candidate) override;
  void unsubscribe(const std::string& room, const std::string& peer) override;

  GstStructure* stats();
  void write_metrics(sig::Metrics& metrics);
};

#include "gst/common/base_bin.h"  // here, not above: keeps this change in the GObject part

struct _RtcSfu {
  RtcBaseBin parent;
  RtcSfuPrivate* priv;
};

G_DEFINE_TYPE(RtcSfu, rtc_sfu, RTC_TYPE_BASE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcsfu, "rtcsfu", GST_RANK_NONE, RTC_TYPE_SFU)

// --- start / stop ---

bool RtcSfuPrivate::start(std::string& error) {
  sfu::Host::Options o;
  sig::SfuRoom::Limits limits;
  {
    std::lock_guard lock(props_mutex);
    o.http.address = address;
    o.http.port = port;
    o.http.tls_certificate = tls_certificate;
    o.http.tls_key = tls_key;
    o.rooms.token = auth_token;
    o.metrics_token = metrics_token;
    o.address_limits = address_limits.config;
    o.rooms.peer_timeout = std::chrono::milliseconds(std::max(peer_timeout_ms, 2000u));
    o.whep_slots = int(whep_slots);
    hosted = room;
    limits.max_publishers = max_publishers;
    limits.max_subscribers = max_subscribers;
    limits.max_mlines = max_mlines;
    try {
      o.rooms.ice_servers = sig::parse_ice_servers(ice.stun_server, split_list(ice.turn_servers));
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
  }
  std::shared_ptr<sfu::Host> shared;
  try {
    shared = sfu::Host::acquire(o);
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  if (!shared->route(hosted, &whip, &whep)) {
    error = hosted.empty() ? "another rtcsfu on this port already hosts every room"
                           : "another rtcsfu on this port already hosts room '" + hosted + "'";
    return false;
  }
  {
    std::lock_guard lock(host_mutex);
    host = std::move(shared);
    alive = std::make_shared<std::atomic<bool>>(true);
  }
  worker = &host->worker();
  worker->call([&] { host->rooms().attach_sfu(hosted, this, limits); });
  host->add_metrics(this, [this](sig::Metrics& m) { write_metrics(m); });
  GST_INFO_OBJECT(self, "hosting %s on %s: /rtc, /whip/<room>, /whep/<room>[/<publisher>]",
                  hosted.empty() ? "every room" : ("room " + hosted).c_str(),
                  host->base_url().c_str());
  return true;
}

void RtcSfuPrivate::stop() {
  if (!host) return;
  host->remove_metrics(this);
  host->unroute(hosted);
  worker->call([this] {
    host->rooms().detach_sfu(hosted);
    std::vector<std::string> keys;
    for (auto& [k, s] : subscribers) keys.push_back(k);
    for (auto& k : keys) remove_subscriber(k, "element stopping", false);
    keys.clear();
    for (auto& [k, p] : publishers) keys.push_back(k);
    for (auto& k : keys) remove_publisher(k, "element stopping", false);
    // Work already queued for us finds this and does nothing.
    *alive = false;
  });
  std::shared_ptr<sfu::Host> last;
  {
    std::lock_guard lock(host_mutex);
    last = std::move(host);
  }
  worker = nullptr;
  last.reset();  // the last user of the port stops its server here
}

void RtcSfuPrivate::post(std::function<void()> fn) {
  std::shared_ptr<sfu::Host> h;
  std::shared_ptr<std::atomic<bool>> token;
  {
    std::lock_guard lock(host_mutex);
    h = host;
    token = alive;
  }
  if (!h || !token) return;
  h->worker().post([token, fn = std::move(fn)] {
    if (*token) fn();
  });
}

// --- publishers ---

Publisher* RtcSfuPrivate::start_publisher(
    const std::string& room, const std::string& id, const std::string& resource,
    const std::string& offer,
    std::function<void(const std::string&, std::vector<sig::SfuTrack>, const std::string&)> done) {
  const std::string key = key_of(room, id);
  auto pub = std::make_unique<Publisher>();
  pub->room = room;
  pub->id = id;
  pub->resource = resource;
  peer::PeerEvents events;
  events.src_pad = [this, key](GstPad* pad, GstWebRTCRTPTransceiver* trans) {
    return link_publisher_pad(key, pad, trans);
  };
  events.failed = [this, key, room](const std::string& why) {
    post([this, key, room, why] {
      count_failure(room);
      remove_publisher(key, why, true);
    });
  };
  events.connected = [this, key] {
    auto it = publishers.find(key);
    if (it == publishers.end()) return;
    it->second->connect_deadline.reset();
    GST_INFO_OBJECT(self, "publisher %s connected after %.0f ms", key.c_str(),
                    (g_get_monotonic_time() - it->second->created_us) / 1000.0);
  };
  peer::IceSettings ice_settings;
  guint timeout_ms;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.settings();
    timeout_ms = peer_timeout_ms;
  }
  pub->peer = std::make_unique<peer::Peer>(GST_BIN(self), *worker, "pub-" + room + "-" + id,
                                           ice_settings, timeout_ms * GST_MSECOND,
                                           std::move(events));
  pub->peer->set_accepted_codecs(accepted_rtp_caps("vp8,vp9,h264", "opus"));
  // Forwarded at once: no jitterbuffer start-up or head-of-line wait; lost
  // packets are asked again from the publisher.
  media::use_passthrough_jitterbuffer(pub->peer->webrtcbin());
  // webrtcbin turns retransmission on only for an SSRC the offer lists
  // (a=ssrc); publishers that leave it out (rtcwhipsink does) would get no
  // NACK. Every transceiver has do-nack, so every stream asks.
  GPtr<GstElement> rtpbin = adopt(gst_bin_get_by_name(GST_BIN(pub->peer->webrtcbin()), "rtpbin"));
  g_signal_connect(rtpbin.get(), "new-jitterbuffer",
                   G_CALLBACK(+[](GstElement*, GstElement* jitterbuffer, guint, guint, gpointer) {
                     g_object_set(jitterbuffer, "do-retransmission", TRUE, nullptr);
                   }),
                   nullptr);
  pub->connect_deadline = worker->timeout(std::max(timeout_ms, 10000u), [this, key] {
    remove_publisher(key, "ICE did not connect in time", true);
    return false;
  });
  Publisher* raw = pub.get();
  {
    std::lock_guard lock(sessions_mutex);
    publishers[key] = std::move(pub);
    counters[room].publishers_total++;
  }
  raw->peer->answer_offer(offer, [this, key, done](const std::string& sdp,
                                                   const std::string& error) {
    auto it = publishers.find(key);
    if (it == publishers.end()) return done({}, {}, "publisher went away during negotiation");
    if (!error.empty()) {
      remove_publisher(key, error, false);
      return done({}, {}, error);
    }
    Publisher& p = *it->second;
    try {
      publisher_answered(p, sdp);
    } catch (const std::exception& e) {
      remove_publisher(key, e.what(), false);
      return done({}, {}, e.what());
    }
    std::vector<sig::SfuTrack> tracks;
    for (auto& s : p.sources)
      tracks.push_back({s->track(), media::kind_name(s->kind()), media::codec_info(s->codec()).name});
    done(sdp, std::move(tracks), "");
  });
  return raw;
}

// Our answer says what the publisher sends: one Source per track, and a src
// pad for it.
void RtcSfuPrivate::publisher_answered(Publisher& pub, const std::string& answer) {
  sig::SdpSummary summary = sig::validate_offer(answer);
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new_from_text(answer.c_str(), &sdp);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> hold(sdp, gst_sdp_message_free);
  std::vector<std::unique_ptr<Source>> sources;
  for (const auto& r : media::ReceivedTracks::receivable(summary, true)) {
    int index = summary.mline_index(r.mid);
    CapsPtr caps = index >= 0 ? media::offered_caps(gst_sdp_message_get_media(sdp, index), r.codec)
                              : nullptr;
    sources.push_back(
        std::make_unique<Source>(GST_BIN(self), pub.room, pub.id, r.mid, r.codec, caps.get()));
  }
  if (sources.empty())
    throw std::runtime_error("the offer sends no audio or video in a codec we take");
  {
    std::lock_guard lock(sessions_mutex);
    pub.sources = std::move(sources);
  }
  media::OutputMode mode;
  {
    std::lock_guard lock(props_mutex);
    mode = output;
  }
  for (auto& s : pub.sources) {
    bool video = s->kind() == media::Kind::kVideo;
    std::string name = std::string(video ? "src_video_" : "src_audio_") +
                       std::to_string(video ? next_src_video++ : next_src_audio++);
    GstPadTemplate* templ = gst_element_class_get_pad_template(
        GST_ELEMENT_GET_CLASS(self), video ? "src_video_%u" : "src_audio_%u");
    auto out = std::make_unique<media::OutputBranch>(
        GST_BIN(self), s->codec(), mode, name, templ,
        "rtcsfu/" + pub.room + "/" + pub.id + "/" + s->track(), RTC_TYPE_TRACK_PAD);
    rtc_track_pad_set_info(RTC_TRACK_PAD(out->src_pad()), pub.id.c_str(), pub.room.c_str(),
                           media::codec_info(s->codec()).name, s->track().c_str());
    pub.output_branches.push_back(s->fanout().attach(out->sink_pad()));
    GstPad* pad = out->src_pad();
    gst_pad_set_active(pad, TRUE);
    gst_element_add_pad(GST_ELEMENT(self), pad);
    pub.outputs.push_back(std::move(out));
  }
  gst_element_no_more_pads(GST_ELEMENT(self));
}

// webrtcbin's streaming thread: an unlinked pad would kill the transport.
bool RtcSfuPrivate::link_publisher_pad(const std::string& key, GstPad* pad,
                                       GstWebRTCRTPTransceiver* trans) {
  gchar* mid = nullptr;
  if (trans) g_object_get(trans, "mid", &mid, nullptr);
  std::string wanted = mid ? mid : "";
  g_free(mid);
  CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  std::optional<media::Codec> codec = media::codec_from_caps(caps.get());
  std::lock_guard lock(sessions_mutex);
  auto it = publishers.find(key);
  if (it == publishers.end()) return false;
  // By mid when the codec agrees, else the first unlinked track of that codec
  // (1.22's bundled transceivers do not always carry the right mid).
  Source* match = nullptr;
  for (auto& s : it->second->sources) {
    if (codec && s->codec() != *codec) continue;
    if (s->track() == wanted && !s->linked()) {
      match = s.get();
      break;
    }
    if (!match && !s->linked()) match = s.get();
  }
  if (!match || !match->link_input(pad)) {
    GST_WARNING_OBJECT(self, "publisher %s: no track for mid '%s' %" GST_PTR_FORMAT, key.c_str(),
                       wanted.c_str(), caps.get());
    return false;
  }
  return true;
}

// The publisher's tracks are known: WHEP slots waiting for one get them.
void RtcSfuPrivate::publisher_ready(Publisher& pub) {
  g_signal_emit(self, signals[SIGNAL_PUBLISHER_ADDED], 0, pub.room.c_str(), pub.id.c_str());
  fill_whep_slots(pub.room);
}

void RtcSfuPrivate::remove_publisher(const std::string& key, const std::string& why,
                                     bool tell_room) {
  std::unique_ptr<Publisher> pub;
  {
    std::lock_guard lock(sessions_mutex);
    auto it = publishers.find(key);
    if (it == publishers.end()) return;
    pub = std::move(it->second);
    publishers.erase(it);
  }
  GST_INFO_OBJECT(self, "publisher %s removed: %s", key.c_str(), why.c_str());
  if (!pub->resource.empty() && host) host->remove_resource(pub->resource);
  if (tell_room && pub->in_room && host) host->rooms().remove_publisher(pub->room, pub->id, why);
  // Nothing may feed on its sources any more: subscribers' slots, src pads.
  for (auto& [k, s] : subscribers)
    if (s->room == pub->room)
      for (auto& src : pub->sources) s->sub->drop_source(src.get());
  pub->connect_deadline.reset();
  if (pub->peer) {
    std::lock_guard lock(sessions_mutex);
    RoomCounters& c = counters[pub->room];
    c.add_publisher(rtp_totals(*pub->peer).get());
    for (auto& src : pub->sources) {
      c.keyframe_requests += src->fanout().keyframe_requests();
      c.keyframes_upstream += src->fanout().keyframes_sent();
    }
  }
  pub->peer.reset();
  for (size_t i = 0; i < pub->outputs.size(); i++) {
    pub->sources[i]->fanout().detach(pub->output_branches[i]);
    pub->outputs[i]->finish();
    pub->outputs[i]->remove_from(GST_ELEMENT(self));
  }
  pub->outputs.clear();
  pub->sources.clear();
  g_signal_emit(self, signals[SIGNAL_PUBLISHER_REMOVED], 0, pub->room.c_str(), pub->id.c_str(),
                why.c_str());
  fill_whep_slots(pub->room);
}

std::string RtcSfuPrivate::refusal(const std::string& room, const std::string& id) {
  guint sessions_cap, publishers_cap, subscribers_cap;
  {
    std::lock_guard lock(props_mutex);
    sessions_cap = max_sessions;
    publishers_cap = max_publishers;
    subscribers_cap = max_subscribers;
  }
  size_t sessions = subscribers.size(), room_publishers = 0, room_subscribers = 0;
  std::set<std::string> rooms_in_use, participants;
  for (auto& [k, p] : publishers) {
    sessions += p->peer != nullptr;
    rooms_in_use.insert(p->room);
    if (p->room == room) {
      room_publishers++;
      participants.insert(p->id);
    }
  }
  for (auto& [k, sub] : subscribers) {
    rooms_in_use.insert(sub->room);
    room_subscribers += sub->room == room;
  }
  const sig::RoomServer& rooms = host->rooms();
  for (const auto& r : rooms.rooms()) {
    rooms_in_use.insert(r.name);
    if (r.name == room) participants.insert(r.peers.begin(), r.peers.end());
  }
  auto limit = [](size_t n, const std::string& what) {
    return "at the limit of " + std::to_string(n) + " " + what + "; try again later";
  };
  if (sessions_cap && sessions >= sessions_cap) return limit(sessions_cap, "sessions per server");
  if (!rooms_in_use.count(room) && rooms_in_use.size() >= rooms.config().max_rooms)
    return limit(rooms.config().max_rooms, "rooms");
  if (id.empty())
    return subscribers_cap && room_subscribers >= subscribers_cap
               ? limit(subscribers_cap, "players in room '" + room + "'")
               : "";
  if (publishers_cap && room_publishers >= publishers_cap)
    return limit(publishers_cap, "publishers in room '" + room + "'");
  // A WHIP publisher is a participant of its room like a joined peer.
  if (!participants.count(id) && participants.size() >= rooms.config().max_peers_per_room)
    return limit(rooms.config().max_peers_per_room, "participants in room '" + room + "'");
  return "";
}

void RtcSfuPrivate::whip_offer(const sig::ResourceEndpoint::Offer& offer,
                               std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  const std::string room = offer.room;
  if (room.empty()) return reply({404, "POST to /whip/<room>", {}});
  const std::string id = offer.publisher.empty() ? offer.id.substr(0, 16) : offer.publisher;
  if (!sig::valid_peer_id(id))
    return reply({400, "publisher name must be 1-64 characters of A-Z a-z 0-9 . _ ~ -", {}});
  if (publishers.count(key_of(room, id)))
    return reply({409, "publisher '" + id + "' is already in room '" + room + "'", {}});
  if (std::string why = refusal(room, id); !why.empty()) return reply({503, why, {}});
  try {
    start_publisher(room, id, offer.id, offer.sdp,
                    [this, room, id, reply](const std::string& sdp,
                                            std::vector<sig::SfuTrack> tracks,
                                            const std::string& error) {
                      if (!error.empty()) return reply({422, error, {}});
                      std::string why;
                      if (!host->rooms().add_publisher(room, id, tracks, &why)) {
                        remove_publisher(key_of(room, id), why, false);
                        return reply({503, why, {}});
                      }
                      auto it = publishers.find(key_of(room, id));
                      if (it == publishers.end()) return reply({503, "publisher went away", {}});
                      it->second->in_room = true;
                      reply({201, {}, sdp});
                      publisher_ready(*it->second);
                    });
  } catch (const std::exception& e) {
    reply({500, e.what(), {}});
  }
}

// The pipeline's own request pads publish as `publisher-id` into `room`:
// (re)announced whenever an input becomes ready.
std::pair<std::string, std::string> RtcSfuPrivate::local_publisher() {
  std::lock_guard lock(props_mutex);
  return {room, publisher_id.empty() ? std::string(GST_OBJECT_NAME(self)) : publisher_id};
}

void RtcSfuPrivate::update_local_publisher() {
  auto [room_name, id] = local_publisher();
  if (!host || room_name.empty()) return;
  const std::string key = key_of(room_name, id);
  std::vector<media::SendInput*> ready = inputs.ready();
  auto it = publishers.find(key);
  if (it != publishers.end() && it->second->sources.size() == ready.size()) return;
  remove_publisher(key, "tracks changed", true);
  if (ready.empty()) return;
  auto pub = std::make_unique<Publisher>();
  pub->room = room_name;
  pub->id = id;
  std::vector<sig::SfuTrack> tracks;
  for (media::SendInput* in : ready) {
    CapsPtr caps = in->offer_caps();
    pub->sources.push_back(
        std::make_unique<Source>(id, in->name(), *in->codec(), caps.get(), in->fanout()));
    tracks.push_back({in->name(), media::kind_name(in->kind()), media::codec_info(*in->codec()).name});
  }
  Publisher* raw = pub.get();
  {
    std::lock_guard lock(sessions_mutex);
    publishers[key] = std::move(pub);
    counters[room_name].publishers_total++;
  }
  std::string why;
  if (!host->rooms().add_publisher(room_name, id, tracks, &why)) {
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                        ("The pipeline cannot publish into room '%s': %s", room_name.c_str(),
                         why.c_str()),
                        (nullptr));
    remove_publisher(key, why, false);
    return;
  }
  raw->in_room = true;
  publisher_ready(*raw);
}

// --- subscribers ---

std::unique_ptr<Subscription> RtcSfuPrivate::new_subscription(const std::string& room,
                                                              const std::string& key,
                                                              const std::string& name) {
  peer::PeerEvents events;
  events.failed = [this, key, room](const std::string& why) {
    post([this, key, room, why] {
      count_failure(room);
      remove_subscriber(key, why, true);
    });
  };
  events.connected = [this, key] {
    auto it = subscribers.find(key);
    if (it == subscribers.end()) return;
    Subscriber& s = *it->second;
    s.connect_deadline.reset();
    GST_INFO_OBJECT(self, "subscriber %s connected after %.0f ms", key.c_str(),
                    (g_get_monotonic_time() - s.created_us) / 1000.0);
    // Keyframe on join: the subscriber's decoders cannot start without one.
    s.sub->request_keyframes();
  };
  // A subscriber's own packets never come: its liveness is its RTCP.
  events.src_pad = [](GstPad*, GstWebRTCRTPTransceiver*) { return false; };
  peer::IceSettings ice_settings;
  guint timeout_ms;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.settings();
    timeout_ms = peer_timeout_ms;
  }
  return std::make_unique<Subscription>(
      GST_BIN(self), std::make_unique<peer::Peer>(GST_BIN(self), *worker, name, ice_settings,
                                                  timeout_ms * GST_MSECOND, std::move(events)));
}

Source* RtcSfuPrivate::find_source(const std::string& room, const std::string& publisher,
                                   const std::string& track) {
  auto it = publishers.find(key_of(room, publisher));
  if (it == publishers.end()) return nullptr;
  for (auto& s : it->second->sources)
    if (s->track() == track) return s.get();
  return nullptr;
}

void RtcSfuPrivate::whep_offer(const sig::ResourceEndpoint::Offer& offer,
                               std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  const std::string room = offer.room;
  if (room.empty()) return reply({404, "POST to /whep/<room> or /whep/<room>/<publisher>", {}});
  Publisher* only = nullptr;
  if (!offer.publisher.empty()) {
    auto it = publishers.find(key_of(room, offer.publisher));
    // The pipeline's own tracks before they were encoded once: come back
    // later (as rtcwhepsink answers; WHEP players retry a 503).
    if (it == publishers.end() && local_publisher() == std::pair(room, offer.publisher) &&
        !inputs.empty())
      return reply({503, "publisher '" + offer.publisher + "' has not started sending yet", {}});
    if (it == publishers.end())
      return reply({404, "no publisher '" + offer.publisher + "' in room '" + room + "'", {}});
    only = it->second.get();
    // A remote publisher whose offer is still being answered has no tracks
    // yet: come back later (this was a final 422 "takes none of its codecs").
    if (only->sources.empty())
      return reply({503, "publisher '" + offer.publisher + "' is still connecting", {}});
  }
  if (std::string why = refusal(room, ""); !why.empty()) return reply({503, why, {}});
  const std::string key = offer.id;
  auto sub = std::make_unique<Subscriber>();
  sub->room = room;
  sub->id = offer.id;
  sub->whep = true;
  sub->room_slots = !only;
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new_from_text(offer.sdp.c_str(), &sdp);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> hold(sdp, gst_sdp_message_free);
  try {
    sub->sub = new_subscription(room, key, "whep-" + key.substr(0, 8));
    // Each audio/video m-line is a slot: the next publisher track of its kind
    // that it can decode, or, with none, a slot a later publisher fills.
    std::vector<Source*> used;
    std::string offered_codecs;
    for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
      const GstSDPMedia* m = gst_sdp_message_get_media(sdp, i);
      std::optional<media::Kind> kind;
      if (g_strcmp0(gst_sdp_media_get_media(m), "video") == 0) kind = media::Kind::kVideo;
      if (g_strcmp0(gst_sdp_media_get_media(m), "audio") == 0) kind = media::Kind::kAudio;
      if (!kind) continue;
      Source* chosen = nullptr;
      for (auto& [k, p] : publishers) {
        if (p->room != room || (only && p.get() != only)) continue;
        for (auto& s : p->sources)
          if (!chosen && s->kind() == *kind && std::find(used.begin(), used.end(), s.get()) == used.end() &&
              media::offered_caps(m, s->codec()))
            chosen = s.get();
      }
      std::optional<media::Codec> codec;
      if (chosen) codec = chosen->codec();
      else
        for (media::Codec c : media::codecs_of(*kind))
          if (!codec && media::offered_caps(m, c)) codec = c;
      if (!codec) continue;
      CapsPtr caps = media::offered_caps(m, *codec);
      if (chosen) used.push_back(chosen);
      sub->sub->add_slot(*codec, chosen, caps.get());
      // A player of one publisher has nothing more to come: answered inactive.
      if (only && !chosen) sub->sub->set_source(sub->sub->size() - 1, nullptr, true);
    }
    if (sub->sub->size() == 0) throw std::runtime_error("the offer receives no codec we forward");
    if (only && used.empty())
      throw std::runtime_error("the offer takes none of publisher '" + only->id + "''s codecs");
  } catch (const std::exception& e) {
    sub.reset();
    return reply({422, e.what(), {}});
  }
  guint timeout_ms;
  {
    std::lock_guard lock(props_mutex);
    timeout_ms = peer_timeout_ms;
  }
  sub->connect_deadline = worker->timeout(std::max(timeout_ms, 10000u), [this, key] {
    remove_subscriber(key, "ICE did not connect in time", true);
    return false;
  });
  peer::Peer& peer = sub->sub->peer();
  {
    std::lock_guard lock(sessions_mutex);
    subscribers[key] = std::move(sub);
    counters[room].subscribers_total++;
  }
  peer.answer_offer(offer.sdp, [this, key, room, reply](const std::string& sdp,
                                                        const std::string& error) {
    if (!subscribers.count(key)) return reply({503, "player went away during negotiation", {}});
    if (!error.empty()) {
      remove_subscriber(key, error, false);
      return reply({422, error, {}});
    }
    reply({201, {}, sdp});
    g_signal_emit(self, signals[SIGNAL_SUBSCRIBER_ADDED], 0, room.c_str(), key.c_str());
  });
}

// Slots of /whep/<room> players that wait for a publisher get the room's
// tracks nobody forwards to them yet.
void RtcSfuPrivate::fill_whep_slots(const std::string& room) {
  for (auto& [key, s] : subscribers) {
    // Only room players: a player of one publisher has its other slots
    // answered inactive, and webrtcbin blocks data pushed into those.
    if (!s->room_slots || s->room != room) continue;
    Subscription& sub = *s->sub;
    std::vector<Source*> used;
    for (size_t i = 0; i < sub.size(); i++)
      if (sub.source(i)) used.push_back(sub.source(i));
    bool changed = false;
    for (size_t i = 0; i < sub.size(); i++) {
      if (sub.source(i)) continue;
      for (auto& [k, p] : publishers) {
        if (p->room != room || sub.source(i)) continue;
        for (auto& src : p->sources)
          if (!sub.source(i) && src->codec() == sub.codec(i) &&
              std::find(used.begin(), used.end(), src.get()) == used.end()) {
            sub.set_source(i, src.get(), false);
            used.push_back(src.get());
            changed = true;
          }
      }
    }
    if (changed) sub.request_keyframes();
  }
}

void RtcSfuPrivate::remove_subscriber(const std::string& key, const std::string& why,
                                      bool tell_room) {
  std::unique_ptr<Subscriber> s;
  {
    std::lock_guard lock(sessions_mutex);
    auto it = subscribers.find(key);
    if (it == subscribers.end()) return;
    s = std::move(it->second);
    subscribers.erase(it);
  }
  GST_INFO_OBJECT(self, "subscriber %s removed: %s", key.c_str(), why.c_str());
  if (s->whep && host) host->remove_resource(s->id);
  if (!s->whep && tell_room && host) host->rooms().media_failed(s->room, s->id, "subscribe", why);
  s->connect_deadline.reset();
  {
    guint64 rtx = retransmissions(s->sub->peer().webrtcbin());
    std::lock_guard lock(sessions_mutex);
    counters[s->room].add_subscriber(rtp_totals(s->sub->peer()).get(), rtx);
  }
  s->sub.reset();
  g_signal_emit(self, signals[SIGNAL_SUBSCRIBER_REMOVED], 0, s->room.c_str(), s->id.c_str(),
                why.c_str());
}

void RtcSfuPrivate::trickle_resource(const std::string& id,
                                     const std::vector<sig::TrickleCandidate>& candidates) {
  peer::Peer* peer = nullptr;
  if (auto it = subscribers.find(id); it != subscribers.end()) peer = &it->second->sub->peer();
  for (auto& [k, p] : publishers)
    if (p->resource == id) peer = p->peer.get();
  if (!peer) return;
  for (const auto& c : candidates)
    if (c.mline_index >= 0) peer->add_remote_candidate(c.mline_index, c.candidate);
}

void RtcSfuPrivate::remove_resource(const std::string& id, const std::string& why) {
  if (subscribers.count(id)) return remove_subscriber(id, why, false);
  std::string key;
  for (auto& [k, p] : publishers)
    if (p->resource == id) key = k;
  if (!key.empty()) remove_publisher(key, why == "DELETE" ? "unpublished" : why, true);
}

// --- sig::RoomMedia: what JSON-RPC participants ask for ---

void RtcSfuPrivate::publish(const std::string& room, const std::string& peer,
                            const std::string& sdp, std::function<void(PublishResult)> done) {
  auto fail = [&](const std::string& why, int code = sig::rpc::kInvalidParams) {
    post([done, why, code] { done({{}, {}, sig::rpc::Error{code, "publish: " + why, {}}}); });
  };
  if (publishers.count(key_of(room, peer))) return fail("already publishing");
  if (std::string why = refusal(room, peer); !why.empty()) return fail(why, sig::rpc::kRoomFull);
  try {
    start_publisher(room, peer, "", sdp,
                    [this, room, peer, sdp, done](const std::string& answer,
                                                  std::vector<sig::SfuTrack> tracks,
                                                  const std::string& error) {
                      if (!error.empty()) {
                        if (error.find("codec") == std::string::npos)
                          return done({{}, {},
                                       sig::rpc::Error{sig::rpc::kInvalidParams,
                                                       "publish: " + error, {}}});
                        // -32007 names what was offered and what the room takes.
                        sig::Json offered = sig::Json::array();
                        for (const auto& m : sig::validate_offer(sdp).media)
                          for (const auto& c : m.codecs) offered.push(c);
                        sig::Json accepted = sig::Json::array();
                        for (const char* c : {"VP8", "VP9", "H264", "OPUS"}) accepted.push(c);
                        return done({{}, {},
                                     sig::rpc::Error{sig::rpc::kNoCommonCodec, "publish: " + error,
                                                     sig::Json::object(
                                                         {{"offered", std::move(offered)},
                                                          {"accepted", std::move(accepted)}})}});
                      }
                      auto it = publishers.find(key_of(room, peer));
                      if (it != publishers.end()) it->second->in_room = true;
                      done({answer, std::move(tracks), std::nullopt});
                      if (it != publishers.end()) publisher_ready(*it->second);
                    });
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

void RtcSfuPrivate::unpublish(const std::string& room, const std::string& peer) {
  remove_publisher(key_of(room, peer), "unpublished", false);
}

void RtcSfuPrivate::offer(const std::string& room, const sig::SfuOffer& o,
                          std::function<void(const std::string&, const std::string&)> done) {
  const std::string key = key_of(room, o.subscriber);
  auto it = subscribers.find(key);
  try {
    if (it == subscribers.end() || o.rebuild || it->second->session != o.session) {
      if (it != subscribers.end()) remove_subscriber(key, "connection rebuilt", false);
      auto s = std::make_unique<Subscriber>();
      s->room = room;
      s->id = o.subscriber;
      s->session = o.session;
      s->sub = new_subscription(
          room, key, "sub-" + room + "-" + o.subscriber + "-" + std::to_string(o.session));
      std::lock_guard lock(sessions_mutex);
      it = subscribers.emplace(key, std::move(s)).first;
      counters[room].subscribers_total++;
    }
    Subscription& sub = *it->second->sub;
    for (size_t i = 0; i < o.slots.size(); i++) {
      const sig::SfuSlot& slot = o.slots[i];
      Source* src = slot.active() ? find_source(room, slot.publisher, slot.track) : nullptr;
      // An unused slot stays sendonly, without media: webrtcbin 1.22 cannot
      // make an inactive m-line active again when the slot is reused.
      if (i < sub.size()) {
        sub.set_source(i, src, false);
      } else {
        auto codec = media::codec_from_name(slot.codec);
        if (!codec) throw std::runtime_error("unknown codec " + slot.codec);
        sub.add_slot(*codec, src);
      }
    }
  } catch (const std::exception& e) {
    std::string why = e.what();
    return post([done, why] { done({}, why); });
  }
  it->second->sub->peer().make_offer(
      [done](const std::string& sdp, const std::string& error) { done(sdp, error); });
}

void RtcSfuPrivate::answer(const std::string& room, const std::string& peer, uint64_t,
                           const std::string& sdp, std::function<void(const std::string&)> done) {
  const std::string key = key_of(room, peer);
  auto it = subscribers.find(key);
  if (it == subscribers.end())
    return post([done] { done("no subscription to answer"); });
  it->second->sub->peer().accept_answer(sdp, [this, key, done](const std::string& error) {
    done(error);
    auto it = subscribers.find(key);
    // New tracks need a keyframe to start (a connected subscriber gets it
    // now; a new one when it connects).
    if (error.empty() && it != subscribers.end() && it->second->sub->peer().is_connected())
      it->second->sub->request_keyframes();
  });
}

void RtcSfuPrivate::candidate(const std::string& room, const std::string& peer,
                              const std::string& connection, int mline, const std::string&,
                              const std::string& candidate) {
  if (mline < 0 || candidate.empty()) return;
  const std::string key = key_of(room, peer);
  if (connection == "publish") {
    if (auto it = publishers.find(key); it != publishers.end() && it->second->peer)
      it->second->peer->add_remote_candidate(mline, candidate);
  } else if (auto it = subscribers.find(key); it != subscribers.end()) {
    it->second->sub->peer().add_remote_candidate(mline, candidate);
  }
}

void RtcSfuPrivate::unsubscribe(const std::string& room, const std::string& peer) {
  remove_subscriber(key_of(room, peer), "unsubscribed", false);
}

// --- stats, metrics ---

GstStructure* RtcSfuPrivate::stats() {
  GValue pubs = G_VALUE_INIT, subs = G_VALUE_INIT;
  gst_value_list_init(&pubs, 0);
  gst_value_list_init(&subs, 0);
  auto append = [](GValue* list, GstStructure* s) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&v, s);
    gst_value_list_append_and_take_value(list, &v);
  };
  guint64 keyframe_requests = 0, keyframes_sent = 0, failures = 0;
  std::lock_guard lock(sessions_mutex);
  for (auto& [k, p] : publishers) {
    GstStructure* s = gst_structure_new(
        "publisher", "room", G_TYPE_STRING, p->room.c_str(), "id", G_TYPE_STRING, p->id.c_str(),
        "local", G_TYPE_BOOLEAN, !p->peer, "tracks", G_TYPE_UINT, guint(p->sources.size()),
        "connected", G_TYPE_BOOLEAN, p->peer ? p->peer->is_connected() : TRUE, nullptr);
    if (p->peer) add_rtp_totals(s, p->peer->stats().get());
    for (auto& src : p->sources) {
      keyframe_requests += src->fanout().keyframe_requests();
      keyframes_sent += src->fanout().keyframes_sent();
    }
    append(&pubs, s);
  }
  for (auto& [k, sub] : subscribers) {
    GstStructure* s = gst_structure_new(
        "subscriber", "room", G_TYPE_STRING, sub->room.c_str(), "id", G_TYPE_STRING,
        sub->id.c_str(), "whep", G_TYPE_BOOLEAN, sub->whep, "slots", G_TYPE_UINT,
        guint(sub->sub->size()), "session", G_TYPE_UINT64, sub->session, "connected",
        G_TYPE_BOOLEAN, sub->sub->peer().is_connected(), nullptr);
    add_rtp_totals(s, sub->sub->peer().stats().get());
    append(&subs, s);
  }
  for (auto& [room, c] : counters) failures += c.failures;
  GstStructure* s = gst_structure_new(
      "rtcsfu-stats", "publishers", G_TYPE_UINT, guint(publishers.size()), "subscribers",
      G_TYPE_UINT, guint(subscribers.size()), "keyframe-requests", G_TYPE_UINT64,
      keyframe_requests, "keyframes-requested-upstream", G_TYPE_UINT64, keyframes_sent,
      "connection-failures", G_TYPE_UINT64, failures, nullptr);
  gst_structure_take_value(s, "publisher-stats", &pubs);
  gst_structure_take_value(s, "subscriber-stats", &subs);
  return s;
}

void RtcSfuPrivate::write_metrics(sig::Metrics& m) {
  std::map<std::string, RoomCounters> rooms;
  std::vector<std::pair<std::string, GPtr<GstElement>>> webrtcbins;
  {
    std::lock_guard lock(sessions_mutex);
    // A room that is gone takes its series with it (else /metrics grows with
    // every room ever made).
    std::set<std::string> live;
    for (const auto& r : host->rooms().rooms()) live.insert(r.name);
    for (auto& [k, p] : publishers) live.insert(p->room);
    for (auto& [k, sub] : subscribers) live.insert(sub->room);
    std::erase_if(counters, [&](const auto& c) { return !live.count(c.first); });
    rooms = counters;
    for (auto& [k, p] : publishers) {
      RoomCounters& c = rooms[p->room];
      if (p->peer) c.add_publisher(rtp_totals(*p->peer).get());
      for (auto& src : p->sources) {
        c.keyframe_requests += src->fanout().keyframe_requests();
        c.keyframes_upstream += src->fanout().keyframes_sent();
      }
    }
    for (auto& [k, s] : subscribers) {
      rooms[s->room].add_subscriber(rtp_totals(s->sub->peer()).get(), 0);
      webrtcbins.emplace_back(s->room, retain(s->sub->peer().webrtcbin()));
    }
  }
  // Walking a webrtcbin takes its locks: not under ours (pad-added holds them
  // while it waits for sessions_mutex).
  for (auto& [room, webrtc] : webrtcbins) rooms[room].retransmissions += retransmissions(webrtc.get());
  for (auto& [room, c] : rooms) {
    sig::Metrics::Labels l{{"room", room}};
    m.counter("rtcmesh_publishers_total", "Publishers that joined", l, c.publishers_total);
    m.counter("rtcmesh_subscribers_total", "Subscriber connections made (JSON-RPC, WHEP)", l,
              c.subscribers_total);
    m.counter("rtcmesh_packets_in_total", "RTP packets received from publishers", l, c.packets_in);
    m.counter("rtcmesh_bytes_in_total", "RTP bytes received from publishers", l, c.bytes_in);
    m.counter("rtcmesh_packets_out_total", "RTP packets sent to subscribers", l, c.packets_out);
    m.counter("rtcmesh_bytes_out_total", "RTP bytes sent to subscribers", l, c.bytes_out);
    m.counter("rtcmesh_nacks_received_total", "NACKs received from subscribers", l,
              c.nacks_received);
    m.counter("rtcmesh_nacks_sent_total", "NACKs sent to publishers (lost packets asked again)", l,
              c.nacks_sent);
    m.counter("rtcmesh_plis_received_total", "PLI and FIR received from subscribers", l,
              c.plis_received);
    m.counter("rtcmesh_keyframe_requests_total",
              "Keyframe requests (subscriber joins, PLI, FIR) before merging", l,
              c.keyframe_requests);
    m.counter("rtcmesh_keyframe_requests_upstream_total",
              "Keyframe requests sent to publishers after merging and rate limiting", l,
              c.keyframes_upstream);
    m.counter("rtcmesh_retransmissions_total", "Packets resent to subscribers (NACK answers)", l,
              c.retransmissions);
    m.counter("rtcmesh_connection_failures_total",
              "Connections lost to ICE/DTLS failure or peer-timeout", l, c.failures);
  }
}

// --- GObject / GstElement ---

// rtcsfu's side of RtcBaseBin, over RtcSfuPrivate (which it owns).
struct RtcSfuState : BaseBinState {
  RtcSfuState(RtcSfu* self, RtcSfuPrivate* p)
      : BaseBinState(GST_ELEMENT(self),
                     {.live = true,  // remote publishers come when they come
                      .start_before_children = true,
                      .server = "the SFU",
                      .start_error = GST_RESOURCE_ERROR_OPEN_READ_WRITE},
                     p->props_mutex, p->ice),
        p(p) {}
  ~RtcSfuState() override { delete p; }
  bool start(std::string& error) override { return p->start(error); }
  void stop() override { p->stop(); }
  void dispose() override {
    p->stop();
    p->inputs.clear();
  }
  // One failing connection is that participant's problem, not the pipeline's.
  bool route_session_failure(GstMessage* message, const std::string& why) override {
    if (!p->worker) return false;
    std::string pub, sub;
    {
      std::lock_guard lock(p->sessions_mutex);
      for (auto& [k, x] : p->publishers)
        if (x->peer && is_from(message, x->peer->webrtcbin())) pub = k;
      for (auto& [k, x] : p->subscribers)
        if (is_from(message, x->sub->peer().webrtcbin())) sub = k;
    }
    if (pub.empty() && sub.empty()) return false;
    GST_WARNING_OBJECT(p->self, "%s failed: %s", (pub + sub).c_str(), why.c_str());
    p->post([p = p, pub, sub, why] {
      if (!pub.empty()) p->remove_publisher(pub, why, true);
      if (!sub.empty()) p->remove_subscriber(sub, why, true);
    });
    return true;
  }
  RtcSfuPrivate* p;
};

static GstPad* rtc_sfu_request_new_pad(GstElement* element, GstPadTemplate* templ,
                                       const gchar* name, const GstCaps*) {
  auto* p = RTC_SFU(element)->priv;
  return guard(element, "request pad", [&]() -> GstPad* {
    bool has_room;
    {
      std::lock_guard lock(p->props_mutex);
      has_room = !p->room.empty();
    }
    if (!has_room) {
      GST_ELEMENT_ERROR(element, RESOURCE, SETTINGS,
                        ("Set room=NAME: the pipeline's own tracks are published into that room"),
                        (nullptr));
      return nullptr;
    }
    return p->inputs.add(templ, name);
  });
}

static void rtc_sfu_release_pad(GstElement* element, GstPad* pad) {
  auto* p = RTC_SFU(element)->priv;
  std::unique_ptr<media::SendInput> in = p->inputs.take(pad);
  // Its Source goes with the local publisher before its fan-out does.
  if (p->worker) p->worker->call([p] { p->update_local_publisher(); });
  gst_element_remove_pad(element, pad);
}

static void rtc_sfu_set_property(GObject* object, guint id, const GValue* value,
                                 GParamSpec* pspec) {
  auto* p = RTC_SFU(object)->priv;
  auto str = [value](const char* fallback) {
    const char* s = g_value_get_string(value);
    return std::string(s ? s : fallback);
  };
  // The lock is released before guard posts an error.
  guard(GST_ELEMENT(object), "set_property", [&] {
    std::lock_guard lock(p->props_mutex);
    if (p->address_limits.set(PROP_LIMITS_FIRST, id, value)) return;
    switch (id) {
      case PROP_ADDRESS: p->address = str("0.0.0.0"); break;
      case PROP_PORT: p->port = g_value_get_uint(value); break;
      case PROP_ROOM: {
        std::string r = str("");
        if (!r.empty() && !sig::valid_room_name(r))
          throw std::invalid_argument("room: 1-64 characters of A-Z a-z 0-9 . _ ~ -");
        p->room = r;
        break;
      }
      case PROP_AUTH_TOKEN: p->auth_token = str(""); break;
      case PROP_METRICS_TOKEN: p->metrics_token = str(""); break;
      case PROP_MAX_PUBLISHERS: p->max_publishers = g_value_get_uint(value); break;
      case PROP_MAX_SUBSCRIBERS: p->max_subscribers = g_value_get_uint(value); break;
      case PROP_MAX_SESSIONS: p->max_sessions = g_value_get_uint(value); break;
      case PROP_MAX_MLINES: p->max_mlines = g_value_get_uint(value); break;
      case PROP_WHEP_SLOTS: p->whep_slots = g_value_get_uint(value); break;
      case PROP_PEER_TIMEOUT: p->peer_timeout_ms = g_value_get_uint(value); break;
      case PROP_TLS_CERTIFICATE: p->tls_certificate = str(""); break;
      case PROP_TLS_KEY: p->tls_key = str(""); break;
      case PROP_PUBLISHER_ID: {
        std::string v = str("");
        if (!v.empty() && !sig::valid_peer_id(v))
          throw std::invalid_argument("publisher-id: 1-64 characters of A-Z a-z 0-9 . _ ~ -");
        p->publisher_id = v;
        break;
      }
      case PROP_OUTPUT: p->output = media::OutputMode(g_value_get_enum(value)); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
  });
}

static void rtc_sfu_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* p = RTC_SFU(object)->priv;
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  if (p->address_limits.get(PROP_LIMITS_FIRST, id, value)) return;
  switch (id) {
    case PROP_ADDRESS: g_value_set_string(value, p->address.c_str()); break;
    case PROP_PORT: g_value_set_uint(value, p->host ? p->host->port() : p->port); break;
    case PROP_ROOM: g_value_set_string(value, p->room.c_str()); break;
    case PROP_AUTH_TOKEN: g_value_set_string(value, p->auth_token.c_str()); break;
    case PROP_METRICS_TOKEN: g_value_set_string(value, p->metrics_token.c_str()); break;
    case PROP_MAX_PUBLISHERS: g_value_set_uint(value, p->max_publishers); break;
    case PROP_MAX_SUBSCRIBERS: g_value_set_uint(value, p->max_subscribers); break;
    case PROP_MAX_SESSIONS: g_value_set_uint(value, p->max_sessions); break;
    case PROP_MAX_MLINES: g_value_set_uint(value, p->max_mlines); break;
    case PROP_WHEP_SLOTS: g_value_set_uint(value, p->whep_slots); break;
    case PROP_PEER_TIMEOUT: g_value_set_uint(value, p->peer_timeout_ms); break;
    case PROP_TLS_CERTIFICATE: g_value_set_string(value, p->tls_certificate.c_str()); break;
    case PROP_TLS_KEY: g_value_set_string(value, p->tls_key.c_str()); break;
    case PROP_PUBLISHER_ID: g_value_set_string(value, p->publisher_id.c_str()); break;
    case PROP_OUTPUT: g_value_set_enum(value, int(p->output)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_sfu_class_init(RtcSfuClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcsfu_debug, "rtcsfu", 0, "SFU room host");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_sfu_set_property;
  object_class->get_property = rtc_sfu_get_property;
  element_class->request_new_pad = rtc_sfu_request_new_pad;
  element_class->release_pad = rtc_sfu_release_pad;

  install_string(object_class, PROP_ADDRESS, "address", "Address the HTTP server listens on",
                 "0.0.0.0");
  g_object_class_install_property(
      object_class, PROP_PORT,
      g_param_spec_uint("port", "port",
                        "TCP port of the HTTP server (0 = ephemeral; reads back the bound port "
                        "once PAUSED). rtcsfu elements of one process with the same address and "
                        "port share one server",
                        0, 65535, 8443, rw_flags()));
  install_string(object_class, PROP_ROOM, "room",
                 "The room this element hosts (empty = every room nobody else hosts); request "
                 "sink pads publish into it");
  install_string(object_class, PROP_AUTH_TOKEN, "auth-token",
                 "Bearer token for WHIP/WHEP and the JSON-RPC join token (empty = open)");
  install_string(object_class, PROP_METRICS_TOKEN, "metrics-token",
                 "Bearer token GET /metrics needs (empty = open; its series name the rooms)");
  install_uint(object_class, PROP_MAX_PUBLISHERS, "max-publishers",
               "Publishers per room (0 = unlimited); over it WHIP answers 503, publish -32002", 0,
               G_MAXUINT, 0);
  install_uint(object_class, PROP_MAX_SUBSCRIBERS, "max-subscribers",
               "Subscribers per room (0 = unlimited); over it WHEP answers 503, subscribe -32002",
               0, G_MAXUINT, kDefaultMaxSubscribers);
  install_uint(object_class, PROP_MAX_SESSIONS, "max-sessions",
               "Remote connections at once (publishers and subscribers of every room; 0 = "
               "unlimited); over it WHIP/WHEP answer 503 with Retry-After, publish -32002",
               0, G_MAXUINT, kDefaultMaxSessions);
  install_uint(object_class, PROP_MAX_MLINES, "max-mlines",
               "m-lines of a subscriber connection before it is rebuilt (webrtcbin 1.22 cannot "
               "remove one)",
               2, 64, 16);
  install_uint(object_class, PROP_WHEP_SLOTS, "whep-slots",
               "Video and audio tracks a player of /whep/<room> is offered (OPTIONS advertises "
               "it); free slots are filled by later publishers",
               1, 16, 4);
  install_uint(object_class, PROP_PEER_TIMEOUT, "peer-timeout",
               "Milliseconds without RTP/RTCP from a connection (or without a frame on a "
               "JSON-RPC socket) after which it is removed",
               500, G_MAXUINT, 10000);
  install_string(object_class, PROP_TLS_CERTIFICATE, "tls-certificate",
                 "PEM certificate file: serve HTTPS and wss:// (needs tls-key)");
  install_string(object_class, PROP_TLS_KEY, "tls-key", "PEM private key file for tls-certificate");
  AddressLimitProps::install(object_class, PROP_LIMITS_FIRST);
  install_string(object_class, PROP_PUBLISHER_ID, "publisher-id",
                 "Name the pipeline's own tracks publish under (empty = the element name)");
  g_object_class_install_property(
      object_class, PROP_OUTPUT,
      g_param_spec_enum("output", "output",
                        "Form of the src pads: auto (from what they are linked to), raw, encoded "
                        "(record/restream without re-encoding) or rtp",
                        media::output_mode_get_type(), int(media::OutputMode::kAuto), rw_flags()));
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "Publishers and subscribers with their RTP counters (packets/bytes, NACK, "
                         "PLI, FIR), keyframe requests merged and sent upstream, connection "
                         "failures",
                         GST_TYPE_STRUCTURE, ro_flags()));

  signals[SIGNAL_PUBLISHER_ADDED] = g_signal_new(
      "publisher-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_PUBLISHER_REMOVED] = g_signal_new(
      "publisher-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_SUBSCRIBER_ADDED] = g_signal_new(
      "subscriber-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_SUBSCRIBER_REMOVED] = g_signal_new(
      "subscriber-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  CapsPtr video = media::sink_template_caps(media::Kind::kVideo);
  CapsPtr audio = media::sink_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio.get()));
  CapsPtr vsrc = media::src_template_caps(media::Kind::kVideo);
  CapsPtr asrc = media::src_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class,
      gst_pad_template_new("src_video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES, vsrc.get()));
  gst_element_class_add_pad_template(
      element_class,
      gst_pad_template_new("src_audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES, asrc.get()));
  gst_element_class_set_static_metadata(
      element_class, "SFU room host", "Sink/Source/Network/WebRTC",
      "Forwards every publisher of a room (WHIP, JSON-RPC, this pipeline) to every subscriber "
      "(JSON-RPC, WHEP) without decoding; exposes remote publishers as src pads",
      "rtcmesh");
}

static void rtc_sfu_init(RtcSfu* self) {
  self->priv = new RtcSfuPrivate(self);
  new RtcSfuState(self, self->priv);  // the base bin owns it
  keep_source_flags(GST_ELEMENT(self));
}
