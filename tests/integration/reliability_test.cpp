// rtcmesh-server under what took it down (issue 9): HTTP clients that leave
// keep-alive connections behind, a full file-descriptor table, and the same
// publisher name live in two rooms. The built binary as a subprocess on
// 127.0.0.1, raw sockets and real WebRTC peers against it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/harness.h"
#include "tests/support/raw_client.h"
#include "tests/support/server_process.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using namespace test;

std::unique_ptr<RtcmeshServer> sfu_server(const std::vector<std::string>& launcher = {}) {
  return RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "3000"}, {},
                              launcher);
}

// Every kind of answer (200 with a body, 404, 405, 400 on a bad offer) on a
// keep-alive connection the client then closes: the server's fd count comes
// back to where it was.
TEST(Reliability, KeepAliveClientsThatLeaveLeaveNoSocketBehind) {
  auto server = sfu_server();
  ASSERT_TRUE(server);
  std::this_thread::sleep_for(300ms);
  size_t baseline = server->open_fds();
  int answered = 0;
  for (int i = 0; i < 400; i++) {
    RawClient c(server->port, 5);
    ASSERT_TRUE(c.connected());
    std::string head;
    switch (i % 4) {
      case 0: head = c.request("GET", "/metrics"); break;
      case 1: head = c.request("GET", "/nothing/here"); break;
      case 2: head = c.request("PUT", "/whip/room"); break;
      case 3: head = c.request("POST", "/whip/room/cam", "not an offer"); break;
    }
    if (head.rfind("HTTP/1.1 ", 0) == 0) answered++;
  }
  EXPECT_EQ(answered, 400);
  EXPECT_TRUE(wait_until([&] { return server->open_fds() <= baseline + 2; }, 5s))
      << server->open_fds() << " fds open after 400 clients, " << baseline << " before";
}

// With 64 fds the server runs out of them; it says so once, keeps the
// connections it has, and accepts again once they close.
TEST(Reliability, OutOfFileDescriptorsItRecoversWhenTheyFree) {
  auto server = sfu_server({"prlimit", "--nofile=64:64"});
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 80; i++) idle.push_back(std::make_unique<RawClient>(server->port, 5));
  ASSERT_TRUE(wait_until([&] { return server->stderr_has("out of file descriptors"); }, 5s))
      << "no word of running out of fds";
  // One of the accepted connections is still served meanwhile.
  EXPECT_EQ(idle.front()->request("GET", "/metrics").rfind("HTTP/1.1 200", 0), 0u);
  idle.clear();
  ASSERT_TRUE(wait_until([&] { return server->stderr_has("accepts connections again"); }, 5s));
  for (int i = 0; i < 100; i++) {
    RawClient c(server->port, 5);
    ASSERT_EQ(c.request("GET", "/metrics").rfind("HTTP/1.1 200", 0), 0u) << "request " << i;
  }
  EXPECT_EQ(server->stderr_count("out of file descriptors"), 1u);
}

