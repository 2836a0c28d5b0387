// HttpServer + HttpClient over real loopback sockets (port 0).
#include <dirent.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "signaling/http/http_client.h"
#include "signaling/http/http_server.h"
#include "tests/signaling/loop.h"
#include "tests/support/harness.h"
#include "tests/support/raw_client.h"

namespace rtcmesh::sig {
namespace {

using Result = HttpClient::Result;

class HttpTest : public test::LoopTest {
 protected:
  HttpServer::Options local(size_t max_body = 256 * 1024) {
    HttpServer::Options o;
    o.address = "127.0.0.1";
    o.max_body = max_body;
    o.extra_headers.add("Access-Control-Allow-Origin", "*");
    return o;
  }
  // Sends one request and runs the loop until it completes.
  Result fetch(HttpClient& client, const std::string& method, const std::string& url,
               Headers headers = {}, const std::string& content_type = "",
               const std::string& body = "") {
    std::optional<Result> got;
    client.request(method, url, std::move(headers), content_type, body,
                   [&](Result r) { got = std::move(r); });
    EXPECT_FALSE(got.has_value()) << "done must never run inside request()";
    EXPECT_TRUE(run_until([&] { return got.has_value(); }, 15000)) << method << " " << url;
    return got.value_or(Result{});
  }
};

using test::RawClient;

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) n++;
    closedir(d);
  }
  return n;
}

// Echoes what it received so the client side can check every field.
void echo(const HttpRequest& req, Responder respond) {
  HttpResponse r;
  r.status = req.method == "POST" ? 201 : 200;
  r.content_type = "text/plain";
  r.body = req.method + " " + req.path + "?" + req.query + " [" + req.body + "]";
  r.headers.add("X-Auth", req.headers.get("Authorization").value_or("-"));
  r.headers.add("X-Content-Type", req.headers.get("Content-Type").value_or("-"));
  r.headers.add("X-Remote", req.remote_address);
  r.headers.add("Link", "<stun:a:1>; rel=\"ice-server\"");
  r.headers.add("Link", "<stun:b:2>; rel=\"ice-server\"");
  respond(std::move(r));
}

TEST_F(HttpTest, GetAndPostRoundTrip) {
  HttpServer server(ctx, local());
  server.add_handler("/echo", echo);
  server.add_handler("/echo/deep", [](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.body = "deep";
    r.content_type = "text/plain";
    respond(r);
  });
  server.start();
  ASSERT_GT(server.port(), 0u);
  EXPECT_EQ(server.base_url(), "http://127.0.0.1:" + std::to_string(server.port()));
  HttpClient client(ctx, {});

  Result r = fetch(client, "GET", server.base_url() + "/echo/x?a=1&b=2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.body, "GET /echo/x?a=1&b=2 []");
  EXPECT_EQ(r.headers.get("X-Remote").value_or(""), "127.0.0.1");
  EXPECT_EQ(r.headers.get("Access-Control-Allow-Origin").value_or(""), "*");
  EXPECT_EQ(r.url, server.base_url() + "/echo/x?a=1&b=2");
  EXPECT_EQ(r.error, "");

  r = fetch(client, "POST", server.base_url() + "/echo", {{"Authorization", "Bearer t"}},
            "application/sdp", "v=0\r\n");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "POST /echo? [v=0\r\n]");
  EXPECT_EQ(r.headers.get("X-Auth").value_or(""), "Bearer t");
  EXPECT_EQ(r.headers.get("X-Content-Type").value_or(""), "application/sdp");
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), "text/plain");
  // Two Link headers arrive as two values or one comma-joined value.
  std::string links;
  for (const auto& v : r.headers.get_all("Link")) links += v + ",";
  EXPECT_NE(links.find("<stun:a:1>"), std::string::npos);
  EXPECT_NE(links.find("<stun:b:2>"), std::string::npos);

  // Longest prefix wins, on segment boundaries.
  EXPECT_EQ(fetch(client, "GET", server.base_url() + "/echo/deep/er").body, "deep");
  r = fetch(client, "GET", server.base_url() + "/echoes");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "nothing is served at /echoes\n");
  EXPECT_EQ(r.headers.get("Access-Control-Allow-Origin").value_or(""), "*");
}

