// rtcmesh-bench fanout-server <file.mp4> | sfu-server (hidden; started by
// `fanout` and `sfu`)
//
// fanout-server plays a pre-encoded H.264 file in real time, looping, into
// rtcwhepsink: no encoder in this process, so its CPU is the forwarding
// path's. sfu-server runs an rtcsfu hosting room "bench" and nothing else:
// the publisher (WHIP) and the subscribers (WHEP) are in another process.
// Talks to the parent over stdin/stdout:
//   → "port <n>" once viewers can be answered (fanout: the input flows)
//   ← "stats" → "viewers n=… packets-sent=… cpu-us=… payloaded=… overruns=…
//      publishers=… nacks-sent=… in-gaps=… in-rtx-requests=… in-recovered=…
//      in-lost=…" (in-: the publishers' pass-through jitterbuffers), one "viewer id=… [post-us=…]
//      connected=… packets-sent=…" line each, then "end"
//   ← "quit" (or EOF) → exits 0; a pipeline error → "error <text>", exit 1.
#include <gst/gst.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "gst/media/jitter_passthrough.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

struct Server {
  bool sfu = false;
  GstElement* pipeline = nullptr;
  GstElement* sink = nullptr;   // rtcwhepsink or rtcsfu
  GstElement* demux = nullptr;  // fanout only
  GMainLoop* loop = nullptr;
  std::atomic<bool> flowing{false};
  std::atomic<guint64> payloaded{0};  // RTP packets into the fan-out's tee
  std::atomic<guint64> overruns{0};   // leaky queues of the element dropping
  std::atomic<bool> counting{false};  // the tee was found
  bool ingress = false;               // native ingress: publishers through the engine, not the tee
  int exit_code = 0;
};

