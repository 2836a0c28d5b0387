// The delivery seam: how a note reaches a participant. Today the participant's
// own front end connection (rpc::JsonRpcDelivery); in a cluster, a NATS
// subject for participants connected to another node.
#pragma once

#include "signaling/rooms/messages.h"

namespace rtcmesh::sig {

class Delivery {
 public:
  virtual ~Delivery() = default;
  // Never calls back into the room service (a front end defers transport events).
  virtual void deliver(ConnId conn, const msg::Note& note) = 0;
};

}  // namespace rtcmesh::sig
