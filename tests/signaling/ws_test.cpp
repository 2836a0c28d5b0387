// Rooms over JSON-RPC on real loopback WebSockets: WsServer on an HttpServer
// (port 0), WsClients, and raw sockets for peers that misbehave.
#include <gio/gio.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signaling/http/http_client.h"
#include "signaling/http/http_server.h"
#include "signaling/util.h"
#include "signaling/http/ws_client.h"
#include "signaling/http/ws_server.h"
#include "tests/signaling/loop.h"
#include "tests/support/harness.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh::sig {
namespace {

using namespace std::chrono_literals;
using Reply = WsClient::Reply;
using Status = WsClient::Reply::Status;

const std::string kSdp = test::webrtcbin_offer();
constexpr const char* kCandidate = "candidate:1 1 UDP 2122260223 192.168.1.2 50000 typ host";

// A WsClient that records what the server sends.
struct Peer {
  Peer(GMainContext* ctx, WsClient::Options o = quick()) : client(ctx, o) {
    client.set_notification_handler([this](const std::string& method, const Json& params) {
      notes.push_back({method, params});
    });
    client.set_error_handler([this](const rpc::Error& e) { errors.push_back(e); });
    client.set_closed_handler(
        [this](int code, const std::string& reason) { closed = std::make_pair(code, reason); });
  }
  static WsClient::Options quick() {
    WsClient::Options o;
    o.ping_interval_s = 1;
    o.peer_timeout_s = 3;
    o.call_timeout_s = 5;
    return o;
  }
  // Notifications named `method` so far.
  std::vector<Json> got(const std::string& method) const {
    std::vector<Json> out;
    for (const auto& [m, p] : notes)
      if (m == method) out.push_back(p);
    return out;
  }

  WsClient client;
  std::vector<std::pair<std::string, Json>> notes;
  std::vector<rpc::Error> errors;
  std::optional<std::pair<int, std::string>> closed;
};

class WsTest : public test::LoopTest {
 protected:
  void TearDown() override {
    peers.clear();
    ws.reset();
    http.reset();
    LoopTest::TearDown();
  }

  void serve(RoomServer::Config cfg = {}, WsServer::Options wo = {}, bool tls = false) {
    HttpServer::Options o;
    o.address = "127.0.0.1";
    if (tls) {
      o.tls_certificate = certs.cert;
      o.tls_key = certs.key;
    }
    http = std::make_unique<HttpServer>(ctx, o);
    http->add_handler("/hello", [](const HttpRequest&, Responder respond) {
      HttpResponse r;
      r.content_type = "text/plain";
      r.body = "hi";
      respond(r);
    });
    http->start();
    if (wo.ping_interval_s == 5) wo.ping_interval_s = 1;
    if (wo.tick_ms == 500) wo.tick_ms = 100;
    if (cfg.peer_timeout == std::chrono::milliseconds(10000)) cfg.peer_timeout = 2500ms;
    ws = std::make_unique<WsServer>(ctx, *http, cfg, wo);
  }

  Peer& add_peer(WsClient::Options o = Peer::quick()) {
    peers.push_back(std::make_unique<Peer>(ctx, o));
    Peer& p = *peers.back();
    std::optional<std::pair<bool, std::string>> done;
    p.client.connect(ws->url(), [&](bool ok, const std::string& err) { done = {ok, err}; });
    EXPECT_FALSE(done) << "connect must not complete inside connect()";
    EXPECT_TRUE(run_until([&] { return done.has_value(); }));
    EXPECT_TRUE(done && done->first) << (done ? done->second : "");
    return p;
  }

  Reply call(Peer& p, const std::string& method, Json params = Json::object(),
             unsigned timeout_ms = 0) {
    std::optional<Reply> got;
    p.client.call(
        method, std::move(params), [&](Reply r) { got = std::move(r); }, timeout_ms);
    EXPECT_FALSE(got) << "the reply must not come inside call()";
    EXPECT_TRUE(run_until([&] { return got.has_value(); }, 10000)) << method;
    return got.value_or(Reply{});
  }

