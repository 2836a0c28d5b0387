// Rooms across nodes (issue 15): rtcmesh-server nodes as subprocesses with
// one redis-server and one nats-server the test starts on free loopback
// ports (tests/support/cluster_servers.h), JSON-RPC participants over real
// WebSockets on different nodes: joins, leaves and the mesh relay across
// nodes, late joiners, node loss (SIGKILL), Redis and NATS restarts, bad
// input (unreachable servers, malformed NATS messages).
#include <gio/gio.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "signaling/cluster/cluster_node.h"
#include "signaling/json.h"
#include "tests/support/cluster_servers.h"
#include "tests/support/harness.h"
#include "tests/support/room_page.h"
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
  g_socket_client_set_timeout(c, 5);  // a read that never gets PONG fails the test, not hangs it
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
  Server& node(const std::string& id, const std::string& mode = "mesh",
              const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {"--mode", mode, "--redis", redis->url(), "--nats",
                                     nats->url(), "--node-id", id, "--node-ttl",
                                     std::to_string(kTtlMs), "--peer-timeout", "5000"};
    args.insert(args.end(), more.begin(), more.end());
    auto s = Server::start(RTCMESH_SERVER, args);
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
  // (mesh rooms drain too; B has no --advertise-url: nowhere named)
  ASSERT_TRUE(run_until([&] { return alice.closed.has_value(); }, 5000));
  EXPECT_EQ(*alice.closed, 1001);
  EXPECT_EQ(alice.closed_reason, "draining");
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
  // Junk does not make its sender a node.
  EXPECT_EQ(cluster_metric(metrics(b), "rtcmesh_cluster_nodes_seen", "B"), 1) << metrics(b);
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

// Ended with EOS: some track of `peer` got EOS.
bool ended(const std::vector<std::shared_ptr<test::Track>>& tracks, const std::string& peer = "") {
  for (const auto& t : tracks)
    if ((peer.empty() || t->peer_id == peer) && t->eos) return true;
  return false;
}

// Node loss, three nodes: the mover publishes on A (its url names A, then
// B); a subscriber on B, two WHEP players (of the room, of the mover) and a
// JSON-RPC watcher on C. SIGKILL of A: within TTL + 1 s B and C tell
// publisher-left, the subscriber's pads and the mover's player's end with EOS; the mover joins B again (taking its id back
// once A's entry expired), publishes again, and its media reaches B's
// subscriber and C's player (its idle slot takes the mover again).
TEST_F(ClusterTest, ANodeDiesItsPublisherEndsOnBAndCAndItsParticipantMovesToBAndPublishesAgain) {
  Server& a = node("A", "sfu");
  Server& b = node("B", "sfu");
  Server& c = node("C", "sfu");
  Client& watch_b = connect(b.ws_url());
  join(watch_b, "demo", "watch-b");
  Client& watch_c = connect(c.ws_url());
  join(watch_c, "demo", "watch-c");
  test::RoomParticipant mover("\"" + a.ws_url() + "," + b.ws_url() + "\"", "mover", "", "demo");
  test::RoomParticipant viewer(b.ws_url(), "viewer", "", "demo", /*publish=*/false);
  ASSERT_TRUE(run_until([&] { return !watch_c.got("publisher-joined").empty(); }, 15000));
  test::WhepViewer player(c.base + "/whep/demo");               // of the room
  test::WhepViewer mover_player(c.base + "/whep/demo/mover");  // of the mover alone
  ASSERT_TRUE(player.play());
  ASSERT_TRUE(mover_player.play());
  ASSERT_TRUE(run_until([&] {
    return viewer.frames_from("mover") >= 10 && player.video_frames() >= 10 &&
           player.audio_samples() > 0 && mover_player.video_frames() >= 10;
  }, 30000)) << "through A: viewer on B " << viewer.frames_from("mover") << " frames, players on C "
             << player.video_frames() << " and " << mover_player.video_frames();

  // Junk on the mover's media subjects (what a buggy client of the same NATS
  // could send): ignored and counted by B and C; the media goes on.
  auto state = Json::parse(redis_cli(redis->port(), {"GET", "rtcmesh:node:A"}));
  ASSERT_TRUE(state && state->find("publishers"));
  std::vector<std::string> subjects;
  for (const Json& p : state->find("publishers")->as_array())
    for (const Json& t : p.find("tracks")->as_array())
      subjects.push_back(sig::cluster::ClusterNode::media_subject(
          "A", "demo", p.get_string("peer").value_or(""), t.get_string("id").value_or("")));
  ASSERT_EQ(subjects.size(), 2u) << state->dump();
  for (const auto& subject : subjects)
    for (const char* junk : {"x", "not an RTP packet, not at all"})
      nats_publish_raw(nats->port(), subject, junk);
  ASSERT_TRUE(run_until([&] {
    return cluster_metric(metrics(b), "rtcmesh_cluster_malformed_messages_total", "B") == 4 &&
           cluster_metric(metrics(c), "rtcmesh_cluster_malformed_messages_total", "C") == 4;
  }, 5000)) << metrics(b) << metrics(c);
  int frames = viewer.frames_from("mover");
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("mover") >= frames + 10; }, 10000));

  gint64 killed = g_get_monotonic_time();
  a.proc->send_signal(SIGKILL);
  auto left = [](Client& w) {
    for (const auto& n : w.got("publisher-left"))
      if (n.get_string("peer") == "mover") return n.get_string("reason").value_or("");
    return std::string();
  };
  // (the mover's own player: the server's RTCP BYE ends its pads)
  auto all_ended = [](const std::vector<std::shared_ptr<test::Track>>& tracks) {
    for (const auto& t : tracks)
      if (!t->eos) return false;
    return !tracks.empty();
  };
  ASSERT_TRUE(run_until([&] {
    return !left(watch_b).empty() && !left(watch_c).empty() && ended(viewer.tracks(), "mover") &&
           all_ended(mover_player.tracks());
  }, kTtlMs + 3000)) << "B: '" << left(watch_b) << "', C: '" << left(watch_c) << "', viewer EOS "
                     << ended(viewer.tracks(), "mover") << ", player of the mover EOS "
                     << all_ended(mover_player.tracks());
  double after_ms = (g_get_monotonic_time() - killed) / 1000.0;
  EXPECT_LE(after_ms, kTtlMs + 1000) << "publisher-left and EOS " << after_ms << " ms after SIGKILL";
  EXPECT_EQ(left(watch_b), "timeout");
  EXPECT_EQ(left(watch_c), "timeout");

  // The mover is on B now: media flows again to B's subscriber and C's player.
  int viewer_before = viewer.frames_from("mover"), player_before = player.video_frames();
  ASSERT_TRUE(run_until([&] {
    return viewer.frames_from("mover") >= viewer_before + 15 &&
           player.video_frames() >= player_before + 15;
  }, 30000)) << "after the move: viewer +" << viewer.frames_from("mover") - viewer_before
             << ", player +" << player.video_frames() - player_before;
  std::printf("node loss (TTL %u ms): publisher-left and EOS on B and C %.0f ms after SIGKILL; "
              "15 more frames of the moved publisher on B and C %.0f ms after it\n",
              kTtlMs, after_ms, (g_get_monotonic_time() - killed) / 1000.0);
  EXPECT_GE(watch_c.got("publisher-joined").size(), 2u) << "the mover published again, on B";
  ASSERT_TRUE(run_until([&] {
    return cluster_metric(metrics(b), "rtcmesh_cluster_remote_participants", "B") == 1;  // watch-c
  }, 5000)) << metrics(b);
  std::string room = metrics(b);
  EXPECT_EQ(test::metric_value(room, "rtcmesh_room_publishers", "demo"), 1) << room;
  EXPECT_EQ(cluster_metric(metrics(c), "rtcmesh_cluster_nodes_lost_total", "C"), 1);
}

