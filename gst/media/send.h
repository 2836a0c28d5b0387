// Send chains: raw or encoded input → RTP, built once the input caps are known.
#pragma once

#include <gst/gst.h>

#include <map>
#include <string>
#include <vector>

#include "gst/media/codec.h"

namespace rtcmesh::media {

struct EncoderSettings {
  Codec video_codec = Codec::kVP8;
  Codec audio_codec = Codec::kOpus;
  unsigned video_bitrate_kbps = 2000;  // 0: encoder default
  unsigned keyframe_interval = 60;     // frames; 0: encoder default
  // Raw video waiting for its encoder beyond this is dropped, oldest first
  // (a live source never waits on a slow encoder; the MCU keeps it to a few
  // frames so a late composite is dropped, not delayed).
  guint64 video_queue_ns = GST_SECOND;
  // Request pads (by name) whose raw video is encoded in another codec than
  // video_codec (the MCU: the composite once per codec subscribers take).
  std::map<std::string, Codec> video_codec_of;

  // The video-codec / audio-codec property: `value` must name one codec of
  // `kind`. A refused value leaves the codec as it was and is kept, so that
  // the next state change fails with it (the element would otherwise send
  // its default codec in silence).
  void set_codec(const char* property, const char* value, Kind kind);
  // "" or what is wrong with a codec property, naming the valid values.
  std::string codec_problem() const {
    return video_problem.empty() ? audio_problem : video_problem;
  }

 private:
  std::string video_problem, audio_problem;
};

struct SendChain {
  GstPad* sink = nullptr;  // borrowed; owned by their elements in the bin
  GstPad* src = nullptr;   // the payloader's src pad (application/x-rtp)
  Codec codec = Codec::kVP8;
  bool encoded_input = false;
  GstElement* encoder = nullptr;      // nullptr for encoded input
  std::vector<GstElement*> elements;  // upstream first
};

// Builds inside `bin` (elements synced to the bin's state) the chain that turns
// input_caps into RTP with payload type pt:
//   raw video:  videoconvert ! I420 ! encoder (real-time preset) ! [parser] ! payloader
//   raw audio:  audioconvert ! audioresample ! 1–2 channels ! opusenc ! rtpopuspay
//   encoded:    [parser] ! payloader   (codec taken from the caps, never re-encoded)
// Presets are DESIGN §6; payloaders use mtu=1200. Throws std::runtime_error
// naming the missing element or the caps problem; on error `bin` is unchanged.
// Safe from a streaming thread (e.g. a CAPS event probe), not from the thread of
// an element of the chain itself.
SendChain build_send_chain(GstBin* bin, const GstCaps* input_caps, const EncoderSettings&, int pt);

// Sets the chain's elements to NULL and removes them; the caller unlinks or
// blocks what feeds chain.sink first. Leaves `chain` empty.
void remove_send_chain(GstBin* bin, SendChain& chain);

// The presets, for callers that build their own encoders (e.g. the MCU).
GstElement* make_video_encoder(Codec codec, const EncoderSettings& settings);
// The codec's parser with our settings (h264parse config-interval=-1), or
// nullptr when the codec has none.
GstElement* make_parser(Codec codec);
// mtu=1200, pt; VP8/VP9 picture-id-mode=15-bit; H.264 aggregate-mode=
// zero-latency and no SPS/PPS insertion of its own: put make_parser(kH264)
// ahead of it, which inserts them once per IDR.
GstElement* make_payloader(Codec codec, int pt);

}  // namespace rtcmesh::media
