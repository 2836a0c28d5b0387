// gRPC signaling (issue 13) against the built rtcmesh-server --grpc-port 0,
// with a client that is not ours: grpc/client.mjs on @grpc/grpc-js and
// @grpc/proto-loader (pure JS) loading proto/rtcmesh/v1/signaling.proto.
// gRPC participants share rooms with rtcmeshbin and JSON-RPC participants
// over WebSocket; bad input gets clear status codes and changes nothing.
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "signaling/auth/tokens.h"
#include "signaling/json.h"
#include "tests/support/harness.h"
#include "tests/support/room_page.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using sig::Json;
using test::Subprocess;
using Server = test::RtcmeshServer;
using Client = test::RpcClient;

constexpr int kInvalidArgument = 3, kResourceExhausted = 8, kUnauthenticated = 16;

// The server with --grpc-port 0 and the gRPC port from its second stdout line.
struct GrpcServer {
  std::unique_ptr<Server> server;
  unsigned grpc_port = 0;
};

GrpcServer start_server(std::vector<std::string> args, bool tls = false) {
  args.insert(args.end(), {"--grpc-port", "0"});
  GrpcServer s;
  s.server = Server::start(RTCMESH_SERVER, args);
  if (!s.server) return s;
  auto line = s.server->proc->read_line(10s);
  const std::string prefix =
      std::string("rtcmesh-server grpc on ") + (tls ? "grpcs" : "grpc") + "://127.0.0.1:";
  if (!line || line->rfind(prefix, 0) != 0) {
    ADD_FAILURE() << "no '" << prefix << "' line: " << line.value_or("<nothing>");
    return s;
  }
  s.grpc_port = static_cast<unsigned>(std::stoul(line->substr(prefix.size())));
  return s;
}

const Json* at(const Json& j, std::initializer_list<const char*> path) {
  const Json* v = &j;
  for (const char* key : path) {
    if (!v->is_object()) return nullptr;
    v = v->find(key);
    if (!v) return nullptr;
  }
  return v;
}

std::string str(const Json& j, std::initializer_list<const char*> path) {
  const Json* v = at(j, path);
  return v && v->is_string() ? v->as_string() : "";
}

int64_t num(const Json& j, std::initializer_list<const char*> path) {
  const Json* v = at(j, path);
  return v && v->is_int() ? v->as_int() : -1;
}

// grpc/client.mjs as a child: commands on stdin, events (JSON lines) on stdout.
class NodeClient {
 public:
  explicit NodeClient(unsigned port, const std::string& ca = "") {
    Subprocess::Options o;
    o.echo_prefix = "[node]";
    std::string error;
    std::vector<std::string> argv = {"node", RTCMESH_GRPC_CLIENT, "--target",
                                     "127.0.0.1:" + std::to_string(port), "--proto", RTCMESH_PROTO};
    if (!ca.empty()) argv.insert(argv.end(), {"--ca", ca});
    proc_ = Subprocess::spawn(argv, o, &error);
    EXPECT_TRUE(proc_) << error;
  }
  ~NodeClient() {
    if (proc_) proc_->terminate(2s);
  }
  void send(const Json& command) { proc_->write_stdin(command.dump() + "\n"); }
  void open(const std::string& stream, std::optional<std::string> token) {
    Json c = Json::object({{"op", "open"}, {"stream", stream}});
    if (token) c.set("token", *token);
    send(c);
  }
  void request(const std::string& stream, Json request) {
    send(Json::object({{"op", "send"}, {"stream", stream}, {"request", std::move(request)}}));
  }
  // The first event not yet taken that satisfies `pred` (taken now).
  std::optional<Json> take(const std::function<bool(const Json&)>& pred) {
    auto lines = proc_->stdout_lines();
    for (size_t i = 0; i < lines.size(); ++i) {
      if (taken_.count(i)) continue;
      auto j = Json::parse(lines[i]);
      if (j && pred(*j)) {
        taken_.insert(i);
        return j;
      }
    }
    return std::nullopt;
  }
  std::string all() const {
    std::string out;
    for (const auto& l : proc_->stdout_lines()) out += l + "\n";
    return out;
  }
  Subprocess& proc() { return *proc_; }

 private:
  std::unique_ptr<Subprocess> proc_;
  std::set<size_t> taken_;
};

auto reply_to(const std::string& stream, int64_t id) {
  return [stream, id](const Json& e) {
    return str(e, {"stream"}) == stream && num(e, {"response", "reply", "request_id"}) == id;
  };
}
auto status_of(const std::string& stream) {
  return [stream](const Json& e) {
    return str(e, {"stream"}) == stream && str(e, {"event"}) == "status";
  };
}
auto note(const std::string& stream, const char* kind) {
  return [stream, kind](const Json& e) {
    return str(e, {"stream"}) == stream && at(e, {"response", "notification", kind}) != nullptr;
  };
}

