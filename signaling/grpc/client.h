// The client side of rtcmesh.v1.Signaling (rtcmeshbin url=grpc://HOST:PORT,
// grpcs://): a RoomClient whose JSON-RPC calls and notifications travel as
// SignalRequests and SignalResponses on one stream. No grpc++ in this header.
#pragma once

#include "signaling/room_client.h"

namespace rtcmesh::sig::grpc_front {

// On the thread that runs ctx; callbacks run there too. Options used:
// call_timeout_s, tls_ca_file (grpcs), headers' Authorization (the bearer).
std::unique_ptr<RoomClient> make_grpc_client(GMainContext* ctx, RoomClient::Options options);

}  // namespace rtcmesh::sig::grpc_front
