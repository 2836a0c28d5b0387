// The room page in an SFU room: headless Chromium (run.mjs --mode room) and
// an rtcmeshbin pipeline publish to rtcmesh-server --mode sfu and each
// decodes the other through the server; the page drops the pipeline's tile
// when it leaves and shows the next publisher in the m-lines it left.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/support/harness.h"
#include "tests/support/room_page.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

TEST(BrowserSfu, APageAndAPipelineDecodeEachOtherThroughTheServer) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = test::RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "4000"});
  ASSERT_TRUE(server);
  std::string error;
  auto opened = test::RoomPage::open(RTCMESH_BROWSER_DIR, server->base + "/room/r?peer=page",
                                     "page", 120, &error);
  ASSERT_TRUE(opened) << error;
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

}  // namespace
}  // namespace rtcmesh
