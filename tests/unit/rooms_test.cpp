// RoomServer (signaling/rooms/rooms.h) driven with text frames and injected time:
// no sockets.
#include "signaling/rooms/rooms.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <utility>

#include "tests/unit/sdp_samples.h"

namespace rtcmesh::sig {
namespace {

using namespace std::chrono_literals;
using Time = RoomServer::Time;

// A RoomServer whose sends land in per-connection inboxes.
class Rooms {
 public:
  explicit Rooms(RoomServer::Config cfg = {})
      : server(std::move(cfg), [this](ConnId c, const std::string& text) {
          if (throw_on_send) throw std::runtime_error("transport exploded");
          inbox[c].push_back(text);
        }) {}

  // Sends one frame now.
  void send(ConnId c, const std::string& text) { server.on_message(c, text, now); }

  // A request; returns its response (and removes it from the inbox).
  Json call(ConnId c, const std::string& method, Json params = Json::object()) {
    int64_t id = next_id++;
    send(c, rpc::request(id, method, std::move(params)));
    return take_response(c, Json(id));
  }
  Json take_response(ConnId c, const Json& id) {
    auto& box = inbox[c];
    for (auto it = box.begin(); it != box.end(); ++it) {
      auto j = Json::parse(*it);
      if (j && j->is_object() && j->find("id") && *j->find("id") == id) {
        box.erase(it);
        return *j;
      }
    }
    ADD_FAILURE() << "no response with id " << id.dump() << " for connection " << c;
    return Json();
  }
  // Error code of a response (0 for a result).
  static int code(const Json& response) {
    const Json* e = response.find("error");
    return e ? static_cast<int>(e->find("code")->as_int()) : 0;
  }
  static const Json& result(const Json& response) {
    static const Json none;
    const Json* r = response.find("result");
    EXPECT_TRUE(r) << response.dump();
    return r ? *r : none;
  }

  Json join(ConnId c, const std::string& room, const std::string& peer = "") {
    Json p = Json::object({{"room", room}});
    if (!peer.empty()) p.set("peer", peer);
    Json r = call(c, "join", std::move(p));
    EXPECT_EQ(code(r), 0) << r.dump();
    return r;
  }

  // Every frame received by c since the last take, parsed; clears the inbox.
  std::vector<Json> take(ConnId c) {
    std::vector<Json> out;
    for (const std::string& t : inbox[c]) out.push_back(Json::parse(t).value_or(Json()));
    inbox[c].clear();
    return out;
  }
  // The notifications named `method` among them.
  std::vector<Json> notes(ConnId c, const std::string& method) {
    std::vector<Json> out;
    for (const Json& j : take(c))
      if (j.get_string("method") == method) out.push_back(*j.find("params"));
    return out;
  }
  bool quiet(ConnId c) { return inbox[c].empty(); }
  void clear() { inbox.clear(); }

  Time now = Time{} + 1000s;
  bool throw_on_send = false;
  int64_t next_id = 1;
  std::map<ConnId, std::vector<std::string>> inbox;
  RoomServer server;
};

std::vector<std::string> strings(const Json& array) {
  std::vector<std::string> out;
  for (const Json& e : array.as_array()) out.push_back(e.as_string());
  return out;
}

const std::string kSdp = test::webrtcbin_offer();
constexpr const char* kCandidate = "candidate:1 1 UDP 2122260223 192.168.1.2 50000 typ host";

Json offer_to(const std::string& to) {
  return Json::object({{"to", to}, {"sdp", kSdp}, {"negotiationId", 1}});
}
Json candidate_to(const std::string& to, const std::string& cand = kCandidate) {
  return Json::object({{"to", to}, {"candidate", cand}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}});
}

TEST(Rooms, JoinResultAndJoinOrder) {
  RoomServer::Config cfg;
  cfg.ice_servers = {{"stun:stun.example.org:3478", "", ""}, {"turn:t.example.org:3478", "u", "p"}};
  Rooms r(cfg);
  Json first = Rooms::result(r.join(1, "demo", "z"));
  EXPECT_EQ(first.get_string("room"), "demo");
  EXPECT_EQ(first.get_string("peer"), "z");
  EXPECT_EQ(first.get_string("mode"), "mesh");
  EXPECT_EQ(first.find("peers")->size(), 0u);
  EXPECT_EQ(first.find("publishers")->size(), 0u);
  EXPECT_EQ(first.find("iceServers")->dump(),
            R"([{"urls":["stun:stun.example.org:3478"]},)"
            R"({"urls":["turn:t.example.org:3478"],"username":"u","credential":"p"}])");

  Json second = Rooms::result(r.join(2, "demo", "a"));
  EXPECT_EQ(strings(*second.find("peers")), std::vector<std::string>{"z"});
  auto joined = r.notes(1, "peer-joined");
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].dump(), R"({"room":"demo","peer":"a"})");
  EXPECT_TRUE(r.quiet(2));  // no notification about yourself

  // Join order, not name order.
  Json third = Rooms::result(r.join(3, "demo", "m"));
  EXPECT_EQ(strings(*third.find("peers")), (std::vector<std::string>{"z", "a"}));
  EXPECT_EQ(r.notes(1, "peer-joined").size(), 1u);
  EXPECT_EQ(r.notes(2, "peer-joined").size(), 1u);
  EXPECT_EQ(r.server.room("demo")->peers, (std::vector<std::string>{"z", "a", "m"}));
  EXPECT_EQ(r.server.peer_of(2), std::make_pair(std::string("demo"), std::string("a")));
  EXPECT_EQ(r.server.peer_of(99), std::nullopt);
}

TEST(Rooms, RandomPeerIdsWhenUnset) {
  Rooms r;
  std::string a = Rooms::result(r.join(1, "x")).get_string("peer").value_or("");
  std::string b = Rooms::result(r.join(2, "x")).get_string("peer").value_or("");
  EXPECT_EQ(a.size(), 16u);
  EXPECT_TRUE(valid_peer_id(a));
  EXPECT_NE(a, b);
}

TEST(Rooms, NamesAreValidated) {
  Rooms r;
  for (Json room :
       {Json(""), Json("has space"), Json(std::string(65, 'a')), Json("a/b"), Json(3), Json()}) {
    Json resp = r.call(1, "join", Json::object({{"room", room}}));
    EXPECT_EQ(Rooms::code(resp), rpc::kInvalidParams) << room.dump();
  }
  for (Json peer : {Json(""), Json("é"), Json(std::string(65, 'p')), Json(true)}) {
    Json resp = r.call(1, "join", Json::object({{"room", "ok"}, {"peer", peer}}));
    EXPECT_EQ(Rooms::code(resp), rpc::kInvalidParams) << peer.dump();
  }
  EXPECT_EQ(Rooms::code(r.call(1, "join", Json())), rpc::kInvalidParams);  // no params
  EXPECT_EQ(Rooms::code(r.call(1, "join", Json::array().push("ok"))), rpc::kInvalidParams);
  EXPECT_TRUE(r.server.rooms().empty());
  EXPECT_TRUE(valid_room_name(std::string(64, 'a')));
  EXPECT_TRUE(valid_peer_id("A-z_0.9~"));
}

