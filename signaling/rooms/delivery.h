// The delivery seam: how a note reaches a participant. Today the participant's
// own front end connection (rpc::JsonRpcDelivery); in a cluster, a NATS
// subject for participants connected to another node.
#pragma once

#include <string>

#include "signaling/rooms/messages.h"

namespace rtcmesh::sig {

class Delivery {
 public:
  virtual ~Delivery() = default;
  // Never calls back into the room service (a front end defers transport events).
  virtual void deliver(ConnId conn, const msg::Note& note) = 0;
  // The server drains (SIGTERM): end every connection with `reason` ("move
  // <url>" or "draining", as a WebSocket's 1001 close) and refuse new ones.
  virtual void drain(const std::string& /*reason*/) {}
};

}  // namespace rtcmesh::sig