  Json join(Peer& p, const std::string& room, const std::string& peer) {
    Reply r = call(p, "join", Json::object({{"room", room}, {"peer", peer}}));
    EXPECT_TRUE(r.ok()) << r.error.code << " " << r.error.message;
    return r.result;
  }

  test::SelfSigned certs;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<WsServer> ws;
  std::vector<std::unique_ptr<Peer>> peers;
};

// --- raw WebSocket ends that misbehave on purpose ---

// A client over a plain socket: upgrades, sends frames, and never answers a
// ping (nor reads anything unless asked).
class RawClient {
 public:
  RawClient(GMainContext*, unsigned port) {
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
    sock_ = g_socket_connection_get_socket(conn_);
    g_socket_set_blocking(sock_, FALSE);
  }
  ~RawClient() {
    if (conn_) g_object_unref(conn_);
  }
  void write(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      gssize n = g_socket_send(sock_, bytes.data() + off, bytes.size() - off, nullptr, nullptr);
      if (n > 0)
        off += static_cast<size_t>(n);
      else
        g_usleep(1000);
    }
  }
  // Reads what is there without blocking.
  void pump() {
    char buf[4096];
    for (;;) {
      gssize n = g_socket_receive(sock_, buf, sizeof buf, nullptr, nullptr);
      if (n <= 0) return;
      in_.append(buf, static_cast<size_t>(n));
    }
  }
  void upgrade(const std::string& path) {
    write("GET " + path +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  }
  // A masked text frame (clients must mask).
  void send_text(const std::string& text) {
    std::string f;
    f += static_cast<char>(0x81);
    size_t n = text.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>((n >> 8) & 0xff);
      f += static_cast<char>(n & 0xff);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (size_t i = 0; i < n; ++i) f += static_cast<char>(text[i] ^ mask[i % 4]);
    write(f);
  }
  void close_socket() { g_socket_close(sock_, nullptr); }
  const std::string& received() const { return in_; }

 private:
  GSocketConnection* conn_ = nullptr;
  GSocket* sock_ = nullptr;
  std::string in_;
};

// A server that completes the upgrade and then says nothing, ever.
class SilentServer {
 public:
  SilentServer() {
    GError* err = nullptr;
    listener_ =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
    GInetAddress* lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress* sa = g_inet_socket_address_new(lo, 0);
    g_object_unref(lo);
    EXPECT_TRUE(g_socket_bind(listener_, sa, TRUE, &err));
    g_object_unref(sa);
    EXPECT_TRUE(g_socket_listen(listener_, &err));
    g_socket_set_blocking(listener_, FALSE);
    GSocketAddress* local = g_socket_get_local_address(listener_, &err);
    port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
    g_object_unref(local);
  }
  ~SilentServer() {
    if (client_) g_object_unref(client_);
    g_object_unref(listener_);
  }
  // Accepts and answers the upgrade once the request is complete; true then.
  bool step() {
    if (upgraded) return true;
    if (!client_) {
      client_ = g_socket_accept(listener_, nullptr, nullptr);
      if (!client_) return false;
      g_socket_set_blocking(client_, FALSE);
    }
    char buf[4096];
    gssize n = g_socket_receive(client_, buf, sizeof buf, nullptr, nullptr);
    if (n > 0) request_.append(buf, static_cast<size_t>(n));
    if (request_.find("\r\n\r\n") == std::string::npos) return false;
    std::string key;
    for (std::string_view line : split_lines(request_))
      if (starts_with_icase(line, "sec-websocket-key:")) key = std::string(trim(line.substr(18)));
    std::string accept_in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    GChecksum* sha = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(sha, reinterpret_cast<const guchar*>(accept_in.data()), accept_in.size());
    guint8 digest[20];
    gsize len = sizeof digest;
    g_checksum_get_digest(sha, digest, &len);
    g_checksum_free(sha);
    char* b64 = g_base64_encode(digest, len);
    std::string resp = std::string(
                           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: ") +
                       b64 + "\r\n\r\n";
    g_free(b64);
    g_socket_send(client_, resp.data(), resp.size(), nullptr, nullptr);
    upgraded = true;
    return true;
  }

  unsigned port = 0;
  bool upgraded = false;

 private:
  GSocket* listener_ = nullptr;
  GSocket* client_ = nullptr;
  std::string request_;
};

// --- tests ---

TEST_F(WsTest, ThreePeersJoinAndRelay) {
  RoomServer::Config cfg;
  cfg.ice_servers = {{"stun:stun.example.org:3478", "", ""}};
  serve(cfg);
  EXPECT_EQ(ws->url(), "ws://127.0.0.1:" + std::to_string(http->port()) + "/rtc");
  Peer& a = add_peer();
  Peer& b = add_peer();
  Peer& c = add_peer();
  EXPECT_TRUE(a.client.connected());
  EXPECT_TRUE(run_until([&] { return ws->connection_count() == 3; }));

  Json ra = join(a, "demo", "a");
  EXPECT_EQ(ra.get_string("mode"), "mesh");
  EXPECT_EQ(ra.find("peers")->size(), 0u);
  EXPECT_EQ(ra.find("iceServers")->dump(), R"([{"urls":["stun:stun.example.org:3478"]}])");
  Json rb = join(b, "demo", "b");
  EXPECT_EQ(rb.find("peers")->dump(), R"(["a"])");
  Json rc = join(c, "demo", "c");
  EXPECT_EQ(rc.find("peers")->dump(), R"(["a","b"])");
  ASSERT_TRUE(run_until([&] { return a.got("peer-joined").size() == 2; }));
  EXPECT_EQ(a.got("peer-joined")[1].dump(), R"({"room":"demo","peer":"c"})");
  EXPECT_EQ(b.got("peer-joined").size(), 1u);

  // The late joiner offers to everyone it was given.
  for (const Json& to : rc.find("peers")->as_array()) {
    Reply r =
        call(c, "offer",
             Json::object({{"to", to}, {"sdp", kSdp}, {"negotiationId", "n-" + to.as_string()}}));
    EXPECT_TRUE(r.ok()) << r.error.message;
  }
  ASSERT_TRUE(run_until([&] { return a.got("offer").size() == 1 && b.got("offer").size() == 1; }));
  Json offer = a.got("offer")[0];
  EXPECT_EQ(offer.get_string("from"), "c");
  EXPECT_EQ(offer.get_string("sdp"), kSdp);
  EXPECT_EQ(offer.get_string("negotiationId"), "n-a");

  // Answer and trickle back; a candidate sent as a notification is relayed too.
  EXPECT_TRUE(call(a, "answer", Json::object({{"to", "c"}, {"sdp", kSdp}})).ok());
  EXPECT_TRUE(call(a, "candidate",
                   Json::object({{"to", "c"}, {"candidate", kCandidate}, {"sdpMLineIndex", 0}}))
                  .ok());
  EXPECT_TRUE(b.client.notify(
      "candidate", Json::object({{"to", "c"}, {"candidate", kCandidate}, {"sdpMid", "0"}})));
  ASSERT_TRUE(run_until([&] { return c.got("candidate").size() == 2; }));
  EXPECT_EQ(c.got("answer").size(), 1u);
  EXPECT_EQ(c.got("answer")[0].get_string("from"), "a");
  EXPECT_EQ(c.got("candidate")[0].dump(),
            std::string(R"({"from":"a","candidate":")") + kCandidate + R"(","sdpMLineIndex":0})");
  EXPECT_EQ(c.got("candidate")[1].get_string("from"), "b");

  // Errors come back as error replies; the connection stays.
  Reply bad = call(a, "offer", Json::object({{"to", "c"}, {"sdp", kSdp}}));
  EXPECT_EQ(bad.status, Status::kError);
  EXPECT_EQ(bad.error.code, rpc::kInvalidParams);  // a joined first: c offers
  EXPECT_EQ(call(a, "offer", Json::object({{"to", "zz"}, {"sdp", kSdp}})).error.code,
            rpc::kUnknownPeer);
  EXPECT_EQ(call(a, "frobnicate").error.code, rpc::kMethodNotFound);

  // Leave: the others hear it.
  EXPECT_TRUE(call(b, "leave").ok());
  ASSERT_TRUE(
      run_until([&] { return a.got("peer-left").size() == 1 && c.got("peer-left").size() == 1; }));
  EXPECT_EQ(a.got("peer-left")[0].dump(), R"({"room":"demo","peer":"b","reason":"left"})");
  Reply list = call(a, "list", Json::object({{"room", "demo"}}));
  EXPECT_EQ(list.result.dump(),
            R"({"rooms":[{"room":"demo","mode":"mesh","count":2,"peers":["a","c"]}]})");
  for (auto& p : peers) EXPECT_FALSE(p->closed);
  EXPECT_TRUE(a.errors.empty());
}

TEST_F(WsTest, AbruptDisconnectTellsTheOthers) {
  serve();
  Peer& a = add_peer();
  Peer& b = add_peer();
  Peer& c = add_peer();
  join(a, "r", "a");
  join(b, "r", "b");
  join(c, "r", "c");
  double t0 = now_s();
  c.client.abort();  // no close frame: the socket just goes
  ASSERT_TRUE(run_until(
      [&] { return a.got("peer-left").size() == 1 && b.got("peer-left").size() == 1; }, 3000));
  EXPECT_LT(now_s() - t0, 2.5);  // well within peer-timeout
  EXPECT_EQ(a.got("peer-left")[0].dump(), R"({"room":"r","peer":"c","reason":"disconnected"})");
  EXPECT_FALSE(c.closed);  // abort() is ours: no closed callback
  EXPECT_FALSE(c.client.connected());
  EXPECT_TRUE(run_until([&] { return ws->connection_count() == 2; }));
  // Nothing else was disturbed.
  EXPECT_TRUE(
      call(b, "candidate", Json::object({{"to", "a"}, {"candidate", kCandidate}, {"sdpMid", "0"}}))
          .ok());
  EXPECT_TRUE(run_until([&] { return a.got("candidate").size() == 1; }));
  EXPECT_EQ(call(c, "list").status, Status::kClosed);
}

// drain(): every connection is closed with 1001 and the reason (its peer
// leaves as for a client's close), and so is every new one at once.
TEST_F(WsTest, DrainClosesEveryConnectionAndEveryNewOneWithTheMoveReason) {
  serve();
  Peer& a = add_peer();
  Peer& b = add_peer();
  join(a, "r", "a");
  join(b, "r", "b");
  ws->drain(WsServer::drain_reason("ws://127.0.0.1:9/rtc"));
  ASSERT_TRUE(run_until([&] { return a.closed && b.closed; }, 5000));
  EXPECT_EQ(*a.closed, std::make_pair(1001, std::string("move ws://127.0.0.1:9/rtc")));
  EXPECT_TRUE(run_until([&] { return ws->connection_count() == 0; }));
  EXPECT_TRUE(ws->rooms().rooms().empty()) << "both left";
  Peer& late = add_peer();  // the upgrade completes, then the close
  ASSERT_TRUE(run_until([&] { return late.closed.has_value(); }, 5000));
  EXPECT_EQ(late.closed->first, 1001);
  EXPECT_EQ(late.closed->second, "move ws://127.0.0.1:9/rtc");
  EXPECT_EQ(ws->connection_count(), 0u);
  EXPECT_EQ(WsServer::drain_reason(""), "draining");
}

TEST_F(WsTest, PeerThatStopsAnsweringPingsIsRemoved) {
  RoomServer::Config cfg;
  cfg.peer_timeout = 2500ms;
  serve(cfg);
  Peer& a = add_peer();
  join(a, "r", "a");
  RawClient raw(ctx, http->port());
  raw.upgrade("/rtc");
  raw.send_text(rpc::request(1, "join", Json::object({{"room", "r"}, {"peer", "mute"}})));
  ASSERT_TRUE(run_until([&] {
    raw.pump();
    return raw.received().find("\"peer\":\"mute\"") != std::string::npos;
  }));
  ASSERT_TRUE(run_until([&] { return a.got("peer-joined").size() == 1; }));
  double t0 = now_s();
  // From now on it never reads, so never answers a ping; a keeps answering.
  ASSERT_TRUE(run_until([&] { return a.got("peer-left").size() == 1; }, 6000));
  double took = now_s() - t0;
  EXPECT_GT(took, 1.5);
  EXPECT_LT(took, 4.0);
  EXPECT_EQ(a.got("peer-left")[0].dump(), R"({"room":"r","peer":"mute","reason":"timeout"})");
  // a, silent between calls but answering pings, is still there.
  run_for(1500);
  EXPECT_EQ(ws->rooms().room("r")->peers, std::vector<std::string>{"a"});
  EXPECT_TRUE(call(a, "ping").ok());
  EXPECT_FALSE(a.closed);
}

TEST_F(WsTest, RawSocketDropIsADisconnect) {
  serve();
  Peer& a = add_peer();
  join(a, "r", "a");
  RawClient raw(ctx, http->port());
  raw.upgrade("/rtc");
  raw.send_text(rpc::request(1, "join", Json::object({{"room", "r"}, {"peer", "gone"}})));
  ASSERT_TRUE(run_until([&] { return a.got("peer-joined").size() == 1; }));
  raw.close_socket();
  ASSERT_TRUE(run_until([&] { return a.got("peer-left").size() == 1; }, 2000));
  EXPECT_EQ(a.got("peer-left")[0].get_string("reason"), "disconnected");
}

TEST_F(WsTest, OversizedMessageGetsTooLargeAndTheSocketStays) {
  RoomServer::Config cfg;
  cfg.max_message = 4096;
  serve(cfg);
  Peer& a = add_peer();
  Peer& b = add_peer();
  join(a, "r", "a");
  join(b, "r", "b");

  Reply big = call(b, "offer", Json::object({{"to", "a"}, {"sdp", std::string(8000, 'x')}}));
  EXPECT_EQ(big.status, Status::kError);
  EXPECT_EQ(big.error.code, rpc::kTooLarge);  // matched to its call by id
  EXPECT_EQ(big.error.data.find("limit")->as_int(), 4096);
  EXPECT_TRUE(b.client.connected());
  // Not even parsed: garbage that large gets -32006 with a null id.
  EXPECT_TRUE(b.client.send_raw(std::string(5000, '{')));
  ASSERT_TRUE(run_until([&] { return b.errors.size() == 1; }));
  EXPECT_EQ(b.errors[0].code, rpc::kTooLarge);
  // Usable afterwards, and still in the room.
  EXPECT_TRUE(
      call(b, "candidate", Json::object({{"to", "a"}, {"candidate", kCandidate}, {"sdpMid", "0"}}))
          .ok());
  EXPECT_TRUE(run_until([&] { return a.got("candidate").size() == 1; }));
  EXPECT_TRUE(a.got("offer").empty());

  // Past 4×M libsoup itself drops the socket (no close frame in 3.2: the
  // client sees 1006); the room is told.
  EXPECT_TRUE(b.client.send_raw(std::string(4 * 4096 + 100, ' ')));
  ASSERT_TRUE(run_until([&] { return b.closed.has_value(); }));
  EXPECT_TRUE(b.closed->first == 1006 || b.closed->first == 1009) << b.closed->first;
  ASSERT_TRUE(run_until([&] { return a.got("peer-left").size() == 1; }));
  EXPECT_EQ(a.got("peer-left")[0].get_string("reason"), "disconnected");
  EXPECT_FALSE(a.closed);
}

TEST_F(WsTest, MalformedFramesGetTheirCodes) {
  serve();
  Peer& a = add_peer();
  join(a, "r", "a");
  a.client.send_raw("this is not json");
  a.client.send_raw("[]");
  a.client.send_raw(R"({"jsonrpc":"2.0","method":"list"})");  // notification: nothing
  a.client.send_raw(R"({"jsonrpc":"2.0","method":"nope","id":"raw"})");
  ASSERT_TRUE(run_until([&] { return a.errors.size() == 2; }));
  EXPECT_EQ(a.errors[0].code, rpc::kParseError);
  EXPECT_EQ(a.errors[1].code, rpc::kInvalidRequest);
  // A batch gets an array back: the client reads every response in it.
  a.client.send_raw("[" + rpc::request("x1", "ping", Json()) + "," +
                    rpc::request(Json(), "nope", Json()) + "]");
  ASSERT_TRUE(run_until([&] { return a.errors.size() == 3; }));
  EXPECT_EQ(a.errors[2].code, rpc::kMethodNotFound);
  EXPECT_TRUE(call(a, "ping").ok());
  EXPECT_EQ(ws->rooms().room("r")->peers, std::vector<std::string>{"a"});
}

TEST_F(WsTest, TokenInParamsOrAuthorizationHeader) {
  RoomServer::Config cfg;
  cfg.token = "t0ken";
  serve(cfg);
  Peer& anon = add_peer();
  Reply r = call(anon, "join", Json::object({{"room", "r"}}));
  EXPECT_EQ(r.error.code, rpc::kUnauthorized);
  r = call(anon, "join", Json::object({{"room", "r"}, {"token", "nope"}}));
  EXPECT_EQ(r.error.code, rpc::kUnauthorized);
  EXPECT_TRUE(call(anon, "join", Json::object({{"room", "r"}, {"token", "t0ken"}})).ok());

  WsClient::Options o = Peer::quick();
  o.headers.add("Authorization", "Bearer t0ken");
  Peer& bearer = add_peer(o);
  EXPECT_TRUE(call(bearer, "join", Json::object({{"room", "r"}})).ok());
  WsClient::Options w = Peer::quick();
  w.headers.add("Authorization", "Bearer wrong");
  Peer& wrong = add_peer(w);  // the upgrade still succeeds; join decides
  EXPECT_EQ(call(wrong, "join", Json::object({{"room", "r"}})).error.code, rpc::kUnauthorized);
}

TEST_F(WsTest, PlainHttpStillServedAndUpgradeOnlyAtThePath) {
  serve();
  HttpClient hc(ctx, {});
  std::optional<HttpClient::Result> got;
  hc.request("GET", http->base_url() + "/hello", {}, "", "", [&](auto r) { got = std::move(r); });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "hi");
  got.reset();
  hc.request("GET", http->base_url() + "/rtc", {}, "", "", [&](auto r) { got = std::move(r); });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 400);  // not a WebSocket handshake