class GrpcTest : public test::RpcTest {
 protected:
  Json wait(NodeClient& node, const std::function<bool(const Json&)>& pred, int ms = 10000) {
    std::optional<Json> got;
    EXPECT_TRUE(run_until([&] { return (got = node.take(pred)).has_value(); }, ms))
        << "node events:\n" << node.all();
    return got.value_or(Json());
  }
};

// A mesh room with a token: an rtcmeshbin and a JSON-RPC participant over
// WebSocket, a gRPC participant; refused streams, wrong fields, oversize
// messages; the stream's end is the participant's leave.
TEST_F(GrpcTest, MeshRoomWithWebSocketParticipantsAndBadInput) {
  GrpcServer s = start_server({"--mode", "mesh", "--token", "s3cret", "--peer-timeout", "3000"});
  ASSERT_TRUE(s.server && s.grpc_port);
  const std::string ws_url = s.server->ws_url();

  test::RoomParticipant bin(ws_url, "bin", "auth-token=s3cret", "g");
  Client& watcher = connect(ws_url);
  ASSERT_TRUE(run_until(
      [&] {
        auto r = call(watcher, "list", Json::object({{"room", "g"}, {"token", "s3cret"}}));
        return r.ok() && r.result.dump().find("\"bin\"") != std::string::npos;
      },
      10000))
      << "the rtcmeshbin did not join";

  NodeClient node(s.grpc_port);
  wait(node, [](const Json& e) { return str(e, {"event"}) == "ready"; });

  // No token, a wrong one: UNAUTHENTICATED at once, nothing changes.
  node.open("none", std::nullopt);
  node.request("none", Json::object({{"request_id", 1}, {"join", Json::object({{"room", "g"}})}}));
  node.open("wrong", "guess");
  node.request("wrong", Json::object({{"request_id", 1}, {"join", Json::object({{"room", "g"}})}}));
  Json none = wait(node, status_of("none"));
  EXPECT_EQ(num(none, {"code"}), kUnauthenticated);
  EXPECT_NE(str(none, {"details"}).find("token is required"), std::string::npos);
  Json wrong = wait(node, status_of("wrong"));
  EXPECT_EQ(num(wrong, {"code"}), kUnauthenticated);
  EXPECT_EQ(str(wrong, {"details"}), "invalid token");
  EXPECT_FALSE(node.take(reply_to("none", 1)));
  EXPECT_FALSE(node.take(reply_to("wrong", 1)));

  // A good token; wrong fields first: error replies, the stream stays.
  node.open("a", "s3cret");
  node.request("a", Json::object({{"request_id", 1}, {"join", Json::object({{"room", "bad name"}})}}));
  node.request("a", Json::object({{"request_id", 2}}));  // no method
  node.request("a", Json::object({{"request_id", 3}, {"publish", Json::object()}}));
  Json bad_room = wait(node, reply_to("a", 1));
  EXPECT_EQ(num(bad_room, {"response", "reply", "error", "code"}), -32602);
  EXPECT_EQ(num(bad_room, {"response", "reply", "error", "status"}), kInvalidArgument);
  EXPECT_NE(str(bad_room, {"response", "reply", "error", "message"}).find("room 'bad name'"),
            std::string::npos);
  Json no_method = wait(node, reply_to("a", 2));
  EXPECT_EQ(num(no_method, {"response", "reply", "error", "code"}), -32600);
  EXPECT_EQ(num(no_method, {"response", "reply", "error", "status"}), kInvalidArgument);
  Json no_sdp = wait(node, reply_to("a", 3));
  EXPECT_EQ(str(no_sdp, {"response", "reply", "error", "message"}), "publish: \"sdp\" is required");

  // Then a join: the rtcmeshbin is there; the watcher hears of it (JSON-RPC).
  node.request("a", Json::object({{"request_id", 4},
                                  {"join", Json::object({{"room", "g"}, {"peer", "node"}})}}));
  Json joined = wait(node, reply_to("a", 4));
  EXPECT_EQ(str(joined, {"response", "reply", "join", "peer"}), "node");
  EXPECT_EQ(str(joined, {"response", "reply", "join", "mode"}), "mesh");
  const Json* peers = at(joined, {"response", "reply", "join", "peers"});
  ASSERT_TRUE(peers && peers->is_array()) << joined.dump();
  EXPECT_EQ(peers->dump(), R"(["bin"])");

  // A JSON-RPC participant joins: the gRPC one gets peer_joined.
  ASSERT_EQ(code(watcher, "join", Json::object({{"room", "g"}, {"peer", "ws1"}, {"token", "s3cret"}})),
            0);
  Json pj = wait(node, note("a", "peer_joined"));
  EXPECT_EQ(str(pj, {"response", "notification", "peer_joined", "peer"}), "ws1");
  EXPECT_EQ(str(pj, {"response", "notification", "peer_joined", "room"}), "g");

  // Over the message limit (64 KiB): -32006, the stream stays usable.
  node.request("a", Json::object({{"request_id", 5},
                                  {"offer", Json::object({{"to", "ws1"}, {"pad", 70000}})}}));
  Json big = wait(node, reply_to("a", 5));
  EXPECT_EQ(num(big, {"response", "reply", "error", "code"}), -32006);
  EXPECT_EQ(num(big, {"response", "reply", "error", "status"}), kResourceExhausted);
  EXPECT_EQ(str(big, {"response", "reply", "error", "data"}), R"({"limit":65536})");
  EXPECT_TRUE(watcher.got("offer").empty()) << "the oversize offer was relayed";
  node.request("a", Json::object({{"request_id", 6}, {"ping", Json::object()}}));
  Json pong = wait(node, reply_to("a", 6));
  EXPECT_TRUE(at(pong, {"response", "reply", "empty"}));
  // An unknown peer: NOT_FOUND with JSON-RPC's -32003.
  node.request("a", Json::object({{"request_id", 7},
                                  {"candidate", Json::object({{"to", "nobody"},
                                                              {"candidate", ""}})}}));
  Json unknown = wait(node, reply_to("a", 7));
  EXPECT_EQ(num(unknown, {"response", "reply", "error", "code"}), -32003);
  EXPECT_EQ(num(unknown, {"response", "reply", "error", "status"}), 5);

  // The gRPC participant relays to the WebSocket one (it joined earlier, so
  // its answer... here an end-of-candidates, which needs no negotiation).
  node.request("a", Json::object({{"request_id", 8},
                                  {"candidate", Json::object({{"to", "ws1"}, {"candidate", ""}})}}));
  Json relayed = wait(node, reply_to("a", 8));
  EXPECT_TRUE(at(relayed, {"response", "reply", "empty"})) << relayed.dump();
  ASSERT_TRUE(run_until([&] { return !watcher.got("candidate").empty(); }, 5000));
  EXPECT_EQ(watcher.got("candidate")[0].get_string("from").value_or(""), "node");

  // Over 4×M gRPC itself ends that stream (RESOURCE_EXHAUSTED); others go on.
  node.open("huge", "s3cret");
  node.request("huge", Json::object({{"request_id", 1},
                                     {"offer", Json::object({{"to", "ws1"}, {"pad", 300000}})}}));
  Json huge = wait(node, status_of("huge"));
  EXPECT_EQ(num(huge, {"code"}), kResourceExhausted);
  node.request("a", Json::object({{"request_id", 9}, {"ping", Json::object()}}));
  wait(node, reply_to("a", 9));

  // The stream ends: the room hears that "node" left.
  node.send(Json::object({{"op", "end"}, {"stream", "a"}}));
  Json ended = wait(node, status_of("a"));
  EXPECT_EQ(num(ended, {"code"}), 0);
  ASSERT_TRUE(run_until([&] { return !watcher.got("peer-left").empty(); }, 5000));
  EXPECT_EQ(watcher.got("peer-left")[0].get_string("peer").value_or(""), "node");
  EXPECT_EQ(watcher.got("peer-left")[0].get_string("reason").value_or(""), "disconnected");
  auto list = call(watcher, "list", Json::object({{"room", "g"}, {"token", "s3cret"}}));
  EXPECT_NE(list.result.dump().find(R"("peers":["bin","ws1"])"), std::string::npos)
      << list.result.dump();
  EXPECT_TRUE(bin.pipeline().errors().empty());
}

