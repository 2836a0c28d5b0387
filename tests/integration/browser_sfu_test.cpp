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

}  // namespace
}  // namespace rtcmesh
