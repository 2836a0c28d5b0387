#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig::rpc {

namespace {

bool valid_id(const Json& id) {
  return id.is_string() || id.is_number() || id.is_null();
}

Item invalid(std::string message, Json id = {}) {
  Item it;
  it.kind = Item::Kind::kInvalid;
  it.error = Error{kInvalidRequest, std::move(message), {}};
  it.id = std::move(id);
  return it;
}

Item parse_item(const Json& j) {
  if (!j.is_object()) return invalid("a request must be a JSON object");
  const Json* id = j.find("id");
  // The id is echoed in the error when it can be, so the sender can match it.
  Json echo_id = id && valid_id(*id) ? *id : Json();
  const Json* version = j.find("jsonrpc");
  if (!version || !version->is_string() || version->as_string() != "2.0")
    return invalid("\"jsonrpc\" must be \"2.0\"", echo_id);
  if (id && !valid_id(*id)) return invalid("\"id\" must be a string, a number or null");

  if (const Json* method = j.find("method")) {
    if (!method->is_string()) return invalid("\"method\" must be a string", echo_id);
    Item it;
    it.kind = Item::Kind::kRequest;
    it.request.method = method->as_string();
    it.request.has_id = id != nullptr;
    if (id) it.request.id = *id;
    if (const Json* params = j.find("params")) {
      if (!params->is_object() && !params->is_array())
        return invalid("\"params\" must be an object or an array", echo_id);
      it.request.params = *params;
    }
    it.id = echo_id;
    return it;
  }

  const Json* result = j.find("result");
  const Json* error = j.find("error");
  if (!result && !error) return invalid("neither \"method\" nor \"result\"/\"error\"", echo_id);
  if (result && error) return invalid("both \"result\" and \"error\"", echo_id);
  if (!id) return invalid("a response needs an \"id\"");
  Item it;
  it.kind = Item::Kind::kResponse;
  it.response.id = *id;
  it.id = *id;
  if (result) {
    it.response.result = *result;
    return it;
  }
  const Json* code = error->find("code");
  const Json* message = error->find("message");
  if (!error->is_object() || !code || !code->is_int() || !message || !message->is_string())
    return invalid("\"error\" needs an integer \"code\" and a string \"message\"", echo_id);
  Error e;
  e.code = static_cast<int>(code->as_int());
  e.message = message->as_string();
  if (const Json* data = error->find("data")) e.data = *data;
  it.response.error = std::move(e);
  return it;
}

}  // namespace

std::string code_name(int code) {
  switch (code) {
    case kParseError:
      return "parse error";
    case kInvalidRequest:
      return "invalid request";
    case kMethodNotFound:
      return "method not found";
    case kInvalidParams:
      return "invalid params";
    case kInternalError:
      return "internal error";
    case kUnauthorized:
      return "unauthorized";
    case kRoomFull:
      return "room full";
    case kUnknownPeer:
      return "unknown peer";
    case kDuplicatePeer:
      return "duplicate peer";
    case kNotJoined:
      return "not joined";
    case kTooLarge:
      return "too large";
    case kNoCommonCodec:
      return "no common codec";
    case kTooManyRequests:
      return "too many requests";
  }
  return "error " + std::to_string(code);
}

Message parse(std::string_view text, const ParseLimits& limits) {
  Message m;
  std::string why;
  std::optional<Json> doc = Json::parse(text, &why, limits.max_depth);
  if (!doc) {
    m.error = Error{kParseError, "parse error: " + why, {}};
    return m;
  }
  if (doc->is_array()) {
    m.batch = true;
    if (doc->size() == 0) {
      m.error = Error{kInvalidRequest, "empty batch", {}};
      return m;
    }
    for (const Json& e : doc->as_array()) m.items.push_back(parse_item(e));
    return m;
  }
  if (!doc->is_object()) {
    m.error = Error{kInvalidRequest, "a message must be a JSON object or an array of them", {}};
    return m;
  }
  m.items.push_back(parse_item(*doc));
  return m;
}

Json request_object(const Json& id, std::string_view method, Json params) {
  Json o = Json::object({{"jsonrpc", "2.0"}, {"method", method}});
  if (!params.is_null()) o.set("params", std::move(params));
  o.set("id", id);
  return o;
}

Json notification_object(std::string_view method, Json params) {
  Json o = Json::object({{"jsonrpc", "2.0"}, {"method", method}});
  if (!params.is_null()) o.set("params", std::move(params));
  return o;
}

Json result_object(const Json& id, Json result) {
  return Json::object({{"jsonrpc", "2.0"}, {"result", std::move(result)}, {"id", id}});
}

Json error_object(const Json& id, const Error& error) {
  Json e = Json::object({{"code", error.code}, {"message", error.message}});
  if (!error.data.is_null()) e.set("data", error.data);
  return Json::object({{"jsonrpc", "2.0"}, {"error", std::move(e)}, {"id", id}});
}

std::string request(const Json& id, std::string_view method, Json params) {
  return request_object(id, method, std::move(params)).dump();
}

std::string notification(std::string_view method, Json params) {
  return notification_object(method, std::move(params)).dump();
}

std::string result(const Json& id, Json result) {
  return result_object(id, std::move(result)).dump();
}

std::string error(const Json& id, const Error& error) {
  return error_object(id, error).dump();
}

}  // namespace rtcmesh::sig::rpc