// Redis, then NATS, away during a live SFU room: media between participants
// of one node never stops, nor (while NATS is there) between nodes; once each
// is back the node's state is published again and the other node's
// subscriber gets the publisher again. Each loss and return is logged once.
TEST_F(ClusterTest, RedisAndNatsRestartsDuringALiveRoomKeepMediaAndRepublishState) {
  Server& a = node("A", "sfu");
  Server& b = node("B", "sfu");
  test::RoomParticipant alice(a.ws_url(), "alice", "", "demo");
  test::RoomParticipant anne(a.ws_url(), "anne", "", "demo", /*publish=*/false);
  test::RoomParticipant bob(b.ws_url(), "bob", "", "demo", /*publish=*/false);
  ASSERT_TRUE(run_until([&] {
    return anne.frames_from("alice") >= 10 && bob.frames_from("alice") >= 10;
  }, 30000)) << "anne " << anne.frames_from("alice") << ", bob " << bob.frames_from("alice");
  // `n` more frames of alice's within `ms`.
  auto flows = [&](test::RoomParticipant& p, int n, int ms) {
    int before = p.frames_from("alice");
    return run_until([&] { return p.frames_from("alice") >= before + n; }, ms);
  };

  redis->stop();
  EXPECT_TRUE(flows(anne, 15, 5000)) << "same node, Redis away";
  EXPECT_TRUE(flows(bob, 15, 5000)) << "across nodes (NATS), Redis away";
  redis->start();
  ASSERT_TRUE(run_until([&] {
    return redis_cli(redis->port(), {"GET", "rtcmesh:peer:demo:alice"}) == "A" &&
           redis_cli(redis->port(), {"GET", "rtcmesh:peer:demo:bob"}) == "B";
  }, 8000)) << "keys written again";
  EXPECT_NE(redis_cli(redis->port(), {"GET", "rtcmesh:node:A"}).find("alice"), std::string::npos);

  nats->stop();
  EXPECT_TRUE(flows(anne, 15, 5000)) << "same node, NATS away";
  // B loses A after the TTL: alice's pads on bob end.
  ASSERT_TRUE(run_until([&] { return ended(bob.tracks(), "alice"); }, kTtlMs + 5000));
  EXPECT_TRUE(flows(anne, 10, 5000)) << "same node, NATS still away";
  nats->start();
  EXPECT_TRUE(flows(bob, 15, 30000)) << "alice again on B once NATS is back";
  EXPECT_TRUE(flows(anne, 10, 5000));

  for (Server* s : {&a, &b}) {
    EXPECT_EQ(s->stderr_count("lost Redis"), 1u) << "logged once, not once per attempt";
    EXPECT_EQ(s->stderr_count("Redis at 127.0.0.1"), 2u);  // lost …, … is back
    EXPECT_EQ(s->stderr_count("lost NATS"), 1u);
    EXPECT_EQ(s->stderr_count("NATS is back"), 1u);
  }
}

