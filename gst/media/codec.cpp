#include "gst/media/codec.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "signaling/http/sdp.h"

namespace rtcmesh::media {

namespace {

constexpr std::array<CodecInfo, 4> kCodecs{{
    {Codec::kVP8, Kind::kVideo, "VP8", 90000, "video/x-vp8", "rtpvp8pay", "rtpvp8depay", nullptr,
     "vp8dec", "vp8enc"},
    {Codec::kVP9, Kind::kVideo, "VP9", 90000, "video/x-vp9", "rtpvp9pay", "rtpvp9depay", "vp9parse",
     "vp9dec", "vp9enc"},
    {Codec::kH264, Kind::kVideo, "H264", 90000, "video/x-h264", "rtph264pay", "rtph264depay",
     "h264parse", "avdec_h264", "x264enc"},
    {Codec::kOpus, Kind::kAudio, "OPUS", 48000, "audio/x-opus", "rtpopuspay", "rtpopusdepay",
     nullptr, "opusdec", "opusenc"},
}};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return g_ascii_tolower(x) == g_ascii_tolower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && g_ascii_isspace(s.front())) s.remove_prefix(1);
  while (!s.empty() && g_ascii_isspace(s.back())) s.remove_suffix(1);
  return s;
}

const GstStructure* first_structure(const GstCaps* caps) {
  if (!caps || gst_caps_is_empty(caps) || gst_caps_is_any(caps)) return nullptr;
  return gst_caps_get_structure(caps, 0);
}

}  // namespace

const CodecInfo& codec_info(Codec c) {
  for (const auto& info : kCodecs)
    if (info.codec == c) return info;
  throw std::invalid_argument("unknown codec");
}

const char* kind_name(Kind k) {
  return k == Kind::kVideo ? "video" : "audio";
}

std::vector<Codec> codecs_of(Kind k) {
  std::vector<Codec> out;
  for (const auto& info : kCodecs)
    if (info.kind == k) out.push_back(info.codec);
  return out;
}

std::optional<Codec> codec_from_name(std::string_view name) {
  name = trim(name);
  for (const auto& info : kCodecs)
    if (iequals(name, info.name)) return info.codec;
  return std::nullopt;
}

std::optional<Codec> codec_from_caps(const GstCaps* caps) {
  const GstStructure* s = first_structure(caps);
  if (!s) return std::nullopt;
  if (gst_structure_has_name(s, "application/x-rtp")) {
    const char* enc = gst_structure_get_string(s, "encoding-name");
    return enc ? codec_from_name(enc) : std::nullopt;
  }
  for (const auto& info : kCodecs)
    if (gst_structure_has_name(s, info.encoded_caps)) return info.codec;
  return std::nullopt;
}

std::string codec_names(Kind kind) {
  std::string names;
  for (Codec c : codecs_of(kind)) {
    std::string n = codec_info(c).name;
    for (auto& ch : n) ch = g_ascii_tolower(ch);
    names += (names.empty() ? "" : ", ") + n;
  }
  return names;
}

std::vector<Codec> parse_codec_list(std::string_view list, Kind kind) {
  std::vector<Codec> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    auto codec = codec_from_name(item);
    if (!codec || codec_info(*codec).kind != kind)
      throw std::invalid_argument("unknown " + std::string(kind_name(kind)) + " codec '" +
                                  std::string(item) + "' (expected " + codec_names(kind) + ")");
    if (std::find(out.begin(), out.end(), *codec) == out.end()) out.push_back(*codec);
  }
  return out;
}

bool is_raw(const GstCaps* caps) {
  const GstStructure* s = first_structure(caps);
  return s &&
         (gst_structure_has_name(s, "video/x-raw") || gst_structure_has_name(s, "audio/x-raw"));
}

std::optional<Kind> kind_from_caps(const GstCaps* caps) {
  const GstStructure* s = first_structure(caps);
  if (!s) return std::nullopt;
  std::string_view name = gst_structure_get_name(s);
  if (name == "application/x-rtp") {
    const char* media = gst_structure_get_string(s, "media");
    if (media && std::string_view(media) == "video") return Kind::kVideo;
    if (media && std::string_view(media) == "audio") return Kind::kAudio;
    if (auto c = codec_from_caps(caps)) return codec_info(*c).kind;
    return std::nullopt;
  }
  if (name.starts_with("video/")) return Kind::kVideo;
  if (name.starts_with("audio/")) return Kind::kAudio;
  return std::nullopt;
}

CapsPtr rtp_match_caps(Codec codec) {
  const CodecInfo& info = codec_info(codec);
  return adopt(gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING,
                                   kind_name(info.kind), "encoding-name", G_TYPE_STRING, info.name,
                                   "clock-rate", G_TYPE_INT, info.clock_rate, nullptr));
}

