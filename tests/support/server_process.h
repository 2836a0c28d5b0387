// rtcmesh-server as a test runs it: the built binary as a subprocess on
// 127.0.0.1 port 0, its address read from the first stdout line; and a
// reader of its Prometheus /metrics text.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
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
  // --port 0 --address 127.0.0.1; `launcher` comes before the binary
  // ({"prlimit", "--nofile=64:64"}). Null (and a test failure) when it does
  // not start.
  static std::unique_ptr<RtcmeshServer> start(
      const std::string& binary, const std::vector<std::string>& args,
      std::vector<std::pair<std::string, std::string>> env = {},
      const std::vector<std::string>& launcher = {}) {
    std::vector<std::string> argv = launcher;
    for (const char* a : {binary.c_str(), "--port", "0", "--address", "127.0.0.1"})
      argv.push_back(a);
    argv.insert(argv.end(), args.begin(), args.end());
    // RTCMESH_TEST_SFU_ENGINE/_INGRESS (harness.h): SFU servers with that engine and ingress.
    const char* engine = std::getenv("RTCMESH_TEST_SFU_ENGINE");
    auto has = [&](const char* a) { return std::find(args.begin(), args.end(), a) != args.end(); };
    if (engine && *engine && has("sfu") && !has("--engine")) argv.insert(argv.end(), {"--engine", engine});
    const char* ingress = std::getenv("RTCMESH_TEST_SFU_INGRESS");
    bool webrtcbin = has("webrtcbin") || (engine && std::string(engine) == "webrtcbin");
    if (ingress && *ingress && has("sfu") && !has("--ingress") && !webrtcbin)
      argv.insert(argv.end(), {"--ingress", ingress});
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
  bool stderr_has(const std::string& text) const { return stderr_count(text) > 0; }
  size_t stderr_count(const std::string& text) const {
    size_t n = 0;
    for (const auto& l : proc->stderr_lines())
      if (l.find(text) != std::string::npos) n++;
    return n;
  }
  // Open file descriptors of the server process.
  size_t open_fds() const {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(
             "/proc/" + std::to_string(proc->pid()) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      n++;
    return n;
  }

  std::unique_ptr<Subprocess> proc;
  std::string base;  // "http://127.0.0.1:PORT"
  unsigned port = 0;
};

// The value of `name{room="<room>"}` (or another label's) in a /metrics
// text; -1 when absent.
inline double metric_value(const std::string& text, const std::string& name,
                           const std::string& room, const std::string& label = "room") {
  std::smatch m;
  std::regex re(name + "\\{" + label + "=\"" + room + "\"\\} ([0-9.e+]+)");
  return std::regex_search(text, m, re) ? std::stod(m[1].str()) : -1;
}

}  // namespace rtcmesh::test
