// rtcmeshbin in an SFU room: the real rtcmesh-server --mode sfu as a
// subprocess (port 0, read from its first stdout line) forwards every
// participant's publish connection to the others' subscribe connections.
#include <gio/gio.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/typist.h"

using namespace rtcmesh;
using namespace rtcmesh::test;
using Participant = RoomParticipant;

namespace {

// The server's arguments; RTCMESH_TEST_SFU_ENGINE=webrtcbin (meson test
// sfu-client-webrtcbin) runs every test with the webrtcbin egress engine.
std::vector<std::string> sfu_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--mode", "sfu", "--peer-timeout", "4000"};
  if (const char* engine = g_getenv("RTCMESH_TEST_SFU_ENGINE")) args.insert(args.end(), {"--engine", engine});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::unique_ptr<RtcmeshServer> sfu_server() { return RtcmeshServer::start(RTCMESH_SERVER, sfu_args()); }

TEST(SfuClient, ThreePublishersDecodeEachOtherOneLeavesALateOneGetsEveryone) {
  auto server = sfu_server();
  ASSERT_TRUE(server);
  auto a = std::make_unique<Participant>(server->ws_url(), "a");
  Participant b(server->ws_url(), "b");
  std::vector<Participant*> room = {a.get(), &b};
  std::vector<std::string> ids = {"a", "b"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 10); }, 30s))
      << describe(room, ids);
  // c joining grows b's subscribe connection (a renegotiation on the same
  // session): a's pads on b stay the same pads.
  std::set<std::string> a_pads_on_b = pad_names(b.bin(), "a");
  ASSERT_EQ(a_pads_on_b.size(), 2u);
  Participant c(server->ws_url(), "c");
  room.push_back(&c);
  ids.push_back("c");
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 15); }, 30s))
      << describe(room, ids);
  EXPECT_EQ(pad_names(b.bin(), "a"), a_pads_on_b);
  // Each decodes exactly the two others: one video and one audio pad each,
  // named after the publisher, never itself.
  for (size_t i = 0; i < room.size(); i++) {
    std::multiset<std::string> want;
    for (size_t j = 0; j < room.size(); j++)
      if (i != j) want.insert({ids[j], ids[j]});
    EXPECT_EQ(pad_peers(room[i]->bin()), want) << ids[i];
    for (auto& t : room[i]->tracks()) {
      EXPECT_EQ(t->room, "r");
      EXPECT_NE(t->peer_id, ids[i]);
      EXPECT_NE(t->caps.find(t->video() ? "video/x-raw" : "audio/x-raw"), std::string::npos);
    }
  }

  // a leaves: b and c get publisher-left, a's tracks end with EOS and their
  // pads go; c goes on flowing to b.
  LeftCounter b_saw{"a"}, c_saw{"a"};
  b_saw.watch(b.bin());
  c_saw.watch(c.bin());
  a.reset();
  EXPECT_TRUE(wait_until([&] { return b_saw.count == 1 && c_saw.count == 1; }, 8s));
  EXPECT_TRUE(wait_until(
      [&] {
        for (auto* p : {&b, &c}) {
          if (pad_peers(p->bin()).count("a")) return false;
          for (auto& t : p->tracks())
            if (t->peer_id == "a" && !t->eos) return false;
        }
        return true;
      },
      8s))
      << "a's tracks end with EOS and their pads are removed";
  int before = b.frames_from("c");
  EXPECT_TRUE(wait_until([&] { return b.frames_from("c") >= before + 15; }, 8s));

  // A late d gets b and c (reusing a's inactive m-lines) and they get d.
  Participant d(server->ws_url(), "d");
  room = {&b, &c, &d};
  ids = {"b", "c", "d"};
  EXPECT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 10); }, 30s))
      << describe(room, ids);
  std::printf("late participant: join → first frame from b: %.0f ms, from c: %.0f ms\n",
              d.first_frame_ms("b"), d.first_frame_ms("c"));
  EXPECT_EQ(pad_peers(b.bin()), (std::multiset<std::string>{"c", "c", "d", "d"}));
  for (auto* p : room) EXPECT_TRUE(p->pipeline().errors().empty()) << describe(room, ids);

  // Stats name both connections.
  GstStructure* s = nullptr;
  g_object_get(b.bin(), "stats", &s, nullptr);
  ASSERT_TRUE(s);
  guint remotes = 0;
  gst_structure_get_uint(s, "remotes", &remotes);
  EXPECT_EQ(remotes, 2u);
  std::set<std::string> connections;
  const GValue* list = gst_structure_get_value(s, "remote-stats");
  for (guint i = 0; list && i < gst_value_list_get_size(list); i++) {
    const GstStructure* r = gst_value_get_structure(gst_value_list_get_value(list, i));
    gboolean connected = FALSE;
    gst_structure_get_boolean(r, "connected", &connected);
    if (const char* c = gst_structure_get_string(r, "connection"); c && connected)
      connections.insert(c);
  }
  EXPECT_EQ(connections, (std::set<std::string>{"publish", "subscribe"}));
  gst_structure_free(s);
}

