#include "signaling/rooms.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "signaling/log.h"
#include "signaling/sdp.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Thrown inside method handlers, turned into the error response.
struct RpcFailure {
  rpc::Error error;
};

[[noreturn]] void fail(int code, std::string message, Json data = {}) {
  throw RpcFailure{rpc::Error{code, std::move(message), std::move(data)}};
}

// Reads named params; anything wrong is -32602 naming the member.
class Params {
 public:
  Params(const Json& params, const std::string& method) : method_(method) {
    if (params.is_null()) return;
    if (!params.is_object())
      fail(rpc::kInvalidParams, method + ": params must be an object (by name)");
    p_ = &params;
  }
  const Json* get(const char* key) const { return p_ ? p_->find(key) : nullptr; }
  std::optional<std::string> opt_string(const char* key) const {
    const Json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) bad(key, "must be a string");
    return v->as_string();
  }
  std::string string(const char* key) const {
    auto v = opt_string(key);
    if (!v) bad(key, "is required");
    return *v;
  }
  std::optional<int64_t> opt_uint(const char* key) const {
    const Json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_int() || v->as_int() < 0) bad(key, "must be a non-negative integer");
    return v->as_int();
  }
  // String or integer, passed through as is.
  std::optional<Json> opt_id(const char* key) const {
    const Json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string() && !v->is_int()) bad(key, "must be a string or an integer");
    if (v->is_string() && v->as_string().size() > 256) bad(key, "is longer than 256 characters");
    return *v;
  }
  [[noreturn]] void bad(const char* key, const char* why) const {
    fail(rpc::kInvalidParams, method_ + ": \"" + key + "\" " + why);
  }

 private:
  const Json* p_ = nullptr;
  const std::string& method_;
};

std::string quoted(std::string_view s) {
  return "'" + std::string(s.substr(0, 64)) + (s.size() > 64 ? "…'" : "'");
}

}  // namespace

const char* to_string(RoomMode mode) {
  switch (mode) {
    case RoomMode::kMesh:
      return "mesh";
    case RoomMode::kSfu:
      return "sfu";
    case RoomMode::kMcu:
      return "mcu";
  }
  return "mesh";
}

std::optional<RoomMode> parse_room_mode(std::string_view name) {
  if (iequals(name, "mesh")) return RoomMode::kMesh;
  if (iequals(name, "sfu")) return RoomMode::kSfu;
  if (iequals(name, "mcu")) return RoomMode::kMcu;
  return std::nullopt;
}

bool valid_room_name(std::string_view name) {
  return valid_name(name);
}

bool valid_peer_id(std::string_view id) {
  return valid_name(id);
}

struct RoomServer::Impl {
  struct Conn {
    Time last_seen;
    bool authorized = false;
    std::string room, peer;  // room empty: not joined
  };
  struct Peer {
    ConnId conn = 0;
    uint64_t seq = 0;  // join order across the server: a later joiner has a larger seq
    std::map<std::string, unsigned> candidates_to;  // relayed this negotiation, per recipient
  };
  struct Room {
    RoomMode mode = RoomMode::kMesh;
    bool persistent = false;
    std::map<std::string, Peer> peers;
    std::vector<std::string> ordered() const {
      std::vector<std::pair<uint64_t, std::string>> v;
      for (const auto& [id, p] : peers) v.emplace_back(p.seq, id);
      std::sort(v.begin(), v.end());
      std::vector<std::string> out;
      for (auto& [seq, id] : v) out.push_back(std::move(id));
      return out;
    }
  };

  Impl(Config c, Send s) : cfg(std::move(c)), send(std::move(s)) {}

  Config cfg;
  Send send;
  std::unordered_map<ConnId, Conn> conns;
  std::map<std::string, Room> rooms;
  uint64_t next_seq = 1;

  void emit(ConnId conn, const std::string& text) {
    try {
      if (send) send(conn, text);
    } catch (const std::exception& e) {
      GST_ERROR("send to connection %" G_GUINT64_FORMAT " threw: %s", conn, e.what());
    } catch (...) {
      GST_ERROR("send to connection %" G_GUINT64_FORMAT " threw", conn);
    }
  }
  void notify(ConnId conn, std::string_view method, Json params) {
    emit(conn, rpc::notification(method, std::move(params)));
  }

