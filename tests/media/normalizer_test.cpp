// Normalizer: payload type rewriting without touching the shared buffers,
// lists kept whole, non-RTP dropped, a connection's flow errors (FLUSHING
// included) never returned to the fan-out. Forwarding mode: the slot's SSRC
// in packets and caps, sequence numbers and timestamps continuous across
// source changes, header extensions stripped with the payload intact.
#include <gst/rtp/rtp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
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
    if (forwarding_)
      normalizer_ = std::make_unique<Normalizer>(bin_, caps, "norm", *forwarding_);
    else
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
  std::optional<Normalizer::Forwarding> forwarding_;  // set before SetUp
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

// One RTP packet as a publisher's connection hands it over.
struct Packet {
  guint32 ssrc = 1111;
  guint16 seq = 0;
  guint32 ts = 0;
  guint8 pt = 96;
  bool marker = false;
  guint8 csrcs = 0;
  // Header extension: none, one-byte (RFC 8285 0xBEDE) or two-byte form.
  enum { kNone, kOneByte, kTwoByte } extension = kNone;
  guint payload_size = 100;
};

// Payload byte i is (seq + i) & 0xff, so a moved payload can be checked.
GstBuffer* make_packet(const Packet& p) {
  GstBuffer* b = gst_rtp_buffer_new_allocate(p.payload_size, 0, p.csrcs);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gst_rtp_buffer_map(b, GST_MAP_READWRITE, &rtp);
  gst_rtp_buffer_set_payload_type(&rtp, p.pt);
  gst_rtp_buffer_set_seq(&rtp, p.seq);
  gst_rtp_buffer_set_timestamp(&rtp, p.ts);
  gst_rtp_buffer_set_ssrc(&rtp, p.ssrc);
  gst_rtp_buffer_set_marker(&rtp, p.marker);
  for (guint8 i = 0; i < p.csrcs; i++) gst_rtp_buffer_set_csrc(&rtp, i, 0xC0000000u + i);
  const guint8 mid[] = {'0'};
  const guint8 abs_send_time[] = {1, 2, 3};
  if (p.extension == Packet::kOneByte) {
    EXPECT_TRUE(gst_rtp_buffer_add_extension_onebyte_header(&rtp, 1, mid, sizeof mid));
    EXPECT_TRUE(gst_rtp_buffer_add_extension_onebyte_header(&rtp, 3, abs_send_time, 3));
  } else if (p.extension == Packet::kTwoByte) {
    EXPECT_TRUE(gst_rtp_buffer_add_extension_twobytes_header(&rtp, 0, 1, mid, sizeof mid));
    EXPECT_TRUE(gst_rtp_buffer_add_extension_twobytes_header(&rtp, 0, 20, abs_send_time, 3));
  }
  auto* payload = static_cast<guint8*>(gst_rtp_buffer_get_payload(&rtp));
  EXPECT_EQ(gst_rtp_buffer_get_payload_len(&rtp), p.payload_size);
  for (guint i = 0; i < p.payload_size; i++) payload[i] = guint8(p.seq + i);
  gst_rtp_buffer_unmap(&rtp);
  return b;
}

struct Header {
  guint32 ssrc;
  guint16 seq;
  guint32 ts;
  guint8 pt;
  bool marker;
  bool extension;
  guint8 csrcs;
  std::vector<guint32> csrc;
  std::vector<guint8> payload;
};

Header header_of(GstBuffer* b) {
  Header h{};
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  EXPECT_TRUE(gst_rtp_buffer_map(b, GST_MAP_READ, &rtp));
  h.ssrc = gst_rtp_buffer_get_ssrc(&rtp);
  h.seq = gst_rtp_buffer_get_seq(&rtp);
  h.ts = gst_rtp_buffer_get_timestamp(&rtp);
  h.pt = gst_rtp_buffer_get_payload_type(&rtp);
  h.marker = gst_rtp_buffer_get_marker(&rtp);
  h.extension = gst_rtp_buffer_get_extension(&rtp);
  h.csrcs = gst_rtp_buffer_get_csrc_count(&rtp);
  for (guint8 i = 0; i < h.csrcs; i++) h.csrc.push_back(gst_rtp_buffer_get_csrc(&rtp, i));
  auto* payload = static_cast<guint8*>(gst_rtp_buffer_get_payload(&rtp));
  h.payload.assign(payload, payload + gst_rtp_buffer_get_payload_len(&rtp));
  gst_rtp_buffer_unmap(&rtp);
  return h;
}

