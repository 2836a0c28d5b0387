// WHIP/WHEP server semantics (signaling/http/resource_endpoint.h), driven with
// HttpRequest values and a fake Handler: no sockets.
#include "signaling/http/resource_endpoint.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "tests/unit/sdp_samples.h"

namespace rtcmesh::sig {
namespace {

using Answer = ResourceEndpoint::Answer;
using Offer = ResourceEndpoint::Offer;

struct FakeHandler : ResourceEndpoint::Handler {
  enum class Mode { kAnswer, kError, kDefer, kDrop, kThrow };
  Mode mode = Mode::kAnswer;
  Answer error{503, "no encoder available", ""};

  std::mutex mu;
  std::vector<Offer> offers;
  std::vector<std::function<void(Answer)>> deferred;
  struct Trickle {
    std::string id;
    std::vector<TrickleCandidate> candidates;
    bool end = false;
  };
  std::vector<Trickle> trickles;
  std::vector<std::string> deletes;

  void on_offer(const Offer& o, std::function<void(Answer)> reply) override {
    {
      std::lock_guard lock(mu);
      offers.push_back(o);
    }
    switch (mode) {
      case Mode::kAnswer:
        reply({201, "", test::answer_sdp()});
        break;
      case Mode::kError:
        reply(error);
        break;
      case Mode::kDefer:
        deferred.push_back(std::move(reply));
        break;
      case Mode::kDrop:
        break;
      case Mode::kThrow:
        throw std::runtime_error("pipeline exploded");
    }
  }
  void on_trickle(const std::string& id, const std::vector<TrickleCandidate>& c,
                  bool end) override {
    std::lock_guard lock(mu);
    trickles.push_back({id, c, end});
  }
  void on_delete(const std::string& id) override {
    std::lock_guard lock(mu);
    deletes.push_back(id);
  }
};

// Collects the (single) response of one handle() call.
struct Capture {
  std::shared_ptr<std::vector<HttpResponse>> got = std::make_shared<std::vector<HttpResponse>>();
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  Responder responder() {
    return [got = got, mu = mu](HttpResponse r) {
      std::lock_guard lock(*mu);
      got->push_back(std::move(r));
    };
  }
  size_t count() {
    std::lock_guard lock(*mu);
    return got->size();
  }
  HttpResponse only() {
    std::lock_guard lock(*mu);
    EXPECT_EQ(got->size(), 1u);
    return got->empty() ? HttpResponse{} : got->front();
  }
};

bool is_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string header(const HttpResponse& r, std::string_view name) {
  return r.headers.get(name).value_or("<none>");
}

void expect_cors(const HttpResponse& r, const std::string& origin = "*") {
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), origin) << r.status;
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "POST, PATCH, DELETE, OPTIONS");
  EXPECT_EQ(header(r, "Access-Control-Allow-Headers"),
            "Content-Type, Authorization, If-Match, ETag");
  EXPECT_EQ(header(r, "Access-Control-Expose-Headers"),
            "Location, ETag, Link, Accept-Patch, Access-Control-Allow-Methods");
}

// Error replies carry a short text reason.
void expect_error(const HttpResponse& r, int status, const std::string& reason) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.body.find(reason), std::string::npos)
      << "expected reason '" << reason << "' in '" << r.body << "'";
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  expect_cors(r);
}

class EndpointTest : public ::testing::Test {
 protected:
  ResourceEndpoint::Config config() {
    ResourceEndpoint::Config c;
    c.path = "/whip";
    c.token = "s3cret";
    c.ice_servers = {{"stun:stun.example.net:3478", "", ""},
                     {"turn:turn.example.net:3478?transport=udp", "u", "p"}};
    return c;
  }
  void make(ResourceEndpoint::Config c) { ep = std::make_unique<ResourceEndpoint>(c, handler); }

