// Signed room tokens (issue 11 §2) against a real rtcmesh-server --mode sfu
// with --token-secret-file (and one with --token-public-key), the tokens
// made by `rtcmesh-server token`: a good publish token publishes over WHIP
// and a subscribe token plays it (WHEP and rtcmeshbin decode it); a
// subscribe-only token cannot publish (WHIP 403, JSON-RPC -32001); a room-A
// token cannot join room B; another participant's name is refused; an
// expired token gets 401 / -32001.
#include <gtest/gtest.h>
#include <glib/gstdio.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "signaling/auth/tokens.h"
#include "signaling/json.h"
#include "tests/support/harness.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using namespace test;
using sig::Json;

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "; ";
  return out;
}

constexpr const char* kSecret = "an-integration-test-secret-of-more-than-32-bytes";

// A temporary directory with the key files, removed with it.
struct KeyDir {
  KeyDir() {
    gchar* d = g_dir_make_tmp("rtcmesh-tokens-XXXXXX", nullptr);
    dir = d ? d : "";
    g_free(d);
    secret = dir + "/secret";
    std::ofstream(secret) << kSecret << "\n";
  }
  ~KeyDir() {
    for (const auto& f : files) g_remove(f.c_str());
    g_remove(secret.c_str());
    g_rmdir(dir.c_str());
  }
  // Runs a command; true when it exits 0.
  bool run(const std::vector<std::string>& argv) {
    auto p = Subprocess::spawn(argv);
    if (!p) return false;
    auto status = p->wait(20s);
    return status && *status == 0;
  }
  std::string dir, secret;
  std::vector<std::string> files;
};