// SIGTERM drains: /readyz fails, new sessions are refused (WHIP 503 with
// Retry-After, /rtc closed with 1001 "move <B's --advertise-url>"), the
// JSON-RPC participant (one url: A's) moves to B and publishes there, the
// WHIP publisher on A goes on until it stops, then A exits 0.
TEST_F(ClusterTest, SigtermDrainsAndSendsParticipantsToTheAdvertisedNodeThenExits) {
  unsigned pa = test::free_loopback_port(), pb = test::free_loopback_port();
  auto ws = [](unsigned p) { return "ws://127.0.0.1:" + std::to_string(p) + "/rtc"; };
  Server& b = node("B", "sfu", {"--port", std::to_string(pb), "--advertise-url", ws(pb)});
  std::vector<std::string> a_args = {"--port", std::to_string(pa), "--advertise-url", ws(pa),
                                     "--drain-timeout", "20s"};
#ifdef RTCMESH_HAVE_GRPC
  a_args.insert(a_args.end(), {"--grpc-port", "0"});
#endif
  Server& a = node("A", "sfu", a_args);
  ASSERT_EQ(a.port, pa);
  EXPECT_NE(redis_cli(redis->port(), {"GET", "rtcmesh:node:B"}).find("\"url\":\"" + ws(pb) + "\""),
            std::string::npos) << "--advertise-url kept in Redis";
  test::RoomParticipant viewer(b.ws_url(), "viewer", "", "demo", /*publish=*/false);
  test::RoomParticipant mover(a.ws_url(), "mover", "", "demo");
  // A gRPC participant is moved the same way (its stream ends UNAVAILABLE
  // "move <url>").
  std::vector<std::string> movers = {"mover"};
  std::unique_ptr<test::RoomParticipant> grpc_mover;
#ifdef RTCMESH_HAVE_GRPC
  auto grpc_line = a.proc->read_line(10s);
  ASSERT_TRUE(grpc_line && grpc_line->starts_with("rtcmesh-server grpc on grpc://"))
      << grpc_line.value_or("<nothing>");
  grpc_mover = std::make_unique<test::RoomParticipant>(
      grpc_line->substr(grpc_line->find("grpc://")), "gmover", "", "demo");
  movers.push_back("gmover");
#endif
  test::Pipeline cam(test::publisher_launch(a.base + "/whip/demo/cam", "peer-timeout=3000"));
  cam.set_state(GST_STATE_PLAYING);
  std::map<std::string, int> before;
  auto all_flow = [&](int n) {
    for (const std::string& p : movers)
      if (viewer.frames_from(p) < before[p] + n) return false;
    return viewer.frames_from("cam") >= before["cam"] + n;
  };
  auto counts = [&] {
    std::string out;
    for (const std::string& p : movers) out += p + " " + std::to_string(viewer.frames_from(p)) + ", ";
    return out + "cam " + std::to_string(viewer.frames_from("cam"));
  };
  ASSERT_TRUE(run_until([&] { return all_flow(10); }, 30000)) << counts();

  gint64 termed = g_get_monotonic_time();
  a.proc->send_signal(SIGTERM);
  EXPECT_TRUE(run_until([&] {
    return test::http_request("GET", a.base + "/readyz", nullptr, "").status == 503;
  }, 3000)) << "/readyz while draining";
  auto post = test::http_request("POST", a.base + "/whip/demo/late", "application/sdp",
                                 test::chromium_offer("sendonly"));
  EXPECT_EQ(post.status, 503u) << post.body;
  EXPECT_FALSE(post.header("Retry-After").empty());
  EXPECT_NE(post.body.find("draining"), std::string::npos) << post.body;
  Client& late = connect(a.ws_url());
  ASSERT_TRUE(run_until([&] { return late.closed.has_value(); }, 5000));
  EXPECT_EQ(*late.closed, 1001);
  EXPECT_EQ(late.closed_reason, "move " + ws(pb));

  // The movers publish on B now; cam's session on A goes on meanwhile.
  for (const std::string& p : movers) before[p] = viewer.frames_from(p);
  before["cam"] = viewer.frames_from("cam");
  ASSERT_TRUE(run_until([&] { return all_flow(15); }, 30000)) << counts();
  std::printf("drain: 15 more frames of the moved participants on B %.0f ms after SIGTERM\n",
              (g_get_monotonic_time() - termed) / 1000.0);
  EXPECT_FALSE(a.proc->wait(std::chrono::milliseconds(0))) << "A waits for cam's session";
  std::string mb = metrics(b);
  EXPECT_EQ(test::metric_value(mb, "rtcmesh_room_publishers", "demo"), double(movers.size() + 1))
      << mb;
  EXPECT_EQ(cluster_metric(mb, "rtcmesh_cluster_remote_publishers", "B"), 1) << "cam; the movers are B's";

  // cam stops (DELETE): A's last session ends and it exits.
  gint64 t0 = g_get_monotonic_time();
  cam.set_state(GST_STATE_NULL);
  EXPECT_EQ(a.proc->wait(std::chrono::seconds(10)).value_or(-1), 0);
  EXPECT_LT((g_get_monotonic_time() - t0) / 1000, 10000);
  EXPECT_EQ(a.stderr_count("drained: 0 session(s) left"), 1u);
}

