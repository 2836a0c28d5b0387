#include "signaling/cluster/cluster_node.h"

#include <stdexcept>

#include "signaling/cluster/nats_bus.h"
#include "signaling/cluster/redis_state.h"
#include "signaling/log.h"
#include "signaling/rooms/rooms.h"
#include "signaling/rooms/service.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::cluster {

namespace {

constexpr int64_t kVersion = 1;  // of the messages below; others are ignored

Json tracks_json(const std::vector<SfuTrack>& tracks) {
  Json a = Json::array();
  for (const SfuTrack& t : tracks)
    a.push(Json::object({{"id", t.id}, {"kind", t.kind}, {"codec", t.codec}}));
  return a;
}

// Throws std::invalid_argument for what is not a list of tracks.
std::vector<SfuTrack> parse_tracks(const Json* j) {
  if (!j || !j->is_array()) throw std::invalid_argument("tracks must be an array");
  std::vector<SfuTrack> out;
  for (const Json& t : j->as_array()) {
    auto id = t.get_string("id"), kind = t.get_string("kind"), codec = t.get_string("codec");
    if (!id || !kind || !codec || (*kind != "audio" && *kind != "video"))
      throw std::invalid_argument("a track needs id, kind (audio|video) and codec");
    out.push_back({*id, *kind, *codec});
  }
  return out;
}

std::string need(const Json& j, const char* key) {
  auto v = j.get_string(key);
  if (!v) throw std::invalid_argument(std::string("no string \"") + key + "\"");
  return *v;
}

std::string need_name(const Json& j, const char* key, bool (*valid)(std::string_view)) {
  std::string v = need(j, key);
  if (!valid(v)) throw std::invalid_argument(std::string("bad \"") + key + "\"");
  return v;
}

// A message of ours (an object with "v": 1); std::invalid_argument otherwise.
Json parse_message(const std::string& data) {
  auto j = Json::parse(data);
  if (!j || !j->is_object()) throw std::invalid_argument("not a JSON object");
  const Json* v = j->find("v");
  if (!v || !v->is_int() || v->as_int() != kVersion) throw std::invalid_argument("no \"v\": 1");
  return std::move(*j);
}

std::string peer_key(const std::string& room, const std::string& peer) {
  return "rtcmesh:peer:" + room + ":" + peer;
}
std::string publisher_key(const std::string& room, const std::string& peer) {
  return "rtcmesh:publisher:" + room + ":" + peer;
}

}  // namespace

std::string check_options(const ClusterOptions& o) {
  bool any = !o.redis_url.empty() || !o.nats_url.empty() || !o.node_id.empty();
  if (!any) return "";
  if (o.redis_url.empty() || o.nats_url.empty() || o.node_id.empty())
    return "--redis, --nats and --node-id go together (a cluster node needs all three)";
  std::string why;
  if (!parse_redis_url(o.redis_url, &why)) return "--redis " + why;
  if (o.nats_url.rfind("nats://", 0) != 0)
    return "--nats takes nats://HOST:PORT, not '" + o.nats_url + "'";
  if (!valid_peer_id(o.node_id))
    return "--node-id must be 1-64 characters of A-Z a-z 0-9 . _ ~ -, not '" + o.node_id + "'";
  if (o.ttl_ms < 2 * o.heartbeat_ms) return "the node TTL must be at least two heartbeats";
  return "";
}

