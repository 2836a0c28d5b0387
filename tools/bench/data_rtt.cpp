// rtcmesh-bench data-rtt [--room mesh|sfu|sfu-post] [--messages 500] [--size 100] [--burst 1000]
//   Two rtcmeshbin (receive-only) in a room on loopback: mesh (an in-process
//   room server; the channels join a and b directly) or sfu (an in-process
//   rtcsfu that publishes a small test video, so that each has a subscribe
//   connection, and relays every message: two hops); sfu-post: the same
//   room, each rtcmeshbin on one POSTed connection (url=http://…/rtc: the
//   room data rides its rtcmesh-data channel). b echoes every message
//   a sends on the reliable data channel. Prints join → channel open, the
//   round-trip time of `messages` pings sent one after the other
//   (p50/p95/p99), and how long a burst of `burst` 1 KiB messages takes to
//   come back (messages/s).
#include <gst/gst.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gst/common/worker.h"
#include "signaling/http/http_server.h"
#include "signaling/http/ws_server.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

// What came back to `a`, in order of arrival (arrival time with each).
struct Echoes {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::string, gint64>> got;
  bool wait_count(size_t n, int timeout_ms) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return got.size() >= n; });
  }
};

gboolean send(GstElement* bin, const char* to, const std::string& text) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(bin, "send-string", to, text.c_str(), TRUE, &ok);
  return ok;
}

}  // namespace