// The default SFU mode: the gRPC participant is in the rtcsfu host's rooms
// (served on its worker thread), sees an rtcmeshbin publish, and a killed
// client (SIGKILL) leaves the room.
TEST_F(GrpcTest, SfuRoomPublisherAndAKilledClient) {
  GrpcServer s = start_server({"--peer-timeout", "3000"});
  ASSERT_TRUE(s.server && s.grpc_port);
  const std::string ws_url = s.server->ws_url();
  Client& watcher = connect(ws_url);
  ASSERT_EQ(code(watcher, "join", Json::object({{"room", "s"}, {"peer", "ws1"}})), 0);

  auto node = std::make_unique<NodeClient>(s.grpc_port);
  node->open("a", std::nullopt);  // an open server needs no token
  node->request("a", Json::object({{"request_id", 1},
                                   {"join", Json::object({{"room", "s"}, {"peer", "node"}})}}));
  Json joined = wait(*node, reply_to("a", 1));
  EXPECT_EQ(str(joined, {"response", "reply", "join", "mode"}), "sfu");
  EXPECT_EQ(at(joined, {"response", "reply", "join", "peers"})->dump(), R"(["ws1"])");

  test::RoomParticipant bin(ws_url, "bin", "", "s");
  Json pub = wait(*node, note("a", "publisher_joined"), 20000);
  EXPECT_EQ(str(pub, {"response", "notification", "publisher_joined", "peer"}), "bin");
  const Json* tracks = at(pub, {"response", "notification", "publisher_joined", "tracks"});
  ASSERT_TRUE(tracks && tracks->is_array());
  std::set<std::string> codecs;
  for (const Json& t : tracks->as_array()) codecs.insert(str(t, {"codec"}));
  EXPECT_EQ(codecs, (std::set<std::string>{"VP8", "OPUS"}));
  // A subscribe gets the server's offer of bin's tracks, as a notification.
  node->request("a", Json::object({{"request_id", 2}, {"subscribe", Json::object()}}));
  wait(*node, reply_to("a", 2));
  Json offer = wait(*node, note("a", "offer"), 20000);
  EXPECT_EQ(str(offer, {"response", "notification", "offer", "from"}), "");
  EXPECT_NE(str(offer, {"response", "notification", "offer", "sdp"}).find("m=video"),
            std::string::npos);
  EXPECT_GT(num(offer, {"response", "notification", "offer", "negotiation_id", "number"}), 0);

  // SIGKILL: the transport goes; the room is told within peer-timeout.
  gint64 t0 = g_get_monotonic_time();
  node->proc().send_signal(SIGKILL);
  ASSERT_TRUE(run_until(
      [&] {
        for (const Json& p : watcher.got("peer-left"))
          if (p.get_string("peer").value_or("") == "node") return true;
        return false;
      },
      8000));
  std::printf("killed gRPC client: peer-left after %.2f s\n", (g_get_monotonic_time() - t0) / 1e6);
  node.reset();
  EXPECT_TRUE(bin.pipeline().errors().empty());
}

