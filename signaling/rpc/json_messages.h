// The JSON mapping of the typed room messages (signaling/rooms/messages.h):
// JSON-RPC params → request struct, result and notification structs → JSON.
// The one place that knows member names and their JSON types.
#pragma once

#include <string>
#include <utility>

#include "signaling/json.h"
#include "signaling/rooms/messages.h"

namespace rtcmesh::sig::rpc {

// A request of `method` with `params` (object or null). Throws Failure:
// -32601 unknown method, -32602 params not by name, a member missing or of
// the wrong type (naming it).
msg::Request parse_request(const std::string& method, const Json& params);

Json to_json(const msg::Result& result);
// The notification's method and params.
std::pair<std::string, Json> to_json(const msg::Note& note);

}  // namespace rtcmesh::sig::rpc
