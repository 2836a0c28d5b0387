// rtcmesh-bench mcu: rtcmesh-server --mode mcu (a child process, compositing
// at 1280x720@30) with N publishers of a pre-encoded 720p30 H.264 file
// (looping, no encoder on the publishing side) and S WHEP players of the
// room, one of which decodes. Per N: the server's CPU (% of the machine),
// its threads, the composite's frame rate at the decoding player and the
// frames missing from 30/s, and the latency the MCU adds, measured with a
// marker: one more publisher, a small live picture that turns black or white
// every 500 ms, is the grid's first tile; the time from the new colour
// leaving its source to the decoding player seeing that tile turn is taken
// per flip (one clock: everything but the server is in this process).
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

const char* kUsage =
    "mcu [--publishers 2,4,6] [--subscribers 4] [--seconds 8] [--warmup 5] [--server PATH]";

struct Options {
  std::vector<int> publishers{2, 4, 6};
  int subscribers = 4;
  double seconds = 8, warmup = 5;
  std::string server;
};

// The marker's colour changes (source side) and the player's sightings.
struct Marker {
  std::mutex mutex;
  std::deque<std::pair<gint64, bool>> flips;  // (left the source at, white)
  std::vector<double> latency_ms;
  bool sent_white = false, seen_white = false, seen_any = false;
  std::atomic<guint64> frames{0};  // composite frames decoded by the player
  int tile_x = 0, tile_y = 0;      // the marker tile's centre in the composite

  void left_source(bool white) {
    std::lock_guard lock(mutex);
    if (white == sent_white && !flips.empty()) return;
    sent_white = white;
    flips.push_back({g_get_monotonic_time(), white});
  }
  void seen(bool white) {
    std::lock_guard lock(mutex);
    if (seen_any && white == seen_white) return;
    gint64 now = g_get_monotonic_time();
    bool first = !seen_any;
    seen_any = true;
    seen_white = white;
    while (!flips.empty()) {
      auto [at, w] = flips.front();
      flips.pop_front();
      if (w != white) continue;
      if (!first) latency_ms.push_back((now - at) / 1000.0);
      break;
    }
  }
  std::vector<double> take() {
    std::lock_guard lock(mutex);
    std::vector<double> out;
    out.swap(latency_ms);
    return out;
  }
};

// The luma of an I420 buffer at (x, y) (no padding: videoconvert's output).
int luma_at(GstBuffer* buf, int width, int x, int y) {
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return -1;
  size_t at = size_t(y) * GST_ROUND_UP_4(width) + size_t(x);
  int v = at < map.size ? map.data[at] : -1;
  gst_buffer_unmap(buf, &map);
  return v;
}

GstPadProbeReturn on_marker_source(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  GstCaps* caps = gst_pad_get_current_caps(pad);
  int width = 0;
  if (caps) gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &width);
  if (caps) gst_caps_unref(caps);
  int y = luma_at(GST_PAD_PROBE_INFO_BUFFER(info), width, 0, 0);
  if (y >= 0) static_cast<Marker*>(data)->left_source(y > 128);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn on_composite(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* m = static_cast<Marker*>(data);
  GstCaps* caps = gst_pad_get_current_caps(pad);
  int width = 0;
  if (caps) gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &width);
  if (caps) gst_caps_unref(caps);
  m->frames++;
  int y = luma_at(GST_PAD_PROBE_INFO_BUFFER(info), width, m->tile_x, m->tile_y);
  if (y >= 0) m->seen(y > 128);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn count_buffer(GstPad*, GstPadProbeInfo*, gpointer data) {
  ++*static_cast<std::atomic<guint64>*>(data);
  return GST_PAD_PROBE_OK;
}

void probe(GstElement* pipeline, const char* element, const char* pad, GstPadProbeCallback fn,
           gpointer data) {
  GstElement* e = gst_bin_get_by_name(GST_BIN(pipeline), element);
  GstPad* p = gst_element_get_static_pad(e, pad);
  gst_pad_add_probe(p, GST_PAD_PROBE_TYPE_BUFFER, fn, data, nullptr);
  gst_object_unref(p);
  gst_object_unref(e);
}