// A gRPC port that is taken: the server says so and exits 1 (no second
// listener on the same port: SO_REUSEPORT is off).
TEST_F(GrpcTest, ATakenPortIsAnError) {
  GrpcServer first = start_server({"--mode", "mesh"});
  ASSERT_TRUE(first.server && first.grpc_port);
  auto second = Subprocess::spawn({RTCMESH_SERVER, "--port", "0", "--address", "127.0.0.1",
                                   "--mode", "mesh", "--grpc-port",
                                   std::to_string(first.grpc_port)});
  ASSERT_TRUE(second);
  auto status = second->wait(10s);
  ASSERT_TRUE(status.has_value()) << "still running";
  EXPECT_EQ(*status, 1);
  bool said = test::wait_until(
      [&] {
        for (const auto& l : second->stderr_lines())
          if (l.find("gRPC: cannot listen on 127.0.0.1:" + std::to_string(first.grpc_port)) !=
              std::string::npos)
            return true;
        return false;
      },
      2s);
  EXPECT_TRUE(said);
  EXPECT_TRUE(second->stdout_lines().empty()) << "it must not claim to listen";
}

// rtcmesh.v1.Admin: operators list rooms and participants, remove one,
// close a room, with an admin token only.
TEST_F(GrpcTest, AdminServiceWithAnAdminToken) {
  GrpcServer s = start_server({"--mode", "mesh", "--token", "s3cret"});
  ASSERT_TRUE(s.server && s.grpc_port);
  Client& alice = connect(s.server->ws_url());
  Client& bob = connect(s.server->ws_url());
  ASSERT_EQ(code(alice, "join", Json::object({{"room", "ops"}, {"peer", "alice"}, {"token", "s3cret"}})), 0);
  ASSERT_EQ(code(bob, "join", Json::object({{"room", "ops"}, {"peer", "bob"}, {"token", "s3cret"}})), 0);
  NodeClient node(s.grpc_port);
  auto admin = [&](const std::string& id, const std::string& method, Json request,
                   std::optional<std::string> token) {
    Json c = Json::object({{"op", "admin"}, {"id", id}, {"method", method}, {"request", std::move(request)}});
    if (token) c.set("token", *token);
    node.send(c);
    return wait(node, [id](const Json& e) { return str(e, {"event"}) == "admin" && str(e, {"id"}) == id; });
  };
  // No token, a wrong one: UNAUTHENTICATED; nothing changes.
  EXPECT_EQ(num(admin("1", "ListRooms", Json::object(), std::nullopt), {"code"}), kUnauthenticated);
  Json wrong = admin("2", "CloseRoom", Json::object({{"room", "ops"}}), "guess");
  EXPECT_EQ(num(wrong, {"code"}), kUnauthenticated);
  EXPECT_EQ(str(wrong, {"details"}), "invalid token");

  Json list = admin("3", "ListRooms", Json::object(), "s3cret");
  EXPECT_EQ(num(list, {"code"}), 0);
  EXPECT_EQ(at(list, {"response", "rooms"})->dump(),
            R"([{"room":"ops","mode":"mesh","peers":["alice","bob"]}])");
  EXPECT_EQ(num(admin("4", "ListRooms", Json::object({{"room", "nope"}}), "s3cret"), {"code"}), 5);

  // Remove bob: he is told and no longer joined; alice sees him leave.
  Json removed = admin("5", "RemoveParticipant",
                       Json::object({{"room", "ops"}, {"peer", "bob"}, {"reason", "spam"}}), "s3cret");
  EXPECT_EQ(num(removed, {"code"}), 0);
  ASSERT_TRUE(run_until([&] { return !bob.got("error").empty() && !alice.got("peer-left").empty(); }, 5000));
  EXPECT_EQ(bob.got("error")[0].get_string("message").value_or(""), "removed: spam");
  EXPECT_EQ(alice.got("peer-left")[0].get_string("reason").value_or(""), "removed");
  EXPECT_EQ(code(bob, "leave"), -32005) << "bob is still joined";
  EXPECT_EQ(num(admin("6", "RemoveParticipant", Json::object({{"room", "ops"}, {"peer", "bob"}}), "s3cret"),
                {"code"}),
            5);

  // Close the room: alice is told; it is gone.
  EXPECT_EQ(num(admin("7", "CloseRoom", Json::object({{"room", "ops"}, {"reason", "maintenance"}}), "s3cret"),
                {"code"}),
            0);
  ASSERT_TRUE(run_until([&] { return !alice.got("error").empty(); }, 5000));
  EXPECT_EQ(alice.got("error")[0].get_string("message").value_or(""), "room closed: maintenance");
  Json after = admin("8", "ListRooms", Json::object(), "s3cret");
  EXPECT_FALSE(at(after, {"response", "rooms"})) << after.dump();  // none (proto3 omits empty)
}

