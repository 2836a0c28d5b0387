// The room page in an SFU room: headless Chromium (run.mjs --mode room) and
// an rtcmeshbin pipeline publish to rtcmesh-server --mode sfu and each
// decodes the other through the server; the page drops the pipeline's tile
// when it leaves and shows the next publisher in the m-lines it left.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <thread>

#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/room_page.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

// rtcmesh-server --mode sfu, and its room page in Chromium joined as "page"
// to room "r".
class SfuRoomPage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
      GTEST_SKIP() << why;
    server = test::RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "4000"});
    ASSERT_TRUE(server);
    std::string error;
    opened = test::RoomPage::open(RTCMESH_BROWSER_DIR, server->base + "/room/r?peer=page", "page",
                                  120, &error);
    ASSERT_TRUE(opened) << error;
  }
  std::unique_ptr<test::RtcmeshServer> server;
  std::unique_ptr<test::RoomPage> opened;
};

TEST_F(SfuRoomPage, APageAndAPipelineDecodeEachOtherThroughTheServer) {
  test::RoomPage& page = *opened;
  auto pipeline = std::make_unique<test::RoomParticipant>(server->ws_url(), "gst");

  auto both = [&](int frames) {
    return page.stat("gst", "videoFramesDecoded") > frames &&
           page.stat("gst", "audioSamples") >= 48000 &&
           pipeline->frames_from("page") > frames && pipeline->samples_from("page") > 0;
  };
  ASSERT_TRUE(wait_until([&] { return both(30); }, 60s))
      << page.describe() << "\npipeline got " << pipeline->frames_from("page") << " frames";
  EXPECT_EQ(page.peers().size(), 1u) << page.describe();
  EXPECT_TRUE(pipeline->pipeline().errors().empty());

  // The pipeline leaves: its tile goes from the page.
  pipeline.reset();
  EXPECT_TRUE(wait_until([&] { return page.peers().empty(); }, 15s)) << page.describe();

  // A new publisher takes the emptied m-lines again (Chromium reactivates
  // them): the page counts its frames from zero, under its own id.
  test::RoomParticipant late(server->ws_url(), "gst2");
  EXPECT_TRUE(wait_until(
      [&] {
        return page.stat("gst2", "videoFramesDecoded") > 15 &&
               page.stat("gst2", "audioSamples") > 0 && late.frames_from("page") > 15;
      },
      30s))
      << page.describe() << "\nlate pipeline got " << late.frames_from("page") << " frames";
  EXPECT_EQ(page.peers().size(), 1u) << page.describe();
  EXPECT_EQ(page.stat("gst", "videoFramesDecoded"), -1) << page.describe();
  EXPECT_TRUE(page.last_error.empty()) << page.last_error;

  page.proc->send_signal(SIGTERM);
  auto status = page.proc->wait(20s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << page.describe();
}

// The room page in an MCU room (rtcmesh-server --mode mcu, a 480x270
// canvas): beside an rtcmeshbin participant, the page shows one tile, the
// room's output `mcu`, and decodes the composite at the canvas's size; the
// pipeline receives the same composite.
TEST(McuRoomPage, ThePageJoinsAnMcuRoomAndDecodesTheComposite) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = test::RtcmeshServer::start(
      RTCMESH_SERVER, {"--mode", "mcu", "--room", "r", "--canvas", "480x270@15",
                       "--peer-timeout", "4000"});
  ASSERT_TRUE(server);
  test::RoomParticipant pipeline(server->ws_url(), "gst");
  std::string error;
  auto opened = test::RoomPage::open(RTCMESH_BROWSER_DIR, server->base + "/room/r?peer=page",
                                     "page", 120, &error);
  ASSERT_TRUE(opened) << error;
  test::RoomPage& page = *opened;
  ASSERT_TRUE(wait_until(
      [&] {
        return page.stat("mcu", "videoFramesDecoded") > 30 &&
               page.stat("mcu", "audioSamples") > 0 && pipeline.frames_from("mcu") > 30;
      },
      60s))
      << page.describe() << "\npipeline got " << pipeline.frames_from("mcu") << " frames";
  EXPECT_EQ(page.stat("mcu", "frameWidth"), 480) << page.describe();
  EXPECT_EQ(page.stat("mcu", "frameHeight"), 270) << page.describe();
  // One tile: the composite, never a participant's own stream.
  EXPECT_EQ(page.peers(), std::vector<std::string>{"mcu"}) << page.describe();
  EXPECT_TRUE(page.last_error.empty()) << page.last_error;
}

