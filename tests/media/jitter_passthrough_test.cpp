// Pass-through jitterbuffer: every packet forwarded at once, gaps turned into
// retransmission requests (once per seqnum, rate-limited, only with
// do-retransmission), late packets forwarded and counted, the properties
// rtpbin sets present, no latency added. Then a real webrtcbin pair on
// loopback with ~2% of the sender's RTP dropped: the receiver's pass-through
// asks, the sender's rtprtxsend answers, the missing seqnums arrive, and the
// first packet leaves webrtcbin without the stock jitterbuffer's wait (which
// `rtcmesh-bench jitterbuffer` measures for comparison).
#include <gst/rtp/rtp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "gst/media/jitter_passthrough.h"
#include "tests/media/media_fixture.h"
#include "tools/bench/jitter_pair.h"

namespace rtcmesh::media::test {
namespace {

GstBuffer* packet(guint32 ssrc, guint16 seq) {
  GstBuffer* b = gst_rtp_buffer_new_allocate(20, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gst_rtp_buffer_map(b, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type(&rtp, 96);
  gst_rtp_buffer_set_ssrc(&rtp, ssrc);
  gst_rtp_buffer_set_seq(&rtp, seq);
  gst_rtp_buffer_unmap(&rtp);
  GST_BUFFER_PTS(b) = seq * 10 * GST_MSECOND;
  return b;
}

guint16 seq_of(GstBuffer* b) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(b, GST_MAP_READ, &rtp)) return 0;
  guint16 seq = gst_rtp_buffer_get_seq(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  return seq;
}

// The element between two test pads: what comes out, and the requests that
// go up.
class PassthroughTest : public ::testing::Test {
 protected:
  void SetUp() override {
    element_ = GST_ELEMENT(gst_object_ref_sink(make_passthrough_jitterbuffer()));
    g_object_set(element_, "do-retransmission", TRUE, "latency", 150u, nullptr);
    upstream_ = gst_pad_new("src", GST_PAD_SRC);
    downstream_ = gst_pad_new("sink", GST_PAD_SINK);
    gst_pad_set_element_private(upstream_, this);
    gst_pad_set_element_private(downstream_, this);
    gst_pad_set_event_function(upstream_, [](GstPad* pad, GstObject*, GstEvent* event) -> gboolean {
      auto* self = static_cast<PassthroughTest*>(gst_pad_get_element_private(pad));
      if (GST_EVENT_TYPE(event) == GST_EVENT_CUSTOM_UPSTREAM)
        self->requests_.push_back(gst_structure_copy(gst_event_get_structure(event)));
      gst_event_unref(event);
      return TRUE;
    });
    gst_pad_set_query_function(upstream_, [](GstPad* pad, GstObject* parent,
                                             GstQuery* query) -> gboolean {
      if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY) return gst_pad_query_default(pad, parent, query);
      gst_query_set_latency(query, TRUE, 10 * GST_MSECOND, GST_CLOCK_TIME_NONE);
      return TRUE;
    });
    gst_pad_set_chain_function(downstream_, [](GstPad* pad, GstObject*, GstBuffer* b) {
      auto* self = static_cast<PassthroughTest*>(gst_pad_get_element_private(pad));
      self->out_.push_back(seq_of(b));
      gst_buffer_unref(b);
      return GST_FLOW_OK;
    });
    gst_pad_set_active(upstream_, TRUE);
    gst_pad_set_active(downstream_, TRUE);
    GPtr<GstPad> sink = adopt(gst_element_get_static_pad(element_, "sink"));
    GPtr<GstPad> src = adopt(gst_element_get_static_pad(element_, "src"));
    ASSERT_EQ(gst_pad_link(upstream_, sink.get()), GST_PAD_LINK_OK);
    ASSERT_EQ(gst_pad_link(src.get(), downstream_), GST_PAD_LINK_OK);
    ASSERT_EQ(gst_element_set_state(element_, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
    gst_pad_push_event(upstream_, gst_event_new_stream_start("s"));
    GstCaps* caps = gst_caps_from_string("application/x-rtp, media=video, clock-rate=90000");
    gst_pad_push_event(upstream_, gst_event_new_caps(caps));
    gst_caps_unref(caps);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_push_event(upstream_, gst_event_new_segment(&segment));
  }

  void TearDown() override {
    gst_element_set_state(element_, GST_STATE_NULL);
    gst_pad_set_active(upstream_, FALSE);
    gst_pad_set_active(downstream_, FALSE);
    gst_object_unref(upstream_);
    gst_object_unref(downstream_);
    gst_object_unref(element_);
    for (auto* s : requests_) gst_structure_free(s);
  }

  // Pushes one packet and checks it came out before the push returned.
  void push(guint16 seq, guint32 ssrc = 0xAAAA) {
    size_t before = out_.size();
    ASSERT_EQ(gst_pad_push(upstream_, packet(ssrc, seq)), GST_FLOW_OK);
    ASSERT_EQ(out_.size(), before + 1) << "packet " << seq << " held";
    EXPECT_EQ(out_.back(), seq);
  }

  std::vector<guint> requested_seqnums() const {
    std::vector<guint> v;
    for (auto* s : requests_) {
      guint seq = 0;
      EXPECT_TRUE(gst_structure_has_name(s, "GstRTPRetransmissionRequest"));
      EXPECT_TRUE(gst_structure_get_uint(s, "seqnum", &seq));
      v.push_back(seq);
    }
    return v;
  }

  GstElement* element_ = nullptr;
  GstPad* upstream_ = nullptr;
  GstPad* downstream_ = nullptr;
  std::vector<guint16> out_;
  std::vector<GstStructure*> requests_;
};

TEST_F(PassthroughTest, GapsAreAskedForOnceAndLatePacketsForwarded) {
  for (guint16 s = 65533; s != 2; s++) push(s);  // across the wrap
  EXPECT_TRUE(requests_.empty());
  push(5);  // 2, 3, 4 missing
  ASSERT_EQ(requested_seqnums(), (std::vector<guint>{2, 3, 4}));
  const GstStructure* r = requests_[0];
  guint ssrc = 0, deadline = 0, delay = 99, avg_rtt = 99;
  guint64 running_time = 0, spacing = 0;
  EXPECT_TRUE(gst_structure_get_uint(r, "ssrc", &ssrc));
  EXPECT_EQ(ssrc, 0xAAAAu);
  EXPECT_TRUE(gst_structure_get_uint(r, "deadline", &deadline));
  EXPECT_EQ(deadline, 150u);
  EXPECT_TRUE(gst_structure_get_uint(r, "delay", &delay));
  EXPECT_EQ(delay, 0u);
  EXPECT_TRUE(gst_structure_get_uint(r, "avg-rtt", &avg_rtt));
  EXPECT_TRUE(gst_structure_get_uint64(r, "running-time", &running_time));
  EXPECT_EQ(running_time, 5 * 10 * GST_MSECOND);  // of the packet that showed the gap
  EXPECT_TRUE(gst_structure_get_uint64(r, "packet-spacing", &spacing));

  push(3);  // retransmissions arrive late, in any order, and go straight out
  push(2);
  push(6);
  push(6);  // the highest again: a duplicate
  push(1);  // late, never asked for
  EXPECT_EQ(requested_seqnums().size(), 3u) << "nothing asked twice";
  PassthroughCounters c = passthrough_counters(element_);
  EXPECT_EQ(c.packets, 11u);
  EXPECT_EQ(c.gaps, 1u);
  EXPECT_EQ(c.rtx_requests, 3u);
  EXPECT_EQ(c.recovered, 2u);
  EXPECT_EQ(c.duplicates, 1u);
  EXPECT_EQ(c.late, 1u);

  GstStructure* stats = nullptr;
  g_object_get(element_, "stats", &stats, nullptr);
  ASSERT_NE(stats, nullptr);
  guint64 pushed = 0, late = 0, dups = 0, success = 0, lost = 99;
  // What webrtcbin reads for its inbound-rtp stats.
  EXPECT_TRUE(gst_structure_get(stats, "num-pushed", G_TYPE_UINT64, &pushed, "num-late",
                                G_TYPE_UINT64, &late, "num-duplicates", G_TYPE_UINT64, &dups,
                                "rtx-success-count", G_TYPE_UINT64, &success, "num-lost",
                                G_TYPE_UINT64, &lost, nullptr));
  EXPECT_EQ(pushed, 11u);
  EXPECT_EQ(success, 2u);
  EXPECT_EQ(lost, 0u);
  gst_structure_free(stats);
}

TEST_F(PassthroughTest, SourcesAreTrackedApart) {
  push(100, 1);
  push(7000, 2);
  push(101, 1);
  push(7002, 2);
  ASSERT_EQ(requested_seqnums(), (std::vector<guint>{7001}));
  guint ssrc = 0;
  gst_structure_get_uint(requests_[0], "ssrc", &ssrc);
  EXPECT_EQ(ssrc, 2u);
}

TEST_F(PassthroughTest, NoRequestsWithoutRetransmissionNorForARestart) {
  g_object_set(element_, "do-retransmission", FALSE, nullptr);
  push(10);
  push(13);
  EXPECT_TRUE(requests_.empty());
  EXPECT_EQ(passthrough_counters(element_).gaps, 1u);
  g_object_set(element_, "do-retransmission", TRUE, nullptr);
  push(13 + 101);  // past max-gap (100): the sender restarted
  push(13 + 102);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(PassthroughTest, RequestsAreRateLimited) {
  g_object_set(element_, "max-rtx-per-second", 4u, nullptr);
  push(1);
  push(12);  // 10 missing, 4 asked
  push(20);  // 7 more missing, none asked within the same second
  EXPECT_EQ(requested_seqnums(), (std::vector<guint>{2, 3, 4, 5}));
  PassthroughCounters c = passthrough_counters(element_);
  EXPECT_EQ(c.gaps, 2u);
  EXPECT_EQ(c.rtx_requests, 4u);
}

TEST_F(PassthroughTest, AddsNoLatencyAndHasWhatRtpbinSets) {
  GstQuery* q = gst_query_new_latency();
  GPtr<GstPad> src = adopt(gst_element_get_static_pad(element_, "src"));
  ASSERT_TRUE(gst_pad_query(src.get(), q));
  gboolean live = FALSE;
  GstClockTime min = 0, max = 0;
  gst_query_parse_latency(q, &live, &min, &max);
  EXPECT_TRUE(live);
  EXPECT_EQ(min, 10 * GST_MSECOND);  // upstream's, nothing of ours (latency=150)
  gst_query_unref(q);
  GObjectClass* klass = G_OBJECT_GET_CLASS(element_);
  for (const char* name : {"latency", "do-retransmission", "drop-on-latency", "do-lost",
                           "max-dropout-time", "max-misorder-time", "stats"})
    EXPECT_NE(g_object_class_find_property(klass, name), nullptr) << name;
}

// ---- a real webrtcbin pair (tools/bench/jitter_pair.h) ----

// MediaTest for its GLib warning check.
using WebrtcPairTest = MediaTest;

TEST_F(WebrtcPairTest, PassthroughAsksForLostPacketsAndDoesNotDelay) {
  bench::JitterFigures f = bench::run_jitter_pair(true);
  EXPECT_TRUE(f.completed) << "packets out of the receiver: " << f.packets_out << "; "
                           << f.errors;
  printf("%d packets out of the receiver in %.1f s\n", f.packets_out, f.seconds);
  printf("pass-through: first packet %.1f ms after arrival; dropped %zu, arrived later %zu; "
         "requests %" G_GUINT64_FORMAT ", recovered %" G_GUINT64_FORMAT ", rtx sent %u\n",
         f.first_packet_ms, f.dropped, f.dropped_arrived, f.rtx_requests, f.recovered,
         f.rtx_packets);
  EXPECT_GE(f.first_packet_ms, 0);
  EXPECT_LT(f.first_packet_ms, 100);
  EXPECT_GE(f.dropped, 5u);
  EXPECT_GE(f.rtx_requests, f.dropped / 2);
  EXPECT_GT(f.rtx_packets, 0u);
  EXPECT_GE(f.dropped_arrived, f.dropped / 2) << "the missing seqnums reached the receiver";
  EXPECT_GT(f.recovered, 0u);
}

}  // namespace
}  // namespace rtcmesh::media::test
