#include "signaling/rooms/rooms.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "signaling/log.h"
#include "signaling/http/sdp.h"
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

// `sdp`, checked like a WHIP offer.
std::string read_sdp(const Params& p, const std::string& method) {
  std::string sdp = p.string("sdp");
  try {
    validate_offer(sdp);
  } catch (const SdpError& e) {
    fail(rpc::kInvalidParams, method + ": invalid SDP: " + e.what());
  }
  return sdp;
}

struct Candidate {
  std::string candidate;  // normalised; empty = end of candidates
  std::optional<std::string> mid;
  std::optional<int64_t> index;
};

Candidate read_candidate(const Params& p) {
  Candidate c{p.string("candidate"), p.opt_string("sdpMid"), p.opt_uint("sdpMLineIndex")};
  if (!c.candidate.empty()) {
    if (!c.mid && !c.index) p.bad("sdpMid", "or \"sdpMLineIndex\" is required");
    try {
      c.candidate = normalize_candidate(c.candidate);
    } catch (const SdpError& e) {
      fail(rpc::kInvalidParams, std::string("candidate: ") + e.what());
    }
  }
  return c;
}

Json tracks_json(const std::vector<SfuTrack>& tracks) {
  Json out = Json::array();
  for (const SfuTrack& t : tracks)
    out.push(Json::object({{"id", t.id}, {"kind", t.kind}, {"codec", t.codec}}));
  return out;
}

