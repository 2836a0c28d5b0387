// rtcmeshbin in a mesh room: several pipelines join a room served in-process
// (signaling::WsServer on an HttpServer, as rtcmesh-server does) and every
// participant decodes every other one.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "tests/support/child_mode.h"
#include "tests/support/room_checks.h"
#include "tests/support/room_host.h"
#include "tests/support/harness.h"
#include "tests/support/subprocess.h"
#include "tests/support/typist.h"

using namespace rtcmesh;
using namespace rtcmesh::test;
using Participant = RoomParticipant;

namespace {

TEST(Mesh, ThreePipelinesDecodeEachOtherAndALateJoinerGetsEveryone) {
  RoomHost host;
  Participant a(host.url(), "a"), b(host.url(), "b"), c(host.url(), "c");
  std::vector<Participant*> room = {&a, &b, &c};
  std::vector<std::string> ids = {"a", "b", "c"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 15); }, 20s))
      << describe(room, ids);
  for (auto* p : room)
    for (auto& t : p->tracks()) {
      EXPECT_EQ(t->room, "r");
      EXPECT_NE(t->caps.find(t->video() ? "video/x-raw" : "audio/x-raw"), std::string::npos);
    }

  // A fourth joins late and gets (and is seen by) everyone.
  Participant d(host.url(), "d");
  room.push_back(&d);
  ids.push_back("d");
  EXPECT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 10); }, 20s))
      << describe(room, ids);
  // Figure for docs/benchmarks.md: join → first decoded frame, 4-participant room.
  for (const char* peer : {"a", "b", "c"})
    std::printf("4th participant: join → first frame from %s: %.0f ms\n", peer,
                d.first_frame_ms(peer));
}

TEST(Mesh, AParticipantLeavingEndsItsTracksAndTheOthersGoOn) {
  RoomHost host;
  auto a = std::make_unique<Participant>(host.url(), "a");
  Participant b(host.url(), "b"), c(host.url(), "c");
  std::vector<Participant*> room = {a.get(), &b, &c};
  std::vector<std::string> ids = {"a", "b", "c"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 10); }, 20s))
      << describe(room, ids);
  std::atomic<int> left{0};
  g_signal_connect(b.bin(), "peer-left", G_CALLBACK(+[](GstElement*, gchar* id, gpointer d) {
                     if (g_str_equal(id, "a")) ++*static_cast<std::atomic<int>*>(d);
                   }),
                   &left);
  a.reset();  // its pipeline stops: leave (or a dropped socket)
  EXPECT_TRUE(wait_until([&] { return left == 1; }, 6s));
  EXPECT_TRUE(wait_until(
      [&] {
        for (auto& t : b.tracks())
          if (t->peer_id == "a" && !t->eos) return false;
        return true;
      },
      5s))
      << "a's tracks end with EOS";
  int before = b.frames_from("c");
  EXPECT_TRUE(wait_until([&] { return b.frames_from("c") >= before + 15; }, 5s));
  EXPECT_TRUE(b.pipeline().errors().empty());
}

// The child of AKilledParticipantIsRemovedAndTheRoomGoesOn: in the room until killed.
int participate_until_killed() {
  const char* url = std::getenv("RTCMESH_CHILD_URL");
  if (!url) return 2;
  Pipeline p(std::string("rtcmeshbin name=m room=r peer-id=killed url=") + url + " " + kTestVideo +
             " ! m.video_0 " + kTestAudio + " ! m.audio_0");
  p.set_state(GST_STATE_PLAYING);
  std::this_thread::sleep_for(60s);
  return 0;
}
RTCMESH_CHILD_MODE("participate-until-killed", participate_until_killed);

TEST(Mesh, AKilledParticipantIsRemovedAndTheRoomGoesOn) {
  RoomHost host;  // pings every second, drops a silent socket after 4 s
  Participant a(host.url(), "a"), b(host.url(), "b");
  Subprocess::Options opts;
  opts.env = {{"RTCMESH_CHILD_URL", host.url()}};
  auto child = Subprocess::spawn(child_mode_command("participate-until-killed"), opts);
  ASSERT_TRUE(child);
  ASSERT_TRUE(wait_until(
      [&] { return a.frames_from("killed") >= 10 && b.frames_from("killed") >= 10; }, 20s));
  child->send_signal(SIGKILL);  // no leave, no close frame
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto* p : {&a, &b})
          for (auto& t : p->tracks())
            if (t->peer_id == "killed" && !t->eos) return false;
        return true;
      },
      10s))
      << "the killed participant's tracks end";
  auto took = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(took, 6s);
  int before = a.frames_from("b");
  EXPECT_TRUE(wait_until([&] { return a.frames_from("b") >= before + 15; }, 5s));
  EXPECT_TRUE(a.pipeline().errors().empty());
}