TEST(Rooms, LaterJoinerOffersEarlierAnswers) {
  Rooms r;
  r.join(1, "room", "early");
  r.join(2, "room", "late");
  r.clear();

  // The late joiner offers.
  EXPECT_EQ(Rooms::code(r.call(2, "offer", offer_to("early"))), 0);
  auto offers = r.notes(1, "offer");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].get_string("from"), "late");
  EXPECT_EQ(offers[0].get_string("sdp"), kSdp);
  EXPECT_EQ(offers[0].find("negotiationId")->as_int(), 1);
  EXPECT_EQ(offers[0].find("to"), nullptr);

  // The early one may not offer to the late one (no glare).
  Json glare = r.call(1, "offer", offer_to("late"));
  EXPECT_EQ(Rooms::code(glare), rpc::kInvalidParams);
  EXPECT_EQ(glare.find("error")->find("data")->get_string("offerer"), "late");
  EXPECT_TRUE(r.quiet(2));

  // Answers go the other way.
  Json answer = Json::object({{"to", "late"}, {"sdp", kSdp}, {"negotiationId", "n1"}});
  EXPECT_EQ(Rooms::code(r.call(1, "answer", answer)), 0);
  auto answers = r.notes(2, "answer");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].get_string("from"), "early");
  EXPECT_EQ(answers[0].get_string("negotiationId"), "n1");
  Json wrong = Json::object({{"to", "early"}, {"sdp", kSdp}});
  EXPECT_EQ(Rooms::code(r.call(2, "answer", wrong)), rpc::kInvalidParams);
  EXPECT_TRUE(r.quiet(1));

  // Candidates flow both ways.
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", candidate_to("late"))), 0);
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", candidate_to("early"))), 0);
  auto c1 = r.notes(2, "candidate");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].dump(), std::string(R"({"from":"early","candidate":")") + kCandidate +
                              R"(","sdpMid":"0","sdpMLineIndex":0})");
  EXPECT_EQ(r.notes(1, "candidate").size(), 1u);
}

TEST(Rooms, LateJoinerConnectsToEveryone) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  Json res = Rooms::result(r.join(3, "room", "c"));
  for (const std::string& peer : strings(*res.find("peers")))
    EXPECT_EQ(Rooms::code(r.call(3, "offer", offer_to(peer))), 0) << peer;
  EXPECT_EQ(r.notes(1, "offer").size(), 1u);
  EXPECT_EQ(r.notes(2, "offer").size(), 1u);
  // Neither earlier peer may offer to c; both answer.
  EXPECT_EQ(Rooms::code(r.call(1, "offer", offer_to("c"))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "answer", offer_to("c"))), 0);
  EXPECT_EQ(Rooms::code(r.call(2, "answer", offer_to("c"))), 0);
  EXPECT_EQ(r.notes(3, "answer").size(), 2u);
}

TEST(Rooms, RelayStaysInsideTheRoomAndNeedsAPeer) {
  Rooms r;
  r.join(1, "one", "a");
  r.join(2, "one", "b");
  r.join(3, "two", "x");
  r.clear();
  // x exists, but in another room.
  Json resp = r.call(2, "offer", offer_to("x"));
  EXPECT_EQ(Rooms::code(resp), rpc::kUnknownPeer);
  EXPECT_EQ(resp.find("error")->find("data")->get_string("peer"), "x");
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", candidate_to("nobody"))), rpc::kUnknownPeer);
  EXPECT_EQ(Rooms::code(r.call(2, "offer", offer_to("b"))), rpc::kInvalidParams);  // yourself
  EXPECT_EQ(Rooms::code(r.call(2, "offer", Json::object({{"sdp", kSdp}}))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(4, "offer", offer_to("a"))), rpc::kNotJoined);
  EXPECT_TRUE(r.quiet(1));
  EXPECT_TRUE(r.quiet(3));
}

TEST(Rooms, RelayedContentIsChecked) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  for (Json params : {Json::object({{"to", "a"}}), Json::object({{"to", "a"}, {"sdp", 5}}),
                      Json::object({{"to", "a"}, {"sdp", "not sdp"}}),
                      Json::object({{"to", "a"}, {"sdp", kSdp}, {"negotiationId", 1.5}})})
    EXPECT_EQ(Rooms::code(r.call(2, "offer", params)), rpc::kInvalidParams) << params.dump();
  // A candidate needs sdpMid or sdpMLineIndex and must read as one.
  EXPECT_EQ(
      Rooms::code(r.call(2, "candidate", Json::object({{"to", "a"}, {"candidate", kCandidate}}))),
      rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", candidate_to("a", "candidate:garbage"))),
            rpc::kInvalidParams);
  Json neg = candidate_to("a");
  neg.set("sdpMLineIndex", -1);
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", neg)), rpc::kInvalidParams);
  EXPECT_TRUE(r.quiet(1));

  // Sloppy but readable: normalised (component 0 → 1, "a=" dropped).
  EXPECT_EQ(Rooms::code(r.call(
                2, "candidate",
                candidate_to("a", "a=candidate:1 0 UDP 2122260223 192.168.1.2 50000 typ host"))),
            0);
  // End of candidates: empty, nothing else needed.
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", Json::object({{"to", "a"}, {"candidate", ""}}))), 0);
  auto got = r.notes(1, "candidate");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].get_string("candidate"), kCandidate);
  EXPECT_EQ(got[1].dump(), R"({"from":"b","candidate":""})");
}

TEST(Rooms, LeaveTellsTheRoomAndEmptyRoomsGo) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  EXPECT_EQ(Rooms::result(r.call(1, "leave")).dump(), "{}");
  auto left = r.notes(2, "peer-left");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].dump(), R"({"room":"room","peer":"a","reason":"left"})");
  EXPECT_EQ(Rooms::code(r.call(1, "leave")), rpc::kNotJoined);
  EXPECT_EQ(Rooms::code(r.call(1, "offer", offer_to("b"))), rpc::kNotJoined);
  // Relay to a peer that left.
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", candidate_to("a"))), rpc::kUnknownPeer);
  // Same connection, same id, again (now the later joiner).
  r.join(1, "room", "a");
  EXPECT_EQ(Rooms::code(r.call(1, "offer", offer_to("b"))), 0);
  r.call(1, "leave");
  r.call(2, "leave");
  EXPECT_FALSE(r.server.room("room"));
  EXPECT_TRUE(r.server.rooms().empty());
}

TEST(Rooms, DisconnectTellsTheRoom) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.join(3, "room", "c");
  r.clear();
  r.server.on_closed(2);
  for (ConnId c : {1, 3}) {
    auto left = r.notes(c, "peer-left");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].dump(), R"({"room":"room","peer":"b","reason":"disconnected"})");
  }
  EXPECT_EQ(r.server.connection_count(), 2u);
  r.server.on_closed(2);   // twice
  r.server.on_closed(42);  // never seen
  EXPECT_TRUE(r.quiet(1));
  // The others go on.
  EXPECT_EQ(Rooms::code(r.call(3, "offer", offer_to("a"))), 0);
  EXPECT_EQ(r.notes(1, "offer").size(), 1u);
}

TEST(Rooms, SilentConnectionsTimeOut) {
  RoomServer::Config cfg;
  cfg.peer_timeout = 3s;
  Rooms r(cfg);
  Time t0 = r.now;
  r.server.on_open(1, t0);
  r.server.on_open(2, t0);
  r.server.on_open(3, t0);
  r.server.on_open(4, t0);  // never joins, never answers
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.join(3, "room", "c");
  r.clear();

  EXPECT_TRUE(r.server.tick(t0 + 2s).empty());
  r.server.on_alive(1, t0 + 2s);  // pong
  r.now = t0 + 2500ms;
  r.call(2, "ping");  // any frame counts
  EXPECT_TRUE(r.server.tick(t0 + 2999ms).empty());
  EXPECT_EQ(r.server.tick(t0 + 3s), (std::vector<ConnId>{3, 4}));
  for (ConnId c : {1, 2}) {
    auto left = r.notes(c, "peer-left");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].dump(), R"({"room":"room","peer":"c","reason":"timeout"})");
  }
  EXPECT_TRUE(r.quiet(3));
  EXPECT_EQ(r.server.room("room")->peers, (std::vector<std::string>{"a", "b"}));
  r.server.on_closed(3);  // the transport's close comes later: nothing more
  EXPECT_TRUE(r.quiet(1));
  EXPECT_EQ(r.server.tick(t0 + 5s), (std::vector<ConnId>{1}));
  EXPECT_EQ(r.server.tick(t0 + 5500ms), (std::vector<ConnId>{2}));
  EXPECT_FALSE(r.server.room("room"));
  EXPECT_EQ(r.server.connection_count(), 0u);
  // Time never runs backwards for a connection.
  r.server.on_open(5, t0 + 10s);
  r.server.on_alive(5, t0);
  EXPECT_TRUE(r.server.tick(t0 + 12s).empty());
}

