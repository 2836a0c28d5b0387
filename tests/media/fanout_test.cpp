// Fan-out: branches come and go while PLAYING, EOS with zero branches, merged
// and rate-limited keyframe requests.
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "gst/media/fanout.h"
#include "gst/media/send.h"
#include "tests/media/media_fixture.h"

namespace rtcmesh::media::test {
namespace {

using namespace std::chrono_literals;

class FanOutTest : public MediaTest {
 protected:
  void build(int num_buffers = -1, unsigned keyframe_interval = 60) {
    GstPad* src = add_video_source(num_buffers);
    CapsPtr input = adopt(gst_caps_from_string("video/x-raw, width=320, height=240"));
    EncoderSettings settings;
    settings.keyframe_interval = keyframe_interval;
    chain_ = build_send_chain(bin_, input.get(), settings, 96);
    ASSERT_EQ(gst_pad_link(src, chain_.sink), GST_PAD_LINK_OK);
    fan_ = std::make_unique<FanOut>(bin_, chain_.src, "fan");
  }

  // An appsink inside the bin, as a webrtcbin sink pad would be.
  CountingSink& add_target() {
    sinks_.push_back(std::make_unique<CountingSink>("application/x-rtp"));
    gst_bin_add(bin_, sinks_.back()->element());
    gst_element_sync_state_with_parent(sinks_.back()->element());
    return *sinks_.back();
  }

  void TearDown() override {
    stop();
    fan_.reset();
    MediaTest::TearDown();
  }

