// rtcmesh-bench fanout-server <file.mp4> (hidden; started by `fanout`)
//
// Plays a pre-encoded H.264 file in real time, looping, into rtcwhepsink: no
// encoder in this process, so its CPU is the forwarding path's. Talks to the
// parent over stdin/stdout:
//   → "port <n>" once the input flows (viewers can be answered)
//   ← "stats" → "viewers n=… packets-sent=… cpu-us=… payloaded=… overruns=…",
//      one "viewer id=… post-us=…
//      connected=… packets-sent=…" line each, then "end"
//   ← "quit" (or EOF) → exits 0; a pipeline error → "error <text>", exit 1.
#include <gst/gst.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

struct Server {
  GstElement* pipeline = nullptr;
  GstElement* sink = nullptr;
  GstElement* demux = nullptr;
  GMainLoop* loop = nullptr;
  std::atomic<bool> flowing{false};
  std::atomic<guint64> payloaded{0};  // RTP packets into the fan-out's tee
  std::atomic<guint64> overruns{0};   // leaky queues of rtcwhepsink dropping
  std::atomic<bool> demuxed{false};
  int exit_code = 0;
};

// Loops the file: every segment-done seeks back to 0 without flushing, so
// running time (and RTP time) goes on.
gboolean on_bus(GstBus*, GstMessage* msg, gpointer data) {
  auto* s = static_cast<Server*>(data);
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_SEGMENT_DONE:
      gst_element_seek(s->demux, 1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_SEGMENT, GST_SEEK_TYPE_SET, 0,
                       GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);
      break;
    case GST_MESSAGE_ERROR: {
      GError* err = nullptr;
      gst_message_parse_error(msg, &err, nullptr);
      reply("error %s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err ? err->message : "?");
      g_clear_error(&err);
      s->exit_code = 1;
      g_main_loop_quit(s->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      reply("error unexpected EOS");
      s->exit_code = 1;
      g_main_loop_quit(s->loop);
      break;
    default:
      break;
  }
  return TRUE;
}

// Counts the packets entering the fan-out (each goes to every viewer's
// branch): an exact count where webrtcbin's stats are up to a second old.
bool count_payloaded(Server& s) {
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(s.sink));
  GValue item = G_VALUE_INIT;
  GstElement* tee = nullptr;
  while (!tee && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(e);
    if (f && g_strcmp0(GST_OBJECT_NAME(f), "tee") == 0) tee = GST_ELEMENT(gst_object_ref(e));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  if (!tee) return false;
  GstPad* pad = gst_element_get_static_pad(tee, "sink");
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        guint n = (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
                      ? gst_buffer_list_length(GST_PAD_PROBE_INFO_BUFFER_LIST(info))
                      : 1;
        static_cast<Server*>(data)->payloaded.fetch_add(n, std::memory_order_relaxed);
        return GST_PAD_PROBE_OK;
      },
      &s, nullptr);
  gst_object_unref(pad);
  gst_object_unref(tee);
  return true;
}

// Leaky queues inside rtcwhepsink (the input queue and one per viewer
// branch) signal "overrun" each time they drop to make room: loss that
// happened in the server, not on the way.
void on_element_added(GstBin*, GstBin*, GstElement* element, gpointer data) {
  GstElementFactory* f = gst_element_get_factory(element);
  if (!f || g_strcmp0(GST_OBJECT_NAME(f), "queue") != 0) return;
  g_signal_connect(
      element, "overrun",
      G_CALLBACK(+[](GstElement*, gpointer d) { static_cast<Server*>(d)->overruns++; }), data);
}

void print_stats(Server& s) {
  GstElement* sink = s.sink;
  GstStructure* stats = nullptr;
  g_object_get(sink, "stats", &stats, nullptr);
  gint64 now = g_get_monotonic_time();
  guint64 total = 0;
  guint connected = 0;
  std::string lines;
  const GValue* list = gst_structure_get_value(stats, "viewer-stats");
  guint n = list ? gst_value_list_get_size(list) : 0;
  for (guint i = 0; i < n; i++) {
    const GstStructure* v = gst_value_get_structure(gst_value_list_get_value(list, i));
    guint64 age_ms = 0, sent = 0;
    gboolean is_connected = FALSE;
    gst_structure_get_uint64(v, "age-ms", &age_ms);
    gst_structure_get_uint64(v, "packets-sent", &sent);
    gst_structure_get_boolean(v, "connected", &is_connected);
    total += sent;
    connected += is_connected ? 1 : 0;
    // POST time on CLOCK_MONOTONIC, comparable with the viewers' process.
    lines += "viewer id=" + std::string(gst_structure_get_string(v, "id")) +
             " post-us=" + std::to_string(now - gint64(age_ms) * 1000) +
             " connected=" + std::to_string(is_connected ? 1 : 0) +
             " packets-sent=" + std::to_string(sent) + "\n";
  }
  guint64 failed = 0;
  gst_structure_get_uint64(stats, "viewers-failed", &failed);
  gst_structure_free(stats);
  std::printf("viewers n=%u connected=%u packets-sent=%" G_GUINT64_FORMAT
              " failed=%" G_GUINT64_FORMAT " cpu-us=%" G_GUINT64_FORMAT
              " payloaded=%" G_GUINT64_FORMAT " overruns=%" G_GUINT64_FORMAT "\n%send\n",
              n, connected, total, failed, own_cpu_us(), s.payloaded.load(), s.overruns.load(),
              lines.c_str());
  std::fflush(stdout);
}

}  // namespace

