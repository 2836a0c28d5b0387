// rtcmesh-bench jitterbuffer [runs]
//   A webrtcbin pair on loopback (jitter_pair.h), ~2% of the sender's packets
//   dropped, `runs` times (default 3) with webrtcbin's rtpjitterbuffer and with
//   the SFU's pass-through jitterbuffer: how long the first packet waits in
//   the receiver, and what was asked for again and came back.
#include <cstdio>
#include <cstdlib>

#include "tools/bench/commands.h"
#include "tools/bench/jitter_pair.h"

namespace bench {

int jitterbuffer(int argc, char** argv) {
  const int runs = argc >= 3 ? std::atoi(argv[2]) : 3;
  if (runs < 1) {
    std::fprintf(stderr, "usage: rtcmesh-bench jitterbuffer [runs]\n");
    return 2;
  }
  int failed = 0;
  for (bool passthrough : {false, true}) {
    const char* name = passthrough ? "pass-through" : "stock rtpjitterbuffer";
    for (int i = 0; i < runs; ++i) {
      JitterFigures f = run_jitter_pair(passthrough);
      if (!f.completed) {
        std::printf("%s: only %d packets out in %.1f s: %s\n", name, f.packets_out, f.seconds,
                    f.errors.c_str());
        ++failed;
        continue;
      }
      std::printf(
          "%s: first packet %.1f ms after arrival; dropped %zu, arrived later %zu; "
          "requests %" G_GUINT64_FORMAT ", recovered %" G_GUINT64_FORMAT ", rtx sent %u\n",
          name, f.first_packet_ms, f.dropped, f.dropped_arrived, f.rtx_requests, f.recovered,
          f.rtx_packets);
      std::fflush(stdout);
    }
  }
  return failed ? 1 : 0;
}

}  // namespace bench
