// Prometheus text exposition format 0.0.4 (what `GET /metrics` serves, with
// content type `text/plain; version=0.0.4`): metrics are added as samples,
// text() groups them per name with one HELP and TYPE line each. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace rtcmesh::sig {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Throw std::invalid_argument for a name that is not [a-zA-Z_:][a-zA-Z0-9_:]*,
  // a label name that is not [a-zA-Z_][a-zA-Z0-9_]* (or starts with "__"),
  // or a name already added as the other type.
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  void counter(std::string_view name, std::string_view help, const Labels& labels, T value) {
    add("counter", name, help, labels, format(value));
  }
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  void gauge(std::string_view name, std::string_view help, const Labels& labels, T value) {
    add("gauge", name, help, labels, format(value));
  }

  std::string text() const;

  static bool valid_name(std::string_view name);
  static bool valid_label_name(std::string_view name);

 private:
  struct Family {
    std::string name, help, type;
    std::vector<std::string> samples;  // complete lines without the newline
  };
  void add(const char* type, std::string_view name, std::string_view help, const Labels& labels,
           std::string value);
  template <typename T>
  static std::string format(T value) {
    if constexpr (std::is_same_v<T, bool>)
      return value ? "1" : "0";
    else if constexpr (std::is_integral_v<T>)
      return std::to_string(value);
    else
      return format_double(static_cast<double>(value));
  }
  static std::string format_double(double value);

  std::vector<Family> families_;  // first-added order
};

}  // namespace rtcmesh::sig