rpc::Error error_of(const SfuError& e, const std::string& method) {
  return {e.code, method + ": " + e.what(), e.data};
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
    uint64_t serial = 0;     // tells a reused ConnId apart
  };
  // Where a deferred response goes; dropped when that connection is gone.
  struct ReplyTo {
    ConnId conn = 0;
    uint64_t conn_serial = 0;
    Json id;
    bool has_id = false;
  };
  // A publish or an answer the media is working on.
  struct Pending {
    uint64_t serial = 0;  // publish: a fresh number; answer: the negotiation
    ReplyTo reply;
  };
  struct Peer {
    ConnId conn = 0;
    uint64_t seq = 0;  // join order across the server: a later joiner has a larger seq
    std::map<std::string, unsigned> candidates_to;  // relayed this negotiation, per recipient
  };
  struct Room {
    RoomMode mode = RoomMode::kMesh;
    bool persistent = false;
    uint64_t serial = 0;  // a media callback for an older room of that name is stale
    std::map<std::string, Peer> peers;
    // SFU rooms: set when hosted through attachment `sfu_key`.
    SfuMedia* media = nullptr;
    std::string sfu_key;
    std::unique_ptr<SfuRoom> sfu;
    std::map<std::string, Pending> publishing;  // publishes the media is answering
    std::map<std::string, Pending> answering;   // subscriber answers the media is applying
    std::map<std::string, Time> offered_at;     // subscribers with an offer out, since
    std::map<std::string, unsigned> publish_candidates, subscribe_candidates;
    std::vector<std::string> ordered() const {
      std::vector<std::pair<uint64_t, std::string>> v;
      for (const auto& [id, p] : peers) v.emplace_back(p.seq, id);
      std::sort(v.begin(), v.end());
      std::vector<std::string> out;
      for (auto& [seq, id] : v) out.push_back(std::move(id));
      return out;
    }
  };

  struct Attachment {
    SfuMedia* media = nullptr;
    SfuRoom::Limits limits;
  };

  Impl(Config c, Send s) : cfg(std::move(c)), send(std::move(s)) {}

  Config cfg;
  Send send;
  std::unordered_map<ConnId, Conn> conns;
  std::map<std::string, Room> rooms;
  uint64_t next_seq = 1;
  uint64_t next_serial = 1;
  std::map<std::string, Attachment> attached;  // "" = every room not attached by name
  // Media callbacks hold a weak_ptr: after the RoomServer is gone they do nothing.
  std::shared_ptr<int> life = std::make_shared<int>(0);
  Time last_now{};                 // the latest time a transport event brought
  bool deferred = false;           // the method being dispatched replies later
  std::set<std::string> to_drive;  // SFU rooms whose subscribers may need offers
  bool driving = false;

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
    last_now = std::max(last_now, now);
    auto [it, added] = conns.try_emplace(id);
    if (added) {
      it->second.last_seen = now;
      it->second.serial = next_serial++;
    }
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
    drive_offers();  // offers follow the responses that caused them
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
    deferred = false;
    try {
      result = dispatch(id, req, now);
      if (deferred) return {};
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
      return relay(id, req, Params(req.params, m));
    if (m == "ping") {
      (void)Params(req.params, m);
      return Json::object();
    }
    if (m == "publish") return publish(id, req, Params(req.params, m));
    if (m == "unpublish") return unpublish(id, Params(req.params, m));
    if (m == "subscribe") return subscribe(id, Params(req.params, m));
    if (m == "unsubscribe") return unsubscribe(id, Params(req.params, m));
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
    const Attachment* hosting = attachment_for(room_name);
    bool wants_sfu = it == rooms.end() ? (hosting || cfg.default_mode == RoomMode::kSfu)
                                       : (it->second.mode == RoomMode::kSfu);
    if (wants_sfu && !hosting && !(it != rooms.end() && it->second.media))
      fail(rpc::kInvalidParams, "join: room " + quoted(room_name) + " is not hosted here");
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
      if (peer && taken(it->second, *peer))
        fail(rpc::kDuplicatePeer,
             "peer " + quoted(*peer) + " is already in room " + quoted(room_name));
    }
    if (it == rooms.end()) it = create(room_name, wants_sfu ? RoomMode::kSfu : cfg.default_mode);
    Room& room = it->second;
    if (room.mode == RoomMode::kSfu && !room.media) host(room_name, room);
    std::string peer_id;
    if (peer) {
      peer_id = *peer;
    } else {
      do peer_id = random_hex(8);
      while (taken(room, peer_id));
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
                         {"publishers", publishers_json(room, peer_id)},
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
    if (it->second.sfu) {
      end_sfu_connections(room_name, peer_id, reason, /*tell_media=*/true);
      it = rooms.find(room_name);
      if (it == rooms.end()) return;
    }
    Room& room = it->second;
    room.peers.erase(peer_id);
    for (auto& [other, p] : room.peers) p.candidates_to.erase(peer_id);
    GST_INFO("peer %s left room %s (%s, %zu left)", peer_id.c_str(), room_name.c_str(), reason,
             room.peers.size());
    for (const std::string& other : room.ordered())
      notify(room.peers.at(other).conn, "peer-left",
             Json::object({{"room", room_name}, {"peer", peer_id}, {"reason", reason}}));
    erase_if_unused(room_name);
  }

  void erase_if_unused(const std::string& name) {
    auto it = rooms.find(name);
    if (it == rooms.end()) return;
    const Room& room = it->second;
    if (!room.peers.empty() || room.persistent) return;
    if (room.sfu && (!room.sfu->empty() || !room.publishing.empty())) return;
    rooms.erase(it);
    GST_INFO("room %s closed (empty)", name.c_str());
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

  Json relay(ConnId id, const rpc::Request& req, const Params& p) {
    const std::string& method = req.method;
    Conn& c = conns.at(id);
    if (c.room.empty()) fail(rpc::kNotJoined, method + ": join a room first");
    Room& room = rooms.at(c.room);
    std::optional<std::string> to = p.opt_string("to");
    if (room.mode != RoomMode::kMesh) {
      if (to)
        fail(rpc::kInvalidParams, method + ": peers of a " + to_string(room.mode) +
                                      " room do not connect to each other (\"to\")");
      if (!room.sfu)
        fail(rpc::kMethodNotFound, method + ": SFU/MCU media is not available on this server yet");
      if (method == "answer") return sfu_answer(id, req, p);
      if (method == "candidate") return sfu_candidate(id, p);
      fail(rpc::kInvalidParams,
           "offer: in an sfu room the server offers; send yours with "
           "\"publish\"");
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
      std::string sdp = read_sdp(p, method);
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
      Candidate cand = read_candidate(p);
      unsigned& count = self.candidates_to[*to];
      if (count >= cfg.max_candidates)
        fail(rpc::kTooLarge,
             "candidate: more than " + std::to_string(cfg.max_candidates) + " candidates to " +
                 quoted(*to) + " in one negotiation",
             Json::object({{"limit", cfg.max_candidates}}));
      ++count;
      out.set("candidate", std::move(cand.candidate));
      if (cand.mid) out.set("sdpMid", *cand.mid);
      if (cand.index) out.set("sdpMLineIndex", *cand.index);
    }
    if (auto nid = p.opt_id("negotiationId")) out.set("negotiationId", *nid);
    notify(target.conn, method, std::move(out));
    return Json::object();
  }
  // --- SFU rooms ---

  const Attachment* attachment_for(const std::string& room) const {
    auto it = attached.find(room);
    if (it == attached.end()) it = attached.find("");
    return it == attached.end() ? nullptr : &it->second;
  }

  std::map<std::string, Room>::iterator create(const std::string& name, RoomMode mode) {
    auto it = rooms.emplace(name, Room{}).first;
    it->second.mode = mode;
    it->second.serial = next_serial++;
    GST_INFO("room %s created (%s)", name.c_str(), to_string(mode));
    return it;
  }

  // Binds an SFU room to the attachment that hosts it (there is one).
  void host(const std::string& name, Room& room) {
    std::string key = attached.count(name) ? name : "";
    const Attachment& a = attached.at(key);
    room.mode = RoomMode::kSfu;
    room.media = a.media;
    room.sfu_key = key;
    room.sfu = std::make_unique<SfuRoom>(a.limits);
  }

  // A joined participant or any publisher has that id.
  static bool taken(const Room& room, const std::string& peer) {
    return room.peers.count(peer) || (room.sfu && room.sfu->publisher(peer));
  }

  static Json publishers_json(const Room& room, const std::string& except) {
    Json out = Json::array();
    if (!room.sfu) return out;
    for (const SfuPublisher& p : room.sfu->publishers())
      if (p.id != except)
        out.push(Json::object({{"peer", p.id}, {"tracks", tracks_json(p.tracks)}}));
    return out;
  }

  ReplyTo reply_to(ConnId id, const rpc::Request& req) {
    return {id, conns.at(id).serial, req.id, req.has_id};
  }
  void reply(const ReplyTo& to, Json result, const std::optional<rpc::Error>& error) {
    if (!to.has_id) return;
    auto it = conns.find(to.conn);
    if (it == conns.end() || it->second.serial != to.conn_serial) return;
    emit(to.conn, error ? rpc::error(to.id, *error) : rpc::result(to.id, std::move(result)));
  }

  // The room of a callback, unless it is gone or was replaced meanwhile.
  Room* live_room(const std::string& name, uint64_t serial) {
    auto it = rooms.find(name);
    return it != rooms.end() && it->second.serial == serial && it->second.sfu ? &it->second
                                                                              : nullptr;
  }

  void notify_participant(const Room& room, const std::string& peer, std::string_view method,
                          Json params) {
    auto it = room.peers.find(peer);
    if (it != room.peers.end()) notify(it->second.conn, method, std::move(params));
  }
  void notify_others(const Room& room, const std::string& except, std::string_view method,
                     const Json& params) {
    for (const std::string& other : room.ordered())
      if (other != except) notify(room.peers.at(other).conn, method, params);
  }
  static Json error_note(int code, const std::string& message, Json data) {
    return Json::object({{"code", code}, {"message", message}, {"data", std::move(data)}});
  }

  // The joined connection's SFU room, for the SFU methods.
  Room& sfu_room_of(const Conn& c, const std::string& method) {
    if (c.room.empty()) fail(rpc::kNotJoined, method + ": join a room first");
    Room& room = rooms.at(c.room);
    if (!room.sfu)
      fail(rpc::kMethodNotFound, method + ": room " + quoted(c.room) + " is a " +
                                     to_string(room.mode) + " room, not an sfu room");
    return room;
  }

  Json publish(ConnId id, const rpc::Request& req, const Params& p) {
    const Conn& c = conns.at(id);
    Room& room = sfu_room_of(c, "publish");
    std::string sdp = read_sdp(p, "publish");
    std::string name = c.room, peer = c.peer;
    if (room.sfu->publisher(peer) || room.publishing.count(peer))
      fail(rpc::kDuplicatePeer, "publish: you are already publishing; unpublish first",
           Json::object({{"room", name}, {"peer", peer}}));
    unsigned limit = room.sfu->limits().max_publishers;
    if (limit && room.sfu->publishers().size() + room.publishing.size() >= limit)
      fail(rpc::kRoomFull,
           "publish: room " + quoted(name) + " has " + std::to_string(limit) +
               " publishers, the limit",
           Json::object({{"limit", limit}}));
    uint64_t serial = next_serial++;
    room.publishing[peer] = Pending{serial, reply_to(id, req)};
    room.publish_candidates.erase(peer);
    deferred = true;
    std::weak_ptr<int> alive = life;
    room.media->publish(name, peer, sdp,
                        [this, alive, name, room_serial = room.serial, peer,
                         serial](SfuMedia::PublishResult result) {
                          if (alive.expired()) return;
                          published(name, room_serial, peer, serial, std::move(result));
                          drive_offers();
                        });
    return {};
  }

  void published(const std::string& name, uint64_t room_serial, const std::string& peer,
                 uint64_t serial, SfuMedia::PublishResult result) {
    Room* room = live_room(name, room_serial);
    if (!room) return;
    auto it = room->publishing.find(peer);
    if (it == room->publishing.end() || it->second.serial != serial) return;  // cancelled
    ReplyTo to = it->second.reply;
    room->publishing.erase(it);
    if (result.error) {
      reply(to, {}, result.error);
      erase_if_unused(name);
      return;
    }
    try {
      room->sfu->add_publisher(peer, result.tracks);
    } catch (const SfuError& e) {
      reply(to, {}, error_of(e, "publish"));
      SfuMedia* media = room->media;
      erase_if_unused(name);
      media->unpublish(name, peer);
      return;
    }
    GST_INFO("peer %s publishes in room %s (%zu tracks)", peer.c_str(), name.c_str(),
             result.tracks.size());
    const std::vector<SfuTrack>& tracks = room->sfu->publisher(peer)->tracks;
    reply(to, Json::object({{"sdp", result.sdp}, {"tracks", tracks_json(tracks)}}), {});
    announce_publisher(name, *room, peer);
  }

  void announce_publisher(const std::string& name, const Room& room, const std::string& peer) {
    notify_others(room, peer, "publisher-joined",
                  Json::object({{"room", name},
                                {"peer", peer},
                                {"tracks", tracks_json(room.sfu->publisher(peer)->tracks)}}));
    to_drive.insert(name);
  }

  // A publish the media is still answering ends: its caller gets `error`.
  bool cancel_publish(Room& room, const std::string& peer, const rpc::Error& error) {
    auto it = room.publishing.find(peer);
    if (it == room.publishing.end()) return false;
    ReplyTo to = it->second.reply;
    room.publishing.erase(it);
    reply(to, {}, error);
    return true;
  }

  // The publisher is out of the room state; the others hear publisher-left.
  bool drop_publisher(const std::string& name, Room& room, const std::string& peer,
                      const std::string& reason) {
    if (!room.sfu->remove_publisher(peer)) return false;
    room.publish_candidates.erase(peer);
    GST_INFO("publisher %s left room %s (%s)", peer.c_str(), name.c_str(), reason.c_str());
    notify_others(room, peer, "publisher-left",
                  Json::object({{"room", name}, {"peer", peer}, {"reason", reason}}));
    to_drive.insert(name);
    return true;
  }

  // The subscription is out of the room state (an answer being applied gets
  // `answer_error`); `note` set: the subscriber is told.
  bool drop_subscriber(const std::string& name, Room& room, const std::string& peer,
                       const rpc::Error& answer_error, const std::optional<rpc::Error>& note) {
    if (!room.sfu->remove_subscriber(peer)) return false;
    room.offered_at.erase(peer);
    room.subscribe_candidates.erase(peer);
    auto it = room.answering.find(peer);
    if (it != room.answering.end()) {
      ReplyTo to = it->second.reply;
      room.answering.erase(it);
      reply(to, {}, answer_error);
    }
    if (note) {
      Json data = note->data.is_null() ? Json::object() : note->data;
      data.set("room", name);
      data.set("connection", "subscribe");
      notify_participant(room, peer, "error", error_note(note->code, note->message, data));
    }
    GST_INFO("subscriber %s left room %s", peer.c_str(), name.c_str());
    return true;
  }

  // The media ended a publish connection: publisher-left with `reason` to the
  // others, `error` (or the pending publish's error response) to a participant.
  void end_publish(const std::string& name, const std::string& peer, const std::string& reason,
                   const std::string& message) {
    auto it = rooms.find(name);
    if (it == rooms.end() || !it->second.sfu) return;
    Room& room = it->second;
    rpc::Error ended{rpc::kInternalError, message,
                     Json::object({{"room", name}, {"connection", "publish"}})};
    if (!cancel_publish(room, peer, ended)) {
      if (!drop_publisher(name, room, peer, reason)) return;
      notify_participant(room, peer, "error", error_note(ended.code, ended.message, ended.data));
    }
    erase_if_unused(name);
  }

  // Leave, disconnect, timeout, close: both connections end.
  void end_sfu_connections(const std::string& name, const std::string& peer,
                           const std::string& reason, bool tell_media) {
    Room& room = rooms.at(name);
    SfuMedia* media = room.media;
    rpc::Error gone{rpc::kNotJoined, "cancelled: you " + reason + " the room", {}};
    if (reason != "left") gone.message = "cancelled: " + reason;
    bool publishing = cancel_publish(room, peer, gone);
    publishing = drop_publisher(name, room, peer, reason) || publishing;
    bool subscribed = drop_subscriber(name, room, peer, gone, std::nullopt);
    if (!tell_media) return;
    if (publishing) media->unpublish(name, peer);
    if (subscribed) media->unsubscribe(name, peer);
  }

  Json unpublish(ConnId id, const Params&) {
    const Conn& c = conns.at(id);
    Room& room = sfu_room_of(c, "unpublish");
    std::string name = c.room, peer = c.peer;
    bool pending =
        cancel_publish(room, peer, {rpc::kNotJoined, "publish: cancelled by unpublish", {}});
    if (!pending && !drop_publisher(name, room, peer, "unpublished"))
      fail(rpc::kNotJoined, "unpublish: you are not publishing");
    room.media->unpublish(name, peer);
    return Json::object();
  }

  Json subscribe(ConnId id, const Params& p) {
    const Conn& c = conns.at(id);
    Room& room = sfu_room_of(c, "subscribe");
    std::vector<std::string> codecs;
    if (const Json* list = p.get("codecs"); list && !list->is_null()) {
      if (!list->is_array()) p.bad("codecs", "must be an array of encoding names");
      for (const Json& codec : list->as_array()) {
        if (!codec.is_string() || codec.as_string().empty() || codec.as_string().size() > 32)
          p.bad("codecs", "must hold encoding names (strings of 1-32 characters)");
        codecs.push_back(codec.as_string());
      }
    }
    try {
      room.sfu->add_subscriber(c.peer, std::move(codecs));
    } catch (const SfuError& e) {
      throw RpcFailure{error_of(e, "subscribe")};
    }
    GST_INFO("peer %s subscribes in room %s", c.peer.c_str(), c.room.c_str());
    to_drive.insert(c.room);
    return Json::object();
  }

  Json unsubscribe(ConnId id, const Params&) {
    const Conn& c = conns.at(id);
    Room& room = sfu_room_of(c, "unsubscribe");
    std::string name = c.room, peer = c.peer;
    if (!drop_subscriber(name, room, peer,
                         {rpc::kNotJoined, "answer: cancelled by unsubscribe", {}}, std::nullopt))
      fail(rpc::kNotJoined, "unsubscribe: you are not subscribed");
    room.media->unsubscribe(name, peer);
    return Json::object();
  }

  Json sfu_answer(ConnId id, const rpc::Request& req, const Params& p) {
    const Conn& c = conns.at(id);
    Room& room = rooms.at(c.room);
    std::string name = c.room, peer = c.peer;
    if (!room.sfu->subscribed(peer)) fail(rpc::kNotJoined, "answer: you are not subscribed");
    std::string sdp = read_sdp(p, "answer");
    std::optional<int64_t> negotiation = p.opt_uint("negotiationId");
    if (!negotiation) p.bad("negotiationId", "is required (the integer of the offer)");
    std::optional<uint64_t> in_flight = room.sfu->in_flight(peer);
    if (!in_flight || *in_flight != static_cast<uint64_t>(*negotiation) ||
        room.answering.count(peer))
      fail(rpc::kInvalidParams,
           "answer: negotiation " + std::to_string(*negotiation) +
               (in_flight && !room.answering.count(peer)
                    ? " is not the one in flight (" + std::to_string(*in_flight) + ")"
                    : " has no offer waiting for an answer"),
           Json::object({{"negotiationId",
                          in_flight && !room.answering.count(peer) ? Json(*in_flight) : Json()}}));
    room.answering[peer] = Pending{*in_flight, reply_to(id, req)};
    deferred = true;
    std::weak_ptr<int> alive = life;
    room.media->answer(name, peer, *in_flight, sdp,
                       [this, alive, name, room_serial = room.serial, peer,
                        negotiation = *in_flight](const std::string& error) {
                         if (alive.expired()) return;
                         answered(name, room_serial, peer, negotiation, error);
                         drive_offers();
                       });
    return {};
  }

  void answered(const std::string& name, uint64_t room_serial, const std::string& peer,
                uint64_t negotiation, const std::string& error) {
    Room* room = live_room(name, room_serial);
    if (!room) return;
    auto it = room->answering.find(peer);
    if (it == room->answering.end() || it->second.serial != negotiation) return;
    ReplyTo to = it->second.reply;
    room->answering.erase(it);
    room->offered_at.erase(peer);
    // Refused: the slots go back and the next offer tries again.
    room->sfu->negotiation_done(peer, negotiation, error.empty());
    to_drive.insert(name);
    if (error.empty())
      reply(to, Json::object(), {});
    else
      reply(to, {}, rpc::Error{rpc::kInvalidParams, "answer: refused: " + error, {}});
  }

  Json sfu_candidate(ConnId id, const Params& p) {
    const Conn& c = conns.at(id);
    Room& room = rooms.at(c.room);
    std::string connection = p.string("connection");
    if (connection != "publish" && connection != "subscribe")
      p.bad("connection", "must be \"publish\" or \"subscribe\"");
    Candidate cand = read_candidate(p);
    bool open = connection == "publish"
                    ? room.sfu->publisher(c.peer) || room.publishing.count(c.peer)
                    : room.sfu->subscribed(c.peer);
    if (!open) fail(rpc::kNotJoined, "candidate: you have no " + connection + " connection");
    auto& counts = connection == "publish" ? room.publish_candidates : room.subscribe_candidates;
    unsigned& count = counts[c.peer];
    if (count >= cfg.max_candidates)
      fail(rpc::kTooLarge,
           "candidate: more than " + std::to_string(cfg.max_candidates) + " candidates on your " +
               connection + " connection in one negotiation",
           Json::object({{"limit", cfg.max_candidates}}));
    ++count;
    room.media->candidate(c.room, c.peer, connection,
                          cand.index ? static_cast<int>(*cand.index) : -1, cand.mid.value_or(""),
                          cand.candidate);
    return Json::object();
  }

  // Offers (and codec mismatch errors) for every room that changed.
  void drive_offers() {
    if (driving) return;  // the running loop picks up what is added meanwhile
    driving = true;
    while (!to_drive.empty()) {
      std::string name = *to_drive.begin();
      to_drive.erase(to_drive.begin());
      try {
        drive(name);
      } catch (const std::exception& e) {
        GST_ERROR("room %s: offers failed: %s", name.c_str(), e.what());
      }
    }
    driving = false;
  }

  void drive(const std::string& name) {
    auto it = rooms.find(name);
    if (it == rooms.end() || !it->second.sfu) return;
    Room& room = it->second;
    std::vector<SfuOffer> offers = room.sfu->take_offers();
    for (const SfuMismatch& m : room.sfu->take_mismatches()) {
      Json accepted = Json::array();
      for (const std::string& codec : m.accepted) accepted.push(codec);
      notify_participant(room, m.subscriber, "error",
                         error_note(rpc::kNoCommonCodec,
                                    "track " + quoted(m.track) + " of " + quoted(m.publisher) +
                                        " is " + m.codec + ", which you do not decode",
                                    Json::object({{"peer", m.publisher},
                                                  {"track", m.track},
                                                  {"codec", m.codec},
                                                  {"accepted", std::move(accepted)}})));
    }
    SfuMedia* media = room.media;
    uint64_t room_serial = room.serial;
    std::weak_ptr<int> alive = life;
    for (const SfuOffer& offer : offers)
      media->offer(name, offer,
                   [this, alive, name, room_serial, offer](const std::string& sdp,
                                                           const std::string& error) {
                     if (alive.expired()) return;
                     offer_made(name, room_serial, offer, sdp, error);
                     drive_offers();
                   });
  }

  void offer_made(const std::string& name, uint64_t room_serial, const SfuOffer& offer,
                  const std::string& sdp, const std::string& error) {
    Room* room = live_room(name, room_serial);
    if (!room || room->sfu->in_flight(offer.subscriber) != offer.negotiation) return;
    const std::string& peer = offer.subscriber;
    if (!error.empty()) {
      GST_WARNING("room %s: offer to %s failed: %s", name.c_str(), peer.c_str(), error.c_str());
      room->sfu->negotiation_done(peer, offer.negotiation, false);
      drop_subscriber(
          name, *room, peer, {rpc::kInternalError, "answer: subscription ended", {}},
          rpc::Error{
              rpc::kInternalError, "subscription ended: the server could not offer: " + error, {}});
      room->media->unsubscribe(name, peer);
      return;
    }
    room->offered_at[peer] = last_now;
    room->subscribe_candidates.erase(peer);
    // The mids are the offer's own (webrtcbin names them "video0", "audio1"…).
    std::vector<std::string> mids;
    try {
      for (const MediaSummary& m : validate_offer(sdp).media) mids.push_back(m.mid);
    } catch (const SdpError&) {
    }
    auto mid_of = [&](unsigned mline) {
      return mline < mids.size() && !mids[mline].empty() ? mids[mline] : std::to_string(mline);
    };
    Json tracks = Json::array();
    for (const SfuSlot& slot : offer.slots)
      if (slot.active())
        tracks.push(Json::object({{"mid", mid_of(slot.mline)},
                                  {"peer", slot.publisher},
                                  {"track", slot.track},
                                  {"kind", slot.kind},
                                  {"codec", slot.codec}}));
    notify_participant(*room, peer, "offer",
                       Json::object({{"sdp", sdp},
                                     {"negotiationId", offer.negotiation},
                                     {"session", offer.session},
                                     {"tracks", std::move(tracks)}}));
  }

  // Subscribers that did not answer within peer_timeout lose the subscription.
  void expire_offers(Time now) {
    std::vector<std::pair<std::string, std::string>> late;  // room, subscriber
    for (const auto& [name, room] : rooms)
      for (const auto& [peer, since] : room.offered_at)
        if (now - since >= cfg.peer_timeout && !room.answering.count(peer))
          late.emplace_back(name, peer);
    for (const auto& [name, peer] : late) {
      Room& room = rooms.at(name);
      std::string why = "subscription ended: no answer to negotiation " +
                        std::to_string(room.sfu->in_flight(peer).value_or(0)) + " within " +
                        std::to_string(cfg.peer_timeout.count()) + " ms";
      GST_INFO("room %s: %s: %s", name.c_str(), peer.c_str(), why.c_str());
      drop_subscriber(name, room, peer, {rpc::kNotJoined, why, {}},
                      rpc::Error{rpc::kNotJoined, why, {}});
      room.media->unsubscribe(name, peer);
      to_drive.insert(name);
    }
  }

  // close_room and detach_sfu: the participants are told, the room is gone.
  bool close(const std::string& name, const std::string& why, bool tell_media) {
    auto it = rooms.find(name);
    if (it == rooms.end()) return false;
    Room room = std::move(it->second);
    rooms.erase(it);
    std::vector<std::pair<std::string, ConnId>> members;
    for (const std::string& peer : room.ordered())
      members.emplace_back(peer, room.peers.at(peer).conn);
    rpc::Error closed{rpc::kNotJoined, "room closed: " + why, Json::object({{"room", name}})};
    for (auto* pending : {&room.publishing, &room.answering})
      for (const auto& [peer, p] : *pending) reply(p.reply, {}, closed);
    for (const auto& [peer, id] : members) {
      Conn& c = conns.at(id);
      c.room.clear();
      c.peer.clear();
      notify(id, "error", error_note(closed.code, closed.message, closed.data));
    }
    if (room.sfu && tell_media) {
      for (const auto& [peer, id] : members) {
        if (room.publishing.count(peer) || room.sfu->publisher(peer))
          room.media->unpublish(name, peer);
        if (room.sfu->subscribed(peer)) room.media->unsubscribe(name, peer);
      }
    }
    GST_INFO("room %s closed: %s", name.c_str(), why.c_str());
    return true;
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
  impl_->last_now = std::max(impl_->last_now, now);
  auto it = impl_->conns.find(conn);
  if (it != impl_->conns.end()) it->second.last_seen = std::max(it->second.last_seen, now);
}

void RoomServer::on_closed(ConnId conn) {
  auto it = impl_->conns.find(conn);
  if (it == impl_->conns.end()) return;
  it->second.serial = 0;  // deferred responses have no socket to go to
  try {
    impl_->remove_peer(it->second, "disconnected");
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": close failed: %s", conn, e.what());
  }
  impl_->conns.erase(conn);
  impl_->drive_offers();
}

