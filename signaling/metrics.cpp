#include "signaling/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace rtcmesh::sig {

namespace {

bool name_char(char c, bool first, bool colon) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

// HELP text escapes backslash and newline; label values also the double quote.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

}  // namespace

bool Metrics::valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true)) return false;
  return true;
}

bool Metrics::valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;  // reserved for Prometheus
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false)) return false;
  return true;
}

std::string Metrics::format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

void Metrics::add(const char* type, std::string_view name, std::string_view help,
                  const Labels& labels, std::string value) {
  if (!valid_name(name))
    throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
  std::string line(name);
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      const auto& [key, val] = labels[i];
      if (!valid_label_name(key))
        throw std::invalid_argument("invalid label name '" + key + "' of metric " +
                                    std::string(name));
      line += (i ? "," : "") + key + "=\"" + escape(val, true) + '"';
    }
    line += '}';
  }
  line += ' ' + value;
  for (Family& f : families_) {
    if (f.name != name) continue;
    if (f.type != type)
      throw std::invalid_argument("metric " + f.name + " is a " + f.type + ", not a " + type);
    f.samples.push_back(std::move(line));
    return;
  }
  families_.push_back({std::string(name), std::string(help), type, {std::move(line)}});
}

std::string Metrics::text() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + ' ' + escape(f.help, false) + '\n';
    out += "# TYPE " + f.name + ' ' + f.type + '\n';
    for (const std::string& s : f.samples) out += s + '\n';
  }
  return out;
}

}  // namespace rtcmesh::sig