void stop(GstElement* p) {
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
}

void run_for(double seconds) {
  gint64 end = g_get_monotonic_time() + gint64(seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time() < end) g_main_context_iteration(nullptr, FALSE), g_usleep(5000);
}

// One row: N publishers into a fresh server.
bool run(const Options& o, int n, const std::string& file) {
  Child server({"--mode", "mcu", "--room", "bench", "--canvas", "1280x720@30", "--port", "0",
                "--address", "127.0.0.1", "--peer-timeout", "5000", "--max-peers-per-room",
                "64"},
               o.server);
  const std::string prefix = "rtcmesh-server listening on http://127.0.0.1:";
  auto line = server.expect(prefix, 30000);
  if (!line) {
    std::fprintf(stderr, "mcu: %s did not start\n", o.server.c_str());
    return false;
  }
  std::string base = "http://127.0.0.1:" + line->substr(prefix.size());
  Marker marker;
  // Grid of n + 1 tiles: the marker, first to publish, is the top-left one.
  int cols = int(std::ceil(std::sqrt(double(n + 1))));
  int rows = (n + 1 + cols - 1) / cols;
  marker.tile_x = 1280 / cols / 2;
  marker.tile_y = 720 / rows / 2;

  std::vector<GstElement*> pipelines;
  GstElement* mark = launch(
      "videotestsrc name=v is-live=true pattern=solid-color foreground-color=0xff000000 ! "
      "video/x-raw,format=I420,width=320,height=180,framerate=30/1 ! identity name=mark ! "
      "rtcwhipsink name=s ice-local-addresses=127.0.0.1 endpoint=" + base + "/whip/bench/marker");
  probe(mark, "mark", "src", on_marker_source, &marker);
  gst_element_set_state(mark, GST_STATE_PLAYING);
  pipelines.push_back(mark);
  run_for(1.5);  // the marker's tile comes first

  std::vector<GstElement*> demuxers;
  for (int i = 0; i < n; i++) {
    GstElement* p = launch("rtcwhipsink name=s ice-local-addresses=127.0.0.1 endpoint=" + base +
                           "/whip/bench/p" + std::to_string(i) + " filesrc location=\"" + file +
                           "\" ! qtdemux name=demux ! clocksync ! s.video_0 audiotestsrc "
                           "is-live=true wave=sine freq=" + std::to_string(300 + 100 * i) +
                           " ! s.audio_0");
    GstElement* demux = gst_bin_get_by_name(GST_BIN(p), "demux");
    GstBus* bus = gst_element_get_bus(p);
    gst_bus_add_watch(
        bus,
        [](GstBus*, GstMessage* msg, gpointer demux) -> gboolean {
          loop_on_segment_done(msg, GST_ELEMENT(demux));
          return TRUE;
        },
        demux);
    gst_object_unref(bus);
    if (!play_looping(p, demux)) std::fprintf(stderr, "mcu: publisher %d did not start\n", i);
    pipelines.push_back(p);
    demuxers.push_back(demux);
  }
  std::atomic<guint64> packets{0};
  for (int i = 0; i < o.subscribers; i++) {
    std::string player = "rtcwhepsrc name=r ice-local-addresses=127.0.0.1 endpoint=" + base +
                         "/whep/bench r.video_0 ! queue ! ";
    GstElement* p =
        i == 0 ? launch(player + "videoconvert ! video/x-raw,format=I420 ! fakesink name=f "
                                 "sync=false")
               : launch(player + "fakesink name=f sync=false");
    probe(p, "f", "sink", i == 0 ? on_composite : count_buffer,
          i == 0 ? static_cast<gpointer>(&marker) : static_cast<gpointer>(&packets));
    gst_element_set_state(p, GST_STATE_PLAYING);
    pipelines.push_back(p);
  }

  // The marker flips every 500 ms from here on.
  GstElement* v = gst_bin_get_by_name(GST_BIN(mark), "v");
  guint flipper = g_timeout_add(500, [](gpointer v) -> gboolean {
    guint color = 0;
    g_object_get(v, "foreground-color", &color, nullptr);
    g_object_set(v, "foreground-color", color == 0xffffffff ? 0xff000000 : 0xffffffff, nullptr);
    return G_SOURCE_CONTINUE;
  }, v);
  run_for(o.warmup);
  marker.take();
  guint64 frames0 = marker.frames, packets0 = packets;
  ProcSample s0 = sample_process(server.pid());
  guint64 busy0 = machine_busy_ticks();
  gint64 t0 = g_get_monotonic_time();
  run_for(o.seconds);
  double secs = (g_get_monotonic_time() - t0) / 1e6;
  ProcSample s1 = sample_process(server.pid());
  guint64 busy1 = machine_busy_ticks();
  std::vector<double> lat = marker.take();
  g_source_remove(flipper);
  gst_object_unref(v);
  std::sort(lat.begin(), lat.end());
  long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  double tps = double(ticks_per_second());
  double server_pct = 100.0 * double(s1.cpu_ticks - s0.cpu_ticks) / (tps * secs * double(cpus));
  double machine_pct = 100.0 * double(busy1 - busy0) / (tps * secs * double(cpus));
  double fps = double(marker.frames - frames0) / secs;
  double missing = std::max(0.0, 30.0 * secs - double(marker.frames - frames0));
  std::printf("%10d %10.1f %10.1f %8ld %8.1f %8.0f %10.1f %9.1f %9.1f %6zu\n", n, server_pct,
              machine_pct, s1.threads, fps, missing,
              double(packets - packets0) / secs / std::max(1, o.subscribers - 1),
              percentile(lat, 0.5), percentile(lat, 0.95), lat.size());
  std::fflush(stdout);
  for (GstElement* p : pipelines) stop(p);
  for (GstElement* d : demuxers) gst_object_unref(d);
  kill(server.pid(), SIGTERM);  // the server does not read stdin: finish's "quit" is not for it
  server.finish(10000);
  return true;
}

}  // namespace