  SendChain chain_;
  std::unique_ptr<FanOut> fan_;
  std::vector<std::unique_ptr<CountingSink>> sinks_;
};

TEST_F(FanOutTest, DetachOneWhileOthersKeepReceiving) {
  build();
  CountingSink& a = add_target();
  CountingSink& b = add_target();
  int ia = fan_->attach(a.pad());
  int ib = fan_->attach(b.pad());
  EXPECT_NE(ia, ib);
  play();
  ASSERT_TRUE(run_until([&] { return a.frames() >= 3; }, 8s)) << errors_text();
  // Third branch while PLAYING.
  CountingSink& c = add_target();
  fan_->attach(c.pad());
  EXPECT_EQ(fan_->branch_count(), 3u);
  ASSERT_TRUE(run_until([&] { return c.frames() >= 5 && b.frames() >= 5; }, 8s)) << errors_text();

  fan_->detach(ib);
  fan_->detach(ib);    // twice: ignored
  fan_->detach(4242);  // unknown: ignored
  EXPECT_EQ(fan_->branch_count(), 2u);
  int a0 = a.frames(), b0 = b.frames(), c0 = c.frames();
  EXPECT_TRUE(run_until([&] { return a.frames() >= a0 + 12 && c.frames() >= c0 + 12; }, 10s))
      << a.frames() - a0 << " and " << c.frames() - c0 << " frames after the detach";
  EXPECT_EQ(b.frames(), b0) << "a detached branch must get nothing";
  EXPECT_FALSE(gst_pad_is_linked(b.pad()));
  EXPECT_TRUE(errors_.empty()) << errors_text();
  EXPECT_TRUE(warnings_.empty()) << errors_text();
}

TEST_F(FanOutTest, AttachDetachChurnWhilePlaying) {
  build();
  CountingSink& steady = add_target();
  fan_->attach(steady.pad());
  play();
  ASSERT_TRUE(run_until([&] { return steady.frames() >= 2; }, 8s)) << errors_text();
  // Viewers come and go from another thread while data flows.
  std::thread churn([&] {
    for (int i = 0; i < 30; ++i) {
      CountingSink t("application/x-rtp");
      gst_bin_add(bin_, t.element());
      gst_element_sync_state_with_parent(t.element());
      int id = fan_->attach(t.pad());
      std::this_thread::sleep_for(std::chrono::milliseconds(i % 4 * 20));
      fan_->detach(id);
      gst_element_set_state(t.element(), GST_STATE_NULL);
      gst_bin_remove(bin_, t.element());
    }
  });
  int before = steady.frames();
  run_until([] { return false; }, 1500ms);
  churn.join();
  EXPECT_EQ(fan_->branch_count(), 1u);
  ASSERT_TRUE(run_until([&] { return steady.frames() >= before + 15; }, 4s)) << errors_text();
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

TEST_F(FanOutTest, EosWithZeroBranches) {
  build(/*num_buffers=*/20);
  play();
  ASSERT_TRUE(run_until([&] { return eos_ || !errors_.empty(); }, 10s)) << "no EOS message";
  EXPECT_TRUE(eos_);
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

TEST_F(FanOutTest, EosEventWithZeroBranches) {
  // What gst-launch -e does on Ctrl-C.
  build();
  play();
  run_for(500ms);
  gst_element_send_event(pipeline_, gst_event_new_eos());
  ASSERT_TRUE(run_until([&] { return eos_ || !errors_.empty(); }, 5s)) << "no EOS message";
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

TEST_F(FanOutTest, DetachedBranchesDoNotHoldUpEos) {
  build(/*num_buffers=*/30);
  CountingSink& a = add_target();
  int id = fan_->attach(a.pad());
  play();
  ASSERT_TRUE(run_until([&] { return a.frames() >= 3; }, 8s)) << errors_text();
  fan_->detach(id);
  // The detached appsink never gets EOS: take it out of the count, as an
  // element removes a gone viewer's webrtcbin.
  gst_element_set_state(a.element(), GST_STATE_NULL);
  gst_bin_remove(bin_, a.element());
  ASSERT_TRUE(run_until([&] { return eos_ || !errors_.empty(); }, 10s)) << "no EOS message";
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

struct KeyframeCounter {
  std::atomic<int> requests{0};     // force-key-unit events reaching the encoder
  std::atomic<int> all_headers{0};  // … with all-headers=TRUE
  std::atomic<int> keyframes{0};    // keyframes leaving the encoder

  void watch(GstElement* encoder) {
    GPtr<GstPad> src = adopt(gst_element_get_static_pad(encoder, "src"));
    gst_pad_add_probe(
        src.get(),
        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_EVENT_UPSTREAM | GST_PAD_PROBE_TYPE_BUFFER),
        [](GstPad*, GstPadProbeInfo* info, gpointer data) {
          auto* self = static_cast<KeyframeCounter*>(data);
          if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
            if (!GST_BUFFER_FLAG_IS_SET(GST_PAD_PROBE_INFO_BUFFER(info),
                                        GST_BUFFER_FLAG_DELTA_UNIT))
              ++self->keyframes;
          } else if (gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info))) {
            ++self->requests;
            gboolean all = FALSE;
            gst_video_event_parse_upstream_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info), nullptr,
                                                          &all, nullptr);
            if (all) ++self->all_headers;
          }
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
  }
};

TEST_F(FanOutTest, KeyframeRequestsAreMerged) {
  build(-1, /*keyframe_interval=*/300);
  KeyframeCounter counter;
  counter.watch(chain_.encoder);
  play();
  ASSERT_TRUE(run_until([&] { return counter.keyframes >= 1; }, 8s)) << errors_text();
  run_for(700ms);
  ASSERT_EQ(counter.keyframes.load(), 1) << "the GOP is 20 s: only the first frame is a keyframe";

  // 10 requests within 100 ms → one sent now.
  int sent_now = 0;
  for (int i = 0; i < 10; ++i) {
    if (fan_->request_keyframe()) ++sent_now;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(sent_now, 1);
  EXPECT_EQ(fan_->keyframe_requests(), 10u);
  EXPECT_EQ(fan_->keyframes_sent(), 1u);
  ASSERT_TRUE(run_until([&] { return counter.keyframes >= 2; }, 2s)) << "no keyframe produced";
  EXPECT_EQ(counter.requests.load(), 1);
  EXPECT_EQ(counter.all_headers.load(), 1);

  // The merged ones become one trailing request at the end of the interval,
  // for a viewer that joined just after the keyframe went by; then nothing.
  EXPECT_TRUE(run_until([&] { return counter.keyframes >= 3; }, 5s));
  run_for(700ms);
  EXPECT_EQ(fan_->keyframes_sent(), 2u);
  EXPECT_EQ(counter.requests.load(), 2);
  EXPECT_EQ(counter.keyframes.load(), 3);
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

TEST_F(FanOutTest, BranchKeyframeEventsGoThroughTheSameLimit) {
  build(-1, /*keyframe_interval=*/300);
  CountingSink& a = add_target();
  CountingSink& b = add_target();
  fan_->attach(a.pad());
  fan_->attach(b.pad());
  KeyframeCounter counter;
  counter.watch(chain_.encoder);
  play();
  ASSERT_TRUE(run_until([&] { return a.frames() >= 3 && b.frames() >= 3; }, 8s)) << errors_text();
  run_for(600ms);
  // A burst of PLIs from two viewers (webrtcbin sends these upstream), not
  // asking for headers: forwarded once, with all-headers.
  for (int i = 0; i < 10; ++i) {
    GstPad* from = i % 2 ? a.pad() : b.pad();
    gst_pad_push_event(from,
                       gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, FALSE, i));
  }
  EXPECT_EQ(fan_->keyframe_requests(), 10u);
  EXPECT_EQ(fan_->keyframes_sent(), 1u);
  ASSERT_TRUE(run_until([&] { return counter.requests >= 1; }, 1s));
  EXPECT_EQ(counter.requests.load(), 1);
  EXPECT_EQ(counter.all_headers.load(), 1);
  // A caller's request right after is merged with them too.
  EXPECT_FALSE(fan_->request_keyframe());
  EXPECT_TRUE(run_until([&] { return counter.requests >= 2 && counter.keyframes >= 3; }, 5s));
  run_for(700ms);
  EXPECT_EQ(fan_->keyframes_sent(), 2u);
  EXPECT_EQ(counter.requests.load(), 2);
  EXPECT_EQ(counter.all_headers.load(), 2);
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

}  // namespace
}  // namespace rtcmesh::media::test
