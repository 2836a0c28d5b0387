#include "signaling/rooms/service.h"

#include <algorithm>
#include <type_traits>

#include "signaling/log.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

RoomService::RoomService(Config config, RoomStore& store, Delivery& delivery)
    : cfg_(std::move(config)), tokens_(token_keys(cfg_)), store_(store), delivery_(delivery) {
  init_debug();
}

// --- connections ---

RoomService::Connection& RoomService::connection(ConnId conn, RoomTime now) {
  last_now_ = std::max(last_now_, now);
  auto [it, added] = conns_.try_emplace(conn);
  if (added) {
    it->second.id = conn;
    it->second.last_seen = now;
    it->second.serial = next_serial_++;
  }
  return it->second;
}

void RoomService::open(ConnId conn, RoomTime now, bool authorized, const std::string& address) {
  Connection& c = connection(conn, now);
  c.last_seen = now;
  if (authorized && !c.claims) c.claims = TokenClaims::all();
  if (!address.empty()) c.address = address;
}

void RoomService::open_with_bearer(ConnId conn, RoomTime now, const std::string& bearer,
                                   const std::string& address) {
  open(conn, now, false, address);
  if (tokens_.open() || bearer.empty()) return;
  auto verdict = tokens_.verify(bearer, TokenVerifier::wall_clock());
  if (auto* claims = std::get_if<TokenClaims>(&verdict)) {
    connection(conn, now).claims = *claims;
  } else {
    GST_INFO("connection %" G_GUINT64_FORMAT ": Authorization refused: %s", conn,
             std::get<TokenRefusal>(verdict).reason.c_str());
  }
}

std::optional<std::string> RoomService::open_authenticated(ConnId conn, RoomTime now,
                                                          const std::string& bearer,
                                                          const std::string& address) {
  if (tokens_.open()) {
    open(conn, now, false, address);
    return std::nullopt;
  }
  if (bearer.empty()) return std::string("a token is required (authorization: Bearer <token>)");
  auto verdict = tokens_.verify(bearer, TokenVerifier::wall_clock());
  if (auto* refusal = std::get_if<TokenRefusal>(&verdict)) return refusal->reason;
  open(conn, now, false, address);
  connection(conn, now).claims = std::get<TokenClaims>(verdict);
  return std::nullopt;
}

void RoomService::received(ConnId conn, RoomTime now) {
  Connection& c = connection(conn, now);
  c.last_seen = std::max(c.last_seen, now);
}

void RoomService::alive(ConnId conn, RoomTime now) {
  last_now_ = std::max(last_now_, now);
  auto it = conns_.find(conn);
  if (it != conns_.end()) it->second.last_seen = std::max(it->second.last_seen, now);
}

void RoomService::closed(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Batch batch(*this);
  it->second.serial = 0;  // deferred replies have no connection to go to
  try {
    remove_peer(it->second, "disconnected");
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": close failed: %s", conn, e.what());
  }
  conns_.erase(conn);
}

std::vector<ConnId> RoomService::tick(RoomTime now) {
  Batch batch(*this);
  last_now_ = std::max(last_now_, now);
  mesh_.tick(now);
  sfu_.tick(now);
  std::vector<ConnId> expired;
  for (const auto& [id, c] : conns_)
    if (now - c.last_seen >= cfg_.peer_timeout) expired.push_back(id);
  std::sort(expired.begin(), expired.end());
  for (ConnId id : expired) {
    GST_INFO("connection %" G_GUINT64_FORMAT ": no sign of life for %lld ms, removing", id,
             static_cast<long long>(cfg_.peer_timeout.count()));
    conns_.at(id).serial = 0;
    try {
      remove_peer(conns_.at(id), "timeout");
    } catch (const std::exception& e) {
      GST_ERROR("connection %" G_GUINT64_FORMAT ": timeout removal failed: %s", id, e.what());
    }
    conns_.erase(id);
  }
  return expired;
}

void RoomService::settle() {
  mesh_.settle();
  sfu_.settle();
}

std::optional<std::pair<std::string, std::string>> RoomService::peer_of(ConnId conn) const {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.room.empty()) return std::nullopt;
  return std::make_pair(it->second.room, it->second.peer);
}

// --- calls ---

Done RoomService::guarded(ConnId conn, Done done) {
  uint64_t serial = conns_.at(conn).serial;
  auto replied = std::make_shared<bool>(false);
  return [this, conn, serial, replied, done = std::move(done)](msg::Reply reply) {
    if (*replied) return;
    *replied = true;
    auto it = conns_.find(conn);
    if (it == conns_.end() || it->second.serial != serial) return;
    done(std::move(reply));
  };
}