TEST_F(HttpTest, PausedReplyFromAnotherThread) {
  HttpServer server(ctx, local());
  std::mutex mu;
  std::optional<Responder> held;
  std::string seen_body;
  server.add_handler("/", [&](const HttpRequest& req, Responder respond) {
    std::lock_guard lock(mu);
    seen_body = req.body;
    held = std::move(respond);
  });
  server.start();
  HttpClient client(ctx, {});
  std::optional<Result> got;
  client.request("POST", server.base_url() + "/whip", {}, "application/sdp", "offer",
                 [&](Result r) { got = std::move(r); });
  ASSERT_TRUE(run_until([&] {
    std::lock_guard lock(mu);
    return held.has_value();
  }));
  EXPECT_EQ(seen_body, "offer");
  EXPECT_EQ(server.pending_count(), 1u);
  run_for(100);
  EXPECT_FALSE(got.has_value());  // paused until the Responder runs

  std::thread worker([&] {
    g_usleep(50 * 1000);
    HttpResponse r;
    r.status = 201;
    r.content_type = "application/sdp";
    r.body = "answer";
    r.headers.add("Location", "/whip/abc");
    std::lock_guard lock(mu);
    (*held)(std::move(r));
    (*held)(HttpResponse::error(500, "second reply is ignored"));
  });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  worker.join();
  EXPECT_EQ(got->status, 201);
  EXPECT_EQ(got->body, "answer");
  EXPECT_EQ(got->headers.get("Location").value_or(""), "/whip/abc");
  EXPECT_EQ(server.pending_count(), 0u);
}

TEST_F(HttpTest, DroppedResponderAnswers500AndHandlerExceptionToo) {
  HttpServer server(ctx, local());
  server.add_handler("/drop", [](const HttpRequest&, Responder) {});
  server.add_handler(
      "/throw", [](const HttpRequest&, Responder) -> void { throw std::runtime_error("boom"); });
  server.start();
  HttpClient client(ctx, {});
  Result r = fetch(client, "GET", server.base_url() + "/drop");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "the request was dropped unanswered\n");
  r = fetch(client, "GET", server.base_url() + "/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error: boom\n");
}

