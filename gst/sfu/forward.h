// The SFU's media graph (DESIGN §8, "SFU forward"): a publisher's track is a
// Source (its RTP fanned out once, never decoded); a subscriber connection is
// a Subscription whose m-lines (slots) are each fed by at most one Source
// through the connection's own normalizer (payload type, SSRC, sequence and
// timestamp of that slot). All on the host's worker thread unless said.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gst/common/ptr.h"
#include "gst/media/codec.h"
#include "gst/media/fanout.h"
#include "gst/media/normalizer.h"
#include "gst/peer/peer.h"

namespace rtcmesh::sfu {

// One track of one publisher inside the element.
class Source {
 public:
  // A remote publisher's track: an entry element that the publisher
  // connection's webrtcbin src pad is linked to once it appears. `caps`: the
  // negotiated RTP caps of the track (fmtp kept for subscribers). `room`
  // only names its elements (one publisher name may be live in two rooms).
  Source(GstBin* bin, const std::string& room, std::string publisher, std::string track,
         media::Codec codec, const GstCaps* caps);
  // A local publisher's track: the fan-out of a request sink pad.
  Source(std::string publisher, std::string track, media::Codec codec, const GstCaps* caps,
         media::FanOut* fanout);
  // Stop what feeds the entry (the publisher's webrtcbin) first.
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const std::string& publisher() const { return publisher_; }
  const std::string& track() const { return track_; }
  media::Codec codec() const { return codec_; }
  media::Kind kind() const { return media::codec_info(codec_).kind; }
  media::FanOut& fanout() { return *fanout_; }
  // Links the publisher connection's webrtcbin src pad (any thread, once).
  bool link_input(GstPad* webrtc_src);
  bool linked() const;
  // RTP caps for a subscriber slot: this track's codec and fmtp, our payload
  // type (the slot adds its SSRC).
  CapsPtr slot_caps(int pt) const;
  // A keyframe from the publisher (its connection turns it into a PLI),
  // merged and rate-limited with every other request.
  void request_keyframe() { fanout_->request_keyframe(); }

 private:
  std::string publisher_, track_;
  media::Codec codec_;
  CapsPtr caps_;
  GstBin* bin_ = nullptr;
  GstElement* entry_ = nullptr;  // remote only
  std::unique_ptr<media::FanOut> owned_;
  media::FanOut* fanout_ = nullptr;
};

// One subscriber connection whose sending m-lines are slots.
class Subscription {
 public:
  Subscription(GstBin* bin, std::unique_ptr<peer::Peer> peer) : bin_(bin), peer_(std::move(peer)) {}
  // Stops the connection, then takes its branches off the sources.
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  peer::Peer& peer() { return *peer_; }
  size_t size() const { return slots_.size(); }
  // Appends an m-line sending `codec` (with `caps` as its RTP caps when given,
  // else ours for that codec), fed by `source` or by nothing yet.
  void add_slot(media::Codec codec, Source* source, const GstCaps* caps = nullptr);
  // Makes slot `index` carry `source` (nullptr: nothing; `inactive` also sets
  // the m-line inactive in the next offer).
  void set_source(size_t index, Source* source, bool inactive);
  Source* source(size_t index) const { return slots_.at(index).source; }
  media::Codec codec(size_t index) const { return slots_.at(index).codec; }
  // Every slot fed by `source` stops being fed (the publisher left).
  void drop_source(Source* source);
  // Keyframes for every fed video slot (on connect, on a new source).
  void request_keyframes();

 private:
  struct Slot {
    media::Codec codec;
    GstPad* sink = nullptr;  // webrtcbin's, owned by it
    std::unique_ptr<media::Normalizer> normalizer;
    Source* source = nullptr;
    int branch = -1;
  };
  void attach(Slot& slot, Source* source);
  void detach(Slot& slot);
  GstBin* bin_;
  std::unique_ptr<peer::Peer> peer_;
  std::vector<Slot> slots_;
};

// The payload type every connection uses for a codec (one per codec, so
// bundled m-lines of one codec agree).
int payload_type(media::Codec codec);

}  // namespace rtcmesh::sfu
