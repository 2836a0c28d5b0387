// A publisher's track as a room host receives it (DESIGN §8): its RTP fanned
// out once, never decoded here. Whatever a room's mode does with a track (the
// SFU forwards it to subscriber slots, an MCU would decode it) attaches a
// branch to its FanOut. Worker thread unless said.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <string>

#include "gst/common/ptr.h"
#include "gst/media/codec.h"
#include "gst/media/fanout.h"

namespace rtcmesh::server {

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
  // Links the publisher connection's webrtcbin src pad (any thread, once),
  // or a native ingress's appsrc pad (tagged with engine_track_quark()).
  bool link_input(GstPad* webrtc_src);
  // The native engine's track that already carries this track's packets
  // (a publisher received by the engine: subscribers of the engine take
  // them there, not from the tee), or 0. Any thread.
  guint64 engine_track() const { return engine_track_; }
  // The pad qdata (a guint64*) naming the engine track a pad's packets come from.
  static GQuark engine_track_quark();
  bool linked() const;
  // The publisher's connection outlives this track (it also carries other
  // things: a POST /rtc connection): its webrtcbin src pad is unlinked and
  // drops what comes, since an unlinked webrtcbin pad stops the transport.
  void park_input();
  // RTP caps for a subscriber slot: this track's codec and fmtp, payload
  // type `pt` (the slot adds its SSRC).
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
  std::atomic<guint64> engine_track_{0};
  std::unique_ptr<media::FanOut> owned_;
  media::FanOut* fanout_ = nullptr;
};

}  // namespace rtcmesh::server
