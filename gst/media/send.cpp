#include "gst/media/send.h"

#include <stdexcept>
#include <string>

#include "gst/common/debug.h"
#include "gst/common/ptr.h"
#include "gst/media/util.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

void EncoderSettings::set_codec(const char* property, const char* value, Kind kind) {
  bool video = kind == Kind::kVideo;
  std::string& problem = video ? video_problem : audio_problem;
  try {
    std::vector<Codec> list = parse_codec_list(value ? value : "", kind);
    if (list.size() != 1)
      throw std::invalid_argument("name exactly one " + std::string(kind_name(kind)) + " codec (" +
                                  codec_names(kind) + "), got '" + std::string(value ? value : "") +
                                  "'");
    (video ? video_codec : audio_codec) = list[0];
    problem.clear();
  } catch (const std::invalid_argument& e) {
    problem = std::string(property) + ": " + e.what();
  }
}

namespace {

constexpr guint kMtu = 1200;

GstElement* make_capsfilter(const char* caps) {
  GstElement* f = make_element("capsfilter");
  CapsPtr c = adopt(gst_caps_from_string(caps));
  g_object_set(f, "caps", c.get(), nullptr);
  return f;
}

void warn_if_not_browser_h264(const GstCaps* caps) {
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  const char* profile = gst_structure_get_string(s, "profile");
  if (profile && std::string_view(profile) != "constrained-baseline" &&
      std::string_view(profile) != "baseline") {
    GST_WARNING(
        "H.264 input has profile %s: browsers may reject it (B-frames); "
        "encode with profile=constrained-baseline",
        profile);
  }
}

}  // namespace

GstElement* make_video_encoder(Codec codec, const EncoderSettings& settings) {
  const CodecInfo& info = codec_info(codec);
  if (info.kind != Kind::kVideo)
    throw std::runtime_error(std::string(info.name) + " is not a video codec");
  GstElement* enc = make_element(info.encoder);
  switch (codec) {
    case Codec::kVP8:
    case Codec::kVP9:
      // Real time on two cores (DESIGN §6): no lag, CBR, error resilient.
      // VP8 with threads=2 busy-waits between its threads: 1280x720 cost
      // 33-100 ms of CPU a frame on this busy 2-core machine against 3 ms
      // with one thread (docs/benchmarks.md, MCU); VP9's row-mt does not spin.
      g_object_set(enc, "deadline", G_GINT64_CONSTANT(1), "cpu-used", 8, "threads",
                   codec == Codec::kVP8 ? 1 : 2, "lag-in-frames", 0, nullptr);
      set_property_string(enc, "end-usage", "cbr");
      set_property_string(enc, "error-resilient", "default");
      if (codec == Codec::kVP9) g_object_set(enc, "row-mt", TRUE, nullptr);
      if (settings.video_bitrate_kbps)
        g_object_set(enc, "target-bitrate", static_cast<gint>(settings.video_bitrate_kbps * 1000),
                     nullptr);
      if (settings.keyframe_interval)
        g_object_set(enc, "keyframe-max-dist", static_cast<gint>(settings.keyframe_interval),
                     nullptr);
      break;
    case Codec::kH264:
      set_property_string(enc, "tune", "zerolatency");
      set_property_string(enc, "speed-preset", "ultrafast");
      g_object_set(enc, "bframes", 0u, nullptr);
      if (settings.video_bitrate_kbps)
        g_object_set(enc, "bitrate", settings.video_bitrate_kbps, nullptr);
      if (settings.keyframe_interval)
        g_object_set(enc, "key-int-max", settings.keyframe_interval, nullptr);
      break;
    case Codec::kOpus:
      break;
  }
  return enc;
}

GstElement* make_parser(Codec codec) {
  const CodecInfo& info = codec_info(codec);
  if (!info.parser) return nullptr;
  GstElement* parser = make_element(info.parser);
  if (codec == Codec::kH264) g_object_set(parser, "config-interval", -1, nullptr);
  return parser;
}

GstElement* make_payloader(Codec codec, int pt) {
  const CodecInfo& info = codec_info(codec);
  GstElement* pay = make_element(info.payloader);
  g_object_set(pay, "pt", static_cast<guint>(pt), "mtu", kMtu, nullptr);
  switch (codec) {
    case Codec::kVP8:
    case Codec::kVP9:
      set_property_string(pay, "picture-id-mode", "15-bit");
      break;
    case Codec::kH264:
      // SPS/PPS with every IDR come from h264parse config-interval=-1 ahead of
      // us, once per access unit. rtph264pay's own config-interval=-1 repeats
      // them before every slice of a multi-slice IDR (x264 sliced threads,
      // which zerolatency turns on), and receivers then split the keyframe in
      // two access units (seen with 1.22's rtph264depay and h264parse).
      g_object_set(pay, "config-interval", 0, nullptr);
      set_property_string(pay, "aggregate-mode", "zero-latency");
      break;
    case Codec::kOpus:
      break;
  }
  return pay;
}