// A participant without inputs only subscribes; it still gets everyone.
// m-lines only grow in webrtcbin 1.22: past the server's cap the subscribe
// connection is rebuilt (a new session) and the subscriber gets new pads.
TEST(SfuClient, PastTheMlineCapTheSubscriptionIsRebuilt) {
  auto server = RtcmeshServer::start(RTCMESH_SERVER, sfu_args({"--max-mlines", "4"}));
  ASSERT_TRUE(server);
  Participant a(server->ws_url(), "a");
  auto b = std::make_unique<Participant>(server->ws_url(), "b");
  Participant v(server->ws_url(), "v", "", "r", /*publish=*/false);
  ASSERT_TRUE(wait_until([&] { return v.frames_from("a") >= 10 && v.frames_from("b") >= 10; },
                         30s));
  std::set<std::string> a_pads = pad_names(v.bin(), "a");
  ASSERT_EQ(a_pads.size(), 2u);
  // b leaves: v's connection has 4 m-lines, 2 unused (VP8 video, Opus).
  LeftCounter v_saw{"b"};
  v_saw.watch(v.bin());
  b.reset();
  ASSERT_TRUE(wait_until([&] { return v_saw.count == 1; }, 8s));
  // c sends H.264: its video cannot take b's VP8 m-line, a fifth m-line is
  // over the cap, so v gets a new connection carrying a and c.
  Participant c(server->ws_url(), "c", "video-codec=h264");
  ASSERT_TRUE(wait_until(
      [&] {
        return v.frames_from("c") >= 10 && pad_names(v.bin(), "a").size() == 2 &&
               pad_names(v.bin(), "a") != a_pads;
      },
      30s))
      << "frames from c " << v.frames_from("c");
  int before = v.frames_from("a");
  EXPECT_TRUE(wait_until([&] { return v.frames_from("a") >= before + 10; }, 10s));
  for (auto& t : v.tracks()) {
    if (t->peer_id == "c" && t->video()) {
      EXPECT_EQ(t->codec, "H264");
    }
  }
  auto errors = v.pipeline().errors();
  EXPECT_TRUE(errors.empty()) << errors.front();
}

TEST(SfuClient, AViewerWithoutInputsReceivesThePublishers) {
  auto server = sfu_server();
  ASSERT_TRUE(server);
  Participant a(server->ws_url(), "a");
  Pipeline viewer("rtcmeshbin name=m room=r peer-id=v url=" + server->ws_url());
  TrackSinks sinks(viewer.by_name("m"), "video/x-raw", "audio/x-raw");
  viewer.set_state(GST_STATE_PLAYING);
  EXPECT_TRUE(wait_until([&] { return sinks.video_frames("a") >= 15 && sinks.audio_samples("a"); },
                         30s))
      << sinks.video_frames("a");
  EXPECT_EQ(a.frames_from("v"), 0);
  viewer.set_state(GST_STATE_NULL);
}