std::vector<ConnId> RoomServer::tick(Time now) {
  impl_->last_now = std::max(impl_->last_now, now);
  impl_->expire_offers(now);
  std::vector<ConnId> expired;
  for (const auto& [id, c] : impl_->conns)
    if (now - c.last_seen >= impl_->cfg.peer_timeout) expired.push_back(id);
  std::sort(expired.begin(), expired.end());
  for (ConnId id : expired) {
    GST_INFO("connection %" G_GUINT64_FORMAT ": no sign of life for %lld ms, removing", id,
             static_cast<long long>(impl_->cfg.peer_timeout.count()));
    impl_->conns.at(id).serial = 0;
    try {
      impl_->remove_peer(impl_->conns.at(id), "timeout");
    } catch (const std::exception& e) {
      GST_ERROR("connection %" G_GUINT64_FORMAT ": timeout removal failed: %s", id, e.what());
    }
    impl_->conns.erase(id);
  }
  impl_->drive_offers();
  return expired;
}

bool RoomServer::create_room(const std::string& name, RoomMode mode) {
  if (!valid_room_name(name) || impl_->rooms.count(name) ||
      impl_->rooms.size() >= impl_->cfg.max_rooms)
    return false;
  Impl::Room& r = impl_->create(name, mode)->second;
  r.persistent = true;
  if (mode == RoomMode::kSfu && impl_->attachment_for(name)) impl_->host(name, r);
  return true;
}

