// rtcmesh-bench fanout-viewers <endpoint> [--publish <whip-url> <file.mp4>]
// (hidden; started by `fanout` and `sfu`)
//
// WHEP viewers of the server, each an rtcwhepsrc in its own pipeline:
// counting viewers take output=rtp into a fakesink and count packets (no
// depayloading, no decoding); one sampled viewer at a time decodes
// (output=raw) to time its first frame. With --publish (sfu), this process
// also publishes the file (looping, no encoder) to the server with an
// rtcwhipsink, and times every packet from the publisher's send path to each
// counting viewer's receive path (latency.h). Line protocol on stdin/stdout:
//   ← "add <k>"       → "added total=<n>"
//   ← "stats"         → "stats viewers=… receiving=… connected=… received=… lost=…
//                       unrecovered=… failed=… cpu-us=… published=…" (lost: the
//                       connections' packets-lost; unrecovered: packet-lost events out
//                       of the jitterbuffers, i.e. after NACK/RTX; published: media
//                       packets the publisher sent, dropped ones included)
//   ← "drop <fraction>" → "dropping": that share of the publisher's RTP is
//                       dropped before it leaves (never RTX or RTCP)
//   ← "latency"       → "latency sent=… dropped=… unmatched=… n=… p50=… p95=…
//                       recovered=… recovered-p50=… recovered-p95=… duplicates=…" (ms) since the
//                       last "latency"
//   ← "sample-join"   → "sample ok id=<resource id> start-us=… first-us=…" (CLOCK_MONOTONIC)
//                       or "sample failed why=…"
//   ← "sample-leave"  → "left"
//   ← "quit" (or EOF) → every viewer stops (DELETE), exit 0
#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/bench/latency.h"