  HttpResponse send(std::string method, std::string path, std::string content_type = "",
                    std::string body = "", Headers extra = {}, bool auth = true) {
    HttpRequest req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.body = std::move(body);
    req.remote_address = "192.0.2.9";
    if (!content_type.empty()) req.headers.add("Content-Type", content_type);
    if (auth) req.headers.add("Authorization", "Bearer s3cret");
    for (const auto& [n, v] : extra.items()) req.headers.add(n, v);
    Capture cap;
    ep->handle(req, cap.responder());
    return cap.only();
  }
  HttpResponse post(std::string path = "/whip", std::string sdp = test::chromium_offer()) {
    return send("POST", std::move(path), "application/sdp", std::move(sdp));
  }
  HttpResponse patch(const std::string& location, const std::string& body, Headers extra = {}) {
    return send("PATCH", location, "application/trickle-ice-sdpfrag", body, extra);
  }

  FakeHandler handler;
  std::unique_ptr<ResourceEndpoint> ep;
};

const char* kFragment =
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n"
    "m=audio 9 RTP/AVP 0\r\n"
    "a=mid:1\r\n"
    "a=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\r\n"
    "a=candidate:2 0 udp 1686052607 [2001:db8::5] 61765 typ srflx raddr 0.0.0.0 rport 0\r\n"
    "a=end-of-candidates\r\n";