// A token secret in a temporary file for --token-secret-file, gone after.
struct SecretFile {
  SecretFile() : dir(g_dir_make_tmp("rtcmesh-grpc-XXXXXX", nullptr)) {
    path = std::string(dir ? dir : "/nonexistent") + "/secret";
    std::ofstream(path) << secret << "\n";
  }
  ~SecretFile() {
    g_remove(path.c_str());
    if (dir) g_rmdir(dir);
    g_free(dir);
  }
  char* dir;
  std::string path;
  const std::string secret = "a-grpc-integration-test-secret-of-32-bytes-or-more";
};

// Signed tokens: only one with the admin grant is an admin token; a
// publish token is PERMISSION_DENIED and a participant token still joins.
TEST_F(GrpcTest, AdminNeedsTheAdminGrant) {
  SecretFile key;
  const std::string &secret = key.secret, &secret_file = key.path;
  GrpcServer s = start_server({"--mode", "mesh", "--token-secret-file", secret_file});
  ASSERT_TRUE(s.server && s.grpc_port);
  int64_t now = sig::TokenVerifier::wall_clock();
  std::string publisher = sig::issue_token("HS256", secret, "*", "p", sig::kGrantPublish, now, now + 600);
  std::string admin_token = sig::issue_token("HS256", secret, "*", "op", sig::kGrantAdmin, now, now + 600);
  NodeClient node(s.grpc_port);
  auto admin = [&](const std::string& id, const std::string& token) {
    node.send(Json::object({{"op", "admin"}, {"id", id}, {"method", "ListRooms"},
                            {"request", Json::object()}, {"token", token}}));
    return wait(node, [id](const Json& e) { return str(e, {"event"}) == "admin" && str(e, {"id"}) == id; });
  };
  Json denied = admin("1", publisher);
  EXPECT_EQ(num(denied, {"code"}), 7);  // PERMISSION_DENIED
  EXPECT_EQ(str(denied, {"details"}), "the token does not grant admin");
  EXPECT_EQ(num(admin("2", admin_token), {"code"}), 0);
  // The publish token opens a Signal stream and joins as its sub.
  node.open("a", publisher);
  node.request("a", Json::object({{"request_id", 1}, {"join", Json::object({{"room", "r"}})}}));
  Json joined = wait(node, reply_to("a", 1));
  EXPECT_EQ(str(joined, {"response", "reply", "join", "peer"}), "p");
}

// `layout` over gRPC in an MCU room (rtcmesh-server --mode mcu): a director
// whose token has the layout grant pins alice and goes back to the grid; an
// unknown layout gets -32602 (INVALID_ARGUMENT) naming it; a viewer without
// the grant gets -32001 (PERMISSION_DENIED); the streams stay.
TEST_F(GrpcTest, LayoutInAnMcuRoomNeedsTheGrant) {
  SecretFile key;
  const std::string &secret = key.secret, &secret_file = key.path;
  GrpcServer s = start_server({"--mode", "mcu", "--room", "r", "--canvas", "160x120@10",
                               "--token-secret-file", secret_file});
  ASSERT_TRUE(s.server && s.grpc_port);
  int64_t now = sig::TokenVerifier::wall_clock();
  auto token = [&](const char* sub, unsigned grants) {
    return sig::issue_token("HS256", secret, "r", sub, grants, now - 5, now + 600);
  };
  NodeClient node(s.grpc_port);
  wait(node, [](const Json& e) { return str(e, {"event"}) == "ready"; });
  node.open("dir", token("director", sig::kGrantSubscribe | sig::kGrantLayout));
  node.open("view", token("viewer", sig::kGrantSubscribe));
  for (const char* stream : {"dir", "view"}) {
    node.request(stream, Json::object({{"request_id", 1}, {"join", Json::object({{"room", "r"}})}}));
    Json joined = wait(node, reply_to(stream, 1));
    EXPECT_EQ(str(joined, {"response", "reply", "join", "mode"}), "mcu") << joined.dump();
  }
  auto layout = [&](const char* stream, int64_t id, Json request) {
    node.request(stream, Json::object({{"request_id", id}, {"layout", std::move(request)}}));
    return wait(node, reply_to(stream, id));
  };
  Json pinned = layout("dir", 2, Json::object({{"layout", "pinned"}, {"pinned", "alice"}}));
  EXPECT_TRUE(at(pinned, {"response", "reply", "empty"})) << pinned.dump();
  Json mosaic = layout("dir", 3, Json::object({{"layout", "mosaic"}}));
  EXPECT_EQ(num(mosaic, {"response", "reply", "error", "code"}), -32602) << mosaic.dump();
  EXPECT_EQ(num(mosaic, {"response", "reply", "error", "status"}), kInvalidArgument);
  EXPECT_NE(str(mosaic, {"response", "reply", "error", "message"}).find("mosaic"),
            std::string::npos);
  Json denied = layout("view", 2, Json::object({{"layout", "speaker"}}));
  EXPECT_EQ(num(denied, {"response", "reply", "error", "code"}), -32001) << denied.dump();
  EXPECT_EQ(num(denied, {"response", "reply", "error", "status"}), 7);  // PERMISSION_DENIED
  Json grid = layout("dir", 4, Json::object({{"layout", "grid"}}));
  EXPECT_TRUE(at(grid, {"response", "reply", "empty"})) << grid.dump();
}