int mcu(int argc, char** argv) {
  Options o;
  o.server = std::string(g_path_get_dirname(argv[0])) + "/rtcmesh-server";
  for (int i = 2; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--publishers") o.publishers = parse_int_list(next());
    else if (a == "--subscribers") o.subscribers = std::max(1, std::atoi(next().c_str()));
    else if (a == "--seconds") o.seconds = std::max(1.0, std::atof(next().c_str()));
    else if (a == "--warmup") o.warmup = std::max(0.0, std::atof(next().c_str()));
    else if (a == "--server") o.server = next();
    else {
      std::fprintf(stderr, "unknown option %s\nusage: rtcmesh-bench %s\n", a.c_str(), kUsage);
      return 2;
    }
  }
  if (o.publishers.empty()) {
    std::fprintf(stderr, "usage: rtcmesh-bench %s\n", kUsage);
    return 2;
  }
  GError* err = nullptr;
  gchar* dir = g_dir_make_tmp("rtcmesh-bench-XXXXXX", &err);
  if (!dir) {
    std::fprintf(stderr, "no temporary directory: %s\n", err->message);
    return 1;
  }
  std::string tmpdir = dir, file = tmpdir + "/input.mp4";
  g_free(dir);
  if (!encode_720p30_h264(6, 2000, 60, file)) {
    std::fprintf(stderr, "encoding the input failed\n");
    return 1;
  }
  std::printf("mcu: 1280x720@30 composite (VP8), %d WHEP players (1 decoding), window %.0f s "
              "after %.0f s warm-up; publishers + 1 marker\n",
              o.subscribers, o.seconds, o.warmup);
  std::printf("%10s %10s %10s %8s %8s %8s %10s %9s %9s %6s\n", "publishers", "server%", "machine%",
              "threads", "out-fps", "missing", "pkts/s/sub", "lat-p50", "lat-p95", "flips");
  int failed = 0;
  for (int n : o.publishers) failed += !run(o, n, file);
  g_remove(file.c_str());
  g_rmdir(tmpdir.c_str());
  return failed ? 1 : 0;
}

}  // namespace bench
