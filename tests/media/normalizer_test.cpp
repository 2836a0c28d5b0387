// Normalizer: payload type rewriting without touching the shared buffers,
// lists kept whole, non-RTP dropped, a connection's flow errors (FLUSHING
// included) never returned to the fan-out.
#include <gst/rtp/rtp.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "gst/media/normalizer.h"

namespace rtcmesh::media::test {
namespace {

GstBuffer* rtp_packet(guint8 pt, guint16 seq) {
  GstBuffer* b = gst_rtp_buffer_new_allocate(100, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gst_rtp_buffer_map(b, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type(&rtp, pt);
  gst_rtp_buffer_set_seq(&rtp, seq);
  gst_rtp_buffer_unmap(&rtp);
  return b;
}

guint8 pt_of(GstBuffer* b) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(b, GST_MAP_READ, &rtp)) return 255;
  guint8 pt = gst_rtp_buffer_get_payload_type(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  return pt;
}

// What leaves the normalizer: every buffer, and how many pushes were lists.
struct Received {
  std::vector<GstBuffer*> buffers;
  int lists = 0;
  GstFlowReturn answer = GST_FLOW_OK;  // what the "connection" returns
  ~Received() {
    for (auto* b : buffers) gst_buffer_unref(b);
  }
};

class NormalizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = GST_BIN(gst_bin_new(nullptr));
    gst_object_ref_sink(bin_);
    gst_element_set_state(GST_ELEMENT(bin_), GST_STATE_PLAYING);
    GstCaps* caps = gst_caps_from_string(
        "application/x-rtp, media=video, encoding-name=H264, clock-rate=90000, payload=102");
    normalizer_ = std::make_unique<Normalizer>(bin_, caps, "norm");
    gst_caps_unref(caps);

    src_ = gst_pad_new("src", GST_PAD_SRC);
    sink_ = gst_pad_new("sink", GST_PAD_SINK);
    gst_pad_set_element_private(sink_, &received_);
    gst_pad_set_chain_function(sink_, [](GstPad* pad, GstObject*, GstBuffer* b) {
      auto* r = static_cast<Received*>(gst_pad_get_element_private(pad));
      r->buffers.push_back(b);
      return r->answer;
    });
    gst_pad_set_chain_list_function(sink_, [](GstPad* pad, GstObject*, GstBufferList* l) {
      auto* r = static_cast<Received*>(gst_pad_get_element_private(pad));
      r->lists++;
      for (guint i = 0; i < gst_buffer_list_length(l); i++)
        r->buffers.push_back(gst_buffer_ref(gst_buffer_list_get(l, i)));
      gst_buffer_list_unref(l);
      return r->answer;
    });
    gst_pad_set_active(src_, TRUE);
    gst_pad_set_active(sink_, TRUE);
    ASSERT_EQ(gst_pad_link(src_, normalizer_->sink_pad()), GST_PAD_LINK_OK);
    ASSERT_EQ(gst_pad_link(normalizer_->src_pad(), sink_), GST_PAD_LINK_OK);
    gst_pad_push_event(src_, gst_event_new_stream_start("s"));
    GstCaps* stream = gst_caps_from_string(
        "application/x-rtp, media=video, encoding-name=H264, clock-rate=90000, payload=96");
    gst_pad_push_event(src_, gst_event_new_caps(stream));
    gst_caps_unref(stream);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_push_event(src_, gst_event_new_segment(&segment));
  }

  void TearDown() override {
    gst_pad_set_active(src_, FALSE);
    gst_pad_set_active(sink_, FALSE);
    normalizer_.reset();
    gst_element_set_state(GST_ELEMENT(bin_), GST_STATE_NULL);
    gst_object_unref(src_);
    gst_object_unref(sink_);
    gst_object_unref(bin_);
  }

  // A list the way a payloader and the tee hand it over: shared with the
  // other branches (an extra reference on the list and on each buffer).
  GstBufferList* shared_list(std::vector<GstBuffer*> buffers) {
    GstBufferList* l = gst_buffer_list_new();
    for (auto* b : buffers) {
      kept_.push_back(gst_buffer_ref(b));
      gst_buffer_list_add(l, b);
    }
    kept_lists_.push_back(gst_buffer_list_ref(l));
    return l;
  }

  GstBin* bin_ = nullptr;
  std::unique_ptr<Normalizer> normalizer_;
  GstPad* src_ = nullptr;
  GstPad* sink_ = nullptr;
  Received received_;
  std::vector<GstBuffer*> kept_;
  std::vector<GstBufferList*> kept_lists_;