constexpr guint32 kSlotSsrc = 0x5107AB1E;

class ForwardingNormalizerTest : public NormalizerTest {
 protected:
  ForwardingNormalizerTest() {
    forwarding_ = Normalizer::Forwarding{kSlotSsrc, guint16(65530), 4000000000u};
  }

  // Pushes packets one by one; returns what came out of them.
  std::vector<Header> push(const std::vector<Packet>& packets) {
    size_t before = received_.buffers.size();
    for (const auto& p : packets) EXPECT_EQ(gst_pad_push(src_, make_packet(p)), GST_FLOW_OK);
    std::vector<Header> out;
    for (size_t i = before; i < received_.buffers.size(); i++)
      out.push_back(header_of(received_.buffers[i]));
    return out;
  }

  // `n` packets of one source: consecutive seq, ts 3000 apart (30 fps video).
  static std::vector<Packet> run(guint32 ssrc, guint16 seq, guint32 ts, int n) {
    std::vector<Packet> v;
    for (int i = 0; i < n; i++) v.push_back({ssrc, guint16(seq + i), ts + guint32(i) * 3000});
    return v;
  }
};

TEST_F(ForwardingNormalizerTest, SsrcIsTheSlotsInPacketsCapsAndCapsQuery) {
  // Before any packet: webrtcbin's offer asks the peer of its sink pad.
  GstCaps* queried = gst_pad_peer_query_caps(sink_, nullptr);
  guint ssrc = 0;
  EXPECT_TRUE(gst_structure_get_uint(gst_caps_get_structure(queried, 0), "ssrc", &ssrc));
  EXPECT_EQ(ssrc, kSlotSsrc);
  gst_caps_unref(queried);

  GstCaps* caps = gst_caps_from_string(
      "application/x-rtp, media=video, encoding-name=H264, clock-rate=90000, payload=96, "
      "ssrc=(uint)1111, seqnum-offset=(uint)7");
  gst_pad_push_event(src_, gst_event_new_caps(caps));
  gst_caps_unref(caps);
  GstCaps* current = gst_pad_get_current_caps(sink_);
  ASSERT_NE(current, nullptr);
  const GstStructure* s = gst_caps_get_structure(current, 0);
  EXPECT_TRUE(gst_structure_get_uint(s, "ssrc", &ssrc));
  EXPECT_EQ(ssrc, kSlotSsrc);
  EXPECT_FALSE(gst_structure_has_field(s, "seqnum-offset"));
  gst_caps_unref(current);

  auto out = push(run(1111, 10, 0, 3));
  ASSERT_EQ(out.size(), 3u);
  for (const auto& h : out) {
    EXPECT_EQ(h.ssrc, kSlotSsrc);
    EXPECT_EQ(h.pt, 102);
  }
}

TEST_F(ForwardingNormalizerTest, SequenceNumbersContinueAcrossSourceSwitches) {
  // Starts at the given 65530, wraps, and each new source goes on from there.
  auto a = push(run(1111, 500, 0, 10));
  auto b = push(run(2222, 30000, 0, 5));  // new SSRC: detected
  normalizer_->switch_source();           // same SSRC, told
  auto c = push(run(2222, 100, 0, 5));
  std::vector<Header> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  ASSERT_EQ(all.size(), 20u);
  for (size_t i = 0; i < all.size(); i++) EXPECT_EQ(all[i].seq, guint16(65530 + i)) << i;

  Normalizer::Counters counters = normalizer_->counters();
  EXPECT_EQ(counters.packets, 20u);
  EXPECT_EQ(counters.source_switches, 2u);
  guint64 bytes = 0;
  for (auto* buffer : received_.buffers) bytes += gst_buffer_get_size(buffer);
  EXPECT_EQ(counters.bytes, bytes);
}