std::optional<msg::Reply> RoomService::call(ConnId conn, msg::Request request, Done later) {
  Batch batch(*this);
  connection(conn, last_now_);
  Done deferred = guarded(conn, std::move(later));
  try {
    if (auto result = dispatch(conn, request, deferred)) return msg::Reply{std::nullopt, *result};
    return std::nullopt;
  } catch (const rpc::Failure& f) {
    return msg::Reply{f.error, msg::Empty{}};
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": call failed: %s", conn, e.what());
    return msg::Reply{
        rpc::Error{rpc::kInternalError, std::string("internal error: ") + e.what(), {}},
        msg::Empty{}};
  }
}

std::optional<msg::Result> RoomService::dispatch(ConnId conn, const msg::Request& request,
                                                 const Done& done) {
  return std::visit(
      [&](const auto& m) -> std::optional<msg::Result> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, msg::Join>) {
          return join(conn, m);
        } else if constexpr (std::is_same_v<T, msg::Leave>) {
          return leave(conn);
        } else if constexpr (std::is_same_v<T, msg::List>) {
          return list(conn, m);
        } else if constexpr (std::is_same_v<T, msg::Ping>) {
          return msg::Empty{};
        } else if constexpr (std::is_same_v<T, msg::Mute>) {
          return mute(conn, m);
        } else if constexpr (std::is_same_v<T, msg::Offer>) {
          return negotiate(conn, "offer", m, done);
        } else if constexpr (std::is_same_v<T, msg::Answer>) {
          return negotiate(conn, "answer", m, done);
        } else if constexpr (std::is_same_v<T, msg::Candidate>) {
          return negotiate(conn, "candidate", m, done);
        } else {
          // publish, unpublish, subscribe, unsubscribe, layout: the room's media controller.
          const char* method = std::is_same_v<T, msg::Publish>       ? "publish"
                               : std::is_same_v<T, msg::Unpublish>   ? "unpublish"
                               : std::is_same_v<T, msg::Subscribe>   ? "subscribe"
                               : std::is_same_v<T, msg::Unsubscribe> ? "unsubscribe"
                                                                     : "layout";
          Caller c = joined(conn, method);
          ModeController* ctl = controller_for(c.room);
          if (!ctl) not_in_mode(method, c.room);
          if constexpr (std::is_same_v<T, msg::Publish>) require(conn, method, kGrantPublish);
          if constexpr (std::is_same_v<T, msg::Subscribe>) require(conn, method, kGrantSubscribe);
          if constexpr (std::is_same_v<T, msg::Layout>) require(conn, method, kGrantLayout);
          if constexpr (std::is_same_v<T, msg::Publish>) return ctl->publish(c, m, done);
          if constexpr (std::is_same_v<T, msg::Unpublish>) return ctl->unpublish(c, m, done);
          if constexpr (std::is_same_v<T, msg::Subscribe>) return ctl->subscribe(c, m, done);
          if constexpr (std::is_same_v<T, msg::Unsubscribe>) return ctl->unsubscribe(c, m, done);
          if constexpr (std::is_same_v<T, msg::Layout>) return ctl->layout(c, m, done);
        }
      },
      request);
}

Caller RoomService::joined(ConnId conn, const std::string& method) {
  const Connection& c = conns_.at(conn);
  if (c.room.empty()) rpc::fail(rpc::kNotJoined, method + ": join a room first");
  return Caller{conn, *store_.find(c.room), c.peer};
}

ModeController* RoomService::controller_for(const RoomRecord& room) {
  if (room.mode == RoomMode::kMesh) return &mesh_;
  if (room.sfu) return &sfu_;  // SFU and MCU rooms (an MCU attachment of the SfuController)
  return nullptr;  // an sfu or mcu room no media hosts
}