ClusterNode::ClusterNode(GMainContext* ctx, RoomServer& rooms, ClusterOptions options)
    : ctx_(ctx), rooms_(rooms), service_(rooms.service()), o_(std::move(options)) {
  if (std::string why = check_options(o_); !why.empty()) throw std::invalid_argument(why);
  boot_ = std::to_string(g_random_int()) + "." + std::to_string(g_get_real_time());
  std::string why;
  redis_ = std::make_unique<RedisState>(ctx_, *parse_redis_url(o_.redis_url, &why), o_.ttl_ms);
  nats_ = std::make_unique<NatsBus>(ctx_, o_.nats_url, "rtcmesh-" + o_.node_id);
  base_ = rooms_.add_front_end(*this);
  service_.set_events(this);
  nats_->subscribe(kEvents, [this](const std::string&, const std::string& d) { on_event(d); });
  nats_->subscribe(kHeartbeat,
                   [this](const std::string&, const std::string& d) { on_heartbeat(d); });
  nats_->subscribe(relay_subject(o_.node_id),
                   [this](const std::string&, const std::string& d) { on_relay(d); });
  // The server has our subscriptions before we serve anyone (cnats sends
  // them in the background): no event of another node is missed from here on.
  if (!nats_->flush()) GST_WARNING("cluster: NATS did not confirm the subscriptions in 2 s");
  nats_->on_state = [this](bool up) {
    if (up) {
      g_printerr("rtcmesh-server: NATS is back; announcing this node's state\n");
      heartbeat();
    } else {
      g_printerr("rtcmesh-server: lost NATS; local rooms go on, cnats reconnects\n");
    }
  };
  // What other nodes hold now, before their next heartbeat: their keys.
  redis_->scan("rtcmesh:node:*", [this](std::map<std::string, std::string> found) {
    for (const auto& [key, value] : found) {
      auto j = Json::parse(value);
      if (!j) continue;
      std::string id = key.substr(std::string("rtcmesh:node:").size());
      if (id == o_.node_id || !valid_peer_id(id)) continue;
      try {
        apply_state(id, *j);
      } catch (const std::invalid_argument& e) {
        malformed("redis rtcmesh:node:*", e.what());
      }
    }
  });
  heartbeat();
  expire();
  GST_INFO("cluster: node %s on %s and %s", o_.node_id.c_str(), o_.redis_url.c_str(),
           o_.nats_url.c_str());
}

ClusterNode::~ClusterNode() {
  beat_.reset();
  check_.reset();
  service_.set_events(nullptr);
  // Other nodes see this node leave at once rather than after the TTL.
  send(kEvents, Json::object({{"type", "node-left"}}));
  // Its keys go now rather than after the TTL.
  redis_->erase_all_now();
  std::vector<ConnId> conns;
  for (const auto& [conn, r] : remotes_) conns.push_back(conn);
  remotes_.clear();
  remote_peers_.clear();
  for (ConnId c : conns) service_.closed(c);
  rooms_.remove_front_end(base_);
  nats_.reset();
  redis_.reset();
}

bool ClusterNode::ready() const { return redis_->connected() && nats_->connected(); }

// --- this node's events, out ---

void ClusterNode::send(const std::string& subject, Json message) {
  message.set("v", kVersion);
  message.set("node", o_.node_id);
  message.set("boot", boot_);
  message.set("seq", ++seq_);
  nats_->publish(subject, message.dump());
}

void ClusterNode::joined(const std::string& room, const std::string& peer, ConnId conn) {
  if (remote(conn)) return;
  local_[{room, peer}] = conn;
  redis_->put(peer_key(room, peer), o_.node_id);
  send(kEvents, Json::object({{"type", "joined"}, {"room", room}, {"peer", peer}}));
}

void ClusterNode::left(const std::string& room, const std::string& peer,
                       const std::string& reason, ConnId conn) {
  if (remote(conn)) {
    remote_peers_.erase({room, peer});
    auto it = remotes_.find(conn);
    if (it != remotes_.end()) {
      if (auto n = nodes_.find(it->second.node); n != nodes_.end()) n->second.conns.erase(conn);
      remotes_.erase(it);
    }
    return;
  }
  local_.erase({room, peer});
  redis_->erase(peer_key(room, peer));
  send(kEvents, Json::object({{"type", "left"}, {"room", room}, {"peer", peer}, {"reason", reason}}));
}

void ClusterNode::room_note(const std::string& room, const std::string& from,
                            const msg::Note& note) {
  // Its own node told the cluster.
  if (remote_peers_.count({room, from}) || hosted_.count({room, from})) return;
  if (auto* j = std::get_if<msg::PublisherJoined>(&note)) {
    local_publishers_[{room, from}] = j->tracks;
    redis_->put(publisher_key(room, from),
                Json::object({{"node", o_.node_id}, {"tracks", tracks_json(j->tracks)}}).dump());
    send(kEvents, Json::object({{"type", "publisher-joined"},
                                {"room", room},
                                {"peer", from},
                                {"tracks", tracks_json(j->tracks)}}));
  } else if (auto* m = std::get_if<msg::PeerMuted>(&note)) {
    send(kEvents, Json::object({{"type", "muted"},
                                {"room", room},
                                {"peer", from},
                                {"audio", m->audio},
                                {"video", m->video}}));
  } else if (auto* l = std::get_if<msg::PublisherLeft>(&note)) {
    if (!local_publishers_.erase({room, from})) return;
    redis_->erase(publisher_key(room, from));
    send(kEvents, Json::object({{"type", "publisher-left"},
                                {"room", room},
                                {"peer", from},
                                {"reason", l->reason}}));
  }
}

