// Send chain → fan-out → output branch, with real encoders, payloaders,
// depayloaders and decoders (no webrtcbin): every codec, every output form.
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <memory>

#include "gst/media/fanout.h"
#include "gst/media/output.h"
#include "gst/media/send.h"
#include "tests/media/media_fixture.h"

namespace rtcmesh::media::test {
namespace {

using namespace std::chrono_literals;

struct Expect {
  std::string name;   // structure name
  std::string field;  // one field to check ("" for none)
  std::string value;
};

struct FlowCase {
  const char* label;
  Codec codec;
  OutputMode want;        // the form we expect to be built
  const char* sink_caps;  // what the downstream peer accepts
  Expect expect;
  int width = 0;  // for raw video: 320
};

std::string structure_string(const GstStructure* s, const std::string& field) {
  if (const char* v = gst_structure_get_string(s, field.c_str())) return v;
  int i = 0;
  if (gst_structure_get_int(s, field.c_str(), &i)) return std::to_string(i);
  return "";
}

class FlowBase : public MediaTest {
 protected:
  // Builds source → send chain → fan-out → output branch → appsink, the
  // output linked before PLAYING (as gst-launch does).
  void build(const FlowCase& c, EncoderSettings settings = {}) {
    bool video = codec_info(c.codec).kind == Kind::kVideo;
    GstPad* src = video ? add_video_source() : add_audio_source();
    CapsPtr input =
        adopt(gst_caps_from_string(video ? "video/x-raw, width=320, height=240, framerate=15/1"
                                         : "audio/x-raw, rate=48000, channels=2"));
    if (video) settings.video_codec = c.codec;
    chain_ = build_send_chain(bin_, input.get(), settings, video ? 96 : 111);
    ASSERT_EQ(gst_pad_link(src, chain_.sink), GST_PAD_LINK_OK);
    fan_ = std::make_unique<FanOut>(bin_, chain_.src, "fan");
    templ_ = adopt(src_template(video ? "video_%u" : "audio_%u", video));
    out_ =
        std::make_unique<OutputBranch>(bin_, c.codec, OutputMode::kAuto,
                                       video ? "video_0" : "audio_0", templ_.get(), "peer1/track0");
    fan_->attach(out_->sink_pad());
    ASSERT_TRUE(gst_element_add_pad(GST_ELEMENT(bin_), out_->src_pad()));
    gst_element_no_more_pads(GST_ELEMENT(bin_));
    sink_ = std::make_unique<CountingSink>(c.sink_caps);
    gst_bin_add(GST_BIN(pipeline_), sink_->element());
    ASSERT_EQ(gst_pad_link(out_->src_pad(), sink_->pad()), GST_PAD_LINK_OK);
  }

  void TearDown() override {
    stop();
    if (out_) out_->remove_from(GST_ELEMENT(bin_));
    out_.reset();
    fan_.reset();
    MediaTest::TearDown();
  }

