// Abuse from one address (issue 11 §4) against rtcmesh-server --mode sfu as
// a subprocess on 127.0.0.1 with low limits: a burst of POSTs gets 429 with
// Retry-After while a session of that address keeps its media, and requests
// succeed again after the Retry-After; the per-address session cap refuses
// the next WHIP/WHEP session (429) and WebSocket (close 4029) with a reason; a
// JSON-RPC join past the rate gets -32008 with data.retryAfter.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/harness.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using namespace test;

class AbuseLimits : public RpcTest {
 protected:
  std::unique_ptr<RtcmeshServer> start(const std::vector<std::string>& limits,
                                       const std::string& mode = "sfu") {
    std::vector<std::string> args = {"--mode", mode, "--peer-timeout", "3000"};
    args.insert(args.end(), limits.begin(), limits.end());
    return RtcmeshServer::start(RTCMESH_SERVER, args);
  }
};

int decoded_video(const WhepViewer& v) {
  int n = 0;
  for (auto& t : v.tracks())
    if (t->video()) n += int(t->buffers);
  return n;
}

TEST_F(AbuseLimits, ABurstOfPostsGets429WhileMediaFlowsAndPassesAgainAfterRetryAfter) {
  auto server = start({"--rate-per-address", "1", "--burst-per-address", "6",
                       "--max-sessions-per-address", "0"});
  ASSERT_TRUE(server);
  // Two requests of the burst: a publisher and a player, both from 127.0.0.1.
  Pipeline pub(publisher_launch(server->base + "/whip/r/cam", "peer-timeout=3000"));
  ASSERT_NE(pub.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  WhepViewer viewer(server->base + "/whep/r");
  ASSERT_TRUE(viewer.play());
  ASSERT_TRUE(wait_until([&] { return decoded_video(viewer) >= 10; }, 30s))
      << decoded_video(viewer) << " video buffers";

  // The rest of the burst, then 429s: every POST counts, bad ones too.
  const std::string url = server->base + "/whep/r";
  int passed = 0;
  HttpReply refused;
  for (int i = 0; i < 12; i++) {
    HttpReply r = http_request("POST", url, "application/sdp", "not an offer");
    if (r.status == 429) {
      refused = r;
      break;
    }
    EXPECT_EQ(r.status, 400u) << r.body;
    passed++;
  }
  ASSERT_EQ(refused.status, 429u) << "no 429 after " << passed << " POSTs";
  // 2 taken by the publisher and the player, refilled at 1/s while they connected.
  EXPECT_GE(passed, 4);
  EXPECT_LE(passed, 7);
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_NE(refused.body.find("too many requests from 127.0.0.1"), std::string::npos)
      << refused.body;
  // The refused ones take nothing: still refused a moment later.
  EXPECT_EQ(http_request("POST", url, "application/sdp", "not an offer").status, 429u);

  // The sessions of that address keep their media meanwhile.
  int before = decoded_video(viewer);
  EXPECT_TRUE(wait_until([&] { return decoded_video(viewer) >= before + 20; }, 10s))
      << before << " → " << decoded_video(viewer);
  EXPECT_TRUE(pub.errors().empty()) << pub.errors().front();

  // After Retry-After the next request is served (a real session too).
  std::this_thread::sleep_for(1100ms);
  HttpReply again =
      http_request("POST", url, "application/sdp", chromium_offer("recvonly"));
  EXPECT_EQ(again.status, 201u) << again.body;
}

TEST_F(AbuseLimits, TheSessionCapRefusesTheNextSessionWithAReason) {
  auto server = start({"--max-sessions-per-address", "3"});
  ASSERT_TRUE(server);
  auto post = [&](const std::string& path, const std::string& dir) {
    return http_request("POST", server->base + path, "application/sdp", chromium_offer(dir));
  };
  HttpReply a = post("/whep/r", "recvonly");
  ASSERT_EQ(a.status, 201u) << a.body;
  ASSERT_EQ(post("/whip/r/cam", "sendonly").status, 201u);
  // A JSON-RPC connection is the third session.
  RpcClient& rpc = connect(server->ws_url());
  EXPECT_EQ(code(rpc, "join", sig::Json::object({{"room", "r"}, {"peer", "p"}})), 0);

  HttpReply r = post("/whep/r", "recvonly");
  EXPECT_EQ(r.status, 429u) << r.body;
  EXPECT_EQ(r.header("Retry-After"), "10");
  EXPECT_NE(r.body.find("too many sessions from 127.0.0.1 (limit 3)"), std::string::npos)
      << r.body;
  EXPECT_EQ(post("/whip/r/cam2", "sendonly").status, 429u);

  // A fourth WebSocket is closed at once: 4029 (the WebSocket's 429).
  clients.push_back(std::make_unique<RpcClient>(ctx, sig::WsClient::Options{}));
  RpcClient& extra = *clients.back();
  extra.ws.connect(server->ws_url(), [](bool, const std::string&) {});
  EXPECT_TRUE(run_until([&] { return extra.closed.has_value(); }, 10000));
  EXPECT_EQ(extra.closed.value_or(0), 4029);

  // Operators see the refusals: two 429s and the WebSocket.
  HttpReply metrics = http_request("GET", server->base + "/metrics", nullptr, "");
  EXPECT_NE(metrics.body.find("rtcmesh_address_limit_refusals_total{limit=\"sessions\"} 3\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("rtcmesh_address_limit_refusals_total{limit=\"rate\"} 0\n"),
            std::string::npos);

  // A session that ends frees its place.
  EXPECT_EQ(http_request("DELETE", server->base + a.header("Location"), nullptr, "").status, 200u);
  EXPECT_EQ(post("/whep/r", "recvonly").status, 201u);
  // The room's participant was not disturbed.
  EXPECT_EQ(code(rpc, "list", sig::Json::object({{"room", "r"}})), 0);
}

TEST_F(AbuseLimits, AJoinPastTheRateGets32008WithRetryAfter) {
  auto server = start({"--rate-per-address", "0.5", "--burst-per-address", "4",
                       "--max-sessions-per-address", "0"},
                      "mesh");
  ASSERT_TRUE(server);
  RpcClient& c = connect(server->ws_url());  // the first request of the burst
  auto join = [&] {
    return call(c, "join", sig::Json::object({{"room", "r"}, {"peer", "p"}}));
  };
  for (int i = 0; i < 3; i++) {
    sig::WsClient::Reply r = join();
    ASSERT_TRUE(r.ok()) << i << ": " << r.error.message;
    ASSERT_EQ(code(c, "leave"), 0);
  }
  sig::WsClient::Reply r = join();
  ASSERT_EQ(r.status, sig::WsClient::Reply::Status::kError);
  EXPECT_EQ(r.error.code, -32008);
  const sig::Json* after = r.error.data.find("retryAfter");
  ASSERT_TRUE(after) << r.error.message;
  EXPECT_GE(after->as_int(), 1);  // (1 - what was refilled meanwhile) / 0.5, rounded up
  EXPECT_LE(after->as_int(), 2);
  EXPECT_NE(r.error.message.find("too many requests from 127.0.0.1"), std::string::npos)
      << r.error.message;
  // The connection stays; after retryAfter the join goes through.
  run_for(2100);
  EXPECT_TRUE(join().ok());
}

}  // namespace
}  // namespace rtcmesh