bool RoomServer::close_room(const std::string& name, const std::string& why) {
  return impl_->close(name, why, /*tell_media=*/true);
}

void RoomServer::attach_sfu(const std::string& room, SfuMedia* media, SfuRoom::Limits limits) {
  if (impl_->attached.count(room)) detach_sfu(room);
  impl_->attached[room] = {media, limits};
  GST_INFO("SFU attached for %s", room.empty() ? "every room" : room.c_str());
  // Rooms made as sfu rooms before any media hosted them are hosted now; a
  // room of that name in another mode or on other media is closed.
  std::vector<std::string> unhosted, replaced;
  for (auto& [name, r] : impl_->rooms) {
    if (!room.empty() && name != room) continue;
    if (r.mode == RoomMode::kSfu && !r.media)
      unhosted.push_back(name);
    else if (!room.empty())
      replaced.push_back(name);
  }
  for (const std::string& name : replaced) close_room(name, "now hosted by an SFU");
  for (const std::string& name : unhosted) impl_->host(name, impl_->rooms.at(name));
}

void RoomServer::detach_sfu(const std::string& room) {
  if (!impl_->attached.erase(room)) return;
  std::vector<std::string> hosted;
  for (const auto& [name, r] : impl_->rooms)
    if (r.media && r.sfu_key == room) hosted.push_back(name);
  for (const std::string& name : hosted)
    impl_->close(name, "the SFU hosting it stopped", /*tell_media=*/false);
  GST_INFO("SFU detached from %s", room.empty() ? "every room" : room.c_str());
}

