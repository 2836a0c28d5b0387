// rtcmesh-bench: benchmarks that print figures (DESIGN §10). Links the static
// library and registers the plugin in-process (never loads the .so).
//
//   rtcmesh-bench whip-first-frame [runs]
//   rtcmesh-bench join-first-frame [--runs 20] [--browser-dir DIR]
//   rtcmesh-bench fanout [--viewers 1,10,25,50] [--seconds 10] …
//   rtcmesh-bench sfu [--viewers 1,10,25,50] [--seconds 10] [--drop 1] [--compare janus] …
//   rtcmesh-bench soak [--cycles 60] [--settle 30]
//   rtcmesh-bench jitterbuffer [runs]
//   rtcmesh-bench data-rtt [--room mesh|sfu|sfu-post] [--messages 500] [--size 100] [--burst 1000]
//   rtcmesh-bench mcu [--publishers 2,4,6] [--subscribers 4] [--seconds 8] [--warmup 5]
//   rtcmesh-bench cluster [--viewers 1,10] [--seconds 10]
//
// fanout re-executes this program as `fanout-server` and `fanout-viewers`,
// sfu as `sfu-server` and `fanout-viewers` (which then also publishes);
// sfu --compare janus also starts /usr/bin/janus (tools/bench/janus.h).
#include <gst/gst.h>

#include <cstdio>
#include <cstring>

#include "gst/elements.h"
#include "tools/bench/commands.h"

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  rtcmesh_register_static();
  const char* command = argc >= 2 ? argv[1] : "";
  if (std::strcmp(command, "whip-first-frame") == 0) return bench::whip_first_frame(argc, argv);
  if (std::strcmp(command, "join-first-frame") == 0) return bench::join_first_frame(argc, argv);
  if (std::strcmp(command, "fanout") == 0) return bench::fanout(argc, argv);
  if (std::strcmp(command, "sfu") == 0) return bench::sfu(argc, argv);
  if (std::strcmp(command, "fanout-server") == 0 || std::strcmp(command, "sfu-server") == 0)
    return bench::fanout_server(argc, argv);
  if (std::strcmp(command, "fanout-viewers") == 0) return bench::fanout_viewers(argc, argv);
  if (std::strcmp(command, "soak") == 0) return bench::soak(argc, argv);
  if (std::strcmp(command, "soak-player") == 0) return bench::soak_player(argc, argv);
  if (std::strcmp(command, "jitterbuffer") == 0) return bench::jitterbuffer(argc, argv);
  if (std::strcmp(command, "data-rtt") == 0) return bench::data_rtt(argc, argv);
  if (std::strcmp(command, "mcu") == 0) return bench::mcu(argc, argv);
  if (std::strcmp(command, "cluster") == 0) return bench::cluster(argc, argv);
  std::fprintf(
      stderr,
      "usage: rtcmesh-bench whip-first-frame [runs]\n"
      "       rtcmesh-bench join-first-frame [--runs 20] [--browser-dir DIR]\n"
      "       rtcmesh-bench fanout [--viewers 1,10,25,50] [--seconds 10] [--warmup 3]\n"
      "              [--baseline 5] [--joins 10] [--batch 10] [--bitrate 2000] [--gop 60]\n"
      "              [--input FILE.mp4 | --input-seconds 40]\n"
      "       rtcmesh-bench sfu [--viewers 1,10,25,50] [--seconds 10] [--warmup 3]\n"
      "              [--baseline 5] [--joins 10] [--batch 10] [--bitrate 2000] [--gop 60]\n"
      "              [--input FILE.mp4 | --input-seconds 40] [--drop 1] [--loss-seconds 10]\n"
      "              [--engine native|egress|webrtcbin[,…]] [--compare janus]\n"
      "       rtcmesh-bench soak [--cycles 60] [--settle 30]\n"
      "       rtcmesh-bench jitterbuffer [runs]\n"
      "       rtcmesh-bench data-rtt [--room mesh|sfu|sfu-post] [--messages 500] [--size 100] [--burst 1000]\n"
      "       rtcmesh-bench mcu [--publishers 2,4,6] [--subscribers 4] [--seconds 8]\n"
      "              [--warmup 5] [--server PATH]\n"
      "       rtcmesh-bench cluster [--viewers 1,10] [--seconds 10] [--server PATH]\n");
  return 2;
}
