// rtcmesh-bench fanout: one pre-encoded 720p30 H.264 stream served by
// rtcwhepsink to N viewers in another process (DESIGN §10).
// rtcmesh-bench sfu: the same stream published (WHIP) to an rtcsfu and
// forwarded to N subscribers (WHEP), with the time each packet spends between
// the publisher's send path and the subscribers' receive path, also with
// packets dropped on the way in. The differences are marked "sfu:" below.
//
// Three processes: this one (measures, never touches media but for encoding
// the input once), `fanout-server` (file → clocksync → rtcwhepsink, no
// encoder) and `fanout-viewers` (N rtcwhepsrc output=rtp counting packets,
// plus one sampled viewer that decodes). For each N, a fresh pair:
//   1. server alone: baseline CPU, threads, RSS, fds at 0 viewers
//   2. N viewers join in batches, all receiving RTP, then a warm-up
//   3. the window: server CPU (its own getrusage) ÷ RTP packets forwarded
//      (packets into the fan-out's tee × N, exact; the sum of the viewers'
//      packets-sent from webrtcbin's stats, refreshed every second, is printed
//      next to it), per-thread CPU, loss, the viewers' and everybody else's CPU
//   4. sampled joins: POST (server's age-ms of that viewer) → first decoded
//      frame in the viewers' process, both on CLOCK_MONOTONIC
// sfu: `sfu-server` is an rtcsfu alone; the publisher (file → clocksync →
// rtcwhipsink) runs in the viewers' process, which also times the packets
// (latency.h). Before 1, the publisher's packets must be reaching the fan-out.
// After 3, a second window with a share of the publisher's packets dropped
// before they leave (latency, packets recovered by NACK/RTX, loss). In 4 the
// join runs from the viewer's start: rtcsfu does not say when a POST came.
#include <gst/gst.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/bench/janus.h"

