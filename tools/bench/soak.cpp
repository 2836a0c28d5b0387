// rtcmesh-bench soak: one rtcmesh-server --mode sfu under churn, and whether
// it gives back what the churn took (issue 9). Each cycle, against that one
// server on 127.0.0.1:
//   - a WHIP publisher (rtcwhipsink, in this process) comes, is seen in the
//     room, and leaves with a DELETE;
//   - while it is live, a WHEP player of the room (this program again, as
//     `soak-player`) starts and is SIGKILLed a moment later (the server
//     notices within its peer-timeout);
//   - a JSON-RPC participant joins and leaves over a WebSocket, another
//     joins and drops its socket without a word;
//   - HTTP clients: a keep-alive GET /metrics then a close, a request cut off
//     half-way, a connection that says nothing.
// Prints the server's RSS, fds and threads at the baseline (after a warm-up
// that loads what the first session loads), every cycles/6 cycles, and
// `settle` seconds after the last; exits 1 when they do not come back to the
// baseline (±10 %, at least ±2 fds and threads).
#include <arpa/inet.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

const char* kSoakUsage = "soak [--cycles 60] [--settle 30] [--server PATH] [--warmup 2]";

struct SoakOptions {
  int cycles = 60, warmup = 2;
  double settle = 30;
  std::string server;
};

// A blocking loopback TCP connection (2 s receive timeout).
class Tcp {
 public:
  explicit Tcp(unsigned port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Tcp() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // MSG_NOSIGNAL: a server that closed on us is a result, not our SIGPIPE.
  bool send(const std::string& s) {
    return fd_ >= 0 && ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size());
  }
  // Whatever arrives until `until` is in it, EOF or the timeout.
  // (`until` empty: one read.)
  std::string receive(const std::string& until) {
    std::string got;
    char buf[8192];
    while (fd_ >= 0 && (until.empty() ? got.empty() : got.find(until) == std::string::npos)) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    return got;
  }

 private:
  int fd_ = -1;
};

// One keep-alive GET; the whole answer (by its Content-Length), then a close.
std::string http_get(unsigned port, const std::string& path) {
  Tcp c(port);
  c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string got = c.receive("\r\n\r\n");
  size_t end = got.find("\r\n\r\n"), cl = got.find("Content-Length: ");
  if (end == std::string::npos || cl == std::string::npos || cl > end) return got;
  size_t want = end + 4 + std::stoul(got.substr(cl + 16));
  while (got.size() < want) {
    std::string more = c.receive("");
    if (more.empty()) break;
    got += more;
  }
  return got;
}

double room_publishers(unsigned port, const std::string& room) {
  std::smatch m;
  std::string text = http_get(port, "/metrics");
  std::regex re("rtcmesh_room_publishers\\{room=\"" + room + "\"\\} ([0-9]+)");
  return std::regex_search(text, m, re) ? std::stod(m[1].str()) : 0;
}

// A masked WebSocket text frame.
std::string ws_text(const std::string& payload) {
  std::string f(1, char(0x81));
  f += char(0x80 | payload.size());  // < 126 here
  const char mask[4] = {0x5a, 0x17, 0x3c, 0x61};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); i++) f += char(payload[i] ^ mask[i % 4]);
  return f;
}

// Joins `room` as `peer` over JSON-RPC; leaves politely or just drops the socket.
bool join_and_go(unsigned port, const std::string& room, const std::string& peer, bool leave) {
  Tcp c(port);
  c.send(
      "GET /rtc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  if (c.receive("\r\n\r\n").rfind("HTTP/1.1 101", 0) != 0) return false;
  c.send(ws_text(R"({"jsonrpc":"2.0","id":1,"method":"join","params":{"room":")" + room +
                 R"(","peer":")" + peer + R"("}})"));
  bool joined = c.receive("\"result\"").find("\"result\"") != std::string::npos;
  if (leave) {
    c.send(ws_text(R"({"jsonrpc":"2.0","id":2,"method":"leave"})"));
    c.receive("\"id\":2");
    c.send(std::string("\x88\x82\x01\x02\x03\x04", 6) + char(0x03 ^ 0x01) + char(0xe8 ^ 0x02));
  }
  return joined;
}

void bad_http_clients(unsigned port) {
  {
    Tcp c(port);  // keep-alive, then gone
    c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    c.receive("\r\n\r\n");
  }
  {
    Tcp c(port);  // cut off half-way
    c.send("POST /whip/soak/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nv=0");
  }
  Tcp silent(port);  // says nothing
}

struct Sample {
  long rss_kb = 0, fds = 0, threads = 0;
};

Sample sample(pid_t pid) {
  ProcSample p = sample_process(pid);
  return {p.rss_kb, p.fds, p.threads};
}

void print_row(const char* when, const Sample& s, const Sample& base) {
  auto pct = [](long v, long b) { return b ? 100.0 * (v - b) / b : 0.0; };
  std::printf("%-14s %9.1f %+6.1f%% %6ld %+5ld %8ld %+5ld\n", when, s.rss_kb / 1024.0,
              pct(s.rss_kb, base.rss_kb), s.fds, s.fds - base.fds, s.threads,
              s.threads - base.threads);
  std::fflush(stdout);
}