// A client that vanishes without closing its connection (SIGSTOP: the
// socket stays open, nothing answers): the server's HTTP/2 keepalive pings
// go unanswered, the stream ends and the room is told within peer-timeout.
TEST_F(GrpcTest, AVanishedClientIsRemovedWithinPeerTimeout) {
  GrpcServer s = start_server({"--mode", "mesh", "--peer-timeout", "3000"});
  ASSERT_TRUE(s.server && s.grpc_port);
  Client& watcher = connect(s.server->ws_url());
  ASSERT_EQ(code(watcher, "join", Json::object({{"room", "v"}, {"peer", "ws1"}})), 0);
  NodeClient node(s.grpc_port);
  node.open("a", std::nullopt);
  node.request("a", Json::object({{"request_id", 1},
                                  {"join", Json::object({{"room", "v"}, {"peer", "ghost"}})}}));
  wait(node, reply_to("a", 1));
  // Idle but alive for longer than peer-timeout: still in the room (the
  // service's silence check spares gRPC streams; keepalive pings answer).
  run_until([] { return false; }, 4000);
  EXPECT_TRUE(watcher.got("peer-left").empty()) << "an idle, live gRPC client was removed";

  gint64 t0 = g_get_monotonic_time();
  node.proc().send_signal(SIGSTOP);
  bool left = run_until([&] { return !watcher.got("peer-left").empty(); }, 8000);
  double took = (g_get_monotonic_time() - t0) / 1e6;
  node.proc().send_signal(SIGCONT);
  ASSERT_TRUE(left) << "the stopped client is still in the room";
  EXPECT_EQ(watcher.got("peer-left")[0].get_string("peer").value_or(""), "ghost");
  EXPECT_EQ(watcher.got("peer-left")[0].get_string("reason").value_or(""), "disconnected");
  EXPECT_LT(took, 3.5) << "later than peer-timeout (3 s)";
  std::printf("stopped gRPC client: peer-left after %.2f s (peer-timeout 3 s)\n", took);
}

// With the server's certificate, gRPC is TLS (grpcs): a client trusting it
// joins; a plaintext client gets nowhere (UNAVAILABLE) and changes nothing.
TEST_F(GrpcTest, TlsWithTheServersCertificate) {
  test::SelfSigned cert;
  ASSERT_TRUE(cert.ok);
  GrpcServer s = start_server(
      {"--mode", "mesh", "--tls-certificate", cert.cert, "--tls-key", cert.key}, /*tls=*/true);
  ASSERT_TRUE(s.server && s.grpc_port);
  NodeClient tls(s.grpc_port, cert.cert);
  tls.open("a", std::nullopt);
  tls.request("a", Json::object({{"request_id", 1},
                                 {"join", Json::object({{"room", "t"}, {"peer", "secure"}})}}));
  Json joined = wait(tls, reply_to("a", 1));
  EXPECT_EQ(str(joined, {"response", "reply", "join", "peer"}), "secure");

  NodeClient plain(s.grpc_port);
  plain.open("a", std::nullopt);
  plain.request("a", Json::object({{"request_id", 1},
                                   {"join", Json::object({{"room", "t"}, {"peer", "plain"}})}}));
  Json refused = wait(plain, status_of("a"));
  EXPECT_EQ(num(refused, {"code"}), 14);  // UNAVAILABLE
  EXPECT_FALSE(plain.take(reply_to("a", 1)));

  // Only the TLS participant is in the room (the WebSocket side is wss://).
  Client& watcher = connect(s.server->ws_url(), [&] {
    sig::WsClient::Options o;
    o.tls_ca_file = cert.cert;
    return o;
  }());
  auto list = call(watcher, "list", Json::object({{"room", "t"}}));
  EXPECT_NE(list.result.dump().find(R"("peers":["secure"])"), std::string::npos)
      << list.result.dump();
}