TEST(Mesh, ComposeShowsOneTilePerRemoteParticipant) {
  RoomHost host;
  Participant a(host.url(), "a");
  auto b = std::make_unique<Participant>(host.url(), "b");
  Pipeline viewer("rtcmeshbin name=m room=r peer-id=v compose=true url=" + host.url() +
                  " m.video_src ! videoconvert ! appsink name=video caps=video/x-raw,format=RGBx sync=false "
                  "m.audio_src ! fakesink sync=false");
  auto track = std::make_shared<Track>();
  track->pad = "video_src";
  viewer.set_state(GST_STATE_PLAYING);
  auto tiles = [&] { return composed_tiles(viewer.by_name("m")); };
  ASSERT_TRUE(wait_until([&] { return tiles() == 2; }, 20s)) << tiles();
  // The composite is 640x480 and its left and right halves carry a picture
  // (videotestsrc bars), not the black background.
  GstSample* sample = nullptr;
  bool both = false;
  for (int i = 0; i < 100 && !both; i++) {
    if (sample) gst_sample_unref(sample);
    g_signal_emit_by_name(viewer.by_name("video"), "try-pull-sample", GST_SECOND, &sample);
    if (!sample) continue;
    GstCaps* caps = gst_sample_get_caps(sample);
    GstStructure* s = gst_caps_get_structure(caps, 0);
    int w = 0, h = 0;
    gst_structure_get_int(s, "width", &w);
    gst_structure_get_int(s, "height", &h);
    ASSERT_EQ(w, 640);
    ASSERT_EQ(h, 480);
    GstMapInfo map;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    gst_buffer_map(buf, &map, GST_MAP_READ);
    // RGBx: along the middle row a tile shows several colour bars, the
    // black background one colour. Each 4:3 picture keeps its aspect ratio
    // in its 320x480 half: black bands above and below it.
    auto busy = [&](int x0, int x1, int y = -1) {
      std::set<guint32> seen;
      const guint8* row = map.data + size_t(y < 0 ? h / 2 : y) * w * 4;
      for (int x = x0; x < x1; x += 4)
        seen.insert(row[x * 4] << 16 | row[x * 4 + 1] << 8 | row[x * 4 + 2]);
      return seen.size() > 3;
    };
    both = busy(10, 310) && busy(330, 630) && !busy(10, 630, 40) && !busy(10, 630, 440);
    gst_buffer_unmap(buf, &map);
  }
  if (sample) gst_sample_unref(sample);
  EXPECT_TRUE(both) << "two tiles side by side, each 4:3 between black bands";
  b.reset();  // the grid follows the number of participants
  EXPECT_TRUE(wait_until([&] { return tiles() == 1; }, 8s)) << tiles();
  EXPECT_TRUE(viewer.errors().empty());
}

}  // namespace

// The data_%u pad in a gst-launch-1.0 line (the README's): what comes on
// stdin reaches the room as text messages from that participant.
TEST(Mesh, AGstLaunchLineSendsWhatComesOnItsDataPad) {
#ifndef RTCMESH_PLUGIN_DIR
  GTEST_SKIP() << "gst-launch-1.0 and the shared plugin: normal builds only";
#else
  RoomHost host;
  DataLog got;
  Participant b(host.url(), "b");
  got.watch(b.bin());
  Typist typist(RTCMESH_PLUGIN_DIR,
                {"rtcmeshbin", "name=m", "url=" + host.url(), "room=r", "peer-id=typist"}, "m");
  ASSERT_TRUE(typist.proc) << typist.error;
  ASSERT_TRUE(typist.type_until([&] { return !got.from("typist", "rtcmesh").empty(); }, 30s))
      << typist.typed << " lines typed";
  auto first = got.from("typist", "rtcmesh")[0];
  EXPECT_TRUE(first.text);
  EXPECT_EQ(first.data.rfind("line ", 0), 0u) << first.data;
  EXPECT_EQ(first.data.back(), '\n');
  EXPECT_EQ(typist.stop(), 0);
#endif
}

// Data channels beside the media: text and binary both ways, a thousand
// reliable messages in order, unreliable ones arrive on loopback, each
// receiver knows the sender, and a message over the limit is refused.
TEST(Mesh, ParticipantsExchangeDataBothWaysInOrderAndKnowTheSender) {
  RoomHost host;
  DataLog a_got, b_got;
  Participant a(host.url(), "a"), b(host.url(), "b");
  a_got.watch(a.bin());
  b_got.watch(b.bin());
  std::vector<Participant*> room = {&a, &b};
  std::vector<std::string> ids = {"a", "b"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 5); }, 20s))
      << describe(room, ids);

  for (int i = 0; i < 1000; i++) ASSERT_TRUE(send_string(a.bin(), "b", "m" + std::to_string(i), true));
  std::string blob = {'\0', '\x01', '\xff', 'x'};
  GBytes* bytes = g_bytes_new(blob.data(), blob.size());
  gboolean ok = FALSE;
  g_signal_emit_by_name(b.bin(), "send-data", nullptr, bytes, TRUE, &ok);  // to everyone
  g_bytes_unref(bytes);
  EXPECT_TRUE(ok);
  for (int i = 0; i < 50; i++) send_string(b.bin(), "a", "u" + std::to_string(i), false);

  ASSERT_TRUE(wait_until([&] { return b_got.from("a", "rtcmesh").size() >= 1000; }, 20s))
      << b_got.from("a", "rtcmesh").size() << " of 1000";
  EXPECT_EQ(b_got.numbered_mismatch("a", "rtcmesh", "m", 1000), "");
  ASSERT_TRUE(wait_until([&] { return !a_got.from("b", "rtcmesh").empty(); }, 10s));
  auto binary = a_got.from("b", "rtcmesh")[0];
  EXPECT_EQ(binary.data, blob);
  EXPECT_FALSE(binary.text);
  EXPECT_TRUE(wait_until([&] { return !a_got.from("b", "rtcmesh-unreliable").empty(); }, 10s));
  EXPECT_TRUE(b_got.from("b", "rtcmesh").empty()) << "no echo to the sender";

  EXPECT_FALSE(send_string(a.bin(), "b", std::string(70000, 'x'), true));
  EXPECT_FALSE(a.pipeline().warnings().empty());
  EXPECT_TRUE(everyone_sees_everyone(room, ids, 5)) << "media goes on";
}
