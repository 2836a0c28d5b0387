// Rooms across nodes (issue 15): rtcmesh-server nodes as subprocesses with
// one redis-server and one nats-server the test starts on free loopback
// ports (tests/support/cluster_servers.h), JSON-RPC participants over real
// WebSockets on different nodes: joins, leaves and the mesh relay across
// nodes, late joiners, node loss (SIGKILL), Redis and NATS restarts, bad
// input (unreachable servers, malformed NATS messages).
#include <gio/gio.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "signaling/json.h"
#include "tests/support/cluster_servers.h"
#include "tests/support/harness.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using sig::Json;
using test::ClusterServer;
using test::Subprocess;
using Server = test::RtcmeshServer;
using Client = test::RpcClient;

constexpr unsigned kTtlMs = 1500;  // --node-ttl of the nodes (heartbeat every 500 ms)

// The value of `name{node="<node>"}` in a /metrics text; -1 when absent.
double cluster_metric(const std::string& text, const std::string& name, const std::string& node) {
  return test::metric_value(text, name, node, "node");
}

// redis-cli's answer to one command (trimmed), for looking at the keys.
std::string redis_cli(unsigned port, const std::vector<std::string>& command) {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port)};
  argv.insert(argv.end(), command.begin(), command.end());
  auto p = Subprocess::spawn(argv);
  if (!p) return "<spawn failed>";
  p->wait(5s);
  std::string out;
  for (const auto& l : p->stdout_lines()) out += (out.empty() ? "" : "\n") + l;
  return out;
}

// Raw NATS protocol: publishes `payload` on `subject` (what a buggy or
// hostile client of the same NATS could send).
void nats_publish_raw(unsigned port, const std::string& subject, const std::string& payload) {
  GSocketClient* c = g_socket_client_new();
  GSocketConnection* conn =
      g_socket_client_connect_to_host(c, "127.0.0.1", static_cast<guint16>(port), nullptr, nullptr);
  g_object_unref(c);
  ASSERT_TRUE(conn);
  std::string bytes = "CONNECT {\"verbose\":false}\r\nPUB " + subject + " " +
                      std::to_string(payload.size()) + "\r\n" + payload + "\r\nPING\r\n";
  GOutputStream* out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  EXPECT_TRUE(g_output_stream_write_all(out, bytes.data(), bytes.size(), nullptr, nullptr, nullptr));
  // Wait for PONG: the server has taken the PUB by then.
  GInputStream* in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  std::string got;
  char buf[512];
  while (got.find("PONG") == std::string::npos) {
    gssize n = g_input_stream_read(in, buf, sizeof buf, nullptr, nullptr);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  g_object_unref(conn);
}

class ClusterTest : public test::RpcTest {
 protected:
  void SetUp() override {
    RpcTest::SetUp();
    redis = std::make_unique<ClusterServer>(ClusterServer::Kind::kRedis);
    nats = std::make_unique<ClusterServer>(ClusterServer::Kind::kNats);
  }
  void TearDown() override {
    RpcTest::TearDown();
    nodes.clear();
    nats.reset();
    redis.reset();
  }
  Server& node(const std::string& id, const std::string& mode = "mesh") {
    auto s = Server::start(RTCMESH_SERVER,
                           {"--mode", mode, "--redis", redis->url(), "--nats", nats->url(),
                            "--node-id", id, "--node-ttl", std::to_string(kTtlMs), "--peer-timeout",
                            "5000"});
    EXPECT_TRUE(s);
    nodes.push_back(std::move(s));
    return *nodes.back();
  }
  std::string metrics(Server& s) {
    return test::http_request("GET", s.base + "/metrics", nullptr, "").body;
  }
  // Waits until `node` counts `n` participants of other nodes.
  bool remote_count(Server& s, const std::string& id, double n, int ms = 5000) {
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end) {
      if (cluster_metric(metrics(s), "rtcmesh_cluster_remote_participants", id) == n) return true;
      run_for(50);
    }
    return false;
  }
  // Nodes A and B (mesh rooms), alice on A and bob on B in room demo.
  std::tuple<Server&, Server&, Client&, Client&> alice_on_a_and_bob_on_b() {
    Server& a = node("A");
    Server& b = node("B");
    Client& alice = connect(a.ws_url());
    join(alice, "demo", "alice");
    EXPECT_TRUE(remote_count(b, "B", 1));
    Client& bob = connect(b.ws_url());
    join(bob, "demo", "bob");
    return {a, b, alice, bob};
  }
  Json join(Client& c, const std::string& room, const std::string& peer) {
    auto r = call(c, "join", Json::object({{"room", room}, {"peer", peer}}));
    EXPECT_TRUE(r.ok()) << peer << ": " << r.error.message;
    return r.result;
  }
  std::vector<std::string> peers_of(const Json& join_result) {
    std::vector<std::string> out;
    if (const Json* p = join_result.find("peers"))
      for (const Json& x : p->as_array()) out.push_back(x.as_string());
    return out;
  }

  std::unique_ptr<ClusterServer> redis, nats;
  std::vector<std::unique_ptr<Server>> nodes;
};

