// rtcmesh-bench join-first-frame [--runs 20] [--browser-dir DIR]
//   Join → first decoded frame for a browser subscriber of an SFU room, with
//   signaling over a data channel (one POST /rtc/<room>, the room protocol on
//   the channel, the subscription renegotiated onto the same connection)
//   against the WebSocket (/rtc, a second RTCPeerConnection for the server's
//   offer). One rtcsfu in this process hosts room "bench" and publishes a
//   320x240@15 VP8 test pattern into it (keyframe on each join); headless
//   Chromium (tests/integration/browser/run.mjs --mode joinbench) joins `runs`
//   times each way, in turn, each time on fresh connections, and times from
//   before its first connection to the first video frame presented.
#include <gst/gst.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "signaling/json.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace bench {

namespace {

void print_row(const char* what, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  if (ms.empty()) return (void)std::printf("%-12s no joins\n", what);
  std::printf("%-12s n=%zu  p50 %6.0f ms  p95 %6.0f ms  min %6.0f ms  max %6.0f ms\n", what,
              ms.size(), percentile(ms, 0.5), percentile(ms, 0.95), ms.front(), ms.back());
}

std::vector<double> numbers(const rtcmesh::sig::Json* array) {
  std::vector<double> out;
  if (array && array->is_array())
    for (const auto& v : array->as_array())
      if (v.is_number()) out.push_back(v.as_double());
  return out;
}

}  // namespace

int join_first_frame(int argc, char** argv) {
  int runs = 20;
  std::string browser_dir = RTCMESH_BROWSER_DIR;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0)
      runs = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--browser-dir") == 0)
      browser_dir = argv[i + 1];
  }
  GstElement* pipeline = launch(
      "rtcsfu name=s address=127.0.0.1 port=0 room=bench publisher-id=src peer-timeout=4000 "
      "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! s.video_0");
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::fprintf(stderr, "join-first-frame: the rtcsfu pipeline did not start\n");
    return 1;
  }
  GstElement* sfu = gst_bin_get_by_name(GST_BIN(pipeline), "s");
  guint port = 0;
  g_object_get(sfu, "port", &port, nullptr);
  gst_object_unref(sfu);
  g_usleep(G_USEC_PER_SEC);  // the first frames encoded, the publisher in the room

  const std::string command = "node '" + browser_dir + "/run.mjs' --mode joinbench --endpoint " +
                              "http://127.0.0.1:" + std::to_string(port) + " --room bench --runs " +
                              std::to_string(runs) + " --duration " +
                              std::to_string(30 + runs * 10);
  std::printf(
      "join → first decoded frame, %d joins each way (Chromium subscriber, rtcsfu "
      "publishing 320x240@15 VP8)\n",
      runs);
  std::fflush(stdout);
  FILE* driver = popen(command.c_str(), "r");
  if (!driver) {
    std::fprintf(stderr, "join-first-frame: cannot run %s\n", command.c_str());
    return 1;
  }
  rtcmesh::sig::Json last;
  char line[1 << 16];
  while (std::fgets(line, sizeof line, driver)) {
    auto j = rtcmesh::sig::Json::parse(line);
    if (!j || !j->is_object()) continue;
    auto event = j->get_string("event").value_or("");
    if (event == "stats") last = *j;
    if (event == "error")
      std::fprintf(stderr, "join-first-frame: %s\n",
                   j->get_string("message").value_or("?").c_str());
  }
  int status = pclose(driver);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);

  const rtcmesh::sig::Json* results = last.find("results");
  std::vector<double> dc = numbers(results ? results->find("datachannel") : nullptr);
  std::vector<double> ws = numbers(results ? results->find("websocket") : nullptr);
  print_row("datachannel", dc);
  print_row("websocket", ws);
  // Where it goes: the signaling path open, the server's first offer received.
  const rtcmesh::sig::Json* phases = last.find("phases");
  for (const char* way : {"datachannel", "websocket"}) {
    const rtcmesh::sig::Json* p = phases ? phases->find(way) : nullptr;
    std::vector<double> open = numbers(p ? p->find("open") : nullptr);
    std::vector<double> offer = numbers(p ? p->find("offer") : nullptr);
    std::sort(open.begin(), open.end());
    std::sort(offer.begin(), offer.end());
    if (!open.empty() && !offer.empty())
      std::printf("%-12s p50: signaling open at %.0f ms, first offer at %.0f ms\n", way,
                  percentile(open, 0.5), percentile(offer, 0.5));
  }
  if (!dc.empty() && !ws.empty()) {
    std::sort(dc.begin(), dc.end());
    std::sort(ws.begin(), ws.end());
    std::printf("ratio p50 datachannel/websocket %.2f\n",
                percentile(dc, 0.5) / percentile(ws, 0.5));
  }
  return status == 0 && int(dc.size()) == runs && int(ws.size()) == runs ? 0 : 1;
}

}  // namespace bench