template <typename M>
std::optional<msg::Result> RoomService::negotiate(ConnId conn, const char* method, const M& m,
                                                  const Done& done) {
  Caller c = joined(conn, method);
  ModeController* ctl = controller_for(c.room);
  // Mesh peers exchange media with each other: either grant lets them
  // negotiate (the server does not see which way media flows).
  if (c.room.mode == RoomMode::kMesh && m.to) {
    const auto& claims = conns_.at(conn).claims;
    if (claims && !claims->has(kGrantPublish) && !claims->has(kGrantSubscribe))
      rpc::fail(rpc::kUnauthorized,
                std::string(method) + ": token grants neither publish nor subscribe");
  }
  if (c.room.mode != RoomMode::kMesh) {
    if (m.to)
      rpc::fail(rpc::kInvalidParams, std::string(method) + ": peers of a " +
                                         to_string(c.room.mode) +
                                         " room do not connect to each other (\"to\")");
    if (!ctl)
      rpc::fail(rpc::kMethodNotFound,
                std::string(method) + ": SFU/MCU media is not available on this server yet");
  }
  if constexpr (std::is_same_v<M, msg::Offer>) return ctl->offer(c, m, done);
  if constexpr (std::is_same_v<M, msg::Answer>) return ctl->answer(c, m, done);
  if constexpr (std::is_same_v<M, msg::Candidate>) return ctl->candidate(c, m, done);
}
// Instantiated explicitly: clang 14 does not instantiate a member template
// first used (in dispatch's lambdas) above its definition.
template std::optional<msg::Result> RoomService::negotiate(ConnId, const char*, const msg::Offer&,
                                                           const Done&);
template std::optional<msg::Result> RoomService::negotiate(ConnId, const char*, const msg::Answer&,
                                                           const Done&);
template std::optional<msg::Result> RoomService::negotiate(ConnId, const char*,
                                                           const msg::Candidate&, const Done&);

// --- join, leave, list ---

TokenClaims RoomService::authorize(Connection& c, const std::optional<std::string>& token) {
  if (tokens_.open()) return TokenClaims::all();
  if (!token) {
    if (c.claims) return *c.claims;
    rpc::fail(rpc::kUnauthorized, "this server needs a \"token\"",
              Json::object({{"status", 401}}));
  }
  auto verdict = tokens_.verify(*token, TokenVerifier::wall_clock());
  if (auto* refused = std::get_if<TokenRefusal>(&verdict))
    rpc::fail(rpc::kUnauthorized, refused->reason, Json::object({{"status", refused->status}}));
  return std::get<TokenClaims>(verdict);
}

void RoomService::require(ConnId conn, const std::string& method, unsigned grants) {
  const Connection& c = conns_.at(conn);
  if (!c.claims) return;  // an open server
  if (auto refused = TokenVerifier::check(*c.claims, c.room, c.peer, grants))
    rpc::fail(rpc::kUnauthorized, method + ": " + refused->reason,
              Json::object({{"status", refused->status}}));
}

RoomRecord& RoomService::create(const std::string& name, RoomMode mode) {
  GST_INFO("room %s created (%s)", name.c_str(), to_string(mode));
  return store_.create(name, mode);
}

