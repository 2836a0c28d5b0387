// The protocol's error vocabulary (DESIGN §7, docs/protocol.md): JSON-RPC
// codes that every front end (JSON-RPC, later gRPC and the data channel)
// carries unchanged, and the exception that parameter checks and the room
// service use to refuse a call.
#pragma once

#include <string>
#include <string_view>

#include "signaling/json.h"

namespace rtcmesh::sig::rpc {

enum Code : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kUnauthorized = -32001,
  kRoomFull = -32002,
  kUnknownPeer = -32003,
  kDuplicatePeer = -32004,
  kNotJoined = -32005,
  kTooLarge = -32006,
  kNoCommonCodec = -32007,
  // A per-client-address limit (requests per second, sessions at once):
  // data.retryAfter (seconds) and data.limit.
  kTooManyRequests = -32008,
};
// "parse error", "room full", …; "error <n>" for other codes.
std::string code_name(int code);

struct Error {
  int code = 0;
  std::string message;
  Json data;  // null = no "data" member
  bool operator==(const Error&) const = default;
};

// Thrown by a call that is refused; the caller gets `error`.
struct Failure {
  Error error;
};

[[noreturn]] inline void fail(int code, std::string message, Json data = {}) {
  throw Failure{Error{code, std::move(message), std::move(data)}};
}

// -32602 naming the member: `method: "key" why`.
[[noreturn]] inline void bad_param(std::string_view method, std::string_view key,
                                   std::string_view why) {
  fail(kInvalidParams,
       std::string(method) + ": \"" + std::string(key) + "\" " + std::string(why));
}

}  // namespace rtcmesh::sig::rpc
