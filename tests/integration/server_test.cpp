// rtcmesh-server as people run it: the built binary as a subprocess on port 0
// (its first stdout line says where), JSON-RPC clients over real WebSockets,
// and two headless Chromium pages (run.mjs --mode room) in one mesh room.
#include <arpa/inet.h>
#include <gio/gio.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "signaling/json.h"
#include "signaling/rpc/jsonrpc.h"
#include "signaling/http/ws_client.h"
#include "tests/signaling/loop.h"
#include "tests/support/child_mode.h"
#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/room_page.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using sig::Json;
using sig::WsClient;
using test::Subprocess;
namespace fs = std::filesystem;
namespace rpc = sig::rpc;
using Status = WsClient::Reply::Status;
using Server = test::RtcmeshServer;
using Client = test::RpcClient;

std::unique_ptr<Server> start_server(const std::vector<std::string>& args,
                                     std::vector<std::pair<std::string, std::string>> env = {}) {
  return Server::start(RTCMESH_SERVER, args, std::move(env));
}

class ServerTest : public test::RpcTest {};

// A WebSocket client on a plain socket: upgrades, sends one masked text
// frame, and never reads again, so it never answers the server's pings.
class MuteClient {
 public:
  MuteClient(unsigned port, const std::string& first_frame) {
    GSocketClient* sc = g_socket_client_new();
    GError* err = nullptr;
    conn_ =
        g_socket_client_connect_to_host(sc, "127.0.0.1", static_cast<guint16>(port), nullptr, &err);
    g_object_unref(sc);
    if (!conn_) {
      ADD_FAILURE() << "connect: " << err->message;
      g_clear_error(&err);
      return;
    }
    std::string bytes =
        "GET /rtc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    bytes += static_cast<char>(0x81);  // FIN + text
    size_t n = first_frame.size();
    EXPECT_LT(n, 65536u);
    if (n < 126) {
      bytes += static_cast<char>(0x80 | n);
    } else {
      bytes += static_cast<char>(0x80 | 126);
      bytes += static_cast<char>(n >> 8);
      bytes += static_cast<char>(n & 0xff);
    }
    const char mask[4] = {0x21, 0x43, 0x65, 0x07};
    bytes.append(mask, 4);
    for (size_t i = 0; i < n; ++i) bytes += static_cast<char>(first_frame[i] ^ mask[i % 4]);
    GOutputStream* out = g_io_stream_get_output_stream(G_IO_STREAM(conn_));
    EXPECT_TRUE(
        g_output_stream_write_all(out, bytes.data(), bytes.size(), nullptr, nullptr, nullptr));
  }
  ~MuteClient() {
    if (conn_) g_object_unref(conn_);
  }

 private:
  GSocketConnection* conn_ = nullptr;
};

// --- the command line --------------------------------------------------------

struct BadArgs {
  std::vector<std::string> args;
  const char* says;
};