// Notes the room service has for another node's participant: the mesh relay's
// go to its node; the rest (peer-joined, …) its node sends it itself.
void ClusterNode::deliver(ConnId conn, const msg::Note& note) {
  auto it = remotes_.find(conn);
  if (it == remotes_.end()) return;
  const Remote& r = it->second;
  Json m = Json::object({{"room", r.room}, {"to", r.peer}});
  if (auto* o = std::get_if<msg::RelayedOffer>(&note)) {
    m.set("type", "offer").set("from", o->from).set("sdp", o->sdp);
    m.set("negotiationId", o->negotiation_id);
  } else if (auto* a = std::get_if<msg::RelayedAnswer>(&note)) {
    m.set("type", "answer").set("from", a->from).set("sdp", a->sdp);
    m.set("negotiationId", a->negotiation_id);
  } else if (auto* c = std::get_if<msg::RelayedCandidate>(&note)) {
    m.set("type", "candidate").set("from", c->from).set("candidate", c->candidate);
    if (c->mid) m.set("sdpMid", *c->mid);
    if (c->mline_index) m.set("sdpMLineIndex", *c->mline_index);
    m.set("negotiationId", c->negotiation_id);
  } else {
    return;
  }
  send(relay_subject(r.node), std::move(m));
}

Json ClusterNode::state() const {
  Json peers = Json::array(), publishers = Json::array();
  for (const auto& [key, conn] : local_)
    peers.push(Json::object({{"room", key.first}, {"peer", key.second}}));
  for (const auto& [key, tracks] : local_publishers_)
    publishers.push(Json::object(
        {{"room", key.first}, {"peer", key.second}, {"tracks", tracks_json(tracks)}}));
  return Json::object({{"peers", peers}, {"publishers", publishers}});
}

void ClusterNode::heartbeat() {
  Json s = state();
  s.set("url", o_.advertise_url);
  s.set("draining", draining_);
  // The whole state rides every heartbeat: a node that missed events (NATS
  // was away, it started later) is right again within one heartbeat.
  redis_->put("rtcmesh:node:" + o_.node_id, s.dump());
  redis_->refresh();
  send(kHeartbeat, std::move(s));
  beat_ = add_timer(ctx_, o_.heartbeat_ms, [this] { heartbeat(); });
}

void ClusterNode::expire() {
  std::vector<std::string> gone;
  for (const auto& [id, n] : nodes_)
    if (now() - n.last > std::chrono::milliseconds(o_.ttl_ms)) gone.push_back(id);
  for (const auto& id : gone) node_gone(id, "timeout");
  check_ = add_timer(ctx_, 100, [this] { expire(); });
}

// --- other nodes' messages, in ---

void ClusterNode::malformed(const char* subject, const std::string& why) {
  // Counted always, logged for the first few only (a flood must not flood the log).
  if (malformed_++ < 5)
    g_printerr("rtcmesh-server: ignoring a malformed message on %s: %s\n", subject, why.c_str());
}

ClusterNode::Node& ClusterNode::node(const std::string& id) {
  auto [it, added] = nodes_.try_emplace(id);
  it->second.last = now();
  if (added) GST_INFO("cluster: node %s seen", id.c_str());
  return it->second;
}

void ClusterNode::on_event(const std::string& data) {
  try {
    Json m = parse_message(data);
    const Json* j = &m;
    std::string from = need_name(*j, "node", valid_peer_id);
    if (from == o_.node_id) return;
    std::string type = need(*j, "type");
    if (type == "node-left") return node_gone(from, "left");
    std::string room = need_name(*j, "room", valid_room_name);
    std::string peer = need_name(*j, "peer", valid_peer_id);
    // (all checked before the sender counts as a node: junk changes nothing)
    std::vector<SfuTrack> tracks;
    const Json* audio = j->find("audio");
    const Json* video = j->find("video");
    if (type == "publisher-joined") {
      tracks = parse_tracks(j->find("tracks"));
    } else if (type == "muted") {
      if (!audio || !audio->is_bool() || !video || !video->is_bool())
        throw std::invalid_argument("muted: \"audio\" and \"video\" must be true or false");
    } else if (type != "joined" && type != "left" && type != "publisher-left") {
      throw std::invalid_argument("unknown type '" + type + "'");
    }
    newer(node(from), *j);
    if (type == "joined") {
      remote_joined(from, room, peer);
    } else if (type == "left") {
      remote_left(room, peer, j->get_string("reason").value_or("left"));
    } else if (type == "publisher-joined") {
      remote_publisher(from, room, peer, std::move(tracks));
    } else if (type == "publisher-left") {
      remote_unpublished(from, room, peer, j->get_string("reason").value_or("left"));
    } else {  // muted
      // As if its participant had said `mute` here: the record, and the local participants told.
      auto it = remote_peers_.find({room, peer});
      if (it != remote_peers_.end())
        service_.call(it->second, msg::Mute{audio->as_bool(), video->as_bool()}, [](msg::Reply) {});
    }
  } catch (const std::invalid_argument& e) {
    malformed(kEvents, e.what());
  }
}

