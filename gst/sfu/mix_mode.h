// What rtcmcu (gst/mcu/) asks of the rtcsfu inside it. Not properties: only
// rtcmcu sets them, before READY→PAUSED (the audience also while running).
#pragma once

#include <gst/gst.h>

#include <functional>
#include <string>

#include "gst/media/send.h"

namespace rtcmesh::sfu {

struct MixMode {
  // The composite and mixes (the inner rtcsfu's request pads) publish under
  // this id; subscribers and WHEP players receive only them (an MCU room).
  std::string output_publisher;
  // A processing room: no composite; each participant's processed tracks
  // (audience: that participant) are its output, also to WHEP players of
  // /whep/<room>/<participant>.
  bool process = false;
  media::EncoderSettings encoder;  // of the composite and the mixes
  // A video track of the output (a request pad's name: one codec of the
  // composite) is received by someone now (true: its first subscriber slot,
  // after which that encoder is asked for a keyframe) or by no one (false:
  // its last slot went, or it was encoded once and nobody takes it). Host's
  // worker thread.
  std::function<void(const std::string& track, bool wanted)> demand;
  // JSON-RPC `layout` (checked names): "" or why not. Host's worker thread.
  std::function<std::string(const std::string& layout, const std::string& pinned)> layout;
};

// Remote publishers are then decoded (webrtcbin's jitterbuffer, raw src
// pads that get EOS and go when they leave) for rtcmcu to mix.
void set_mix_mode(GstElement* sfu, const MixMode& mode);
// The local track `track` (a request pad's name) goes to `peer` only
// (its minus-one mix); empty peer: shared again.
void set_track_audience(GstElement* sfu, const std::string& track, const std::string& peer);

// `peer` publishes into `room` over WHIP (it cannot subscribe as itself: it
// needs no minus-one mix). Any thread.
bool is_whip_publisher(GstElement* sfu, const std::string& room, const std::string& peer);

}  // namespace rtcmesh::sfu