namespace bench {

namespace {

const char* kFanoutUsage =
    "fanout [--viewers 1,10,25,50] [--seconds 10] [--warmup 3]\n"
    "         [--baseline 5] [--joins 10] [--batch 10] [--bitrate 2000] [--gop 60]\n"
    "         [--input FILE.mp4 | --input-seconds 40]";
const char* kSfuUsage =
    "sfu [--viewers 1,10,25,50] [--seconds 10] [--warmup 3]\n"
    "         [--baseline 5] [--joins 10] [--batch 10] [--bitrate 2000] [--gop 60]\n"
    "         [--input FILE.mp4 | --input-seconds 40] [--drop 1] [--loss-seconds 10]\n"
    "         [--engine native|egress|webrtcbin[,…]] [--compare janus]";

struct Options {
  std::vector<int> viewers{1, 10, 25, 50};
  double seconds = 10, warmup = 3, baseline = 5;
  int joins = 10, batch = 10;
  guint bitrate = 2000, gop = 60, input_seconds = 40;
  std::string input;
  std::string engine = "webrtcbin";  // sfu: rtcsfu's engine (of this run)
  std::vector<std::string> engines{"webrtcbin"};  // sfu: each in turn per N
  bool janus = false;  // sfu --compare janus: Janus VideoRoom after them per N
  int top_threads = 8;
  bool sfu = false;
  double drop = 0.01, loss_seconds = 10;  // sfu: the lossy window
};

struct ServerStats {
  guint viewers = 0, connected = 0;
  guint64 sent = 0, failed = 0, cpu_us = 0, payloaded = 0, overruns = 0, nacks_sent = 0;
  // sfu: the pass-through jitterbuffers' counters of the publisher's stream
  guint64 in_gaps = 0, in_rtx_requests = 0, in_recovered = 0, in_lost = 0;
  std::map<std::string, gint64> post_us;  // by viewer id
};

struct ViewerStats {
  guint viewers = 0, receiving = 0, connected = 0, failed = 0;
  guint64 received = 0, unrecovered = 0, cpu_us = 0, overruns = 0;
  guint64 published = 0;  // sfu: media packets the publisher sent
  bool publishing = false;  // --compare janus: the publisher's connection is up
  gint64 lost = 0;
};

// sfu: a "latency" answer of the viewers' process (ms).
struct Latency {
  guint64 sent = 0, dropped = 0, unmatched = 0, n = 0, recovered = 0, duplicates = 0;
  double p50 = 0, p95 = 0, recovered_p50 = 0, recovered_p95 = 0;
};

// sfu: one window's delivery: packets each subscriber got of those sent.
struct Delivery {
  Latency latency;
  guint64 expected = 0, received = 0, unrecovered = 0, nacks_sent = 0;
  guint64 in_gaps = 0, in_rtx_requests = 0, in_recovered = 0, in_lost = 0;
  double server_cpu = 0;
  // Packets the subscribers' jitterbuffers gave up on (after their own NACKs
  // to the SFU) ÷ packets they should have had.
  double loss_percent() const {
    return expected ? 100.0 * double(unrecovered) / double(expected) : 0;
  }
};

struct Row {
  int n = 0;
  std::string server;   // sfu: "native", "webrtcbin" or "janus"
  double total_threads = 0;
  std::string failure;  // empty: the run went through
  double join_s = 0;
  double base_cpu = 0, server_cpu = 0;  // fraction of one core
  double pkt_rate = 0, us_per_pkt = 0, us_marginal = 0;
  double threads = 0, rss_kb = 0, fds = 0;  // per viewer
  guint64 forwarded = 0;                    // packets into the fan-out × viewers (exact)
  guint64 sent = 0, received = 0, unrecovered = 0, udp_drops = 0, overruns = 0, viewer_overruns = 0;
  gint64 lost = 0;
  double viewers_cpu = 0, other_cpu = 0;
  std::vector<double> first_frame_ms, start_first_ms;
  std::vector<std::pair<std::string, double>> by_thread;  // µs per packet
  Delivery clean, lossy;  // sfu
};

double loss_percent(const Row& r) {
  return 100.0 * double(r.unrecovered) / double(std::max<guint64>(1, r.received + r.unrecovered));
}

std::optional<ServerStats> server_stats(Child& server) {
  auto lines = server.block("stats", 10000);
  if (!lines || lines->empty()) return std::nullopt;
  ServerStats s;
  for (const auto& line : *lines) {
    auto f = fields(line);
    if (line.rfind("viewers ", 0) == 0) {
      s.viewers = guint(field_u64(f, "n"));
      s.connected = guint(field_u64(f, "connected"));
      s.sent = field_u64(f, "packets-sent");
      s.failed = field_u64(f, "failed");
      s.cpu_us = field_u64(f, "cpu-us");
      s.payloaded = field_u64(f, "payloaded");
      s.overruns = field_u64(f, "overruns");
      s.nacks_sent = field_u64(f, "nacks-sent");
      s.in_gaps = field_u64(f, "in-gaps");
      s.in_rtx_requests = field_u64(f, "in-rtx-requests");
      s.in_recovered = field_u64(f, "in-recovered");
      s.in_lost = field_u64(f, "in-lost");
    } else if (line.rfind("viewer ", 0) == 0) {
      if (f.count("post-us")) s.post_us[f["id"]] = gint64(field_u64(f, "post-us"));
    }
  }
  return s;
}

std::optional<ViewerStats> viewer_stats(Child& viewers) {
  if (!viewers.send("stats")) return std::nullopt;
  auto line = viewers.expect("stats ", 20000);
  if (!line) return std::nullopt;
  auto f = fields(*line);
  ViewerStats s;
  s.viewers = guint(field_u64(f, "viewers"));
  s.receiving = guint(field_u64(f, "receiving"));
  s.connected = guint(field_u64(f, "connected"));
  s.failed = guint(field_u64(f, "failed"));
  s.received = field_u64(f, "received");
  s.lost = std::strtoll(f["lost"].c_str(), nullptr, 10);
  s.cpu_us = field_u64(f, "cpu-us");
  s.unrecovered = field_u64(f, "unrecovered");
  s.overruns = field_u64(f, "overruns");
  s.published = field_u64(f, "published");
  s.publishing = field_u64(f, "publishing") == 1;
  return s;
}

std::optional<Latency> latency(Child& viewers) {
  if (!viewers.send("latency")) return std::nullopt;
  auto line = viewers.expect("latency ", 20000);
  if (!line) return std::nullopt;
  auto f = fields(*line);
  Latency l;
  l.sent = field_u64(f, "sent");
  l.dropped = field_u64(f, "dropped");
  l.unmatched = field_u64(f, "unmatched");
  l.n = field_u64(f, "n");
  l.recovered = field_u64(f, "recovered");
  l.duplicates = field_u64(f, "duplicates");
  l.p50 = std::atof(f["p50"].c_str());
  l.p95 = std::atof(f["p95"].c_str());
  l.recovered_p50 = std::atof(f["recovered-p50"].c_str());
  l.recovered_p95 = std::atof(f["recovered-p95"].c_str());
  return l;
}

// Everything the window needs, taken as close together as possible: /proc
// first (cheap), then the two processes' counters.
struct Snapshot {
  gint64 at_us;
  ProcSample server, viewers;
  guint64 machine;
  guint64 udp_drops;
  std::map<pid_t, ThreadCpu> threads;
  ServerStats sstats;
  ViewerStats vstats;
};

std::optional<Snapshot> snapshot(Child& server, Child& viewers) {
  Snapshot s;
  s.at_us = g_get_monotonic_time();
  s.machine = machine_busy_ticks();
  s.udp_drops = udp_receive_buffer_drops();
  s.server = sample_process(server.pid());
  s.viewers = sample_process(viewers.pid());
  s.threads = thread_cpu(server.pid());
  auto ss = server_stats(server);
  auto vs = viewer_stats(viewers);
  if (!ss || !vs) return std::nullopt;
  s.sstats = *ss;
  s.vstats = *vs;
  return s;
}

void sleep_s(double s) {
  g_usleep(gulong(s * G_USEC_PER_SEC));
}


// sfu: packets each of the n subscribers got of those the publisher sent
// between two snapshots (both counted in the viewers' process, at once).
Delivery delivery(const Latency& l, const Snapshot& a, const Snapshot& b, int n) {
  Delivery d;
  d.latency = l;
  d.expected = (b.vstats.published - a.vstats.published) * guint64(n);
  d.received = b.vstats.received - a.vstats.received;
  d.unrecovered = b.vstats.unrecovered - a.vstats.unrecovered;
  d.nacks_sent = b.sstats.nacks_sent - a.sstats.nacks_sent;
  d.in_gaps = b.sstats.in_gaps - a.sstats.in_gaps;
  d.in_rtx_requests = b.sstats.in_rtx_requests - a.sstats.in_rtx_requests;
  d.in_recovered = b.sstats.in_recovered - a.sstats.in_recovered;
  d.in_lost = b.sstats.in_lost - a.sstats.in_lost;
  d.server_cpu = double(b.sstats.cpu_us - a.sstats.cpu_us) / double(std::max<gint64>(1, b.at_us - a.at_us));
  return d;
}

// The window's figures from its two snapshots, once r.forwarded and
// r.base_cpu are known: `server_s` and `viewers_s` are the two processes' CPU
// seconds in it, `zero` the server at 0 viewers.
void window_figures(Row& r, const Snapshot& a, const Snapshot& b, const ProcSample& zero,
                    double server_s, double viewers_s) {
  const double hz = double(ticks_per_second());
  double window = double(b.at_us - a.at_us) / G_USEC_PER_SEC;
  double machine_s = double(b.machine - a.machine) / hz;
  r.received = b.vstats.received - a.vstats.received;
  r.unrecovered = b.vstats.unrecovered - a.vstats.unrecovered;
  r.udp_drops = b.udp_drops - a.udp_drops;
  r.viewer_overruns = b.vstats.overruns - a.vstats.overruns;
  r.server_cpu = server_s / window;
  r.viewers_cpu = viewers_s / window;
  r.other_cpu = std::max(0.0, machine_s - server_s - viewers_s) / window;
  r.pkt_rate = double(r.forwarded) / window;
  r.us_per_pkt = server_s * 1e6 / double(r.forwarded);
  r.us_marginal = (r.server_cpu - r.base_cpu) * 1e6 / r.pkt_rate;
  for (auto& [name, ns] : cpu_by_name(a.threads, b.threads))
    if (ns) r.by_thread.emplace_back(name, double(ns) / 1e3 / double(r.forwarded));
  std::sort(r.by_thread.begin(), r.by_thread.end(),
            [](auto& x, auto& y) { return x.second > y.second; });
  int n = r.n;
  r.threads = double(a.server.threads - zero.threads) / n;
  r.total_threads = double(a.server.threads);
  r.rss_kb = double(a.server.rss_kb - zero.rss_kb) / n;
  r.fds = double(a.server.fds - zero.fds) / n;
}

// Step 2: the n viewers join in batches, each batch receiving before the
// next. "" or what went wrong.
std::string join_in_batches(Child& viewers, int n, const Options& o) {
  for (int added = 0; added < n;) {
    int k = std::min(o.batch, n - added);
    if (!viewers.send("add " + std::to_string(k)) || !viewers.expect("added", 60000))
      return "the viewers' process stopped";
    added += k;
    gint64 deadline = g_get_monotonic_time() + (20 + k) * G_USEC_PER_SEC;
    for (;;) {
      auto vs = viewer_stats(viewers);
      if (!vs) return "the viewers' process stopped";
      if (vs->failed) return std::to_string(vs->failed) + " viewer(s) failed to join";
      if (vs->receiving >= guint(added)) break;
      if (g_get_monotonic_time() > deadline)
        return std::to_string(vs->receiving) + " of " + std::to_string(added) +
               " viewers receiving after " + std::to_string(20 + k) + " s";
      sleep_s(0.2);
    }
  }
  return "";
}

Row run(int n, const Options& o, const std::string& file) {
  Row r;
  r.n = n;
  r.server = o.engine;
  auto fail = [&](const std::string& why) {
    r.failure = why;
    std::printf("N=%d: FAILED: %s\n", n, why.c_str());
    std::fflush(stdout);
    return r;
  };

  Child server(o.sfu ? std::vector<std::string>{"sfu-server", o.engine}
                     : std::vector<std::string>{"fanout-server", file});
  auto port = server.expect("port ", 20000);
  if (!port) return fail("the server did not start");
  std::string base = "http://127.0.0.1:" + port->substr(5);
  std::string endpoint = base + (o.sfu ? "/whep/bench/pub" : "/whep");
  Child viewers(o.sfu ? std::vector<std::string>{"fanout-viewers", endpoint, "--publish",
                                                 base + "/whip/bench/pub", file}
                      : std::vector<std::string>{"fanout-viewers", endpoint});
  std::printf("N=%d: server pid %d at %s, viewers pid %d\n", n, int(server.pid()), endpoint.c_str(),
              int(viewers.pid()));
  std::fflush(stdout);

  // sfu: the publisher's packets reach the fan-out.
  for (gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC; o.sfu;) {
    auto ss = server_stats(server);
    if (!ss) return fail("lost contact with the server");
    if (ss->payloaded > 0) break;
    if (g_get_monotonic_time() > deadline) return fail("no packets from the publisher after 20 s");
    sleep_s(0.2);
  }

  // 1. Baseline: the stream flowing into the fan-out, nobody watching.
  sleep_s(1);
  ProcSample zero = sample_process(server.pid());
  gint64 t0 = g_get_monotonic_time();
  auto z0 = server_stats(server);
  sleep_s(o.baseline);
  auto z1 = server_stats(server);
  if (!z0 || !z1) return fail("lost contact with the server");
  r.base_cpu = double(z1->cpu_us - z0->cpu_us) / double(g_get_monotonic_time() - t0);

  // 2. Join in batches; each batch must be receiving before the next.
  gint64 join_start = g_get_monotonic_time();
  if (auto why = join_in_batches(viewers, n, o); !why.empty()) return fail(why);
  r.join_s = double(g_get_monotonic_time() - join_start) / G_USEC_PER_SEC;
  sleep_s(o.warmup);

  // 3. The window.
  auto a = snapshot(server, viewers);
  if (o.sfu) latency(viewers);  // starts its window
  sleep_s(o.seconds);
  auto b = snapshot(server, viewers);
  if (!a || !b) return fail("lost contact with the server or the viewers");
  if (o.sfu) {
    auto l = latency(viewers);
    if (!l) return fail("lost contact with the viewers");
    r.clean = delivery(*l, *a, *b, n);
    if (r.clean.latency.n == 0) return fail("no packet of the publisher was matched at a subscriber");
  }
  double window = double(b->at_us - a->at_us) / G_USEC_PER_SEC;
  // CPU from the processes' own getrusage (µs), the rest of the machine from
  // /proc (10 ms ticks).
  double server_s = double(b->sstats.cpu_us - a->sstats.cpu_us) / 1e6;
  double viewers_s = double(b->vstats.cpu_us - a->vstats.cpu_us) / 1e6;
  r.sent = b->sstats.sent - a->sstats.sent;
  r.forwarded = (b->sstats.payloaded - a->sstats.payloaded) * guint64(n);
  r.lost = b->vstats.lost - a->vstats.lost;
  r.overruns = b->sstats.overruns - a->sstats.overruns;
  if (r.forwarded == 0 || r.sent == 0) return fail("the server sent no packets in the window");
  window_figures(r, *a, *b, zero, server_s, viewers_s);
  if (b->vstats.failed || b->sstats.failed)
    return fail("viewers failed during the window (viewers " + std::to_string(b->vstats.failed) +
                ", server " + std::to_string(b->sstats.failed) + ")");

  // sfu: the same with a share of the publisher's packets dropped, after a
  // second for the first NACKs to come back.
  if (o.sfu) {
    if (!viewers.send("drop " + std::to_string(o.drop)) || !viewers.expect("dropping", 10000))
      return fail("lost contact with the viewers");
    sleep_s(1);
    auto c = snapshot(server, viewers);
    latency(viewers);
    sleep_s(o.loss_seconds);
    auto d = snapshot(server, viewers);
    auto l = latency(viewers);
    if (!viewers.send("drop 0") || !viewers.expect("dropping", 10000) || !c || !d || !l)
      return fail("lost contact with the server or the viewers");
    r.lossy = delivery(*l, *c, *d, n);
    sleep_s(1);  // the last drops recovered before the joins
  }

  // 4. Sampled joins while the N viewers keep playing, each at a random
  // moment of the GOP (pre-encoded input cannot make a keyframe on request,
  // so the wait for the next one is part of every join).
  int failed_joins = 0;
  GRand* rand = g_rand_new_with_seed(guint32(n));
  for (int j = 0; j < o.joins; j++) {
    sleep_s(g_rand_double_range(rand, 0, double(o.gop) / 30.0));
    if (!viewers.send("sample-join")) return fail("the viewers' process stopped");
    auto line = viewers.expect("sample ", 30000);
    if (!line) return fail("the viewers' process stopped during a join");
    auto f = fields(*line);
    if (line->rfind("sample ok", 0) == 0) {
      auto ss = server_stats(server);
      if (!ss) return fail("lost contact with the server");
      auto it = ss->post_us.find(f["id"]);
      gint64 first = gint64(field_u64(f, "first-us"));
      if (it != ss->post_us.end()) r.first_frame_ms.push_back(double(first - it->second) / 1000);
      if (o.sfu) r.first_frame_ms.push_back(double(first - gint64(field_u64(f, "start-us"))) / 1000);
      r.start_first_ms.push_back(double(first - gint64(field_u64(f, "start-us"))) / 1000);
    } else {
      failed_joins++;
      std::printf("N=%d: sampled join %d failed (%s)\n", n, j + 1, f["why"].c_str());
    }
    viewers.send("sample-leave");
    viewers.expect("left", 30000);
  }
  g_rand_free(rand);
  // The N viewers must have kept receiving through the joins and leaves.
  auto before = viewer_stats(viewers);
  sleep_s(1);
  auto after = viewer_stats(viewers);
  if (!before || !after) return fail("lost contact with the viewers");
  if (after->received - before->received < guint64(n) * 10)
    return fail("the viewers stopped receiving after the sampled joins (" +
                std::to_string(after->received - before->received) + " packets in 1 s" +
                (o.sfu ? "; the publisher sent " +
                             std::to_string(after->published - before->published)
                       : std::string()) +
                ")");
  int vcode = viewers.finish(60000);
  int scode = server.finish(20000);
  if (failed_joins) return fail(std::to_string(failed_joins) + " sampled join(s) failed");
  if (r.first_frame_ms.size() != size_t(o.joins))
    return fail("the server did not list every sampled viewer");
  if (vcode || scode)
    return fail("exit status: viewers " + std::to_string(vcode) + ", server " +
                std::to_string(scode));
  std::sort(r.first_frame_ms.begin(), r.first_frame_ms.end());
  std::sort(r.start_first_ms.begin(), r.start_first_ms.end());

  std::printf(
      "N=%d: joined in %.1f s; window %.1f s: server %.1f%% CPU (%.1f%% with 0 viewers), %.0f "
      "RTP pkt/s forwarded → %.1f µs/pkt (%.1f µs marginal)\n"
      "      per viewer: %.1f threads, %.0f kB RSS, %.1f fds; unrecovered loss %.3f%% "
      "(%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " packets; packets-lost %" G_GINT64_FORMAT
      "; %" G_GUINT64_FORMAT " forwarded, webrtcbin stats say %" G_GUINT64_FORMAT
      " sent)\n"
      "      drops: %" G_GUINT64_FORMAT " overruns of the server's leaky queues, %" G_GUINT64_FORMAT
      " of the viewers', %" G_GUINT64_FORMAT
      " UDP datagrams dropped by full receive buffers (machine-wide)\n"
      "      viewers' process %.1f%% CPU, other processes %.1f%%; POST → first frame p50 %.0f "
      "ms, p95 %.0f ms (viewer start → first frame p50 %.0f ms)\n"
      "      server threads (µs/pkt):",
      n, r.join_s, window, 100 * r.server_cpu, 100 * r.base_cpu, r.pkt_rate, r.us_per_pkt,
      r.us_marginal, r.threads, r.rss_kb, r.fds, loss_percent(r), r.unrecovered,
      r.received + r.unrecovered, r.lost, r.forwarded, r.sent, r.overruns, r.viewer_overruns,
      r.udp_drops, 100 * r.viewers_cpu, 100 * r.other_cpu, percentile(r.first_frame_ms, 0.5),
      percentile(r.first_frame_ms, 0.95), percentile(r.start_first_ms, 0.5));
  for (size_t i = 0; i < r.by_thread.size() && int(i) < o.top_threads; i++)
    std::printf(" %s %.2f%s", r.by_thread[i].first.c_str(), r.by_thread[i].second,
                i + 1 < r.by_thread.size() && int(i) + 1 < o.top_threads ? "," : "");
  std::printf("\n");
  if (o.sfu) {
    for (const Delivery* d : {&r.clean, &r.lossy}) {
      const Latency& l = d->latency;
      std::printf(
          "      %s: publisher → subscriber p50 %.2f ms, p95 %.2f ms over %" G_GUINT64_FORMAT
          " packets; dropped %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          ", recovered %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " (p50 %.1f ms, p95 %.1f ms); loss %.3f%% (%" G_GUINT64_FORMAT
          " packets short of %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
          " unrecovered events); NACKs to the publisher %" G_GUINT64_FORMAT
          "; server %.1f%% CPU; %" G_GUINT64_FORMAT " arrivals unmatched, %" G_GUINT64_FORMAT
          " recovered twice\n"
          "        server's jitterbuffer: %" G_GUINT64_FORMAT " gaps, %" G_GUINT64_FORMAT
          " retransmissions asked, %" G_GUINT64_FORMAT " recovered, %" G_GUINT64_FORMAT " lost\n",
          d == &r.clean ? "no drop" : "drops", l.p50, l.p95, l.n, l.dropped, l.sent, l.recovered,
          l.dropped * guint64(n), l.recovered_p50, l.recovered_p95, d->loss_percent(),
          d->expected - std::min(d->expected, d->received), d->expected, d->unrecovered,
          d->nacks_sent, 100 * d->server_cpu, l.unmatched, l.duplicates, d->in_gaps, d->in_rtx_requests,
          d->in_recovered, d->in_lost);
    }
  }
  std::fflush(stdout);
  return r;
}

// sfu --compare janus: the same publisher and subscribers against Janus
// VideoRoom (janus.h), measured as run() measures rtcsfu: Janus's CPU from
// /proc (utime + stime of the whole process, 10 ms ticks) ÷ (media packets
// the publisher sent × n), threads and RSS per subscriber, time through the
// server. No lossy window and no sampled joins.
std::optional<Snapshot> janus_snapshot(pid_t janus, Child& viewers) {
  Snapshot s;
  s.at_us = g_get_monotonic_time();
  s.machine = machine_busy_ticks();
  s.udp_drops = udp_receive_buffer_drops();
  s.server = sample_process(janus);
  s.viewers = sample_process(viewers.pid());
  s.threads = thread_cpu(janus);
  auto vs = viewer_stats(viewers);
  if (!vs) return std::nullopt;
  s.vstats = *vs;
  return s;
}

Row run_janus(int n, const Options& o, const std::string& file) {
  Row r;
  r.n = n;
  r.server = "janus";
  auto fail = [&](const std::string& why) {
    r.failure = why;
    std::printf("N=%d: janus: FAILED: %s\n", n, why.c_str());
    std::fflush(stdout);
    return r;
  };
  const double hz = double(ticks_per_second());
  JanusProcess janus;
  if (!janus.ok()) return fail(janus.error());
  Child viewers({"fanout-viewers", "--janus", janus.url(), file});
  std::printf("N=%d: janus pid %d at %s, viewers pid %d\n", n, int(janus.pid()), janus.url().c_str(),
              int(viewers.pid()));
  std::fflush(stdout);
  for (gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;;) {
    auto vs = viewer_stats(viewers);
    if (!vs) return fail("the viewers' process stopped");
    if (vs->failed) return fail("the publisher failed");
    if (vs->publishing && vs->published > 0) break;
    if (g_get_monotonic_time() > deadline) return fail("the publisher was not connected after 20 s");
    sleep_s(0.2);
  }
  sleep_s(1);
  ProcSample zero = sample_process(janus.pid());
  gint64 t0 = g_get_monotonic_time();
  sleep_s(o.baseline);
  r.base_cpu = double(sample_process(janus.pid()).cpu_ticks - zero.cpu_ticks) / hz /
               (double(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);

  gint64 join_start = g_get_monotonic_time();
  if (auto why = join_in_batches(viewers, n, o); !why.empty()) return fail(why);
  r.join_s = double(g_get_monotonic_time() - join_start) / G_USEC_PER_SEC;
  sleep_s(o.warmup);

  auto a = janus_snapshot(janus.pid(), viewers);
  latency(viewers);
  sleep_s(o.seconds);
  auto b = janus_snapshot(janus.pid(), viewers);
  auto l = latency(viewers);
  if (!a || !b || !l) return fail("lost contact with the viewers");
  r.clean = delivery(*l, *a, *b, n);
  if (r.clean.latency.n == 0) return fail("no packet of the publisher was matched at a subscriber");
  double window = double(b->at_us - a->at_us) / G_USEC_PER_SEC;
  r.forwarded = (b->vstats.published - a->vstats.published) * guint64(n);
  if (r.forwarded == 0 || b->vstats.received == a->vstats.received)
    return fail("nothing forwarded in the window");
  window_figures(r, *a, *b, zero, double(b->server.cpu_ticks - a->server.cpu_ticks) / hz,
                 double(b->vstats.cpu_us - a->vstats.cpu_us) / 1e6);
  if (b->vstats.failed) return fail(std::to_string(b->vstats.failed) + " connection(s) failed in the window");
  int vcode = viewers.finish(60000);
  if (vcode) return fail("exit status of the viewers: " + std::to_string(vcode));
  const Latency& c = r.clean.latency;
  std::printf(
      "N=%d: janus: window %.1f s: %.1f%% CPU (%.1f%% with 0 subscribers), %.0f RTP pkt/s "
      "forwarded → %.1f µs/pkt (%.1f µs marginal); %.0f threads (%.1f per subscriber), "
      "%.0f kB RSS and %.1f fds per subscriber; received %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
      "; publisher → subscriber p50 %.2f ms, p95 %.2f ms; subscribers' process %.1f%% CPU, other "
      "processes %.1f%%\n      janus threads (µs/pkt):",
      n, window, 100 * r.server_cpu, 100 * r.base_cpu, r.pkt_rate, r.us_per_pkt, r.us_marginal,
      r.total_threads, r.threads, r.rss_kb, r.fds, r.received, r.clean.expected, c.p50, c.p95,
      100 * r.viewers_cpu, 100 * r.other_cpu);
  for (size_t i = 0; i < r.by_thread.size() && int(i) < o.top_threads; i++)
    std::printf(" %s %.2f%s", r.by_thread[i].first.c_str(), r.by_thread[i].second,
                i + 1 < r.by_thread.size() && int(i) + 1 < o.top_threads ? "," : "");
  std::printf("\n");
  std::fflush(stdout);
  return r;
}

// sfu --compare janus: one line per server and N, with the ratio to Janus's µs/pkt.
void print_compare_table(const std::vector<Row>& rows) {
  std::printf(
      "\n| N | server | µs/pkt | marginal µs/pkt | server CPU | threads | threads/sub | RSS/sub | "
      "latency p50 / p95 | delivered | µs/pkt ÷ Janus's |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    if (!r.failure.empty()) {
      std::printf("| %d | %s | failed: %s |||||||||\n", r.n, r.server.c_str(), r.failure.c_str());
      continue;
    }
    const Row* janus = nullptr;
    for (const auto& j : rows)
      if (j.n == r.n && j.server == "janus" && j.failure.empty()) janus = &j;
    const Latency& c = r.clean.latency;
    std::printf("| %d | %s | %.1f | %.1f | %.1f%% | %.0f | %.1f | %.0f kB | %.2f / %.2f ms | %.3f%% | ",
                r.n, r.server == "janus" ? "Janus 1.1.2" : ("rtcmesh " + r.server).c_str(),
                r.us_per_pkt, r.us_marginal, 100 * r.server_cpu, r.total_threads, r.threads,
                r.rss_kb, c.p50, c.p95,
                r.clean.expected ? 100.0 * double(std::min(r.clean.received, r.clean.expected)) /
                                       double(r.clean.expected)
                                 : 0.0);
    if (janus)
      std::printf("%.2f× |\n", r.us_per_pkt / janus->us_per_pkt);
    else
      std::printf("– |\n");
  }
}

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 2; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--viewers")
      o.viewers = parse_int_list(value());
    else if (a == "--seconds")
      o.seconds = std::atof(value().c_str());
    else if (a == "--warmup")
      o.warmup = std::atof(value().c_str());
    else if (a == "--baseline")
      o.baseline = std::atof(value().c_str());
    else if (a == "--joins")
      o.joins = std::atoi(value().c_str());
    else if (a == "--batch")
      o.batch = std::max(1, std::atoi(value().c_str()));
    else if (a == "--bitrate")
      o.bitrate = guint(std::atoi(value().c_str()));
    else if (a == "--gop")
      o.gop = guint(std::atoi(value().c_str()));
    else if (a == "--input")
      o.input = value();
    else if (a == "--input-seconds")
      o.input_seconds = guint(std::atoi(value().c_str()));
    else if (a == "--drop" && o.sfu)
      o.drop = std::atof(value().c_str()) / 100;
    else if (a == "--loss-seconds" && o.sfu)
      o.loss_seconds = std::atof(value().c_str());
    else if (a == "--engine" && o.sfu) {
      o.engines.clear();
      std::string list = value();
      for (size_t at = 0; at <= list.size();) {
        size_t comma = std::min(list.find(',', at), list.size());
        o.engines.push_back(list.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (a == "--compare" && o.sfu) {
      o.janus = value() == "janus";
      if (!o.janus) return false;
    } else
      return false;
  }
  return !o.viewers.empty() && o.seconds > 0 && o.bitrate > 0 && o.gop > 0 && o.input_seconds > 0 &&
         o.drop >= 0 && o.drop < 1 && o.loss_seconds > 0 &&
         std::all_of(o.engines.begin(), o.engines.end(),
                     [](const std::string& e) { return e == "webrtcbin" || e == "native" || e == "egress"; }) &&
         std::none_of(o.viewers.begin(), o.viewers.end(), [](int n) { return n <= 0; });
}

void print_fanout_table(const std::vector<Row>& rows) {
  std::printf(
      "\n| N | server µs/pkt | marginal µs/pkt | server CPU | RTP pkt/s | threads/viewer | "
      "RSS/viewer "
      "| fds/viewer | POST → first frame p50 / p95 | loss | viewers' CPU | other CPU |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    if (!r.failure.empty()) {
      std::printf("| %d | failed: %s |||||||||||\n", r.n, r.failure.c_str());
      continue;
    }
    std::printf(
        "| %d | %.1f | %.1f | %.1f%% | %.0f | %.1f | %.0f kB | %.1f | %.0f / %.0f ms | %.3f%% | "
        "%.0f%% | %.0f%% |\n",
        r.n, r.us_per_pkt, r.us_marginal, 100 * r.server_cpu, r.pkt_rate, r.threads, r.rss_kb,
        r.fds, percentile(r.first_frame_ms, 0.5), percentile(r.first_frame_ms, 0.95),
        loss_percent(r), 100 * r.viewers_cpu, 100 * r.other_cpu);
  }
}

void print_sfu_table(const std::vector<Row>& rows, double drop) {
  std::printf(
      "\n| N | server µs/pkt | marginal µs/pkt | server CPU | RTP pkt/s | threads/sub | RSS/sub | "
      "fds/sub | latency p50 / p95 | loss | with %.0f%% dropped: latency p50 / p95 | recovered "
      "| recovered p50 / p95 | loss | start → first frame p50 / p95 | clients' CPU | other CPU "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      100 * drop);
  for (const auto& r : rows) {
    if (!r.failure.empty()) {
      std::printf("| %d | failed: %s ||||||||||||||||\n", r.n, r.failure.c_str());
      continue;
    }
    const Latency &c = r.clean.latency, &l = r.lossy.latency;
    std::printf(
        "| %d | %.1f | %.1f | %.1f%% | %.0f | %.1f | %.0f kB | %.1f | %.2f / %.2f ms | %.3f%% | "
        "%.2f / %.2f ms | %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
        " | %.0f / %.0f ms | %.3f%% | %.0f / %.0f ms | %.0f%% | %.0f%% |\n",
        r.n, r.us_per_pkt, r.us_marginal, 100 * r.server_cpu, r.pkt_rate, r.threads, r.rss_kb,
        r.fds, c.p50, c.p95, r.clean.loss_percent(), l.p50, l.p95, l.recovered,
        l.dropped * guint64(r.n), l.recovered_p50, l.recovered_p95, r.lossy.loss_percent(),
        percentile(r.first_frame_ms, 0.5), percentile(r.first_frame_ms, 0.95),
        100 * r.viewers_cpu, 100 * r.other_cpu);
  }
}

// fanout and sfu: same options but for sfu's lossy window.
int fanout_or_sfu(int argc, char** argv, bool sfu) {
  signal(SIGPIPE, SIG_IGN);  // a child that died shows up as a failed read, not our death
  Options o;
  o.sfu = sfu;
  if (!parse_options(argc, argv, o)) {
    std::fprintf(stderr, "usage: rtcmesh-bench %s\n", sfu ? kSfuUsage : kFanoutUsage);
    return 2;
  }
  std::string file = o.input, tmpdir;
  if (file.empty()) {
    GError* err = nullptr;
    gchar* dir = g_dir_make_tmp("rtcmesh-bench-XXXXXX", &err);
    if (!dir) {
      std::fprintf(stderr, "no temporary directory: %s\n", err->message);
      return 1;
    }
    tmpdir = dir;
    g_free(dir);
    file = tmpdir + "/input.mp4";
    if (!encode_720p30_h264(o.input_seconds, o.bitrate, o.gop, file)) {
      std::fprintf(stderr, "encoding the input failed\n");
      return 1;
    }
  }
  std::string engines;
  for (const auto& e : o.engines) engines += (engines.empty() ? "" : ",") + e;
  std::printf("%s%s%s: viewers", sfu ? "sfu" : "fanout",
              sfu ? (" (engine=" + engines + ")").c_str() : "", o.janus ? " and Janus" : "");
  for (int n : o.viewers) std::printf(" %d", n);
  std::printf("; window %.0f s after %.0f s warm-up; %d sampled joins each; %ld ticks/s\n",
              o.seconds, o.warmup, o.joins, ticks_per_second());
  std::fflush(stdout);

  std::vector<Row> rows;
  for (int n : o.viewers) {
    if (!sfu) {
      rows.push_back(run(n, o, file));
      continue;
    }
    // Interleaved per N: each engine, then Janus, on the same input.
    for (const auto& e : o.engines) {
      Options one = o;
      one.engine = e;
      rows.push_back(run(n, one, file));
    }
    if (o.janus) rows.push_back(run_janus(n, o, file));
  }

  if (!tmpdir.empty()) {
    unlink(file.c_str());
    rmdir(tmpdir.c_str());
  }
  if (sfu) {
    std::vector<Row> rtcmesh;
    for (const auto& r : rows)
      if (r.server != "janus") rtcmesh.push_back(r);
    print_sfu_table(rtcmesh, o.drop);
    if (o.janus) print_compare_table(rows);
  }
  else
    print_fanout_table(rows);
  bool ok = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.failure.empty(); });
  return ok ? 0 : 1;
}

}  // namespace

int fanout(int argc, char** argv) {
  return fanout_or_sfu(argc, argv, false);
}

int sfu(int argc, char** argv) {
  return fanout_or_sfu(argc, argv, true);
}

}  // namespace bench