// `rtcmesh-server token …` with these arguments: the token it printed.
std::string make_token(const std::vector<std::string>& args) {
  std::vector<std::string> argv{RTCMESH_SERVER, "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string error;
  auto p = Subprocess::spawn(argv, &error);
  if (!p) {
    ADD_FAILURE() << "spawn: " << error;
    return "";
  }
  auto line = p->read_line(20s);
  auto status = p->wait(20s);
  EXPECT_TRUE(status && *status == 0) << "rtcmesh-server token exited " << status.value_or(-1);
  EXPECT_TRUE(line && std::count(line->begin(), line->end(), '.') == 2) << line.value_or("");
  return line.value_or("");
}

std::string hs_token(const KeyDir& keys, const std::string& room, const std::string& identity,
                     const std::vector<std::string>& grants, int ttl = 600) {
  std::vector<std::string> args{"--room", room, "--identity", identity, "--ttl",
                                std::to_string(ttl), "--token-secret-file", keys.secret};
  args.insert(args.end(), grants.begin(), grants.end());
  return make_token(args);
}

class Tokens : public RpcTest {
 protected:
  std::unique_ptr<RtcmeshServer> start(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--mode", "sfu", "--peer-timeout", "3000"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RtcmeshServer::start(RTCMESH_SERVER, args);
  }
  KeyDir keys;
};

TEST_F(Tokens, GoodTokensPublishAndPlay) {
  auto server = start({"--token-secret-file", keys.secret});
  ASSERT_TRUE(server);
  std::string pub = hs_token(keys, "stage", "cam", {"--publish"});
  std::string sub = hs_token(keys, "stage", "viewer", {"--subscribe"});
  std::string any = hs_token(keys, "*", "player", {"--subscribe"});
  ASSERT_FALSE(pub.empty() || sub.empty() || any.empty());

  // WHIP with the publish token; the path names the token's participant.
  Pipeline cam(publisher_launch(server->base + "/whip/stage/cam",
                                "peer-timeout=3000 auth-token=" + pub));
  ASSERT_NE(cam.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  // rtcmeshbin joins with the subscribe token (its id comes from the token's sub).
  RoomParticipant viewer(server->ws_url(), "viewer", "auth-token=" + sub, "stage",
                         /*publish=*/false);
  // A WHEP player with a wildcard-room subscribe token.
  WhepViewer player(server->base + "/whep/stage", "peer-timeout=3000 auth-token=" + any);
  ASSERT_TRUE(wait_until(
      [&] {
        return http_request("GET", server->base + "/metrics", nullptr, "")
                   .body.find("rtcmesh_room_publishers{room=\"stage\"} 1") != std::string::npos;
      },
      20s))
      << joined(cam.errors());
  ASSERT_TRUE(player.play());
  EXPECT_TRUE(wait_until(
      [&] { return viewer.frames_from("cam") >= 10 && player.video_frames() >= 10; }, 30s))
      << "rtcmeshbin " << viewer.frames_from("cam") << " frames, WHEP " << player.video_frames()
      << "; " << joined(cam.errors()) << joined(viewer.pipeline().errors())
      << joined(player.pipeline().errors());
  EXPECT_GT(player.audio_samples(), 0u);
  EXPECT_TRUE(cam.errors().empty()) << joined(cam.errors());
}

TEST_F(Tokens, RefusalsChangeNothing) {
  auto server = start({"--token-secret-file", keys.secret});
  ASSERT_TRUE(server);
  std::string watch = hs_token(keys, "roomA", "alice", {"--subscribe"});
  std::string pub = hs_token(keys, "roomA", "bob", {"--publish"});
  ASSERT_FALSE(watch.empty() || pub.empty());
  // Expired an hour ago: the command cannot make one, the library can.
  int64_t now = sig::TokenVerifier::wall_clock();
  std::string expired =
      sig::issue_token("HS256", kSecret, "roomA", "bob", sig::kGrantPublish, now - 7200, now - 3600);
  const std::string whip = server->base + "/whip/roomA";
  const std::string offer = chromium_offer("sendonly");
  auto post = [&](const std::string& url, const std::string& sdp, const std::string& token) {
    return http_request("POST", url, "application/sdp", sdp, token.empty() ? nullptr : token.c_str());
  };

  // WHIP: no token, subscribe-only, another's name, expired, forged.
  HttpReply r = post(whip + "/bob", offer, "");
  EXPECT_EQ(r.status, 401u) << r.body;
  r = post(whip + "/alice", offer, watch);
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_NE(r.body.find("does not grant publish"), std::string::npos) << r.body;
  r = post(whip + "/carol", offer, pub);
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_NE(r.body.find("token is for peer 'bob'"), std::string::npos) << r.body;
  r = post(server->base + "/whip/roomB/bob", offer, pub);
  EXPECT_EQ(r.status, 403u) << r.body;
  r = post(whip + "/bob", offer, expired);
  EXPECT_EQ(r.status, 401u) << r.body;
  EXPECT_NE(r.body.find("expired"), std::string::npos) << r.body;
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  std::string forged = pub.substr(0, pub.rfind('.') + 1) + "AAAA";
  EXPECT_EQ(post(whip + "/bob", offer, forged).status, 401u);
  // WHEP with the publish-only token.
  r = post(server->base + "/whep/roomA", chromium_offer("recvonly"), pub);
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_NE(r.body.find("does not grant subscribe"), std::string::npos) << r.body;

  // JSON-RPC.
  RpcClient& a = connect(server->ws_url());
  EXPECT_EQ(code(a, "join", Json::object({{"room", "roomA"}})), sig::rpc::kUnauthorized);
  sig::WsClient::Reply j = call(a, "join", Json::object({{"room", "roomA"}, {"token", expired}}));
  EXPECT_EQ(j.error.code, sig::rpc::kUnauthorized);
  EXPECT_NE(j.error.message.find("expired"), std::string::npos) << j.error.message;
  j = call(a, "join", Json::object({{"room", "roomB"}, {"token", watch}}));
  EXPECT_EQ(j.error.code, sig::rpc::kUnauthorized);
  EXPECT_NE(j.error.message.find("token is for room 'roomA', not 'roomB'"), std::string::npos)
      << j.error.message;
  j = call(a, "join", Json::object({{"room", "roomA"}, {"peer", "mallory"}, {"token", watch}}));
  EXPECT_EQ(j.error.code, sig::rpc::kUnauthorized) << j.error.message;
  // Nothing of these refusals made a room.
  sig::WsClient::Reply listed = call(a, "list", Json::object({{"token", watch}}));
  ASSERT_TRUE(listed.ok()) << listed.error.message;
  EXPECT_EQ(listed.result.find("rooms")->size(), 0u) << listed.result.dump();

  // The subscribe-only participant joins as its sub, cannot publish, may subscribe.
  j = call(a, "join", Json::object({{"room", "roomA"}, {"token", watch}}));
  ASSERT_TRUE(j.ok()) << j.error.message;
  EXPECT_EQ(j.result.get_string("peer"), "alice");
  sig::WsClient::Reply p = call(a, "publish", Json::object({{"sdp", webrtcbin_offer("sendonly")}}));
  EXPECT_EQ(p.error.code, sig::rpc::kUnauthorized);
  EXPECT_NE(p.error.message.find("does not grant publish"), std::string::npos) << p.error.message;
  EXPECT_EQ(code(a, "subscribe"), 0);
  // The publish-only one cannot subscribe.
  RpcClient& b = connect(server->ws_url());
  ASSERT_EQ(code(b, "join", Json::object({{"room", "roomA"}, {"token", pub}})), 0);
  EXPECT_EQ(code(b, "subscribe"), sig::rpc::kUnauthorized);
  EXPECT_FALSE(a.closed);
  EXPECT_FALSE(b.closed);
}

// ES256: the server holds only the public key; HS256 tokens (even keyed with
// that public key) are refused.
TEST_F(Tokens, Es256WithThePublicKeyOnly) {
  std::string priv = keys.dir + "/ec.pem", pub = keys.dir + "/ec.pub";
  keys.files = {priv, pub};
  ASSERT_TRUE(keys.run({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                        priv}));
  ASSERT_TRUE(keys.run({"openssl", "ec", "-in", priv, "-pubout", "-out", pub}));
  auto server = start({"--token-public-key", pub});
  ASSERT_TRUE(server);
  std::string good = make_token({"--room", "r", "--identity", "p", "--subscribe", "--ttl", "60",
                                 "--token-private-key", priv});
  std::string hs = hs_token(keys, "r", "p", {"--subscribe"});
  RpcClient& c = connect(server->ws_url());
  sig::WsClient::Reply j = call(c, "join", Json::object({{"room", "r"}, {"token", hs}}));
  EXPECT_EQ(j.error.code, sig::rpc::kUnauthorized);
  EXPECT_NE(j.error.message.find("'HS256' is not accepted here (ES256)"), std::string::npos)
      << j.error.message;
  j = call(c, "join", Json::object({{"room", "r"}, {"token", good}}));
  ASSERT_TRUE(j.ok()) << j.error.message;
  EXPECT_EQ(j.result.get_string("peer"), "p");
}

// Mesh rooms take the same tokens: the room and the id are the token's; a
// token granting neither publish nor subscribe cannot negotiate.
TEST_F(Tokens, MeshRoomsCheckRoomIdAndGrants) {
  auto server = RtcmeshServer::start(
      RTCMESH_SERVER, {"--mode", "mesh", "--token-secret-file", keys.secret, "--token", "static"});
  ASSERT_TRUE(server);
  std::string alice = hs_token(keys, "m", "alice", {"--publish", "--subscribe"});
  std::string bob = hs_token(keys, "m", "bob", {"--admin"});
  RpcClient& a = connect(server->ws_url());
  EXPECT_EQ(code(a, "join", Json::object({{"room", "other"}, {"token", alice}})),
            sig::rpc::kUnauthorized);
  sig::WsClient::Reply j = call(a, "join", Json::object({{"room", "m"}, {"token", alice}}));
  ASSERT_TRUE(j.ok()) << j.error.message;
  EXPECT_EQ(j.result.get_string("peer"), "alice");
  EXPECT_EQ(j.result.get_string("mode"), "mesh");
  // The token in the upgrade's Authorization header serves the join.
  sig::WsClient::Options o;
  o.headers.add("Authorization", "Bearer " + bob);
  RpcClient& b = connect(server->ws_url(), o);
  j = call(b, "join", Json::object({{"room", "m"}}));
  ASSERT_TRUE(j.ok()) << j.error.message;
  EXPECT_EQ(j.result.get_string("peer"), "bob");
  // The static token still joins any room as anyone.
  RpcClient& c = connect(server->ws_url());
  EXPECT_EQ(code(c, "join", Json::object({{"room", "x"}, {"peer", "z"}, {"token", "static"}})), 0);
}

TEST_F(Tokens, TokenCommandAndBadKeysAreUsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"token", "--room", "r", "--identity", "p", "--publish"},  // no ttl
        {"token", "--room", "r", "--identity", "p", "--ttl", "60", "--token-secret-file",
         keys.secret},  // no grant
        {"token", "--room", "r", "--identity", "p", "--publish", "--ttl", "60"},  // no key
        {"--token-secret-file", keys.dir + "/missing"},
        {"--token-public-key", keys.secret}}) {
    std::vector<std::string> argv{RTCMESH_SERVER};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Subprocess::spawn(argv);
    ASSERT_TRUE(p);
    auto status = p->wait(20s);
    EXPECT_TRUE(status && *status == 2) << args[0] << " " << args.back() << ": exit "
                                        << status.value_or(-1);
  }
}

}  // namespace
}  // namespace rtcmesh