// compose=true: one tile per publisher's video, following who publishes.
TEST(SfuClient, ComposeShowsOneTilePerPublisher) {
  auto server = sfu_server();
  ASSERT_TRUE(server);
  Participant a(server->ws_url(), "a");
  auto b = std::make_unique<Participant>(server->ws_url(), "b");
  Pipeline viewer("rtcmeshbin name=m room=r peer-id=v compose=true url=" + server->ws_url() +
                  " m.video_src ! fakesink sync=false m.audio_src ! fakesink sync=false");
  viewer.set_state(GST_STATE_PLAYING);
  auto tiles = [&] { return composed_tiles(viewer.by_name("m")); };
  EXPECT_TRUE(wait_until([&] { return tiles() == 2; }, 20s)) << tiles();
  b.reset();
  EXPECT_TRUE(wait_until([&] { return tiles() == 1; }, 10s)) << tiles();
  EXPECT_TRUE(viewer.errors().empty());
  viewer.set_state(GST_STATE_NULL);
}

}  // namespace

// Data in an SFU room: the server (an rtcsfu in this process, taking part
// as "host") relays each participant's messages on their subscribe
// connections, reliable or not as sent, with the sender's id; a thousand
// reliable ones arrive in order, text stays text and bytes stay bytes.
// The subscribe connections are the native engine's, their data channels
// its SCTP (webrtcbin's under sfu-client-webrtcbin).
TEST(SfuClient, RoomDataIsRelayedWithItsSenderAndNothingLost) {
  Pipeline host("rtcsfu name=sfu address=127.0.0.1 port=0 room=r publisher-id=host "
                "peer-timeout=4000");
  ASSERT_NE(host.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstElement* sfu = host.by_name("sfu");
  guint port = 0;
  g_object_get(sfu, "port", &port, nullptr);
  const std::string url = "ws://127.0.0.1:" + std::to_string(port) + "/rtc";
  DataLog host_got, a_got, b_got;
  host_got.watch(sfu);
  Participant a(url, "a"), b(url, "b");
  a_got.watch(a.bin());
  b_got.watch(b.bin());
  std::vector<Participant*> room = {&a, &b};
  std::vector<std::string> ids = {"a", "b"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 5); }, 30s))
      << describe(room, ids);

  for (int i = 0; i < 1000; i++)
    ASSERT_TRUE(send_string(a.bin(), "b", "m" + std::to_string(i), true));
  const std::string blob = {'\0', '\x01', '\n', '\xff', 'x'};
  EXPECT_TRUE(send_bytes(b.bin(), nullptr, blob, true));  // to everyone, the host too
  for (int i = 0; i < 50; i++) send_string(b.bin(), "a", "u" + std::to_string(i), false);
  EXPECT_TRUE(send_string(a.bin(), "host", "to the host", true));
  EXPECT_TRUE(send_string(sfu, nullptr, "from the host", true));

  ASSERT_TRUE(wait_until([&] { return b_got.from("a", "rtcmesh").size() >= 1000; }, 30s))
      << b_got.from("a", "rtcmesh").size() << " of 1000";
  EXPECT_EQ(b_got.numbered_mismatch("a", "rtcmesh", "m", 1000), "");
  ASSERT_TRUE(wait_until([&] { return !a_got.from("b", "rtcmesh").empty(); }, 10s));
  EXPECT_EQ(a_got.from("b", "rtcmesh")[0].data, blob);
  EXPECT_FALSE(a_got.from("b", "rtcmesh")[0].text);
  EXPECT_TRUE(wait_until([&] { return !a_got.from("b", "rtcmesh-unreliable").empty(); }, 10s));
  for (auto& m : a_got.from("b", "rtcmesh-unreliable")) EXPECT_EQ(m.data[0], 'u');
  ASSERT_TRUE(wait_until([&] { return !host_got.from("a", "rtcmesh").empty(); }, 10s));
  EXPECT_EQ(host_got.from("a", "rtcmesh").size(), 1u) << "only what was sent to it or to all";
  EXPECT_EQ(host_got.from("a", "rtcmesh")[0].data, "to the host");
  ASSERT_TRUE(wait_until([&] { return !host_got.from("b", "rtcmesh").empty(); }, 10s));
  EXPECT_EQ(host_got.from("b", "rtcmesh")[0].data, blob);
  for (DataLog* got : {&a_got, &b_got}) {
    ASSERT_TRUE(wait_until([&] { return !got->from("host", "rtcmesh").empty(); }, 10s));
    EXPECT_EQ(got->from("host", "rtcmesh")[0].data, "from the host");
  }
  EXPECT_TRUE(b_got.from("b", "rtcmesh").empty()) << "no echo to the sender";
  EXPECT_TRUE(a_got.from("a", "rtcmesh").empty()) << "no echo to the sender";

  // To an id nobody in the room has: dropped and counted by the server.
  EXPECT_TRUE(send_string(a.bin(), "nobody", "lost", true));
  EXPECT_TRUE(wait_until([&] { return stats_counter(sfu, "data-dropped") == 1; }, 10s))
      << stats_counter(sfu, "data-dropped");

  // Over the room's limit (the channel's less the envelope): refused, warned.
  EXPECT_FALSE(send_string(a.bin(), nullptr, std::string(65500, 'x'), true));
  EXPECT_TRUE(wait_until([&] { return !a.pipeline().warnings().empty(); }, 5s));
  EXPECT_TRUE(everyone_sees_everyone(room, ids, 5)) << "media goes on";
  host.set_state(GST_STATE_NULL);
}