CapsPtr rtp_caps(Codec codec, int pt) {
  CapsPtr caps = rtp_match_caps(codec);
  GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  gst_structure_set(s, "payload", G_TYPE_INT, pt, nullptr);
  switch (codec) {
    case Codec::kOpus:
      // Chromium rejects an Opus m-line without encoding-params=2 (INTEROP).
      gst_structure_set(s, "encoding-params", G_TYPE_STRING, "2", "minptime", G_TYPE_STRING, "10",
                        "useinbandfec", G_TYPE_STRING, "1", nullptr);
      break;
    case Codec::kH264:
      gst_structure_set(s, "packetization-mode", G_TYPE_STRING, "1", "profile-level-id",
                        G_TYPE_STRING, "42e01f", "level-asymmetry-allowed", G_TYPE_STRING, "1",
                        nullptr);
      break;
    default:
      break;
  }
  if (codec_info(codec).kind == Kind::kVideo) {
    gst_structure_set(s, "rtcp-fb-nack", G_TYPE_BOOLEAN, TRUE, "rtcp-fb-nack-pli", G_TYPE_BOOLEAN,
                      TRUE, "rtcp-fb-ccm-fir", G_TYPE_BOOLEAN, TRUE, nullptr);
  }
  return caps;
}

CapsPtr sink_template_caps(Kind kind) {
  if (kind == Kind::kVideo) {
    return adopt(gst_caps_from_string(
        "video/x-raw(ANY); video/x-vp8; video/x-vp9; "
        "video/x-h264, stream-format=(string){ byte-stream, avc }, alignment=(string)au"));
  }
  return adopt(gst_caps_from_string("audio/x-raw; audio/x-opus"));
}

CapsPtr src_template_caps(Kind kind) {
  if (kind == Kind::kVideo) {
    return adopt(gst_caps_from_string(
        "application/x-rtp, media=(string)video; video/x-vp8; video/x-vp9; video/x-h264; "
        "video/x-raw(ANY)"));
  }
  return adopt(
      gst_caps_from_string("application/x-rtp, media=(string)audio; audio/x-opus; audio/x-raw"));
}

}  // namespace rtcmesh::media

namespace rtcmesh::media {

CapsPtr offered_caps(const GstSDPMedia* media, Codec codec) {
  const char* want = codec_info(codec).name;
  CapsPtr best;
  int best_score = -1;
  for (guint i = 0; i < gst_sdp_media_formats_len(media); i++) {
    int pt = atoi(gst_sdp_media_get_format(media, i));
    CapsPtr caps(gst_sdp_media_get_caps_from_media(media, pt));
    if (!caps || gst_caps_is_empty(caps.get())) continue;
    caps.reset(gst_caps_make_writable(caps.release()));
    GstStructure* s = gst_caps_get_structure(caps.get(), 0);
    gst_structure_set_name(s, "application/x-rtp");
    const char* name = gst_structure_get_string(s, "encoding-name");
    if (!name || g_ascii_strcasecmp(name, want) != 0) continue;
    int score = 0;
    if (codec == Codec::kH264) {
      const char* mode = gst_structure_get_string(s, "packetization-mode");
      const char* profile = gst_structure_get_string(s, "profile-level-id");
      if (mode && strcmp(mode, "1") == 0) score += 4;
      if (profile && g_str_has_prefix(profile, "42")) score += 1;
      if (profile && g_ascii_strncasecmp(profile, "42e0", 4) == 0) score += 1;
    }
    if (score > best_score) {
      best_score = score;
      best = std::move(caps);
    }
  }
  return best;
}

CapsPtr accepted_rtp_caps(const std::string& video_codecs, const std::string& audio_codecs) {
  GstCaps* caps = gst_caps_new_empty();
  auto add = [&](const std::string& list, Kind kind) {
    for (Codec c : parse_codec_list(list, kind)) {
      const auto& info = codec_info(c);
      gst_caps_append_structure(
          caps, gst_structure_new("application/x-rtp", "media", G_TYPE_STRING,
                                  kind == Kind::kVideo ? "video" : "audio", "encoding-name",
                                  G_TYPE_STRING, info.name, "clock-rate", G_TYPE_INT,
                                  info.clock_rate, nullptr));
    }
  };
  add(video_codecs, Kind::kVideo);
  add(audio_codecs, Kind::kAudio);
  return CapsPtr(caps);
}

CapsPtr offered_rtp_caps(const std::string& codecs, Kind kind) {
  GstCaps* caps = gst_caps_new_empty();
  int pt = kind == Kind::kVideo ? 96 : 111;
  for (Codec c : parse_codec_list(codecs, kind)) {
    gst_caps_append(caps, rtp_caps(c, pt).release());
    pt += 2;  // odd ones stay free for webrtcbin's RTX
  }
  return CapsPtr(caps);
}

CapsPtr accepted_rtp_caps(const std::string& video_codecs, const std::string& audio_codecs,
                          const std::vector<Codec>& previous, const std::string& offer) {
  std::vector<std::string> offered;
  try {
    for (const auto& m : sig::validate_offer(offer).media)
      offered.insert(offered.end(), m.codecs.begin(), m.codecs.end());
  } catch (const std::exception&) {
    // A bad offer is refused where it is applied.
  }
  auto keep = [&](const std::string& list, Kind kind) {
    std::vector<Codec> allowed = parse_codec_list(list, kind);
    for (Codec c : previous) {
      const char* name = codec_info(c).name;
      if (codec_info(c).kind == kind &&
          std::find(allowed.begin(), allowed.end(), c) != allowed.end() &&
          std::find(offered.begin(), offered.end(), name) != offered.end())
        return std::string(name);
    }
    return list;
  };
  return accepted_rtp_caps(keep(video_codecs, Kind::kVideo), keep(audio_codecs, Kind::kAudio));
}

}  // namespace rtcmesh::media