  SendChain chain_;
  std::unique_ptr<FanOut> fan_;
  GPtr<GstPadTemplate> templ_;
  std::unique_ptr<OutputBranch> out_;
  std::unique_ptr<CountingSink> sink_;
};

class FlowTest : public FlowBase, public ::testing::WithParamInterface<FlowCase> {};

TEST_P(FlowTest, MediaArrivesInTheForm) {
  const FlowCase& c = GetParam();
  build(c);
  ASSERT_EQ(out_->form(), c.want);
  play();
  ASSERT_TRUE(run_until([&] { return sink_->frames() >= 8 || !errors_.empty(); }, 15s))
      << "frames " << sink_->frames() << "\n"
      << errors_text();
  EXPECT_TRUE(errors_.empty()) << errors_text();
  EXPECT_TRUE(warnings_.empty()) << errors_text();
  CapsPtr caps = sink_->caps();
  ASSERT_TRUE(caps);
  const GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  EXPECT_TRUE(gst_structure_has_name(s, c.expect.name.c_str())) << sink_->caps_string();
  if (!c.expect.field.empty()) {
    EXPECT_EQ(structure_string(s, c.expect.field), c.expect.value) << sink_->caps_string();
  }
  if (c.width) {
    EXPECT_EQ(structure_string(s, "width"), std::to_string(c.width)) << sink_->caps_string();
    EXPECT_EQ(structure_string(s, "height"), "240") << sink_->caps_string();
  }
  if (c.want == OutputMode::kEncoded && codec_info(c.codec).kind == Kind::kVideo) {
    EXPECT_TRUE(sink_->first_was_keyframe()) << "encoded output must start on a keyframe";
    // One buffer per frame: access units are whole (keyframes included).
    EXPECT_EQ(sink_->samples(), sink_->frames());
  }
  // The stream-start carries our stream id.
  GPtr<GstPad> pad = retain(sink_->pad());
  GstEvent* ss = gst_pad_get_sticky_event(pad.get(), GST_EVENT_STREAM_START, 0);
  ASSERT_NE(ss, nullptr);
  const char* id = nullptr;
  gst_event_parse_stream_start(ss, &id);
  EXPECT_STREQ(id, "peer1/track0");
  gst_event_unref(ss);
}

const FlowCase kCases[] = {
    {"vp8_raw",
     Codec::kVP8,
     OutputMode::kRaw,
     "video/x-raw",
     {"video/x-raw", "format", "I420"},
     320},
    {"vp8_encoded", Codec::kVP8, OutputMode::kEncoded, "video/x-vp8", {"video/x-vp8", "", ""}},
    {"vp8_rtp",
     Codec::kVP8,
     OutputMode::kRtp,
     "application/x-rtp",
     {"application/x-rtp", "encoding-name", "VP8"}},
    {"vp9_raw",
     Codec::kVP9,
     OutputMode::kRaw,
     "video/x-raw, format=RGB",
     {"video/x-raw", "format", "RGB"},
     320},
    {"vp9_encoded", Codec::kVP9, OutputMode::kEncoded, "video/x-vp9", {"video/x-vp9", "", ""}},
    {"vp9_rtp",
     Codec::kVP9,
     OutputMode::kRtp,
     "application/x-rtp",
     {"application/x-rtp", "encoding-name", "VP9"}},
    {"h264_raw", Codec::kH264, OutputMode::kRaw, "video/x-raw", {"video/x-raw", "", ""}, 320},
    {"h264_encoded_avc",
     Codec::kH264,
     OutputMode::kEncoded,
     "video/x-h264, stream-format=avc, alignment=au",
     {"video/x-h264", "stream-format", "avc"}},
    {"h264_encoded_bytestream",
     Codec::kH264,
     OutputMode::kEncoded,
     "video/x-h264, stream-format=byte-stream, alignment=au",
     {"video/x-h264", "stream-format", "byte-stream"}},
    {"h264_rtp",
     Codec::kH264,
     OutputMode::kRtp,
     "application/x-rtp, encoding-name=H264",
     {"application/x-rtp", "encoding-name", "H264"}},
    // ANY peer (fakesink, filesink, decodebin): encoded.
    {"h264_any", Codec::kH264, OutputMode::kEncoded, "", {"video/x-h264", "", ""}},
    {"opus_raw", Codec::kOpus, OutputMode::kRaw, "audio/x-raw", {"audio/x-raw", "rate", "48000"}},
    {"opus_encoded", Codec::kOpus, OutputMode::kEncoded, "audio/x-opus", {"audio/x-opus", "", ""}},
    {"opus_rtp",
     Codec::kOpus,
     OutputMode::kRtp,
     "application/x-rtp",
     {"application/x-rtp", "encoding-params", "2"}},
};

INSTANTIATE_TEST_SUITE_P(Media, FlowTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.label); });

