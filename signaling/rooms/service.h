// The room service: one per server, behind every front end. It owns the
// connections (auth, liveness), join/leave/list and the limits, and routes
// each room's calls to the mode controller of that room: the mesh relay or
// the SFU (an MCU controller goes beside them). Room state lives in a
// RoomStore; notes leave through a Delivery. Pure and deterministic: times
// come in with the calls; not thread-safe (one thread at a time).
//
// A front end names its connections with ConnId and passes typed requests;
// each call is answered through its Done, at once or later (SFU publish and
// answer). None of the entry points throws.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "signaling/rooms/controller.h"
#include "signaling/rooms/delivery.h"
#include "signaling/rooms/mesh_relay.h"
#include "signaling/rooms/room_events.h"
#include "signaling/rooms/sfu_controller.h"
#include "signaling/rooms/store.h"

namespace rtcmesh::sig {

class RoomService : private RoomContext {
 public:
  using Config = RoomServiceConfig;

  // Throws std::invalid_argument when the token keys are unusable.
  RoomService(Config config, RoomStore& store, Delivery& delivery);
  RoomService(const RoomService&) = delete;
  RoomService& operator=(const RoomService&) = delete;

  // --- connections ---
  // `authorized`: the front end already checked the token (e.g. an
  // Authorization header on the WebSocket upgrade). `address`: the client's,
  // for the per-address limits ("" = not limited).
  void open(ConnId conn, RoomTime now, bool authorized = false, const std::string& address = {});
  // The front end's bearer token (an Authorization header on the upgrade):
  // a good one stands for the token of later calls that carry none; a bad
  // one is ignored (join refuses without a token).
  void open_with_bearer(ConnId conn, RoomTime now, const std::string& bearer,
                        const std::string& address = {});
  // For front ends that refuse a connection without a good token (gRPC:
  // UNAUTHENTICATED): when the service needs a token and `bearer` is
  // missing or refused, nothing is opened and the reason is returned;
  // otherwise the connection is open with the bearer's claims.
  std::optional<std::string> open_authenticated(ConnId conn, RoomTime now,
                                                const std::string& bearer,
                                                const std::string& address = {});
  // Traffic from the connection: opens it when new, and counts as life.
  void received(ConnId conn, RoomTime now);
  void alive(ConnId conn, RoomTime now);  // a pong or other sign of life; unknown: ignored
  // The connection is gone: its peer leaves (peer-left "disconnected").
  void closed(ConnId conn);
  // Connections silent for peer_timeout are removed (peer-left "timeout")
  // and returned for the front end to close; unanswered SFU offers end.
  std::vector<ConnId> tick(RoomTime now);

  // One request of a connection: its reply, or nullopt when `later` gets it
  // (SFU publish and answer; possibly before call returns; never when the
  // connection is gone by then).
  std::optional<msg::Reply> call(ConnId conn, msg::Request request, Done later);

  // Deferred work of the calls made while a Batch is alive (SFU offers)
  // waits until the last one ends. A front end holds one around each frame
  // and the sending of its replies: replies go out before the offers they
  // cause.
  class Batch {
   public:
    explicit Batch(RoomService& service) : service_(service) { ++service_.batches_; }
    ~Batch() {
      if (--service_.batches_ == 0) service_.settle();
    }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    RoomService& service_;
  };

  // --- rooms ---
  bool create_room(const std::string& name, RoomMode mode);
  bool close_room(const std::string& name, const std::string& why) {
    return close(name, why, /*end_media=*/true);
  }
  // An operator removes a participant: it gets an `error` note (-32005,
  // "removed: <why>") and is no longer joined (its connection stays); the
  // room gets peer-left "removed". False when no such participant.
  bool remove_participant(const std::string& room, const std::string& peer,
                          const std::string& why);
  // Operators (the gRPC admin service): the refusal (401, or 403 for a good
  // token without the admin grant) when `bearer` is not an admin token; an
  // open server has none.
  std::optional<TokenRefusal> admin_refusal(const std::string& bearer) const;
  SfuController& sfu() { return sfu_; }
  const RoomStore& rooms() const { return store_; }
  size_t connection_count() const { return conns_.size(); }
  // {room, peer} of a joined connection.
  std::optional<std::pair<std::string, std::string>> peer_of(ConnId conn) const;
  const Config& config() const override { return cfg_; }

  // --- other nodes (signaling/cluster) ---
  // Joins, leaves and room-wide notes go to `events` too (null: none).
  void set_events(RoomEvents* events) { events_ = events; }
  // A participant leaves with `reason` (peer-left to the others) and its
  // connection is forgotten: for participants of other nodes.
  void end(ConnId conn, const std::string& reason);
  // A note to the participants of `room` connected here (`except` left out),
  // as if this node's room had sent it. False when no such room.
  bool tell_room(const std::string& room, const std::string& except, const msg::Note& note);
  // A note to one participant of `room`; false when it is not in the room.
  bool tell_peer(const std::string& room, const std::string& peer, const msg::Note& note);

 private:
  struct Connection {
    ConnId id = 0;
    RoomTime last_seen;
    std::optional<TokenClaims> claims;  // set: authorized (static token, a JWT, an open server)
    std::string room, peer;  // room empty: not joined
    uint64_t serial = 0;     // tells a reused ConnId apart
    std::string address;     // the client's, for the per-address limits
  };

  // RoomContext
  RoomStore& store() override { return store_; }
  RoomTime now() const override { return last_now_; }
  void tell(const RoomRecord& room, const std::string& peer, const msg::Note& note) override;
  void tell_others(const RoomRecord& room, const std::string& except,
                   const msg::Note& note) override;
  void erase_if_unused(const std::string& room) override;
  bool close(const std::string& room, const std::string& why, bool end_media) override;

  Connection& connection(ConnId conn, RoomTime now);
  void settle();
  ModeController* controller_for(const RoomRecord& room);
  // The reply goes only to the connection that asked, while it is open.
  Done guarded(ConnId conn, Done done);
  std::optional<msg::Result> dispatch(ConnId conn, const msg::Request& request, const Done& done);
  Caller joined(ConnId conn, const std::string& method);

  // The claims of the call's token, else of the connection's; -32001 when
  // neither is good.
  TokenClaims authorize(Connection& c, const std::optional<std::string>& token);
  // -32001 unless the joined connection's token grants `grants`.
  void require(ConnId conn, const std::string& method, unsigned grants);
  msg::JoinResult join(ConnId conn, const msg::Join& m);
  msg::Empty leave(ConnId conn);
  msg::Empty mute(ConnId conn, const msg::Mute& m);
  msg::ListResult list(ConnId conn, const msg::List& m);
  // offer/answer/candidate: the mesh relay, or the participant's SFU connections.
  template <typename M>
  std::optional<msg::Result> negotiate(ConnId conn, const char* method, const M& m,
                                       const Done& done);
  void remove_peer(Connection& c, const char* reason);
  RoomRecord& create(const std::string& name, RoomMode mode);

  Config cfg_;
  TokenVerifier tokens_;
  RoomStore& store_;
  Delivery& delivery_;
  RoomEvents* events_ = nullptr;
  MeshRelay mesh_{*this};
  SfuController sfu_{*this};
  std::unordered_map<ConnId, Connection> conns_;
  uint64_t next_seq_ = 1;
  uint64_t next_serial_ = 1;
  RoomTime last_now_{};
  int batches_ = 0;
};

}  // namespace rtcmesh::sig