bool RoomServer::add_publisher(const std::string& room, const std::string& peer,
                               std::vector<SfuTrack> tracks, std::string* why) {
  auto refuse = [&](std::string reason) {
    GST_INFO("publisher %s not added to room %s: %s", peer.c_str(), room.c_str(), reason.c_str());
    if (why) *why = std::move(reason);
    return false;
  };
  if (!valid_room_name(room) || !valid_peer_id(peer))
    return refuse("room and peer must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
  auto it = impl_->rooms.find(room);
  if (it == impl_->rooms.end()) {
    if (!impl_->attachment_for(room)) return refuse("room " + quoted(room) + " is not hosted here");
    if (impl_->rooms.size() >= impl_->cfg.max_rooms)
      return refuse("server full: it has " + std::to_string(impl_->cfg.max_rooms) + " rooms");
    it = impl_->create(room, RoomMode::kSfu);
  }
  Impl::Room& r = it->second;
  if (r.mode == RoomMode::kSfu && !r.media && impl_->attachment_for(room)) impl_->host(room, r);
  if (!r.sfu) return refuse("room " + quoted(room) + " is a " + to_string(r.mode) + " room");
  if (r.peers.count(peer)) return refuse("peer " + quoted(peer) + " is a participant of the room");
  try {
    r.sfu->add_publisher(peer, std::move(tracks));
  } catch (const SfuError& e) {
    impl_->erase_if_unused(room);
    return refuse(e.what());
  }
  GST_INFO("publisher %s joined room %s", peer.c_str(), room.c_str());
  impl_->announce_publisher(room, r, peer);
  impl_->drive_offers();
  return true;
}

void RoomServer::remove_publisher(const std::string& room, const std::string& peer,
                                  const std::string& reason) {
  impl_->end_publish(room, peer, reason, "publish ended: " + reason);
  impl_->drive_offers();
}

void RoomServer::media_failed(const std::string& room, const std::string& peer,
                              const std::string& connection, const std::string& why) {
  GST_INFO("room %s: %s connection of %s failed: %s", room.c_str(), connection.c_str(),
           peer.c_str(), why.c_str());
  auto it = impl_->rooms.find(room);
  if (it == impl_->rooms.end() || !it->second.sfu) return;
  if (connection == "publish") {
    impl_->end_publish(room, peer, "failed", "publish connection failed: " + why);
  } else {
    rpc::Error ended{rpc::kInternalError, "subscription ended: " + why, {}};
    if (impl_->drop_subscriber(room, it->second, peer, ended, ended)) impl_->to_drive.insert(room);
  }
  impl_->drive_offers();
}

std::vector<RoomServer::SfuRoomInfo> RoomServer::sfu_rooms() const {
  std::vector<SfuRoomInfo> out;
  for (const auto& [name, r] : impl_->rooms)
    if (r.sfu) out.push_back({name, r.sfu->publishers().size(), r.sfu->subscribers().size()});
  return out;
}

std::vector<SfuPublisher> RoomServer::sfu_publishers(const std::string& room) const {
  auto it = impl_->rooms.find(room);
  if (it == impl_->rooms.end() || !it->second.sfu) return {};
  return it->second.sfu->publishers();
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
