// The SFU's jitterbuffer (DESIGN §8): forwarding needs no reordering or
// smoothing here (every subscriber's receiver has its own jitterbuffer), but
// the stock rtpjitterbuffer holds the start of a stream and everything behind
// a gap for its latency (p95 190 ms on loopback). This one forwards every
// packet the moment it arrives, notices gaps in the sequence numbers and asks
// the publisher for the missing packets (upstream GstRTPRetransmissionRequest
// events, which rtpsession turns into NACKs); retransmissions are forwarded
// late, as they come.
//
// peer::Peer gives it to rtpbin through its `request-jitterbuffer` signal, so
// it has the properties rtpbin and webrtcbin set on a jitterbuffer (`latency`,
// `do-retransmission`, `drop-on-latency`, `do-lost`, `max-dropout-time`,
// `max-misorder-time`: accepted, only the first two mean something) and the
// `stats` structure webrtcbin reads. Its LATENCY query answer adds nothing.
#pragma once

#include <gst/gst.h>

namespace rtcmesh::media {

struct PassthroughCounters {
  guint64 packets = 0;       // forwarded
  guint64 gaps = 0;          // sequence jumps forward by 2..max-gap
  guint64 rtx_requests = 0;  // retransmission requests sent upstream
  guint64 recovered = 0;     // requested packets that arrived afterwards
  guint64 late = 0;          // arrived behind the highest seqnum, not requested
  guint64 duplicates = 0;    // the highest seqnum again
  guint64 lost = 0;          // missing packets given up on (1 s, or too many)
};

// A new pass-through jitterbuffer (floating reference, as the signal wants).
// Its type is internal: not registered as a plugin feature.
GstElement* make_passthrough_jitterbuffer();

// Counters of a pass-through jitterbuffer (all zero for another element).
PassthroughCounters passthrough_counters(GstElement* jitterbuffer);

}  // namespace rtcmesh::media