TEST_F(HttpTest, LargeBody413BeforeTheHandler) {
  HttpServer server(ctx, local(1000));
  int calls = 0;
  server.add_handler("/", [&](const HttpRequest& req, Responder respond) {
    ++calls;
    echo(req, std::move(respond));
  });
  server.start();
  HttpClient client(ctx, {});
  Result r = fetch(client, "POST", server.base_url() + "/whip", {}, "application/sdp",
                   std::string(5000, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, "request body too large (limit 1000 bytes)\n");
  EXPECT_EQ(r.headers.get("Access-Control-Allow-Origin").value_or(""), "*");
  EXPECT_EQ(calls, 0);
  // At the limit is fine, and the client recovers from the closed connection.
  r = fetch(client, "POST", server.base_url() + "/whip", {}, "text/plain", std::string(1000, 'y'));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(calls, 1);
}

// Raw HTTP/1.1 over a blocking socket, on a helper thread while the test
// thread runs the server's context.
std::string raw_exchange(unsigned port, const std::string& head, const std::string& body) {
  GError* err = nullptr;
  GSocketClient* sc = g_socket_client_new();
  g_socket_client_set_timeout(sc, 10);
  GSocketConnection* conn =
      g_socket_client_connect_to_host(sc, "127.0.0.1", static_cast<guint16>(port), nullptr, &err);
  g_object_unref(sc);
  if (!conn) {
    std::string why = err->message;
    g_error_free(err);
    return "connect failed: " + why;
  }
  GOutputStream* out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  GInputStream* in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  std::string all = head + body;
  g_output_stream_write_all(out, all.data(), all.size(), nullptr, nullptr, nullptr);
  std::string response;
  char buf[4096];
  while (true) {
    gssize n = g_input_stream_read(in, buf, sizeof buf, nullptr, nullptr);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
    // Stop at the end of a complete response (Content-Length known).
    auto hdr_end = response.find("\r\n\r\n");
    auto cl = response.find("Content-Length: ");
    if (hdr_end != std::string::npos && cl != std::string::npos && cl < hdr_end) {
      size_t len = std::stoul(response.substr(cl + 16));
      if (response.size() >= hdr_end + 4 + len) break;
    }
  }
  g_io_stream_close(G_IO_STREAM(conn), nullptr, nullptr);
  g_object_unref(conn);
  return response;
}

TEST_F(HttpTest, ChunkedBodyCountedWhileItArrives) {
  HttpServer server(ctx, local(1000));
  int calls = 0;
  server.add_handler("/", [&](const HttpRequest& req, Responder respond) {
    ++calls;
    echo(req, std::move(respond));
  });
  server.start();
  std::string body;
  for (int i = 0; i < 8; ++i) body += "200\r\n" + std::string(0x200, 'z') + "\r\n";
  body += "0\r\n\r\n";
  std::string response;
  std::thread t([&] {
    response = raw_exchange(server.port(),
                            "POST /whip HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Type: application/sdp\r\nTransfer-Encoding: chunked\r\n\r\n",
                            body);
  });
  run_until([&] { return !response.empty(); }, 10000);
  t.join();
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_NE(response.find("limit 1000 bytes"), std::string::npos) << response;
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpTest, DeclaredTooLargeWithExpectContinueIsRefusedWithoutTheBody) {
  HttpServer server(ctx, local(1000));
  server.add_handler("/", echo);
  server.start();
  std::string response;
  std::thread t([&] {
    // The body is never sent: the 413 must come from the headers alone.
    response = raw_exchange(server.port(),
                            "POST /whip HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                            "Content-Type: application/sdp\r\nContent-Length: 10000000\r\n\r\n",
                            "");
  });
  run_until([&] { return !response.empty(); }, 10000);
  t.join();
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
}

TEST_F(HttpTest, RedirectRepostsBodyAndAuthorization) {
  HttpServer server(ctx, local());
  std::vector<HttpRequest> seen;
  server.add_handler("/old", [](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 307;
    r.headers.add("Location", "../new/place");  // relative to /old/x
    respond(r);
  });
  server.add_handler("/perm", [&](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 308;
    r.headers.add("Location", server.base_url() + "/old/x");  // absolute, chains to /old
    respond(r);
  });
  server.add_handler("/see", [](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 303;
    r.headers.add("Location", "/new/303");
    respond(r);
  });
  server.add_handler("/loop", [](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 302;
    r.headers.add("Location", "/loop");
    respond(r);
  });
  server.add_handler("/new", [&](const HttpRequest& req, Responder respond) {
    seen.push_back(req);
    echo(req, std::move(respond));
  });
  server.start();
  HttpClient client(ctx, {});

  Result r = fetch(client, "POST", server.base_url() + "/perm", {{"Authorization", "Bearer tok"}},
                   "application/sdp", "the offer");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.url, server.base_url() + "/new/place");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/new/place");
  EXPECT_EQ(seen[0].body, "the offer");
  EXPECT_EQ(seen[0].headers.get("Authorization").value_or(""), "Bearer tok");
  EXPECT_EQ(seen[0].headers.get("Content-Type").value_or(""), "application/sdp");

  // 303 too keeps the method (a WHIP POST must stay a POST).
  r = fetch(client, "POST", server.base_url() + "/see", {}, "application/sdp", "o2");
  EXPECT_EQ(r.status, 201);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].body, "o2");

  HttpClient::Options few;
  few.max_redirects = 3;
  HttpClient limited(ctx, few);
  r = fetch(limited, "POST", server.base_url() + "/loop", {}, "application/sdp", "x");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.error, "too many redirects (more than 3)");
}

using test::SelfSigned;

TEST_F(HttpTest, TlsSelfSignedWithInsecureAndWithCaFile) {
  SelfSigned tls;
  ASSERT_TRUE(tls.ok);
  HttpServer::Options o = local();
  o.tls_certificate = tls.cert;
  o.tls_key = tls.key;
  HttpServer server(ctx, o);
  server.add_handler("/", echo);
  server.start();
  ASSERT_EQ(server.base_url().rfind("https://127.0.0.1:", 0), 0u) << server.base_url();

  HttpClient::Options insecure;
  insecure.tls_insecure = true;
  HttpClient c1(ctx, insecure);
  Result r = fetch(c1, "POST", server.base_url() + "/whip", {}, "application/sdp", "secret");
  EXPECT_EQ(r.status, 201) << r.error;
  EXPECT_EQ(r.body, "POST /whip? [secret]");

  HttpClient::Options ca;
  ca.tls_ca_file = tls.cert;
  HttpClient c2(ctx, ca);
  r = fetch(c2, "GET", server.base_url() + "/x");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "GET /x? []");

  // Neither: the certificate is not trusted.
  HttpClient c3(ctx, {});
  r = fetch(c3, "GET", server.base_url() + "/x");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());

  HttpClient::Options bad;
  bad.tls_ca_file = tls.dir + "/missing.pem";
  EXPECT_THROW(HttpClient(ctx, bad), std::runtime_error);

  HttpServer::Options nokey = local();
  nokey.tls_certificate = tls.cert;
  nokey.tls_key = tls.dir + "/missing.pem";
  HttpServer broken(ctx, nokey);
  try {
    broken.start();
    ADD_FAILURE() << "start() must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:0: cannot load TLS"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(HttpTest, TimeoutOnAServerThatNeverReplies) {
  HttpServer server(ctx, local());
  std::vector<Responder> never;
  server.add_handler("/", [&](const HttpRequest&, Responder r) { never.push_back(std::move(r)); });
  server.start();
  HttpClient::Options o;
  o.timeout_s = 1;
  HttpClient client(ctx, o);
  double t0 = now_s();
  Result r = fetch(client, "POST", server.base_url() + "/whip", {}, "application/sdp", "x");
  double took = now_s() - t0;
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("timed out after 1 s"), std::string::npos) << r.error;
  EXPECT_GT(took, 0.9);
  EXPECT_LT(took, 3.0);
  EXPECT_EQ(never.size(), 1u);
}

