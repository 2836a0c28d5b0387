// The room-media seam: whatever hosts the media of a room (rtcsfu today, an
// MCU or a processing host later) as the room service sees it. Mode-neutral:
// publish, unpublish, subscribe (offer), answer, candidate, with deferred
// results.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "signaling/rooms/sfu_room.h"
#include "signaling/rpc/errors.h"

namespace rtcmesh::sig {

// Called on the room service's thread; every callback it is handed must also
// be called on that thread (exactly once), possibly later, possibly before
// the call returns. Callbacks for participants that are gone meanwhile are
// ignored, so they are safe to call even after the service is destroyed.
class RoomMedia {
 public:
  virtual ~RoomMedia() = default;
  struct PublishResult {
    std::string sdp;
    std::vector<SfuTrack> tracks;
    std::optional<rpc::Error> error;  // set: sent to the client as is (e.g. -32007)
  };
  // A participant's publish offer (already validated with validate_offer):
  // answer it. unpublish() may come before done: it cancels the publish.
  virtual void publish(const std::string& room, const std::string& peer, const std::string& sdp,
                       std::function<void(PublishResult)> done) = 0;
  // End a publisher's connection (unpublish, leave, disconnect, timeout).
  virtual void unpublish(const std::string& room, const std::string& peer) = 0;
  // Make the subscriber's connection carry offer.slots (new connection when
  // offer.rebuild) and create the offer: done(sdp, "") or done("", error).
  // The SDP's mids are "0", "1", … in m-line order.
  virtual void offer(
      const std::string& room, const SfuOffer& offer,
      std::function<void(const std::string& sdp, const std::string& error)> done) = 0;
  // The subscriber's answer to `negotiation`: done("") or done(error).
  virtual void answer(const std::string& room, const std::string& peer, uint64_t negotiation,
                      const std::string& sdp,
                      std::function<void(const std::string& error)> done) = 0;
  // connection: "publish" | "subscribe"; mline -1 when only mid is known;
  // empty candidate = end of candidates.
  virtual void candidate(const std::string& room, const std::string& peer,
                         const std::string& connection, int mline, const std::string& mid,
                         const std::string& candidate) = 0;
  // End a subscriber's connection (unsubscribe, leave, failure, timeout).
  virtual void unsubscribe(const std::string& room, const std::string& peer) = 0;
  // MCU: lay the composite out ("grid", "speaker", "pinned" + `pinned`, checked
  // by the controller). Returns "" or why not.
  virtual std::string layout(const std::string& room, const std::string& layout,
                             const std::string& pinned) {
    (void)room, (void)layout, (void)pinned;
    return "this room's media has no composite";
  }
};

}  // namespace rtcmesh::sig