// rtcsfu's data_%u pad in a gst-launch-1.0 line: the pipeline hosting the
// room sends what comes on its stdin to the participants, as publisher-id.
TEST(SfuClient, AGstLaunchHostSendsWhatComesOnItsDataPad) {
#ifndef RTCMESH_PLUGIN_DIR
  GTEST_SKIP() << "gst-launch-1.0 and the shared plugin: normal builds only";
#else
  guint port = 0;  // a free one, for the command line
  {
    GSocket* s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                              nullptr);
    GInetAddress* lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress* any = g_inet_socket_address_new(lo, 0);
    ASSERT_TRUE(g_socket_bind(s, any, FALSE, nullptr));
    GSocketAddress* bound = g_socket_get_local_address(s, nullptr);
    port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    for (gpointer o : {gpointer(bound), gpointer(any), gpointer(lo), gpointer(s)}) g_object_unref(o);
  }
  Typist host(RTCMESH_PLUGIN_DIR,
              {"rtcsfu", "name=s", "address=127.0.0.1", "port=" + std::to_string(port), "room=r",
               "publisher-id=host"},
              "s");
  ASSERT_TRUE(host.proc) << host.error;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(wait_until([&] { return http_request("GET", base + "/metrics", nullptr, "").status; },
                         15s));
  const std::string url = "ws://127.0.0.1:" + std::to_string(port) + "/rtc";
  DataLog a_got;
  Participant a(url, "a"), b(url, "b");
  a_got.watch(a.bin());
  ASSERT_TRUE(host.type_until([&] { return !a_got.from("host", "rtcmesh").empty(); }, 30s))
      << host.typed << " lines typed; a: " << (a.pipeline().errors().empty() ? "no error" : a.pipeline().errors()[0]);
  auto first = a_got.from("host", "rtcmesh")[0];
  EXPECT_TRUE(first.text);
  EXPECT_EQ(first.data.rfind("line ", 0), 0u) << first.data;
  EXPECT_EQ(host.stop(), 0);
#endif
}