int data_rtt(int argc, char** argv) {
  int messages = 500, size = 100, burst = 1000;
  std::string mode = "mesh";
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--room")) mode = argv[i + 1];
    else if (!std::strcmp(argv[i], "--messages")) messages = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--size")) size = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--burst")) burst = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "data-rtt: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (messages < 1 || size < 8 || size > 65470 || burst < 0 ||
      (mode != "mesh" && mode != "sfu" && mode != "sfu-post")) {
    std::fprintf(stderr, "data-rtt: --room mesh|sfu|sfu-post, --messages >= 1, --size 8..65470, "
                         "--burst >= 0\n");
    return 2;
  }

  rtcmesh::Worker host("room-host");
  std::unique_ptr<rtcmesh::sig::HttpServer> http;
  std::unique_ptr<rtcmesh::sig::WsServer> ws;
  GstElement* sfu = nullptr;  // --room sfu: the room's host pipeline
  guint port = 0;
  if (mode == "mesh") {
    host.call([&] {
      rtcmesh::sig::HttpServer::Options o;
      o.address = "127.0.0.1";
      http = std::make_unique<rtcmesh::sig::HttpServer>(host.context(), o);
      ws = std::make_unique<rtcmesh::sig::WsServer>(host.context(), *http,
                                                    rtcmesh::sig::RoomServer::Config{});
      http->start();
    });
    port = http->port();
  } else {
    sfu = launch("rtcsfu name=sfu address=127.0.0.1 port=0 room=bench publisher-id=host "
                 "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=15/1 ! "
                 "sfu.video_0");
    gst_element_set_state(sfu, GST_STATE_PLAYING);
    GstElement* e = gst_bin_get_by_name(GST_BIN(sfu), "sfu");
    g_object_get(e, "port", &port, nullptr);
    gst_object_unref(e);
  }
  std::string url = (mode == "sfu-post" ? "http://127.0.0.1:" : "ws://127.0.0.1:") +
                    std::to_string(port) + "/rtc";

  // A pipeline of one rtcmeshbin (gst_parse_launch would return the bare element).
  auto join = [&](const char* id) {
    GstElement* pipeline = gst_pipeline_new(id);
    GstElement* bin = launch("rtcmeshbin name=m url=" + url + " room=bench peer-id=" + id);
    gst_bin_add(GST_BIN(pipeline), bin);
    return pipeline;
  };
  GstElement* a = join("a");
  GstElement* b = join("b");
  GstElement* a_bin = gst_bin_get_by_name(GST_BIN(a), "m");
  GstElement* b_bin = gst_bin_get_by_name(GST_BIN(b), "m");
  // b echoes on its thread; a notes arrivals.
  g_signal_connect(b_bin, "data-received",
                   G_CALLBACK(+[](GstElement* self, gchar* from, gchar*, GBytes* bytes, gboolean,
                                  gpointer) {
                     gsize n = 0;
                     auto* d = static_cast<const char*>(g_bytes_get_data(bytes, &n));
                     send(self, from, std::string(d, n));
                   }),
                   nullptr);
  Echoes echoes;
  g_signal_connect(a_bin, "data-received",
                   G_CALLBACK(+[](GstElement*, gchar*, gchar*, GBytes* bytes, gboolean, gpointer e) {
                     auto* self = static_cast<Echoes*>(e);
                     gsize n = 0;
                     auto* d = static_cast<const char*>(g_bytes_get_data(bytes, &n));
                     std::lock_guard lock(self->mutex);
                     self->got.emplace_back(std::string(d, n), g_get_monotonic_time());
                     self->cv.notify_all();
                   }),
                   &echoes);
  gint64 t0 = g_get_monotonic_time();
  gst_element_set_state(a, GST_STATE_PLAYING);
  gst_element_set_state(b, GST_STATE_PLAYING);

  // Until the first echo: the channel is open both ways (a message sent
  // before the connection exists has no channel yet, so keep asking).
  double open_ms = -1;
  for (int i = 0; i < 200 && open_ms < 0; i++) {
    send(a_bin, "b", "hello");
    if (echoes.wait_count(1, 100)) open_ms = (g_get_monotonic_time() - t0) / 1000.0;
  }
  int status = 0;
  if (open_ms < 0) {
    std::fprintf(stderr, "data-rtt: no echo within 20 s\n");
    status = 1;
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // late "hello" echoes
    size_t base = [&] {
      std::lock_guard lock(echoes.mutex);
      return echoes.got.size();
    }();
    std::vector<double> rtt;
    std::string payload(size_t(size), 'x');
    for (int i = 0; i < messages && status == 0; i++) {
      std::string msg = std::to_string(i) + ":" + payload.substr(std::to_string(i).size() + 1);
      gint64 sent = g_get_monotonic_time();
      send(a_bin, "b", msg);
      if (!echoes.wait_count(base + i + 1, 5000)) {
        std::fprintf(stderr, "data-rtt: ping %d not echoed within 5 s\n", i);
        status = 1;
        break;
      }
      std::lock_guard lock(echoes.mutex);
      const auto& [echo, at] = echoes.got[base + i];
      if (echo != msg) {
        std::fprintf(stderr, "data-rtt: echo %d is not ping %d ('%.12s…')\n", i, i, echo.c_str());
        status = 1;
        break;
      }
      rtt.push_back((at - sent) / 1000.0);
    }
    if (status == 0) {
      std::sort(rtt.begin(), rtt.end());
      std::printf("data-rtt: %s room\n", mode.c_str());
      std::printf("data-rtt: channel open (first echo) %.0f ms after PLAYING\n", open_ms);
      std::printf("data-rtt: %d pings of %d bytes, round trip p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n",
                  messages, size, percentile(rtt, 0.5), percentile(rtt, 0.95),
                  percentile(rtt, 0.99));
    }
    if (status == 0 && burst > 0) {
      size_t before = base + size_t(messages);
      std::string kib(1024, 'y');
      gint64 start = g_get_monotonic_time();
      for (int i = 0; i < burst; i++) send(a_bin, "b", kib);
      if (echoes.wait_count(before + size_t(burst), 30000)) {
        double s = (g_get_monotonic_time() - start) / 1e6;
        std::printf("data-rtt: burst of %d x 1 KiB echoed in %.0f ms (%.0f messages/s each way)\n",
                    burst, s * 1000, burst / s);
      } else {
        std::fprintf(stderr, "data-rtt: burst not fully echoed within 30 s\n");
        status = 1;
      }
    }
  }
  gst_element_set_state(a, GST_STATE_NULL);
  gst_element_set_state(b, GST_STATE_NULL);
  gst_object_unref(a_bin);
  gst_object_unref(b_bin);
  gst_object_unref(a);
  gst_object_unref(b);
  if (sfu) {
    gst_element_set_state(sfu, GST_STATE_NULL);
    gst_object_unref(sfu);
  }
  host.call([&] {
    ws.reset();
    http.reset();
  });
  return status;
}

}  // namespace bench
