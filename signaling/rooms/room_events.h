// The events seam: what happens in a node's rooms, for whoever mirrors them
// elsewhere (signaling/cluster: Redis state and NATS events). Called on the
// room service's thread after the store changed and the local notes went
// out; implementations must not call back into the service synchronously.
#pragma once

#include <string>

#include "signaling/rooms/messages.h"

namespace rtcmesh::sig {

class RoomEvents {
 public:
  virtual ~RoomEvents() = default;
  virtual void joined(const std::string& room, const std::string& peer, ConnId conn) = 0;
  virtual void left(const std::string& room, const std::string& peer, const std::string& reason,
                    ConnId conn) = 0;
  // A note every other participant of the room got (publisher-joined,
  // publisher-left): `from` is the participant or publisher it is about.
  virtual void room_note(const std::string& room, const std::string& from,
                         const msg::Note& note) = 0;
};

}  // namespace rtcmesh::sig