  // A WebSocket at a path with no handler fails to connect.
  Peer p(ctx);
  std::optional<std::pair<bool, std::string>> done;
  p.client.connect(http->base_url() + "/hello", [&](bool ok, const std::string& e) {
    done = {ok, e};
  });
  ASSERT_TRUE(run_until([&] { return done.has_value(); }));
  EXPECT_FALSE(done->first);
  EXPECT_NE(done->second.find("cannot connect to"), std::string::npos) << done->second;
}

TEST_F(WsTest, ServerGoingAwayClosesClientsAndFailsPendingCalls) {
  serve();
  Peer& a = add_peer();
  join(a, "r", "a");
  ws.reset();
  ASSERT_TRUE(run_until([&] { return a.closed.has_value(); }));
  EXPECT_EQ(a.closed->first, 1001);
  EXPECT_FALSE(a.client.connected());
  Reply r = call(a, "list");
  EXPECT_EQ(r.status, Status::kClosed);
}

TEST_F(WsTest, ClientConnectErrorsAndTimeouts) {
  Peer p(ctx);
  // Not connected: calls fail at once (from the loop).
  EXPECT_EQ(call(p, "list").status, Status::kClosed);
  EXPECT_FALSE(p.client.notify("x", Json()));

  std::optional<std::pair<bool, std::string>> done;
  auto connect = [&](const std::string& url) {
    done.reset();
    p.client.connect(url, [&](bool ok, const std::string& e) { done = {ok, e}; });
    EXPECT_FALSE(done.has_value());
    EXPECT_TRUE(run_until([&] { return done.has_value(); }, 8000)) << url;
  };
  connect("ftp://127.0.0.1/x");
  EXPECT_FALSE(done->first);
  EXPECT_NE(done->second.find("invalid WebSocket URL"), std::string::npos) << done->second;
  connect("not a url");
  EXPECT_FALSE(done->first);

  // Refused: a port that was free a moment ago.
  unsigned dead_port = 0;
  {
    SilentServer gone;
    dead_port = gone.port;
  }
  connect("ws://127.0.0.1:" + std::to_string(dead_port) + "/rtc");
  EXPECT_FALSE(done->first);
  EXPECT_NE(done->second.find("cannot connect to ws://127.0.0.1:"), std::string::npos)
      << done->second;

  // A server that accepts TCP but never answers the upgrade: connect timeout.
  WsClient::Options o = Peer::quick();
  o.connect_timeout_s = 1;
  Peer slow(ctx, o);
  SilentServer mute;
  std::optional<std::pair<bool, std::string>> sd;
  double t0 = now_s();
  slow.client.connect("ws://127.0.0.1:" + std::to_string(mute.port) + "/rtc",
                      [&](bool ok, const std::string& e) {
                        sd = {ok, e};
                      });
  // Accept the TCP connection but do not answer the upgrade.
  ASSERT_TRUE(run_until([&] { return sd.has_value(); }, 5000));
  EXPECT_FALSE(sd->first);
  EXPECT_NE(sd->second.find("could not connect within 1 s"), std::string::npos) << sd->second;
  EXPECT_LT(now_s() - t0, 3.0);
}

TEST_F(WsTest, CallTimeoutAndSilentServerDetected) {
  // Upgrades, then never says anything (no pongs either).
  SilentServer mute;
  WsClient::Options o = Peer::quick();
  o.ping_interval_s = 1;
  o.peer_timeout_s = 2;
  Peer p(ctx, o);
  std::optional<std::pair<bool, std::string>> done;
  p.client.connect("ws://127.0.0.1:" + std::to_string(mute.port) + "/rtc",
                   [&](bool ok, const std::string& e) {
                     done = {ok, e};
                   });
  ASSERT_TRUE(run_until([&] {
    mute.step();
    return done.has_value();
  }));
  ASSERT_TRUE(done->first) << done->second;
  double t0 = now_s();
  std::optional<Reply> slow, never;
  p.client.call(
      "join", Json::object({{"room", "r"}}), [&](Reply r) { slow = std::move(r); }, 300);
  p.client.call(
      "list", Json(), [&](Reply r) { never = std::move(r); }, 60000);
  EXPECT_EQ(p.client.pending_count(), 2u);
  ASSERT_TRUE(run_until([&] { return slow.has_value(); }));
  EXPECT_EQ(slow->status, Status::kTimeout);
  EXPECT_NE(slow->error.message.find("join: no response within 300 ms"), std::string::npos)
      << slow->error.message;
  EXPECT_LT(now_s() - t0, 1.0);
  // No pong for peer_timeout: the connection is dropped and reported.
  ASSERT_TRUE(run_until([&] { return p.closed.has_value(); }, 5000));
  EXPECT_EQ(p.closed->first, 1006);
  EXPECT_NE(p.closed->second.find("no answer from the server for 2 s"), std::string::npos);
  EXPECT_GT(now_s() - t0, 1.5);
  ASSERT_TRUE(never.has_value());  // failed with the connection
  EXPECT_EQ(never->status, Status::kClosed);
  EXPECT_EQ(p.client.pending_count(), 0u);
}

TEST_F(WsTest, CloseFailsPendingCallsWithoutClosedCallback) {
  serve();
  Peer& a = add_peer();
  std::optional<Reply> r;
  a.client.call("list", Json(), [&](Reply x) { r = std::move(x); });
  a.client.close();
  EXPECT_FALSE(r.has_value());  // never inside close()
  ASSERT_TRUE(run_until([&] { return r.has_value(); }));
  EXPECT_EQ(r->status, Status::kClosed);
  run_for(200);
  EXPECT_FALSE(a.closed);
  EXPECT_TRUE(run_until([&] { return ws->connection_count() == 0; }));
}

TEST_F(WsTest, ClientDestroyedInsideItsOwnCallback) {
  serve();
  Peer& a = add_peer();
  join(a, "r", "a");
  auto doomed = std::make_unique<WsClient>(ctx, Peer::quick());
  bool ok = false;
  doomed->connect(ws->url(), [&](bool k, const std::string&) { ok = k; });
  ASSERT_TRUE(run_until([&] { return ok; }));
  bool replied = false;
  doomed->call("join", Json::object({{"room", "r"}, {"peer", "d"}}), [&](Reply) {
    replied = true;
    doomed.reset();  // from inside the reply
  });
  ASSERT_TRUE(run_until([&] { return replied; }));
  EXPECT_FALSE(doomed);
  ASSERT_TRUE(run_until([&] { return a.got("peer-left").size() == 1; }));
}

TEST_F(WsTest, TlsWithCaFileAndInsecure) {
  ASSERT_TRUE(certs.ok);
  serve({}, {}, true);
  EXPECT_EQ(ws->url().rfind("wss://127.0.0.1:", 0), 0u) << ws->url();
  WsClient::Options ca = Peer::quick();
  ca.tls_ca_file = certs.cert;
  Peer& a = add_peer(ca);
  join(a, "secure", "a");
  WsClient::Options insecure = Peer::quick();
  insecure.tls_insecure = true;
  Peer& b = add_peer(insecure);
  join(b, "secure", "b");
  ASSERT_TRUE(run_until([&] { return a.got("peer-joined").size() == 1; }));

  // Untrusted certificate: refused.
  Peer c(ctx);
  std::optional<std::pair<bool, std::string>> done;
  c.client.connect(ws->url(), [&](bool ok, const std::string& e) { done = {ok, e}; });
  ASSERT_TRUE(run_until([&] { return done.has_value(); }));
  EXPECT_FALSE(done->first);

  WsClient::Options bad = Peer::quick();
  bad.tls_ca_file = certs.dir + "/missing.pem";
  EXPECT_THROW(WsClient(ctx, bad), std::runtime_error);
}

TEST_F(WsTest, ConfigurationErrorsSayWhatToFix) {
  HttpServer::Options o;
  o.address = "127.0.0.1";
  HttpServer h(ctx, o);
  RoomServer::Config cfg;
  cfg.peer_timeout = 2s;
  WsServer::Options wo;
  wo.ping_interval_s = 5;
  try {
    WsServer s(ctx, h, cfg, wo);
    ADD_FAILURE() << "must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("peer-timeout (2000 ms) must be longer"),
              std::string::npos);
  }
  WsClient::Options co;
  co.ping_interval_s = 5;
  co.peer_timeout_s = 5;
  EXPECT_THROW(WsClient(ctx, co), std::invalid_argument);
}

}  // namespace
}  // namespace rtcmesh::sig