TEST(Rooms, Token) {
  RoomServer::Config cfg;
  cfg.token = "s3cret";
  Rooms r(cfg);
  EXPECT_EQ(Rooms::code(r.call(1, "join", Json::object({{"room", "x"}}))), rpc::kUnauthorized);
  Json wrong = r.call(1, "join", Json::object({{"room", "x"}, {"token", "s3creT"}}));
  EXPECT_EQ(Rooms::code(wrong), rpc::kUnauthorized);
  EXPECT_EQ(wrong.find("error")->get_string("message"), "invalid token");  // as WHIP/WHEP say it
  EXPECT_EQ(Rooms::code(r.call(1, "join", Json::object({{"room", "x"}, {"token", "s3cret-"}}))),
            rpc::kUnauthorized);
  EXPECT_EQ(Rooms::code(r.call(1, "list")), rpc::kUnauthorized);
  EXPECT_TRUE(r.server.rooms().empty());
  EXPECT_EQ(Rooms::code(r.call(1, "join", Json::object({{"room", "x"}, {"token", "s3cret"}}))), 0);
  EXPECT_EQ(Rooms::code(r.call(1, "list")), 0);  // the connection is authorised now
  EXPECT_EQ(Rooms::code(r.call(2, "list", Json::object({{"token", "s3cret"}}))), 0);
  // The transport checked it (Authorization header on the upgrade).
  r.server.on_open(3, r.now, true);
  EXPECT_EQ(Rooms::code(r.call(3, "join", Json::object({{"room", "x"}}))), 0);
}

TEST(Rooms, PeerAndRoomLimits) {
  RoomServer::Config cfg;
  cfg.max_peers_per_room = 2;
  cfg.max_rooms = 2;
  Rooms r(cfg);
  r.join(1, "a", "p1");
  r.join(2, "a", "p2");
  Json full = r.call(3, "join", Json::object({{"room", "a"}}));
  EXPECT_EQ(Rooms::code(full), rpc::kRoomFull);
  EXPECT_EQ(full.find("error")->find("data")->find("limit")->as_int(), 2);
  r.join(3, "b", "p3");
  Json server_full = r.call(4, "join", Json::object({{"room", "c"}}));
  EXPECT_EQ(Rooms::code(server_full), rpc::kRoomFull);
  EXPECT_NE(server_full.find("error")->get_string("message")->find("rooms"), std::string::npos);
  r.join(4, "b", "p4");  // existing rooms still take peers
  EXPECT_EQ(r.server.rooms().size(), 2u);
  EXPECT_FALSE(r.server.create_room("c", RoomMode::kMesh));
  // A freed slot can be taken.
  r.call(1, "leave");
  r.join(5, "a", "p5");
}

TEST(Rooms, DuplicatePeerAndDoubleJoin) {
  Rooms r;
  r.join(1, "room", "a");
  EXPECT_EQ(Rooms::code(r.call(2, "join", Json::object({{"room", "room"}, {"peer", "a"}}))),
            rpc::kDuplicatePeer);
  // The same id in another room is fine.
  r.join(2, "other", "a");
  Json again = r.call(1, "join", Json::object({{"room", "third"}}));
  EXPECT_EQ(Rooms::code(again), rpc::kDuplicatePeer);
  EXPECT_EQ(again.find("error")->find("data")->get_string("room"), "room");
  EXPECT_FALSE(r.server.room("third"));
}

TEST(Rooms, CandidateLimitPerNegotiation) {
  RoomServer::Config cfg;
  cfg.max_candidates = 3;
  Rooms r(cfg);
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.join(3, "room", "c");
  r.clear();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Rooms::code(r.call(3, "candidate", candidate_to("a"))), 0);
  Json over = r.call(3, "candidate", candidate_to("a"));
  EXPECT_EQ(Rooms::code(over), rpc::kTooLarge);
  EXPECT_EQ(over.find("error")->find("data")->find("limit")->as_int(), 3);
  EXPECT_EQ(r.notes(1, "candidate").size(), 3u);
  // Counted per recipient.
  EXPECT_EQ(Rooms::code(r.call(3, "candidate", candidate_to("b"))), 0);
  // A new offer starts a new negotiation.
  EXPECT_EQ(Rooms::code(r.call(3, "offer", offer_to("a"))), 0);
  EXPECT_EQ(Rooms::code(r.call(3, "candidate", candidate_to("a"))), 0);
}

TEST(Rooms, MalformedInputGetsItsCodeAndTheRoomGoesOn) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  struct Case {
    std::string text;
    int code;
    Json id;
  };
  const Case cases[] = {
      {"{\"jsonrpc\":\"2.0\",", rpc::kParseError, Json()},
      {"not json at all", rpc::kParseError, Json()},
      {"\"a string\"", rpc::kInvalidRequest, Json()},
      {"[]", rpc::kInvalidRequest, Json()},
      {R"({"jsonrpc":"1.0","method":"list","id":5})", rpc::kInvalidRequest, Json(5)},
      {R"({"method":"list","id":6})", rpc::kInvalidRequest, Json(6)},
      {R"({"jsonrpc":"2.0","method":"nope","id":7})", rpc::kMethodNotFound, Json(7)},
      {R"({"jsonrpc":"2.0","method":"rpc.discover","id":8})", rpc::kMethodNotFound, Json(8)},
      {R"({"jsonrpc":"2.0","method":"join","params":["room"],"id":9})", rpc::kInvalidParams,
       Json(9)},
      {R"({"jsonrpc":"2.0","method":"offer","params":{"to":7},"id":"s"})", rpc::kInvalidParams,
       Json("s")},
  };
  for (const Case& c : cases) {
    r.send(2, c.text);
    auto got = r.take(2);
    ASSERT_EQ(got.size(), 1u) << c.text;
    EXPECT_EQ(Rooms::code(got[0]), c.code) << c.text;
    EXPECT_EQ(*got[0].find("id"), c.id) << c.text;
    EXPECT_FALSE(got[0].find("error")->get_string("message")->empty());
    EXPECT_EQ(got[0].get_string("jsonrpc"), "2.0");
  }
  EXPECT_TRUE(r.quiet(1));
  // Still joined, still relaying.
  EXPECT_EQ(Rooms::code(r.call(2, "offer", offer_to("a"))), 0);
  EXPECT_EQ(r.notes(1, "offer").size(), 1u);
}