msg::JoinResult RoomService::join(ConnId conn, const msg::Join& m) {
  Connection& c = conns_.at(conn);
  // Every join counts, refused or not, the token's too (guessing is throttled).
  if (cfg_.address_limits)
    if (auto refused = cfg_.address_limits->request(c.address))
      rpc::fail(rpc::kTooManyRequests, "join: " + refused->reason,
                Json::object({{"retryAfter", refused->retry_after_s}, {"limit", refused->limit}}));
  if (!valid_room_name(m.room))
    rpc::fail(rpc::kInvalidParams,
              "join: room " + quote_short(m.room) + " must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
  if (m.peer && !valid_peer_id(*m.peer))
    rpc::fail(rpc::kInvalidParams,
              "join: peer " + quote_short(*m.peer) + " must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
  TokenClaims claims = authorize(c, m.token);
  // The token's id is the participant's: a join without a peer gets it.
  std::optional<std::string> wanted = m.peer;
  if (!wanted && !claims.sub.empty()) wanted = claims.sub;
  if (auto refused = TokenVerifier::check(claims, m.room, wanted.value_or(""), 0))
    rpc::fail(rpc::kUnauthorized, "join: " + refused->reason,
              Json::object({{"status", refused->status}}));
  if (!c.room.empty())
    rpc::fail(rpc::kDuplicatePeer,
              "already joined room " + quote_short(c.room) + " as " + quote_short(c.peer) + "; leave first",
              Json::object({{"room", c.room}, {"peer", c.peer}}));

  RoomRecord* room = store_.find(m.room);
  bool hosting = sfu_.hosts(m.room);
  // SFU and MCU rooms are hosted by media (an MCU is an SfuController
  // attachment that composites: mode_for).
  const RoomMode media_mode = sfu_.mode_for(m.room);
  bool wants_sfu = !room ? (hosting || cfg_.default_mode == RoomMode::kSfu)
                         : room->mode == RoomMode::kSfu ||
                               (room->mode == RoomMode::kMcu && hosting);
  if (wants_sfu && !hosting && !(room && room->sfu))
    rpc::fail(rpc::kInvalidParams, "join: room " + quote_short(m.room) + " is not hosted here");
  if (!room) {
    if (store_.size() >= cfg_.max_rooms)
      rpc::fail(rpc::kRoomFull,
                "server full: it has " + std::to_string(cfg_.max_rooms) + " rooms, the limit",
                Json::object({{"limit", cfg_.max_rooms}}));
  } else {
    if (room->participants.size() >= cfg_.max_peers_per_room)
      rpc::fail(rpc::kRoomFull,
                "room " + quote_short(m.room) + " is full (" +
                    std::to_string(cfg_.max_peers_per_room) + " peers)",
                Json::object({{"limit", cfg_.max_peers_per_room}}));
    if (wanted && room->taken(*wanted))
      rpc::fail(rpc::kDuplicatePeer,
                "peer " + quote_short(*wanted) + " is already in room " + quote_short(m.room));
  }
  if (!room) room = &create(m.room, wants_sfu ? media_mode : cfg_.default_mode);
  if (room->mode == media_mode && !room->sfu && hosting) sfu_.host(*room);
  std::string peer;
  if (wanted) {
    peer = *wanted;
  } else {
    do peer = random_hex(8);
    while (room->taken(peer));
  }
  std::vector<std::string> others = room->ordered();
  room->participants[peer] = Participant{conn, next_seq_++};
  c.room = m.room;
  c.peer = peer;
  c.claims = std::move(claims);
  GST_INFO("connection %" G_GUINT64_FORMAT " joined room %s as %s (%zu peers)", conn,
           m.room.c_str(), peer.c_str(), room->participants.size());

  for (const std::string& other : others)
    delivery_.deliver(room->participants.at(other).conn, msg::PeerJoined{m.room, peer});
  if (events_) events_->joined(m.room, peer, conn);

  msg::JoinResult result{m.room, peer, room->mode, std::move(others), {}, cfg_.ice_servers, {}};
  for (const auto& [id, p] : room->participants)
    if (id != peer && (p.audio_muted || p.video_muted))
      result.muted.push_back({m.room, id, p.audio_muted, p.video_muted});
  if (room->sfu)
    for (const SfuPublisher& p : room->sfu->publishers())
      if (p.id != peer) result.publishers.push_back({p.id, p.tracks});
  return result;
}

msg::Empty RoomService::leave(ConnId conn) {
  Connection& c = conns_.at(conn);
  if (c.room.empty()) rpc::fail(rpc::kNotJoined, "leave: not in a room");
  remove_peer(c, "left");
  return {};
}

msg::Empty RoomService::mute(ConnId conn, const msg::Mute& m) {
  Caller c = joined(conn, "mute");
  Participant& self = c.room.participants.at(c.peer);
  if (m.audio) self.audio_muted = *m.audio;
  if (m.video) self.video_muted = *m.video;
  msg::PeerMuted note{c.room.name, c.peer, self.audio_muted, self.video_muted};
  for (const auto& [id, p] : c.room.participants)
    if (id != c.peer) delivery_.deliver(p.conn, note);
  if (events_) events_->room_note(c.room.name, c.peer, note);
  return {};
}

msg::ListResult RoomService::list(ConnId conn, const msg::List& m) {
  Connection& c = conns_.at(conn);
  TokenClaims claims = authorize(c, m.token);
  if (!tokens_.open() && !c.claims) c.claims = claims;
  msg::ListResult out;
  auto entry = [&](const RoomRecord& r, bool with_peers) {
    // A token for one room lists only that room (admin: every room).
    if (!claims.has(kGrantAdmin) && !claims.allows_room(r.name)) return;
    out.rooms.push_back({r.name, r.mode, r.participants.size(),
                         with_peers ? std::optional(r.ordered()) : std::nullopt});
  };
  if (m.room) {
    if (const RoomRecord* r = store_.find(*m.room)) entry(*r, true);
  } else {
    for (const RoomRecord* r : store_.all()) entry(*r, false);
  }
  return out;
}

// Takes the peer out of its room and tells the others.
void RoomService::remove_peer(Connection& c, const char* reason) {
  if (c.room.empty()) return;
  std::string name = std::move(c.room), peer = std::move(c.peer);
  c.room.clear();
  c.peer.clear();
  RoomRecord* room = store_.find(name);
  if (!room) return;
  if (ModeController* ctl = controller_for(*room)) ctl->leaving(*room, peer, reason);
  room = store_.find(name);
  if (!room) return;
  room->participants.erase(peer);
  GST_INFO("peer %s left room %s (%s, %zu left)", peer.c_str(), name.c_str(), reason,
           room->participants.size());
  for (const std::string& other : room->ordered())
    delivery_.deliver(room->participants.at(other).conn, msg::PeerLeft{name, peer, reason});
  if (events_) events_->left(name, peer, reason, c.id);
  erase_if_unused(name);
}

// --- rooms ---

bool RoomService::create_room(const std::string& name, RoomMode mode) {
  if (!valid_room_name(name) || store_.find(name) || store_.size() >= cfg_.max_rooms)
    return false;
  RoomRecord& room = create(name, mode);
  room.persistent = true;
  if (mode == sfu_.mode_for(name) && sfu_.hosts(name)) sfu_.host(room);
  return true;
}

void RoomService::erase_if_unused(const std::string& name) {
  RoomRecord* room = store_.find(name);
  if (!room || !room->participants.empty() || room->persistent) return;
  ModeController* ctl = controller_for(*room);
  if (ctl && ctl->keeps(*room)) return;
  std::unique_ptr<RoomRecord> gone = store_.take(name);
  if (ctl) ctl->gone(*gone, /*end_media=*/false);
  GST_INFO("room %s closed (empty)", name.c_str());
}

// close_room and a detached SFU: the participants are told, the room is gone.
bool RoomService::close(const std::string& name, const std::string& why, bool end_media) {
  std::unique_ptr<RoomRecord> room = store_.take(name);
  if (!room) return false;
  ModeController* ctl = controller_for(*room);
  rpc::Error closed{rpc::kNotJoined, "room closed: " + why, Json::object({{"room", name}})};
  if (ctl) ctl->closing(*room, closed);
  for (const std::string& peer : room->ordered()) {
    ConnId conn = room->participants.at(peer).conn;
    Connection& c = conns_.at(conn);
    c.room.clear();
    c.peer.clear();
    delivery_.deliver(conn, msg::ErrorNote{closed});
  }
  if (ctl) ctl->gone(*room, end_media);
  GST_INFO("room %s closed: %s", name.c_str(), why.c_str());
  return true;
}

bool RoomService::remove_participant(const std::string& room, const std::string& peer,
                                     const std::string& why) {
  RoomRecord* r = store_.find(room);
  if (!r) return false;
  auto it = r->participants.find(peer);
  if (it == r->participants.end()) return false;
  ConnId conn = it->second.conn;
  auto c = conns_.find(conn);
  if (c == conns_.end()) return false;
  Batch batch(*this);
  remove_peer(c->second, "removed");
  delivery_.deliver(conn, msg::ErrorNote{{rpc::kNotJoined, "removed: " + why,
                                          Json::object({{"room", room}})}});
  return true;
}

std::optional<TokenRefusal> RoomService::admin_refusal(const std::string& bearer) const {
  if (tokens_.open())
    return TokenRefusal{401,
                        "this server has no tokens, so no admin: start it with --token or "
                        "signed tokens"};
  if (bearer.empty())
    return TokenRefusal{401, "an admin token is required (authorization: Bearer <token>)"};
  auto verdict = tokens_.verify(bearer, TokenVerifier::wall_clock());
  if (auto* refusal = std::get_if<TokenRefusal>(&verdict)) return *refusal;
  if (!std::get<TokenClaims>(verdict).has(kGrantAdmin))
    return TokenRefusal{403, "the token does not grant admin"};
  return std::nullopt;
}

// --- notes ---

void RoomService::tell(const RoomRecord& room, const std::string& peer, const msg::Note& note) {
  auto it = room.participants.find(peer);
  if (it != room.participants.end()) delivery_.deliver(it->second.conn, note);
}

void RoomService::tell_others(const RoomRecord& room, const std::string& except,
                              const msg::Note& note) {
  for (const std::string& other : room.ordered())
    if (other != except) delivery_.deliver(room.participants.at(other).conn, note);
  if (events_) events_->room_note(room.name, except, note);
}

// --- other nodes ---

void RoomService::end(ConnId conn, const std::string& reason) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Batch batch(*this);
  it->second.serial = 0;
  try {
    remove_peer(it->second, reason.c_str());
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": end failed: %s", conn, e.what());
  }
  conns_.erase(conn);
}

bool RoomService::tell_room(const std::string& room, const std::string& except,
                            const msg::Note& note) {
  const RoomRecord* r = store_.find(room);
  if (!r) return false;
  for (const std::string& other : r->ordered())
    if (other != except) delivery_.deliver(r->participants.at(other).conn, note);
  return true;
}

bool RoomService::tell_peer(const std::string& room, const std::string& peer,
                            const msg::Note& note) {
  const RoomRecord* r = store_.find(room);
  if (!r || !r->participants.count(peer)) return false;
  tell(*r, peer, note);
  return true;
}

}  // namespace rtcmesh::sig