// rtcmeshbin url=grpc://: the same participant as over ws://. In a mesh
// room and in an SFU room, one rtcmeshbin over gRPC, one over WebSocket and
// the room page in Chromium: everyone decodes everyone; the gRPC one
// leaving is seen.
TEST_F(GrpcTest, RtcmeshbinOverGrpcMeetsOneOverWebSocketAndAPage) {
  if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  for (const char* mode : {"mesh", "sfu"}) {
    SCOPED_TRACE(mode);
    GrpcServer s = start_server({"--mode", mode, "--token", "s3cret", "--peer-timeout", "3000"});
    ASSERT_TRUE(s.server && s.grpc_port);
    const std::string grpc_url = "grpc://127.0.0.1:" + std::to_string(s.grpc_port);
    auto over_grpc = std::make_unique<test::RoomParticipant>(
        grpc_url, "viagrpc", "auth-token=s3cret", "m");
    test::RoomParticipant over_ws(s.server->ws_url(), "viaws", "auth-token=s3cret", "m");
    std::string error;
    auto page = test::RoomPage::open(RTCMESH_BROWSER_DIR,
                                     s.server->base + "/room/m?peer=page&token=s3cret", "page",
                                     120, &error);
    ASSERT_TRUE(page) << error;
    gint64 t0 = g_get_monotonic_time();
    auto everyone = [&] {
      return over_grpc->frames_from("viaws") >= 10 && over_grpc->samples_from("viaws") > 0 &&
             over_grpc->frames_from("page") >= 10 && over_ws.frames_from("viagrpc") >= 10 &&
             over_ws.samples_from("viagrpc") > 0 && over_ws.frames_from("page") >= 10 &&
             page->stat("viagrpc", "videoFramesDecoded") >= 10 &&
             page->stat("viaws", "videoFramesDecoded") >= 10;
    };
    bool all = test::wait_until([&] { return everyone() || page->done; }, 60s) && !page->done;
    EXPECT_TRUE(all) << "viagrpc: " << over_grpc->frames_from("viaws") << " from viaws, "
                     << over_grpc->frames_from("page") << " from page; viaws: "
                     << over_ws.frames_from("viagrpc") << " from viagrpc, "
                     << over_ws.frames_from("page") << " from page; " << page->describe() << "\n"
                     << [&] {
                          std::string out;
                          for (const auto& e : over_grpc->pipeline().errors()) out += e + "\n";
                          for (const auto& e : over_ws.pipeline().errors()) out += e + "\n";
                          return out;
                        }();
    std::printf("%s room: rtcmeshbin over gRPC, over WebSocket and a Chromium page decode each "
                "other after %.1f s\n",
                mode, (g_get_monotonic_time() - t0) / 1e6);
    EXPECT_TRUE(over_grpc->pipeline().errors().empty());
    // The gRPC participant stops: its stream ends, the other's pads for it get EOS.
    over_grpc.reset();
    EXPECT_TRUE(test::wait_until(
        [&] {
          for (const auto& t : over_ws.tracks())
            if (t->peer_id == "viagrpc" && t->video() && !t->eos) return false;
          return true;
        },
        10s))
        << "viagrpc's pads at viaws got no EOS";
  }
}

// Issue 13's benchmark, run by hand (docs/benchmarks.md):
//   build/tests/integration/grpc_test --gtest_also_run_disabled_tests \
//       --gtest_filter='*JoinToFirstFrame*'
// A publishing rtcmeshbin in a mesh room; 20 receive-only rtcmeshbins join
// over gRPC and 20 over WebSocket, alternating, one at a time: time from
// PLAYING (it connects and joins at once) to the first decoded frame of the
// publisher; p50/p95 of each.
TEST_F(GrpcTest, DISABLED_JoinToFirstFrameGrpcVsWebSocket) {
  GrpcServer s = start_server({"--mode", "mesh", "--peer-timeout", "3000"});
  ASSERT_TRUE(s.server && s.grpc_port);
  const std::string grpc_url = "grpc://127.0.0.1:" + std::to_string(s.grpc_port);
  test::RoomParticipant publisher(s.server->ws_url(), "pub", "ice-local-addresses=127.0.0.1", "b");
  std::vector<double> over_grpc, over_ws;
  for (int i = 0; i < 40; ++i) {
    bool grpc = i % 2 == 0;
    test::RoomParticipant viewer(grpc ? grpc_url : s.server->ws_url(),
                                 "v" + std::to_string(i), "ice-local-addresses=127.0.0.1", "b",
                                 /*publish=*/false);
    ASSERT_TRUE(test::wait_until([&] { return viewer.first_frame_ms("pub") >= 0; }, 20s))
        << (grpc ? "gRPC" : "WebSocket") << " join " << i;
    (grpc ? over_grpc : over_ws).push_back(viewer.first_frame_ms("pub"));
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
  };
  std::printf("join -> first frame over gRPC: p50 %.0f ms, p95 %.0f ms (%zu joins)\n",
              pct(over_grpc, 0.5), pct(over_grpc, 0.95), over_grpc.size());
  std::printf("join -> first frame over WebSocket: p50 %.0f ms, p95 %.0f ms (%zu joins)\n",
              pct(over_ws, 0.5), pct(over_ws, 0.95), over_ws.size());
}

