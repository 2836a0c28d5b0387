// Output branches: unlinked pads drop without errors, late links, links from
// a streaming thread, relinks into another form, EOS on finish, forced modes,
// removal while the rest keeps playing.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "gst/media/fanout.h"
#include "gst/media/output.h"
#include "gst/media/send.h"
#include "tests/media/media_fixture.h"

namespace rtcmesh::media::test {
namespace {

using namespace std::chrono_literals;

class OutputTest : public MediaTest {
 protected:
  // videotestsrc → VP8 (long GOP, so only keyframe requests give a quick
  // first frame) → fan-out.
  void build_source(Codec codec = Codec::kVP8) {
    GstPad* src = add_video_source();
    CapsPtr input = adopt(gst_caps_from_string("video/x-raw, width=320, height=240"));
    EncoderSettings settings;
    settings.video_codec = codec;
    settings.keyframe_interval = 300;  // 20 s at 15 fps
    chain_ = build_send_chain(bin_, input.get(), settings, 96);
    ASSERT_EQ(gst_pad_link(src, chain_.sink), GST_PAD_LINK_OK);
    fan_ = std::make_unique<FanOut>(bin_, chain_.src, "fan");
    templ_ = adopt(src_template("video_%u", true));
  }

  std::unique_ptr<OutputBranch> make_output(const char* name, OutputMode mode = OutputMode::kAuto,
                                            Codec codec = Codec::kVP8) {
    auto out = std::make_unique<OutputBranch>(bin_, codec, mode, name, templ_.get(),
                                              std::string("peer/") + name);
    EXPECT_TRUE(gst_element_add_pad(GST_ELEMENT(bin_), out->src_pad()));
    return out;
  }

  // Counts buffers entering an output branch (what webrtcbin would push).
  void count_entering(OutputBranch& out, std::atomic<int>* counter) {
    gst_pad_add_probe(
        out.sink_pad(),
        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
        [](GstPad*, GstPadProbeInfo*, gpointer data) {
          // Payloaders push lists: count what comes in, whatever its shape.
          ++*static_cast<std::atomic<int>*>(data);
          return GST_PAD_PROBE_OK;
        },
        counter, nullptr);
  }

  // Adds a counting appsink to the running pipeline.
  std::unique_ptr<CountingSink> add_sink(const char* caps) {
    auto sink = std::make_unique<CountingSink>(caps);
    gst_bin_add(GST_BIN(pipeline_), sink->element());
    gst_element_sync_state_with_parent(sink->element());
    return sink;
  }

  void TearDown() override {
    stop();
    for (auto& out : outputs_) out->remove_from(GST_ELEMENT(bin_));
    outputs_.clear();
    fan_.reset();
    MediaTest::TearDown();
  }

  OutputBranch& keep(std::unique_ptr<OutputBranch> out) {
    outputs_.push_back(std::move(out));
    return *outputs_.back();
  }

