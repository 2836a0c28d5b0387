// The codec table and caps helpers.
#include <gtest/gtest.h>

#include <stdexcept>

#include "gst/media/codec.h"
#include "gst/media/output.h"

namespace rtcmesh::media {
namespace {

CapsPtr caps(const char* s) {
  return adopt(gst_caps_from_string(s));
}

TEST(Codec, TableNamesAndElements) {
  EXPECT_STREQ(codec_info(Codec::kVP8).name, "VP8");
  EXPECT_STREQ(codec_info(Codec::kVP9).name, "VP9");
  EXPECT_STREQ(codec_info(Codec::kH264).name, "H264");
  EXPECT_STREQ(codec_info(Codec::kOpus).name, "OPUS");
  EXPECT_EQ(codec_info(Codec::kOpus).clock_rate, 48000);
  EXPECT_EQ(codec_info(Codec::kH264).clock_rate, 90000);
  EXPECT_EQ(codec_info(Codec::kOpus).kind, Kind::kAudio);
  EXPECT_STREQ(codec_info(Codec::kH264).parser, "h264parse");
  EXPECT_EQ(codec_info(Codec::kVP8).parser, nullptr);
  // Every element the table names is installed here.
  for (Codec c : {Codec::kVP8, Codec::kVP9, Codec::kH264, Codec::kOpus}) {
    const CodecInfo& i = codec_info(c);
    for (const char* f : {i.payloader, i.depayloader, i.parser, i.decoder, i.encoder}) {
      if (!f) continue;
      GPtr<GstElementFactory> factory = adopt(gst_element_factory_find(f));
      EXPECT_TRUE(factory) << f;
    }
  }
}

TEST(Codec, FromName) {
  EXPECT_EQ(codec_from_name("vp8"), Codec::kVP8);
  EXPECT_EQ(codec_from_name("Vp9"), Codec::kVP9);
  EXPECT_EQ(codec_from_name("H264"), Codec::kH264);
  EXPECT_EQ(codec_from_name("h264"), Codec::kH264);
  EXPECT_EQ(codec_from_name("opus"), Codec::kOpus);
  EXPECT_EQ(codec_from_name(" OPUS "), Codec::kOpus);
  EXPECT_EQ(codec_from_name("av1"), std::nullopt);
  EXPECT_EQ(codec_from_name(""), std::nullopt);
  EXPECT_EQ(codec_from_name("vp"), std::nullopt);
}

TEST(Codec, FromCaps) {
  EXPECT_EQ(codec_from_caps(caps("video/x-vp8").get()), Codec::kVP8);
  EXPECT_EQ(codec_from_caps(caps("video/x-h264, stream-format=avc").get()), Codec::kH264);
  EXPECT_EQ(codec_from_caps(caps("audio/x-opus, channels=2").get()), Codec::kOpus);
  EXPECT_EQ(codec_from_caps(caps("application/x-rtp, media=video, encoding-name=VP9").get()),
            Codec::kVP9);
  EXPECT_EQ(codec_from_caps(caps("application/x-rtp, encoding-name=(string)opus").get()),
            Codec::kOpus);
  EXPECT_EQ(codec_from_caps(caps("application/x-rtp, encoding-name=AV1").get()), std::nullopt);
  EXPECT_EQ(codec_from_caps(caps("application/x-rtp").get()), std::nullopt);
  EXPECT_EQ(codec_from_caps(caps("video/x-raw").get()), std::nullopt);
  EXPECT_EQ(codec_from_caps(nullptr), std::nullopt);
  EXPECT_EQ(codec_from_caps(caps("ANY").get()), std::nullopt);
}

TEST(Codec, ParseCodecList) {
  EXPECT_EQ(parse_codec_list("vp8,h264", Kind::kVideo),
            (std::vector<Codec>{Codec::kVP8, Codec::kH264}));
  EXPECT_EQ(parse_codec_list(" H264 , vp9,,vp8, h264", Kind::kVideo),
            (std::vector<Codec>{Codec::kH264, Codec::kVP9, Codec::kVP8}));
  EXPECT_EQ(parse_codec_list("opus", Kind::kAudio), std::vector<Codec>{Codec::kOpus});
  EXPECT_TRUE(parse_codec_list("", Kind::kVideo).empty());
}

TEST(Codec, ParseCodecListErrors) {
  try {
    parse_codec_list("vp8,xyz", Kind::kVideo);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown video codec 'xyz'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("vp8, vp9, h264"), std::string::npos) << e.what();
  }
  // The right name of the wrong kind is an error too.
  EXPECT_THROW(parse_codec_list("opus", Kind::kVideo), std::invalid_argument);
  try {
    parse_codec_list("vp8", Kind::kAudio);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown audio codec 'vp8'"), std::string::npos)
        << e.what();
  }
}

TEST(Codec, IsRawAndKind) {
  EXPECT_TRUE(is_raw(caps("video/x-raw, format=I420").get()));
  EXPECT_TRUE(is_raw(caps("video/x-raw(memory:GLMemory)").get()));
  EXPECT_TRUE(is_raw(caps("audio/x-raw").get()));
  EXPECT_FALSE(is_raw(caps("video/x-vp8").get()));
  EXPECT_FALSE(is_raw(caps("ANY").get()));
  EXPECT_FALSE(is_raw(nullptr));
  EXPECT_EQ(kind_from_caps(caps("video/x-h264").get()), Kind::kVideo);
  EXPECT_EQ(kind_from_caps(caps("audio/x-raw").get()), Kind::kAudio);
  EXPECT_EQ(kind_from_caps(caps("application/x-rtp, media=audio").get()), Kind::kAudio);
}

TEST(Codec, RtpCapsOpus) {
  CapsPtr c = rtp_caps(Codec::kOpus, 111);
  const GstStructure* s = gst_caps_get_structure(c.get(), 0);
  EXPECT_TRUE(gst_structure_has_name(s, "application/x-rtp"));
  EXPECT_STREQ(gst_structure_get_string(s, "media"), "audio");
  EXPECT_STREQ(gst_structure_get_string(s, "encoding-name"), "OPUS");
  int v = 0;
  EXPECT_TRUE(gst_structure_get_int(s, "clock-rate", &v));
  EXPECT_EQ(v, 48000);
  EXPECT_TRUE(gst_structure_get_int(s, "payload", &v));
  EXPECT_EQ(v, 111);
  // A string, as Chromium needs it (INTEROP).
  EXPECT_STREQ(gst_structure_get_string(s, "encoding-params"), "2");
  EXPECT_STREQ(gst_structure_get_string(s, "useinbandfec"), "1");
  EXPECT_STREQ(gst_structure_get_string(s, "minptime"), "10");
  EXPECT_FALSE(gst_structure_has_field(s, "rtcp-fb-nack"));
}

TEST(Codec, RtpCapsVideo) {
  CapsPtr c = rtp_caps(Codec::kH264, 102);
  const GstStructure* s = gst_caps_get_structure(c.get(), 0);
  EXPECT_STREQ(gst_structure_get_string(s, "media"), "video");
  EXPECT_STREQ(gst_structure_get_string(s, "encoding-name"), "H264");
  EXPECT_STREQ(gst_structure_get_string(s, "packetization-mode"), "1");
  EXPECT_STREQ(gst_structure_get_string(s, "profile-level-id"), "42e01f");
  EXPECT_STREQ(gst_structure_get_string(s, "level-asymmetry-allowed"), "1");
  gboolean b = FALSE;
  for (const char* f : {"rtcp-fb-nack", "rtcp-fb-nack-pli", "rtcp-fb-ccm-fir"}) {
    EXPECT_TRUE(gst_structure_get_boolean(s, f, &b)) << f;
    EXPECT_TRUE(b) << f;
  }
  CapsPtr vp8 = rtp_caps(Codec::kVP8, 96);
  s = gst_caps_get_structure(vp8.get(), 0);
  EXPECT_STREQ(gst_structure_get_string(s, "encoding-name"), "VP8");
  EXPECT_FALSE(gst_structure_has_field(s, "packetization-mode"));
  // What the payloader produces matches these caps (so webrtcbin's
  // codec-preferences and the stream agree).
  CapsPtr produced = caps(
      "application/x-rtp, media=(string)video, clock-rate=(int)90000, "
      "encoding-name=(string)VP8, payload=(int)96, ssrc=(uint)1");
  EXPECT_TRUE(gst_caps_can_intersect(produced.get(), vp8.get()));
}

TEST(Codec, TemplateCaps) {
  CapsPtr video = sink_template_caps(Kind::kVideo);
  EXPECT_TRUE(gst_caps_can_intersect(
      video.get(), caps("video/x-h264, stream-format=avc, alignment=au, profile=high").get()));
  EXPECT_TRUE(gst_caps_can_intersect(
      video.get(), caps("video/x-h264, stream-format=byte-stream, alignment=au").get()));
  EXPECT_FALSE(gst_caps_can_intersect(
      video.get(), caps("video/x-h264, stream-format=byte-stream, alignment=nal").get()));
  EXPECT_TRUE(gst_caps_can_intersect(video.get(), caps("video/x-raw(memory:GLMemory)").get()));
  EXPECT_TRUE(gst_caps_can_intersect(video.get(), caps("video/x-vp9").get()));
  EXPECT_FALSE(gst_caps_can_intersect(video.get(), caps("audio/x-raw").get()));
  CapsPtr audio = sink_template_caps(Kind::kAudio);
  EXPECT_TRUE(gst_caps_can_intersect(audio.get(), caps("audio/x-opus").get()));
  EXPECT_TRUE(gst_caps_can_intersect(audio.get(), caps("audio/x-raw, rate=44100").get()));
  EXPECT_FALSE(gst_caps_can_intersect(audio.get(), caps("video/x-raw").get()));
  CapsPtr out = src_template_caps(Kind::kVideo);
  EXPECT_TRUE(gst_caps_can_intersect(out.get(), rtp_caps(Codec::kVP8, 96).get()));
  EXPECT_TRUE(gst_caps_can_intersect(out.get(), caps("video/x-raw, format=I420").get()));
}

TEST(Codec, OutputModeNames) {
  EXPECT_EQ(output_mode_from_name("auto"), OutputMode::kAuto);
  EXPECT_EQ(output_mode_from_name("RAW"), OutputMode::kRaw);
  EXPECT_EQ(output_mode_from_name("encoded"), OutputMode::kEncoded);
  EXPECT_EQ(output_mode_from_name("rtp"), OutputMode::kRtp);
  EXPECT_EQ(output_mode_from_name("r"), std::nullopt);
  EXPECT_EQ(output_mode_from_name("rtpx"), std::nullopt);
  GType t = output_mode_get_type();
  EXPECT_TRUE(G_TYPE_IS_ENUM(t));
  EXPECT_STREQ(g_type_name(t), "RtcOutputMode");
  GEnumClass* klass = static_cast<GEnumClass*>(g_type_class_ref(t));
  for (const char* nick : {"auto", "raw", "encoded", "rtp"}) {
    GEnumValue* v = g_enum_get_value_by_nick(klass, nick);
    ASSERT_NE(v, nullptr) << nick;
    EXPECT_EQ(output_mode_from_name(nick), static_cast<OutputMode>(v->value));
  }
  g_type_class_unref(klass);
}

}  // namespace
}  // namespace rtcmesh::media