  Conn& conn_for(ConnId id, Time now) {
    auto [it, added] = conns.try_emplace(id);
    if (added) it->second.last_seen = now;
    return it->second;
  }

  // --- frames ---

  void message(ConnId id, std::string_view text, Time now) {
    Conn& c = conn_for(id, now);
    c.last_seen = std::max(c.last_seen, now);
    if (text.size() > cfg.max_message) {
      too_large(id, text);
      return;
    }
    rpc::Message m = rpc::parse(text);
    if (m.error) {
      GST_DEBUG("connection %" G_GUINT64_FORMAT ": %s", id, m.error->message.c_str());
      emit(id, rpc::error(Json(), *m.error));
      return;
    }
    if (m.batch && m.items.size() > cfg.max_batch) {
      emit(id, rpc::error(Json(),
                          {rpc::kInvalidRequest,
                           "batch of " + std::to_string(m.items.size()) +
                               " requests is over the limit of " + std::to_string(cfg.max_batch),
                           Json::object({{"limit", cfg.max_batch}})}));
      return;
    }
    Json replies = Json::array();
    for (const rpc::Item& item : m.items) {
      Json reply = handle_item(id, item, now);
      if (reply.is_null()) continue;
      if (m.batch)
        replies.push(std::move(reply));
      else
        emit(id, reply.dump());
    }
    // A batch of notifications only gets no reply at all.
    if (m.batch && replies.size() > 0) emit(id, replies.dump());
  }

  // The frame is not processed; its id is recovered (libsoup already bounds
  // it to 4×M) so a client's pending call fails at once instead of timing out.
  void too_large(ConnId id, std::string_view text) {
    Json req_id;
    rpc::Message m = rpc::parse(text);
    if (!m.error && !m.batch && m.items.size() == 1 &&
        m.items[0].kind == rpc::Item::Kind::kRequest && m.items[0].request.has_id)
      req_id = m.items[0].request.id;
    GST_INFO("connection %" G_GUINT64_FORMAT ": message of %zu bytes over the %zu byte limit", id,
             text.size(), cfg.max_message);
    emit(id,
         rpc::error(req_id, {rpc::kTooLarge,
                             "message of " + std::to_string(text.size()) +
                                 " bytes is over the limit of " + std::to_string(cfg.max_message),
                             Json::object({{"limit", cfg.max_message}})}));
  }

  // The reply object for one item, or null for none.
  Json handle_item(ConnId id, const rpc::Item& item, Time now) {
    switch (item.kind) {
      case rpc::Item::Kind::kInvalid:
        return rpc::error_object(item.id, item.error);
      case rpc::Item::Kind::kResponse:
        // We send no requests yet; never answer a response.
        GST_DEBUG("connection %" G_GUINT64_FORMAT ": ignoring a response", id);
        return {};
      case rpc::Item::Kind::kRequest:
        break;
    }
    const rpc::Request& req = item.request;
    Json result;
    std::optional<rpc::Error> error;
    try {
      result = dispatch(id, req, now);
    } catch (const RpcFailure& f) {
      error = f.error;
    } catch (const std::exception& e) {
      GST_ERROR("%s failed: %s", req.method.c_str(), e.what());
      error = rpc::Error{rpc::kInternalError, std::string("internal error: ") + e.what(), {}};
    }
    if (req.notification()) {
      if (error)
        GST_DEBUG("connection %" G_GUINT64_FORMAT ": notification %s failed (%d %s)", id,
                  req.method.c_str(), error->code, error->message.c_str());
      return {};
    }
    if (error) return rpc::error_object(req.id, *error);
    return rpc::result_object(req.id, std::move(result));
  }

  Json dispatch(ConnId id, const rpc::Request& req, Time now) {
    const std::string& m = req.method;
    if (m == "join") return join(id, Params(req.params, m));
    if (m == "leave") return leave(id, Params(req.params, m));
    if (m == "list") return list(id, Params(req.params, m));
    if (m == "offer" || m == "answer" || m == "candidate")
      return relay(id, m, Params(req.params, m));
    if (m == "ping") {
      (void)Params(req.params, m);
      return Json::object();
    }
    if (m == "publish")
      fail(rpc::kMethodNotFound,
           "publish: SFU/MCU media is not available on this server yet (mesh rooms only)");
    fail(rpc::kMethodNotFound, "no method " + quoted(m));
  }

  // --- methods ---

