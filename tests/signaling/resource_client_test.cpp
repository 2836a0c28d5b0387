// ResourceClient against a ResourceEndpoint served by HttpServer on loopback.
#include "signaling/http/resource_client.h"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>

#include "signaling/http/http_server.h"
#include "signaling/http/resource_endpoint.h"
#include "tests/signaling/loop.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh::sig {
namespace {

using Answer = ResourceEndpoint::Answer;
using Created = ResourceClient::Created;

struct Handler : ResourceEndpoint::Handler {
  bool defer = false;
  std::optional<Answer> error;
  std::vector<ResourceEndpoint::Offer> offers;
  std::vector<std::function<void(Answer)>> deferred;
  std::vector<std::pair<std::vector<TrickleCandidate>, bool>> trickles;
  std::vector<std::string> deletes;

  void on_offer(const ResourceEndpoint::Offer& o, std::function<void(Answer)> reply) override {
    offers.push_back(o);
    if (defer)
      deferred.push_back(std::move(reply));
    else if (error)
      reply(*error);
    else
      reply({201, "", test::answer_sdp()});
  }
  void on_trickle(const std::string&, const std::vector<TrickleCandidate>& c, bool end) override {
    trickles.emplace_back(c, end);
  }
  void on_delete(const std::string& id) override { deletes.push_back(id); }
};

class ResourceClientTest : public test::LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    cfg.path = "/whip";
    cfg.token = "tok";
    cfg.track_count = 2;
    cfg.ice_servers = {{"stun:stun.example.net:3478", "", ""},
                       {"turn:turn.example.net:3478?transport=udp", "u", "p w"}};
    endpoint = std::make_unique<ResourceEndpoint>(cfg, handler);
    HttpServer::Options o;
    o.address = "127.0.0.1";
    o.extra_headers = ResourceEndpoint::cors_headers();
    server = std::make_unique<HttpServer>(ctx, o);
    // Records every request before the endpoint sees it.
    server->add_handler(cfg.path, [this](const HttpRequest& req, Responder respond) {
      requests.push_back(req);
      endpoint->handle(req, std::move(respond));
    });
    server->start();
  }
  void TearDown() override {
    server.reset();
    endpoint.reset();
    LoopTest::TearDown();
  }

  ResourceClient::Options client_options(const std::string& path = "/whip/room1") {
    ResourceClient::Options o;
    o.endpoint = server->base_url() + path;
    o.token = "tok";
    return o;
  }
  Created create(ResourceClient& client, const std::string& sdp = test::chromium_offer()) {
    std::optional<Created> got;
    client.create(sdp, [&](Created c) { got = std::move(c); });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }));
    return got.value_or(Created{});
  }
  std::vector<HttpRequest> requests_with(const std::string& method) {
    std::vector<HttpRequest> out;
    for (const auto& r : requests)
      if (r.method == method) out.push_back(r);
    return out;
  }

  ResourceEndpoint::Config cfg;
  Handler handler;
  std::unique_ptr<ResourceEndpoint> endpoint;
  std::unique_ptr<HttpServer> server;
  std::vector<HttpRequest> requests;
};

TEST_F(ResourceClientTest, OptionsGivesIceServersAndTrackCount) {
  ResourceClient client(ctx, client_options("/whip"));
  std::optional<int> status;
  std::vector<IceServer> servers;
  int tracks = -5;
  client.options([&](int s, std::vector<IceServer> v, int k) {
    status = s;
    servers = std::move(v);
    tracks = k;
  });
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  EXPECT_EQ(*status, 204);
  EXPECT_EQ(servers, cfg.ice_servers);
  EXPECT_EQ(tracks, 2);
}

