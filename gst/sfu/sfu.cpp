// rtcsfu: the SFU room host element. Wiring only: the shared host
// (gst/server/host.h) routes WHIP, WHEP and JSON-RPC to this element; the
// Ingest (gst/server/ingest.h) answers publishers and builds their Sources
// and src pads; Subscribers, WhepPlayers and the Router (gst/sfu/) connect
// subscribers to those Sources; RoomMetrics (gst/server/room_metrics.h)
// counts for `stats` and /metrics.
#include "gst/sfu/sfu.h"

#include <atomic>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "gst/common/data_signals.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/media/codec.h"
#include "gst/media/output.h"
#include "gst/media/send_inputs.h"
#include "gst/server/admission.h"
#include "gst/server/host.h"
#include "gst/server/ingest.h"
#include "gst/sfu/cluster_bridge.h"
#include "gst/server/room_metrics.h"
#include "gst/sfu/mix_mode.h"
#include "gst/sfu/signal_channels.h"
#include "gst/sfu/subscribers.h"
#include "gst/peer/engine_type.h"
#include "gst/sfu/native_forwarding.h"
#include "gst/sfu/native_ingress.h"
#include "gst/sfu/tee_forwarding.h"
#include "gst/sfu/whep_players.h"
#include "signaling/auth/tokens.h"
#include "signaling/rooms/room_data.h"
#include "signaling/util.h"

GST_DEBUG_CATEGORY_STATIC(rtcsfu_debug);
#define GST_CAT_DEFAULT rtcsfu_debug

using namespace rtcmesh;

namespace {

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_PORT,
  PROP_ROOM,
  PROP_AUTH_TOKEN,
  PROP_METRICS_TOKEN,
  PROP_TOKEN_SECRET_FILE,
  PROP_TOKEN_PUBLIC_KEY,
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
  PROP_EOS_ON_LEAVE,
  PROP_STATS,
  PROP_REDIS,
  PROP_NATS,
  PROP_NODE_ID,
  PROP_NODE_TTL,
  PROP_CLUSTER_READY,
  PROP_ADVERTISE_URL,
  PROP_DRAINING,
  PROP_ENGINE,
  PROP_INGRESS,
  PROP_UDP_PORT,
  PROP_ANNOUNCED_ADDRESSES,
  PROP_ICE_FIRST,
  PROP_LIMITS_FIRST = PROP_ICE_FIRST + IceProps::kCount,  // AddressLimitProps from here on
};

enum {
  SIGNAL_PUBLISHER_ADDED,
  SIGNAL_PUBLISHER_REMOVED,
  SIGNAL_SUBSCRIBER_ADDED,
  SIGNAL_SUBSCRIBER_REMOVED,
  SIGNAL_DATA_RECEIVED,
  N_SIGNALS
};
guint signals[N_SIGNALS];

// Each remote connection is a webrtcbin (~8 threads, ~1 MB): without a cap a
// burst of offers takes the machine (200 WHIP offers in 5 s: 1600 threads).
constexpr guint kDefaultMaxSessions = 500;
constexpr guint kDefaultMaxSubscribers = 200;

}  // namespace

struct RtcSfuPrivate : sig::RoomMedia {
  explicit RtcSfuPrivate(RtcSfu* s);
  RtcSfu* self;

  std::mutex props_mutex;
  std::string address = "0.0.0.0";
  guint port = 8443;
  std::string room, auth_token, metrics_token, tls_certificate, tls_key, publisher_id;
  std::string token_secret_file, token_public_key;  // paths
  guint max_publishers = 0, max_subscribers = kDefaultMaxSubscribers, max_mlines = 16,
        whep_slots = 4;
  guint max_sessions = kDefaultMaxSessions;
  guint peer_timeout_ms = 10000;
  int engine = int(peer::SubscriberEngine::kNative);
  int ingress = int(peer::SubscriberEngine::kNative);  // remote publishers (native: with engine=native)
  guint udp_port = 0;
  std::string announced_addresses;  // comma-separated
  std::unique_ptr<sfu::NativeEgress> egress;  // engine=native, while PAUSED or PLAYING
  media::OutputMode output = media::OutputMode::kAuto;
  bool eos_on_leave = false;
  std::optional<sfu::MixMode> mix;  // inside rtcmcu
  std::map<std::string, std::string> audience;  // mix: local track → its one participant
  IceProps ice;
  AddressLimitProps address_limits;  // per client address, for the shared host
  sig::cluster::ClusterOptions cluster;  // node_id empty: not in a cluster

  std::shared_ptr<server::Host> host;  // while PAUSED or PLAYING
  Worker* worker = nullptr;         // the host's; its thread runs all session work
  // The worker is shared with other rtcsfu of the port and outlives our
  // sessions: work posted for us runs only while this element runs.
  std::mutex host_mutex;  // host and alive, for threads that post
  std::shared_ptr<std::atomic<bool>> alive;
  void post(std::function<void()> fn);
  std::string hosted;  // the room routed to us ("" = all)