namespace bench {

namespace {

struct Viewer {
  GstElement* pipeline = nullptr;
  GstElement* src = nullptr;
  bool decode = false;
  std::atomic<guint64> packets{0};
  std::atomic<guint64> lost{0};      // packets the jitterbuffer gave up on
  std::atomic<guint64> overruns{0};  // leaky queues inside rtcwhepsrc dropping
  std::atomic<gint64> first_us{0};
  std::atomic<bool> failed{false};
  std::string error;  // main loop thread only
};

GstPadProbeReturn count_packets(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* v = static_cast<Viewer*>(data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    // Loss after NACK/RTX had its chance: rtpjitterbuffer's packet-lost events.
    const GstStructure* s = gst_event_get_structure(GST_PAD_PROBE_INFO_EVENT(info));
    if (s && gst_structure_has_name(s, "GstRTPPacketLost"))
      v->lost.fetch_add(1, std::memory_order_relaxed);
    return GST_PAD_PROBE_OK;
  }
  guint n = 1;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    n = gst_buffer_list_length(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
  v->packets.fetch_add(n, std::memory_order_relaxed);
  gint64 zero = 0;
  v->first_us.compare_exchange_strong(zero, g_get_monotonic_time());
  return GST_PAD_PROBE_OK;
}

void on_pad_added(GstElement*, GstPad* pad, gpointer data) {
  auto* v = static_cast<Viewer*>(data);
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  gst_bin_add(GST_BIN(v->pipeline), sink);
  GstPad* sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(sinkpad,
                    GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                    GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                    count_packets, v, nullptr);
  gst_element_sync_state_with_parent(sink);
  if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK) {
    std::fprintf(stderr, "viewers: cannot link %s\n", GST_PAD_NAME(pad));
    v->failed = true;
  }
  gst_object_unref(sinkpad);
}

gboolean on_bus(GstBus*, GstMessage* msg, gpointer data) {
  auto* v = static_cast<Viewer*>(data);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    std::fprintf(stderr, "viewers: %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
                 err ? err->message : "?");
    g_clear_error(&err);
    v->failed = true;
  }
  return TRUE;
}

// `clock`: time this viewer's packets (counting viewers of a publisher of ours).
std::unique_ptr<Viewer> start_viewer(const std::string& endpoint, bool decode,
                                     PacketClock* clock) {
  auto v = std::make_unique<Viewer>();
  v->decode = decode;
  v->pipeline = gst_pipeline_new(nullptr);
  v->src = gst_element_factory_make("rtcwhepsrc", nullptr);
  if (!v->src) {
    reply("error rtcwhepsrc is not available");
    std::exit(1);
  }
  g_object_set(v->src, "endpoint", endpoint.c_str(), "video-codecs", "h264", "audio-codecs", "",
               "ice-local-addresses", "127.0.0.1", nullptr);
  gst_util_set_object_arg(G_OBJECT(v->src), "output", decode ? "raw" : "rtp");
  gst_bin_add(GST_BIN(v->pipeline), v->src);
  // webrtcbin's receive queues are leaky: a viewer process that falls behind
  // drops there, which tells receiver loss from sender loss.
  count_queue_overruns(v->pipeline, &v->overruns);
  if (clock) clock->watch_subscriber(v->pipeline);
  g_signal_connect(v->src, "pad-added", G_CALLBACK(on_pad_added), v.get());
  GstBus* bus = gst_element_get_bus(v->pipeline);
  gst_bus_add_watch(bus, on_bus, v.get());
  gst_object_unref(bus);
  if (gst_element_set_state(v->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    v->failed = true;
  return v;
}

// Stopped viewers stay allocated until exit: a bus callback already running
// on the main loop may still look at one.
std::vector<std::unique_ptr<Viewer>> stopped;

void stop_viewer(std::unique_ptr<Viewer> v) {
  gst_element_set_state(v->pipeline, GST_STATE_NULL);  // DELETEs the resource
  GstBus* bus = gst_element_get_bus(v->pipeline);
  gst_bus_remove_watch(bus);
  gst_object_unref(bus);
  gst_object_unref(v->pipeline);
  v->pipeline = v->src = nullptr;
  stopped.push_back(std::move(v));
}

// Packets lost (from the connection's stats) and whether it is connected.
void read_stats(Viewer& v, gint64* lost, bool* connected, std::string* resource) {
  GstStructure* s = nullptr;
  g_object_get(v.src, "stats", &s, nullptr);
  if (!s) return;
  gint64 l = 0;
  gboolean c = FALSE;
  gst_structure_get_int64(s, "packets-lost", &l);
  gst_structure_get_boolean(s, "connected", &c);
  if (lost) *lost = l;
  if (connected) *connected = c;
  if (resource) {
    const char* r = gst_structure_get_string(s, "resource");
    *resource = r ? r : "";
  }
  gst_structure_free(s);
}

// The SFU's publisher: the pre-encoded file, looping, in real time into
// rtcwhipsink (no encoder), its packets stamped by `clock`.
struct Publisher {
  GstElement* pipeline = nullptr;
  GstElement* demux = nullptr;
  std::atomic<bool> failed{false};
};

bool start_publisher(Publisher& p, const std::string& url, const std::string& file,
                     PacketClock& clock) {
  gchar* location = g_strescape(file.c_str(), nullptr);
  p.pipeline = launch("rtcwhipsink name=s endpoint=\"" + url +
                      "\" ice-local-addresses=127.0.0.1 filesrc location=\"" + location +
                      "\" ! qtdemux name=demux ! clocksync ! s.video_0");
  g_free(location);
  p.demux = gst_bin_get_by_name(GST_BIN(p.pipeline), "demux");
  clock.watch_publisher(p.pipeline);
  GstBus* bus = gst_element_get_bus(p.pipeline);
  gst_bus_add_watch(
      bus,
      [](GstBus*, GstMessage* msg, gpointer data) -> gboolean {
        auto* p = static_cast<Publisher*>(data);
        if (loop_on_segment_done(msg, p->demux) || GST_MESSAGE_TYPE(msg) != GST_MESSAGE_ERROR)
          return TRUE;
        GError* err = nullptr;
        gst_message_parse_error(msg, &err, nullptr);
        std::fprintf(stderr, "publisher: %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
                     err ? err->message : "?");
        g_clear_error(&err);
        p->failed = true;
        return TRUE;
      },
      &p);
  gst_object_unref(bus);
  return play_looping(p.pipeline, p.demux);
}

std::string latency_line(PacketClock& clock) {
  PacketClock::Window w = clock.take();
  std::sort(w.latency_ms.begin(), w.latency_ms.end());
  std::sort(w.recovered_ms.begin(), w.recovered_ms.end());
  char line[512];
  std::snprintf(line, sizeof line,
                "latency sent=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
                " unmatched=%" G_GUINT64_FORMAT
                " n=%zu p50=%.2f p95=%.2f recovered=%zu recovered-p50=%.1f recovered-p95=%.1f"
                " duplicates=%" G_GUINT64_FORMAT,
                w.sent, w.dropped, w.unmatched, w.latency_ms.size(),
                percentile(w.latency_ms, 0.5), percentile(w.latency_ms, 0.95),
                w.recovered_ms.size(), percentile(w.recovered_ms, 0.5),
                percentile(w.recovered_ms, 0.95), w.duplicates);
  return line;
}

}  // namespace

int fanout_viewers(int argc, char** argv) {
  if (argc != 3 && !(argc == 6 && std::string(argv[3]) == "--publish")) {
    std::fprintf(stderr,
                 "usage: rtcmesh-bench fanout-viewers ENDPOINT [--publish WHIP-URL FILE.mp4]\n");
    return 2;
  }
  std::string endpoint = argv[2];
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  // Stopped last: viewers' probes use the clock.
  std::unique_ptr<PacketClock> clock;
  Publisher publisher;
  if (argc == 6) {
    clock = std::make_unique<PacketClock>();
    if (!start_publisher(publisher, argv[4], argv[5], *clock)) {
      reply("error the publisher did not start");
      return 1;
    }
  }
  std::vector<std::unique_ptr<Viewer>> viewers;
  std::unique_ptr<Viewer> sampled;

  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.rfind("add ", 0) == 0) {
        int k = std::atoi(line.c_str() + 4);
        for (int i = 0; i < k; i++) viewers.push_back(start_viewer(endpoint, false, clock.get()));
        reply("added total=%zu", viewers.size());
      } else if (line == "stats") {
        guint receiving = 0, connected = 0, failed = 0;
        guint64 received = 0, lost_events = 0, overruns = 0;
        gint64 lost_total = 0;
        for (auto& v : viewers) {
          gint64 lost = 0;
          bool c = false;
          read_stats(*v, &lost, &c, nullptr);
          guint64 p = v->packets.load(std::memory_order_relaxed);
          received += p;
          lost_events += v->lost.load(std::memory_order_relaxed);
          overruns += v->overruns.load(std::memory_order_relaxed);
          lost_total += lost;
          receiving += p > 0 ? 1 : 0;
          connected += c ? 1 : 0;
          failed += v->failed ? 1 : 0;
        }
        if (publisher.failed) failed++;
        reply("stats viewers=%zu receiving=%u connected=%u received=%" G_GUINT64_FORMAT
              " lost=%" G_GINT64_FORMAT " unrecovered=%" G_GUINT64_FORMAT
              " failed=%u cpu-us=%" G_GUINT64_FORMAT " overruns=%" G_GUINT64_FORMAT
              " published=%" G_GUINT64_FORMAT,
              viewers.size(), receiving, connected, received, lost_total, lost_events, failed,
              own_cpu_us(), overruns, clock ? clock->sent() : 0);
      } else if (line.rfind("drop ", 0) == 0 && clock) {
        clock->set_drop(std::atof(line.c_str() + 5));
        reply("dropping");
      } else if (line == "latency" && clock) {
        reply("%s", latency_line(*clock).c_str());
      } else if (line == "sample-join") {
        if (sampled) stop_viewer(std::move(sampled));
        gint64 start = g_get_monotonic_time();
        sampled = start_viewer(endpoint, true, nullptr);
        while (!sampled->first_us && !sampled->failed &&
               g_get_monotonic_time() - start < 15 * G_USEC_PER_SEC)
          g_usleep(2000);
        std::string resource;
        read_stats(*sampled, nullptr, nullptr, &resource);
        auto slash = resource.rfind('/');
        if (!sampled->first_us || slash == std::string::npos) {
          reply("sample failed why=%s", sampled->failed ? "error" : "no-frame-within-15s");
        } else {
          reply("sample ok id=%s start-us=%" G_GINT64_FORMAT " first-us=%" G_GINT64_FORMAT,
                resource.substr(slash + 1).c_str(), start, sampled->first_us.load());
        }
      } else if (line == "sample-leave") {
        if (sampled) stop_viewer(std::move(sampled));
        reply("left");
      } else if (line == "quit") {
        break;
      }
    }
    if (sampled) stop_viewer(std::move(sampled));
    for (auto& v : viewers) stop_viewer(std::move(v));
    viewers.clear();
    g_main_loop_quit(loop);
  });
  g_main_loop_run(loop);
  commands.join();
  if (publisher.pipeline) {
    gst_element_set_state(publisher.pipeline, GST_STATE_NULL);  // DELETEs the resource
    gst_object_unref(publisher.demux);
    gst_object_unref(publisher.pipeline);
  }
  g_main_loop_unref(loop);
  return 0;
}

}  // namespace bench