TEST(ServerCli, RefusesWhatItCannotDoWithAClearMessage) {
  std::vector<BadArgs> cases = {
      {{"--room", "r"}, "--room goes with --mode mcu"},
      {{"--mode", "mcu", "--canvas", "huge"}, "--canvas takes WxH@FPS"},
      {{"--mode", "star"}, "--mode takes mesh, sfu, mcu or process"},
      {{"--port", "70000"}, "--port takes 0 to 65535"},
      {{"--grpc-port", "70000"}, "--grpc-port takes 0 to 65535"},
      {{"--tls-certificate", "/nonexistent.pem"}, "--tls-certificate and --tls-key go together"},
      {{"--token", "a", "--token-file", "/nonexistent"}, "exclude each other"},
      {{"--token-file", "/nonexistent/token"}, "cannot read /nonexistent/token"},
      {{"--peer-timeout", "500"}, "must be longer than 1 s"},
      {{"--max-peers-per-room", "many"}, "--max-peers-per-room takes a whole number"},
      {{"--max-mlines", "1"}, "--max-mlines takes a whole number from 2 to 64"},
      {{"--stun-server", "http://x"}, "--stun-server"},
      {{"--address", "example.invalid"}, "--address takes an IP address"},
      {{"extra"}, "unexpected argument 'extra'"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {RTCMESH_SERVER};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    std::string error;
    auto p = Subprocess::spawn(argv, &error);
    ASSERT_TRUE(p) << error;
    auto status = p->wait(10s);
    ASSERT_TRUE(status.has_value()) << c.args[0] << ": still running";
    EXPECT_EQ(*status, 2) << c.args[0];
    auto said = [&] {
      for (const auto& l : p->stderr_lines())
        if (l.find(c.says) != std::string::npos) return true;
      return false;
    };
    EXPECT_TRUE(test::wait_until(said, 2s))
        << c.args[0] << " " << (c.args.size() > 1 ? c.args[1] : "") << ": stderr lacks '" << c.says
        << "': " << (p->stderr_lines().empty() ? "" : p->stderr_lines()[0]);
    EXPECT_TRUE(p->stdout_lines().empty()) << "it must not claim to listen";
  }
}

// Issue 12 point 6: a server on every interface says every address it can be
// reached at and that cameras on other machines need https; --verbose into a
// pipe (or a file) carries no colour codes.
TEST(ServerCli, StartLinesListEveryAddressAndVerboseLogsHaveNoColourCodes) {
  auto server = start_server({"--address", "0.0.0.0", "--verbose"});
  ASSERT_TRUE(server);
  std::vector<std::string> addresses;
  ifaddrs* list = nullptr;
  ASSERT_EQ(getifaddrs(&list), 0);
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    addresses.push_back(text);
  }
  freeifaddrs(list);
  ASSERT_FALSE(addresses.empty());
  auto line_with = [&](const std::string& text) -> std::string {
    for (const auto& l : server->proc->stderr_lines())
      if (l.find(text) != std::string::npos) return l;
    return "";
  };
  ASSERT_TRUE(test::wait_until([&] { return !line_with("need https").empty(); }, 5s));
  std::string listening = line_with("rtcmesh-server: listening on");
  for (const auto& a : addresses)
    EXPECT_NE(listening.find("http://" + a + ":" + std::to_string(server->port)), std::string::npos)
        << a << " missing from: " << listening;
  EXPECT_NE(listening.find("every interface"), std::string::npos) << listening;
  EXPECT_NE(line_with("need https").find("--tls-certificate"), std::string::npos);
  // --verbose logs (the server's own HTTP start, a page request) into our pipe.
  EXPECT_EQ(test::http_request("GET", server->base + "/", nullptr, "").status, 200u);
  ASSERT_TRUE(test::wait_until([&] { return !line_with("rtcsignaling").empty(); }, 5s))
      << "--verbose logged nothing";
  for (const auto& l : server->proc->stderr_lines())
    EXPECT_EQ(l.find('\x1b'), std::string::npos) << "a colour code in: " << l;
}

// --- page, shutdown, static linking --------------------------------------------