TEST(Rooms, OversizedMessages) {
  RoomServer::Config cfg;
  cfg.max_message = 1000;
  Rooms r(cfg);
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  // A request too large: -32006 with its id, nothing relayed.
  Json big = offer_to("a");
  big.set("sdp", kSdp + std::string(2000, 'x'));
  r.send(2, rpc::request(77, "offer", big));
  auto got = r.take(2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Rooms::code(got[0]), rpc::kTooLarge);
  EXPECT_EQ(*got[0].find("id"), Json(77));
  EXPECT_EQ(got[0].find("error")->find("data")->find("limit")->as_int(), 1000);
  EXPECT_TRUE(r.quiet(1));
  // Garbage or a notification that large: -32006 with a null id.
  r.send(2, std::string(5000, '['));
  got = r.take(2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Rooms::code(got[0]), rpc::kTooLarge);
  EXPECT_TRUE(got[0].find("id")->is_null());
  r.send(2, rpc::notification("candidate", big));
  got = r.take(2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].find("id")->is_null());
  // Exactly the limit is fine.
  std::string pad = rpc::request(1, "ping", Json::object({{"p", ""}}));
  std::string exact =
      rpc::request(1, "ping", Json::object({{"p", std::string(1000 - pad.size(), 'y')}}));
  ASSERT_EQ(exact.size(), 1000u);
  r.send(2, exact);
  EXPECT_EQ(Rooms::code(r.take_response(2, Json(1))), 0);
  EXPECT_EQ(Rooms::code(r.call(2, "candidate", candidate_to("a"))), 0);
}

TEST(Rooms, NotificationsGetNoResponse) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  r.send(2, rpc::notification("list", Json()));
  r.send(2, rpc::notification("no-such-method", Json()));
  r.send(2, rpc::notification("offer", Json::object({{"to", "nobody"}, {"sdp", kSdp}})));
  r.send(2, rpc::notification("join", Json::object({{"room", "other"}})));  // fails: joined
  EXPECT_TRUE(r.quiet(2));
  // A relayed notification still reaches the peer.
  r.send(2, rpc::notification("candidate", candidate_to("a")));
  EXPECT_TRUE(r.quiet(2));
  EXPECT_EQ(r.notes(1, "candidate").size(), 1u);
  // Responses from a client are never answered.
  r.send(2, R"({"jsonrpc":"2.0","result":{},"id":3})");
  r.send(2, R"({"jsonrpc":"2.0","error":{"code":1,"message":"x"},"id":4})");
  EXPECT_TRUE(r.quiet(2));
}

TEST(Rooms, Batches) {
  RoomServer::Config cfg;
  cfg.max_batch = 5;
  Rooms r(cfg);
  r.join(1, "room", "a");
  r.clear();
  std::string batch =
      "[" + rpc::request(1, "join", Json::object({{"room", "room"}, {"peer", "b"}})) + "," +
      rpc::notification("candidate", candidate_to("a")) + "," + rpc::request(2, "list", Json()) +
      ",5," + rpc::request(3, "bogus", Json()) + "]";
  r.send(2, batch);
  auto got = r.take(2);
  ASSERT_EQ(got.size(), 1u);  // one array
  ASSERT_TRUE(got[0].is_array());
  const auto& replies = got[0].as_array();
  ASSERT_EQ(replies.size(), 4u);  // the notification gets none
  EXPECT_EQ(*replies[0].find("id"), Json(1));
  EXPECT_EQ(Rooms::result(replies[0]).get_string("peer"), "b");
  EXPECT_EQ(*replies[1].find("id"), Json(2));
  EXPECT_EQ(Rooms::code(replies[2]), rpc::kInvalidRequest);
  EXPECT_TRUE(replies[2].find("id")->is_null());
  EXPECT_EQ(Rooms::code(replies[3]), rpc::kMethodNotFound);
  // In order: the join in the batch, then the candidate relayed after it.
  auto seen = r.take(1);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].get_string("method"), "peer-joined");
  EXPECT_EQ(seen[1].get_string("method"), "candidate");

  // Only notifications: nothing back.
  r.send(2, "[" + rpc::notification("ping", Json()) + "]");
  EXPECT_TRUE(r.quiet(2));
  // Over the limit: one error, nothing done.
  std::string many = "[";
  for (int i = 0; i < 6; ++i) many += (i ? "," : "") + rpc::request(i, "leave", Json());
  r.send(2, many + "]");
  got = r.take(2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Rooms::code(got[0]), rpc::kInvalidRequest);
  EXPECT_TRUE(got[0].find("id")->is_null());
  EXPECT_TRUE(r.server.peer_of(2));
}

TEST(Rooms, ModesPerRoom) {
  RoomServer::Config cfg;
  cfg.default_mode = RoomMode::kMcu;
  Rooms r(cfg);
  EXPECT_TRUE(r.server.create_room("meshy", RoomMode::kMesh));
  EXPECT_FALSE(r.server.create_room("meshy", RoomMode::kMcu));
  EXPECT_FALSE(r.server.create_room("bad name", RoomMode::kMcu));
  EXPECT_EQ(Rooms::result(r.join(1, "meshy", "a")).get_string("mode"), "mesh");
  EXPECT_EQ(Rooms::result(r.join(2, "auto", "b")).get_string("mode"), "mcu");
  r.join(3, "auto", "c");

  // MCU rooms (no media here): no peer-to-peer relay, no publish.
  EXPECT_EQ(Rooms::code(r.call(3, "offer", offer_to("b"))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(3, "answer", Json::object({{"sdp", kSdp}}))), rpc::kMethodNotFound);
  EXPECT_EQ(Rooms::code(r.call(3, "publish", Json::object({{"sdp", kSdp}}))), rpc::kMethodNotFound);

  Json list = Rooms::result(r.call(1, "list"));
  EXPECT_EQ(list.dump(), R"({"rooms":[{"room":"auto","mode":"mcu","count":2},)"
                         R"({"room":"meshy","mode":"mesh","count":1}]})");
  Json one = Rooms::result(r.call(1, "list", Json::object({{"room", "auto"}})));
  EXPECT_EQ(one.dump(), R"({"rooms":[{"room":"auto","mode":"mcu","count":2,"peers":["b","c"]}]})");
  EXPECT_EQ(Rooms::result(r.call(1, "list", Json::object({{"room", "none"}}))).dump(),
            R"({"rooms":[]})");

  // A created room stays when empty; others go.
  r.call(1, "leave");
  r.call(2, "leave");
  r.call(3, "leave");
  ASSERT_TRUE(r.server.room("meshy"));
  EXPECT_TRUE(r.server.room("meshy")->persistent);
  EXPECT_FALSE(r.server.room("auto"));
  EXPECT_EQ(parse_room_mode("SFU"), RoomMode::kSfu);
  EXPECT_EQ(parse_room_mode("p2p"), std::nullopt);
  EXPECT_STREQ(to_string(RoomMode::kMcu), "mcu");
  EXPECT_EQ(parse_room_mode("process"), RoomMode::kProcess);
  EXPECT_STREQ(to_string(RoomMode::kProcess), "process");
}

TEST(Rooms, CloseRoom) {
  Rooms r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.join(3, "other", "c");
  r.clear();
  EXPECT_TRUE(r.server.close_room("room", "maintenance"));
  EXPECT_FALSE(r.server.close_room("room", "again"));
  for (ConnId c : {1, 2}) {
    auto errs = r.notes(c, "error");
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_EQ(errs[0].dump(),
              R"({"code":-32005,"message":"room closed: maintenance","data":{"room":"room"}})");
  }
  EXPECT_TRUE(r.quiet(3));
  EXPECT_EQ(Rooms::code(r.call(1, "leave")), rpc::kNotJoined);
  r.join(1, "room", "a");  // may come back
}

TEST(Rooms, PingAndAThrowingTransport) {
  Rooms r;
  EXPECT_EQ(Rooms::result(r.call(1, "ping")).dump(), "{}");
  r.join(1, "room", "a");
  r.throw_on_send = true;
  r.server.on_message(2, rpc::request(1, "join", Json::object({{"room", "room"}})), r.now);
  r.server.on_closed(2);
  r.throw_on_send = false;
  EXPECT_EQ(r.server.room("room")->peers, std::vector<std::string>{"a"});
}

// --- SFU rooms, with a fake RoomMedia ---