TEST_F(ResourceClientTest, CreateTrickleDestroy) {
  ResourceClient client(ctx, client_options());
  Created c = create(client);
  ASSERT_TRUE(c.ok()) << c.status << " " << c.reason;
  EXPECT_EQ(c.status, 201);
  ASSERT_EQ(handler.offers.size(), 1u);
  const std::string id = handler.offers[0].id;
  EXPECT_EQ(c.location, server->base_url() + "/whip/room1/" + id);
  EXPECT_EQ(client.location(), c.location);
  EXPECT_FALSE(c.etag.empty());
  EXPECT_EQ(c.ice_servers, cfg.ice_servers);
  EXPECT_EQ(c.answer_sdp.rfind("v=0\r\n", 0), 0u);
  EXPECT_EQ(handler.offers[0].room, "room1");
  auto posts = requests_with("POST");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].headers.get("Authorization").value_or(""), "Bearer tok");
  EXPECT_EQ(posts[0].headers.get("Content-Type").value_or(""), "application/sdp");

  // Three calls within the batching window: one PATCH.
  client.trickle({{"0", 0, "candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host"}}, false);
  client.trickle({{"", 1, "candidate:2 1 udp 2122260223 192.0.2.1 61766 typ host"}}, false);
  client.trickle({}, true);
  ASSERT_TRUE(run_until([&] { return !handler.trickles.empty(); }));
  run_for(150);
  auto patches = requests_with("PATCH");
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(patches[0].path, "/whip/room1/" + id);
  EXPECT_EQ(patches[0].headers.get("If-Match").value_or(""), c.etag);
  EXPECT_EQ(patches[0].headers.get("Authorization").value_or(""), "Bearer tok");
  EXPECT_EQ(patches[0].headers.get("Content-Type").value_or(""), "application/trickle-ice-sdpfrag");
  EXPECT_NE(patches[0].body.find("a=ice-ufrag:EsAw\r\n"), std::string::npos) << patches[0].body;
  ASSERT_EQ(handler.trickles.size(), 1u);
  const auto& [cands, end] = handler.trickles[0];
  EXPECT_TRUE(end);
  ASSERT_EQ(cands.size(), 2u);
  EXPECT_EQ(cands[0].mid, "0");
  EXPECT_EQ(cands[0].mline_index, 0);
  EXPECT_EQ(cands[1].mid, "1");  // filled in from the offer's mids
  EXPECT_EQ(cands[1].mline_index, 1);
  EXPECT_EQ(cands[1].candidate, "candidate:2 1 udp 2122260223 192.0.2.1 61766 typ host");
  // After end-of-candidates nothing more is sent.
  client.trickle({{"0", 0, "candidate:9 1 udp 1 192.0.2.1 1 typ host"}}, false);
  run_for(150);
  EXPECT_EQ(requests_with("PATCH").size(), 1u);

  bool destroyed = false;
  client.destroy([&] { destroyed = true; });
  EXPECT_FALSE(destroyed);
  ASSERT_TRUE(run_until([&] { return destroyed; }));
  auto deletes = requests_with("DELETE");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0].path, "/whip/room1/" + id);
  EXPECT_EQ(deletes[0].headers.get("Authorization").value_or(""), "Bearer tok");
  EXPECT_EQ(handler.deletes, std::vector<std::string>{id});
  EXPECT_EQ(endpoint->session_count(), 0u);
}

TEST_F(ResourceClientTest, TrickleQueuedUntilTheResourceExists) {
  handler.defer = true;
  ResourceClient client(ctx, client_options());
  std::optional<Created> got;
  client.create(test::chromium_offer(), [&](Created c) { got = std::move(c); });
  client.trickle({{"0", 0, "candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host"}}, true);
  ASSERT_TRUE(run_until([&] { return handler.deferred.size() == 1; }));
  run_for(200);
  EXPECT_TRUE(requests_with("PATCH").empty());
  handler.deferred[0]({201, "", test::answer_sdp()});
  ASSERT_TRUE(run_until([&] { return !handler.trickles.empty(); }));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok());
  EXPECT_EQ(handler.trickles[0].first.size(), 1u);
  EXPECT_TRUE(handler.trickles[0].second);
}

TEST_F(ResourceClientTest, ClientErrorsAreNotRetryableServerErrorsAre) {
  auto o = client_options();
  o.token = "wrong";
  ResourceClient bad_token(ctx, o);
  Created c = create(bad_token);
  EXPECT_EQ(c.status, 401);
  EXPECT_EQ(c.reason, "invalid token");
  EXPECT_FALSE(c.ok());
  EXPECT_FALSE(c.retryable());

  ResourceClient bad_sdp(ctx, client_options());
  c = create(bad_sdp, "v=0\r\n");
  EXPECT_EQ(c.status, 400);
  EXPECT_NE(c.reason.find("malformed SDP offer"), std::string::npos) << c.reason;
  EXPECT_FALSE(c.retryable());

  handler.error = Answer{503, "encoder busy", ""};
  ResourceClient busy(ctx, client_options());
  c = create(busy);
  EXPECT_EQ(c.status, 503);
  EXPECT_EQ(c.reason, "encoder busy");
  EXPECT_TRUE(c.retryable());
  EXPECT_EQ(endpoint->session_count(), 0u);

  auto gone = client_options();
  unsigned port = server->port();
  server.reset();
  gone.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/whip";
  ResourceClient unreachable(ctx, gone);
  c = create(unreachable);
  EXPECT_EQ(c.status, 0);
  EXPECT_FALSE(c.reason.empty());
  EXPECT_TRUE(c.retryable());
}

