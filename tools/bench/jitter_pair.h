// A webrtcbin pair in one process: a VP8 sender and a receiver whose RTP pads
// go to fakesinks, offer/answer and candidates handed over in-process, ~2% of
// the sender's media packets dropped after rtprtxsend (so they can be asked
// for again). What the receiver's jitterbuffer makes of it: how long the first
// packet waits, what it asks for again and what comes back.
// `rtcmesh-bench jitterbuffer` prints these figures for the pass-through and
// the stock jitterbuffer; tests/media asserts on the pass-through's.
#pragma once

#include <gst/gst.h>

#include <cstddef>
#include <string>

namespace bench {

struct JitterFigures {
  bool completed = false;  // 600 packets left the receiver within 30 s
  std::string errors;      // the pipeline's error messages
  int packets_out = 0;
  double seconds = 0;
  double first_packet_ms = -1;              // receiver: into rtpbin → out of webrtcbin
  guint64 rtx_requests = 0, recovered = 0;  // the pass-through's counters
  guint rtx_packets = 0;                    // the sender's rtprtxsend answers
  size_t dropped = 0, dropped_arrived = 0;
};

// One run with media's pass-through jitterbuffer (`passthrough`) or
// webrtcbin's rtpjitterbuffer in the receiver.
JitterFigures run_jitter_pair(bool passthrough);

}  // namespace bench
