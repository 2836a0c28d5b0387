// Issue 12, what a newcomer meets first. Point 5: mistakes fail with a
// message that says what to fix instead of running on: a codec name no
// element knows fails the state change listing the valid ones; a first
// connection to an endpoint that never answers ends in "could not reach …"
// after connect-attempts (a playbin of a wrong whep:// URI stops instead of
// waiting for ever). Point 6: gst-inspect-1.0 describes every signal's
// arguments, and the plugin claims only what is built.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "tests/support/harness.h"

using namespace rtcmesh::test;

namespace {

std::string joined(const std::vector<std::string>& v) {
  return std::accumulate(v.begin(), v.end(), std::string(),
                         [](std::string a, const std::string& b) { return a + b + "\n"; });
}

struct BadCodec {
  const char* launch;
  const char* property;
  const char* value;
  const char* valid;
};

TEST(Mistakes, UnknownCodecNamesFailTheStateChangeListingTheValidOnes) {
  const BadCodec cases[] = {
      {"rtcwhipsink endpoint=http://127.0.0.1:1/whip", "video-codec", "av1", "vp8, vp9, h264"},
      {"rtcwhipsink endpoint=http://127.0.0.1:1/whip", "video-codec", "vp88", "vp8, vp9, h264"},
      {"rtcwhipsink endpoint=http://127.0.0.1:1/whip", "video-codec", "h265", "vp8, vp9, h264"},
      {"rtcwhipsink endpoint=http://127.0.0.1:1/whip", "audio-codec", "aac", "opus"},
      {"rtcwhipsink endpoint=http://127.0.0.1:1/whip", "video-codec", "vp8,h264", "vp8, vp9, h264"},
      {"rtcwhepsink port=0", "video-codec", "av1", "vp8, vp9, h264"},
      {"rtcwhepsink port=0", "video-codec", "h265", "vp8, vp9, h264"},
      {"rtcmeshbin url=ws://127.0.0.1:1/rtc room=r", "video-codec", "vp88", "vp8, vp9, h264"},
      {"rtcmeshbin url=ws://127.0.0.1:1/rtc room=r", "audio-codec", "mp3", "opus"},
  };
  for (const auto& c : cases) {
    std::string launch = std::string(c.launch) + " " + c.property + "=" + c.value;
    Pipeline p(launch);
    EXPECT_EQ(p.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << launch;
    std::string errors = joined(p.errors());
    EXPECT_NE(errors.find(c.property), std::string::npos) << launch << ": " << errors;
    EXPECT_NE(errors.find(std::string("'") + c.value + "'"), std::string::npos)
        << launch << ": " << errors;
    EXPECT_NE(errors.find(c.valid), std::string::npos) << launch << ": " << errors;
  }
  // A valid name after a refused one: accepted, and the element starts.
  Pipeline ok("rtcwhepsink name=w port=0 video-codec=av1");
  g_object_set(ok.by_name("w"), "video-codec", "h264", nullptr);
  EXPECT_NE(ok.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << joined(ok.errors());
  gchar* codec = nullptr;
  g_object_get(ok.by_name("w"), "video-codec", &codec, nullptr);
  EXPECT_STREQ(codec, "h264");
  g_free(codec);
}

// Nothing listens on 127.0.0.1:1: every attempt is refused.
TEST(Mistakes, PlaybinOfAWhepUriNobodyAnswersEndsWithCouldNotReach) {
  Pipeline player("playbin uri=whep://127.0.0.1:1/whep/room");
  player.set_state(GST_STATE_PLAYING);
  // connect-attempts 5: 0.5 + 1 + 2 + 4 s of backoff.
  ASSERT_TRUE(wait_until([&] { return !player.errors().empty(); }, 20s))
      << joined(player.warnings());
  std::string error = player.errors()[0];
  EXPECT_NE(error.find("could not reach http://127.0.0.1:1/whep/room"), std::string::npos) << error;
  EXPECT_NE(error.find("gave up after 5 attempts"), std::string::npos) << error;
  std::string warnings = joined(player.warnings());
  EXPECT_NE(warnings.find("could not reach"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("attempt 1 of 5"), std::string::npos) << warnings;
  EXPECT_EQ(warnings.find("session lost"), std::string::npos) << "nothing was ever connected";
}

TEST(Mistakes, ConnectAttemptsDecidesWhenTheFirstConnectionGivesUp) {
  Pipeline two(
      "rtcwhipsink name=p endpoint=http://127.0.0.1:1/whip connect-attempts=2 "
      "videotestsrc is-live=true ! p.video_0");
  Pipeline forever("rtcwhepsrc endpoint=http://127.0.0.1:1/whep connect-attempts=0");
  two.set_state(GST_STATE_PLAYING);
  forever.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return !two.errors().empty(); }, 10s)) << joined(two.warnings());
  EXPECT_NE(two.errors()[0].find("could not reach http://127.0.0.1:1/whip"), std::string::npos)
      << two.errors()[0];
  EXPECT_NE(two.errors()[0].find("after 2 attempts"), std::string::npos) << two.errors()[0];
  // 0.5 + 1 + 2 s: four attempts, still trying, no error.
  std::this_thread::sleep_for(4s);
  EXPECT_TRUE(forever.errors().empty()) << joined(forever.errors());
  EXPECT_GE(forever.warnings().size(), 3u) << joined(forever.warnings());
  EXPECT_NE(joined(forever.warnings()).find("could not reach"), std::string::npos);
}

// rtcmeshbin's room server the same way: its WebSocket never opens.
TEST(Mistakes, RtcmeshbinGivesUpOnARoomServerNobodyAnswers) {
  Pipeline p("rtcmeshbin name=m url=ws://127.0.0.1:1/rtc room=r connect-attempts=2 "
             "videotestsrc is-live=true ! m.video_0");
  p.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return !p.errors().empty(); }, 10s)) << joined(p.warnings());
  EXPECT_NE(p.errors()[0].find("could not reach ws://127.0.0.1:1/rtc"), std::string::npos)
      << p.errors()[0];
  EXPECT_NE(p.errors()[0].find("after 2 attempts"), std::string::npos) << p.errors()[0];
  EXPECT_NE(joined(p.warnings()).find("attempt 1 of 2"), std::string::npos)
      << joined(p.warnings());
}