TEST_F(HttpTest, ConnectionRefusedAndBadUrl) {
  unsigned port;
  {
    HttpServer gone(ctx, local());
    gone.start();
    port = gone.port();
  }
  HttpClient client(ctx, {});
  Result r = fetch(client, "GET", "http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  r = fetch(client, "GET", "ftp://example.org/");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("invalid URL 'ftp://example.org/'"), std::string::npos) << r.error;
  r = fetch(client, "GET", "not a url");
  EXPECT_NE(r.error.find("invalid URL"), std::string::npos);
}

TEST_F(HttpTest, CancelAllSuppressesDone) {
  HttpServer server(ctx, local());
  std::vector<Responder> held;
  server.add_handler("/", [&](const HttpRequest&, Responder r) { held.push_back(std::move(r)); });
  server.start();
  int done = 0;
  {
    HttpClient client(ctx, {});
    client.request("GET", server.base_url() + "/a", {}, "", "", [&](Result) { ++done; });
    ASSERT_TRUE(run_until([&] { return held.size() == 1; }));
    client.request("GET", "bad url", {}, "", "", [&](Result) { ++done; });  // fails on idle
    EXPECT_EQ(client.pending_count(), 2u);
    client.cancel_all();
    EXPECT_EQ(client.pending_count(), 0u);
    client.request("GET", server.base_url() + "/b", {}, "", "", [&](Result) { ++done; });
    ASSERT_TRUE(run_until([&] { return held.size() == 2; }));
  }  // the destructor cancels the second one
  for (auto& r : held) r(HttpResponse::error(200, "late"));
  run_for(200);
  EXPECT_EQ(done, 0);
}

TEST_F(HttpTest, StopMakesPendingRespondersNoOps) {
  auto server = std::make_unique<HttpServer>(ctx, local());
  std::optional<Responder> held;
  server->add_handler("/", [&](const HttpRequest&, Responder r) { held = std::move(r); });
  server->start();
  HttpClient client(ctx, {});
  std::optional<Result> got;
  client.request("GET", server->base_url() + "/", {}, "", "", [&](Result r) { got = r; });
  ASSERT_TRUE(run_until([&] { return held.has_value(); }));
  server->stop();
  EXPECT_FALSE(server->running());
  EXPECT_EQ(server->pending_count(), 0u);
  (*held)(HttpResponse::error(200, "too late"));  // no-op, no crash
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 0);  // the connection was closed
  server.reset();
  std::thread([&] { (*held)(HttpResponse::error(200, "even later")); }).join();
  held.reset();
  run_for(50);
}

TEST_F(HttpTest, ClientLeavingWhilePausedThenReply) {
  HttpServer server(ctx, local());
  std::optional<Responder> held;
  server.add_handler("/", [&](const HttpRequest&, Responder r) { held = std::move(r); });
  server.start();
  {
    HttpClient client(ctx, {});
    client.request("GET", server.base_url() + "/", {}, "", "", [](Result) {});
    ASSERT_TRUE(run_until([&] { return held.has_value(); }));
  }  // the client and its connection go away
  run_for(100);
  (*held)(HttpResponse::error(200, "nobody listens"));
  // The write fails, the message finishes, nothing is left pending.
  ASSERT_TRUE(run_until([&] { return server.pending_count() == 0; }));
  // The server still serves others.
  server.add_handler("/ok", echo);
  HttpClient other(ctx, {});
  EXPECT_EQ(fetch(other, "GET", server.base_url() + "/ok").status, 200);
}