  void check_token(Conn& c, const std::optional<std::string>& token) {
    if (cfg.token.empty() || c.authorized) return;
    if (!token) fail(rpc::kUnauthorized, "this server needs a \"token\"");
    if (!constant_time_equal(*token, cfg.token)) fail(rpc::kUnauthorized, "wrong token");
    c.authorized = true;
  }

  Json join(ConnId id, const Params& p) {
    Conn& c = conns.at(id);
    std::string room_name = p.string("room");
    if (!valid_room_name(room_name))
      fail(rpc::kInvalidParams,
           "join: room " + quoted(room_name) + " must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
    std::optional<std::string> peer = p.opt_string("peer");
    if (peer && !valid_peer_id(*peer))
      fail(rpc::kInvalidParams,
           "join: peer " + quoted(*peer) + " must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
    check_token(c, p.opt_string("token"));
    if (!c.room.empty())
      fail(rpc::kDuplicatePeer,
           "already joined room " + quoted(c.room) + " as " + quoted(c.peer) + "; leave first",
           Json::object({{"room", c.room}, {"peer", c.peer}}));

    auto it = rooms.find(room_name);
    if (it == rooms.end()) {
      if (rooms.size() >= cfg.max_rooms)
        fail(rpc::kRoomFull,
             "server full: it has " + std::to_string(cfg.max_rooms) + " rooms, the limit",
             Json::object({{"limit", cfg.max_rooms}}));
    } else {
      if (it->second.peers.size() >= cfg.max_peers_per_room)
        fail(rpc::kRoomFull,
             "room " + quoted(room_name) + " is full (" + std::to_string(cfg.max_peers_per_room) +
                 " peers)",
             Json::object({{"limit", cfg.max_peers_per_room}}));
      if (peer && it->second.peers.count(*peer))
        fail(rpc::kDuplicatePeer,
             "peer " + quoted(*peer) + " is already in room " + quoted(room_name));
    }
    if (it == rooms.end()) {
      it = rooms.emplace(room_name, Room{}).first;
      it->second.mode = cfg.default_mode;
      GST_INFO("room %s created (%s)", room_name.c_str(), to_string(cfg.default_mode));
    }
    Room& room = it->second;
    std::string peer_id;
    if (peer) {
      peer_id = *peer;
    } else {
      do peer_id = random_hex(8);
      while (room.peers.count(peer_id));
    }
    std::vector<std::string> others = room.ordered();
    room.peers[peer_id] = Peer{id, next_seq++, {}};
    c.room = room_name;
    c.peer = peer_id;
    GST_INFO("connection %" G_GUINT64_FORMAT " joined room %s as %s (%zu peers)", id,
             room_name.c_str(), peer_id.c_str(), room.peers.size());

    for (const std::string& other : others)
      notify(room.peers.at(other).conn, "peer-joined",
             Json::object({{"room", room_name}, {"peer", peer_id}}));

    Json peers = Json::array();
    for (const std::string& other : others) peers.push(other);
    Json ice = Json::array();
    for (const IceServer& s : cfg.ice_servers) {
      Json e = Json::object({{"urls", Json(Json::Array{s.url})}});
      if (!s.username.empty()) e.set("username", s.username);
      if (!s.credential.empty()) e.set("credential", s.credential);
      ice.push(std::move(e));
    }
    return Json::object({{"room", room_name},
                         {"peer", peer_id},
                         {"mode", to_string(room.mode)},
                         {"peers", std::move(peers)},
                         {"publishers", Json::array()},
                         {"iceServers", std::move(ice)}});
  }

  // Takes the peer out of its room and tells the others.
  void remove_peer(Conn& c, const char* reason) {
    if (c.room.empty()) return;
    std::string room_name = std::move(c.room), peer_id = std::move(c.peer);
    c.room.clear();
    c.peer.clear();
    auto it = rooms.find(room_name);
    if (it == rooms.end()) return;
    Room& room = it->second;
    room.peers.erase(peer_id);
    for (auto& [other, p] : room.peers) p.candidates_to.erase(peer_id);
    GST_INFO("peer %s left room %s (%s, %zu left)", peer_id.c_str(), room_name.c_str(), reason,
             room.peers.size());
    for (const std::string& other : room.ordered())
      notify(room.peers.at(other).conn, "peer-left",
             Json::object({{"room", room_name}, {"peer", peer_id}, {"reason", reason}}));
    if (room.peers.empty() && !room.persistent) {
      rooms.erase(it);
      GST_INFO("room %s closed (empty)", room_name.c_str());
    }
  }

  Json leave(ConnId id, const Params&) {
    Conn& c = conns.at(id);
    if (c.room.empty()) fail(rpc::kNotJoined, "leave: not in a room");
    remove_peer(c, "left");
    return Json::object();
  }

  Json list(ConnId id, const Params& p) {
    std::optional<std::string> only = p.opt_string("room");
    check_token(conns.at(id), p.opt_string("token"));
    Json out = Json::array();
    auto entry = [&](const std::string& name, const Room& r, bool with_peers) {
      Json e =
          Json::object({{"room", name}, {"mode", to_string(r.mode)}, {"count", r.peers.size()}});
      if (with_peers) {
        Json peers = Json::array();
        for (const std::string& peer : r.ordered()) peers.push(peer);
        e.set("peers", std::move(peers));
      }
      out.push(std::move(e));
    };
    if (only) {
      auto it = rooms.find(*only);
      if (it != rooms.end()) entry(it->first, it->second, true);
    } else {
      for (const auto& [name, r] : rooms) entry(name, r, false);
    }
    return Json::object({{"rooms", std::move(out)}});
  }

  Json relay(ConnId id, const std::string& method, const Params& p) {
    Conn& c = conns.at(id);
    if (c.room.empty()) fail(rpc::kNotJoined, method + ": join a room first");
    Room& room = rooms.at(c.room);
    std::optional<std::string> to = p.opt_string("to");
    if (room.mode != RoomMode::kMesh) {
      if (!to)
        fail(rpc::kMethodNotFound, method + ": SFU/MCU media is not available on this server yet");
      fail(rpc::kInvalidParams, method + ": peers of a " + to_string(room.mode) +
                                    " room do not connect to each other (\"to\")");
    }
    if (!to) p.bad("to", "is required");
    if (*to == c.peer) p.bad("to", "is yourself");
    auto target_it = room.peers.find(*to);
    if (target_it == room.peers.end())
      fail(rpc::kUnknownPeer, method + ": no peer " + quoted(*to) + " in room " + quoted(c.room),
           Json::object({{"peer", *to}}));
    Peer& self = room.peers.at(c.peer);
    Peer& target = target_it->second;

    Json out = Json::object({{"from", c.peer}});
    if (method == "offer" || method == "answer") {
      std::string sdp = p.string("sdp");
      try {
        validate_offer(sdp);
      } catch (const SdpError& e) {
        fail(rpc::kInvalidParams, method + ": invalid SDP: " + e.what());
      }
      // The later joiner offers; the earlier one answers (no glare).
      bool offerer = self.seq > target.seq;
      if (method == "offer" && !offerer)
        fail(rpc::kInvalidParams,
             "offer: " + quoted(*to) + " joined after you, so it sends the offer",
             Json::object({{"offerer", *to}}));
      if (method == "answer" && offerer)
        fail(rpc::kInvalidParams,
             "answer: " + quoted(*to) + " joined before you, so you send the offer",
             Json::object({{"offerer", c.peer}}));
      self.candidates_to.erase(*to);
      target.candidates_to.erase(c.peer);
      out.set("sdp", std::move(sdp));
    } else {
      std::string cand = p.string("candidate");
      std::optional<std::string> mid = p.opt_string("sdpMid");
      std::optional<int64_t> index = p.opt_uint("sdpMLineIndex");
      if (!cand.empty()) {
        if (!mid && !index) p.bad("sdpMid", "or \"sdpMLineIndex\" is required");
        try {
          cand = normalize_candidate(cand);
        } catch (const SdpError& e) {
          fail(rpc::kInvalidParams, std::string("candidate: ") + e.what());
        }
      }
      unsigned& count = self.candidates_to[*to];
      if (count >= cfg.max_candidates)
        fail(rpc::kTooLarge,
             "candidate: more than " + std::to_string(cfg.max_candidates) + " candidates to " +
                 quoted(*to) + " in one negotiation",
             Json::object({{"limit", cfg.max_candidates}}));
      ++count;
      out.set("candidate", std::move(cand));
      if (mid) out.set("sdpMid", *mid);
      if (index) out.set("sdpMLineIndex", *index);
    }
    if (auto nid = p.opt_id("negotiationId")) out.set("negotiationId", *nid);
    notify(target.conn, method, std::move(out));
    return Json::object();
  }
};

RoomServer::RoomServer(Config config, Send send)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(send))) {
  init_debug();
}