TEST_F(ServerTest, ServesThePageAndStopsCleanlyOnSigterm) {
  // The plugin's build dir on GST_PLUGIN_PATH (as the README's export does),
  // a fresh registry, and the test environment's GST_REGISTRY_FORK=no: the
  // server must still never map libgstrtcmesh.so (it registers statically).
  char* reg_dir = g_dir_make_tmp("rtcmesh-server-registry-XXXXXX", nullptr);
  ASSERT_TRUE(reg_dir);
  std::string registry = std::string(reg_dir) + "/registry.bin";
  g_free(reg_dir);
  auto server =
      start_server({}, {{"GST_PLUGIN_PATH", RTCMESH_PLUGIN_DIR}, {"GST_REGISTRY", registry}});
  ASSERT_TRUE(server);
  fs::remove_all(fs::path(registry).parent_path());

  for (const char* path : {"/", "/room/demo", "/room/demo/", "/?room=demo&peer=a"}) {
    test::HttpReply r = test::http_request("GET", server->base + path, nullptr, "");
    EXPECT_EQ(r.status, 200u) << path;
    EXPECT_EQ(r.header("Content-Type").rfind("text/html", 0), 0u) << path;
    EXPECT_NE(r.body.find("window.rtcmeshRoom"), std::string::npos) << path;
    EXPECT_NE(r.body.find("'/rtc'"), std::string::npos) << path;
    EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
  }
  EXPECT_EQ(test::http_request("GET", server->base + "/room/no%20spaces", nullptr, "").status,
            404u);
  EXPECT_EQ(test::http_request("GET", server->base + "/favicon.ico", nullptr, "").status, 404u);
  test::HttpReply post = test::http_request("POST", server->base + "/", "text/plain", "x");
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");

  std::ifstream maps("/proc/" + std::to_string(server->proc->pid()) + "/maps");
  std::stringstream ss;
  ss << maps.rdbuf();
  EXPECT_FALSE(ss.str().empty());
  EXPECT_EQ(ss.str().find("libgstrtcmesh"), std::string::npos) << "the plugin .so was loaded";

  Client& a = connect(server->ws_url());
  Client& b = connect(server->ws_url());
  ASSERT_EQ(code(a, "join", Json::object({{"room", "r"}, {"peer", "a"}})), 0);
  ASSERT_EQ(code(b, "join", Json::object({{"room", "r"}, {"peer", "b"}})), 0);

  gint64 t0 = g_get_monotonic_time();
  server->proc->send_signal(SIGTERM);
  // Each participant gets a close frame: 1001 going away.
  ASSERT_TRUE(run_until([&] { return a.closed && b.closed; }, 5000));
  EXPECT_EQ(*a.closed, 1001);
  EXPECT_EQ(*b.closed, 1001);
  std::optional<int> status;
  ASSERT_TRUE(run_until([&] { return (status = server->proc->wait(0ms)).has_value(); }, 5000));
  double took = (g_get_monotonic_time() - t0) / 1e6;
  EXPECT_EQ(*status, 0);
  EXPECT_LT(took, 3.0);
  EXPECT_TRUE(
      test::wait_until([&] { return server->stderr_has("SIGTERM, closing 2 connection"); }, 2s));
  std::printf("SIGTERM to exit: %.2f s\n", took);
}

// --- bad input over real WebSockets ---------------------------------------------

