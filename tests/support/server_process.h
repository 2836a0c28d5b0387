// rtcmesh-server as a test runs it: the built binary as a subprocess on
// 127.0.0.1 port 0, its address read from the first stdout line; and a
// reader of its Prometheus /metrics text.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/subprocess.h"

namespace rtcmesh::test {

struct RtcmeshServer {
  static constexpr const char* kListening = "rtcmesh-server listening on ";

  // `binary` is the RTCMESH_SERVER the test was built with; `args` follow
  // --port 0 --address 127.0.0.1. Null (and a test failure) when it does not
  // start.
  static std::unique_ptr<RtcmeshServer> start(
      const std::string& binary, const std::vector<std::string>& args,
      std::vector<std::pair<std::string, std::string>> env = {}) {
    std::vector<std::string> argv = {binary, "--port", "0", "--address", "127.0.0.1"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess::Options o;
    o.echo_prefix = "[server]";
    o.env = std::move(env);
    std::string error;
    auto s = std::make_unique<RtcmeshServer>();
    s->proc = Subprocess::spawn(argv, o, &error);
    if (!s->proc) {
      ADD_FAILURE() << "spawn " << binary << ": " << error;
      return nullptr;
    }
    auto line = s->proc->read_line(std::chrono::seconds(15));
    if (!line || line->rfind(kListening, 0) != 0) {
      ADD_FAILURE() << "no '" << kListening << "' line; got '" << line.value_or("<nothing>")
                    << "'";
      return nullptr;
    }
    s->base = line->substr(std::string(kListening).size());
    s->port = static_cast<unsigned>(std::stoul(s->base.substr(s->base.rfind(':') + 1)));
    return s;
  }
  // ws://127.0.0.1:PORT/rtc (wss with TLS).
  std::string ws_url() const {
    return (base.rfind("https", 0) == 0 ? "wss" : "ws") + base.substr(base.find(':')) + "/rtc";
  }
  bool stderr_has(const std::string& text) const {
    for (const auto& l : proc->stderr_lines())
      if (l.find(text) != std::string::npos) return true;
    return false;
  }

  std::unique_ptr<Subprocess> proc;
  std::string base;  // "http://127.0.0.1:PORT"
  unsigned port = 0;
};

// The value of `name{room="<room>"}` in a /metrics text; -1 when absent.
inline double metric_value(const std::string& text, const std::string& name,
                           const std::string& room) {
  std::smatch m;
  std::regex re(name + "\\{room=\"" + room + "\"\\} ([0-9.e+]+)");
  return std::regex_search(text, m, re) ? std::stod(m[1].str()) : -1;
}

}  // namespace rtcmesh::test