 public:
  ~NormalizerTest() override {
    for (auto* b : kept_) gst_buffer_unref(b);
    for (auto* l : kept_lists_) gst_buffer_list_unref(l);
  }
};

TEST_F(NormalizerTest, ListIsRewrittenOnCopiesAndStaysOneList) {
  GstBufferList* l = shared_list({rtp_packet(96, 1), rtp_packet(96, 2), rtp_packet(96, 3)});
  EXPECT_EQ(gst_pad_push_list(src_, l), GST_FLOW_OK);
  EXPECT_EQ(received_.lists, 1);
  ASSERT_EQ(received_.buffers.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_EQ(pt_of(received_.buffers[i]), 102);
    // The other branches still see the stream's own payload type.
    EXPECT_EQ(pt_of(kept_[i]), 96);
  }
}

TEST_F(NormalizerTest, SamePayloadTypePassesTheBuffersThemselves) {
  GstBufferList* l = shared_list({rtp_packet(102, 1), rtp_packet(102, 2)});
  EXPECT_EQ(gst_pad_push_list(src_, l), GST_FLOW_OK);
  EXPECT_EQ(received_.lists, 1);
  ASSERT_EQ(received_.buffers.size(), 2u);
  EXPECT_EQ(received_.buffers[0], kept_[0]);
  EXPECT_EQ(received_.buffers[1], kept_[1]);
}

TEST_F(NormalizerTest, NonRtpIsDropped) {
  GstBuffer* junk = gst_buffer_new_allocate(nullptr, 2, nullptr);
  gst_buffer_memset(junk, 0, 0xff, 2);
  GstBufferList* l = shared_list({rtp_packet(96, 1), junk, rtp_packet(96, 3)});
  EXPECT_EQ(gst_pad_push_list(src_, l), GST_FLOW_OK);
  ASSERT_EQ(received_.buffers.size(), 2u);
  EXPECT_EQ(pt_of(received_.buffers[1]), 102);

  GstBufferList* only_junk = gst_buffer_list_new();
  gst_buffer_list_add(only_junk, gst_buffer_new_allocate(nullptr, 2, nullptr));
  EXPECT_EQ(gst_pad_push_list(src_, only_junk), GST_FLOW_OK);
  EXPECT_EQ(received_.buffers.size(), 2u);
}

TEST_F(NormalizerTest, SingleBufferIsRewrittenOnACopy) {
  GstBuffer* b = rtp_packet(96, 7);
  kept_.push_back(gst_buffer_ref(b));
  EXPECT_EQ(gst_pad_push(src_, b), GST_FLOW_OK);
  ASSERT_EQ(received_.buffers.size(), 1u);
  EXPECT_EQ(pt_of(received_.buffers[0]), 102);
  EXPECT_EQ(pt_of(kept_[0]), 96);
}

TEST_F(NormalizerTest, ConnectionErrorsStayWithTheConnection) {
  // A webrtcbin going to NULL answers FLUSHING; returned upstream it would
  // pause the branch queue and, through the tee, every other connection.
  for (GstFlowReturn answer : {GST_FLOW_FLUSHING, GST_FLOW_ERROR, GST_FLOW_NOT_LINKED}) {
    received_.answer = answer;
    EXPECT_EQ(gst_pad_push(src_, rtp_packet(96, 1)), GST_FLOW_OK) << gst_flow_get_name(answer);
    EXPECT_EQ(gst_pad_push_list(src_, shared_list({rtp_packet(96, 2)})), GST_FLOW_OK)
        << gst_flow_get_name(answer);
  }
}

TEST_F(NormalizerTest, CapsAreTheNegotiatedOnesWithTheStreamsSsrc) {
  GstCaps* caps = gst_caps_from_string(
      "application/x-rtp, media=video, encoding-name=H264, clock-rate=90000, payload=96, "
      "ssrc=(uint)1234");
  gst_pad_push_event(src_, gst_event_new_caps(caps));
  gst_caps_unref(caps);
  GstCaps* out = gst_pad_get_current_caps(sink_);
  ASSERT_NE(out, nullptr);
  const GstStructure* s = gst_caps_get_structure(out, 0);
  int pt = 0;
  guint ssrc = 0;
  EXPECT_TRUE(gst_structure_get_int(s, "payload", &pt));
  EXPECT_EQ(pt, 102);
  EXPECT_TRUE(gst_structure_get_uint(s, "ssrc", &ssrc));
  EXPECT_EQ(ssrc, 1234u);
  gst_caps_unref(out);
}

}  // namespace
}  // namespace rtcmesh::media::test
