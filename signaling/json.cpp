#include "signaling/json.h"

#include <json-glib/json-glib.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace rtcmesh::sig {

namespace {

[[noreturn]] void wrong_type(const char* wanted) {
  throw std::logic_error(std::string("JSON value is not ") + wanted);
}

// Deepest bracket nesting outside strings; stops counting past limit.
size_t nesting_depth(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// json-glib's scanner also takes escapes JSON has not, such as octal "\331":
// a string may then hold bytes that are not UTF-8 though the text was.
// `utf8` turns false when one does.
Json from_node(JsonNode* node, bool& utf8) {
  switch (json_node_get_node_type(node)) {
    case JSON_NODE_NULL:
      return Json();
    case JSON_NODE_VALUE: {
      GType t = json_node_get_value_type(node);
      if (t == G_TYPE_BOOLEAN) return Json(json_node_get_boolean(node) != FALSE);
      if (t == G_TYPE_INT64) return Json(json_node_get_int(node));
      if (t == G_TYPE_DOUBLE) return Json(json_node_get_double(node));
      if (t == G_TYPE_STRING) {
        const char* s = json_node_get_string(node);
        if (s && !g_utf8_validate(s, -1, nullptr)) utf8 = false;
        return Json(std::string(s ? s : ""));
      }
      return Json();
    }
    case JSON_NODE_ARRAY: {
      JsonArray* a = json_node_get_array(node);
      Json::Array out;
      guint n = json_array_get_length(a);
      out.reserve(n);
      for (guint i = 0; i < n; ++i) out.push_back(from_node(json_array_get_element(a, i), utf8));
      return Json(std::move(out));
    }
    case JSON_NODE_OBJECT: {
      JsonObject* o = json_node_get_object(node);
      Json out = Json::object();
      // json-glib keeps member order; a repeated key keeps its last value.
      GList* members = json_object_get_members(o);
      for (GList* l = members; l; l = l->next) {
        const char* key = static_cast<const char*>(l->data);
        if (!g_utf8_validate(key, -1, nullptr)) utf8 = false;
        out.set(key, from_node(json_object_get_member(o, key), utf8));
      }
      g_list_free(members);
      return out;
    }
  }
  return Json();
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  out += s;
  // Keep it a double when read back ("1" would come back as an integer).
  if (s.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void dump_to(const Json& j, std::string& out) {
  switch (j.type()) {
    case Json::Type::kNull:
      out += "null";
      break;
    case Json::Type::kBool:
      out += j.as_bool() ? "true" : "false";
      break;
    case Json::Type::kInt:
      out += std::to_string(j.as_int());
      break;
    case Json::Type::kDouble:
      append_double(out, j.as_double());
      break;
    case Json::Type::kString:
      append_quoted(out, j.as_string());
      break;
    case Json::Type::kArray: {
      out += '[';
      bool first = true;
      for (const Json& e : j.as_array()) {
        if (!first) out += ',';
        first = false;
        dump_to(e, out);
      }
      out += ']';
      break;
    }
    case Json::Type::kObject: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.as_object()) {
        if (!first) out += ',';
        first = false;
        append_quoted(out, k);
        out += ':';
        dump_to(v, out);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

Json Json::object(std::initializer_list<std::pair<std::string, Json>> members) {
  Json out = object();
  for (const auto& [k, v] : members) out.set(k, v);
  return out;
}

bool Json::as_bool() const {
  if (!is_bool()) wrong_type("a boolean");
  return std::get<bool>(v_);
}

int64_t Json::as_int() const {
  if (!is_int()) wrong_type("an integer");
  return std::get<int64_t>(v_);
}

double Json::as_double() const {
  if (is_int()) return static_cast<double>(std::get<int64_t>(v_));
  if (type() != Type::kDouble) wrong_type("a number");
  return std::get<double>(v_);
}

const std::string& Json::as_string() const {
  if (!is_string()) wrong_type("a string");
  return std::get<std::string>(v_);
}

const Json::Array& Json::as_array() const {
  if (!is_array()) wrong_type("an array");
  return std::get<Array>(v_);
}

Json::Array& Json::as_array() {
  if (!is_array()) wrong_type("an array");
  return std::get<Array>(v_);
}

const Json::Object& Json::as_object() const {
  if (!is_object()) wrong_type("an object");
  return std::get<Object>(v_);
}

Json::Object& Json::as_object() {
  if (!is_object()) wrong_type("an object");
  return std::get<Object>(v_);
}

const Json* Json::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : std::get<Object>(v_))
    if (k == key) return &v;
  return nullptr;
}

std::optional<std::string> Json::get_string(std::string_view key) const {
  const Json* v = find(key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->as_string();
}

Json& Json::set(std::string key, Json value) {
  if (is_null()) v_ = Object{};
  Object& o = as_object();
  for (auto& [k, v] : o) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  o.emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::push(Json value) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(value));
  return *this;
}

size_t Json::size() const {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  return 0;
}

std::string Json::dump() const {
  std::string out;
  dump_to(*this, out);
  return out;
}

std::optional<Json> Json::parse(std::string_view text, std::string* error, size_t max_depth) {
  auto fail = [&](std::string why) -> std::optional<Json> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (nesting_depth(text, max_depth) > max_depth)
    return fail("nested deeper than " + std::to_string(max_depth) + " levels");
  if (text.find('\0') != std::string_view::npos) return fail("NUL byte in the text");
  if (!g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr))
    return fail("not valid UTF-8");
  JsonParser* parser = json_parser_new_immutable();
  GError* err = nullptr;
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), &err)) {
    // json-glib quotes the bad token, octal escapes decoded: keep it UTF-8.
    std::string why = "unknown error";
    if (err) {
      char* valid = g_utf8_make_valid(err->message, -1);
      why = valid;
      g_free(valid);
    }
    g_clear_error(&err);
    g_object_unref(parser);
    return fail(why);
  }
  JsonNode* root = json_parser_get_root(parser);
  if (!root) {
    g_object_unref(parser);
    return fail("empty text");
  }
  bool utf8 = true;
  Json out = from_node(root, utf8);
  g_object_unref(parser);
  // What we parse we may relay to others or quote in an error: it must stay
  // valid UTF-8 (a browser fails a WebSocket on a text frame that is not).
  if (!utf8) return fail("a string is not valid UTF-8 (an escape JSON does not have)");
  return out;
}

bool Json::operator==(const Json& other) const {
  // 1 == 1.0, as JSON does not tell them apart.
  if (is_number() && other.is_number()) {
    if (is_int() && other.is_int()) return as_int() == other.as_int();
    return as_double() == other.as_double();
  }
  return v_ == other.v_;
}

std::string json_quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

}  // namespace rtcmesh::sig
