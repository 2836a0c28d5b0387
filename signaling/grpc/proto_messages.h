// The protobuf mapping of the typed room messages (signaling/rooms/messages.h)
// for the gRPC front end: rtcmesh.v1.SignalRequest → request struct, result,
// error and notification structs → rtcmesh.v1 messages. The gRPC twin of
// rpc/json_messages.h: the one place that knows the proto's field names;
// docs/protocol.md ("gRPC") has the table.
#pragma once

#include <cstdint>

#include "proto/rtcmesh/v1/signaling.pb.h"
#include "signaling/rooms/messages.h"
#include "signaling/rpc/errors.h"

namespace rtcmesh::sig::grpc_front {

namespace v1 = ::rtcmesh::v1;

// A request's typed call. Throws rpc::Failure: -32600 when no method is set,
// -32602 naming the member when a required one is empty (the same messages
// as JSON-RPC's: `join: "room" is required`).
msg::Request from_proto(const v1::SignalRequest& request);

// The gRPC status code (grpc::StatusCode's number) that goes with a
// JSON-RPC error code: -32602 → INVALID_ARGUMENT, -32001 → UNAUTHENTICATED
// (data.status 401) or PERMISSION_DENIED (403), …
int status_for(const rpc::Error& error);

v1::Error to_proto(const rpc::Error& error);
v1::Reply to_proto(uint64_t request_id, const msg::Reply& reply);
v1::Notification to_proto(const msg::Note& note);

// The client side (rtcmeshbin url=grpc://): the other way round.
v1::SignalRequest to_proto(uint64_t request_id, const msg::Request& request);
rpc::Error from_proto(const v1::Error& error);
// The reply's result (an error reply has none: check reply.has_error()).
msg::Result result_of(const v1::Reply& reply);
msg::Note from_proto(const v1::Notification& note);

}  // namespace rtcmesh::sig::grpc_front
