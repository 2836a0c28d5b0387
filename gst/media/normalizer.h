// The RTP normalizer of one outgoing stream on one connection (DESIGN §8):
// webrtcbin does no payload type rewriting, and every browser numbers its
// codecs its own way, so each connection's branch rewrites the payload type of
// the shared stream and replaces its caps with the ones this connection
// negotiated (same codec, the peer's payload type and fmtp).
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

#include "gst/common/ptr.h"

namespace rtcmesh::media {

class Normalizer {
 public:
  // `negotiated`: fixed application/x-rtp caps with the connection's payload.
  Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name);
  ~Normalizer();  // stops and removes its element
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  GstPad* sink_pad() const { return sink_.get(); }
  GstPad* src_pad() const { return src_.get(); }

 private:
  GstBin* bin_;
  GstElement* element_;
  GPtr<GstPad> sink_, src_;
};

}  // namespace rtcmesh::media
