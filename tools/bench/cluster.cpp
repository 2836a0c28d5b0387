// rtcmesh-bench cluster: two rtcmesh-server nodes (SFU rooms) with one
// redis-server and one nats-server, all started here on free loopback ports.
// One publisher (rtcwhipsink, raw test video encoded in this process) on node
// A; one WHEP viewer on A (one hop: the baseline) and N on node B (two hops:
// A → NATS → B), counting RTP without decoding. Per window: CPU of each node
// per forwarded packet (from /proc: every thread of the node), the latency
// of the same packets at A's viewer and at B's viewers (PacketClock: the
// publisher's send path stamps them, the viewers' receive paths look them
// up) and so the hop's added latency, and the RTP bytes A sent over NATS.
#include <arpa/inet.h>
#include <gio/gio.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "signaling/loopback.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/bench/latency.h"

namespace bench {

namespace {

// GET /metrics of a node (plain HTTP/1.0 on a socket).
std::string metrics(unsigned port) {
  GSocketClient* c = g_socket_client_new();
  GSocketConnection* conn =
      g_socket_client_connect_to_host(c, "127.0.0.1", guint16(port), nullptr, nullptr);
  g_object_unref(c);
  if (!conn) return "";
  std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), req.data(),
                            req.size(), nullptr, nullptr, nullptr);
  std::string out;
  char buf[4096];
  gssize n;
  while ((n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buf,
                                  sizeof buf, nullptr, nullptr)) > 0)
    out.append(buf, size_t(n));
  g_object_unref(conn);
  return out;
}

double metric(const std::string& text, const std::string& name) {
  std::smatch m;
  std::regex re(name + "\\{[^}]*\\} ([0-9.e+]+)");
  return std::regex_search(text, m, re) ? std::stod(m[1].str()) : -1;
}

// A program of PATH, stopped with SIGTERM (then killed) when it goes.
struct Service {
  std::unique_ptr<Child> child;
  Service(const std::string& program, const std::vector<std::string>& args) {
    gchar* path = g_find_program_in_path(program.c_str());
    if (!path) {
      std::fprintf(stderr, "cluster: %s is not installed (scripts/install-deps)\n",
                   program.c_str());
      std::exit(1);
    }
    child = std::make_unique<Child>(args, path);
    g_free(path);
  }
  ~Service() {
    if (child && child->pid() > 0) kill(child->pid(), SIGTERM);
  }
};

struct Viewer {
  GstElement* pipeline = nullptr;
};

Viewer start_viewer(const std::string& endpoint, PacketClock& clock) {
  Viewer v;
  v.pipeline = launch("rtcwhepsrc name=r output=rtp ice-local-addresses=127.0.0.1 endpoint=\"" +
                      endpoint + "\" r.video_0 ! fakesink sync=false async=false");
  clock.watch_subscriber(v.pipeline);
  gst_element_set_state(v.pipeline, GST_STATE_PLAYING);
  return v;
}

void stop(GstElement* p) {
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
}

std::string ms(std::vector<double> v) {
  if (v.empty()) return "n/a";
  std::sort(v.begin(), v.end());
  char out[64];
  std::snprintf(out, sizeof out, "%.2f/%.2f", percentile(v, 0.5), percentile(v, 0.95));
  return out;
}

}  // namespace

