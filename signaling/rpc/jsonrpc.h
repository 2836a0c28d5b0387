// JSON-RPC 2.0 codec (https://www.jsonrpc.org/specification): what a text
// frame holds (request, notification, response, batch, or garbage) and the
// texts we send. Pure: no sockets, no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/json.h"
#include "signaling/rpc/errors.h"

namespace rtcmesh::sig::rpc {

// A request (has_id) or a notification (no id).
struct Request {
  std::string method;
  Json params;  // object, array, or null when absent
  Json id;      // string, number or null; meaningful when has_id
  bool has_id = false;
  bool notification() const { return !has_id; }
};

struct Response {
  Json id;  // null when the other side could not read our request
  Json result;
  std::optional<Error> error;  // set: an error response; result is null
  bool ok() const { return !error.has_value(); }
};

// One element of a message: a request, a response, or an element that is
// not valid JSON-RPC (answer `error` with `id`; id is null unless it could
// be read).
struct Item {
  enum class Kind { kRequest, kResponse, kInvalid };
  Kind kind = Kind::kInvalid;
  Request request;
  Response response;
  Error error;
  Json id;
};

struct Message {
  // Set when the whole text is unusable (not JSON: -32700; an empty batch or
  // a scalar: -32600); answer it with a null id. items is then empty.
  std::optional<Error> error;
  bool batch = false;  // the text was an array
  std::vector<Item> items;
};

struct ParseLimits {
  size_t max_depth = 64;  // JSON nesting
};

Message parse(std::string_view text, const ParseLimits& limits = {});

// Builders (objects, for batches) and their texts.
Json request_object(const Json& id, std::string_view method, Json params);
Json notification_object(std::string_view method, Json params);
Json result_object(const Json& id, Json result);
Json error_object(const Json& id, const Error& error);

std::string request(const Json& id, std::string_view method, Json params);
std::string notification(std::string_view method, Json params);
std::string result(const Json& id, Json result);
std::string error(const Json& id, const Error& error);

}  // namespace rtcmesh::sig::rpc