// Data through an SFU room: the page and two pipelines send text and bytes
// to everyone and to one participant, reliable and not; the server relays
// each message with its sender's id, to the participants it names only.
TEST_F(SfuRoomPage, APageAndTwoPipelinesExchangeDataThroughTheServer) {
  test::RoomPage& page = *opened;
  test::RoomParticipant g1(server->ws_url(), "g1"), g2(server->ws_url(), "g2");
  test::DataLog g1_got, g2_got;
  g1_got.watch(g1.bin());
  g2_got.watch(g2.bin());
  // Everyone receives everyone: each subscribe connection (and its data
  // channels) is up.
  ASSERT_TRUE(wait_until(
      [&] {
        return page.stat("g1", "videoFramesDecoded") > 10 &&
               page.stat("g2", "videoFramesDecoded") > 10 && g1.frames_from("page") > 10 &&
               g2.frames_from("page") > 10 && g1.frames_from("g2") > 10 &&
               g2.frames_from("g1") > 10;
      },
      60s))
      << page.describe();

  const std::string bytes = {'\0', '\x01', '\n', '\xff'};
  EXPECT_TRUE(test::send_string(g1.bin(), nullptr, "hello from g1", true));
  EXPECT_TRUE(test::send_bytes(g2.bin(), "page", bytes, true));
  EXPECT_TRUE(test::send_string(g1.bin(), "page", "quick", false));
  sig::Json page_bytes = sig::Json::array();
  for (int b : {1, 2, 10, 0}) page_bytes.push(b);
  ASSERT_TRUE(page.send("", "hi from the page", true));
  ASSERT_TRUE(page.send("g1", page_bytes, true));
  ASSERT_TRUE(page.send("g2", "unreliable from the page", false));

  // The page: g1's text (reliable, to all), g2's bytes (to it), g1's unreliable one.
  auto page_has = [&](const std::string& from, const char* label, const std::string& data) {
    for (const sig::Json& m : page.received_from(from))
      if (m.get_string("label").value_or("") == label && m.get_string("data").value_or("") == data)
        return true;
    return false;
  };
  EXPECT_TRUE(wait_until([&] { return page_has("g1", "rtcmesh", "hello from g1"); }, 15s))
      << page.describe();
  EXPECT_TRUE(wait_until([&] { return page_has("g1", "rtcmesh-unreliable", "quick"); }, 15s))
      << page.describe();
  ASSERT_TRUE(wait_until([&] { return !page.received_from("g2").empty(); }, 15s))
      << page.describe();
  const sig::Json from_g2 = page.received_from("g2")[0];
  EXPECT_EQ(from_g2.find("text")->dump(), "false");
  EXPECT_EQ(from_g2.find("bytes") ? from_g2.find("bytes")->dump() : "", "[0,1,10,255]");

  // The pipelines: the page's text (to all), its bytes (g1 only), its
  // unreliable message (g2 only), and each other's.
  EXPECT_TRUE(wait_until([&] { return !g2_got.from("page", "rtcmesh").empty(); }, 15s));
  EXPECT_TRUE(wait_until([&] { return g1_got.from("page", "rtcmesh").size() >= 2; }, 15s));
  auto g1_from_page = g1_got.from("page", "rtcmesh");
  ASSERT_EQ(g1_from_page.size(), 2u);
  EXPECT_EQ(g1_from_page[0].data, "hi from the page");
  EXPECT_TRUE(g1_from_page[0].text);
  EXPECT_EQ(g1_from_page[1].data, std::string({1, 2, 10, 0}));
  EXPECT_FALSE(g1_from_page[1].text);
  EXPECT_TRUE(wait_until([&] { return !g2_got.from("page", "rtcmesh-unreliable").empty(); }, 15s));
  EXPECT_EQ(g2_got.from("page", "rtcmesh").size(), 1u) << "the bytes were for g1 only";
  EXPECT_EQ(g2_got.from("page", "rtcmesh-unreliable")[0].data, "unreliable from the page");
  EXPECT_TRUE(wait_until([&] { return !g2_got.from("g1", "rtcmesh").empty(); }, 15s));
  EXPECT_EQ(g2_got.from("g1", "rtcmesh")[0].data, "hello from g1");
  EXPECT_TRUE(g1_got.from("g2", "rtcmesh").empty()) << "g2's bytes were for the page only";
  EXPECT_TRUE(page.last_error.empty()) << page.last_error;
}