gboolean on_bus(GstBus*, GstMessage* msg, gpointer data) {
  auto* s = static_cast<Server*>(data);
  if (s->demux && loop_on_segment_done(msg, s->demux)) return TRUE;
  switch (GST_MESSAGE_TYPE(msg)) {
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

guint64 u64_field(const GstStructure* s, const char* field) {
  guint64 v = 0;
  gst_structure_get_uint64(s, field, &v);
  return v;
}

// sfu: the pass-through jitterbuffers' counters of the publisher's streams.
rtcmesh::media::PassthroughCounters passthrough_totals(GstElement* sfu) {
  rtcmesh::media::PassthroughCounters total;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(sfu));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    auto c = rtcmesh::media::passthrough_counters(GST_ELEMENT(g_value_get_object(&v)));
    total.packets += c.packets;
    total.gaps += c.gaps;
    total.rtx_requests += c.rtx_requests;
    total.recovered += c.recovered;
    total.lost += c.lost;
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return total;
}

void print_stats(Server& s) {
  GstStructure* stats = nullptr;
  g_object_get(s.sink, "stats", &stats, nullptr);
  gint64 now = g_get_monotonic_time();
  guint64 total = 0, nacks_sent = 0;
  guint connected = 0, publishers = 0;
  std::string lines;
  const GValue* list =
      gst_structure_get_value(stats, s.sfu ? "subscriber-stats" : "viewer-stats");
  guint n = list ? gst_value_list_get_size(list) : 0;
  for (guint i = 0; i < n; i++) {
    const GstStructure* v = gst_value_get_structure(gst_value_list_get_value(list, i));
    guint64 sent = u64_field(v, "packets-sent");
    gboolean is_connected = FALSE;
    gst_structure_get_boolean(v, "connected", &is_connected);
    total += sent;
    connected += is_connected ? 1 : 0;
    lines += "viewer id=" + std::string(gst_structure_get_string(v, "id"));
    // POST time on CLOCK_MONOTONIC, comparable with the viewers' process
    // (rtcwhepsink only: rtcsfu does not say its subscribers' age).
    guint64 age_ms = 0;
    if (gst_structure_get_uint64(v, "age-ms", &age_ms))
      lines += " post-us=" + std::to_string(now - gint64(age_ms) * 1000);
    lines += " connected=" + std::to_string(is_connected ? 1 : 0) +
             " packets-sent=" + std::to_string(sent) + "\n";
  }
  guint64 received = 0;  // by the publishers' connections
  if (const GValue* pubs = gst_structure_get_value(stats, "publisher-stats")) {
    publishers = gst_value_list_get_size(pubs);
    for (guint i = 0; i < publishers; i++) {
      const GstStructure* p = gst_value_get_structure(gst_value_list_get_value(pubs, i));
      guint nacks = 0;
      gst_structure_get_uint(p, "nack-count", &nacks);
      nacks_sent += nacks;
      received += u64_field(p, "packets-received");
    }
  }
  guint64 failed = u64_field(stats, s.sfu ? "connection-failures" : "viewers-failed");
  gst_structure_free(stats);
  rtcmesh::media::PassthroughCounters jb;
  if (s.sfu) jb = passthrough_totals(s.sink);
  std::printf("viewers n=%u connected=%u packets-sent=%" G_GUINT64_FORMAT
              " failed=%" G_GUINT64_FORMAT " cpu-us=%" G_GUINT64_FORMAT
              " payloaded=%" G_GUINT64_FORMAT " overruns=%" G_GUINT64_FORMAT
              " publishers=%u nacks-sent=%" G_GUINT64_FORMAT " in-gaps=%" G_GUINT64_FORMAT
              " in-rtx-requests=%" G_GUINT64_FORMAT " in-recovered=%" G_GUINT64_FORMAT
              " in-lost=%" G_GUINT64_FORMAT "\n%send\n",
              n, connected, total, failed, own_cpu_us(),
              // ingress=native: the engine forwards, nothing passes the tee
              s.ingress ? received : s.payloaded.load(), s.overruns.load(),
              publishers, nacks_sent, jb.gaps, jb.rtx_requests, jb.recovered, jb.lost,
              lines.c_str());
  std::fflush(stdout);
}

// fanout: file → clocksync → rtcwhepsink, started once the file is read.
bool start_fanout(Server& s, const char* file) {
  gchar* location = g_strescape(file, nullptr);
  s.pipeline = launch(
      // Every viewer comes from 127.0.0.1: no per-address limits (the bench
      // measures forwarding, and runs past 50 viewers).
      std::string("rtcwhepsink name=w address=127.0.0.1 port=0 ice-local-addresses=127.0.0.1 ") +
      "max-sessions-per-address=0 rate-per-address=0 " +
      "filesrc location=\"" + location +
      "\" ! qtdemux name=demux ! clocksync name=sync ! w.video_0");
  g_free(location);
  s.sink = gst_bin_get_by_name(GST_BIN(s.pipeline), "w");
  count_queue_overruns(s.sink, &s.overruns);
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
  return play_looping(s.pipeline, s.demux);
}

// sfu: an rtcsfu alone; the fan-out of the publisher's track exists once the
// publisher has answered.
bool start_sfu(Server& s, const std::string& engine) {
  s.ingress = engine == "native";
  // One element: gst_parse_launch would return it without a pipeline.
  s.pipeline = gst_pipeline_new(nullptr);
  s.sink = launch(
      "rtcsfu address=127.0.0.1 port=0 room=bench ice-local-addresses=127.0.0.1 "
      "max-sessions-per-address=0 rate-per-address=0 " +
      (engine == "egress" ? std::string("engine=native ingress=webrtcbin") : "engine=" + engine));
  gst_bin_add(GST_BIN(s.pipeline), GST_ELEMENT(gst_object_ref(s.sink)));
  count_queue_overruns(s.sink, &s.overruns);
  g_signal_connect(s.sink, "publisher-added",
                   G_CALLBACK(+[](GstElement* sfu, const char*, const char*, gpointer data) {
                     auto* s = static_cast<Server*>(data);
                     if (!s->counting.exchange(true) && !count_tee_input(GST_BIN(sfu), &s->payloaded))
                       reply("error no fan-out tee inside rtcsfu");
                   }),
                   &s);
  s.flowing = true;
  s.counting = false;
  return gst_element_set_state(s.pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

}  // namespace

int fanout_server(int argc, char** argv) {
  Server s;
  s.sfu = std::strcmp(argv[1], "sfu-server") == 0;
  if (!s.sfu && argc < 3) {
    std::fprintf(stderr, "usage: rtcmesh-bench fanout-server FILE.mp4 | sfu-server [native|egress|webrtcbin]\n");
    return 2;
  }
  s.loop = g_main_loop_new(nullptr, FALSE);
  // sfu-server [ENGINE]: rtcsfu's engine: native (publishers and subscribers), egress (native
  // subscribers, webrtcbin publishers) or webrtcbin.
  if (!(s.sfu ? start_sfu(s, argc > 2 ? argv[2] : "webrtcbin") : start_fanout(s, argv[2]))) {
    reply("error cannot start the pipeline");
    return 1;
  }
  GstBus* bus = gst_element_get_bus(s.pipeline);
  gst_bus_add_watch(bus, on_bus, &s);
  gst_object_unref(bus);

  std::thread commands([&s] {
    // Announce the port once the payloader has seen data (an offer before
    // that is answered 422), then serve the parent's commands.
    for (int i = 0; i < 1000 && !s.flowing; i++) g_usleep(10000);
    if (s.flowing && !s.sfu) g_usleep(300000);
    if (!s.flowing) {
      reply("error no data from the file within 10 s");
    } else if (!s.sfu && !count_tee_input(GST_BIN(s.sink), &s.payloaded)) {
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
  if (s.demux) gst_object_unref(s.demux);
  gst_object_unref(s.pipeline);
  g_main_loop_unref(s.loop);
  // The command thread may sit in a read of stdin after an error.
  if (s.exit_code) std::_Exit(s.exit_code);
  commands.join();
  return 0;
}

}  // namespace bench