TEST_F(ForwardingNormalizerTest, ReorderedPacketsKeepTheirPlaceAndTheNextSourceFollowsTheHighest) {
  auto a = push({{1111, 10, 0}, {1111, 12, 6000}, {1111, 11, 3000}});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[1].seq, guint16(a[0].seq + 2));
  EXPECT_EQ(a[2].seq, guint16(a[0].seq + 1));
  EXPECT_EQ(a[2].ts, a[0].ts + 3000);
  auto b = push(run(2222, 9, 0, 1));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].seq, guint16(a[0].seq + 3));
}

// SRTP (libsrtp) refuses to protect a packet index twice or one further back
// than its replay window, and fails the connection when asked: a publisher's
// retransmission arriving twice or very late must not reach it.
TEST_F(ForwardingNormalizerTest, DuplicatesAndPacketsTooFarBackAreDropped) {
  auto a = push(run(1111, 100, 0, 80));  // 100..179
  ASSERT_EQ(a.size(), 80u);
  // 150 again (a retransmission of a packet that was not lost): dropped.
  EXPECT_TRUE(push({{1111, 150, 150 * 3000}}).empty());
  // 110 is 69 behind the highest: too far back, dropped.
  EXPECT_TRUE(push({{1111, 110, 10 * 3000}}).empty());
  // A gap then its retransmission within the window: forwarded once.
  auto b = push({{1111, 182, 82 * 3000}, {1111, 181, 81 * 3000}, {1111, 181, 81 * 3000},
                 {1111, 180, 80 * 3000}});
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[1].seq, guint16(a[0].seq + 81));
  EXPECT_EQ(b[2].seq, guint16(a[0].seq + 80));
  EXPECT_EQ(normalizer_->counters().dropped, 3u);
}

TEST_F(ForwardingNormalizerTest, TimestampsAdvanceByWallClockAcrossASwitch) {
  auto a = push(run(1111, 10, 3000000000u, 4));  // last ts: +9000
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].ts, 4000000000u);  // the given start
  for (size_t i = 1; i < a.size(); i++) EXPECT_EQ(a[i].ts - a[i - 1].ts, 3000u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The new source's own timestamps are far lower: the output must not go back.
  auto b = push(run(2222, 7, 5, 3));
  ASSERT_EQ(b.size(), 3u);
  guint32 gap = b[0].ts - a.back().ts;  // modulo 2^32, as receivers see it
  EXPECT_GE(gap, 9000u);                // >= 100 ms at 90 kHz
  EXPECT_LT(gap, 9000u + 90 * 1000);    // and not wildly more (1 s of slack)
  for (size_t i = 1; i < b.size(); i++) EXPECT_EQ(b[i].ts - b[i - 1].ts, 3000u);
  // An immediate switch still moves forward by at least one tick.
  normalizer_->switch_source();
  auto c = push(run(2222, 7, 5, 1));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_GT(gint32(c[0].ts - b.back().ts), 0);
}

TEST_F(ForwardingNormalizerTest, HeaderExtensionsAreStrippedWithThePayloadIntact) {
  for (auto form : {Packet::kOneByte, Packet::kTwoByte}) {
    Packet p{1111, 40, 90000, 96, true, 2, form, 333};
    GstBuffer* in = make_packet(p);
    kept_.push_back(gst_buffer_ref(in));
    Header original = header_of(in);
    ASSERT_TRUE(original.extension);
    gsize in_size = gst_buffer_get_size(in);
    ASSERT_EQ(gst_pad_push(src_, in), GST_FLOW_OK);
    GstBuffer* out = received_.buffers.back();
    Header h = header_of(out);
    EXPECT_FALSE(h.extension) << form;
    EXPECT_EQ(h.payload, original.payload) << form;
    EXPECT_EQ(h.csrc, original.csrc) << form;
    EXPECT_TRUE(h.marker) << form;
    EXPECT_EQ(h.ssrc, kSlotSsrc);
    // Exactly the extension block went: 12 + 2 CSRCs + payload remain.
    EXPECT_EQ(gst_buffer_get_size(out), 12u + 8u + 333u) << form;
    EXPECT_LT(gst_buffer_get_size(out), in_size);
    // The shared original (other subscribers' copy) is untouched.
    EXPECT_TRUE(header_of(kept_.back()).extension);
    EXPECT_EQ(header_of(kept_.back()).ssrc, 1111u);
  }
}

