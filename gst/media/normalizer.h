// The RTP normalizer of one outgoing stream on one connection (DESIGN §8):
// webrtcbin does no payload type rewriting, and every browser numbers its
// codecs its own way, so each connection's branch rewrites the payload type of
// the shared stream and replaces its caps with the ones this connection
// negotiated (same codec, the peer's payload type and fmtp).
//
// Forwarding mode (SFU, DESIGN §8): the stream is another connection's RTP,
// forwarded without decoding, and the source behind a subscriber's slot may
// change. The normalizer then also owns the slot's RTP identity: a fixed SSRC,
// sequence numbers and timestamps that continue across source changes, and no
// header extensions (the publisher's extmap ids mean nothing on this
// connection; a forwarded sdes:mid would demux the packet to the wrong m-line).
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "gst/common/ptr.h"

namespace rtcmesh::media {

struct ForwardState;

class Normalizer {
 public:
  struct Forwarding {
    guint32 ssrc = 0;  // the slot's SSRC on this connection, fixed for its life
    // Where the first forwarded packet starts; random when unset.
    std::optional<guint16> first_seq;
    std::optional<guint32> first_timestamp;
  };

  // What went out, for stats (forwarding mode; zero in plain mode).
  struct Counters {
    guint64 packets = 0;
    guint64 bytes = 0;            // RTP bytes as sent, headers included
    guint64 source_switches = 0;  // new sources after the first
    guint64 dropped = 0;          // duplicates, or more than 64 packets late
  };

  // `negotiated`: fixed application/x-rtp caps with the connection's payload.
  Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name);
  // Forwarding mode; `negotiated` must carry `clock-rate`. The caps this
  // element sends (and answers a caps query with, so webrtcbin's offer has
  // a=ssrc before any packet flows) carry `forwarding.ssrc`.
  // Throws std::invalid_argument without clock-rate or payload.
  Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name,
             const Forwarding& forwarding);
  ~Normalizer();  // stops and removes its element
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  GstPad* sink_pad() const { return sink_.get(); }
  GstPad* src_pad() const { return src_.get(); }

  // Forwarding mode: the next packet starts a new source even if its SSRC is
  // the old one (a new SSRC is detected by itself). Any thread.
  void switch_source();
  Counters counters() const;  // any thread

 private:
  Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name,
             ForwardState* forward);  // takes `forward`

  GstBin* bin_;
  GstElement* element_;
  GPtr<GstPad> sink_, src_;
};

}  // namespace rtcmesh::media
