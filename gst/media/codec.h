// The codec table: which elements encode, payload, depayload, parse and decode
// each codec we negotiate, and the caps webrtcbin and our pads use for them.
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gst/common/ptr.h"

namespace rtcmesh::media {

enum class Codec { kVP8, kVP9, kH264, kOpus };
enum class Kind { kVideo, kAudio };

struct CodecInfo {
  Codec codec;
  Kind kind;
  const char* name;  // RTP encoding-name: "VP8", "VP9", "H264", "OPUS"
  int clock_rate;
  const char* encoded_caps;  // "video/x-vp8"
  const char* payloader;
  const char* depayloader;
  const char* parser;  // nullptr if none
  const char* decoder;
  const char* encoder;
};

const CodecInfo& codec_info(Codec);
const char* kind_name(Kind);  // "video", "audio"
// All codecs of a kind, in our order of preference.
std::vector<Codec> codecs_of(Kind);
std::string codec_names(Kind);  // "vp8, vp9, h264": what properties accept

// Case-insensitive "vp8", "VP9", "h264", "opus".
std::optional<Codec> codec_from_name(std::string_view);
// Encoded caps (video/x-vp8, audio/x-opus…) or RTP caps (by encoding-name).
std::optional<Codec> codec_from_caps(const GstCaps*);
// "vp8, h264" → {kVP8, kH264}. Blanks are ignored, duplicates kept once, an
// empty list gives an empty vector. Throws std::invalid_argument
// ("unknown video codec 'xyz' (expected vp8, vp9, h264)") for a name that is
// not a codec of that kind.
std::vector<Codec> parse_codec_list(std::string_view list, Kind);

// video/x-raw or audio/x-raw, whatever the caps features.
bool is_raw(const GstCaps*);
// The kind of raw, encoded or RTP caps (by media=), if any.
std::optional<Kind> kind_from_caps(const GstCaps*);

// Caps for a transceiver's codec-preferences / webrtcbin: application/x-rtp,
// media, encoding-name, clock-rate, payload=pt, plus the fmtp browsers need
// (Opus encoding-params=2 …, H264 packetization-mode=1 …, video rtcp-fb).
CapsPtr rtp_caps(Codec, int pt);
// application/x-rtp, media, encoding-name, clock-rate only: what any stream of
// this codec matches whatever its payload type and fmtp.
CapsPtr rtp_match_caps(Codec);
// Sink pad template caps for request pads taking raw or encoded input.
CapsPtr sink_template_caps(Kind);
// Src pad template caps for pads that output a received track in any form
// (RTP, encoded or raw, see output.h).
CapsPtr src_template_caps(Kind);


// The remote offer's caps (payload type, fmtp, rtcp-fb) for `codec` in one
// m-line, or null when it does not offer it. For H.264 the best payload type
// for a constrained-baseline stream wins: packetization-mode=1, then a 42e0
// or 42xx profile-level-id.
CapsPtr offered_caps(const GstSDPMedia* media, Codec codec);

// Codec preferences for answers: one structure (media, encoding-name,
// clock-rate) per codec of the comma-separated lists. Throws on a bad name.
CapsPtr accepted_rtp_caps(const std::string& video_codecs, const std::string& audio_codecs);
// Codec preferences for offering to receive one track of `kind`: rtp_caps
// (payload type, fmtp, rtcp-fb) of every codec of the comma-separated list,
// in order. Empty caps for an empty list; throws on a bad name.
CapsPtr offered_rtp_caps(const std::string& codecs, Kind kind);

// accepted_rtp_caps for the offer of a publisher that comes back under a name
// whose pads carry `previous` (docs/architecture.md, Publishers that come
// back): per kind, only the first codec of `previous` that the list allows
// and the offer has, so media continues on the same pads with the same caps;
// otherwise the whole list.
CapsPtr accepted_rtp_caps(const std::string& video_codecs, const std::string& audio_codecs,
                          const std::vector<Codec>& previous, const std::string& offer);

}  // namespace rtcmesh::media