// --- pre-encoded input: payloaded as is, never re-encoded -------------------

struct PreEncodedCase {
  const char* label;
  const char* encoder;
  std::vector<std::string> props;
  const char* caps;  // what the encoder output is forced to
  Codec codec;
};

class PreEncodedTest : public FlowBase, public ::testing::WithParamInterface<PreEncodedCase> {};

TEST_P(PreEncodedTest, PayloadedWithoutReencoding) {
  const PreEncodedCase& c = GetParam();
  GstPad* src = add_video_source();
  src = add_after(src, c.encoder, c.props);
  src = add_after(src, "capsfilter", {std::string("caps=") + c.caps});
  CapsPtr input = adopt(gst_caps_from_string(c.caps));
  EncoderSettings settings;  // VP8 by default: must not matter for encoded input
  chain_ = build_send_chain(bin_, input.get(), settings, 102);
  EXPECT_TRUE(chain_.encoded_input);
  EXPECT_EQ(chain_.encoder, nullptr);
  EXPECT_EQ(chain_.codec, c.codec);
  for (GstElement* e : chain_.elements) {
    const char* klass =
        gst_element_factory_get_metadata(gst_element_get_factory(e), GST_ELEMENT_METADATA_KLASS);
    EXPECT_EQ(strstr(klass, "Encoder"), nullptr) << GST_OBJECT_NAME(e) << " is an encoder";
  }
  ASSERT_EQ(gst_pad_link(src, chain_.sink), GST_PAD_LINK_OK);
  fan_ = std::make_unique<FanOut>(bin_, chain_.src, "fan");
  templ_ = adopt(src_template("video_%u", true));
  out_ = std::make_unique<OutputBranch>(bin_, c.codec, OutputMode::kAuto, "video_0", templ_.get(),
                                        "pre");
  fan_->attach(out_->sink_pad());
  ASSERT_TRUE(gst_element_add_pad(GST_ELEMENT(bin_), out_->src_pad()));
  sink_ = std::make_unique<CountingSink>("video/x-raw");
  gst_bin_add(GST_BIN(pipeline_), sink_->element());
  ASSERT_EQ(gst_pad_link(out_->src_pad(), sink_->pad()), GST_PAD_LINK_OK);
  play();
  ASSERT_TRUE(run_until([&] { return sink_->frames() >= 8 || !errors_.empty(); }, 15s))
      << errors_text();
  EXPECT_TRUE(errors_.empty()) << errors_text();
  // Exactly one encoder in the whole bin: the upstream one.
  EXPECT_EQ(count_in_bin("Encoder"), 1);
  CapsPtr caps = sink_->caps();
  const GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  EXPECT_TRUE(gst_structure_has_name(s, "video/x-raw"));
  EXPECT_EQ(structure_string(s, "width"), "320");
  EXPECT_EQ(structure_string(s, "height"), "240");
}

const PreEncodedCase kPreEncoded[] = {
    {"x264enc",
     "x264enc",
     {"tune=zerolatency", "speed-preset=ultrafast", "key-int-max=30"},
     "video/x-h264, stream-format=byte-stream, alignment=au",
     Codec::kH264},
    {"x264enc_avc",
     "x264enc",
     {"tune=zerolatency", "speed-preset=ultrafast", "key-int-max=30"},
     "video/x-h264, stream-format=avc, alignment=au",
     Codec::kH264},
    {"vp8enc", "vp8enc", {"deadline=1", "keyframe-max-dist=30"}, "video/x-vp8", Codec::kVP8},
    {"vp9enc",
     "vp9enc",
     {"deadline=1", "cpu-used=8", "keyframe-max-dist=30"},
     "video/x-vp9",
     Codec::kVP9},
};

INSTANTIATE_TEST_SUITE_P(Media, PreEncodedTest, ::testing::ValuesIn(kPreEncoded),
                         [](const auto& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace rtcmesh::media::test