  SendChain chain_;
  std::unique_ptr<FanOut> fan_;
  GPtr<GstPadTemplate> templ_;
  std::vector<std::unique_ptr<OutputBranch>> outputs_;
  std::vector<std::unique_ptr<CountingSink>> sinks_;
};

TEST_F(OutputTest, UnlinkedPadDropsQuietlyThenLinksLater) {
  build_source();
  play();
  run_for(300ms);
  // Created while PLAYING, as on webrtcbin's pad-added.
  OutputBranch& out = keep(make_output("video_0"));
  std::atomic<int> entering{0};
  count_entering(out, &entering);
  fan_->attach(out.sink_pad());
  // Counts over windows, not timings: the machine may be loaded.
  EXPECT_TRUE(run_until([&] { return entering >= 20; }, 10s))
      << "RTP must keep flowing into the unlinked branch: " << entering.load();
  EXPECT_TRUE(errors_.empty()) << errors_text();
  EXPECT_TRUE(warnings_.empty()) << errors_text();
  EXPECT_EQ(out.form(), std::nullopt);

  guint64 sent_before = fan_->keyframes_sent();
  sinks_.push_back(add_sink("video/x-raw"));
  CountingSink& sink = *sinks_.back();
  auto linked_at = std::chrono::steady_clock::now();
  ASSERT_EQ(gst_pad_link(out.src_pad(), sink.pad()), GST_PAD_LINK_OK);
  EXPECT_EQ(out.form(), OutputMode::kRaw);
  ASSERT_TRUE(run_until([&] { return sink.frames() >= 5; }, 8s)) << errors_text();
  // With a 20 s GOP the first frame comes only from the keyframe request.
  EXPECT_LT(std::chrono::steady_clock::now() - linked_at, 3s);
  EXPECT_GT(fan_->keyframes_sent(), sent_before);
  EXPECT_TRUE(errors_.empty()) << errors_text();
  CapsPtr caps = sink.caps();
  const GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  EXPECT_TRUE(gst_structure_has_name(s, "video/x-raw"));
  int w = 0, h = 0;
  EXPECT_TRUE(gst_structure_get_int(s, "width", &w) && gst_structure_get_int(s, "height", &h));
  EXPECT_EQ(w, 320);
  EXPECT_EQ(h, 240);
}

TEST_F(OutputTest, LinkedFromTheStreamingThread) {
  // Like a pad-added handler that links (gst-launch) while webrtcbin's
  // streaming thread is about to push into the branch.
  build_source();
  OutputBranch& out = keep(make_output("video_0"));
  sinks_.push_back(std::make_unique<CountingSink>("video/x-vp8"));
  CountingSink& sink = *sinks_.back();
  gst_bin_add(GST_BIN(pipeline_), sink.element());
  struct Ctx {
    GstPad* ghost;
    GstPad* sink;
    std::atomic<bool> linked{false};
  } ctx{out.src_pad(), sink.pad()};
  fan_->attach(out.sink_pad());
  play();
  run_for(1s);
  gst_pad_add_probe(
      out.sink_pad(),
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo*, gpointer data) {
        auto* c = static_cast<Ctx*>(data);
        if (!c->linked.exchange(true)) gst_pad_link(c->ghost, c->sink);
        return GST_PAD_PROBE_REMOVE;
      },
      &ctx, nullptr);
  ASSERT_TRUE(run_until([&] { return sink.frames() >= 5; }, 8s)) << errors_text();
  EXPECT_EQ(out.form(), OutputMode::kEncoded);
  EXPECT_TRUE(sink.first_was_keyframe());
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

TEST_F(OutputTest, RelinkBuildsTheNewForm) {
  build_source();
  OutputBranch& out = keep(make_output("video_0"));
  fan_->attach(out.sink_pad());
  sinks_.push_back(std::make_unique<CountingSink>("application/x-rtp"));
  CountingSink& rtp = *sinks_.back();
  gst_bin_add(GST_BIN(pipeline_), rtp.element());
  ASSERT_EQ(gst_pad_link(out.src_pad(), rtp.pad()), GST_PAD_LINK_OK);
  play();
  ASSERT_TRUE(run_until([&] { return rtp.frames() >= 5; }, 8s)) << errors_text();
  EXPECT_EQ(out.form(), OutputMode::kRtp);

  ASSERT_TRUE(gst_pad_unlink(out.src_pad(), rtp.pad()));
  run_for(1s);
  int rtp_after_unlink = rtp.samples();
  EXPECT_TRUE(errors_.empty()) << errors_text();

  sinks_.push_back(add_sink("video/x-raw"));
  CountingSink& raw = *sinks_.back();
  ASSERT_EQ(gst_pad_link(out.src_pad(), raw.pad()), GST_PAD_LINK_OK);
  EXPECT_EQ(out.form(), OutputMode::kRaw);
  ASSERT_TRUE(run_until([&] { return raw.frames() >= 5; }, 8s)) << errors_text();
  EXPECT_EQ(rtp.samples(), rtp_after_unlink);
  EXPECT_TRUE(errors_.empty()) << errors_text();
  CapsPtr caps = raw.caps();
  EXPECT_TRUE(gst_structure_has_name(gst_caps_get_structure(caps.get(), 0), "video/x-raw"));

  // And back to the same form as before the unlink: the chain is reused.
  ASSERT_TRUE(gst_pad_unlink(out.src_pad(), raw.pad()));
  run_for(300ms);
  sinks_.push_back(add_sink("video/x-raw"));
  CountingSink& raw2 = *sinks_.back();
  ASSERT_EQ(gst_pad_link(out.src_pad(), raw2.pad()), GST_PAD_LINK_OK);
  ASSERT_TRUE(run_until([&] { return raw2.frames() >= 5; }, 8s)) << errors_text();
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

TEST_F(OutputTest, FinishSendsEosAndTheRestGoesOn) {
  build_source();
  OutputBranch& a = keep(make_output("video_0"));
  OutputBranch& b = keep(make_output("video_1"));
  fan_->attach(a.sink_pad());
  fan_->attach(b.sink_pad());
  sinks_.push_back(std::make_unique<CountingSink>("video/x-raw"));
  sinks_.push_back(std::make_unique<CountingSink>("video/x-vp8"));
  CountingSink& sa = *sinks_[0];
  CountingSink& sb = *sinks_[1];
  gst_bin_add_many(GST_BIN(pipeline_), sa.element(), sb.element(), nullptr);
  ASSERT_EQ(gst_pad_link(a.src_pad(), sa.pad()), GST_PAD_LINK_OK);
  ASSERT_EQ(gst_pad_link(b.src_pad(), sb.pad()), GST_PAD_LINK_OK);
  play();
  ASSERT_TRUE(run_until([&] { return sa.frames() >= 3 && sb.frames() >= 3; }, 8s)) << errors_text();
  std::atomic<int> entering{0};
  count_entering(a, &entering);
  a.finish();
  ASSERT_TRUE(run_until([&] { return sa.eos(); }, 3s)) << "no EOS out of the finished pad";
  int a_frames = sa.frames();
  int b_frames = sb.frames();
  EXPECT_TRUE(run_until([&] { return sb.frames() >= b_frames + 8 && entering >= 8; }, 10s))
      << "the other pad must go on and the upstream keep pushing into the finished branch: "
      << sb.frames() - b_frames << " frames, " << entering.load() << " entering";
  EXPECT_EQ(sa.frames(), a_frames) << "data after EOS";
  EXPECT_FALSE(sb.eos());
  EXPECT_TRUE(errors_.empty()) << errors_text();
  EXPECT_FALSE(eos_);
}

TEST_F(OutputTest, ForcedModes) {
  build_source(Codec::kH264);
  OutputBranch& raw = keep(make_output("video_0", OutputMode::kRaw, Codec::kH264));
  OutputBranch& rtp = keep(make_output("video_1", OutputMode::kRtp, Codec::kH264));
  fan_->attach(raw.sink_pad());
  fan_->attach(rtp.sink_pad());
  // Both peers accept anything: only the mode decides.
  sinks_.push_back(std::make_unique<CountingSink>(""));
  sinks_.push_back(std::make_unique<CountingSink>(""));
  gst_bin_add_many(GST_BIN(pipeline_), sinks_[0]->element(), sinks_[1]->element(), nullptr);
  ASSERT_EQ(gst_pad_link(raw.src_pad(), sinks_[0]->pad()), GST_PAD_LINK_OK);
  ASSERT_EQ(gst_pad_link(rtp.src_pad(), sinks_[1]->pad()), GST_PAD_LINK_OK);
  play();
  ASSERT_TRUE(run_until([&] { return sinks_[0]->frames() >= 3 && sinks_[1]->frames() >= 3; }, 8s))
      << errors_text();
  EXPECT_EQ(raw.form(), OutputMode::kRaw);
  EXPECT_EQ(rtp.form(), OutputMode::kRtp);
  EXPECT_TRUE(
      gst_structure_has_name(gst_caps_get_structure(sinks_[0]->caps().get(), 0), "video/x-raw"));
  const GstStructure* s = gst_caps_get_structure(sinks_[1]->caps().get(), 0);
  EXPECT_TRUE(gst_structure_has_name(s, "application/x-rtp"));
  EXPECT_STREQ(gst_structure_get_string(s, "encoding-name"), "H264");
  // The pads are live, whatever the form.
  for (GstPad* pad : {raw.src_pad(), rtp.src_pad()}) {
    GstQuery* q = gst_query_new_latency();
    EXPECT_TRUE(gst_pad_query(pad, q));
    gboolean live = FALSE;
    gst_query_parse_latency(q, &live, nullptr, nullptr);
    EXPECT_TRUE(live);
    gst_query_unref(q);
  }
}

TEST_F(OutputTest, RemovedWhilePlaying) {
  build_source();
  OutputBranch& keepme = keep(make_output("video_0"));
  fan_->attach(keepme.sink_pad());
  auto gone = make_output("video_1");
  int gone_branch = fan_->attach(gone->sink_pad());
  sinks_.push_back(std::make_unique<CountingSink>("video/x-raw"));
  sinks_.push_back(std::make_unique<CountingSink>("video/x-raw"));
  gst_bin_add_many(GST_BIN(pipeline_), sinks_[0]->element(), sinks_[1]->element(), nullptr);
  ASSERT_EQ(gst_pad_link(keepme.src_pad(), sinks_[0]->pad()), GST_PAD_LINK_OK);
  ASSERT_EQ(gst_pad_link(gone->src_pad(), sinks_[1]->pad()), GST_PAD_LINK_OK);
  play();
  ASSERT_TRUE(run_until([&] { return sinks_[0]->frames() >= 3 && sinks_[1]->frames() >= 3; }, 8s))
      << errors_text();
  // What an element does when a peer leaves: EOS, stop feeding, remove.
  gone->finish();
  fan_->detach(gone_branch);
  gone->remove_from(GST_ELEMENT(bin_));
  gone.reset();
  GPtr<GstPad> pad = adopt(gst_element_get_static_pad(GST_ELEMENT(bin_), "video_1"));
  EXPECT_FALSE(pad);
  int before = sinks_[0]->frames();
  EXPECT_TRUE(run_until([&] { return sinks_[0]->frames() >= before + 8; }, 10s));
  EXPECT_TRUE(errors_.empty()) << errors_text();
}

}  // namespace
}  // namespace rtcmesh::media::test
