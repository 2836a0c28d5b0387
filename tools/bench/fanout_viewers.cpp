// rtcmesh-bench fanout-viewers <endpoint> (hidden; started by `fanout`)
//
// WHEP viewers of the fan-out server, each an rtcwhepsrc in its own pipeline:
// counting viewers take output=rtp into a fakesink and count packets (no
// depayloading, no decoding); one sampled viewer at a time decodes
// (output=raw) to time its first frame. Line protocol on stdin/stdout:
//   ← "add <k>"       → "added total=<n>"
//   ← "stats"         → "stats viewers=… receiving=… connected=… received=… lost=…
//                       unrecovered=… failed=… cpu-us=…" (lost: the connections'
//                       packets-lost; unrecovered: packet-lost events out of the
//                       jitterbuffers, i.e. after NACK/RTX)
//   ← "sample-join"   → "sample ok id=<resource id> start-us=… first-us=…" (CLOCK_MONOTONIC)
//                       or "sample failed why=…"
//   ← "sample-leave"  → "left"
//   ← "quit" (or EOF) → every viewer stops (DELETE), exit 0
#include <gst/gst.h>

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

std::unique_ptr<Viewer> start_viewer(const std::string& endpoint, bool decode) {
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
  g_signal_connect(v->pipeline, "deep-element-added",
                   G_CALLBACK(+[](GstBin*, GstBin*, GstElement* e, gpointer data) {
                     GstElementFactory* f = gst_element_get_factory(e);
                     if (!f || g_strcmp0(GST_OBJECT_NAME(f), "queue") != 0) return;
                     g_signal_connect(e, "overrun", G_CALLBACK(+[](GstElement*, gpointer d) {
                                        static_cast<Viewer*>(d)->overruns++;
                                      }),
                                      data);
                   }),
                   v.get());
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

}  // namespace

int fanout_viewers(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: rtcmesh-bench fanout-viewers ENDPOINT\n");
    return 2;
  }
  std::string endpoint = argv[2];
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  std::vector<std::unique_ptr<Viewer>> viewers;
  std::unique_ptr<Viewer> sampled;

  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.rfind("add ", 0) == 0) {
        int k = std::atoi(line.c_str() + 4);
        for (int i = 0; i < k; i++) viewers.push_back(start_viewer(endpoint, false));
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
        reply("stats viewers=%zu receiving=%u connected=%u received=%" G_GUINT64_FORMAT
              " lost=%" G_GINT64_FORMAT " unrecovered=%" G_GUINT64_FORMAT
              " failed=%u cpu-us=%" G_GUINT64_FORMAT " overruns=%" G_GUINT64_FORMAT,
              viewers.size(), receiving, connected, received, lost_total, lost_events, failed,
              own_cpu_us(), overruns);
      } else if (line == "sample-join") {
        if (sampled) stop_viewer(std::move(sampled));
        gint64 start = g_get_monotonic_time();
        sampled = start_viewer(endpoint, true);
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
  g_main_loop_unref(loop);
  return 0;
}

}  // namespace bench