void ClusterNode::on_heartbeat(const std::string& data) {
  try {
    Json m = parse_message(data);
    const Json* j = &m;
    std::string from = need_name(*j, "node", valid_peer_id);
    if (from == o_.node_id) return;
    apply_state(from, *j);
  } catch (const std::invalid_argument& e) {
    malformed(kHeartbeat, e.what());
  }
}

bool ClusterNode::newer(Node& n, const Json& m) {
  const Json* seq = m.find("seq");
  auto boot = m.get_string("boot");
  if (!seq || !seq->is_int() || !boot) return true;  // (a sender without them: as it comes)
  if (*boot != n.boot) {  // first message of this process of the node
    n.boot = *boot;
    n.seq = seq->as_int();
    return true;
  }
  if (seq->as_int() < n.seq) return false;
  n.seq = seq->as_int();
  return true;
}

void ClusterNode::apply_state(const std::string& id, const Json& s) {
  const Json* peers = s.find("peers");
  const Json* pubs = s.find("publishers");
  if (!peers || !peers->is_array() || !pubs || !pubs->is_array())
    throw std::invalid_argument("a node state needs peers and publishers arrays");
  std::set<std::pair<std::string, std::string>> want;
  std::map<std::pair<std::string, std::string>, std::vector<SfuTrack>> want_pubs;
  for (const Json& p : peers->as_array())
    want.insert({need_name(p, "room", valid_room_name), need_name(p, "peer", valid_peer_id)});
  for (const Json& p : pubs->as_array())
    want_pubs[{need_name(p, "room", valid_room_name), need_name(p, "peer", valid_peer_id)}] =
        parse_tracks(p.find("tracks"));
  Node& n = node(id);
  if (!newer(n, s)) return;  // (alive, but this state is behind an event applied already)
  n.url = s.get_string("url").value_or("");
  if (const Json* d = s.find("draining"); d && d->is_bool()) n.draining = d->as_bool();
  for (ConnId c : n.conns) service_.alive(c, now());
  // Leaves and unpublishes this node missed, then joins and publishes.
  std::vector<std::pair<std::string, std::string>> extra;
  for (ConnId c : n.conns) {
    const Remote& r = remotes_.at(c);
    if (!want.count({r.room, r.peer})) extra.push_back({r.room, r.peer});
  }
  for (const auto& [room, peer] : extra) remote_left(room, peer, "left");
  std::vector<std::pair<std::string, std::string>> gone_pubs;
  for (const auto& [key, tracks] : n.publishers)
    if (!want_pubs.count(key)) gone_pubs.push_back(key);
  for (const auto& [room, peer] : gone_pubs) remote_unpublished(id, room, peer, "left");
  for (const auto& [room, peer] : want) remote_joined(id, room, peer);
  for (auto& [key, tracks] : want_pubs)
    if (!nodes_[id].publishers.count(key)) remote_publisher(id, key.first, key.second, tracks);
}

void ClusterNode::on_relay(const std::string& data) {
  try {
    Json m = parse_message(data);
    const Json* j = &m;
    std::string room = need_name(*j, "room", valid_room_name);
    if (auto type = j->get_string("type"); type && (*type == "want" || *type == "keyframe")) {
      std::string peer = need_name(*j, "peer", valid_peer_id);
      std::string track = need(*j, "track");
      if (!local_publishers_.count({room, peer}) || !media_) return;  // gone meanwhile
      if (*type == "want")
        media_->wanted(room, peer, track);
      else
        media_->keyframe_wanted(room, peer, track);
      return;
    }
    std::string to = need_name(*j, "to", valid_peer_id);
    std::string from = need_name(*j, "from", valid_peer_id);
    std::string type = need(*j, "type");
    Json nid = j->find("negotiationId") ? *j->find("negotiationId") : Json();
    msg::Note note;
    if (type == "offer") {
      note = msg::RelayedOffer{from, need(*j, "sdp"), nid};
    } else if (type == "answer") {
      note = msg::RelayedAnswer{from, need(*j, "sdp"), nid};
    } else if (type == "candidate") {
      msg::RelayedCandidate c{from, need(*j, "candidate"), j->get_string("sdpMid"), {}, nid};
      if (const Json* i = j->find("sdpMLineIndex"); i && i->is_int()) c.mline_index = i->as_int();
      note = std::move(c);
    } else {
      throw std::invalid_argument("unknown type '" + type + "'");
    }
    if (!local_.count({room, to})) return;  // left meanwhile
    service_.tell_peer(room, to, note);
  } catch (const std::invalid_argument& e) {
    malformed("rtcmesh.relay", e.what());
  }
}