// A WebRTC stack that is not GStreamer publishes through gRPC: werift (pure
// JS) offers a VP8 track to an rtcmeshbin in a mesh room, signaled over
// rtcmesh.v1.Signaling; the rtcmeshbin (over WebSocket) decodes its frames.
TEST_F(GrpcTest, WeriftPublisherOverGrpcIsDecodedByAPipeline) {
  GrpcServer s = start_server({"--mode", "mesh", "--peer-timeout", "3000"});
  ASSERT_TRUE(s.server && s.grpc_port);
  const std::string ws_url = s.server->ws_url();
  test::RoomParticipant bin(ws_url, "bin", "ice-local-addresses=127.0.0.1", "w",
                            /*publish=*/false);
  Client& watcher = connect(ws_url);
  ASSERT_TRUE(run_until(
      [&] {
        auto r = call(watcher, "list", Json::object({{"room", "w"}}));
        return r.ok() && r.result.dump().find("\"bin\"") != std::string::npos;
      },
      10000))
      << "the rtcmeshbin did not join";

  Subprocess::Options o;
  o.echo_prefix = "[werift]";
  std::string error;
  auto werift = Subprocess::spawn(
      {"node", RTCMESH_WERIFT_PUBLISHER, "--target", "127.0.0.1:" + std::to_string(s.grpc_port),
       "--proto", RTCMESH_PROTO, "--room", "w", "--peer", "werift", "--to", "bin"},
      o, &error);
  ASSERT_TRUE(werift) << error;
  auto event = [&](const std::string& name, std::chrono::milliseconds timeout) {
    auto line = werift->wait_for_line(
        [&](const std::string& l) {
          auto j = Json::parse(l);
          return j && (str(*j, {"event"}) == name || str(*j, {"event"}) == "error");
        },
        timeout);
    std::optional<Json> j = line ? Json::parse(*line) : std::nullopt;
    EXPECT_TRUE(j && str(*j, {"event"}) == name) << "waiting for " << name << ": "
                                                  << line.value_or("<nothing>");
    return j.value_or(Json());
  };
  unsigned rtp_port = static_cast<unsigned>(num(event("rtp-port", 10s), {"port"}));
  ASSERT_GT(rtp_port, 0u);
  Json joined = event("joined", 10s);
  EXPECT_EQ(at(joined, {"peers"})->dump(), R"(["bin"])");
  event("offered", 10s);
  event("answer", 10s);

  // VP8 RTP for werift to send (werift has no encoder): 1 s GOPs, so the
  // rtcmeshbin's decoder starts soon after the connection is up.
  test::Pipeline source(
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
      "! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=15 ! rtpvp8pay pt=96 mtu=1100 "
      "! udpsink host=127.0.0.1 port=" + std::to_string(rtp_port));
  ASSERT_NE(source.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  gint64 t0 = g_get_monotonic_time();
  EXPECT_TRUE(test::wait_until([&] { return bin.frames_from("werift") >= 30; }, 30s))
      << "frames from werift: " << bin.frames_from("werift") << "\n"
      << [&] {
           std::string out;
           for (const auto& l : werift->stdout_lines()) out += l + "\n";
           for (const auto& e : bin.pipeline().errors()) out += e + "\n";
           return out;
         }();
  std::printf("werift over gRPC -> rtcmeshbin: %d frames decoded %.1f s after the source started\n",
              bin.frames_from("werift"), (g_get_monotonic_time() - t0) / 1e6);
  bool connected = false;
  for (const auto& l : werift->stdout_lines())
    if (l.find(R"("state":"connected")") != std::string::npos) connected = true;
  EXPECT_TRUE(connected);
  // The rtcmeshbin's track pad names werift as its peer.
  bool pad_for_werift = false;
  for (const auto& t : bin.tracks())
    if (t->peer_id == "werift" && t->video()) pad_for_werift = true;
  EXPECT_TRUE(pad_for_werift);

  // werift ends its stream (SIGTERM: call.end()) while media flows: the
  // rtcmeshbin hears peer-left and ends werift's pad with EOS.
  werift->terminate(2s);
  EXPECT_TRUE(test::wait_until(
      [&] {
        for (const auto& t : bin.tracks())
          if (t->peer_id == "werift" && t->video() && t->eos) return true;
        return false;
      },
      10s))
      << "werift's pad got no EOS after its stream ended";
  EXPECT_TRUE(bin.pipeline().errors().empty());
  source.set_state(GST_STATE_NULL);
}

}  // namespace
}  // namespace rtcmesh
