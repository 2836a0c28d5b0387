// A real browser watches rtcwhepsink's own player page while a pipeline
// viewer (rtcwhepsrc) plays the same stream: both decode video and audio.
//
// Chromium is driven by tests/integration/browser/run.mjs --mode player: it
// opens the page the element serves at GET / and reports the page's
// getStats() (inbound framesDecoded and totalSamplesReceived) as JSON lines.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>

#include "tests/support/harness.h"
#include "tests/support/room_page.h"
#include "tests/support/subprocess.h"

using namespace rtcmesh::test;
namespace fs = std::filesystem;

namespace {

long field(const std::string& line, const char* name) {
  std::smatch m;
  std::regex re(std::string("\"") + name + "\":(\\d+)");
  return std::regex_search(line, m, re) ? std::stol(m[1]) : -1;
}

TEST(BrowserWhep, ChromiumPlaysThePlayerPageBesideAPipelineViewer) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium is missing";
  fs::path dir = RTCMESH_BROWSER_DIR;
  if (!fs::exists(dir.parent_path() / "node_modules" / "playwright-core"))
    GTEST_SKIP() << "playwright-core is missing (scripts/install-deps runs npm ci)";

  WhepStream stream;  // default peer-timeout: viewers report (RTCP) only every few seconds
  ASSERT_TRUE(stream.wait_ready());
  WhepViewer pipeline_viewer(stream.url());
  ASSERT_TRUE(pipeline_viewer.play());

  Subprocess::Options opts;
  opts.echo_prefix = "[browser]";
  std::string error;
  auto browser = Subprocess::spawn({"node", (dir / "run.mjs").string(), "--mode", "player", "--url",
                                    "http://127.0.0.1:" + std::to_string(stream.port()) + "/",
                                    "--duration", "40"},
                                   opts, &error);
  ASSERT_TRUE(browser) << error;
  long frames = 0, samples = 0;
  auto line = browser->wait_for_line(
      [&](const std::string& l) {
        if (l.find("\"event\":\"stats\"") == std::string::npos) return false;
        frames = field(l, "video");
        samples = field(l, "audio");
        return frames >= 30 && samples >= 48000;
      },
      30s);
  ASSERT_TRUE(line) << "Chromium decoded " << frames << " frames and " << samples
                    << " audio samples";
  // Both viewers at once, each its own connection fed from one encode.
  EXPECT_EQ(stream.viewers(), 2u);
  int before = pipeline_viewer.video_frames();
  EXPECT_GE(before, 15);
  EXPECT_TRUE(wait_until([&] { return pipeline_viewer.video_frames() >= before + 15; }, 10s));
  EXPECT_GT(pipeline_viewer.audio_samples(), 0u);

  // The browser leaves (its page DELETEs); the pipeline viewer keeps playing.
  browser->send_signal(SIGTERM);
  EXPECT_TRUE(browser->wait(20s).has_value());
  // Within 8 s: before the 10 s peer-timeout, so it is the DELETE that removed it.
  EXPECT_TRUE(wait_until([&] { return stream.viewers() == 1; }, 8s)) << stream.viewers();
  before = pipeline_viewer.video_frames();
  EXPECT_TRUE(wait_until([&] { return pipeline_viewer.video_frames() >= before + 15; }, 10s));
  EXPECT_TRUE(stream.pipeline().errors().empty());
}

std::string text_field(const std::string& line, const char* name) {
  std::smatch m;
  std::regex re(std::string("\"") + name + "\":\"([^\"]*)\"");
  return std::regex_search(line, m, re) ? std::string(m[1]) : "";
}

// The pipeline serving the page stops and starts again on the same port: the
// page says it lost the stream, then plays the new one by itself.
TEST(BrowserWhep, ThePlayerPagePlaysAgainAfterThePipelineRestarts) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium is missing";
  fs::path dir = RTCMESH_BROWSER_DIR;
  if (!fs::exists(dir.parent_path() / "node_modules" / "playwright-core"))
    GTEST_SKIP() << "playwright-core is missing (scripts/install-deps runs npm ci)";

  auto stream = std::make_unique<WhepStream>();
  ASSERT_TRUE(stream->wait_ready());
  unsigned port = stream->port();
  Subprocess::Options opts;
  opts.echo_prefix = "[player]";
  std::string error;
  auto browser = Subprocess::spawn({"node", (dir / "run.mjs").string(), "--mode", "player", "--url",
                                    "http://127.0.0.1:" + std::to_string(port) + "/",
                                    "--duration", "60"},
                                   opts, &error);
  ASSERT_TRUE(browser) << error;
  std::string last;
  auto stats_where = [&](auto pred, std::chrono::seconds within) {
    return next_stats(*browser, &last, pred, within);
  };
  ASSERT_TRUE(stats_where([](const std::string& l) { return field(l, "video") >= 15; }, 30s))
      << last;
  EXPECT_EQ(text_field(last, "status"), "playing") << last;

  // The pipeline goes away: the page says so and keeps trying.
  stream.reset();
  ASSERT_TRUE(stats_where(
      [](const std::string& l) {
        auto s = text_field(l, "status");
        return s == "reconnecting" || s == "waiting";
      },
      20s))
      << "the page never said it lost the stream: " << last;
  EXPECT_NE(text_field(last, "line").find("trying again"), std::string::npos) << last;

  // Back on the same port: the page plays the new stream.
  stream = std::make_unique<WhepStream>("", kTestVideo, kTestAudio, port);
  ASSERT_TRUE(stream->wait_ready());
  ASSERT_TRUE(stats_where(
      [](const std::string& l) {
        return text_field(l, "status") == "playing" && field(l, "video") >= 15 &&
               field(l, "audio") > 0;
      },
      30s))
      << "the page did not play again: " << last;
  EXPECT_EQ(stream->viewers(), 1u);
  browser->send_signal(SIGTERM);
  EXPECT_TRUE(browser->wait(20s).has_value());
}

}  // namespace
