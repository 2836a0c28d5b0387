// Router (gst/sfu/router.h): the forwarding graph it keeps and what it asks
// of each subscriber's ForwardingPath, with real Sources (FanOuts in a bin)
// and a recording path in place of a webrtcbin connection.
#include "gst/sfu/router.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/media/media_fixture.h"

namespace rtcmesh::sfu {
namespace {

// Records what the Router asks of a connection.
class RecordingPath : public ForwardingPath {
 public:
  size_t slot_count() const override { return fed.size(); }
  void add_slot(media::Codec, Source* source, const GstCaps*) override { fed.push_back(source); }
  void feed(size_t index, Source* source) override {
    fed.at(index) = source;
    feeds++;
  }
  void set_sending(size_t index, bool sending) override {
    log += std::to_string(index) + (sending ? "+" : "-");
  }
  const std::string& name() const override { return name_; }
  void make_offer(SdpDone) override {}
  void accept_answer(const std::string&, std::function<void(const std::string&)>) override {}
  void answer_offer(const std::string&, SdpDone) override {}
  void add_remote_candidate(guint, const std::string&) override {}
  bool is_connected() const override { return true; }
  void enable_data_channels() override {}
  bool send_data(std::string, bool, bool) override { return false; }  // the Router sends none
  StructurePtr stats() const override { return nullptr; }
  guint64 retransmissions() override { return 0; }
  bool posted(GstMessage*) const override { return false; }

  std::vector<Source*> fed;  // per slot
  int feeds = 0;
  std::string log;  // set_sending calls
  std::string name_ = "recording";
};

class RouterTest : public media::test::MediaTest {
 protected:
  // A local publisher's track over a FanOut of an identity in the bin.
  Source& add_source(const std::string& publisher, media::Codec codec) {
    GstElement* e = gst_element_factory_make("identity", nullptr);
    gst_bin_add(bin_, e);
    GPtr<GstPad> src = adopt(gst_element_get_static_pad(e, "src"));
    fanouts_.push_back(std::make_unique<media::FanOut>(bin_, src.get(), publisher));
    sources_.push_back(std::make_unique<Source>(publisher, "0", codec, nullptr,
                                                fanouts_.back().get()));
    return *sources_.back();
  }
  void TearDown() override {
    sources_.clear();
    fanouts_.clear();
    MediaTest::TearDown();
  }
  Router router_;
  std::vector<std::unique_ptr<media::FanOut>> fanouts_;
  std::vector<std::unique_ptr<Source>> sources_;
};

TEST_F(RouterTest, LeavingPublisherStopsExactlyTheSlotsItFed) {
  Source& a = add_source("a", media::Codec::kVP8);
  Source& b = add_source("b", media::Codec::kOpus);
  RecordingPath s1, s2;
  router_.attach("s1", s1);
  router_.attach("s2", s2);
  router_.add_slot("s1", media::Codec::kOpus, &b);
  router_.add_slot("s1", media::Codec::kVP8, &a);
  router_.add_slot("s2", media::Codec::kVP8, &a);
  router_.add_slot("s2", media::Codec::kVP8, nullptr);
  EXPECT_EQ(router_.slot_count("s2"), 2u);
  EXPECT_EQ(router_.source("s1", 1), &a);
  EXPECT_EQ(router_.codec("s1", 0), media::Codec::kOpus);

  router_.detach_source(&a);
  EXPECT_EQ(s1.fed, (std::vector<Source*>{&b, nullptr}));
  EXPECT_EQ(s2.fed, (std::vector<Source*>{nullptr, nullptr}));
  EXPECT_EQ(router_.source("s1", 1), nullptr);
  EXPECT_EQ(router_.source("s1", 0), &b);
  // Nothing left for a: a second call touches no path.
  int feeds = s1.feeds + s2.feeds;
  router_.detach_source(&a);
  EXPECT_EQ(s1.feeds + s2.feeds, feeds);
  Router::Counters c = router_.counters();
  EXPECT_EQ(c.attaches, 3u);
  EXPECT_EQ(c.detaches, 2u);
}

TEST_F(RouterTest, SwitchSourceFeedsOnlyOnChangeAndSetsTheDirection) {
  Source& a = add_source("a", media::Codec::kVP8);
  Source& c = add_source("c", media::Codec::kVP8);
  RecordingPath s;
  router_.attach("s", s);
  router_.add_slot("s", media::Codec::kVP8, nullptr);
  router_.switch_source("s", 0, &a, false);  // attach
  router_.switch_source("s", 0, &a, false);  // no change: no feed
  router_.switch_source("s", 0, &c, false);  // switch
  router_.switch_source("s", 0, nullptr, true);  // detach, inactive
  EXPECT_EQ(s.feeds, 3);
  EXPECT_EQ(s.log, "0+0+0+0-");
  Router::Counters n = router_.counters();
  EXPECT_EQ(n.attaches, 2u);
  EXPECT_EQ(n.detaches, 2u);
  EXPECT_EQ(n.switches, 1u);
  // A detached source no longer reaches this slot.
  router_.detach_source(&c);
  EXPECT_EQ(s.feeds, 3);
}

TEST_F(RouterTest, KeyframesAreAskedOfTheFedVideoSourcesOnly) {
  Source& video = add_source("v", media::Codec::kVP8);
  Source& audio = add_source("o", media::Codec::kOpus);
  Source& other = add_source("x", media::Codec::kVP8);
  RecordingPath s, t;
  router_.attach("s", s);
  router_.attach("t", t);
  router_.add_slot("s", media::Codec::kVP8, &video);
  router_.add_slot("s", media::Codec::kOpus, &audio);
  router_.add_slot("s", media::Codec::kVP8, nullptr);
  router_.add_slot("t", media::Codec::kVP8, &other);
  router_.request_keyframes("s");
  EXPECT_EQ(video.fanout().keyframe_requests(), 1u);
  EXPECT_EQ(audio.fanout().keyframe_requests(), 0u);
  EXPECT_EQ(other.fanout().keyframe_requests(), 0u);
  EXPECT_EQ(router_.counters().keyframe_requests, 1u);
  router_.request_keyframes("gone");  // a connection event after it left: nothing
  EXPECT_EQ(router_.counters().keyframe_requests, 1u);
}

TEST_F(RouterTest, DetachedConnectionLeavesTheGraph) {
  Source& a = add_source("a", media::Codec::kVP8);
  RecordingPath s, t;
  router_.attach("s", s);
  router_.attach("t", t);
  router_.add_slot("s", media::Codec::kVP8, &a);
  router_.add_slot("t", media::Codec::kVP8, &a);
  router_.detach("s");
  // The departing connection is not fed again (it is about to be destroyed).
  router_.detach_source(&a);
  EXPECT_EQ(s.fed, (std::vector<Source*>{&a}));
  EXPECT_EQ(t.fed, (std::vector<Source*>{nullptr}));
  EXPECT_THROW(router_.slot_count("s"), std::logic_error);
}

}  // namespace
}  // namespace rtcmesh::sfu