// The same publisher name published in two rooms, by WHIP and by JSON-RPC
// (rtcmeshbin): each room's WHEP player decodes both of that room's.
TEST(Reliability, OnePublisherNameLiveInTwoRooms) {
  auto server = sfu_server();
  ASSERT_TRUE(server);
  std::string rtc = "ws://127.0.0.1:" + std::to_string(server->port) + "/rtc";
  std::vector<std::unique_ptr<Pipeline>> whip;
  std::vector<std::unique_ptr<RoomParticipant>> rpc;
  for (const char* room : {"roomA", "roomB"}) {
    whip.push_back(std::make_unique<Pipeline>(
        publisher_launch(server->base + "/whip/" + room + "/cam", "peer-timeout=3000")));
    ASSERT_NE(whip.back()->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    rpc.push_back(std::make_unique<RoomParticipant>(rtc, "pipe", "", room));
  }
  std::vector<std::unique_ptr<WhepViewer>> viewers;
  for (const char* room : {"roomA", "roomB"}) {
    viewers.push_back(std::make_unique<WhepViewer>(server->base + "/whep/" + room));
    ASSERT_TRUE(viewers.back()->play());
  }
  auto decoding = [](const WhepViewer& v) {
    int n = 0;
    for (auto& t : v.tracks())
      if (t->video() && t->buffers >= 10) n++;
    return n;
  };
  EXPECT_TRUE(wait_until([&] { return decoding(*viewers[0]) == 2 && decoding(*viewers[1]) == 2; },
                         30s))
      << "roomA: " << decoding(*viewers[0]) << " tracks, roomB: " << decoding(*viewers[1]);
  for (auto& p : whip) EXPECT_TRUE(p->errors().empty()) << p->errors().front();
}

// Past each limit an offer gets 503 with Retry-After and a reason, and
// nothing else changes: WHIP publishers count as participants of their
// room, WHEP players of a new room count against --max-rooms, every
// connection against --max-sessions.
TEST(Reliability, AdmissionLimitsAnswer503WithRetryAfter) {
  auto server = RtcmeshServer::start(
      RTCMESH_SERVER, {"--mode", "sfu", "--max-sessions", "4", "--max-rooms", "2",
                       "--max-peers-per-room", "2"});
  ASSERT_TRUE(server);
  auto post = [&](const std::string& path, const std::string& dir) {
    return http_request("POST", server->base + path, "application/sdp", chromium_offer(dir));
  };
  auto refused = [](const HttpReply& r, const std::string& why) {
    EXPECT_EQ(r.status, 503u) << r.body;
    EXPECT_EQ(r.header("Retry-After"), "2");
    EXPECT_NE(r.body.find(why), std::string::npos) << r.body;
  };
  EXPECT_EQ(post("/whip/a/cam1", "sendonly").status, 201u);
  EXPECT_EQ(post("/whip/a/cam2", "sendonly").status, 201u);
  refused(post("/whip/a/cam3", "sendonly"), "2 participants in room 'a'");
  EXPECT_EQ(post("/whep/b", "recvonly").status, 201u);  // a new room, the second
  refused(post("/whep/c", "recvonly"), "2 rooms");
  refused(post("/whip/c/cam", "sendonly"), "2 rooms");
  EXPECT_EQ(post("/whep/a", "recvonly").status, 201u);  // the fourth session
  refused(post("/whep/a", "recvonly"), "4 sessions per server");
  std::string metrics = http_request("GET", server->base + "/metrics", nullptr, "").body;
  EXPECT_EQ(metric_value(metrics, "rtcmesh_room_publishers", "a"), 2) << metrics;
}

// /metrics forgets rooms that are gone, and with --metrics-token it shows
// them only to whoever has the token.
TEST(Reliability, MetricsPruneGoneRoomsAndTakeAToken) {
  auto server = RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--metrics-token", "m3"});
  ASSERT_TRUE(server);
  const std::string url = server->base + "/metrics";
  HttpReply r = http_request("GET", url, nullptr, "");
  EXPECT_EQ(r.status, 401u) << r.body;
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(http_request("GET", url, nullptr, "", "wrong").status, 401u);
  std::vector<std::string> sessions;
  for (int i = 0; i < 20; i++) {
    r = http_request("POST", server->base + "/whep/gone" + std::to_string(i), "application/sdp",
                     chromium_offer("recvonly"));
    ASSERT_EQ(r.status, 201u) << r.body;
    sessions.push_back(r.header("Location"));
  }
  r = http_request("GET", url, nullptr, "", "m3");
  ASSERT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("room=\"gone19\""), std::string::npos) << r.body;
  for (const auto& location : sessions)
    EXPECT_EQ(http_request("DELETE", server->base + location, nullptr, "").status, 200u);
  EXPECT_TRUE(wait_until(
      [&] {
        return http_request("GET", url, nullptr, "", "m3").body.find("room=\"gone") ==
               std::string::npos;
      },
      5s))
      << http_request("GET", url, nullptr, "", "m3").body;
}

}  // namespace
}  // namespace rtcmesh