TEST_F(ServerTest, BadInputGetsItsErrorAndTheRoomGoesOn) {
  auto server = start_server({"--mode", "mesh", "--token", "s3cret", "--peer-timeout", "3000"});
  ASSERT_TRUE(server);
  Json join_a = Json::object({{"room", "busy"}, {"peer", "alice"}, {"token", "s3cret"}});
  Json join_b = Json::object({{"room", "busy"}, {"peer", "bob"}, {"token", "s3cret"}});
  Client& alice = connect(server->ws_url());
  Client& bob = connect(server->ws_url());
  ASSERT_EQ(code(alice, "join", join_a), 0);
  ASSERT_EQ(code(bob, "join", join_b), 0);

  Client& m = connect(server->ws_url());
  // Not JSON: -32700 with a null id (reaches the error handler, not a call).
  EXPECT_TRUE(m.ws.send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"join\",\"params\":{"));
  ASSERT_TRUE(run_until([&] { return m.errors.size() == 1; }));
  EXPECT_EQ(m.errors[0].code, rpc::kParseError);
  EXPECT_EQ(code(m, "frobnicate"), rpc::kMethodNotFound);
  EXPECT_EQ(code(m, "join", Json::object({{"room", 5}, {"token", "s3cret"}})), rpc::kInvalidParams);
  EXPECT_EQ(code(m, "join", Json::object({{"room", "no spaces"}, {"token", "s3cret"}})),
            rpc::kInvalidParams);
  EXPECT_EQ(code(m, "join", Json::object({{"room", "busy"}, {"peer", "eve"}, {"token", "wrong"}})),
            rpc::kUnauthorized);
  EXPECT_EQ(code(m, "join", Json::object({{"room", "busy"}, {"peer", "eve"}})), rpc::kUnauthorized);
  EXPECT_EQ(code(m, "list"), rpc::kUnauthorized);
  EXPECT_EQ(code(m, "offer", Json::object({{"to", "alice"}, {"sdp", test::webrtcbin_offer()}})),
            rpc::kNotJoined);
  // A taken peer id: refused, and alice keeps it.
  EXPECT_EQ(
      code(m, "join", Json::object({{"room", "busy"}, {"peer", "alice"}, {"token", "s3cret"}})),
      rpc::kDuplicatePeer);
  // Over the 64 KiB message limit (but under libsoup's 4×): -32006, socket stays.
  WsClient::Reply big =
      call(m, "offer", Json::object({{"to", "alice"}, {"sdp", std::string(70 * 1024, 'x')}}));
  EXPECT_EQ(big.status, Status::kError);
  EXPECT_EQ(big.error.code, rpc::kTooLarge);
  ASSERT_TRUE(big.error.data.find("limit"));
  EXPECT_EQ(big.error.data.find("limit")->as_int(), 64 * 1024);
  EXPECT_TRUE(m.ws.connected());
  EXPECT_EQ(code(m, "ping"), 0);
  WsClient::Reply list = call(m, "list", Json::object({{"room", "busy"}, {"token", "s3cret"}}));
  ASSERT_TRUE(list.ok()) << list.error.message;
  EXPECT_EQ(list.result.dump(),
            R"({"rooms":[{"room":"busy","mode":"mesh","count":2,"peers":["alice","bob"]}]})");
  EXPECT_FALSE(m.closed);

  // The room in use noticed nothing and still relays.
  ASSERT_EQ(alice.got("peer-joined").size(), 1u);  // bob, before the bad input
  EXPECT_EQ(alice.got("peer-joined")[0].get_string("peer"), "bob");
  EXPECT_TRUE(alice.got("peer-left").empty());
  EXPECT_TRUE(bob.got("peer-left").empty());
  ASSERT_EQ(
      code(bob, "offer",
           Json::object({{"to", "alice"}, {"sdp", test::webrtcbin_offer()}, {"negotiationId", 1}})),
      0);
  ASSERT_TRUE(run_until([&] { return alice.got("offer").size() == 1; }));
  EXPECT_EQ(alice.got("offer")[0].get_string("from"), "bob");
  EXPECT_TRUE(alice.errors.empty());
  EXPECT_TRUE(bob.errors.empty());
  EXPECT_FALSE(alice.closed || bob.closed);

  // The same bad frames from a participant of the room: errors only for it.
  EXPECT_TRUE(bob.ws.send_raw("not json"));
  ASSERT_TRUE(run_until([&] { return bob.errors.size() == 1; }));
  EXPECT_EQ(bob.errors[0].code, rpc::kParseError);
  EXPECT_EQ(
      code(bob, "offer", Json::object({{"to", "alice"}, {"sdp", std::string(70 * 1024, 'x')}})),
      rpc::kTooLarge);
  EXPECT_EQ(code(bob, "offer", Json::object({{"to", "alice"}, {"sdp", "v=0 garbage"}})),
            rpc::kInvalidParams);
  run_for(300);
  EXPECT_EQ(alice.got("offer").size(), 1u);
  EXPECT_TRUE(alice.got("peer-left").empty());
  EXPECT_EQ(
      code(bob, "candidate",
           Json::object({{"to", "alice"},
                         {"candidate", "candidate:1 1 UDP 2122260223 127.0.0.1 5000 typ host"},
                         {"sdpMid", "0"},
                         {"negotiationId", 1}})),
      0);
  ASSERT_TRUE(run_until([&] { return alice.got("candidate").size() == 1; }));
}