void ClusterNode::remote_joined(const std::string& id, const std::string& room,
                                const std::string& peer) {
  if (remote_peers_.count({room, peer})) return;
  ConnId conn = base_ + next_++;
  service_.open(conn, now(), /*authorized=*/true);
  remotes_[conn] = Remote{id, room, peer};
  remote_peers_[{room, peer}] = conn;
  nodes_[id].conns.insert(conn);
  auto reply = service_.call(conn, msg::Join{room, peer, std::nullopt}, [](msg::Reply) {});
  if (reply && reply->error) {
    // Two nodes took the same id at once, or the room is full here: the
    // participant stays on its node only.
    GST_WARNING("cluster: %s of node %s cannot join room %s here: %s", peer.c_str(), id.c_str(),
                room.c_str(), reply->error->message.c_str());
    remotes_.erase(conn);
    remote_peers_.erase({room, peer});
    nodes_[id].conns.erase(conn);
    service_.closed(conn);
  }
}

void ClusterNode::remote_left(const std::string& room, const std::string& peer,
                              const std::string& reason) {
  auto it = remote_peers_.find({room, peer});
  if (it == remote_peers_.end()) return;
  service_.end(it->second, reason);  // left() forgets it
}

void ClusterNode::remote_publisher(const std::string& id, const std::string& room,
                                   const std::string& peer, std::vector<SfuTrack> tracks) {
  auto& pubs = nodes_[id].publishers;
  if (pubs.count({room, peer})) return;
  pubs[{room, peer}] = tracks;
  hosted_.insert({room, peer});  // (its notes are not this node's to announce)
  if (media_ && media_->remote_publisher(id, room, peer, tracks)) return;
  hosted_.erase({room, peer});
  service_.tell_room(room, peer, msg::PublisherJoined{room, peer, std::move(tracks)});
}

void ClusterNode::remote_unpublished(const std::string& id, const std::string& room,
                                     const std::string& peer, const std::string& reason) {
  auto n = nodes_.find(id);
  if (n == nodes_.end() || !n->second.publishers.erase({room, peer})) return;
  unpublished(room, peer, reason);
}

void ClusterNode::unpublished(const std::string& room, const std::string& peer,
                              const std::string& reason) {
  if (hosted_.count({room, peer})) {
    if (media_) media_->remote_publisher_left(room, peer, reason);
    hosted_.erase({room, peer});
  } else {
    service_.tell_room(room, peer, msg::PublisherLeft{room, peer, reason});
  }
}

void ClusterNode::node_gone(const std::string& id, const char* reason) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  Node n = std::move(it->second);
  nodes_.erase(it);
  nodes_lost_++;
  g_printerr("rtcmesh-server: node %s %s: %zu participant(s) and %zu publisher(s) leave\n",
             id.c_str(), std::string(reason) == "left" ? "left the cluster" : "lost (no heartbeat)",
             n.conns.size(), n.publishers.size());
  for (const auto& [key, tracks] : n.publishers) unpublished(key.first, key.second, reason);
  for (ConnId c : n.conns)
    if (remotes_.count(c)) service_.end(c, reason);
}

// --- draining ---

std::string ClusterNode::drain() {
  if (!draining_) {
    draining_ = true;
    heartbeat();  // the others know at once, not at the next beat
  }
  return move_url();
}

std::string ClusterNode::move_url() const {
  for (const auto& [id, n] : nodes_)  // (by id: every drained node picks the same)
    if (!n.draining && !n.url.empty()) return n.url;
  return "";
}

// --- media between nodes ---