// rtcmesh-server's publish page (GET /publish/ROOM): a person names the
// camera, picks H.264 and publishes by WHIP into the room; a WHEP player of
// that publisher receives H.264 from it; Stop DELETEs the resource.
TEST(BrowserSfu, PublishPagePublishesTheCameraIntoTheRoom) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = test::RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu"});
  ASSERT_TRUE(server);
  auto missing = test::http_request("GET", server->base + "/publish/no%20room", nullptr, "");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_NE(missing.body.find("the publish page at /publish/NAME"), std::string::npos)
      << missing.body;

  std::string error;
  test::Subprocess::Options o;
  o.echo_prefix = "[publish]";
  auto page = test::Subprocess::spawn(
      {"node", std::string(RTCMESH_BROWSER_DIR) + "/run.mjs", "--mode", "publish-page", "--url",
       server->base + "/publish/r", "--codec", "H264", "--name", "cam", "--duration", "60"},
      o, &error);
  ASSERT_TRUE(page) << error;
  auto published = page->wait_for_line(
      [](const std::string& l) {
        return l.find("\"event\":\"published\"") != std::string::npos ||
               l.find("\"event\":\"error\"") != std::string::npos;
      },
      45s);
  ASSERT_TRUE(published) << "the page did not publish";
  ASSERT_NE(published->find("/whip/r/cam/"), std::string::npos) << *published;

  test::WhepViewer viewer(server->base + "/whep/r/cam", "output=encoded", "video/x-h264",
                          "audio/x-opus");
  ASSERT_TRUE(viewer.play());
  EXPECT_TRUE(wait_until([&] { return viewer.video_frames() > 30; }, 20s))
      << "H.264 frames from the page: " << viewer.video_frames();
  EXPECT_TRUE(viewer.pipeline().errors().empty());

  page->send_signal(SIGTERM);
  auto stopped = page->wait_for_line(
      [](const std::string& l) { return l.find("\"event\":\"stopped\"") != std::string::npos; },
      15s);
  ASSERT_TRUE(stopped);
  EXPECT_NE(stopped->find("\"deleteStatus\":200"), std::string::npos) << *stopped;
  EXPECT_TRUE(page->wait(15s).has_value());
}

// The room page as a person uses it (issue 12): the pre-join step shows the
// camera; in the room, Camera off sends black and Mute silence (a WHEP player
// of the page's publication measures both); when the server is killed and
// started again on its port, the page says it reconnects, joins again and
// publishes again by itself.
TEST(BrowserSfu, ThePageMutesAndComesBackAfterAServerRestart) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = test::RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "3000"});
  ASSERT_TRUE(server);
  const unsigned port = server->port;
  std::string shot = (std::filesystem::temp_directory_path() / "rtcmesh-room.png").string();
  std::string error;
  auto opened = test::RoomPage::open(RTCMESH_BROWSER_DIR, server->base + "/room/r?peer=page",
                                     "page", 90, &error, {"--screenshot", shot});
  ASSERT_TRUE(opened) << error;
  // Its status lines are read here, not through RoomPage::poll.
  test::Subprocess* page = opened->proc.get();
  std::string last;
  auto page_says = [&](auto pred, std::chrono::seconds within) {
    return page->wait_for_line(
        [&](const std::string& l) {
          if (l.find("\"event\":\"error\"") != std::string::npos) {
            last = l;
            return true;
          }
          if (l.find("\"event\":\"stats\"") == std::string::npos) return false;
          last = l;
          return pred(l);
        },
        within);
  };
  auto status_is = [](const char* s) {
    return [s](const std::string& l) {
      return l.find(std::string("\"status\":\"") + s + "\"") != std::string::npos;
    };
  };
  ASSERT_TRUE(page_says(status_is("joined"), 40s)) << last;
  // The pre-join step showed the camera's preview.
  std::string prejoin = shot.substr(0, shot.size() - 4) + "-prejoin.png";
  EXPECT_GT(test::png_green_share(prejoin), 0.1) << "no camera preview in " << prejoin;

  auto viewer = std::make_unique<test::WhepViewer>(server->base + "/whep/r/page", "",
                                                   "video/x-raw,format=I420",
                                                   "audio/x-raw,format=S16LE");
  ASSERT_TRUE(viewer->play());
  auto track = [&](bool video) -> std::shared_ptr<test::Track> {
    for (auto& t : viewer->tracks())
      if (t->video() == video) return t;
    return nullptr;
  };
  auto luma = [&] { auto t = track(true); return t ? t->luma.load() : -1; };
  auto loud = [&] { auto t = track(false); return t ? t->loud_buffers.load() : 0; };
  ASSERT_TRUE(wait_until([&] { return viewer->video_frames() > 15 && luma() > 40; }, 20s))
      << "frames " << viewer->video_frames() << " luma " << luma();
  int loud_before = loud();
  EXPECT_TRUE(wait_until([&] { return loud() > loud_before + 5; }, 5s)) << "the page sends no sound";

  // Camera off: black frames; Mute: silence.
  page->write_stdin("click #cam" + std::string("\n"));
  page->write_stdin("click #mic" + std::string("\n"));
  EXPECT_TRUE(wait_until([&] { return luma() >= 0 && luma() < 25; }, 8s))
      << "camera off still sends a picture, luma " << luma();
  std::this_thread::sleep_for(1500ms);  // what was in flight
  int loud_muted = loud();
  std::this_thread::sleep_for(3s);
  EXPECT_LE(loud(), loud_muted + 1) << "muted, yet sound arrives";
  page->write_stdin("screenshot " + shot + std::string("\n"));
  page->write_stdin("click #cam" + std::string("\n"));
  page->write_stdin("click #mic" + std::string("\n"));
  int frames_off = viewer->video_frames();
  EXPECT_TRUE(wait_until([&] { return luma() > 40 && loud() > loud_muted + 5; }, 15s))
      << "camera and microphone did not come back: luma " << luma() << ", "
      << viewer->video_frames() - frames_off << " frames since";
  viewer.reset();

  // The server dies and comes back on its port: the page joins again.
  server->proc->send_signal(SIGKILL);
  server->proc->wait(5s);
  ASSERT_TRUE(page_says(status_is("reconnecting"), 15s)) << "the page did not notice: " << last;
  server = test::RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "3000",
                                                       "--port", std::to_string(port)});
  ASSERT_TRUE(server);
  ASSERT_EQ(server->port, port);
  ASSERT_TRUE(page_says(status_is("joined"), 30s)) << "the page did not join again: " << last;
  EXPECT_NE(last.find("joined again as page"), std::string::npos) << last;
  test::WhepViewer again(server->base + "/whep/r/page");
  ASSERT_TRUE(again.play());
  EXPECT_TRUE(wait_until([&] { return again.video_frames() > 15; }, 20s))
      << "the page did not publish again: " << again.video_frames() << " frames";

  page->send_signal(SIGTERM);
  EXPECT_TRUE(page->wait(20s).has_value());
}