// The room page with two servers (&servers=A,B), loaded from A, publishes
// through A to a subscriber on B; A is killed: the page moves to B, joins
// again (once A's entry of its id expired) and publishes there.
TEST_F(ClusterTest, TheRoomPageMovesToTheNextServerWhenItsNodeDies) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  Server& a = node("A", "sfu");
  Server& b = node("B", "sfu");
  test::RoomParticipant viewer(b.ws_url(), "viewer", "", "demo", /*publish=*/false);
  std::string error;
  auto page = test::RoomPage::open(
      RTCMESH_BROWSER_DIR,
      a.base + "/room/demo?peer=page&servers=" + a.ws_url() + "," + b.ws_url(), "page", 90, &error);
  ASSERT_TRUE(page) << error;
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("page") >= 10 || page->done; }, 40000) &&
              viewer.frames_from("page") >= 10)
      << "through A: " << viewer.frames_from("page") << " frames; " << page->describe();

  a.proc->send_signal(SIGKILL);
  ASSERT_TRUE(run_until([&] { return ended(viewer.tracks(), "page"); }, kTtlMs + 3000));
  int before = viewer.frames_from("page");
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("page") >= before + 15 || page->done; },
                        30000) &&
              viewer.frames_from("page") >= before + 15)
      << "after the move: +" << viewer.frames_from("page") - before << "; " << page->describe();
  std::string room = metrics(b);
  EXPECT_EQ(test::metric_value(room, "rtcmesh_room_publishers", "demo"), 1) << "the page, on B";
}