int fanout_server(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: rtcmesh-bench fanout-server FILE.mp4\n");
    return 2;
  }
  Server s;
  gchar* location = g_strescape(argv[2], nullptr);
  s.pipeline = launch(
      std::string("rtcwhepsink name=w address=127.0.0.1 port=0 ice-local-addresses=127.0.0.1 ") +
      "filesrc location=\"" + location +
      "\" ! qtdemux name=demux ! clocksync name=sync ! w.video_0");
  g_free(location);
  s.sink = gst_bin_get_by_name(GST_BIN(s.pipeline), "w");
  g_signal_connect(s.sink, "deep-element-added", G_CALLBACK(on_element_added), &s);
  GstElement* sync = gst_bin_get_by_name(GST_BIN(s.pipeline), "sync");
  GstPad* pad = gst_element_get_static_pad(sync, "src");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo*, gpointer data) {
        static_cast<Server*>(data)->flowing = true;
        return GST_PAD_PROBE_REMOVE;
      },
      &s, nullptr);
  gst_object_unref(pad);
  gst_object_unref(sync);
  // Seeks go to the demuxer itself: a pipeline seek goes through
  // rtcwhepsink's sinks, which do not exist before its send chain does.
  s.demux = gst_bin_get_by_name(GST_BIN(s.pipeline), "demux");
  g_signal_connect(s.demux, "no-more-pads", G_CALLBACK(+[](GstElement*, gpointer data) {
                     static_cast<Server*>(data)->demuxed = true;
                   }),
                   &s);

  s.loop = g_main_loop_new(nullptr, FALSE);
  GstBus* bus = gst_element_get_bus(s.pipeline);
  gst_bus_add_watch(bus, on_bus, &s);
  gst_object_unref(bus);

  if (gst_element_set_state(s.pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    reply("error cannot start the pipeline");
    return 1;
  }
  // A segment seek makes the demuxer post segment-done instead of EOS; it
  // takes once the demuxer has read the headers.
  for (int i = 0; i < 1000 && !s.demuxed; i++) g_usleep(10000);
  gst_element_seek(s.demux, 1.0, GST_FORMAT_TIME,
                   GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_SEGMENT), GST_SEEK_TYPE_SET, 0,
                   GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);
  gst_element_set_state(s.pipeline, GST_STATE_PLAYING);

  std::thread commands([&s] {
    // Announce the port once the payloader has seen data (an offer before
    // that is answered 422), then serve the parent's commands.
    for (int i = 0; i < 1000 && !s.flowing; i++) g_usleep(10000);
    if (s.flowing) g_usleep(300000);
    if (!s.flowing) {
      reply("error no data from the file within 10 s");
    } else if (!count_payloaded(s)) {
      reply("error no fan-out tee inside rtcwhepsink");
    } else {
      guint port = 0;
      g_object_get(s.sink, "port", &port, nullptr);
      reply("port %u", port);
    }
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line == "stats")
        print_stats(s);
      else if (line == "quit")
        break;
    }
    g_main_loop_quit(s.loop);
  });
  g_main_loop_run(s.loop);
  gst_element_set_state(s.pipeline, GST_STATE_NULL);
  gst_object_unref(s.sink);
  gst_object_unref(s.demux);
  gst_object_unref(s.pipeline);
  g_main_loop_unref(s.loop);
  // The command thread may sit in a read of stdin after an error.
  if (s.exit_code) std::_Exit(s.exit_code);
  commands.join();
  return 0;
}

}  // namespace bench
