// What the room service and its mode controllers share. The service owns
// connections, join/leave/list, auth, limits and liveness; a ModeController
// owns what depends on how a room's media flows: the mesh relay (MeshRelay),
// the SFU (SfuController); an MCU controller goes beside them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signaling/auth/tokens.h"
#include "signaling/address_limits.h"
#include "signaling/http/ice_servers.h"
#include "signaling/rooms/messages.h"
#include "signaling/rooms/store.h"

namespace rtcmesh::sig {

using RoomTime = std::chrono::steady_clock::time_point;

struct RoomServiceConfig {
  RoomMode default_mode = RoomMode::kMesh;  // of rooms a join creates
  std::string token;                        // static token; all empty = open; else join/list need one
  // Signed tokens (signaling/auth/tokens.h): the HS256 secret and the ES256
  // public key (PEM) themselves, not their files.
  std::string token_secret, token_public_key;
  unsigned max_rooms = 1000;                // over → -32002 on the join that would create one
  unsigned max_peers_per_room = 16;         // over → -32002
  // Candidates one peer may relay to one other peer (or send on one of its
  // SFU connections) per negotiation; over → -32006.
  unsigned max_candidates = 256;
  // Silent connections and unanswered SFU offers end after this long.
  std::chrono::milliseconds peer_timeout{10000};
  std::vector<IceServer> ice_servers;  // "iceServers" of the join result
  // Per client address, shared with the server's WHIP/WHEP endpoints: a
  // join past the rate is -32008 with data.retryAfter (the transport counts
  // its connections as sessions). Null = none.
  std::shared_ptr<AddressLimits> address_limits;
};

// The static token and the JWT keys of a configuration.
inline TokenKeys token_keys(const RoomServiceConfig& c) {
  return TokenKeys{c.token, c.token_secret, c.token_public_key};
}

// Takes a call's reply: at once or later (deferred). Dropped by the service
// when the caller's connection is gone meanwhile.
using Done = std::function<void(msg::Reply)>;

// A joined participant making a call.
struct Caller {
  ConnId conn = 0;
  RoomRecord& room;
  std::string peer;
};

// The service as its controllers see it.
class RoomContext {
 public:
  virtual ~RoomContext() = default;
  virtual RoomStore& store() = 0;
  virtual const RoomServiceConfig& config() const = 0;
  virtual RoomTime now() const = 0;  // the latest time a front end brought
  // A note to `peer` if it is a participant of `room`.
  virtual void tell(const RoomRecord& room, const std::string& peer, const msg::Note& note) = 0;
  // To every participant but `except`, in join order.
  virtual void tell_others(const RoomRecord& room, const std::string& except,
                           const msg::Note& note) = 0;
  // The room goes when nobody keeps it (participants, persistence, a controller).
  virtual void erase_if_unused(const std::string& room) = 0;
  // Every participant gets an `error` note (-32005 "room closed: why").
  virtual bool close(const std::string& room, const std::string& why, bool end_media) = 0;
};

class ModeController {
 public:
  virtual ~ModeController() = default;

  // Calls a participant makes in its room. A result now, or nullopt and
  // `done` later; refusals throw rpc::Failure. The media methods by default
  // do not exist in this mode (-32601).
  virtual std::optional<msg::Result> offer(const Caller& c, const msg::Offer&, const Done&) = 0;
  virtual std::optional<msg::Result> answer(const Caller& c, const msg::Answer&,
                                            const Done&) = 0;
  virtual std::optional<msg::Result> candidate(const Caller& c, const msg::Candidate&,
                                               const Done&) = 0;
  virtual std::optional<msg::Result> publish(const Caller& c, const msg::Publish&, const Done&);
  virtual std::optional<msg::Result> unpublish(const Caller& c, const msg::Unpublish&,
                                               const Done&);
  virtual std::optional<msg::Result> subscribe(const Caller& c, const msg::Subscribe&,
                                               const Done&);
  virtual std::optional<msg::Result> unsubscribe(const Caller& c, const msg::Unsubscribe&,
                                                 const Done&);
  // MCU rooms only (-32601 elsewhere).
  virtual std::optional<msg::Result> layout(const Caller& c, const msg::Layout&, const Done&);

  // `peer` is about to leave `room` (reason "left", "disconnected", "timeout").
  virtual void leaving(RoomRecord& room, const std::string& peer, const std::string& reason) = 0;
  // `room` is being closed: calls waiting on it end with `closed`.
  virtual void closing(RoomRecord& room, const rpc::Error& closed) = 0;
  // `room` left the store (closed, or empty and unused); end_media: end its
  // participants' media connections.
  virtual void gone(RoomRecord& room, bool end_media) = 0;
  // An empty room stays while this holds.
  virtual bool keeps(const RoomRecord&) const { return false; }
  virtual void tick(RoomTime) {}
  // The end of a front end's frame or of an event: deferred work goes out
  // (after the replies that caused it).
  virtual void settle() {}
};

// -32601 "method: room 'x' is a mesh room, not an sfu room".
[[noreturn]] void not_in_mode(const std::string& method, const RoomRecord& room);
// `sdp`, checked like a WHIP offer (-32602 "method: invalid SDP: …").
std::string checked_sdp(const std::string& method, std::string sdp);
// The candidate line normalised; -32602 when it is not one, or a non-empty
// one has neither mid nor m-line index.
std::string checked_candidate(const msg::Candidate& c);

}  // namespace rtcmesh::sig