const SfuTrack kOpus{"0", "audio", "OPUS"};
const SfuTrack kVp8{"1", "video", "VP8"};

// Records every call as a line; replies at once, or later (run_later) when
// `sync` is false.
class FakeMedia : public RoomMedia {
 public:
  void publish(const std::string& room, const std::string& peer, const std::string& sdp,
               std::function<void(PublishResult)> done) override {
    calls.push_back("publish " + room + " " + peer + (sdp == kSdp ? "" : " (other sdp)"));
    auto it = tracks.find(peer);
    PublishResult result{"answer-for-" + peer,
                         it == tracks.end() ? std::vector<SfuTrack>{kOpus, kVp8} : it->second,
                         publish_error};
    reply([done, result] { done(result); });
  }
  void unpublish(const std::string& room, const std::string& peer) override {
    calls.push_back("unpublish " + room + " " + peer);
  }
  void offer(const std::string& room, const SfuOffer& offer,
             std::function<void(const std::string&, const std::string&)> done) override {
    std::string line = "offer " + room + " " + offer.subscriber + " n" +
                       std::to_string(offer.negotiation) + " s" + std::to_string(offer.session) +
                       (offer.rebuild ? " rebuild" : "");
    for (const SfuSlot& s : offer.slots)
      line += " " + (s.active() ? s.publisher + "." + s.track : "-");
    calls.push_back(line);
    std::string error = offer_error;
    std::string sdp = "offer-sdp-" + std::to_string(offer.negotiation);
    reply([done, error, sdp] { error.empty() ? done(sdp, "") : done("", error); });
  }
  void answer(const std::string& room, const std::string& peer, uint64_t negotiation,
              const std::string&, std::function<void(const std::string&)> done) override {
    calls.push_back("answer " + room + " " + peer + " n" + std::to_string(negotiation));
    std::string error = answer_error;
    reply([done, error] { done(error); });
  }
  void candidate(const std::string& room, const std::string& peer, const std::string& connection,
                 int mline, const std::string& mid, const std::string& candidate) override {
    calls.push_back("candidate " + room + " " + peer + " " + connection + " " +
                    std::to_string(mline) + " '" + mid + "' " + candidate);
  }
  void unsubscribe(const std::string& room, const std::string& peer) override {
    calls.push_back("unsubscribe " + room + " " + peer);
  }

  void run_later() {
    auto now = std::move(later);
    later.clear();
    for (auto& f : now) f();
  }
  std::vector<std::string> take_calls() { return std::exchange(calls, {}); }

  bool sync = true;
  std::map<std::string, std::vector<SfuTrack>> tracks;  // per publisher; default opus + VP8
  std::optional<rpc::Error> publish_error;
  std::string offer_error, answer_error;
  std::vector<std::string> calls;
  std::vector<std::function<void()>> later;

 private:
  void reply(std::function<void()> f) {
    if (sync)
      f();
    else
      later.push_back(std::move(f));
  }
};

// An SFU-hosting server (catch-all) with helpers for the SFU methods.
class Sfu : public Rooms {
 public:
  explicit Sfu(SfuRoom::Limits limits = {}, RoomServer::Config cfg = {}) : Rooms(std::move(cfg)) {
    server.attach_sfu("", &media, limits);
  }
  Json publish(ConnId c) { return call(c, "publish", Json::object({{"sdp", kSdp}})); }
  Json subscribe(ConnId c, Json params = Json::object()) {
    return call(c, "subscribe", std::move(params));
  }
  Json answer(ConnId c, int64_t negotiation) {
    return call(c, "answer", Json::object({{"sdp", kSdp}, {"negotiationId", negotiation}}));
  }
  // The only offer notification c got since the last take (fails otherwise).
  Json the_offer(ConnId c) {
    auto offers = notes(c, "offer");
    EXPECT_EQ(offers.size(), 1u);
    return offers.empty() ? Json() : offers[0];
  }
  // "mid=peer.track" of an offer notification's tracks.
  static std::string tracks(const Json& offer) {
    std::string out;
    for (const Json& t : offer.find("tracks")->as_array())
      out += (out.empty() ? "" : " ") + *t.get_string("mid") + "=" + *t.get_string("peer") + "." +
             *t.get_string("track");
    return out;
  }
  FakeMedia media;
};

TEST(RoomsSfu, PublishTellsOthersAndOffersToSubscribers) {
  Sfu r;
  Json joined = Rooms::result(r.join(1, "room", "s"));
  EXPECT_EQ(joined.get_string("mode"), "sfu");
  EXPECT_EQ(joined.find("publishers")->dump(), "[]");
  EXPECT_EQ(Rooms::result(r.subscribe(1)).dump(), "{}");
  EXPECT_TRUE(r.quiet(1));  // nothing to receive yet
  r.join(2, "room", "p");
  r.clear();

  Json published = r.publish(2);
  EXPECT_EQ(Rooms::result(published).dump(),
            R"({"sdp":"answer-for-p","tracks":[{"id":"0","kind":"audio","codec":"OPUS"},)"
            R"({"id":"1","kind":"video","codec":"VP8"}]})");
  EXPECT_TRUE(r.quiet(2));  // no notification about yourself, no offer of your own media
  auto frames = r.take(1);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].dump(),
            R"({"jsonrpc":"2.0","method":"publisher-joined","params":{"room":"room","peer":"p",)"
            R"("tracks":[{"id":"0","kind":"audio","codec":"OPUS"},)"
            R"({"id":"1","kind":"video","codec":"VP8"}]}})");
  EXPECT_EQ(
      frames[1].dump(),
      R"({"jsonrpc":"2.0","method":"offer","params":{"sdp":"offer-sdp-1","negotiationId":1,)"
      R"("session":1,"tracks":[{"mid":"0","peer":"p","track":"0","kind":"audio",)"
      R"("codec":"OPUS"},{"mid":"1","peer":"p","track":"1","kind":"video","codec":"VP8"}]}})");
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{"publish room p", "offer room s n1 s1 rebuild p.0 p.1"}));

  EXPECT_EQ(Rooms::result(r.answer(1, 1)).dump(), "{}");
  EXPECT_EQ(r.media.take_calls(), std::vector<std::string>{"answer room s n1"});
  EXPECT_TRUE(r.quiet(1));

  // A later joiner sees the publisher in its join result.
  Json late = Rooms::result(r.join(3, "room", "q"));
  EXPECT_EQ(late.find("publishers")->dump(),
            R"([{"peer":"p","tracks":[{"id":"0","kind":"audio","codec":"OPUS"},)"
            R"({"id":"1","kind":"video","codec":"VP8"}]}])");
  EXPECT_EQ(r.server.sfu_rooms().size(), 1u);
  EXPECT_EQ(r.server.sfu_rooms()[0].publishers, 1u);
  EXPECT_EQ(r.server.sfu_rooms()[0].subscribers, 1u);
  EXPECT_EQ(r.server.sfu_publishers("room")[0].tracks, (std::vector<SfuTrack>{kOpus, kVp8}));
}

