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
  // Where libnice gathers: only these addresses when any is given (a server's
  // bound address, 127.0.0.1 for tests), else every interface.
  std::vector<std::string> local_addresses;
  // Written into our host candidates instead of the gathered address of the
  // same family (1:1 NAT, containers), as announced-addresses.
  std::vector<std::string> announced_addresses;
  unsigned gather_timeout_ms = 1000;         // answer with what we have after this
};

}  // namespace rtcmesh
