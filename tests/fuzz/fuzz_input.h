// What the text-driven fuzz targets share: the input is lines, the first of
// them a set of one-letter flags.
#pragma once

#include <string_view>
#include <vector>

namespace rtcmesh::fuzz {

// The next line of `text` (without "\n" or "\r\n"); `text` moves past it.
inline std::string_view take_line(std::string_view& text) {
  size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// `text` cut at every `sep`.
inline std::vector<std::string_view> split(std::string_view text, std::string_view sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return out;
    start = at + sep.size();
  }
}

// The first line of `text` as flags; `text` moves past it.
class Flags {
 public:
  explicit Flags(std::string_view& text) : flags_(take_line(text)) {}
  bool operator()(char flag) const { return flags_.find(flag) != std::string_view::npos; }

 private:
  std::string_view flags_;
};

}  // namespace rtcmesh::fuzz