// gst-inspect-1.0 names signal arguments arg0, arg1, …: the element's
// "signals" metadata (printed in its Factory Details) says what each is.
TEST(Discoverability, EverySignalsArgumentsAreDescribed) {
  for (const char* name :
       {"rtcwhipsink", "rtcwhipsrc", "rtcwhepsink", "rtcwhepsrc", "rtcmeshbin", "rtcsfu",
        "rtcmcu"}) {
    GstElementFactory* factory = gst_element_factory_find(name);
    ASSERT_NE(factory, nullptr) << name;
    GType type = gst_element_factory_get_element_type(factory);
    const char* doc = gst_element_factory_get_metadata(factory, "signals");
    guint n = 0;
    guint* ids = g_signal_list_ids(type, &n);
    for (guint i = 0; i < n; ++i) {
      GSignalQuery q;
      g_signal_query(ids[i], &q);
      if (q.n_params == 0) continue;
      ASSERT_NE(doc, nullptr) << name << " has signal " << q.signal_name << " but no description";
      // "name (arg, arg…): what" with one name per argument.
      std::string head = std::string(q.signal_name) + " (";
      size_t at = std::string(doc).find(head);
      ASSERT_NE(at, std::string::npos) << name << ": " << q.signal_name << " in " << doc;
      std::string args = std::string(doc).substr(at + head.size());
      args = args.substr(0, args.find(')'));
      EXPECT_EQ(std::count(args.begin(), args.end(), ',') + 1, int(q.n_params))
          << name << ": " << q.signal_name << " (" << args << ")";
    }
    g_free(ids);
    gst_object_unref(factory);
  }
}

TEST(Discoverability, ThePluginClaimsOnlyWhatIsBuilt) {
  GstPlugin* plugin = gst_registry_find_plugin(gst_registry_get(), "rtcmesh");
  ASSERT_NE(plugin, nullptr);
  std::string description = gst_plugin_get_description(plugin);
  gst_object_unref(plugin);
  GstElementFactory* mcu = gst_element_factory_find("rtcmcu");
  ASSERT_NE(mcu, nullptr);
  gst_object_unref(mcu);
  for (const char* claim : {"WHIP", "WHEP", "mesh", "SFU", "MCU"})
    EXPECT_NE(description.find(claim), std::string::npos) << description;
}

}  // namespace
