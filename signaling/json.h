// A small JSON value (parsed with json-glib, written by hand) so protocol code
// and its users handle plain C++ values instead of JsonNode trees.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace rtcmesh::sig {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Json>;
  // Insertion order is kept (output reads like the code that built it); keys
  // are unique: set() replaces.
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  template <typename T,
            std::enable_if_t<
                (std::is_integral_v<T> && !std::is_same_v<T, bool>) || std::is_enum_v<T>, int> = 0>
  Json(T n) : v_(static_cast<int64_t>(n)) {}
  Json(double d) : v_(d) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }
  // Json::object({{"room", "a"}, {"peer", "b"}})
  static Json object(std::initializer_list<std::pair<std::string, Json>> members);

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_number() const { return is_int() || type() == Type::kDouble; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Throw std::logic_error on the wrong type (callers check first).
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // ints convert
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Member of an object; nullptr when absent or when this is not an object.
  const Json* find(std::string_view key) const;
  // The string member `key`, or nullopt when absent or not a string.
  std::optional<std::string> get_string(std::string_view key) const;
  // Sets a member (null becomes an empty object first); returns *this.
  Json& set(std::string key, Json value);
  // Appends to an array (null becomes an empty array first); returns *this.
  Json& push(Json value);
  size_t size() const;  // members or elements; 0 otherwise

  // Compact JSON text. Non-finite doubles are written as null.
  std::string dump() const;

  // Parses one JSON text. Nesting deeper than max_depth is refused before
  // json-glib sees it (its parser recurses). On failure returns nullopt and
  // sets *error to the reason.
  static std::optional<Json> parse(std::string_view text, std::string* error = nullptr,
                                   size_t max_depth = 64);

  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

// JSON string literal (quoted, escaped) for s.
std::string json_quote(std::string_view s);

}  // namespace rtcmesh::sig