  media::SendInputs inputs;  // request sink pads: the local publisher
  server::RoomMetrics metrics;
  server::Ingest ingest;
  sfu::Subscribers subscribers;
  sfu::WhepPlayers players;
  sfu::ClusterBridge bridge;  // worker thread
  std::atomic<bool> cluster_ready{false};  // refreshed by cluster_tick()
  sig::SourceHandle cluster_timer;
  void cluster_tick();
  std::atomic<bool> draining{false};
  void drain();  // worker thread

  // WHIP and WHEP requests routed to us by the host.
  struct WhipHandler : sig::ResourceEndpoint::Handler {
    explicit WhipHandler(RtcSfuPrivate* p) : p(p) {}
    RtcSfuPrivate* p;
    void on_offer(const sig::ResourceEndpoint::Offer& o,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply) override {
      p->post([p = p, o, reply] { p->ingest.whip_offer(o, reply); });
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
      p->post([p = p, o, reply] { p->players.offer(o, reply); });
    }
  } whep;
  // POST /rtc/<room>: signaling over a data channel (trickle is not taken:
  // the client's offer carries its candidates, or peer-reflexive ones do).
  sfu::SignalChannels channels;
  struct RtcHandler : WhipHandler {
    using WhipHandler::WhipHandler;
    void on_offer(const sig::ResourceEndpoint::Offer& o,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply) override {
      p->post([p = p, o, reply] { p->channels.offer(o, reply); });
    }
    void on_trickle(const std::string&, const std::vector<sig::TrickleCandidate>&, bool) override {}
    void on_delete(const std::string& id) override {
      p->post([p = p, id] { p->channels.end(id, "DELETE"); });
    }
  } rtc;

  bool start(std::string& error);
  void stop();

  server::Ingest::Settings ingest_settings();
  // A remote publisher's connection, before it answers: forwarded at once
  // (no jitterbuffer start-up or head-of-line wait); lost packets are asked
  // again from the publisher.
  void prepare_publisher(peer::Peer& peer) {
    {
      // rtcmcu decodes: webrtcbin's jitterbuffer orders and times the frames.
      std::lock_guard lock(props_mutex);
      if (mix) return;
    }
    peer.use_passthrough_jitterbuffer();
    peer.force_retransmission();
    // engine=native: its subscribers' SRs carry this publisher's NTP↔RTP mapping.
    if (egress) peer.on_sender_reports(egress->sender_reports());
  }
  void update_local_publisher() { ingest.update_local_publisher(); }
  // Why a new remote connection to `room` (a publisher `id`, or a WHEP
  // player when id is empty) is refused now, or "" (admission control).
  std::string refusal(const std::string& room, const std::string& id);
  void trickle_resource(const std::string& id, const std::vector<sig::TrickleCandidate>& c);
  void remove_resource(const std::string& id, const std::string& why);
  // A session failure posted by one of our connections: that session ends.
  bool end_failed_session(GstMessage* message, const std::string& why);

  // Room data (signaling/rooms/room_data.h): a participant's message goes to
  // the participants it names and, sent to everyone or to us, to data-received.
  void on_room_data(const std::string& room, const std::string& from,
                    const peer::DataMessage& message);
  // send-string / send-data: the pipeline speaks as its publisher id.
  gboolean send_data(const std::string& to, std::string data, bool text, bool reliable);
  std::atomic<guint64> data_relayed{0}, data_dropped{0};

  // sig::RoomMedia (the RoomServer, on the worker).
  void publish(const std::string& room, const std::string& peer, const std::string& sdp,
               std::function<void(PublishResult)> done) override {
    ingest.publish(room, peer, sdp, std::move(done));
  }
  void unpublish(const std::string& room, const std::string& peer) override {
    ingest.unpublish(room, peer);
  }
  void offer(const std::string& room, const sig::SfuOffer& offer,
             std::function<void(const std::string&, const std::string&)> done) override {
    subscribers.offer(room, offer, std::move(done));
  }
  void answer(const std::string& room, const std::string& peer, uint64_t, const std::string& sdp,
              std::function<void(const std::string&)> done) override {
    subscribers.answer(room, peer, sdp, std::move(done));
  }
  void candidate(const std::string& room, const std::string& peer, const std::string& connection,
                 int mline, const std::string& mid, const std::string& candidate) override;
  void unsubscribe(const std::string& room, const std::string& peer) override {
    subscribers.unsubscribe(room, peer);
  }
  std::string layout(const std::string& room, const std::string& layout,
                     const std::string& pinned) override {
    std::function<std::string(const std::string&, const std::string&)> apply;
    {
      std::lock_guard lock(props_mutex);
      if (mix) apply = mix->layout;
    }
    return apply ? apply(layout, pinned) : sig::RoomMedia::layout(room, layout, pinned);
  }