RoomServer::~RoomServer() = default;

void RoomServer::on_open(ConnId conn, Time now, bool authorized) {
  Impl::Conn& c = impl_->conn_for(conn, now);
  c.last_seen = now;
  c.authorized = c.authorized || authorized;
}

void RoomServer::on_message(ConnId conn, std::string_view text, Time now) {
  try {
    impl_->message(conn, text, now);
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": message failed: %s", conn, e.what());
  } catch (...) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": message failed", conn);
  }
}

void RoomServer::on_alive(ConnId conn, Time now) {
  auto it = impl_->conns.find(conn);
  if (it != impl_->conns.end()) it->second.last_seen = std::max(it->second.last_seen, now);
}

void RoomServer::on_closed(ConnId conn) {
  auto it = impl_->conns.find(conn);
  if (it == impl_->conns.end()) return;
  try {
    impl_->remove_peer(it->second, "disconnected");
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": close failed: %s", conn, e.what());
  }
  impl_->conns.erase(conn);
}

std::vector<ConnId> RoomServer::tick(Time now) {
  std::vector<ConnId> expired;
  for (const auto& [id, c] : impl_->conns)
    if (now - c.last_seen >= impl_->cfg.peer_timeout) expired.push_back(id);
  std::sort(expired.begin(), expired.end());
  for (ConnId id : expired) {
    GST_INFO("connection %" G_GUINT64_FORMAT ": no sign of life for %lld ms, removing", id,
             static_cast<long long>(impl_->cfg.peer_timeout.count()));
    try {
      impl_->remove_peer(impl_->conns.at(id), "timeout");
    } catch (const std::exception& e) {
      GST_ERROR("connection %" G_GUINT64_FORMAT ": timeout removal failed: %s", id, e.what());
    }
    impl_->conns.erase(id);
  }
  return expired;
}