// The room page of a draining node (one server, A) follows its 1001
// "move <B's --advertise-url>" close and publishes on B.
TEST_F(ClusterTest, TheRoomPageFollowsADrainingNodeToTheAdvertisedOne) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  unsigned pa = test::free_loopback_port(), pb = test::free_loopback_port();
  auto ws = [](unsigned p) { return "ws://127.0.0.1:" + std::to_string(p) + "/rtc"; };
  Server& b = node("B", "sfu", {"--port", std::to_string(pb), "--advertise-url", ws(pb)});
  Server& a = node("A", "sfu", {"--port", std::to_string(pa), "--advertise-url", ws(pa)});
  test::RoomParticipant viewer(b.ws_url(), "viewer", "", "demo", /*publish=*/false);
  std::string error;
  auto page = test::RoomPage::open(RTCMESH_BROWSER_DIR, a.base + "/room/demo?peer=page", "page",
                                   90, &error);
  ASSERT_TRUE(page) << error;
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("page") >= 10 || page->done; }, 40000) &&
              viewer.frames_from("page") >= 10)
      << "through A: " << viewer.frames_from("page") << " frames; " << page->describe();

  a.proc->send_signal(SIGTERM);
  int before = viewer.frames_from("page");
  ASSERT_TRUE(run_until([&] { return viewer.frames_from("page") >= before + 15 || page->done; },
                        30000) &&
              viewer.frames_from("page") >= before + 15)
      << "after the move: +" << viewer.frames_from("page") - before << "; " << page->describe();
  EXPECT_EQ(a.proc->wait(std::chrono::seconds(10)).value_or(-1), 0) << "A drained: nothing left";
  EXPECT_EQ(cluster_metric(metrics(b), "rtcmesh_cluster_remote_publishers", "B"), 0)
      << "the page publishes on B itself";
}

}  // namespace
}  // namespace rtcmesh