int cluster(int argc, char** argv) {
  std::vector<int> viewers = {1, 10};
  double seconds = 10;
  std::string server = std::string(g_path_get_dirname(argv[0])) + "/rtcmesh-server";
  for (int i = 2; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--viewers")
      viewers = parse_int_list(value());
    else if (a == "--seconds")
      seconds = std::atof(value().c_str());
    else if (a == "--server")
      server = value();
    else {
      std::fprintf(stderr,
                   "usage: rtcmesh-bench cluster [--viewers 1,10] [--seconds 10] [--server PATH]\n");
      return 2;
    }
  }
  using rtcmesh::sig::free_loopback_port;
  unsigned redis_port = free_loopback_port(), nats_port = free_loopback_port();
  Service redis("redis-server", {"--port", std::to_string(redis_port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--loglevel", "warning"});
  Service nats("nats-server", {"-a", "127.0.0.1", "-p", std::to_string(nats_port)});
  if (!rtcmesh::sig::wait_listening(redis_port, 10000) ||
      !rtcmesh::sig::wait_listening(nats_port, 10000)) {
    std::fprintf(stderr, "cluster: redis-server or nats-server did not start\n");
    return 1;
  }
  auto node = [&](const char* id) {
    return std::make_unique<Child>(
        std::vector<std::string>{"--mode", "sfu", "--port", "0", "--address", "127.0.0.1",
                                 "--redis", "redis://127.0.0.1:" + std::to_string(redis_port),
                                 "--nats", "nats://127.0.0.1:" + std::to_string(nats_port),
                                 "--node-id", id, "--max-subscribers", "0"},
        server);
  };
  std::unique_ptr<Child> a = node("a"), b = node("b");
  const std::string prefix = "rtcmesh-server listening on http://127.0.0.1:";
  auto port_of = [&](Child& c) -> unsigned {
    auto line = c.expect(prefix, 30000);
    return line ? unsigned(std::stoul(line->substr(prefix.size()))) : 0;
  };
  unsigned pa = port_of(*a), pb = port_of(*b);
  if (!pa || !pb) {
    std::fprintf(stderr, "cluster: %s did not start\n", server.c_str());
    return 1;
  }
  std::string base_a = "http://127.0.0.1:" + std::to_string(pa),
              base_b = "http://127.0.0.1:" + std::to_string(pb);

  // Both clocks stamp the publisher's packets; each times its own viewers.
  PacketClock one_hop, two_hops;
  GstElement* pub = launch(
      "rtcwhipsink name=s ice-local-addresses=127.0.0.1 endpoint=" + base_a +
      "/whip/bench/cam videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 "
      "! s.video_0");
  one_hop.watch_publisher(pub);
  two_hops.watch_publisher(pub);
  gst_element_set_state(pub, GST_STATE_PLAYING);
  gint64 end = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
  while (metric(metrics(pb), "rtcmesh_cluster_remote_publishers") != 1 &&
         g_get_monotonic_time() < end)
    g_usleep(100000);

  std::printf("cluster: 1 publisher (VP8 640x360@30, encoded here) on node a, 1 WHEP viewer on a, "
              "N on b (RTP counted, not decoded), %.0f s windows\n",
              seconds);
  std::printf("%-8s %12s %12s %14s %14s %12s %12s %10s\n", "viewers", "a µs/pkt", "b µs/pkt",
              "1 hop p50/p95", "2 hops p50/p95", "added p50", "NATS kbit/s", "B/pkt");
  Viewer local = start_viewer(base_a + "/whep/bench/cam", one_hop);
  std::vector<Viewer> remote;
  for (int n : viewers) {
    while (int(remote.size()) < n) remote.push_back(start_viewer(base_b + "/whep/bench/cam", two_hops));
    g_usleep(3 * G_USEC_PER_SEC);  // connected, first keyframe through
    one_hop.take();
    two_hops.take();
    ProcSample a0 = sample_process(a->pid()), b0 = sample_process(b->pid());
    double bytes0 = metric(metrics(pa), "rtcmesh_cluster_media_bytes_sent_total");
    guint64 sent0 = one_hop.sent();
    g_usleep(gulong(seconds * G_USEC_PER_SEC));
    ProcSample a1 = sample_process(a->pid()), b1 = sample_process(b->pid());
    double bytes1 = metric(metrics(pa), "rtcmesh_cluster_media_bytes_sent_total");
    guint64 sent = one_hop.sent() - sent0;
    PacketClock::Window w1 = one_hop.take(), w2 = two_hops.take();
    double tick_us = 1e6 / double(ticks_per_second());
    double a_us = double(a1.cpu_ticks - a0.cpu_ticks) * tick_us;
    double b_us = double(b1.cpu_ticks - b0.cpu_ticks) * tick_us;
    // a forwards each packet to its viewer and to NATS; b to each of its viewers.
    double a_pkts = double(w1.latency_ms.size() + sent), b_pkts = double(w2.latency_ms.size());
    std::vector<double> l1 = w1.latency_ms, l2 = w2.latency_ms;
    std::sort(l1.begin(), l1.end());
    std::sort(l2.begin(), l2.end());
    double added = (l1.empty() || l2.empty()) ? 0 : percentile(l2, 0.5) - percentile(l1, 0.5);
    std::printf("%-8d %12.1f %12.1f %14s %14s %12.2f %12.0f %10.0f\n", n,
                a_pkts ? a_us / a_pkts : 0, b_pkts ? b_us / b_pkts : 0, ms(l1).c_str(),
                ms(l2).c_str(), added, (bytes1 - bytes0) * 8 / 1000 / seconds,
                sent ? (bytes1 - bytes0) / double(sent) : 0);
    std::printf("         packets: sent %llu, at a's viewer %zu (unmatched %llu), at b's %zu "
                "(unmatched %llu); cpu a %.0f ms, b %.0f ms\n",
                (unsigned long long)sent, w1.latency_ms.size(),
                (unsigned long long)w1.unmatched, w2.latency_ms.size(),
                (unsigned long long)w2.unmatched, a_us / 1000, b_us / 1000);
    std::fflush(stdout);
  }
  for (auto& v : remote) stop(v.pipeline);
  stop(local.pipeline);
  stop(pub);
  for (Child* c : {a.get(), b.get()}) kill(c->pid(), SIGTERM);
  a->finish(5000);
  b->finish(5000);
  return 0;
}

}  // namespace bench