// The room page's screen share and active-speaker highlight in an SFU room:
// of two pipelines, the one that sounds is outlined, and the highlight moves
// when the other one takes over; Share screen publishes a second video that
// a pipeline in the room decodes, and the page shows the pipelines' videos.
TEST_F(SfuRoomPage, ThePageSharesItsScreenAndFollowsTheActiveSpeaker) {
  test::RoomPage& page = *opened;
  test::RoomParticipant loud(server->ws_url(), "loud");
  test::RoomParticipant quiet(server->ws_url(), "quiet");
  // A steady tone (the default ticks last 23 ms a second: a level meter
  // sampling every 200 ms would catch them only now and then).
  auto volume = [](test::RoomParticipant& p, double v) {
    GstIterator* it = gst_bin_iterate_all_by_element_factory_name(
        GST_BIN(p.pipeline().get()), "audiotestsrc");
    GValue item = G_VALUE_INIT;
    while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      g_object_set(g_value_get_object(&item), "volume", v, "wave", 0 /* sine */, nullptr);
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
  };
  volume(quiet, 0.0);
  volume(loud, 0.5);
  auto speaker = [&] {
    page.poll();
    return page.stats.get_string("speaker").value_or("");
  };
  ASSERT_TRUE(wait_until(
      [&] {
        return page.stat("loud", "audioSamples") > 48000 &&
               page.stat("quiet", "audioSamples") > 48000 && speaker() == "loud";
      },
      60s))
      << page.describe();
  // The other one speaks: the highlight follows once the first is quiet.
  volume(loud, 0.0);
  volume(quiet, 0.5);
  EXPECT_TRUE(wait_until([&] { return speaker() == "quiet"; }, 10s)) << page.describe();

  // Share screen: a second video from the page reaches the pipelines. The
  // page publishes again with both (its camera may come back on a new pad):
  // count the page's videos that received 10 frames since the click.
  std::map<const test::Track*, int> before;
  auto page_videos = [&] {
    int n = 0;
    for (auto& t : loud.tracks())
      if (t->video() && t->peer_id == "page" && t->buffers - before[t.get()] > 10) n++;
    return n;
  };
  ASSERT_TRUE(wait_until([&] { return page_videos() == 1; }, 20s)) << "camera not received";
  for (auto& t : loud.tracks()) before[t.get()] = t->buffers;
  page.proc->write_stdin("click #share\n");
  EXPECT_TRUE(wait_until([&] { return page_videos() == 2; }, 30s))
      << "the shared screen did not arrive: " << page_videos() << " videos from the page; "
      << page.describe();
  page.poll();
  EXPECT_EQ(page.stats.find("sharing") ? page.stats.find("sharing")->dump() : "", "true")
      << page.describe();
  // The page itself still shows both pipelines' videos.
  int shown = 0;
  if (const sig::Json* v = page.stats.find("videos"); v && v->is_array())
    for (const sig::Json& video : v->as_array())
      if (const sig::Json* f = video.find("frames"); f && f->is_int() && f->as_int() > 0) shown++;
  EXPECT_EQ(shown, 2) << page.describe();
  EXPECT_TRUE(page.last_error.empty()) << page.last_error;
}

}  // namespace
}  // namespace rtcmesh