SendChain build_send_chain(GstBin* bin, const GstCaps* input_caps, const EncoderSettings& settings,
                           int pt) {
  if (!input_caps || gst_caps_is_empty(input_caps) || gst_caps_is_any(input_caps))
    throw std::runtime_error("send chain needs concrete input caps, got " +
                             caps_to_string(input_caps));
  if (pt < 0 || pt > 127)
    throw std::runtime_error("RTP payload type " + std::to_string(pt) + " is out of range 0-127");

  SendChain chain;
  FloatingElements pending;
  const bool raw = is_raw(input_caps);
  std::optional<Kind> kind = kind_from_caps(input_caps);

  if (raw) {
    chain.codec = *kind == Kind::kVideo ? settings.video_codec : settings.audio_codec;
    const CodecInfo& info = codec_info(chain.codec);
    if (info.kind != *kind)
      throw std::runtime_error(std::string(info.name) + " cannot encode " + kind_name(*kind));
    if (*kind == Kind::kVideo) {
      pending.add(make_element("videoconvert"));
      // 4:2:0 8-bit: what browsers decode for every codec (VP9 profile 0,
      // H.264 constrained baseline).
      pending.add(make_capsfilter("video/x-raw, format=(string)I420"));
      chain.encoder = make_video_encoder(chain.codec, settings);
      pending.add(chain.encoder);
      if (chain.codec == Codec::kH264)
        pending.add(make_capsfilter("video/x-h264, profile=(string)constrained-baseline"));
    } else {
      pending.add(make_element("audioconvert"));
      pending.add(make_element("audioresample"));
      // More than two channels would become MULTIOPUS, which browsers refuse.
      pending.add(make_capsfilter("audio/x-raw, channels=(int)[ 1, 2 ]"));
      chain.encoder = make_element(info.encoder);
      set_property_string(chain.encoder, "inband-fec", "true");
      pending.add(chain.encoder);
    }
  } else {
    auto codec = codec_from_caps(input_caps);
    if (!codec ||
        gst_structure_has_name(gst_caps_get_structure(input_caps, 0), "application/x-rtp"))
      throw std::runtime_error("unsupported input caps " + caps_to_string(input_caps) +
                               " (expected raw, VP8, VP9, H.264 or Opus)");
    chain.codec = *codec;
    chain.encoded_input = true;
    if (chain.codec == Codec::kH264) warn_if_not_browser_h264(input_caps);
    int channels = 0;
    if (chain.codec == Codec::kOpus &&
        gst_structure_get_int(gst_caps_get_structure(input_caps, 0), "channels", &channels) &&
        channels > 2) {
      throw std::runtime_error("Opus input has " + std::to_string(channels) +
                               " channels and would go out as MULTIOPUS, which browsers refuse: "
                               "encode at most 2 channels");
    }
  }

  const CodecInfo& info = codec_info(chain.codec);
  if (GstElement* parser = make_parser(chain.codec)) pending.add(parser);
  pending.add(make_payloader(chain.codec, pt));

  std::vector<GstElement*> elements = pending.release();
  add_and_link(bin, elements);
  chain.elements = elements;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(elements.front(), "sink"));
  GPtr<GstPad> src = adopt(gst_element_get_static_pad(elements.back(), "src"));
  chain.sink = sink.get();
  chain.src = src.get();

  try {
    if (gst_caps_is_fixed(input_caps) &&
        !gst_pad_query_accept_caps(chain.sink, const_cast<GstCaps*>(input_caps)))
      throw std::runtime_error("send chain for " + std::string(info.name) + " refuses " +
                               caps_to_string(input_caps));
    sync_with_parent(elements);
  } catch (...) {
    remove_elements(bin, elements);
    throw;
  }
  GST_INFO_OBJECT(bin, "send chain %s%s pt %d for %" GST_PTR_FORMAT, info.name,
                  chain.encoded_input ? " (pre-encoded)" : "", pt, input_caps);
  return chain;
}

void remove_send_chain(GstBin* bin, SendChain& chain) {
  remove_elements(bin, chain.elements);
  chain = SendChain{};
}

}  // namespace rtcmesh::media