bool near(long v, long base, long slack) {
  return std::labs(v - base) <= std::max(slack, long(std::lround(base * 0.10)));
}

bool run_cycle(unsigned port, int n) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const std::string name = "pub" + std::to_string(n);
  GstElement* pub = launch("rtcwhipsink name=s peer-timeout=2000 endpoint=" + base +
                           "/whip/soak/" + name +
                           " videotestsrc is-live=true ! video/x-raw,width=160,height=120,"
                           "framerate=15/1 ! s.video_0 audiotestsrc is-live=true ! s.audio_0");
  if (gst_element_set_state(pub, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_object_unref(pub);
    return false;
  }
  bool seen = false;
  for (int i = 0; i < 100 && !seen; i++) {
    seen = room_publishers(port, "soak") >= 1;
    if (!seen) g_usleep(50000);
  }
  // A WHEP player that will be SIGKILLed, and JSON-RPC participants.
  Child player({"soak-player", base + "/whep/soak"});
  bool joined = join_and_go(port, "soak", "p" + std::to_string(n), true);
  join_and_go(port, "soak", "q" + std::to_string(n), false);
  bad_http_clients(port);
  g_usleep(700000);
  kill(player.pid(), SIGKILL);
  player.finish(2000);
  gst_element_set_state(pub, GST_STATE_NULL);  // DELETEs the session
  gst_object_unref(pub);
  return seen && joined;
}

}  // namespace

// Hidden: a WHEP player of `url` until killed.
int soak_player(int argc, char** argv) {
  if (argc < 3) return 2;
  std::string line =
      std::string("rtcwhepsrc name=r peer-timeout=2000 endpoint=") + argv[2] + " r. ! fakesink";
  GstElement* p = launch(line);
  if (!p) return 1;
  gst_element_set_state(p, GST_STATE_PLAYING);
  char buf[64];
  while (std::fgets(buf, sizeof buf, stdin)) {
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  return 0;
}

int soak(int argc, char** argv) {
  SoakOptions o;
  o.server = std::string(g_path_get_dirname(argv[0])) + "/rtcmesh-server";
  for (int i = 2; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\nusage: rtcmesh-bench %s\n", a.c_str(), kSoakUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--cycles") o.cycles = std::max(1, std::atoi(next().c_str()));
    else if (a == "--settle") o.settle = std::atof(next().c_str());
    else if (a == "--warmup") o.warmup = std::max(0, std::atoi(next().c_str()));
    else if (a == "--server") o.server = next();
    else {
      std::fprintf(stderr, "unknown option %s\nusage: rtcmesh-bench %s\n", a.c_str(), kSoakUsage);
      return 2;
    }
  }
  Child server({"--mode", "sfu", "--port", "0", "--address", "127.0.0.1", "--peer-timeout",
                "2000"},
               o.server);
  // (Lines before it are a wrapper's: --server may be a script around the server.)
  const std::string prefix = "rtcmesh-server listening on http://127.0.0.1:";
  auto line = server.expect(prefix, 30000);
  if (!line) {
    std::fprintf(stderr, "soak: %s did not start\n", o.server.c_str());
    return 1;
  }
  unsigned port = unsigned(std::stoul(line->substr(prefix.size())));
  std::printf("soak: rtcmesh-server (pid %d) on port %u, %d cycles (+%d warm-up), %.0f s settle\n",
              int(server.pid()), port, o.cycles, o.warmup, o.settle);
  int failed = 0;
  for (int i = 0; i < o.warmup; i++) failed += !run_cycle(port, -1 - i);
  g_usleep(gulong(std::min(o.settle, 10.0) * G_USEC_PER_SEC));
  Sample base = sample(server.pid());
  std::printf("%-14s %9s %7s %6s %5s %8s %5s\n", "", "RSS MiB", "", "fds", "", "threads", "");
  print_row("baseline", base, base);
  int every = std::max(1, o.cycles / 6);
  gint64 t0 = g_get_monotonic_time();
  for (int i = 1; i <= o.cycles; i++) {
    if (!run_cycle(port, i)) failed++;
    if (i % every == 0 || i == o.cycles) {
      char when[32];
      std::snprintf(when, sizeof when, "cycle %d", i);
      print_row(when, sample(server.pid()), base);
    }
  }
  double took = (g_get_monotonic_time() - t0) / 1e6;
  g_usleep(gulong(o.settle * G_USEC_PER_SEC));
  Sample end = sample(server.pid());
  char when[32];
  std::snprintf(when, sizeof when, "+%.0f s", o.settle);
  print_row(when, end, base);
  bool alive = !server.exited() && !http_get(port, "/metrics").empty();
  bool back = near(end.rss_kb, base.rss_kb, 0) && near(end.fds, base.fds, 2) &&
              near(end.threads, base.threads, 2);
  std::printf("soak: %d cycles in %.0f s (%.1f s each), %d with a step that failed; server %s; "
              "%s\n",
              o.cycles, took, took / o.cycles, failed, alive ? "alive" : "GONE",
              back ? "back to its baseline (±10 %)" : "NOT back to its baseline");
  kill(server.pid(), SIGTERM);
  server.finish(5000);
  return alive && back && failed == 0 ? 0 : 1;
}

}  // namespace bench