  // rtcmcu: whether anyone receives `source`, a codec of its composite.
  void report_demand(server::Source* source, bool fed) {
    std::function<void(const std::string&, bool)> demand;
    {
      std::lock_guard lock(props_mutex);
      if (!mix || source->publisher() != mix->output_publisher) return;
      demand = mix->demand;
    }
    if (!demand || source->kind() != media::Kind::kVideo) return;
    if (fed) source->request_keyframe();  // its encoder's first frame again
    demand(source->track(), fed);
  }
  // Its tracks nobody receives yet (encoded once: they can be offered now).
  void report_unfed(server::Publisher& pub) {
    for (auto& source : pub.sources)
      if (source && !subscribers.router().feeds(source.get())) report_demand(source.get(), false);
  }

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

// --- wiring ---

RtcSfuPrivate::RtcSfuPrivate(RtcSfu* s)
    : self(s),
      inputs(GST_ELEMENT(s),
             [this] {
               std::lock_guard lock(props_mutex);
               return mix ? mix->encoder : media::EncoderSettings{};
             },
             {[this] {
                post([this] { update_local_publisher(); });
              }, {}}),
      ingest(GST_ELEMENT(s), "rtcsfu", inputs, metrics,
             {
                 .settings = [this] { return ingest_settings(); },
                 .post = [this](std::function<void()> fn) { post(std::move(fn)); },
                 .refusal = [this](const std::string& r, const std::string& id) {
                   return refusal(r, id);
                 },
                 // Forwarded at once: no jitterbuffer start-up or head-of-line
                 // wait; lost packets are asked again from the publisher.
                 .prepare = [this](peer::Peer& peer) { prepare_publisher(peer); },
                 // A POST /rtc participant publishes on its one connection.
                 .own_connection =
                     [this](const std::string& room, const std::string& id) {
                       return channels.connection_of(room, id);
                     },
                 .native_connection =
                     [this](const std::string& room, const std::string& id, const std::string& offer,
                            const GstCaps* accepted, peer::PeerEvents events,
                            std::function<bool(const std::string&)> wanted)
                     -> std::shared_ptr<server::IngressConnection> {
                       {
                         std::lock_guard lock(props_mutex);
                         // An MCU decodes its publishers: webrtcbin's jitterbuffer reorders.
                         if (ingress != int(peer::SubscriberEngine::kNative) || mix) return nullptr;
                       }
                       // A publisher's data channels are webrtcbin's (and its relay's).
                       if (!egress || offer.find("m=application") != std::string::npos) return nullptr;
                       return std::make_shared<sfu::NativeIngress>(*egress, GST_BIN(self), room,
                                                                   "pub-" + room + "-" + id, accepted,
                                                                   std::move(events), std::move(wanted));
                     },
                 // The publisher's tracks are known: WHEP slots waiting for one get them.
                 .ready =
                     [this](server::Publisher& pub) {
                       g_signal_emit(self, signals[SIGNAL_PUBLISHER_ADDED], 0, pub.room.c_str(),
                                     pub.id.c_str());
                       players.fill(pub.room);
                       report_unfed(pub);
                     },
                 .leaving =
                     [this](server::Publisher& pub) {
                       bridge.publisher_leaving(pub);
                       for (auto& source : pub.sources)
                         subscribers.router().detach_source(source.get());
                       // Players of this publisher alone: their stream is
                       // over (RTCP BYE: rtcwhepsrc ends its pads with EOS).
                       for (const std::string& id : players.publisher_left(pub.room, pub.id)) {
                         sfu::Subscriber* player = subscribers.find(id);
                         if (player && !player->path->end_stream())
                           subscribers.remove(id, "its publisher left", true);
                       }
                     },
                 .removed =
                     [this](const server::Publisher& pub, const std::string& why) {
                       g_signal_emit(self, signals[SIGNAL_PUBLISHER_REMOVED], 0, pub.room.c_str(),
                                     pub.id.c_str(), why.c_str());
                       players.fill(pub.room);
                     },
                 // rtcmcu's output gained or lost a minus-one mix.
                 .changed =
                     [this](server::Publisher& pub, const std::vector<server::Source*>& gone) {
                       for (server::Source* source : gone)
                         subscribers.router().detach_source(source);
                       players.fill(pub.room);
                       report_unfed(pub);
                     },
             }),
      subscribers(GST_ELEMENT(s), ingest, metrics,
                  {
                      .post = [this](std::function<void()> fn) { post(std::move(fn)); },
                      .removed =
                          [this](const sfu::Subscriber& sub, const std::string& why) {
                            if (sub.whep) players.removed(sub);
                            g_signal_emit(self, signals[SIGNAL_SUBSCRIBER_REMOVED], 0,
                                          sub.room.c_str(), sub.id.c_str(), why.c_str());
                          },
                      .data =
                          [this](const std::string& room, const std::string& from,
                                 const peer::DataMessage& m) { on_room_data(room, from, m); },
                      // A POST /rtc participant subscribes on its one connection.
                      .own_path =
                          [this](const std::string& room, const std::string& id) {
                            return channels.path_for(room, id);
                          },
                  }),
      players(ingest, subscribers,
              {
                  .refusal = [this](const std::string& r) { return refusal(r, ""); },
                  .peer_timeout_ms =
                      [this] {
                        std::lock_guard lock(props_mutex);
                        return peer_timeout_ms;
                      },
                  .added =
                      [this](const sfu::Subscriber& sub) {
                        g_signal_emit(self, signals[SIGNAL_SUBSCRIBER_ADDED], 0,
                                      sub.room.c_str(), sub.id.c_str());
                      },
              }),
      bridge(GST_BIN(s), ingest,
             [this](server::Source* source) { return subscribers.router().feeds(source); }),
      whip(this),
      whep(this),
      channels(GST_BIN(s),
               {
                   .post = [this](std::function<void()> fn) { post(std::move(fn)); },
                   .refusal = [this](const std::string& r) { return refusal(r, ""); },
                   .ice = [this] { return ingest_settings().ice; },
                   .peer_timeout =
                       [this] { return ingest_settings().peer_timeout_ms * GST_MSECOND; },
                   .prepare = [this](peer::Peer& peer) { prepare_publisher(peer); },
                   .remote_pad =
                       [this](const std::string& room, const std::string& id, GstPad* pad,
                              const std::string& mid) {
                         return ingest.link_remote_pad(room, id, pad, mid);
                       },
                   // Its "rtcmesh-data"/"rtcmesh-unreliable" channels: the relay.
                   .room_data =
                       [this](const std::string& room, const std::string& from,
                              const peer::DataMessage& m) { on_room_data(room, from, m); },
               }),
      rtc(this) {
  subscribers.router().set_fed_hook(
      [this](server::Source* source, bool fed) { report_demand(source, fed); });
}

server::Ingest::Settings RtcSfuPrivate::ingest_settings() {
  std::lock_guard lock(props_mutex);
  server::Ingest::Settings s;
  s.ice = ice.server_settings(address, split_list(announced_addresses));
  s.peer_timeout_ms = peer_timeout_ms;
  s.output = output;
  s.eos_on_leave = eos_on_leave;
  s.local_room = room;
  // The pipeline's own request pads publish as `publisher-id` into `room`.
  s.local_id = publisher_id.empty() ? std::string(GST_OBJECT_NAME(self)) : publisher_id;
  if (mix) {
    s.local_id = mix->output_publisher;
    s.output = media::OutputMode::kRaw;
    s.eos_on_leave = true;  // a leaving publisher's tile goes
    s.forward_local_only = true;
    s.track_audience = audience;
    s.own_output = mix->process;
  }
  return s;
}

// --- start / stop ---

bool RtcSfuPrivate::start(std::string& error) {
  server::Host::Options o;
  sig::SfuRoom::Limits limits;
  {
    std::lock_guard lock(props_mutex);
    o.http.address = address;
    o.http.port = port;
    o.http.tls_certificate = tls_certificate;
    o.http.tls_key = tls_key;
    o.rooms.token = auth_token;
    o.metrics_token = metrics_token;
    try {
      if (!token_secret_file.empty())
        o.rooms.token_secret = sig::read_key_file(token_secret_file, "token-secret-file");
      if (!token_public_key.empty())
        o.rooms.token_public_key = sig::read_key_file(token_public_key, "token-public-key");
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
    o.address_limits = address_limits.config;
    o.rooms.peer_timeout = std::chrono::milliseconds(std::max(peer_timeout_ms, 2000u));
    o.whep_slots = int(whep_slots);
    hosted = room;
    limits.max_publishers = max_publishers;
    limits.max_subscribers = max_subscribers;
    limits.max_mlines = max_mlines;
    if (mix) {
      limits.output_publisher = mix->output_publisher;
      limits.process = mix->process;
    }
    try {
      o.rooms.ice_servers = sig::parse_ice_servers(ice.stun_server, split_list(ice.turn_servers));
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
  }
  // Subscribers through the native engine on one UDP port (issue 17), made
  // before the host: once it accepts connections, the room must be attached
  // within one hop of its worker, or an early join is told "not hosted here".
  if (engine == int(peer::SubscriberEngine::kNative)) {
    try {
      egress = std::make_unique<sfu::NativeEgress>(std::vector<std::string>{address}, udp_port,
                                                   split_list(announced_addresses), peer_timeout_ms);
    } catch (const std::exception& e) {
      error = std::string("engine=native: ") + e.what();
      return false;
    }
  }
  std::shared_ptr<server::Host> shared;
  try {
    shared = server::Host::acquire(o);
  } catch (const std::exception& e) {
    error = e.what();
    egress.reset();
    return false;
  }
  if (!shared->route(hosted, &whip, &whep, &rtc)) {
    error = hosted.empty() ? "another rtcsfu on this port already hosts every room"
                           : "another rtcsfu on this port already hosts room '" + hosted + "'";
    egress.reset();
    return false;
  }
  {
    std::lock_guard lock(host_mutex);
    host = std::move(shared);
    alive = std::make_shared<std::atomic<bool>>(true);
  }
  worker = &host->worker();
  // Subscriber connections forward through tee → leaky queue → Normalizer →
  // webrtcbin (the one ForwardingPath there is today).
  sfu::PathFactory paths = sfu::tee_forwarding(
      GST_BIN(self), *worker, [this] { return ingest_settings().ice; },
      [this] { return ingest_settings().peer_timeout_ms * GST_MSECOND; });
  sig::cluster::ClusterOptions cluster_options;
  {
    std::lock_guard lock(props_mutex);
    cluster_options = cluster;
  }
  if (egress) {
    egress->serve_from(*worker);
    paths = sfu::native_forwarding(*egress);
  }
  worker->call([&] {
    ingest.start(*host);
    subscribers.start(*host, std::move(paths));
    channels.start(*host);
    // A host of mesh rooms (rtcmesh-server --mode mesh): no SFU room here;
    // POST /rtc connections carry only their participant's room protocol.
    if (!host->options().mesh_rooms) host->rooms().attach_sfu(hosted, this, limits);
    if (cluster_options.node_id.empty()) return;
    try {
      bridge.start(*host, cluster_options);
      cluster_tick();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (!error.empty()) {
    stop();
    return false;
  }
  host->add_metrics(this, [this](sig::Metrics& m) { write_metrics(m); });
  GST_INFO_OBJECT(self, "hosting %s on %s: /rtc (WebSocket, POST /rtc/<room>), /whip/<room>, /whep/<room>[/<publisher>]",
                  hosted.empty() ? "every room" : ("room " + hosted).c_str(),
                  host->base_url().c_str());
  return true;
}

void RtcSfuPrivate::stop() {
  if (!host) return;
  host->remove_metrics(this);
  host->unroute(hosted);
  worker->call([this] {
    cluster_timer.reset();
    bridge.stop();  // other nodes' publishers leave before the rooms are detached
    cluster_ready = false;
    if (!host->options().mesh_rooms) host->rooms().detach_sfu(hosted);
    subscribers.stop();
    ingest.stop();
    channels.stop();  // after the sessions that shared its connections
    // Work already queued for us finds this and does nothing.
    *alive = false;
  });
  egress.reset();  // after every subscriber and source: no session or tap left
  std::shared_ptr<server::Host> last;
  {
    std::lock_guard lock(host_mutex);
    last = std::move(host);
  }
  worker = nullptr;
  last.reset();  // the last user of the port stops its server here
}

// draining=TRUE: the node tells the cluster, then the host takes no new
// session and tells /rtc participants where to go (1001 "move <url>").
void RtcSfuPrivate::drain() {
  std::string url = bridge.node() ? bridge.node()->drain() : "";
  GST_INFO_OBJECT(self, "draining; participants go to %s", url.empty() ? "(no other node)" : url.c_str());
  host->drain(sig::WsServer::drain_reason(url));
}

void RtcSfuPrivate::cluster_tick() {
  cluster_ready = bridge.node() && bridge.node()->ready();
  cluster_timer = sig::add_timer(worker->context(), 250, [this] { cluster_tick(); });
}

void RtcSfuPrivate::post(std::function<void()> fn) {
  std::shared_ptr<server::Host> h;
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

// --- sessions of both sides ---

std::string RtcSfuPrivate::refusal(const std::string& room, const std::string& id) {
  server::AdmissionLimits limits;
  {
    std::lock_guard lock(props_mutex);
    limits.max_sessions = max_sessions;
    limits.max_publishers = max_publishers;
    limits.max_subscribers = max_subscribers;
  }
  const sig::RoomServer& rooms = host->rooms();
  limits.max_rooms = rooms.config().max_rooms;
  limits.max_peers_per_room = rooms.config().max_peers_per_room;
  server::Load load;
  ingest.add_load(room, load);
  subscribers.add_load(room, load);
  for (const auto& r : rooms.rooms()) {
    load.rooms_in_use.insert(r.name);
    if (r.name == room) load.participants.insert(r.peers.begin(), r.peers.end());
  }
  return server::refusal(limits, load, room, id);
}

void RtcSfuPrivate::trickle_resource(const std::string& id,
                                     const std::vector<sig::TrickleCandidate>& candidates) {
  if (!subscribers.trickle(id, candidates)) ingest.trickle(id, candidates);
}

void RtcSfuPrivate::remove_resource(const std::string& id, const std::string& why) {
  if (!subscribers.remove_resource(id, why)) ingest.remove_resource(id, why);
}

void RtcSfuPrivate::candidate(const std::string& room, const std::string& peer,
                              const std::string& connection, int mline, const std::string&,
                              const std::string& candidate) {
  if (mline < 0 || candidate.empty()) return;
  if (connection == "publish")
    ingest.add_remote_candidate(room, peer, mline, candidate);
  else
    subscribers.add_remote_candidate(room, peer, mline, candidate);
}

bool RtcSfuPrivate::end_failed_session(GstMessage* message, const std::string& why) {
  // A POST /rtc connection carries everything of its participant: it ends whole.
  if (std::string rtc = channels.key_of_sender(message); !rtc.empty()) {
    GST_WARNING_OBJECT(self, "POST /rtc connection %s failed: %s", rtc.c_str(), why.c_str());
    post([this, rtc, why] { channels.end(rtc, why); });
    return true;
  }
  std::string pub = ingest.key_of_sender(message), sub = subscribers.key_of_sender(message);
  if (pub.empty() && sub.empty()) return false;
  GST_WARNING_OBJECT(self, "%s failed: %s", (pub + sub).c_str(), why.c_str());
  post([this, pub, sub, why] {
    if (!pub.empty()) ingest.remove(pub, why, true);
    if (!sub.empty()) subscribers.remove(sub, why, true);
  });
  return true;
}

// --- room data ---

void RtcSfuPrivate::on_room_data(const std::string& room, const std::string& from,
                                 const peer::DataMessage& message) {
  auto data = sig::unwrap_room_data(message.data);
  if (!data) {
    data_dropped++;
    GST_WARNING_OBJECT(self, "room %s: a data message from %s without \"<peer>\\n\" dropped",
                       room.c_str(), from.c_str());
    return;
  }
  const std::string local = ingest_settings().local_id;
  if (data->peer.empty() || data->peer == local)
    emit_data_received(GST_ELEMENT(self), signals[SIGNAL_DATA_RECEIVED], from, message.label,
                       data->payload, message.text);
  if (data->peer == local) return;
  bool reliable = message.label != peer::Peer::kUnreliableLabel;
  size_t taken =
      subscribers.send_data(room, from, data->peer, data->payload, message.text, reliable);
  data_relayed += taken;
  if (!data->peer.empty() && taken == 0) {
    data_dropped++;
    GST_INFO_OBJECT(self, "room %s: data from %s to %s: no such participant with data channels",
                    room.c_str(), from.c_str(), data->peer.c_str());
  }
}

gboolean RtcSfuPrivate::send_data(const std::string& to, std::string data, bool text,
                                  bool reliable) {
  if (data.size() > sig::kMaxRoomDataPayload) {
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("data message not sent"),
                        ("%zu bytes, over the room's limit of %zu", data.size(),
                         sig::kMaxRoomDataPayload));
    return FALSE;
  }
  {
    std::lock_guard lock(host_mutex);
    if (!host) return FALSE;
  }
  std::string room, local;
  {
    std::lock_guard lock(props_mutex);
    room = hosted;
  }
  local = ingest_settings().local_id;
  post([this, room, local, to, data = std::move(data), text, reliable] {
    data_relayed += subscribers.send_data(room, local, to, data, text, reliable);
  });
  return TRUE;
}

// --- stats, metrics ---

GstStructure* RtcSfuPrivate::stats() {
  GValue pubs = G_VALUE_INIT, subs = G_VALUE_INIT;
  gst_value_list_init(&pubs, 0);
  gst_value_list_init(&subs, 0);
  guint64 keyframe_requests = 0, keyframes_sent = 0;
  ingest.append_stats(&pubs, keyframe_requests, keyframes_sent);
  subscribers.append_stats(&subs);
  GstStructure* s = gst_structure_new(
      "rtcsfu-stats", "publishers", G_TYPE_UINT, guint(ingest.size()), "subscribers", G_TYPE_UINT,
      guint(subscribers.size()), "keyframe-requests", G_TYPE_UINT64, keyframe_requests,
      "keyframes-requested-upstream", G_TYPE_UINT64, keyframes_sent, "connection-failures",
      G_TYPE_UINT64, metrics.failures(), "data-relayed", G_TYPE_UINT64, data_relayed.load(),
      "data-dropped", G_TYPE_UINT64, data_dropped.load(), "signal-connections", G_TYPE_UINT,
      guint(channels.size()), nullptr);
  gst_structure_take_value(s, "publisher-stats", &pubs);
  gst_structure_take_value(s, "subscriber-stats", &subs);
  return s;
}

void RtcSfuPrivate::write_metrics(sig::Metrics& m) {
  std::set<std::string> live;
  for (const auto& r : host->rooms().rooms()) live.insert(r.name);
  ingest.add_rooms(live);
  subscribers.add_rooms(live);
  server::RoomCountersByName rooms = metrics.keep_only(live);
  ingest.add_counters(rooms);
  subscribers.add_counters(rooms);
  server::write_room_metrics(m, rooms);
  for (const auto& [room, n] : channels.count_by_room())
    m.gauge("rtcmesh_room_signal_connections",
            "POST /rtc connections of the room (the room protocol on their data channel)",
            {{"room", room}}, n);
  if (bridge.node()) bridge.node()->metrics(m);
}

void sfu::set_mix_mode(GstElement* element, const MixMode& mode) {
  auto* p = RTC_SFU(element)->priv;
  std::lock_guard lock(p->props_mutex);
  p->mix = mode;
}

void sfu::set_track_audience(GstElement* element, const std::string& track,
                             const std::string& peer) {
  auto* p = RTC_SFU(element)->priv;
  std::lock_guard lock(p->props_mutex);
  if (peer.empty())
    p->audience.erase(track);
  else
    p->audience[track] = peer;
}

bool sfu::is_whip_publisher(GstElement* element, const std::string& room,
                            const std::string& peer) {
  return RTC_SFU(element)->priv->ingest.is_whip(room, peer);
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
    return p->worker && p->end_failed_session(message, why);
  }
  // gst-launch -e: every src pad ends, also those of publishers that left
  // (idle, nothing upstream would end them); the children get the EOS too.
  bool end_of_stream() override {
    if (Worker* w = p->worker) w->call([this] { p->ingest.finish_pads(); });
    return false;
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
      case PROP_TOKEN_SECRET_FILE: p->token_secret_file = str(""); break;
      case PROP_TOKEN_PUBLIC_KEY: p->token_public_key = str(""); break;
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
      case PROP_EOS_ON_LEAVE: p->eos_on_leave = g_value_get_boolean(value); break;
      case PROP_REDIS: p->cluster.redis_url = str(""); break;
      case PROP_NATS: p->cluster.nats_url = str(""); break;
      case PROP_NODE_ID: p->cluster.node_id = str(""); break;
      case PROP_NODE_TTL:
        p->cluster.ttl_ms = g_value_get_uint(value);
        p->cluster.heartbeat_ms = p->cluster.ttl_ms / 3;
        break;
      case PROP_ADVERTISE_URL: p->cluster.advertise_url = str(""); break;
      case PROP_DRAINING:
        // (once: a host does not come back from draining)
        if (g_value_get_boolean(value) && !p->draining.exchange(true))
          p->post([p] { p->drain(); });  // (not PLAYING: nothing to drain)
        break;
      case PROP_ENGINE: p->engine = g_value_get_enum(value); break;
      case PROP_INGRESS: p->ingress = g_value_get_enum(value); break;
      case PROP_UDP_PORT: p->udp_port = g_value_get_uint(value); break;
      case PROP_ANNOUNCED_ADDRESSES: p->announced_addresses = str(""); break;
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
    case PROP_TOKEN_SECRET_FILE: g_value_set_string(value, p->token_secret_file.c_str()); break;
    case PROP_TOKEN_PUBLIC_KEY: g_value_set_string(value, p->token_public_key.c_str()); break;
    case PROP_MAX_PUBLISHERS: g_value_set_uint(value, p->max_publishers); break;
    case PROP_MAX_SUBSCRIBERS: g_value_set_uint(value, p->max_subscribers); break;
    case PROP_MAX_SESSIONS: g_value_set_uint(value, p->max_sessions); break;
    case PROP_MAX_MLINES: g_value_set_uint(value, p->max_mlines); break;
    case PROP_WHEP_SLOTS: g_value_set_uint(value, p->whep_slots); break;
    case PROP_PEER_TIMEOUT: g_value_set_uint(value, p->peer_timeout_ms); break;
    case PROP_ENGINE: g_value_set_enum(value, p->engine); break;
    case PROP_INGRESS: g_value_set_enum(value, p->ingress); break;
    case PROP_UDP_PORT: g_value_set_uint(value, p->egress ? p->egress->port() : p->udp_port); break;
    case PROP_ANNOUNCED_ADDRESSES: g_value_set_string(value, p->announced_addresses.c_str()); break;
    case PROP_TLS_CERTIFICATE: g_value_set_string(value, p->tls_certificate.c_str()); break;
    case PROP_TLS_KEY: g_value_set_string(value, p->tls_key.c_str()); break;
    case PROP_PUBLISHER_ID: g_value_set_string(value, p->publisher_id.c_str()); break;
    case PROP_OUTPUT: g_value_set_enum(value, int(p->output)); break;
    case PROP_EOS_ON_LEAVE: g_value_set_boolean(value, p->eos_on_leave); break;
    case PROP_REDIS: g_value_set_string(value, p->cluster.redis_url.c_str()); break;
    case PROP_NATS: g_value_set_string(value, p->cluster.nats_url.c_str()); break;
    case PROP_NODE_ID: g_value_set_string(value, p->cluster.node_id.c_str()); break;
    case PROP_NODE_TTL: g_value_set_uint(value, p->cluster.ttl_ms); break;
    case PROP_CLUSTER_READY: g_value_set_boolean(value, p->cluster_ready); break;
    case PROP_ADVERTISE_URL: g_value_set_string(value, p->cluster.advertise_url.c_str()); break;
    case PROP_DRAINING: g_value_set_boolean(value, p->draining); break;
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
  install_string(object_class, PROP_TOKEN_SECRET_FILE, "token-secret-file",
                 "File holding the HS256 secret (32 bytes or more) of signed room tokens: JWTs "
                 "with room, sub, grants (publish, subscribe, admin), exp; accepted beside "
                 "auth-token on WHIP, WHEP and join (empty = none)");
  install_string(object_class, PROP_TOKEN_PUBLIC_KEY, "token-public-key",
                 "File holding the P-256 public key (PEM) that verifies ES256 room tokens, as "
                 "token-secret-file does HS256 ones (empty = none)");
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
  install_eos_on_leave(object_class, PROP_EOS_ON_LEAVE);
  install_string(object_class, PROP_REDIS, "redis",
                 "Join a cluster of room hosts: room state in this Redis, redis://HOST:PORT[/DB] "
                 "(with nats and node-id; empty = this host alone)");
  install_string(object_class, PROP_NATS, "nats",
                 "The cluster's NATS, nats://HOST:PORT: events between nodes and the RTP of "
                 "publishers another node has subscribers for");
  install_string(object_class, PROP_NODE_ID, "node-id",
                 "This host's name in the cluster (unique; A-Z a-z 0-9 . _ ~ -)");
  install_uint(object_class, PROP_NODE_TTL, "node-ttl",
               "Milliseconds a silent node counts as alive (heartbeats every third of it); its "
               "participants and publishers leave after it",
               600, 60000, 3000);
  g_object_class_install_property(
      object_class, PROP_CLUSTER_READY,
      g_param_spec_boolean("cluster-ready", "cluster-ready",
                           "Connected to the cluster's Redis and NATS now (false when not in a "
                           "cluster)",
                           FALSE, ro_flags()));
  install_string(object_class, PROP_ADVERTISE_URL, "advertise-url",
                 "Where clients reach this node (its /rtc WebSocket URL), kept with its heartbeat "
                 "in Redis: the other nodes send participants there when they drain");
  g_object_class_install_property(
      object_class, PROP_DRAINING,
      g_param_spec_boolean("draining", "draining",
                           "Set TRUE to drain the host (SIGTERM of rtcmesh-server): WHIP/WHEP "
                           "POSTs get 503 with Retry-After, /rtc connections are closed with "
                           "1001 \"move <url>\" (another node's advertise-url), and in a cluster "
                           "the node is no longer a place to move to; sessions that exist go on",
                           FALSE, rw_flags(true)));
  g_object_class_install_property(
      object_class, PROP_ENGINE,
      g_param_spec_enum("engine", "engine",
                        "What serves subscriber connections (WHEP players, JSON-RPC subscribers): "
                        "native (ICE-lite, DTLS, SRTP of our own on one UDP port, a fixed pool of "
                        "threads; candidates only on address or announced-addresses) or webrtcbin "
                        "(one per subscriber, for comparison)",
                        peer::subscriber_engine_get_type(), int(peer::SubscriberEngine::kNative), rw_flags()));
  g_object_class_install_property(
      object_class, PROP_INGRESS,
      g_param_spec_enum("ingress", "ingress",
                        "What receives remote publishers (WHIP, JSON-RPC publish; not a POST /rtc "
                        "connection's, nor one that offers data channels): native (the engine of "
                        "engine=native on its UDP port: native subscribers get the packets without "
                        "GStreamer in between; with engine=webrtcbin it means webrtcbin) or "
                        "webrtcbin (one per publisher, for comparison)",
                        peer::subscriber_engine_get_type(), int(peer::SubscriberEngine::kNative),
                        rw_flags()));
  install_uint(object_class, PROP_UDP_PORT, "udp-port",
               "UDP port of engine=native, shared by every subscriber (0 = ephemeral; reads "
               "back the bound port once PAUSED); bound on address",
               0, 65535, 0);
  install_string(object_class, PROP_ANNOUNCED_ADDRESSES, "announced-addresses",
                 "Comma-separated addresses written in the host candidates of the connections "
                 "this element serves, for NAT and containers (one per family: IPv4, IPv6); "
                 "empty = the gathered addresses (engine=native: the bound address, or every "
                 "IPv4 address of the host when bound to 0.0.0.0)");
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "Publishers and subscribers with their RTP counters (packets/bytes, NACK, "
                         "PLI, FIR), keyframe requests merged and sent upstream, connection "
                         "failures, data messages relayed to participants and dropped (no "
                         "envelope, nobody of that id), signal-connections (POST /rtc "
                         "connections: the room protocol on their data channel)",
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
  // Data channels: each JSON-RPC participant's subscribe connection; the
  // room relays their messages and the pipeline takes part as publisher-id.
  signals[SIGNAL_DATA_RECEIVED] = install_data_signals(
      object_class, +[](GstElement* e, const std::string& to, std::string data, bool text,
                        bool reliable) -> gboolean {
        return RTC_SFU(e)->priv->send_data(to, std::move(data), text, reliable);
      });

  CapsPtr video = media::sink_template_caps(media::Kind::kVideo);
  CapsPtr audio = media::sink_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio.get()));
  add_data_pads(element_class);  // the pipeline's messages to the participants (as publisher-id)
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
  // gst-inspect-1.0 prints every metadata key: the signals' arguments
  // (it names them arg0, arg1, …).
  gst_element_class_add_static_metadata(
      element_class, "signals",
      "publisher-added (room, publisher): a publisher's tracks are known (WHIP, JSON-RPC publish "
      "or the pipeline's own pads); publisher: its id (the src pads' peer-id). publisher-removed "
      "(room, publisher, reason): it left, timed out or failed. subscriber-added (room, "
      "subscriber): a subscriber connection (JSON-RPC participant or WHEP player) was answered; "
      "subscriber: its id (a WHEP player's is its resource id). subscriber-removed (room, "
      "subscriber, reason): that connection ended. " RTCMESH_DATA_SIGNALS_DOC
      " (rtcsfu: the room's participants, over their subscribe connections; to: a participant "
      "id; the pipeline sends and receives as publisher-id; messages between participants are "
      "relayed, see docs/protocol.md)");
}

static void rtc_sfu_init(RtcSfu* self) {
  self->priv = new RtcSfuPrivate(self);
  new RtcSfuState(self, self->priv);  // the base bin owns it
  keep_source_flags(GST_ELEMENT(self));
}