TEST_F(ServerTest, LimitsTokenFileIceServersAndPeerTimeoutFromTheCommandLine) {
  std::string token_file =
      fs::temp_directory_path() / ("rtcmesh-token-" + std::to_string(getpid()));
  std::ofstream(token_file) << "from-a-file\n";
  auto server =
      start_server({"--token-file", token_file, "--max-peers-per-room", "2", "--max-rooms", "1",
                     "--peer-timeout", "2000", "--stun-server", "stun:127.0.0.1:3478"});
  fs::remove(token_file);
  ASSERT_TRUE(server);
  auto params = [](const char* room, const char* peer) {
    return Json::object({{"room", room}, {"peer", peer}, {"token", "from-a-file"}});
  };
  Client& a = connect(server->ws_url());
  EXPECT_EQ(code(a, "join", Json::object({{"room", "r1"}, {"peer", "a"}, {"token", "s3cret"}})),
            rpc::kUnauthorized);
  WsClient::Reply ja = call(a, "join", params("r1", "a"));
  ASSERT_TRUE(ja.ok()) << ja.error.message;
  EXPECT_EQ(ja.result.find("mode")->dump(), R"("sfu")");  // the default mode
  EXPECT_EQ(ja.result.find("iceServers")->dump(), R"([{"urls":["stun:127.0.0.1:3478"]}])");

  // The token may also come as Authorization on the upgrade (non-browser clients).
  WsClient::Options bearer;
  bearer.headers.add("Authorization", "Bearer from-a-file");
  Client& b = connect(server->ws_url(), bearer);
  ASSERT_EQ(code(b, "join", Json::object({{"room", "r1"}, {"peer", "b"}})), 0);
  Client& c = connect(server->ws_url());
  EXPECT_EQ(code(c, "join", params("r1", "c")), rpc::kRoomFull);  // 2 per room
  EXPECT_EQ(code(c, "join", params("r2", "c")), rpc::kRoomFull);  // 1 room

  // --peer-timeout: a participant that stops answering pings is removed.
  ASSERT_EQ(code(b, "leave"), 0);
  ASSERT_TRUE(run_until([&] { return a.got("peer-left").size() == 1; }));
  MuteClient mute(server->port, rpc::request(1, "join", params("r1", "mute")));
  ASSERT_TRUE(run_until([&] { return a.got("peer-joined").size() == 2; }, 5000));
  double t0 = now_s();
  ASSERT_TRUE(run_until([&] { return a.got("peer-left").size() == 2; }, 6000));
  double took = now_s() - t0;
  EXPECT_EQ(a.got("peer-left")[1].dump(), R"({"room":"r1","peer":"mute","reason":"timeout"})");
  EXPECT_GT(took, 1.0);
  EXPECT_LT(took, 4.5);
  // a answers pings (its WsClient does) and stays.
  run_for(2500);
  EXPECT_FALSE(a.closed);
  EXPECT_EQ(code(a, "ping"), 0);
}

TEST_F(ServerTest, ServesWssWithTls) {
  test::SelfSigned certs;
  ASSERT_TRUE(certs.ok);
  auto server = start_server({"--tls-certificate", certs.cert, "--tls-key", certs.key});
  ASSERT_TRUE(server);
  EXPECT_EQ(server->base.rfind("https://127.0.0.1:", 0), 0u) << server->base;
  WsClient::Options o;
  o.tls_ca_file = certs.cert;
  Client& a = connect(server->ws_url(), o);
  EXPECT_EQ(code(a, "join", Json::object({{"room", "secure"}})), 0);
  WsClient::Options insecure;  // the system CAs do not know our certificate
  clients.push_back(std::make_unique<Client>(ctx, insecure));
  std::optional<bool> ok;
  clients.back()->ws.connect(server->ws_url(), [&](bool good, const std::string&) { ok = good; });
  ASSERT_TRUE(run_until([&] { return ok.has_value(); }, 10000));
  EXPECT_FALSE(*ok);
}