TEST_F(HttpTest, ConnectTimeoutCoversTheTlsHandshake) {
  // A listener that never accepts: TCP completes in the kernel backlog, the
  // TLS handshake never does.
  GError* err = nullptr;
  GSocketListener* listener = g_socket_listener_new();
  GInetAddress* lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress* addr = g_inet_socket_address_new(lo, 0);
  GSocketAddress* bound = nullptr;
  ASSERT_TRUE(g_socket_listener_add_address(listener, addr, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, nullptr, &bound, &err))
      << (err ? err->message : "");
  unsigned port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  HttpClient::Options o;
  o.connect_timeout_s = 1;
  o.timeout_s = 10;
  o.tls_insecure = true;
  HttpClient client(ctx, o);
  double t0 = now_s();
  Result r = fetch(client, "POST", "https://127.0.0.1:" + std::to_string(port) + "/whip", {},
                   "application/sdp", "x");
  double took = now_s() - t0;
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("could not connect within 1 s"), std::string::npos) << r.error;
  EXPECT_GT(took, 0.9);
  EXPECT_LT(took, 5.0);
  g_socket_listener_close(listener);
  g_object_unref(listener);
  g_object_unref(bound);
  g_object_unref(addr);
  g_object_unref(lo);
}

// libsoup 3.2 never closes a keep-alive connection that the client closes
// while idle: one socket in CLOSE-WAIT per client, until the fd table is full.
TEST_F(HttpTest, KeepAliveClientsThatLeaveLeaveNoSocketBehind) {
  HttpServer server(ctx, local());
  server.add_handler("/echo", echo);
  server.start();
  run_for(50);
  size_t baseline = open_fds();
  std::atomic<int> answered{0}, closed_by_us{0};
  std::thread clients([&] {
    for (int i = 0; i < 300; i++) {
      RawClient c(server.port());
      // HTTP/1.1 asks for keep-alive; 404s and bodies alike.
      c.send_text(std::string("GET ") + (i % 3 ? "/echo" : "/nothing") +
                  " HTTP/1.1\r\nHost: x\r\n\r\n");
      std::string r = c.read_response();
      if (r.rfind("HTTP/1.1 ", 0) == 0) answered++;
      if (r.find("Connection: close") != std::string::npos) closed_by_us++;
    }
  });
  ASSERT_TRUE(run_until([&] { return answered + 0 == 300 || !clients.joinable(); }, 60000));
  clients.join();
  EXPECT_EQ(answered, 300);
  EXPECT_EQ(closed_by_us, 300);
  EXPECT_TRUE(run_until([&] { return open_fds() <= baseline + 2; }, 5000))
      << open_fds() << " fds open, " << baseline << " before";
  EXPECT_TRUE(run_until([&] { return server.connection_count() == 0; }, 2000))
      << server.connection_count();
}

// A client that connects and says nothing, stops half-way through its
// headers, or promises a body it never sends, is shut down after the
// timeout for that phase; the others are served meanwhile.
TEST_F(HttpTest, SlowAndPartialRequestsAreShutDownAfterTheirTimeout) {
  HttpServer::Options o = local();
  o.limits.request_ms = 400;
  o.limits.body_ms = 400;
  HttpServer server(ctx, o);
  server.add_handler("/echo", echo);
  server.start();
  struct Case {
    const char* name;
    std::string sent;
  };
  std::vector<Case> cases = {
      {"silent", ""},
      {"half headers", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le"},
      {"short body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789"},
  };
  std::atomic<int> done{0};
  std::vector<std::string> results(cases.size());
  std::vector<double> took(cases.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cases.size(); i++) {
    threads.emplace_back([&, i] {
      RawClient c(server.port());
      double t0 = now_s();
      c.send_text(cases[i].sent);
      results[i] = c.closed_by_server() ? "closed" : "still open";
      took[i] = now_s() - t0;
      done++;
    });
  }
  // Others are served while those wait.
  HttpClient client(ctx, {});
  EXPECT_EQ(fetch(client, "GET", server.base_url() + "/echo").status, 200);
  ASSERT_TRUE(run_until([&] { return done == int(cases.size()); }, 15000));
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < cases.size(); i++) {
    EXPECT_EQ(results[i], "closed") << cases[i].name;
    EXPECT_GT(took[i], 0.3) << cases[i].name;
    EXPECT_LT(took[i], 4.0) << cases[i].name;
  }
  EXPECT_TRUE(run_until([&] { return server.connection_count() == 0; }, 3000));
}