// --- bad input at start -------------------------------------------------------

TEST(ClusterCli, UnreachableRedisOrNatsOrIncompleteOptionsFailWithAClearMessage) {
  unsigned nothing = test::free_loopback_port();  // no server there
  ClusterServer redis(ClusterServer::Kind::kRedis), nats(ClusterServer::Kind::kNats);
  struct Case {
    std::vector<std::string> args;
    int exit;
    const char* says;
  };
  std::string dead = "127.0.0.1:" + std::to_string(nothing);
  std::vector<Case> cases = {
      {{"--redis", redis.url()}, 2, "--redis, --nats and --node-id go together"},
      {{"--redis", "http://x", "--nats", nats.url(), "--node-id", "a"}, 2,
       "--redis takes redis://HOST:PORT[/DB]"},
      {{"--redis", redis.url(), "--nats", "tcp://x", "--node-id", "a"}, 2, "--nats takes nats://"},
      {{"--redis", redis.url(), "--nats", nats.url(), "--node-id", "a b"}, 2, "--node-id must be"},
      {{"--redis", "redis://" + dead, "--nats", nats.url(), "--node-id", "a"}, 1,
       "cannot connect to Redis at"},
      {{"--redis", redis.url(), "--nats", "nats://" + dead, "--node-id", "a"}, 1,
       "cannot connect to NATS at"},
  };
  for (const auto& c : cases) {
    for (const char* mode : {"mesh", "sfu"}) {
      std::vector<std::string> argv = {RTCMESH_SERVER, "--port", "0", "--address", "127.0.0.1",
                                       "--mode", mode};
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      auto p = Subprocess::spawn(argv);
      ASSERT_TRUE(p);
      auto status = p->wait(15s);
      ASSERT_TRUE(status) << c.says;
      EXPECT_EQ(*status, c.exit) << c.says;
      // (stderr's reader thread may still be reading the last lines)
      std::string err;
      for (int i = 0; i < 40 && err.find(c.says) == std::string::npos; ++i) {
        if (i) std::this_thread::sleep_for(50ms);
        err.clear();
        for (const auto& l : p->stderr_lines()) err += l + "\n";
      }
      EXPECT_NE(err.find(c.says), std::string::npos) << mode << ": " << err;
      EXPECT_TRUE(p->stdout_lines().empty()) << "it must not say it listens";
    }
  }
}

// --- two and three nodes ------------------------------------------------------