TEST(RoomsSfu, ChangesDuringANegotiationMakeOneOfferAfterTheAnswer) {
  Sfu r;
  r.join(1, "room", "s");
  r.subscribe(1);
  for (ConnId c : {2, 3, 4}) r.join(c, "room", "p" + std::to_string(c));
  r.publish(2);
  EXPECT_EQ(r.the_offer(1).find("negotiationId")->as_int(), 1);
  r.publish(3);
  r.publish(4);
  auto frames = r.take(1);  // no offer while one is out
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].get_string("method"), "publisher-joined");
  EXPECT_EQ(frames[1].get_string("method"), "publisher-joined");
  r.media.take_calls();

  // Stale and unknown negotiations.
  Json wrong = r.answer(1, 7);
  EXPECT_EQ(Rooms::code(wrong), rpc::kInvalidParams);
  EXPECT_EQ(wrong.find("error")->find("data")->dump(), R"({"negotiationId":1})");
  EXPECT_EQ(Rooms::code(r.call(1, "answer", Json::object({{"sdp", kSdp}}))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "answer", Json::object({{"sdp", "v=0"}, {"negotiationId", 1}}))),
            rpc::kInvalidParams);
  EXPECT_TRUE(r.media.take_calls().empty());

  EXPECT_EQ(Rooms::code(r.answer(1, 1)), 0);
  Json next = r.the_offer(1);
  EXPECT_EQ(next.find("negotiationId")->as_int(), 2);
  EXPECT_EQ(next.find("session")->as_int(), 1);
  EXPECT_EQ(Sfu::tracks(next), "0=p2.0 1=p2.1 2=p3.0 3=p4.0 4=p3.1 5=p4.1");
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{"answer room s n1",
                                      "offer room s n2 s1 p2.0 p2.1 p3.0 p4.0 p3.1 p4.1"}));
  // The old negotiation again: stale.
  EXPECT_EQ(Rooms::code(r.answer(1, 1)), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.answer(1, 2)), 0);
  EXPECT_TRUE(r.quiet(1));
}

TEST(RoomsSfu, LeaveMakesSlotsInactiveAndAJoinReusesThem) {
  Sfu r;
  r.join(1, "room", "s");
  r.subscribe(1);
  r.join(2, "room", "a");
  r.join(3, "room", "b");
  r.publish(2);
  EXPECT_EQ(Sfu::tracks(r.the_offer(1)), "0=a.0 1=a.1");
  r.answer(1, 1);
  r.publish(3);
  EXPECT_EQ(Sfu::tracks(r.the_offer(1)), "0=a.0 1=a.1 2=b.0 3=b.1");
  r.answer(1, 2);
  r.media.take_calls();
  r.clear();

  r.call(2, "leave");
  auto frames = r.take(1);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].find("params")->dump(), R"({"room":"room","peer":"a","reason":"left"})");
  EXPECT_EQ(frames[0].get_string("method"), "publisher-left");
  EXPECT_EQ(frames[1].get_string("method"), "peer-left");
  EXPECT_EQ(frames[2].get_string("method"), "offer");
  EXPECT_EQ(Sfu::tracks(*frames[2].find("params")), "2=b.0 3=b.1");
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{"unpublish room a", "offer room s n3 s1 - - b.0 b.1"}));
  r.answer(1, 3);
  r.join(4, "room", "c");
  r.publish(4);
  EXPECT_EQ(Sfu::tracks(r.the_offer(1)), "0=c.0 1=c.1 2=b.0 3=b.1");

  // A dropped socket: reason "disconnected"; both connections end on the media.
  r.answer(1, 4);
  r.subscribe(4);
  r.media.take_calls();
  r.clear();
  r.server.on_closed(4);
  auto left = r.notes(3, "publisher-left");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].dump(), R"({"room":"room","peer":"c","reason":"disconnected"})");
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{"unpublish room c", "unsubscribe room c",
                                      "offer room s n6 s1 - - b.0 b.1"}));
}

TEST(RoomsSfu, MlineCapRebuildsTheConnection) {
  SfuRoom::Limits limits;
  limits.max_mlines = 2;
  Sfu r(limits);
  r.join(1, "room", "s");
  r.subscribe(1);
  r.join(2, "room", "a");
  r.join(3, "room", "b");
  r.media.tracks["b"] = {{"v", "video", "H264"}};
  r.publish(2);
  r.answer(1, 1);
  EXPECT_EQ(Rooms::result(r.call(2, "unpublish")).dump(), "{}");
  EXPECT_EQ(r.notes(1, "publisher-left")[0].dump(),
            R"({"room":"room","peer":"a","reason":"unpublished"})");
  r.clear();
  r.answer(1, 2);
  r.media.take_calls();
  r.publish(3);  // H264: no inactive slot fits, a third m-line passes the cap
  Json rebuilt = r.the_offer(1);
  EXPECT_EQ(rebuilt.find("session")->as_int(), 2);
  EXPECT_EQ(rebuilt.find("negotiationId")->as_int(), 3);
  EXPECT_EQ(Sfu::tracks(rebuilt), "0=b.v");
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{"publish room b", "offer room s n3 s2 rebuild b.v"}));
}

TEST(RoomsSfu, EveryoneGetsEveryoneElse) {
  Sfu r;
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.subscribe(1);
  r.publish(1);
  EXPECT_TRUE(r.notes(1, "offer").empty());  // only its own media exists
  r.subscribe(2);
  EXPECT_EQ(Sfu::tracks(r.the_offer(2)), "0=a.0 1=a.1");
  r.publish(2);
  EXPECT_EQ(Sfu::tracks(r.the_offer(1)), "0=b.0 1=b.1");
}

TEST(RoomsSfu, CodecMismatchIsAnErrorNotification) {
  Sfu r;
  r.join(1, "room", "s");
  EXPECT_EQ(Rooms::code(r.subscribe(1, Json::object({{"codecs", Json::array().push("vp8")}}))), 0);
  r.join(2, "room", "p");
  r.clear();
  r.publish(2);
  auto frames = r.take(1);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].get_string("method"), "publisher-joined");
  EXPECT_EQ(frames[1].get_string("method"), "error");
  Json err = *frames[1].find("params");
  EXPECT_EQ(err.find("code")->as_int(), rpc::kNoCommonCodec);
  EXPECT_EQ(err.find("data")->dump(),
            R"({"peer":"p","track":"0","codec":"OPUS","accepted":["VP8"]})");
  EXPECT_EQ(Sfu::tracks(*frames[2].find("params")), "0=p.1");
  for (Json bad : {Json("VP8"), Json::array().push(5), Json::array().push("")})
    EXPECT_EQ(Rooms::code(r.subscribe(2, Json::object({{"codecs", bad}}))), rpc::kInvalidParams)
        << bad.dump();
}

TEST(RoomsSfu, Limits) {
  SfuRoom::Limits limits;
  limits.max_publishers = 1;
  limits.max_subscribers = 1;
  Sfu r(limits);
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  EXPECT_EQ(Rooms::code(r.publish(1)), 0);
  EXPECT_EQ(Rooms::code(r.publish(1)), rpc::kDuplicatePeer);
  Json full = r.publish(2);
  EXPECT_EQ(Rooms::code(full), rpc::kRoomFull);
  EXPECT_EQ(full.find("error")->find("data")->dump(), R"({"limit":1})");
  EXPECT_EQ(Rooms::code(r.subscribe(2)), 0);
  EXPECT_EQ(Rooms::code(r.subscribe(2)), rpc::kDuplicatePeer);
  full = r.subscribe(1);
  EXPECT_EQ(Rooms::code(full), rpc::kRoomFull);
  EXPECT_EQ(full.find("error")->find("data")->dump(), R"({"limit":1})");
}