TEST_F(ForwardingNormalizerTest, PacketsWithoutExtensionsChangeOnlyInTheRewrittenFields) {
  Packet p{1111, 40, 90000, 96, true, 1, Packet::kNone, 50};
  GstBuffer* in = make_packet(p);
  kept_.push_back(gst_buffer_ref(in));
  ASSERT_EQ(gst_pad_push(src_, in), GST_FLOW_OK);
  GstBuffer* out = received_.buffers.back();
  ASSERT_EQ(gst_buffer_get_size(out), gst_buffer_get_size(kept_.back()));
  std::vector<guint8> a(gst_buffer_get_size(out)), b(a.size());
  gst_buffer_extract(kept_.back(), 0, a.data(), a.size());
  gst_buffer_extract(out, 0, b.data(), b.size());
  // Byte 0 (V, P, X, CC) and everything from the CSRCs on are equal; byte 1
  // keeps the marker with the new PT; 2-11 are seq, ts, ssrc.
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(b[1], 0x80 | 102);
  EXPECT_TRUE(std::equal(a.begin() + 12, a.end(), b.begin() + 12));
  EXPECT_EQ(GST_READ_UINT16_BE(b.data() + 2), 65530);
  EXPECT_EQ(GST_READ_UINT32_BE(b.data() + 4), 4000000000u);
  EXPECT_EQ(GST_READ_UINT32_BE(b.data() + 8), kSlotSsrc);
}

TEST_F(ForwardingNormalizerTest, ListsStayOneListOfRewrittenCopies) {
  GstBuffer* junk = gst_buffer_new_allocate(nullptr, 3, nullptr);
  gst_buffer_memset(junk, 0, 0xff, 3);
  GstBufferList* l = shared_list({make_packet({1111, 1, 0}), junk,
                                  make_packet({1111, 2, 0, 96, false, 0, Packet::kOneByte}),
                                  make_packet({1111, 3, 0, 96, true, 0, Packet::kTwoByte})});
  EXPECT_EQ(gst_pad_push_list(src_, l), GST_FLOW_OK);
  EXPECT_EQ(received_.lists, 1);
  ASSERT_EQ(received_.buffers.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    Header h = header_of(received_.buffers[i]);
    EXPECT_EQ(h.seq, guint16(65530 + i));
    EXPECT_EQ(h.ssrc, kSlotSsrc);
    EXPECT_FALSE(h.extension);
  }
  EXPECT_EQ(header_of(kept_[0]).ssrc, 1111u);
  EXPECT_TRUE(header_of(kept_[2]).extension);

  for (GstFlowReturn answer : {GST_FLOW_FLUSHING, GST_FLOW_ERROR}) {
    received_.answer = answer;
    EXPECT_EQ(gst_pad_push_list(src_, shared_list({make_packet({1111, 4, 0})})), GST_FLOW_OK);
    EXPECT_EQ(gst_pad_push(src_, make_packet({1111, 5, 0})), GST_FLOW_OK);
  }
}

TEST(ForwardingNormalizer, RefusesCapsWithoutClockRate) {
  GstBin* bin = GST_BIN(gst_object_ref_sink(gst_bin_new(nullptr)));
  GstCaps* caps = gst_caps_from_string("application/x-rtp, media=video, payload=102");
  EXPECT_THROW(Normalizer(bin, caps, "n", Normalizer::Forwarding{1}), std::invalid_argument);
  gst_caps_unref(caps);
  gst_object_unref(bin);
}

}  // namespace
}  // namespace rtcmesh::media::test
