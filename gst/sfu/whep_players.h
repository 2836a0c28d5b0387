// WHEP players of the SFU's rooms (DESIGN §7): a player POSTs its offer to
// /whep/<room> (the room's tracks; its empty slots are filled as publishers
// come) or /whep/<room>/<publisher> (that publisher's tracks; the other slots
// are answered inactive). The slot choice is sig::SfuPlayers' (pure, unit
// tested); this applies it: Sources from the Ingest, slots in the Router.
// Worker thread (the host's).
#pragma once

#include <functional>
#include <string>

#include "gst/server/ingest.h"
#include "gst/sfu/subscribers.h"
#include "signaling/http/resource_endpoint.h"
#include "signaling/rooms/sfu_room.h"

namespace rtcmesh::sfu {

class WhepPlayers {
 public:
  struct Hooks {
    // Why a new player of `room` is refused now, or "".
    std::function<std::string(const std::string& room)> refusal;
    std::function<guint()> peer_timeout_ms;
    std::function<void(const Subscriber&)> added;  // answered
  };
  WhepPlayers(server::Ingest& ingest, Subscribers& subscribers, Hooks hooks)
      : ingest_(ingest), subscribers_(subscribers), hooks_(std::move(hooks)) {}

  // A player's POST: 201 with our answer, 404, 422 or 503.
  void offer(const sig::ResourceEndpoint::Offer& offer,
             std::function<void(sig::ResourceEndpoint::Answer)> reply);
  // Room players of `room` waiting for a track get the ones nobody forwards
  // to them yet (a publisher came or went).
  void fill(const std::string& room);
  // Its slots go idle; the players of that publisher alone are returned.
  std::vector<std::string> publisher_left(const std::string& room, const std::string& publisher) {
    return players_.publisher_left(room, publisher);
  }
  void removed(const Subscriber& player) { players_.remove(player.id); }

 private:
  server::Ingest& ingest_;
  Subscribers& subscribers_;
  Hooks hooks_;
  sig::SfuPlayers players_;  // keyed by the WHEP resource id, as Subscribers
};

}  // namespace rtcmesh::sfu