// --- two browsers in one room ----------------------------------------------------

TEST_F(ServerTest, TwoChromiumPagesMeetInAMeshRoom) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = start_server({"--mode", "mesh", "--peer-timeout", "3000"});  // the README line
  ASSERT_TRUE(server);

  auto open = [&](const std::string& name) {
    std::string error;
    auto b = test::RoomPage::open(RTCMESH_BROWSER_DIR, server->base + "/room/meet?peer=" + name,
                                  name, 150, &error);
    EXPECT_TRUE(b) << error;
    return b;
  };
  gint64 t0 = g_get_monotonic_time();
  auto alice = open("alice");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(run_until(
      [&] {
        alice->poll();
        return alice->joined_as.has_value() || alice->done;
      },
      40000))
      << alice->describe();
  ASSERT_EQ(alice->joined_as, "alice") << alice->describe();
  auto bob = open("bob");  // the later joiner: it offers to alice
  ASSERT_TRUE(bob);
  auto both = [&](long frames) {
    alice->poll();
    bob->poll();
    return alice->stat("bob", "videoFramesDecoded") > frames &&
           bob->stat("alice", "videoFramesDecoded") > frames &&
           alice->stat("bob", "audioSamples") >= 48000 &&
           bob->stat("alice", "audioSamples") >= 48000;
  };
  ASSERT_TRUE(run_until([&] { return both(30) || alice->done || bob->done; }, 60000) && both(30))
      << alice->describe() << "\n"
      << bob->describe();
  std::printf("both pages decode each other %.1f s after the first page started\n",
              (g_get_monotonic_time() - t0) / 1e6);
  EXPECT_EQ(alice->peers(), std::vector<std::string>{"bob"});
  EXPECT_EQ(bob->peers(), std::vector<std::string>{"alice"});
  EXPECT_EQ(alice->stats.find("stats")->find("bob")->get_string("connectionState"), "connected");

  // Bad input aimed at the room in use disturbs neither page.
  Client& m = connect(server->ws_url());
  EXPECT_EQ(code(m, "join", Json::object({{"room", "meet"}, {"peer", "alice"}})),
            rpc::kDuplicatePeer);
  EXPECT_EQ(code(m, "offer", Json::object({{"to", "alice"}, {"sdp", test::webrtcbin_offer()}})),
            rpc::kNotJoined);
  EXPECT_EQ(code(m, "offer", Json::object({{"to", "bob"}, {"sdp", std::string(70 * 1024, 'x')}})),
            rpc::kTooLarge);
  EXPECT_TRUE(m.ws.send_raw("]["));
  ASSERT_TRUE(run_until([&] { return m.errors.size() == 1; }));
  EXPECT_EQ(m.errors[0].code, rpc::kParseError);
  long a_frames = alice->stat("bob", "videoFramesDecoded");
  long b_frames = bob->stat("alice", "videoFramesDecoded");
  EXPECT_TRUE(run_until(
      [&] {
        alice->poll();
        bob->poll();
        return alice->stat("bob", "videoFramesDecoded") > a_frames + 30 &&
               bob->stat("alice", "videoFramesDecoded") > b_frames + 30;
      },
      20000))
      << alice->describe() << "\n"
      << bob->describe();
  EXPECT_EQ(alice->peers(), std::vector<std::string>{"bob"});
  EXPECT_EQ(bob->peers(), std::vector<std::string>{"alice"});

  // Bob mutes his microphone: alice's page marks his tile (peer-muted), and
  // unmarks it when he unmutes.
  auto alice_sees_bob_muted = [&] {
    alice->poll();
    const Json* muted = alice->stats.find("remoteMuted");
    const Json* b = muted ? muted->find("bob") : nullptr;
    const Json* audio = b ? b->find("audio") : nullptr;
    return audio && audio->is_bool() && audio->as_bool();
  };
  bob->proc->write_stdin("click #mic\n");
  EXPECT_TRUE(run_until(alice_sees_bob_muted, 10000)) << alice->describe();
  bob->proc->write_stdin("click #mic\n");
  EXPECT_TRUE(run_until([&] { return !alice_sees_bob_muted(); }, 10000)) << alice->describe();

  // Bob leaves (SIGTERM to its driver: the page calls leave()); alice's page
  // gets peer-left and drops bob's tile and connection.
  bob->proc->send_signal(SIGTERM);
  gint64 t_leave = g_get_monotonic_time();
  ASSERT_TRUE(run_until(
      [&] {
        alice->poll();
        return alice->peers().empty();
      },
      15000))
      << alice->describe();
  std::printf("alice's page lost bob %.2f s after SIGTERM to bob's driver\n",
              (g_get_monotonic_time() - t_leave) / 1e6);
  std::optional<int> bob_status;
  ASSERT_TRUE(run_until(
      [&] {
        bob->poll();
        return (bob_status = bob->proc->wait(0ms)).has_value();
      },
      20000));
  EXPECT_EQ(*bob_status, 0) << bob->describe();  // it joined and left without error
  EXPECT_TRUE(bob->last_error.empty()) << bob->last_error;

  alice->proc->send_signal(SIGTERM);
  std::optional<int> alice_status;
  ASSERT_TRUE(run_until(
      [&] {
        alice->poll();
        return (alice_status = alice->proc->wait(0ms)).has_value();
      },
      20000));
  EXPECT_EQ(*alice_status, 0) << alice->describe();
  server->proc->send_signal(SIGTERM);
  EXPECT_EQ(server->proc->wait(5s), 0);
}