// Two different Content-Length values: 400 at once, not a wait for the
// larger one's bytes; the same value twice is fine.
TEST_F(HttpTest, ConflictingContentLengthsAre400AtOnce) {
  HttpServer server(ctx, local());
  server.add_handler("/echo", echo);
  server.start();
  std::string conflicting, same;
  double took = 0;
  std::atomic<bool> done{false};
  std::thread client([&] {
    RawClient a(server.port());
    double t0 = now_s();
    a.send_text("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Content-Length: 100\r\n\r\nhello");
    conflicting = a.read_response();
    took = now_s() - t0;
    RawClient b(server.port());
    b.send_text("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Content-Length: 5\r\n\r\nhello");
    same = b.read_response();
    done = true;
  });
  ASSERT_TRUE(run_until([&] { return done.load(); }, 15000));
  client.join();
  EXPECT_EQ(conflicting.rfind("HTTP/1.1 400 ", 0), 0u) << conflicting;
  EXPECT_NE(conflicting.find("conflicting Content-Length"), std::string::npos) << conflicting;
  EXPECT_NE(conflicting.find("Access-Control-Allow-Origin: *"), std::string::npos);
  EXPECT_LT(took, 2.0);
  EXPECT_EQ(same.rfind("HTTP/1.1 201 ", 0), 0u) << same;
}

// A masked client frame (payload < 64 KiB).
std::string ws_frame(bool fin, int opcode, const std::string& payload) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); i++) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// libsoup buffers the fragments of a message without a limit: a WebSocket
// that sends 256 KiB of a message that never ends is shut down (budget
// 64 KiB here), one that sends as much in complete messages is not.
TEST_F(HttpTest, NeverEndingWebSocketFragmentsAreCutOff) {
  HttpServer::Options o = local();
  o.limits.upgraded_pending_bytes = 64 * 1024;
  HttpServer server(ctx, o);
  std::vector<std::unique_ptr<WebSocket>> sockets;
  std::atomic<int> messages{0};
  server.add_websocket_handler("/ws", [&](std::unique_ptr<WebSocket> ws, const HttpRequest&) {
    WebSocket::Callbacks cbs;
    cbs.on_text = [&](std::string_view) { messages++; };
    ws->set_callbacks(std::move(cbs));
    sockets.push_back(std::move(ws));
  });
  server.start();
  const std::string upgrade =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  std::string chunk(16 * 1024, 'x');
  std::atomic<bool> done{false};
  std::string fragmenter, whole;
  std::thread client([&] {
    RawClient whole_messages(server.port(), 2), fragments(server.port(), 5);
    whole_messages.send_text(upgrade);
    fragments.send_text(upgrade);
    bool upgraded = whole_messages.read_response().rfind("HTTP/1.1 101", 0) == 0 &&
                    fragments.read_response().rfind("HTTP/1.1 101", 0) == 0;
    if (upgraded) {
      fragments.send_text(ws_frame(false, 1, chunk));
      for (int i = 0; i < 16; i++) {
        fragments.send_text(ws_frame(false, 0, chunk));
        whole_messages.send_text(ws_frame(true, 1, chunk));
        g_usleep(50000);
      }
    }
    fragmenter = !upgraded ? "not upgraded" : fragments.closed_by_server() ? "closed" : "open";
    whole = whole_messages.closed_by_server() ? "closed" : "open";  // times out: open
    done = true;
  });
  ASSERT_TRUE(run_until([&] { return done.load(); }, 30000));
  client.join();
  EXPECT_EQ(fragmenter, "closed");
  EXPECT_EQ(whole, "open");
  EXPECT_EQ(messages, 16);
}

TEST_F(HttpTest, ListenErrorsSayWhere) {
  HttpServer first(ctx, local());
  first.start();
  HttpServer::Options o = local();
  o.port = first.port();
  HttpServer second(ctx, o);
  try {
    second.start();
    ADD_FAILURE() << "start() must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "cannot listen on 127.0.0.1:" + std::to_string(first.port()) + ": ", 0),
              0u)
        << e.what();
  }
  HttpServer::Options bad = local();
  bad.address = "not-an-address";
  HttpServer third(ctx, bad);
  EXPECT_THROW(third.start(), std::runtime_error);
}

}  // namespace
}  // namespace rtcmesh::sig