TEST_F(EndpointTest, Post201WithLocationEtagAcceptPatchLinkAndCrlfAnswer) {
  make(config());
  HttpResponse r = post();
  ASSERT_EQ(r.status, 201) << r.body;
  std::string loc = header(r, "Location");
  EXPECT_EQ(loc.rfind("/whip/", 0), 0u) << loc;
  EXPECT_EQ(loc.size(), 6u + 32u) << loc;
  EXPECT_TRUE(is_hex(loc.substr(6))) << loc;
  std::string etag = header(r, "ETag");
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
  EXPECT_TRUE(is_hex(std::string_view(etag).substr(1, etag.size() - 2))) << etag;
  EXPECT_EQ(header(r, "Accept-Patch"), "application/trickle-ice-sdpfrag");
  EXPECT_EQ(header(r, "Link"), link_header(config().ice_servers));
  EXPECT_EQ(r.content_type, "application/sdp");
  EXPECT_EQ(r.body.rfind("v=0\r\n", 0), 0u);
  for (size_t i = 0; i < r.body.size(); ++i) {
    if (r.body[i] == '\n') {
      ASSERT_TRUE(i > 0 && r.body[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  EXPECT_NE(r.body.find("a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host\r\n"),
            std::string::npos);
  expect_cors(r);

  ASSERT_EQ(handler.offers.size(), 1u);
  const Offer& o = handler.offers[0];
  EXPECT_EQ(loc, "/whip/" + o.id);
  EXPECT_EQ(o.id.size(), 32u);
  EXPECT_EQ(o.room, "");
  EXPECT_EQ(o.remote_address, "192.0.2.9");
  EXPECT_EQ(o.sdp, test::chromium_offer());
  ASSERT_EQ(o.summary.media.size(), 2u);
  EXPECT_EQ(o.summary.media[1].mid, "1");
  EXPECT_EQ(ep->session_count(), 1u);
}

TEST_F(EndpointTest, RoomAndPublisherInPathAndLocation) {
  make(config());
  HttpResponse r = post("/whip/room-1/alice.cam");
  ASSERT_EQ(r.status, 201);
  ASSERT_EQ(handler.offers.size(), 1u);
  EXPECT_EQ(handler.offers[0].room, "room-1");
  EXPECT_EQ(handler.offers[0].publisher, "alice.cam");
  EXPECT_EQ(header(r, "Location"), "/whip/room-1/alice.cam/" + handler.offers[0].id);

  r = post("/whip/room1/");  // trailing slash
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(handler.offers[1].room, "room1");
  EXPECT_EQ(header(r, "Location"), "/whip/room1/" + handler.offers[1].id);

  // Two offers never share an id.
  EXPECT_NE(handler.offers[0].id, handler.offers[1].id);
}

TEST_F(EndpointTest, BadPaths) {
  make(config());
  expect_error(post("/whip/bad%20room"), 400, "invalid room or publisher name 'bad%20room'");
  expect_error(post("/whip/" + std::string(65, 'a')), 400, "invalid room or publisher name");
  expect_error(post("/whip/a/b/c"), 404, "nothing is served at /whip/a/b/c");
  expect_error(post("/whipx"), 404, "nothing is served at /whipx");
  expect_error(post("/whip//x"), 404, "nothing is served");
  expect_error(post("/whip/a/b/c/d/e"), 404, "nothing is served");
  EXPECT_TRUE(handler.offers.empty());
}

TEST_F(EndpointTest, Token401) {
  make(config());
  HttpResponse r = send("POST", "/whip", "application/sdp", test::chromium_offer(), {}, false);
  expect_error(r, 401, "missing Authorization");
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer");
  expect_error(send("POST", "/whip", "application/sdp", test::chromium_offer(),
                    {{"Authorization", "Bearer wrong"}}, false),
               401, "invalid token");
  expect_error(send("POST", "/whip", "application/sdp", test::chromium_offer(),
                    {{"Authorization", "Bearer s3cret-and-more"}}, false),
               401, "invalid token");
  EXPECT_TRUE(handler.offers.empty());
  // The raw token as configured, and a lower-case scheme, are accepted.
  EXPECT_EQ(send("POST", "/whip", "application/sdp", test::chromium_offer(),
                 {{"Authorization", "s3cret"}}, false)
                .status,
            201);
  EXPECT_EQ(send("POST", "/whip", "application/sdp", test::chromium_offer(),
                 {{"Authorization", "bearer s3cret"}}, false)
                .status,
            201);
  // Open endpoint: no token needed.
  auto c = config();
  c.token.clear();
  make(c);
  EXPECT_EQ(send("POST", "/whip", "application/sdp", test::chromium_offer(), {}, false).status,
            201);
}

TEST_F(EndpointTest, TokenRequiredOnPatchAndDeleteNotOptions) {
  make(config());
  std::string loc = header(post(), "Location");
  expect_error(send("PATCH", loc, "application/trickle-ice-sdpfrag", kFragment, {}, false), 401,
               "missing Authorization");
  expect_error(send("DELETE", loc, "", "", {}, false), 401, "missing Authorization");
  EXPECT_EQ(ep->session_count(), 1u);
  EXPECT_TRUE(handler.trickles.empty());
  EXPECT_EQ(send("OPTIONS", "/whip", "", "", {}, false).status, 204);
  EXPECT_EQ(send("OPTIONS", loc, "", "", {}, false).status, 204);
}

// Signed tokens: 401 for the token itself, 403 for what it does not allow;
// the WHIP publisher is the token's sub; PATCH/DELETE need the session's room.
TEST_F(EndpointTest, SignedTokensRoomSubAndGrant) {
  const std::string secret = "resource-endpoint-test-secret-0123456789";
  auto c = config();
  c.token_secret = secret;
  c.grant = kGrantPublish;
  make(c);
  int64_t now = TokenVerifier::wall_clock();
  auto token = [&](const std::string& room, const std::string& sub, unsigned grants,
                   int64_t exp_in = 600) {
    return Headers{{"Authorization",
                    "Bearer " + issue_token("HS256", secret, room, sub, grants, now - 5,
                                            now + exp_in)}};
  };
  auto offer = [&](const std::string& path, Headers auth) {
    return send("POST", path, "application/sdp", test::chromium_offer(), std::move(auth), false);
  };
  expect_error(offer("/whip/a/cam", token("a", "cam", kGrantSubscribe)), 403,
               "token does not grant publish");
  expect_error(offer("/whip/b/cam", token("a", "cam", kGrantPublish)), 403,
               "token is for room 'a', not 'b'");
  expect_error(offer("/whip/a/other", token("a", "cam", kGrantPublish)), 403,
               "token is for peer 'cam', not 'other'");
  HttpResponse r = offer("/whip/a/cam", token("a", "cam", kGrantPublish, -3600));
  expect_error(r, 401, "token expired");
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer");
  EXPECT_TRUE(handler.offers.empty());
  EXPECT_EQ(ep->session_count(), 0u);
  // Good: the path's room, and the token's sub as publisher when the path has none.
  r = offer("/whip", token("a", "cam", kGrantPublish));
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(handler.offers.size(), 1u);
  EXPECT_EQ(handler.offers[0].room, "a");
  EXPECT_EQ(handler.offers[0].publisher, "cam");
  std::string loc = header(r, "Location");
  // DELETE with an expired token for the room is fine; another room's is not.
  expect_error(send("DELETE", loc, "", "", token("b", "cam", kGrantPublish), false), 403,
               "token is for room 'b', not 'a'");
  EXPECT_EQ(send("DELETE", loc, "", "", token("a", "x", 0, -3600), false).status, 200);
  // The static token still works beside.
  EXPECT_EQ(send("POST", "/whip/z/any", "application/sdp", test::chromium_offer()).status, 201);
}

TEST_F(EndpointTest, ContentType415AndParametersAllowed) {
  make(config());
  expect_error(send("POST", "/whip", "text/plain", test::chromium_offer()), 415,
               "expected Content-Type: application/sdp, got 'text/plain'");
  expect_error(send("POST", "/whip", "", test::chromium_offer()), 415, "got none");
  EXPECT_EQ(send("POST", "/whip", "Application/SDP; charset=utf-8", test::chromium_offer()).status,
            201);
}

TEST_F(EndpointTest, TooLarge413) {
  auto c = config();
  c.max_sdp = 1000;
  make(c);
  expect_error(post(), 413, "limit 1000");
  EXPECT_TRUE(handler.offers.empty());
}

TEST_F(EndpointTest, MalformedSdp400WithReason) {
  make(config());
  expect_error(post("/whip", "hello"), 400, "malformed SDP offer: SDP must start with v=0");
  expect_error(post("/whip", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"), 400,
               "no m= line");
  EXPECT_TRUE(handler.offers.empty());
  EXPECT_EQ(ep->session_count(), 0u);
}

TEST_F(EndpointTest, NoUsableCodec422NamesOfferedAndAccepted) {
  auto c = config();
  c.video_codecs = {"H264"};
  c.audio_codecs = {"PCMA"};
  make(c);
  // webrtcbin offer: video VP8, audio OPUS only.
  HttpResponse r = post("/whip", test::webrtcbin_offer());
  expect_error(r, 422, "no usable media");
  EXPECT_NE(r.body.find("video VP8"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("audio OPUS"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("accepted are video H264, audio PCMA"), std::string::npos) << r.body;
  // The Chromium offer has H264 in its (bundle-only) video section: fine.
  EXPECT_EQ(post().status, 201);
  // Lower-case configuration works too.
  c.video_codecs = {"vp8"};
  c.audio_codecs = {};
  make(c);
  EXPECT_EQ(post("/whip", test::webrtcbin_offer()).status, 201);
}

TEST_F(EndpointTest, WrongDirection422) {
  auto c = config();
  c.path = "/whep";
  c.accepted_direction = "recvonly";
  make(c);
  HttpResponse r = post("/whep", test::chromium_offer("sendonly"));
  expect_error(r, 422, "needs recvonly or sendrecv m-lines, the offer has sendonly");
  EXPECT_EQ(post("/whep", test::chromium_offer("recvonly")).status, 201);
  EXPECT_EQ(post("/whep", test::chromium_offer("sendrecv")).status, 201);

  c.path = "/whip";
  c.accepted_direction = "sendonly";
  make(c);
  expect_error(post("/whip", test::chromium_offer("recvonly")), 422,
               "needs sendonly or sendrecv m-lines");
  expect_error(post("/whip", test::chromium_offer("inactive")), 422,
               "no active audio or video m-line");
}

TEST_F(EndpointTest, MaxSessions503CountsPendingOffers) {
  auto c = config();
  c.max_sessions = 2;
  make(c);
  handler.mode = FakeHandler::Mode::kDefer;
  Capture first;
  HttpRequest req;
  req.method = "POST";
  req.path = "/whip";
  req.body = test::chromium_offer();
  req.headers.add("Content-Type", "application/sdp");
  req.headers.add("Authorization", "Bearer s3cret");
  ep->handle(req, first.responder());
  EXPECT_EQ(first.count(), 0u);  // waiting for the handler
  handler.mode = FakeHandler::Mode::kAnswer;
  ASSERT_EQ(post().status, 201);
  expect_error(post(), 503, "too many sessions (limit 2)");
  ASSERT_EQ(handler.deferred.size(), 1u);
  handler.deferred[0]({201, "", test::answer_sdp()});
  EXPECT_EQ(first.only().status, 201);
  EXPECT_EQ(ep->session_count(), 2u);
  expect_error(post(), 503, "too many sessions");
  // A session going away frees a slot.
  ep->remove(ep->session_ids()[0]);
  EXPECT_EQ(post().status, 201);
}

// Per client address: POSTs past the burst get 429 with Retry-After before
// anything else is looked at (the token too); a session past the address's
// cap gets 429 naming it; sessions that end (DELETE, remove, a refused
// offer) free their place.
TEST_F(EndpointTest, PerAddressLimits429WithRetryAfter) {
  auto c = config();
  AddressLimits::Clock::time_point now{std::chrono::seconds(100)};
  AddressLimits::Config lc;
  lc.rate = 1;
  lc.burst = 4;
  lc.max_sessions = 2;
  c.address_limits = std::make_shared<AddressLimits>(lc, [&now] { return now; });
  make(c);
  HttpResponse a = post(), b = post();
  ASSERT_EQ(a.status, 201) << a.body;
  ASSERT_EQ(b.status, 201) << b.body;
  HttpResponse r = post();
  expect_error(r, 429, "too many sessions from 192.0.2.9 (limit 2)");
  EXPECT_EQ(header(r, "Retry-After"), "10");
  EXPECT_EQ(handler.offers.size(), 2u);
  // The fourth request of the burst, with a wrong token: 401 (and a token).
  EXPECT_EQ(send("POST", "/whip", "application/sdp", test::chromium_offer(), {}, false).status,
            401);
  r = send("POST", "/whip", "application/sdp", "not even an SDP", {}, false);
  expect_error(r, 429, "too many requests from 192.0.2.9");
  EXPECT_EQ(header(r, "Retry-After"), "1");
  now += std::chrono::seconds(1);
  ASSERT_EQ(send("DELETE", header(a, "Location")).status, 200);  // not limited
  EXPECT_EQ(post().status, 201);
  now += std::chrono::seconds(1);
  ep->remove(ep->session_ids()[0]);
  handler.mode = FakeHandler::Mode::kError;
  now += std::chrono::seconds(1);
  EXPECT_EQ(post().status, 503);  // refused by the handler: no session held
  handler.mode = FakeHandler::Mode::kAnswer;
  now += std::chrono::seconds(1);
  EXPECT_EQ(post().status, 201);
  EXPECT_EQ(c.address_limits->sessions("192.0.2.9"), 2u);
  ep.reset();
  EXPECT_EQ(c.address_limits->sessions("192.0.2.9"), 0u);
}

TEST_F(EndpointTest, HandlerErrorRegistersNothing) {
  make(config());
  handler.mode = FakeHandler::Mode::kError;
  HttpResponse r = post();
  expect_error(r, 503, "no encoder available");
  ASSERT_EQ(handler.offers.size(), 1u);
  EXPECT_EQ(ep->session_count(), 0u);
  expect_error(patch("/whip/" + handler.offers[0].id, kFragment), 404, "unknown session");
  expect_error(send("DELETE", "/whip/" + handler.offers[0].id), 404, "unknown session");
  EXPECT_TRUE(handler.deletes.empty());

  handler.error = {422, "", ""};  // no reason: the status phrase
  expect_error(post(), 422, "Unprocessable");
  handler.error = {200, "", ""};  // not an error status: internal error
  expect_error(post(), 500, "handler answered status 200");
  handler.mode = FakeHandler::Mode::kThrow;
  expect_error(post(), 500, "pipeline exploded");
  EXPECT_EQ(ep->session_count(), 0u);
}

TEST_F(EndpointTest, DroppedOrEmptyAnswerIs500) {
  make(config());
  handler.mode = FakeHandler::Mode::kDrop;
  expect_error(post(), 500, "dropped unanswered");
  handler.mode = FakeHandler::Mode::kDefer;
  Capture cap;
  HttpRequest req{"POST", "/whip", "", {}, test::chromium_offer(), ""};
  req.headers.add("Content-Type", "application/sdp");
  req.headers.add("Authorization", "Bearer s3cret");
  ep->handle(req, cap.responder());
  handler.deferred[0]({201, "", "not an sdp"});
  expect_error(cap.only(), 500, "no SDP answer");
  EXPECT_EQ(ep->session_count(), 0u);
  // The handler is told the session it thought it created is gone.
  ASSERT_EQ(handler.deletes.size(), 1u);
  EXPECT_EQ(handler.deletes[0], handler.offers[1].id);
}

TEST_F(EndpointTest, ReplyFromAnotherThreadAndAfterEndpointDestroyed) {
  make(config());
  handler.mode = FakeHandler::Mode::kDefer;
  Capture cap;
  HttpRequest req{"POST", "/whip/r", "", {}, test::chromium_offer(), ""};
  req.headers.add("Content-Type", "application/sdp");
  req.headers.add("Authorization", "Bearer s3cret");
  ep->handle(req, cap.responder());
  auto reply = handler.deferred[0];
  std::thread([reply] { reply({201, "", test::answer_sdp()}); }).join();
  HttpResponse r = cap.only();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(header(r, "Location"), "/whip/r/" + handler.offers[0].id);
  EXPECT_EQ(ep->session_count(), 1u);

  Capture late;
  ep->handle(req, late.responder());
  auto reply2 = handler.deferred[1];
  ep.reset();
  reply2({201, "", test::answer_sdp()});
  expect_error(late.only(), 503, "endpoint stopped");
}

TEST_F(EndpointTest, Patch204MatchesCandidatesByMid) {
  make(config());
  HttpResponse created = post();
  std::string loc = header(created, "Location");
  HttpResponse r = patch(loc, kFragment, {{"If-Match", header(created, "ETag")}});
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  EXPECT_FALSE(r.headers.has("ETag"));  // RFC 9725: the session did not change
  expect_cors(r);
  ASSERT_EQ(handler.trickles.size(), 1u);
  const auto& t = handler.trickles[0];
  EXPECT_EQ(t.id, handler.offers[0].id);
  EXPECT_TRUE(t.end);
  ASSERT_EQ(t.candidates.size(), 2u);
  // "m=audio" in the fragment, but mid 1 is the offer's video section.
  EXPECT_EQ(t.candidates[0].mid, "1");
  EXPECT_EQ(t.candidates[0].mline_index, 1);
  EXPECT_EQ(t.candidates[0].candidate, "candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host");
  EXPECT_EQ(t.candidates[1].candidate,
            "candidate:2 1 udp 1686052607 2001:db8::5 61765 typ srflx raddr 0.0.0.0 rport 0");
}

TEST_F(EndpointTest, PatchIfMatchAndSloppyEtagHeader) {
  make(config());
  HttpResponse created = post();
  std::string loc = header(created, "Location"), etag = header(created, "ETag");
  expect_error(patch(loc, kFragment, {{"If-Match", "\"nope\""}}), 412, "does not match");
  expect_error(patch(loc, kFragment, {{"ETag", "\"nope\""}}), 412, "does not match");
  EXPECT_TRUE(handler.trickles.empty());
  EXPECT_EQ(patch(loc, kFragment, {{"If-Match", "*"}}).status, 204);
  EXPECT_EQ(patch(loc, kFragment, {{"ETag", etag}}).status, 204);
  expect_error(patch(loc, kFragment), 428, "needs If-Match");  // missing (RFC 9725)
  // Unquoted and weak forms of the right value are tolerated.
  EXPECT_EQ(patch(loc, kFragment, {{"If-Match", etag.substr(1, etag.size() - 2)}}).status, 204);
  EXPECT_EQ(patch(loc, kFragment, {{"If-Match", "W/" + etag}}).status, 204);
  EXPECT_EQ(handler.trickles.size(), 4u);
}

TEST_F(EndpointTest, PatchErrors) {
  make(config());
  HttpResponse created = post();
  std::string loc = header(created, "Location");
  Headers match{{"If-Match", header(created, "ETag")}};
  expect_error(send("PATCH", loc, "application/sdp", kFragment, match), 415,
               "expected Content-Type: application/trickle-ice-sdpfrag");
  expect_error(patch(loc, "a=candidate:1 1 udp\r\n", match), 400, "malformed trickle fragment");
  expect_error(patch(loc, "", match), 400, "empty trickle fragment");
  expect_error(patch(loc, "a=mid:9\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n", match), 400,
               "mid '9' is not in the offer");
  expect_error(patch(loc,
                     "a=ice-ufrag:NEW1\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
                     "m=audio 9 RTP/AVP 0\r\na=mid:0\r\n", match),
               422, "ICE restart is not supported");
  expect_error(patch(loc, std::string(70 * 1024, 'a'), match), 413, "too large");
  EXPECT_TRUE(handler.trickles.empty());
  EXPECT_EQ(ep->session_count(), 1u);
  // Still usable afterwards.
  EXPECT_EQ(patch(loc, kFragment, match).status, 204);
}

TEST_F(EndpointTest, SessionsAreIndependent) {
  make(config());
  HttpResponse a = post(), b = post("/whip/room");
  std::string la = header(a, "Location"), lb = header(b, "Location");
  std::string id_a = handler.offers[0].id, id_b = handler.offers[1].id;
  // B's ETag does not open A.
  expect_error(patch(la, kFragment, {{"If-Match", header(b, "ETag")}}), 412, "does not match");
  expect_error(patch(la, "garbage", {{"If-Match", header(a, "ETag")}}), 400, "malformed");
  // A's id under B's room path is not A.
  expect_error(patch("/whip/room/" + id_a, kFragment), 404, "unknown session");
  EXPECT_EQ(patch(lb, kFragment, {{"If-Match", header(b, "ETag")}}).status, 204);
  ASSERT_EQ(handler.trickles.size(), 1u);
  EXPECT_EQ(handler.trickles[0].id, id_b);
  EXPECT_EQ(send("DELETE", la).status, 200);
  EXPECT_EQ(ep->session_count(), 1u);
  EXPECT_EQ(ep->session_ids(), std::vector<std::string>{id_b});
  EXPECT_EQ(patch(lb, kFragment, {{"If-Match", header(b, "ETag")}}).status, 204);
}

TEST_F(EndpointTest, Delete200ThenGone) {
  make(config());
  HttpResponse created = post();
  std::string loc = header(created, "Location");
  Headers match{{"If-Match", header(created, "ETag")}};
  HttpResponse r = send("DELETE", loc);
  EXPECT_EQ(r.status, 200);
  expect_cors(r);
  ASSERT_EQ(handler.deletes.size(), 1u);
  EXPECT_EQ(handler.deletes[0], handler.offers[0].id);
  EXPECT_EQ(ep->session_count(), 0u);
  expect_error(send("DELETE", loc), 404, "unknown session resource");
  expect_error(patch(loc, kFragment), 404, "unknown session resource");
  EXPECT_EQ(handler.deletes.size(), 1u);
}

TEST_F(EndpointTest, RemovedByElementGives404) {
  make(config());
  HttpResponse created = post();
  std::string loc = header(created, "Location");
  Headers match{{"If-Match", header(created, "ETag")}};
  ep->remove(handler.offers[0].id);
  EXPECT_EQ(ep->session_count(), 0u);
  expect_error(patch(loc, kFragment, match), 404, "unknown session resource");
  expect_error(send("DELETE", loc), 404, "unknown session resource");
  EXPECT_TRUE(handler.deletes.empty());  // the element ended it, no callback back
}

TEST_F(EndpointTest, Options204WithLinksAndCorsPreflight) {
  auto c = config();
  c.path = "/whep";
  c.track_count = 3;
  make(c);
  HttpResponse r =
      send("OPTIONS", "/whep", "", "",
           {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}}, false);
  EXPECT_EQ(r.status, 204);
  // A CORS preflight gets no ICE servers (RFC 9725 4.6), a plain OPTIONS does.
  auto links = r.headers.get_all("Link");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0], "</whep>; rel=\"urn:rtcmesh:tracks\"; count=3");
  links = send("OPTIONS", "/whep", "", "", {}, false).headers.get_all("Link");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(parse_link_header(links[0]), c.ice_servers);
  EXPECT_EQ(header(r, "Accept-Post"), "application/sdp");
  expect_cors(r, "https://app.example");
  EXPECT_EQ(header(r, "Vary"), "Origin");
  // Anywhere under the path.
  EXPECT_EQ(send("OPTIONS", "/whep/some/room/deep/er", "", "", {}, false).status, 204);
  // No ICE servers configured, no tracks: no Link at all.
  make(ResourceEndpoint::Config{});
  r = send("OPTIONS", "/whip", "", "", {}, false);
  EXPECT_EQ(r.status, 204);
  EXPECT_FALSE(r.headers.has("Link"));
  expect_cors(r);
}

TEST_F(EndpointTest, OtherMethods405WithAllow) {
  make(config());
  HttpResponse r = send("GET", "/whip");
  expect_error(r, 405, "GET is not allowed");
  EXPECT_EQ(header(r, "Allow"), "POST, OPTIONS");
  expect_error(send("PATCH", "/whip", "application/trickle-ice-sdpfrag", kFragment), 405,
               "not allowed");
  std::string loc = header(post(), "Location");
  r = send("PUT", loc);
  expect_error(r, 405, "PUT is not allowed on a session resource");
  EXPECT_EQ(header(r, "Allow"), "PATCH, DELETE, OPTIONS");
  r = send("GET", loc);
  EXPECT_EQ(r.status, 405);
  // A POST to a session is not a new session in a room named after it.
  r = post(loc);
  expect_error(r, 405, "POST is not allowed on a session resource");
  EXPECT_EQ(ep->session_count(), 1u);
  EXPECT_EQ(handler.offers.size(), 1u);
  // PATCH and DELETE on an endpoint (not a session id) are 405, not 404.
  for (const char* m : {"PATCH", "DELETE"}) {
    r = send(m, "/whip/room/cam", "application/trickle-ice-sdpfrag", kFragment);
    expect_error(r, 405, "not allowed here");
    EXPECT_EQ(header(r, "Allow"), "POST, OPTIONS");
  }
}

TEST_F(EndpointTest, CorsHeadersForTheServer) {
  Headers h = ResourceEndpoint::cors_headers();
  EXPECT_EQ(h.get("Access-Control-Allow-Origin").value_or(""), "*");
  EXPECT_EQ(h.get("Access-Control-Allow-Methods").value_or(""), "POST, PATCH, DELETE, OPTIONS");
  EXPECT_FALSE(h.has("Vary"));
}

}  // namespace
}  // namespace rtcmesh::sig