bool RoomServer::create_room(const std::string& name, RoomMode mode) {
  if (!valid_room_name(name) || impl_->rooms.count(name) ||
      impl_->rooms.size() >= impl_->cfg.max_rooms)
    return false;
  Impl::Room& r = impl_->rooms[name];
  r.mode = mode;
  r.persistent = true;
  GST_INFO("room %s created (%s, persistent)", name.c_str(), to_string(mode));
  return true;
}

bool RoomServer::close_room(const std::string& name, const std::string& why) {
  auto it = impl_->rooms.find(name);
  if (it == impl_->rooms.end()) return false;
  std::vector<ConnId> members;
  for (const std::string& peer : it->second.ordered())
    members.push_back(it->second.peers.at(peer).conn);
  impl_->rooms.erase(it);
  for (ConnId id : members) {
    Impl::Conn& c = impl_->conns.at(id);
    c.room.clear();
    c.peer.clear();
    impl_->notify(id, "error",
                  Json::object({{"code", rpc::kNotJoined},
                                {"message", "room closed: " + why},
                                {"data", Json::object({{"room", name}})}}));
  }
  GST_INFO("room %s closed: %s", name.c_str(), why.c_str());
  return true;
}

std::vector<RoomServer::RoomInfo> RoomServer::rooms() const {
  std::vector<RoomInfo> out;
  for (const auto& [name, r] : impl_->rooms)
    out.push_back({name, r.mode, r.ordered(), r.persistent});
  return out;
}

std::optional<RoomServer::RoomInfo> RoomServer::room(const std::string& name) const {
  auto it = impl_->rooms.find(name);
  if (it == impl_->rooms.end()) return std::nullopt;
  return RoomInfo{name, it->second.mode, it->second.ordered(), it->second.persistent};
}

size_t RoomServer::connection_count() const {
  return impl_->conns.size();
}

std::optional<std::pair<std::string, std::string>> RoomServer::peer_of(ConnId conn) const {
  auto it = impl_->conns.find(conn);
  if (it == impl_->conns.end() || it->second.room.empty()) return std::nullopt;
  return std::make_pair(it->second.room, it->second.peer);
}

const RoomServer::Config& RoomServer::config() const {
  return impl_->cfg;
}

}  // namespace rtcmesh::sig