TEST_F(ResourceClientTest, RedirectedPostAndRelativeLocation) {
  // A second server: 307 to the real endpoint, and a bare 201 with a relative
  // Location and no SDP type (body only), and a 200 without SDP.
  HttpServer::Options o;
  o.address = "127.0.0.1";
  HttpServer other(ctx, o);
  other.add_handler("/moved", [&](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 307;
    r.headers.add("Location", server->base_url() + "/whip/r2");
    respond(r);
  });
  other.add_handler("/relative", [](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 201;
    r.headers.add("Location", "../sessions/abc");
    r.headers.add("ETag", "\"e1\"");
    r.content_type = "application/octet-stream";
    r.body = test::answer_sdp();
    respond(r);
  });
  other.add_handler("/nosdp", [](const HttpRequest&, Responder respond) {
    HttpResponse r;
    r.status = 200;
    r.content_type = "text/html";
    r.body = "<html>hello</html>";
    respond(r);
  });
  other.start();

  auto opts = client_options();
  opts.endpoint = other.base_url() + "/moved";
  ResourceClient redirected(ctx, opts);
  Created c = create(redirected);
  ASSERT_TRUE(c.ok()) << c.reason;
  ASSERT_EQ(handler.offers.size(), 1u);
  EXPECT_EQ(handler.offers[0].room, "r2");
  EXPECT_EQ(c.location, server->base_url() + "/whip/r2/" + handler.offers[0].id);

  opts.endpoint = other.base_url() + "/relative/whip";
  ResourceClient relative(ctx, opts);
  c = create(relative);
  ASSERT_TRUE(c.ok()) << c.reason;
  EXPECT_EQ(c.location, other.base_url() + "/sessions/abc");
  EXPECT_EQ(c.etag, "\"e1\"");

  opts.endpoint = other.base_url() + "/nosdp";
  ResourceClient nosdp(ctx, opts);
  c = create(nosdp);
  EXPECT_EQ(c.status, 200);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.reason, "the 200 reply carries no SDP answer");
}

TEST_F(ResourceClientTest, DestroyWhileCreatingDeletesTheLateResource) {
  handler.defer = true;
  ResourceClient client(ctx, client_options());
  bool create_done = false, destroyed = false;
  client.create(test::chromium_offer(), [&](Created) { create_done = true; });
  ASSERT_TRUE(run_until([&] { return handler.deferred.size() == 1; }));
  client.destroy([&] { destroyed = true; });
  handler.deferred[0]({201, "", test::answer_sdp()});
  ASSERT_TRUE(run_until([&] { return destroyed; }));
  EXPECT_EQ(handler.deletes, std::vector<std::string>{handler.offers[0].id});
  EXPECT_EQ(endpoint->session_count(), 0u);
  EXPECT_FALSE(create_done);
}

TEST_F(ResourceClientTest, DestroyWithoutResourceAndWhenDeleteHangs) {
  {
    ResourceClient client(ctx, client_options());
    bool destroyed = false;
    client.destroy([&] { destroyed = true; });
    EXPECT_FALSE(destroyed);  // always asynchronous
    ASSERT_TRUE(run_until([&] { return destroyed; }));
    EXPECT_TRUE(requests_with("DELETE").empty());
  }
  // A server that never answers the DELETE: done after destroy_timeout_ms.
  HttpServer::Options so;
  so.address = "127.0.0.1";
  HttpServer slow(ctx, so);
  std::vector<Responder> held;
  slow.add_handler("/", [&](const HttpRequest& req, Responder respond) {
    if (req.method == "DELETE") {
      held.push_back(std::move(respond));
      return;
    }
    HttpResponse r;
    r.status = 201;
    r.headers.add("Location", "/res/1");
    r.content_type = "application/sdp";
    r.body = test::answer_sdp();
    respond(r);
  });
  slow.start();
  auto o = client_options();
  o.endpoint = slow.base_url() + "/whip";
  o.destroy_timeout_ms = 300;
  ResourceClient client(ctx, o);
  ASSERT_TRUE(create(client).ok());
  bool destroyed = false;
  double t0 = now_s();
  client.destroy([&] { destroyed = true; });
  ASSERT_TRUE(run_until([&] { return destroyed; }));
  EXPECT_GT(now_s() - t0, 0.25);
  EXPECT_EQ(held.size(), 1u);
}

}  // namespace
}  // namespace rtcmesh::sig