// The child of PipelinesAndAChromiumPageMeetInOneRoom: in the room until killed.
int participate_until_killed() {
  const char* url = std::getenv("RTCMESH_CHILD_URL");
  if (!url) return 2;
  test::RoomParticipant p1(url, "p1", "", "demo");
  std::this_thread::sleep_for(150s);
  return 0;
}
RTCMESH_CHILD_MODE("participate-until-killed", participate_until_killed);

// Issue 4's room: three rtcmeshbin pipelines and one Chromium page on the
// server's page meet; everyone decodes everyone; one pipeline is killed (no
// leave, no close frame) and the rest are told and go on; a fourth pipeline
// joins late and gets everyone, the page included.
TEST_F(ServerTest, PipelinesAndAChromiumPageMeetInOneRoom) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = start_server({"--mode", "mesh", "--peer-timeout", "3000"});
  ASSERT_TRUE(server);
  const std::string url = server->ws_url();
  // p1 runs in a child process so that it can really be killed.
  Subprocess::Options child_opts;
  child_opts.env = {{"RTCMESH_CHILD_URL", url}};
  auto p1 = Subprocess::spawn(test::child_mode_command("participate-until-killed"), child_opts);
  ASSERT_TRUE(p1);
  test::RoomParticipant p2(url, "p2", "", "demo"), p3(url, "p3", "", "demo");

  std::string error;
  auto opened = test::RoomPage::open(RTCMESH_BROWSER_DIR, server->base + "/room/demo?peer=page",
                                     "page", 150, &error);
  ASSERT_TRUE(opened) << error;
  test::RoomPage& page = *opened;

  std::vector<test::RoomParticipant*> pipelines = {&p2, &p3};
  std::vector<std::string> ids = {"p2", "p3"};
  auto all_meet = [&](const std::vector<test::RoomParticipant*>& ps,
                      const std::vector<std::string>& names) {
    page.poll();
    for (size_t i = 0; i < ps.size(); i++) {
      if (ps[i]->frames_from("page") < 10 || ps[i]->samples_from("page") == 0) return false;
      if (page.stat(names[i], "videoFramesDecoded") < 10 ||
          page.stat(names[i], "audioSamples") <= 0)
        return false;
      for (size_t j = 0; j < ps.size(); j++)
        if (i != j && (ps[i]->frames_from(names[j]) < 10 || ps[i]->samples_from(names[j]) == 0))
          return false;
    }
    return true;
  };
  auto describe = [&] {
    std::string out = page.describe() + "\n";
    for (size_t i = 0; i < pipelines.size(); i++) {
      out += ids[i] + ":";
      for (const char* n : {"p1", "p2", "p3", "p4", "page"})
        out += std::string(" ") + n + "=" + std::to_string(pipelines[i]->frames_from(n));
      out += "\n";
    }
    return out;
  };
  auto p1_seen = [&] {
    return p2.frames_from("p1") >= 10 && p3.frames_from("p1") >= 10 &&
           page.stat("p1", "videoFramesDecoded") >= 10;
  };
  ASSERT_TRUE(run_until([&] { return (all_meet(pipelines, ids) && p1_seen()) || page.done; },
                        60000) &&
              all_meet(pipelines, ids) && p1_seen())
      << describe();

  // Chat beside the media: the page and a pipeline over their data channels.
  test::DataLog p2_got;
  p2_got.watch(p2.bin());
  ASSERT_TRUE(page.send("hello from the page"));
  EXPECT_TRUE(test::wait_until([&] { return !p2_got.from("page", "rtcmesh").empty(); }, 10s));
  if (!p2_got.from("page", "rtcmesh").empty()) {
    EXPECT_EQ(p2_got.from("page", "rtcmesh")[0].data, "hello from the page");
  }
  gboolean sent = FALSE;
  g_signal_emit_by_name(p2.bin(), "send-string", "page", "hello from p2", TRUE, &sent);
  EXPECT_TRUE(sent);
  EXPECT_TRUE(run_until([&] { return !page.messages_from("p2").empty(); }, 10000))
      << page.describe();
  if (!page.messages_from("p2").empty()) {
    EXPECT_EQ(page.messages_from("p2")[0], "hello from p2");
  }

  // p1 is killed (no leave, no close frame): the server's ping timeout and
  // the connections' liveness tell the others, who end its tracks and go on.
  p1->send_signal(SIGKILL);
  ASSERT_TRUE(run_until(
      [&] {
        page.poll();
        auto peers = page.peers();
        return std::find(peers.begin(), peers.end(), "p1") == peers.end();
      },
      15000))
      << describe();
  for (auto* p : {&p2, &p3}) {
    EXPECT_TRUE(test::wait_until(
        [&] {
          for (auto& t : p->tracks())
            if (t->peer_id == "p1" && !t->eos) return false;
          return true;
        },
        8s))
        << "p1's tracks end";
    int before = p->frames_from("page");
    EXPECT_TRUE(test::wait_until([&] { return p->frames_from("page") >= before + 10; }, 8s));
  }

  // A fourth pipeline joins late and gets everyone, and everyone gets it.
  test::RoomParticipant p4(url, "p4", "", "demo");
  pipelines = {&p2, &p3, &p4};
  ids = {"p2", "p3", "p4"};
  EXPECT_TRUE(run_until([&] { return all_meet(pipelines, ids); }, 30000)) << describe();
  std::printf("late pipeline: join → first frame from p2 %.0f ms, p3 %.0f ms, page %.0f ms\n",
              p4.first_frame_ms("p2"), p4.first_frame_ms("p3"), p4.first_frame_ms("page"));

  page.proc->send_signal(SIGTERM);
  EXPECT_TRUE(page.proc->wait(20s).has_value());
  server->proc->send_signal(SIGTERM);
  EXPECT_EQ(server->proc->wait(5s), 0);
}

}  // namespace
}  // namespace rtcmesh
