// rtcmesh-bench whip-first-frame [runs]
//   rtcwhipsink (320x240@15 test pattern, VP8) → rtcwhipsrc on loopback, one
//   publisher after the other: time from the server receiving the POST to the
//   first decoded frame leaving rtcwhipsrc, p50/p95 over `runs` (default 20).
#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

std::atomic<gint64> first_frame_us{0};

void on_pad_added(GstElement* src, GstPad* pad, gpointer pipeline) {
  if (!g_str_has_prefix(GST_PAD_NAME(pad), "video")) {
    GstElement* sink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add(GST_BIN(pipeline), sink);
    gst_element_sync_state_with_parent(sink);
    gst_element_link_pads(src, GST_PAD_NAME(pad), sink, "sink");
    return;
  }
  // Raw caps make the pad decode; the first buffer out is the first frame.
  GstElement* filter = gst_element_factory_make("capsfilter", nullptr);
  GstCaps* caps = gst_caps_from_string("video/x-raw");
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), filter, sink, nullptr);
  gst_element_link(filter, sink);
  gst_element_sync_state_with_parent(filter);
  gst_element_sync_state_with_parent(sink);
  GstPad* sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      sinkpad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo*, gpointer) {
        gint64 zero = 0;
        first_frame_us.compare_exchange_strong(zero, g_get_monotonic_time());
        return GST_PAD_PROBE_REMOVE;
      },
      nullptr, nullptr);
  gst_object_unref(sinkpad);
  gst_element_link_pads(src, GST_PAD_NAME(pad), filter, "sink");
}

// age-ms of the only publisher, read right after its first frame.
guint64 publisher_age_ms(GstElement* src) {
  GstStructure* stats = nullptr;
  g_object_get(src, "stats", &stats, nullptr);
  guint64 age = 0;
  const GValue* list = gst_structure_get_value(stats, "publisher-stats");
  if (list && gst_value_list_get_size(list) > 0)
    gst_structure_get_uint64(gst_value_get_structure(gst_value_list_get_value(list, 0)), "age-ms",
                             &age);
  gst_structure_free(stats);
  return age;
}

}  // namespace

int whip_first_frame(int argc, char** argv) {
  int runs = argc >= 3 ? std::atoi(argv[2]) : 20;
  GstElement* ingest = launch("rtcwhipsrc name=src port=0 peer-timeout=3000");
  GstElement* pipeline = gst_pipeline_new("ingest");
  gst_bin_add(GST_BIN(pipeline), ingest);
  g_signal_connect(ingest, "pad-added", G_CALLBACK(on_pad_added), pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  guint port = 0;
  g_object_get(ingest, "port", &port, nullptr);
  std::vector<double> ms;
  for (int i = 0; i < runs; i++) {
    first_frame_us = 0;
    GstElement* pub = launch(
        "rtcwhipsink name=s endpoint=http://127.0.0.1:" + std::to_string(port) +
        "/whip videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! "
        "s.video_0 audiotestsrc is-live=true ! s.audio_0");
    gst_element_set_state(pub, GST_STATE_PLAYING);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!first_frame_us && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (first_frame_us) {
      gint64 since_frame_ms = (g_get_monotonic_time() - first_frame_us) / 1000;
      ms.push_back(double(publisher_age_ms(ingest)) - double(since_frame_ms));
      std::printf("run %2d: POST → first decoded frame %.0f ms\n", i + 1, ms.back());
    } else {
      std::printf("run %2d: no frame within 10 s\n", i + 1);
    }
    gst_element_set_state(pub, GST_STATE_NULL);
    gst_object_unref(pub);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // DELETE handled
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  if (ms.empty()) return 1;
  std::sort(ms.begin(), ms.end());
  std::printf("whip-first-frame: %zu/%d runs, min %.0f ms, p50 %.0f ms, p95 %.0f ms, max %.0f ms\n",
              ms.size(), runs, ms.front(), percentile(ms, 0.5), percentile(ms, 0.95), ms.back());
  return ms.size() == size_t(runs) ? 0 : 1;
}

}  // namespace bench