void ClusterNode::set_media(ClusterMedia* media) {
  media_ = media;
  if (!media_) return;
  for (auto& [id, n] : nodes_)
    for (auto& [key, tracks] : n.publishers)
      if (!hosted_.count(key) && media_->remote_publisher(id, key.first, key.second, tracks))
        hosted_.insert(key);
}

std::string ClusterNode::media_subject(const std::string& node, const std::string& room,
                                       const std::string& peer, const std::string& track) {
  // Names may hold '.', NATS' token separator: '%' stands for it ('%' is in
  // no name), so every name stays one token.
  auto token = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '.' ? std::string("%2E") : std::string(1, c);
    return out.empty() ? std::string("%") : out;
  };
  return "rtcmesh.media." + token(node) + "." + token(room) + "." + token(peer) + "." + token(track);
}

uint64_t ClusterNode::subscribe_media(const std::string& subject,
                                      std::function<void(const void*, size_t)> handler) {
  return nats_->subscribe_direct(subject, [this, handler = std::move(handler)](const void* d,
                                                                              size_t n) {
    media_in_ += n;
    handler(d, n);
  });
}

void ClusterNode::unsubscribe_media(uint64_t id) { nats_->unsubscribe(id); }

bool ClusterNode::publish_media(const std::string& subject, const void* data, size_t size) {
  media_out_ += size;
  return nats_->publish(subject, std::string_view(static_cast<const char*>(data), size));
}

void ClusterNode::want(const std::string& node, const std::string& room, const std::string& peer,
                       const std::string& track) {
  send(relay_subject(node), Json::object({{"type", "want"}, {"room", room}, {"peer", peer},
                                          {"track", track}}));
}

void ClusterNode::request_keyframe(const std::string& node, const std::string& room,
                                   const std::string& peer, const std::string& track) {
  send(relay_subject(node), Json::object({{"type", "keyframe"}, {"room", room}, {"peer", peer},
                                          {"track", track}}));
}

// --- figures ---

ClusterNode::Stats ClusterNode::stats() const {
  Stats s;
  s.nodes_seen = nodes_.size();
  s.remote_participants = remotes_.size();
  for (const auto& [id, n] : nodes_) s.remote_publishers += n.publishers.size();
  s.nats_bytes_out = nats_->bytes_out();
  s.nats_bytes_in = nats_->bytes_in();
  s.malformed = malformed_ + media_malformed_;
  s.media_bytes_out = media_out_;
  s.media_bytes_in = media_in_;
  s.nodes_lost = nodes_lost_;
  s.redis_reconnects = redis_->reconnects();
  s.nats_reconnects = nats_->reconnects();
  return s;
}

void ClusterNode::metrics(Metrics& m) const {
  Stats s = stats();
  Metrics::Labels node = {{"node", o_.node_id}};
  m.gauge("rtcmesh_cluster_ready", "1 when connected to Redis and NATS", node, ready() ? 1 : 0);
  m.gauge("rtcmesh_cluster_nodes_seen", "Other nodes alive (heartbeat within the TTL)", node,
          s.nodes_seen);
  m.gauge("rtcmesh_cluster_remote_participants", "Participants of other nodes in this node's rooms",
          node, s.remote_participants);
  m.gauge("rtcmesh_cluster_remote_publishers", "Publishers of other nodes in this node's rooms",
          node, s.remote_publishers);
  m.counter("rtcmesh_cluster_nats_bytes_sent_total", "Bytes this node published on NATS", node,
            s.nats_bytes_out);
  m.counter("rtcmesh_cluster_nats_bytes_received_total", "Bytes this node received from NATS",
            node, s.nats_bytes_in);
  m.counter("rtcmesh_cluster_media_bytes_sent_total",
            "RTP bytes of this node's publishers sent to other nodes over NATS", node,
            s.media_bytes_out);
  m.counter("rtcmesh_cluster_media_bytes_received_total",
            "RTP bytes of other nodes' publishers received over NATS", node, s.media_bytes_in);
  m.counter("rtcmesh_cluster_malformed_messages_total",
            "NATS messages ignored because they were malformed", node, s.malformed);
  m.counter("rtcmesh_cluster_nodes_lost_total", "Nodes whose heartbeat stopped or that left", node,
            s.nodes_lost);
  m.counter("rtcmesh_cluster_redis_reconnects_total", "Times Redis came back after a loss", node,
            s.redis_reconnects);
  m.counter("rtcmesh_cluster_nats_reconnects_total", "Times NATS came back after a loss", node,
            s.nats_reconnects);
}

}  // namespace rtcmesh::sig::cluster