TEST_F(ClusterTest, ParticipantsOnTwoNodesMeetInOneRoomAndLateJoinersGetEveryone) {
  Server& a = node("A");
  Server& b = node("B");
  Client& alice = connect(a.ws_url());
  EXPECT_TRUE(peers_of(join(alice, "demo", "alice")).empty());
  ASSERT_TRUE(remote_count(b, "B", 1)) << metrics(b);
  Client& bob = connect(b.ws_url());
  // bob, on B, sees alice of node A in the room.
  EXPECT_EQ(peers_of(join(bob, "demo", "bob")), std::vector<std::string>{"alice"});
  ASSERT_TRUE(run_until([&] { return !alice.got("peer-joined").empty(); }, 5000));
  EXPECT_EQ(alice.got("peer-joined")[0].get_string("peer"), "bob");
  // The id is taken across the cluster.
  Client& dup = connect(b.ws_url());
  EXPECT_EQ(code(dup, "join", Json::object({{"room", "demo"}, {"peer", "alice"}})), -32004);

  // The mesh relay across nodes: bob (the later joiner) offers to alice.
  // (the relay checks an SDP's form, not which side wrote it)
  const std::string offer = test::webrtcbin_offer(), answer = test::chromium_offer("sendrecv");
  auto r = call(bob, "offer", Json::object({{"to", "alice"}, {"sdp", offer}, {"negotiationId", 7}}));
  EXPECT_TRUE(r.ok()) << r.error.message;
  ASSERT_TRUE(run_until([&] { return !alice.got("offer").empty(); }, 5000));
  EXPECT_EQ(alice.got("offer")[0].get_string("from"), "bob");
  EXPECT_EQ(alice.got("offer")[0].get_string("sdp"), offer);
  EXPECT_EQ(alice.got("offer")[0].find("negotiationId")->as_int(), 7);
  r = call(alice, "answer", Json::object({{"to", "bob"}, {"sdp", answer}, {"negotiationId", 7}}));
  EXPECT_TRUE(r.ok()) << r.error.message;
  ASSERT_TRUE(run_until([&] { return !bob.got("answer").empty(); }, 5000));
  EXPECT_EQ(bob.got("answer")[0].get_string("sdp"), answer);

  // State in Redis, with a TTL the nodes refresh.
  EXPECT_EQ(redis_cli(redis->port(), {"GET", "rtcmesh:peer:demo:alice"}), "A");
  EXPECT_EQ(redis_cli(redis->port(), {"GET", "rtcmesh:peer:demo:bob"}), "B");
  long ttl = std::stol(redis_cli(redis->port(), {"PTTL", "rtcmesh:node:A"}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, long(kTtlMs));

  // A third node started later learns the room from Redis and heartbeats.
  Server& c = node("C");
  ASSERT_TRUE(remote_count(c, "C", 2)) << metrics(c);
  Client& carol = connect(c.ws_url());
  EXPECT_EQ(peers_of(join(carol, "demo", "carol")), (std::vector<std::string>{"alice", "bob"}));
  ASSERT_TRUE(run_until([&] { return alice.got("peer-joined").size() == 2 &&
                                     bob.got("peer-joined").size() == 1; }, 5000));

  // A leave reaches the other nodes with its reason; the key goes.
  EXPECT_TRUE(call(bob, "leave").ok());
  ASSERT_TRUE(run_until([&] { return !alice.got("peer-left").empty() &&
                                     !carol.got("peer-left").empty(); }, 5000));
  EXPECT_EQ(alice.got("peer-left")[0].get_string("peer"), "bob");
  EXPECT_EQ(alice.got("peer-left")[0].get_string("reason"), "left");
  EXPECT_EQ(redis_cli(redis->port(), {"EXISTS", "rtcmesh:peer:demo:bob"}), "0");
  std::string m = metrics(a);
  EXPECT_EQ(cluster_metric(m, "rtcmesh_cluster_nodes_seen", "A"), 2) << m;
  EXPECT_GT(cluster_metric(m, "rtcmesh_cluster_nats_bytes_sent_total", "A"), 0) << m;
  EXPECT_EQ(test::http_request("GET", a.base + "/healthz", nullptr, "").status, 200);
  EXPECT_EQ(test::http_request("GET", a.base + "/readyz", nullptr, "").status, 200);
}

TEST_F(ClusterTest, AKilledNodesParticipantsLeaveWithinTheTtlAndItsKeysExpire) {
  auto [a, b, alice, bob] = alice_on_a_and_bob_on_b();
  ASSERT_TRUE(run_until([&] { return !alice.got("peer-joined").empty(); }, 5000));

  gint64 killed = g_get_monotonic_time();
  a.proc->send_signal(SIGKILL);
  ASSERT_TRUE(run_until([&] { return !bob.got("peer-left").empty(); }, kTtlMs + 3000));
  double after_ms = (g_get_monotonic_time() - killed) / 1000.0;
  EXPECT_LE(after_ms, kTtlMs + 1000) << "peer-left came " << after_ms << " ms after SIGKILL";
  EXPECT_EQ(bob.got("peer-left")[0].get_string("peer"), "alice");
  EXPECT_EQ(bob.got("peer-left")[0].get_string("reason"), "timeout");
  std::string m = metrics(b);
  EXPECT_EQ(cluster_metric(m, "rtcmesh_cluster_nodes_lost_total", "B"), 1) << m;
  EXPECT_EQ(cluster_metric(m, "rtcmesh_cluster_remote_participants", "B"), 0) << m;
  // A's keys expire by themselves (nobody refreshes them).
  ASSERT_TRUE(run_until([&] {
    return redis_cli(redis->port(), {"EXISTS", "rtcmesh:peer:demo:alice"}) == "0";
  }, kTtlMs + 2000));
  EXPECT_EQ(redis_cli(redis->port(), {"EXISTS", "rtcmesh:node:A"}), "0");
  // The room goes on at B: a new participant meets bob only.
  Client& carol = connect(b.ws_url());
  EXPECT_EQ(peers_of(join(carol, "demo", "carol")), std::vector<std::string>{"bob"});
}

TEST_F(ClusterTest, SigtermTellsTheOtherNodesAtOnce) {
  auto [a, b, alice, bob] = alice_on_a_and_bob_on_b();
  gint64 t0 = g_get_monotonic_time();
  a.proc->send_signal(SIGTERM);
  ASSERT_TRUE(run_until([&] { return !bob.got("peer-left").empty(); }, 5000));
  EXPECT_LT((g_get_monotonic_time() - t0) / 1000, kTtlMs) << "not the TTL: A said it leaves";
  EXPECT_EQ(a.proc->wait(10s).value_or(-1), 0);
  EXPECT_EQ(redis_cli(redis->port(), {"EXISTS", "rtcmesh:node:A"}), "0");
}

TEST_F(ClusterTest, RedisAndNatsRestartsKeepLocalRoomsAndStateComesBack) {
  Server& a = node("A");
  Server& b = node("B");
  Client& alice = connect(a.ws_url());
  join(alice, "demo", "alice");
  ASSERT_TRUE(remote_count(b, "B", 1));

  // Redis away: local joins go on; the keys are written again when it is back.
  redis->stop();
  Client& anne = connect(a.ws_url());
  EXPECT_EQ(peers_of(join(anne, "demo", "anne")), std::vector<std::string>{"alice"});
  run_for(1000);
  redis->start();
  ASSERT_TRUE(run_until([&] {
    return redis_cli(redis->port(), {"GET", "rtcmesh:peer:demo:anne"}) == "A";
  }, 8000));
  EXPECT_EQ(redis_cli(redis->port(), {"GET", "rtcmesh:peer:demo:alice"}), "A");
  EXPECT_EQ(a.stderr_count("lost Redis"), 1u) << "logged once, not once per attempt";
  EXPECT_EQ(a.stderr_count("is back"), 1u);  // "Redis at … is back"

  // NATS away (longer than the TTL): each node keeps its own room; what
  // happened meanwhile reaches the others once NATS is back.
  nats->stop();
  Client& bob = connect(b.ws_url());
  join(bob, "demo", "bob");
  Client& amy = connect(a.ws_url());
  join(amy, "demo", "amy");
  ASSERT_TRUE(run_until([&] { return anne.got("peer-joined").size() >= 1; }, 3000));
  EXPECT_TRUE(run_until([&] {
    return test::http_request("GET", a.base + "/readyz", nullptr, "").status == 503;
  }, 3000)) << "/readyz while NATS is away";
  run_for(int(kTtlMs) + 500);
  nats->start();
  // B had A's participants leave when A's heartbeat stopped; they come back.
  ASSERT_TRUE(run_until([&] {
    auto joined = bob.got("peer-joined");
    bool has_amy = false;
    for (const auto& j : joined) has_amy |= j.get_string("peer") == "amy";
    return has_amy;
  }, 10000));
  ASSERT_TRUE(run_until([&] {
    for (const auto& j : alice.got("peer-joined"))
      if (j.get_string("peer") == "bob") return true;
    return false;
  }, 10000));
  EXPECT_TRUE(run_until([&] {
    return test::http_request("GET", a.base + "/readyz", nullptr, "").status == 200;
  }, 3000)) << "/readyz once NATS is back";
  EXPECT_EQ(a.stderr_count("lost NATS"), 1u);
}

TEST_F(ClusterTest, MalformedNatsMessagesAreIgnoredAndCounted) {
  Server& a = node("A");
  Server& b = node("B");
  Client& bob = connect(b.ws_url());
  join(bob, "demo", "bob");
  std::vector<std::pair<std::string, std::string>> bad = {
      {"rtcmesh.events", "not json"},
      {"rtcmesh.events", "{\"v\":1,\"node\":\"X\",\"type\":\"joined\",\"room\":\"demo\"}"},
      {"rtcmesh.events", "{\"v\":1,\"node\":\"X\",\"type\":\"joined\",\"room\":\"bad room\",\"peer\":\"p\"}"},
      {"rtcmesh.events", "{\"v\":1,\"node\":\"X\",\"type\":\"publisher-joined\",\"room\":\"demo\",\"peer\":\"p\",\"tracks\":7}"},
      {"rtcmesh.heartbeat", "{\"v\":1,\"node\":\"X\",\"peers\":\"all\"}"},
      {"rtcmesh.heartbeat", "[]"},
      {"rtcmesh.relay.B", "{\"v\":1,\"room\":\"demo\",\"to\":\"bob\",\"from\":\"x\",\"type\":\"offer\"}"},
  };
  for (const auto& [subject, payload] : bad) nats_publish_raw(nats->port(), subject, payload);
  ASSERT_TRUE(run_until([&] {
    return cluster_metric(metrics(b), "rtcmesh_cluster_malformed_messages_total", "B") ==
           double(bad.size());
  }, 5000)) << metrics(b);
  EXPECT_TRUE(bob.got("offer").empty());
  EXPECT_TRUE(bob.got("peer-joined").empty());
  // The cluster goes on.
  Client& alice = connect(a.ws_url());
  join(alice, "demo", "alice");
  ASSERT_TRUE(run_until([&] { return !bob.got("peer-joined").empty(); }, 5000));
}

// --- media between nodes (SFU rooms) ---------------------------------------

TEST_F(ClusterTest, AWhipPublisherOnADecodesOnBThroughWhepAndARoomParticipant) {
  Server& a = node("A", "sfu");
  Server& b = node("B", "sfu");
  Client& watcher = connect(b.ws_url());  // what B's participants are told
  join(watcher, "demo", "watcher");
  test::Pipeline cam(test::publisher_launch(a.base + "/whip/demo/cam", "peer-timeout=3000"));
  cam.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(run_until([&] { return !watcher.got("publisher-joined").empty(); }, 10000));
  EXPECT_EQ(watcher.got("publisher-joined")[0].get_string("peer"), "cam");
  auto sent = [&] {
    return cluster_metric(metrics(a), "rtcmesh_cluster_media_bytes_sent_total", "A");
  };
  // Nobody on B subscribes yet: no RTP crosses.
  run_for(1000);
  EXPECT_EQ(sent(), 0);

  // A WHEP player of the room on B decodes A's publisher.
  auto viewer = std::make_unique<test::WhepViewer>(b.base + "/whep/demo/cam");
  ASSERT_TRUE(viewer->play());
  ASSERT_TRUE(run_until([&] { return viewer->video_frames() >= 15 && viewer->audio_samples() > 0; },
                        20000))
      << "frames " << viewer->video_frames() << ", samples " << viewer->audio_samples();
  // A late participant on B (rtcmeshbin, subscribing) gets it too, keyframe on join.
  auto late = std::make_unique<test::RoomParticipant>(b.ws_url(), "late", "", "demo",
                                                      /*publish=*/false);
  ASSERT_TRUE(run_until([&] { return late->frames_from("cam") >= 10 && late->samples_from("cam") > 0; },
                        20000))
      << "late: " << late->frames_from("cam") << " frames";
  std::string ma = metrics(a), mb = metrics(b);
  EXPECT_GT(cluster_metric(ma, "rtcmesh_cluster_media_bytes_sent_total", "A"), 10000) << ma;
  EXPECT_GT(cluster_metric(mb, "rtcmesh_cluster_media_bytes_received_total", "B"), 10000) << mb;
  EXPECT_EQ(cluster_metric(mb, "rtcmesh_cluster_remote_publishers", "B"), 1) << mb;
  EXPECT_EQ(test::http_request("GET", b.base + "/readyz", nullptr, "").status, 200);
  EXPECT_EQ(test::http_request("GET", b.base + "/healthz", nullptr, "").status, 200);

  // The subscribers go: A stops sending within the TTL (+ the subscriber
  // connections' own teardown).
  late.reset();
  viewer.reset();
  run_for(int(kTtlMs) + 1500);
  double before = sent();
  run_for(1000);
  EXPECT_EQ(sent(), before) << "A still sends with no subscriber on B";

  // Node A dies: B's participants get publisher-left within TTL + 1 s.
  gint64 killed = g_get_monotonic_time();
  a.proc->send_signal(SIGKILL);
  ASSERT_TRUE(run_until([&] { return !watcher.got("publisher-left").empty(); }, kTtlMs + 3000));
  EXPECT_LE((g_get_monotonic_time() - killed) / 1000, gint64(kTtlMs) + 1000);
  EXPECT_EQ(watcher.got("publisher-left")[0].get_string("reason"), "timeout");
  EXPECT_EQ(cluster_metric(metrics(b), "rtcmesh_cluster_remote_publishers", "B"), 0);
}

// rtcmeshbin with two server URLs: its node dies, it joins the other node
// again (taking its id back before the TTL ran out) and publishes again; a
// subscriber there decodes it again.
TEST_F(ClusterTest, AParticipantOfAKilledNodeMovesToTheNextUrlAndPublishesAgain) {
  Server& a = node("A", "sfu");
  Server& b = node("B", "sfu");
  test::RoomParticipant viewer(b.ws_url(), "viewer", "", "demo", /*publish=*/false);
  test::RoomParticipant mover("\"" + a.ws_url() + "," + b.ws_url() + "\"", "mover", "", "demo");
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("mover") >= 10; }, 20000))
      << "through A: " << viewer.frames_from("mover") << " frames";
  std::string mb = metrics(b);
  EXPECT_GT(cluster_metric(mb, "rtcmesh_cluster_media_bytes_received_total", "B"), 0) << mb;

  gint64 killed = g_get_monotonic_time();
  a.proc->send_signal(SIGKILL);
  int before = viewer.frames_from("mover");
  // The viewer's pads of the mover (fed through A) end with EOS when A's
  // heartbeat expires (or when the mover's new session on B replaces them).
  ASSERT_TRUE(run_until([&] {
    for (const auto& t : viewer.tracks())
      if (t->peer_id == "mover" && t->eos) return true;
    return false;
  }, kTtlMs + 3000)) << "no EOS on the viewer's pads of the mover";
  EXPECT_LE((g_get_monotonic_time() - killed) / 1000, gint64(kTtlMs) + 1000);
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("mover") >= before + 15; }, 20000))
      << "after the move: " << viewer.frames_from("mover") - before << " more frames";
  // On B it is a participant of B now, not of A.
  ASSERT_TRUE(run_until([&] {
    return cluster_metric(metrics(b), "rtcmesh_cluster_remote_participants", "B") == 0;
  }, 5000));
  auto room = test::http_request("GET", b.base + "/metrics", nullptr, "").body;
  EXPECT_EQ(test::metric_value(room, "rtcmesh_room_publishers", "demo"), 1) << room;
}

}  // namespace
}  // namespace rtcmesh
