// What a connection's ICE agent is told (DESIGN §6): plain values, so the ICE
// properties (props.h) can fill them without knowing the Peer that uses them.
#pragma once

#include <string>
#include <vector>

namespace rtcmesh {

struct IceSettings {
  std::string stun_server;                   // stun://host:port, empty = none
  std::vector<std::string> turn_servers;     // turn(s)://user:pass@host:port
  bool relay_only = false;                   // ice-transport-policy=relay
  std::vector<std::string> local_addresses;  // extra addresses to gather (127.0.0.1 for tests)
  unsigned gather_timeout_ms = 1000;         // answer with what we have after this
};

}  // namespace rtcmesh
