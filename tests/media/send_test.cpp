// Send chains: presets on the real elements, errors that leave the bin
// unchanged, and a chain built from a CAPS event on the streaming thread.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "gst/media/fanout.h"
#include "gst/media/send.h"
#include "tests/media/media_fixture.h"

namespace rtcmesh::media::test {
namespace {

using namespace std::chrono_literals;

class SendTest : public MediaTest {
 protected:
  int children() const { return static_cast<int>(GST_BIN_NUMCHILDREN(bin_)); }
  static std::string factory(GstElement* e) { return GST_OBJECT_NAME(gst_element_get_factory(e)); }
  static std::vector<std::string> factories(const SendChain& c) {
    std::vector<std::string> out;
    for (GstElement* e : c.elements) out.push_back(factory(e));
    return out;
  }
  static int int_prop(GstElement* e, const char* p) {
    GValue v = G_VALUE_INIT;
    g_object_get_property(G_OBJECT(e), p, &v);
    int out = 0;
    if (G_VALUE_HOLDS_INT(&v))
      out = g_value_get_int(&v);
    else if (G_VALUE_HOLDS_UINT(&v))
      out = static_cast<int>(g_value_get_uint(&v));
    else if (G_VALUE_HOLDS_INT64(&v))
      out = static_cast<int>(g_value_get_int64(&v));
    else if (G_VALUE_HOLDS_BOOLEAN(&v))
      out = g_value_get_boolean(&v);
    else if (G_VALUE_HOLDS_ENUM(&v))
      out = g_value_get_enum(&v);
    else if (G_VALUE_HOLDS_FLAGS(&v))
      out = static_cast<int>(g_value_get_flags(&v));
    g_value_unset(&v);
    return out;
  }
  static std::string enum_nick(GstElement* e, const char* p) {
    GValue v = G_VALUE_INIT;
    g_object_get_property(G_OBJECT(e), p, &v);
    GEnumClass* k = static_cast<GEnumClass*>(g_type_class_ref(G_VALUE_TYPE(&v)));
    GEnumValue* ev = g_enum_get_value(k, g_value_get_enum(&v));
    std::string out = ev ? ev->value_nick : "";
    g_type_class_unref(k);
    g_value_unset(&v);
    return out;
  }
  SendChain build(const char* caps, EncoderSettings s = {}, int pt = 96) {
    CapsPtr c = adopt(gst_caps_from_string(caps));
    return build_send_chain(bin_, c.get(), s, pt);
  }
};

TEST_F(SendTest, Vp8Preset) {
  EncoderSettings s;
  s.video_bitrate_kbps = 1500;
  s.keyframe_interval = 90;
  SendChain c = build("video/x-raw, width=320, height=240, format=I420", s, 97);
  EXPECT_EQ(factories(c),
            (std::vector<std::string>{"videoconvert", "capsfilter", "vp8enc", "rtpvp8pay"}));
  EXPECT_EQ(c.codec, Codec::kVP8);
  EXPECT_FALSE(c.encoded_input);
  ASSERT_NE(c.encoder, nullptr);
  EXPECT_EQ(factory(c.encoder), "vp8enc");
  EXPECT_EQ(int_prop(c.encoder, "deadline"), 1);
  EXPECT_EQ(int_prop(c.encoder, "cpu-used"), 8);
  EXPECT_EQ(enum_nick(c.encoder, "end-usage"), "cbr");
  // One thread: vp8enc's threads busy-wait on each other (33-105 ms of CPU
  // per 720p frame with two, 2.8 ms with one: docs/benchmarks.md, MCU).
  EXPECT_EQ(int_prop(c.encoder, "threads"), 1);
  EXPECT_EQ(int_prop(c.encoder, "lag-in-frames"), 0);
  EXPECT_EQ(int_prop(c.encoder, "error-resilient"), 1);
  EXPECT_EQ(int_prop(c.encoder, "target-bitrate"), 1500000);
  EXPECT_EQ(int_prop(c.encoder, "keyframe-max-dist"), 90);
  GstElement* pay = c.elements.back();
  EXPECT_EQ(int_prop(pay, "pt"), 97);
  EXPECT_EQ(int_prop(pay, "mtu"), 1200);
  EXPECT_EQ(enum_nick(pay, "picture-id-mode"), "15-bit");
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(c.elements.front(), "sink"));
  GPtr<GstPad> src = adopt(gst_element_get_static_pad(pay, "src"));
  EXPECT_EQ(c.sink, sink.get());
  EXPECT_EQ(c.src, src.get());
  EXPECT_EQ(children(), 4);
  remove_send_chain(bin_, c);
  EXPECT_EQ(children(), 0);
  EXPECT_TRUE(c.elements.empty());
  EXPECT_EQ(c.sink, nullptr);
}

TEST_F(SendTest, Vp9Preset) {
  EncoderSettings s;
  s.video_codec = Codec::kVP9;
  SendChain c = build("video/x-raw", s);
  EXPECT_EQ(factories(c), (std::vector<std::string>{"videoconvert", "capsfilter", "vp9enc",
                                                    "vp9parse", "rtpvp9pay"}));
  EXPECT_EQ(int_prop(c.encoder, "row-mt"), 1);
  EXPECT_EQ(int_prop(c.encoder, "deadline"), 1);
  EXPECT_EQ(enum_nick(c.encoder, "end-usage"), "cbr");
  EXPECT_EQ(int_prop(c.encoder, "keyframe-max-dist"), 60);
  EXPECT_EQ(enum_nick(c.elements.back(), "picture-id-mode"), "15-bit");
}

TEST_F(SendTest, H264Preset) {
  EncoderSettings s;
  s.video_codec = Codec::kH264;
  s.video_bitrate_kbps = 800;
  s.keyframe_interval = 300;
  SendChain c = build("video/x-raw", s, 102);
  EXPECT_EQ(factories(c), (std::vector<std::string>{"videoconvert", "capsfilter", "x264enc",
                                                    "capsfilter", "h264parse", "rtph264pay"}));
  EXPECT_EQ(enum_nick(c.encoder, "speed-preset"), "ultrafast");
  EXPECT_EQ(int_prop(c.encoder, "bframes"), 0);
  EXPECT_EQ(int_prop(c.encoder, "key-int-max"), 300);
  EXPECT_EQ(int_prop(c.encoder, "bitrate"), 800);
  EXPECT_NE(int_prop(c.encoder, "tune") & 0x4, 0) << "zerolatency";
  GstCaps* raw_caps = nullptr;
  g_object_get(c.elements[3], "caps", &raw_caps, nullptr);
  CapsPtr profile = adopt(raw_caps);
  EXPECT_STREQ(gst_structure_get_string(gst_caps_get_structure(profile.get(), 0), "profile"),
               "constrained-baseline");
  EXPECT_EQ(int_prop(c.elements[4], "config-interval"), -1);
  GstElement* pay = c.elements.back();
  EXPECT_EQ(enum_nick(pay, "aggregate-mode"), "zero-latency");
  EXPECT_EQ(int_prop(pay, "pt"), 102);
  EXPECT_EQ(int_prop(pay, "mtu"), 1200);
}

TEST_F(SendTest, OpusChain) {
  SendChain c = build("audio/x-raw, rate=44100, channels=6", {}, 111);
  EXPECT_EQ(factories(c), (std::vector<std::string>{"audioconvert", "audioresample", "capsfilter",
                                                    "opusenc", "rtpopuspay"}));
  EXPECT_EQ(c.codec, Codec::kOpus);
  EXPECT_EQ(factory(c.encoder), "opusenc");
  EXPECT_EQ(int_prop(c.elements.back(), "pt"), 111);
}

TEST_F(SendTest, EncodedInputIsNotReencoded) {
  SendChain h = build("video/x-h264, stream-format=avc, alignment=au", {}, 102);
  EXPECT_EQ(factories(h), (std::vector<std::string>{"h264parse", "rtph264pay"}));
  EXPECT_TRUE(h.encoded_input);
  EXPECT_EQ(h.encoder, nullptr);
  EXPECT_EQ(h.codec, Codec::kH264);
  SendChain v = build("video/x-vp8, width=320, height=240");
  EXPECT_EQ(factories(v), std::vector<std::string>{"rtpvp8pay"});
  SendChain o = build("audio/x-opus, channels=2, rate=48000, channel-mapping-family=0", {}, 111);
  EXPECT_EQ(factories(o), std::vector<std::string>{"rtpopuspay"});
}

TEST_F(SendTest, ErrorsLeaveTheBinUnchanged) {
  auto expect_error = [&](const char* caps, EncoderSettings s, int pt, const char* words) {
    CapsPtr c = caps ? adopt(gst_caps_from_string(caps)) : nullptr;
    try {
      build_send_chain(bin_, c.get(), s, pt);
      ADD_FAILURE() << "no exception for " << (caps ? caps : "null");
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
    EXPECT_EQ(children(), 0) << (caps ? caps : "null");
  };
  expect_error("video/x-theora", {}, 96, "unsupported input caps video/x-theora");
  expect_error("application/x-rtp, media=video, encoding-name=VP8", {}, 96, "unsupported input");
  expect_error(nullptr, {}, 96, "concrete input caps");
  expect_error("ANY", {}, 96, "concrete input caps");
  expect_error("video/x-raw", {}, 128, "payload type 128");
  EncoderSettings bad_video;
  bad_video.video_codec = Codec::kOpus;
  expect_error("video/x-raw", bad_video, 96, "OPUS cannot encode video");
  EncoderSettings bad_audio;
  bad_audio.audio_codec = Codec::kH264;
  expect_error("audio/x-raw", bad_audio, 96, "H264 cannot encode audio");
  expect_error("audio/x-opus, channel-mapping-family=1, channels=6, rate=48000", {}, 111,
               "MULTIOPUS");
  // Fixed caps the chain cannot take (a mapping family rtpopuspay does not know).
  expect_error("audio/x-opus, channel-mapping-family=255, channels=2, rate=48000", {}, 111,
               "refuses");
}

TEST_F(SendTest, BuiltFromCapsEventOnTheStreamingThread) {
  // As a request sink pad does it: a ghost pad without target until the
  // first CAPS event, then the chain is built right there (on the source's
  // streaming thread) and data flows.
  struct Ctx {
    GstBin* bin;
    CountingSink* sink;
    SendChain chain;
    std::unique_ptr<FanOut> fan;
    std::atomic<int> built{0};
  };
  CountingSink sink("application/x-rtp");
  gst_bin_add(bin_, sink.element());
  Ctx ctx{bin_, &sink, {}, nullptr};
  GstPad* ghost = gst_ghost_pad_new_no_target("video_0", GST_PAD_SINK);
  g_object_set_data(G_OBJECT(ghost), "ctx", &ctx);
  gst_pad_set_event_function(ghost, [](GstPad* pad, GstObject* parent, GstEvent* event) {
    auto* c = static_cast<Ctx*>(g_object_get_data(G_OBJECT(pad), "ctx"));
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS && !c->built) {
      GstCaps* caps = nullptr;
      gst_event_parse_caps(event, &caps);
      EncoderSettings s;
      s.video_codec = Codec::kH264;
      c->chain = build_send_chain(c->bin, caps, s, 102);
      c->fan = std::make_unique<FanOut>(c->bin, c->chain.src, "");
      c->fan->attach(c->sink->pad());
      gst_ghost_pad_set_target(GST_GHOST_PAD(pad), c->chain.sink);
      ++c->built;
    }
    return gst_pad_event_default(pad, parent, event);
  });
  gst_element_add_pad(GST_ELEMENT(bin_), ghost);
  // The source outside the bin, as in a user's pipeline.
  GstElement* src = gst_element_factory_make("videotestsrc", nullptr);
  GstElement* filter = gst_element_factory_make("capsfilter", nullptr);
  g_object_set(src, "is-live", TRUE, nullptr);
  CapsPtr caps = adopt(gst_caps_from_string("video/x-raw, width=320, height=240, framerate=15/1"));
  g_object_set(filter, "caps", caps.get(), nullptr);
  gst_bin_add_many(GST_BIN(pipeline_), src, filter, nullptr);
  ASSERT_TRUE(gst_element_link(src, filter));
  ASSERT_TRUE(gst_element_link_pads(filter, "src", GST_ELEMENT(bin_), "video_0"));
  play();
  ASSERT_TRUE(run_until([&] { return sink.frames() >= 5 || !errors_.empty(); }, 8s))
      << errors_text();
  EXPECT_EQ(ctx.built.load(), 1);
  EXPECT_TRUE(errors_.empty()) << errors_text();
  CapsPtr got = sink.caps();
  EXPECT_STREQ(gst_structure_get_string(gst_caps_get_structure(got.get(), 0), "encoding-name"),
               "H264");
  stop();
  ctx.fan.reset();
}

}  // namespace
}  // namespace rtcmesh::media::test
