// The room page in an SFU room: headless Chromium (run.mjs --mode room) and
// an rtcmeshbin pipeline publish to rtcmesh-server --mode sfu and each
// decodes the other through the server; the page drops the pipeline's tile
// when it leaves and shows the next publisher in the m-lines it left.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "signaling/json.h"
#include "tests/support/harness.h"
#include "tests/support/subprocess.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using sig::Json;
using test::Subprocess;
using test::wait_until;
namespace fs = std::filesystem;

constexpr const char* kListening = "rtcmesh-server listening on ";

// The page's driver and its last "stats" event: {peers, stats: {<peer>: {…}}}.
struct Page {
  std::unique_ptr<Subprocess> proc;
  Json last;
  std::string error;

  void poll() {
    while (auto line = proc->read_line(0ms)) {
      auto j = Json::parse(*line);
      if (!j || !j->is_object()) continue;
      std::string event = j->get_string("event").value_or("");
      if (event == "stats") last = *j;
      if (event == "error") error = j->get_string("message").value_or("?");
    }
  }
  // A counter of what the page decodes from `peer`, -1 if it shows no such peer.
  int64_t decoded(const std::string& peer, const char* field) {
    poll();
    const Json* s = last.find("stats");
    const Json* v = s && s->find(peer) ? s->find(peer)->find(field) : nullptr;
    return v && v->is_number() ? int64_t(v->as_double()) : -1;
  }
  size_t peers() {
    poll();
    const Json* p = last.find("peers");
    return p ? p->size() : 0;
  }
  std::string describe() const { return last.dump() + " " + error; }
};

TEST(BrowserSfu, APageAndAPipelineDecodeEachOtherThroughTheServer) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium is missing";
  fs::path dir = RTCMESH_BROWSER_DIR;
  if (!fs::exists(dir.parent_path() / "node_modules" / "playwright-core"))
    GTEST_SKIP() << "playwright-core is missing (scripts/install-deps runs npm ci)";

  Subprocess::Options so;
  so.echo_prefix = "[server]";
  auto server = Subprocess::spawn({RTCMESH_SERVER, "--port", "0", "--address", "127.0.0.1",
                                   "--mode", "sfu", "--peer-timeout", "4000"},
                                  so);
  ASSERT_TRUE(server);
  auto line = server->read_line(15s);
  ASSERT_TRUE(line && line->rfind(kListening, 0) == 0) << line.value_or("<nothing>");
  std::string base = line->substr(std::string(kListening).size());  // http://127.0.0.1:PORT

  Page page;
  Subprocess::Options po;
  po.echo_prefix = "[page]";
  page.proc = Subprocess::spawn({"node", (dir / "run.mjs").string(), "--mode", "room", "--url",
                                 base + "/room/r?peer=page", "--duration", "120"},
                                po);
  ASSERT_TRUE(page.proc);
  auto pipeline = std::make_unique<test::RoomParticipant>(
      "ws" + base.substr(base.find(':')) + "/rtc", "gst");

  auto both = [&](int frames) {
    return page.decoded("gst", "videoFramesDecoded") > frames &&
           page.decoded("gst", "audioSamples") >= 48000 &&
           pipeline->frames_from("page") > frames && pipeline->samples_from("page") > 0;
  };
  ASSERT_TRUE(wait_until([&] { return both(30); }, 60s))
      << page.describe() << "\npipeline got " << pipeline->frames_from("page") << " frames";
  EXPECT_EQ(page.peers(), 1u) << page.describe();
  EXPECT_TRUE(pipeline->pipeline().errors().empty());

  // The pipeline leaves: its tile goes from the page.
  pipeline.reset();
  EXPECT_TRUE(wait_until([&] { return page.peers() == 0; }, 15s)) << page.describe();

  // A new publisher takes the emptied m-lines again (Chromium reactivates
  // them): the page counts its frames from zero, under its own id.
  test::RoomParticipant late("ws" + base.substr(base.find(':')) + "/rtc", "gst2");
  EXPECT_TRUE(wait_until(
      [&] {
        return page.decoded("gst2", "videoFramesDecoded") > 15 &&
               page.decoded("gst2", "audioSamples") > 0 && late.frames_from("page") > 15;
      },
      30s))
      << page.describe() << "\nlate pipeline got " << late.frames_from("page") << " frames";
  EXPECT_EQ(page.peers(), 1u) << page.describe();
  EXPECT_EQ(page.decoded("gst", "videoFramesDecoded"), -1) << page.describe();
  EXPECT_TRUE(page.error.empty()) << page.error;

  page.proc->send_signal(SIGTERM);
  auto status = page.proc->wait(20s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << page.describe();
}

}  // namespace
}  // namespace rtcmesh