TEST(RoomsSfu, ErrorsOfTheSfuMethods) {
  Sfu r;
  EXPECT_EQ(Rooms::code(r.publish(1)), rpc::kNotJoined);
  EXPECT_EQ(Rooms::code(r.subscribe(1)), rpc::kNotJoined);
  r.join(1, "room", "a");
  r.join(2, "room", "b");
  r.clear();
  EXPECT_EQ(Rooms::code(r.call(1, "publish", Json::object({{"sdp", "v=0\r\n"}}))),
            rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "publish")), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "unpublish")), rpc::kNotJoined);
  EXPECT_EQ(Rooms::code(r.call(1, "unsubscribe")), rpc::kNotJoined);
  EXPECT_EQ(Rooms::code(r.answer(1, 1)), rpc::kNotJoined);  // not subscribed
  // No peer-to-peer relay, no client offers in an SFU room.
  EXPECT_EQ(Rooms::code(r.call(1, "answer", offer_to("b"))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", candidate_to("b"))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "offer", Json::object({{"sdp", kSdp}}))), rpc::kInvalidParams);
  EXPECT_TRUE(r.quiet(2));
  EXPECT_TRUE(r.media.take_calls().empty());

  // The media refuses the offer: its error as is, nothing left behind.
  r.media.publish_error = rpc::Error{rpc::kNoCommonCodec, "no codec", Json::object({{"x", 1}})};
  Json refused = r.publish(1);
  EXPECT_EQ(refused.find("error")->dump(),
            R"({"code":-32007,"message":"no codec","data":{"x":1}})");
  EXPECT_TRUE(r.server.sfu_publishers("room").empty());
  EXPECT_TRUE(r.quiet(2));
  r.media.publish_error.reset();
  EXPECT_EQ(Rooms::code(r.publish(1)), 0);
  r.media.take_calls();
}

TEST(RoomsSfu, Candidates) {
  RoomServer::Config cfg;
  cfg.max_candidates = 2;
  Sfu r({}, cfg);
  r.join(1, "room", "a");
  auto cand = [](const char* connection) {
    Json c = Json::object({{"candidate", kCandidate}, {"sdpMid", "1"}});
    if (connection) c.set("connection", connection);
    return c;
  };
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", cand(nullptr))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", cand("sideways"))), rpc::kInvalidParams);
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", cand("publish"))), rpc::kNotJoined);
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", cand("subscribe"))), rpc::kNotJoined);
  r.publish(1);
  r.media.take_calls();
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", cand("publish"))), 0);
  Json end = Json::object({{"candidate", ""}, {"connection", "publish"}});
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", end)), 0);
  Json over = r.call(1, "candidate", cand("publish"));
  EXPECT_EQ(Rooms::code(over), rpc::kTooLarge);
  EXPECT_EQ(over.find("error")->find("data")->dump(), R"({"limit":2})");
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{std::string("candidate room a publish -1 '1' ") + kCandidate,
                                      "candidate room a publish -1 '' "}));
  r.subscribe(1);
  Json indexed =
      Json::object({{"candidate", kCandidate}, {"sdpMLineIndex", 0}, {"connection", "subscribe"}});
  EXPECT_EQ(Rooms::code(r.call(1, "candidate", indexed)), 0);
  EXPECT_EQ(r.media.take_calls(),
            std::vector<std::string>{std::string("candidate room a subscribe 0 '' ") + kCandidate});
}

TEST(RoomsSfu, DeferredReplies) {
  Sfu r;
  r.media.sync = false;
  r.join(1, "room", "s");
  r.subscribe(1);
  r.join(2, "room", "p");
  r.clear();
  // In a batch: the other replies now, the publish reply later as its own frame.
  r.send(2, "[" + rpc::request(10, "publish", Json::object({{"sdp", kSdp}})) + "," +
                rpc::request(11, "ping", Json()) + "]");
  auto frames = r.take(2);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].dump(), R"([{"jsonrpc":"2.0","result":{},"id":11}])");
  EXPECT_TRUE(r.quiet(1));
  // Taken while the publish is pending.
  EXPECT_EQ(Rooms::code(r.publish(2)), rpc::kDuplicatePeer);
  r.media.run_later();
  frames = r.take(2);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(*frames[0].find("id"), Json(10));
  EXPECT_EQ(Rooms::result(frames[0]).get_string("sdp"), "answer-for-p");
  EXPECT_EQ(r.notes(1, "publisher-joined").size(), 1u);
  r.media.run_later();  // the offer
  uint64_t n = r.the_offer(1).find("negotiationId")->as_int();
  // The answer's reply waits for the media too.
  r.send(1, rpc::request(20, "answer", Json::object({{"sdp", kSdp}, {"negotiationId", n}})));
  EXPECT_TRUE(r.quiet(1));
  EXPECT_EQ(Rooms::code(r.answer(1, n)), rpc::kInvalidParams);  // already being applied
  r.media.run_later();
  EXPECT_EQ(Rooms::code(r.take_response(1, Json(20))), 0);

  // The socket goes before the media answers: no reply, nothing published.
  r.join(3, "room", "q");
  r.clear();
  r.media.take_calls();
  r.send(3, rpc::request(30, "publish", Json::object({{"sdp", kSdp}})));
  r.server.on_closed(3);
  EXPECT_EQ(r.media.take_calls(), (std::vector<std::string>{"publish room q", "unpublish room q"}));
  r.media.run_later();
  EXPECT_TRUE(r.quiet(3));
  EXPECT_TRUE(r.notes(1, "publisher-joined").empty());
  EXPECT_EQ(r.server.sfu_publishers("room").size(), 1u);
  // Unpublish while pending: the publish gets an error.
  r.send(2, rpc::request(40, "unpublish", Json()));
  EXPECT_EQ(Rooms::code(r.take_response(2, Json(40))), 0);
  r.join(4, "room", "x");
  r.send(4, rpc::request(41, "publish", Json::object({{"sdp", kSdp}})));
  EXPECT_EQ(Rooms::code(r.call(4, "unpublish")), 0);
  EXPECT_EQ(Rooms::code(r.take_response(4, Json(41))), rpc::kNotJoined);
  r.media.run_later();
  EXPECT_TRUE(r.quiet(4));
  EXPECT_TRUE(r.server.sfu_publishers("room").empty());
}

TEST(RoomsSfu, FailuresOnTheMediaSide) {
  Sfu r;
  r.join(1, "room", "s");
  r.join(2, "room", "p");
  r.subscribe(1);
  r.subscribe(2);
  r.publish(2);
  r.answer(1, 1);
  r.clear();
  r.media.take_calls();

  // A refused answer: -32602, and the tracks are offered again on a new
  // connection (audio first, as every first offer of a session).
  r.join(3, "room", "q");
  r.publish(3);
  uint64_t n = r.the_offer(1).find("negotiationId")->as_int();
  r.media.answer_error = "bad answer";
  EXPECT_EQ(Rooms::code(r.answer(1, n)), rpc::kInvalidParams);
  Json again = r.the_offer(1);
  EXPECT_GT(again.find("negotiationId")->as_int(), static_cast<int64_t>(n));
  EXPECT_EQ(Sfu::tracks(again), "0=p.0 1=q.0 2=p.1 3=q.1");
  EXPECT_EQ(again.find("session")->as_int(), 2);
  r.media.answer_error.clear();
  r.answer(1, again.find("negotiationId")->as_int());

  // The publish connection fails: publisher-left "failed", the publisher is told.
  r.clear();
  r.server.media_failed("room", "p", "publish", "ICE failed");
  auto left = r.notes(1, "publisher-left");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].dump(), R"({"room":"room","peer":"p","reason":"failed"})");
  auto told = r.notes(2, "error");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].dump(), R"({"code":-32603,"message":"publish connection failed: ICE failed",)"
                            R"("data":{"room":"room","connection":"publish"}})");
  EXPECT_EQ(Rooms::code(r.call(2, "unpublish")), rpc::kNotJoined);

  // The subscribe connection fails: the subscription ends.
  r.clear();
  r.server.media_failed("room", "s", "subscribe", "DTLS failed");
  auto ended = r.notes(1, "error");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].dump(), R"({"code":-32603,"message":"subscription ended: DTLS failed",)"
                             R"("data":{"room":"room","connection":"subscribe"}})");
  EXPECT_EQ(Rooms::code(r.call(1, "unsubscribe")), rpc::kNotJoined);
  EXPECT_EQ(Rooms::code(r.subscribe(1)), 0);  // may subscribe again
  EXPECT_EQ(r.the_offer(1).find("session")->as_int(), 1);

  // An offer the media cannot make: -32603 and the subscription ends.
  r.clear();
  r.media.take_calls();
  r.media.offer_error = "no transceiver";
  r.call(1, "unsubscribe");
  r.subscribe(1);
  auto failed = r.notes(1, "error");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].find("code")->as_int(), rpc::kInternalError);
  EXPECT_EQ(r.media.take_calls().back(), "unsubscribe room s");
  EXPECT_EQ(Rooms::code(r.call(1, "unsubscribe")), rpc::kNotJoined);
}

TEST(RoomsSfu, UnansweredOffersEndTheSubscription) {
  RoomServer::Config cfg;
  cfg.peer_timeout = 3s;
  Sfu r({}, cfg);
  r.join(1, "room", "s");
  r.join(2, "room", "p");
  r.subscribe(1);
  r.publish(2);
  r.clear();
  r.media.take_calls();
  r.server.on_alive(1, r.now + 2s);
  r.server.on_alive(2, r.now + 2s);
  EXPECT_TRUE(r.server.tick(r.now + 2s).empty());
  r.server.on_alive(1, r.now + 3s);
  r.server.on_alive(2, r.now + 3s);
  EXPECT_TRUE(r.server.tick(r.now + 3s).empty());  // the peers live; the offer is too old
  auto ended = r.notes(1, "error");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].find("code")->as_int(), rpc::kNotJoined);
  EXPECT_EQ(ended[0].get_string("message"),
            "subscription ended: no answer to negotiation 1 within 3000 ms");
  EXPECT_EQ(r.media.take_calls(), std::vector<std::string>{"unsubscribe room s"});
}

TEST(RoomsSfu, ExternalPublishers) {
  Sfu r;
  std::string why;
  EXPECT_TRUE(r.server.add_publisher("room", "cam", {kVp8}, &why)) << why;
  EXPECT_EQ(r.server.room("room")->peers.size(), 0u);  // the room lives for it
  Json joined = Rooms::result(r.join(1, "room", "s"));
  EXPECT_EQ(joined.find("publishers")->dump(),
            R"([{"peer":"cam","tracks":[{"id":"1","kind":"video","codec":"VP8"}]}])");
  r.subscribe(1);
  EXPECT_EQ(Sfu::tracks(r.the_offer(1)), "0=cam.1");
  r.answer(1, 1);

  EXPECT_FALSE(r.server.add_publisher("room", "cam", {kVp8}, &why));
  EXPECT_NE(why.find("already publishing"), std::string::npos) << why;
  EXPECT_FALSE(r.server.add_publisher("room", "s", {kVp8}, &why));  // a participant's id
  EXPECT_FALSE(r.server.add_publisher("bad room", "x", {kVp8}, &why));
  r.server.create_room("meshy", RoomMode::kMesh);
  EXPECT_FALSE(r.server.add_publisher("meshy", "x", {kVp8}, &why));
  EXPECT_NE(why.find("mesh"), std::string::npos) << why;

  // A publisher's id is taken for joining too.
  EXPECT_EQ(Rooms::code(r.call(2, "join", Json::object({{"room", "room"}, {"peer", "cam"}}))),
            rpc::kDuplicatePeer);

  r.clear();
  r.server.remove_publisher("room", "cam", "unpublished");
  auto frames = r.take(1);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].find("params")->dump(),
            R"({"room":"room","peer":"cam","reason":"unpublished"})");
  EXPECT_EQ(frames[0].get_string("method"), "publisher-left");
  EXPECT_EQ(frames[1].get_string("method"), "offer");
  EXPECT_EQ(Sfu::tracks(*frames[1].find("params")), "");  // its m-line stays, inactive
  r.call(1, "leave");
  EXPECT_FALSE(r.server.room("room"));  // no participant, no publisher: gone

  // Not hosted: no SFU attached.
  Rooms plain;
  EXPECT_FALSE(plain.server.add_publisher("room", "cam", {kVp8}, &why));
  EXPECT_NE(why.find("not hosted"), std::string::npos) << why;
  RoomServer::Config cfg;
  cfg.default_mode = RoomMode::kSfu;
  Rooms unhosted(cfg);
  Json refused = unhosted.call(1, "join", Json::object({{"room", "x"}}));
  EXPECT_EQ(Rooms::code(refused), rpc::kInvalidParams);
  EXPECT_EQ(refused.find("error")->get_string("message"), "join: room 'x' is not hosted here");
  // A publish in a mesh room.
  plain.join(1, "room", "a");
  EXPECT_EQ(Rooms::code(plain.call(1, "publish", Json::object({{"sdp", kSdp}}))),
            rpc::kMethodNotFound);
  EXPECT_EQ(Rooms::code(plain.call(1, "subscribe")), rpc::kMethodNotFound);
}

TEST(RoomsSfu, AttachByNameAndDetach) {
  Sfu r;  // catch-all
  FakeMedia named;
  r.server.attach_sfu("stage", &named, {});
  r.join(1, "stage", "a");
  r.join(2, "lobby", "b");
  r.publish(1);
  r.publish(2);
  EXPECT_EQ(named.take_calls(), std::vector<std::string>{"publish stage a"});
  EXPECT_EQ(r.media.take_calls(), std::vector<std::string>{"publish lobby b"});
  r.clear();

  r.server.detach_sfu("stage");
  auto closed = r.notes(1, "error");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].dump(), R"({"code":-32005,"message":"room closed: the SFU hosting it )"
                              R"(stopped","data":{"room":"stage"}})");
  EXPECT_TRUE(named.take_calls().empty());  // the media is going away: not called
  EXPECT_FALSE(r.server.room("stage"));
  EXPECT_EQ(Rooms::code(r.call(1, "leave")), rpc::kNotJoined);
  // Now the catch-all hosts "stage".
  r.join(1, "stage", "a");
  r.publish(1);
  EXPECT_EQ(r.media.take_calls(), std::vector<std::string>{"publish stage a"});
  EXPECT_TRUE(r.quiet(2));

  r.server.detach_sfu("");
  EXPECT_EQ(r.notes(1, "error").size(), 1u);
  EXPECT_EQ(r.notes(2, "error").size(), 1u);
  EXPECT_TRUE(r.server.sfu_rooms().empty());
  EXPECT_EQ(Rooms::result(r.join(1, "stage", "a")).get_string("mode"), "mesh");

  // close_room ends the participants' connections on the media.
  r.server.attach_sfu("", &r.media, {});
  r.join(3, "hall", "c");
  r.publish(3);
  r.subscribe(3);
  r.media.take_calls();
  EXPECT_TRUE(r.server.close_room("hall", "maintenance"));
  EXPECT_EQ(r.media.take_calls(),
            (std::vector<std::string>{"unpublish hall c", "unsubscribe hall c"}));
}

TEST(RoomsSfu, CallbacksAfterTheServerIsGone) {
  FakeMedia media;
  media.sync = false;
  {
    RoomServer server({}, [](ConnId, const std::string&) {});
    server.attach_sfu("", &media, {});
    server.on_message(1, rpc::request(1, "join", Json::object({{"room", "r"}})), Time{});
    server.on_message(1, rpc::request(2, "publish", Json::object({{"sdp", kSdp}})), Time{});
  }
  ASSERT_EQ(media.later.size(), 1u);
  media.run_later();  // must do nothing (a use after free shows under the sanitizers)
  EXPECT_EQ(media.calls.size(), 1u);
}

}  // namespace
}  // namespace rtcmesh::sig
