// RoomService (signaling/rooms/service.h) driven with typed calls: no JSON,
// no front end. A recording Delivery stands for the participants'
// connections, a scripted RoomMedia for rtcsfu.
#include "signaling/rooms/service.h"

#include <gtest/gtest.h>

#include <functional>
#include <utility>

#include "tests/unit/sdp_samples.h"

namespace rtcmesh::sig {
namespace {

using namespace std::chrono_literals;

struct Delivered {
  ConnId conn;
  msg::Note note;
};

class Recorder : public Delivery {
 public:
  void deliver(ConnId conn, const msg::Note& note) override { notes.push_back({conn, note}); }
  // The notes of type T that `conn` got since its last take (all of its
  // notes are dropped).
  template <typename T>
  std::vector<T> take(ConnId conn) {
    std::vector<T> out;
    std::vector<Delivered> others;
    for (Delivered& d : notes) {
      if (d.conn != conn)
        others.push_back(std::move(d));
      else if (const T* n = std::get_if<T>(&d.note))
        out.push_back(*n);
    }
    notes = std::move(others);
    return out;
  }
  std::vector<Delivered> notes;
};

// Answers publish/answer/offer only when told to (run()), like a media host
// whose work takes a while.
class SlowMedia : public RoomMedia {
 public:
  void publish(const std::string& room, const std::string& peer, const std::string&,
               std::function<void(PublishResult)> done) override {
    log.push_back("publish " + room + " " + peer);
    pending.push_back([done] { done({"answer", {{"0", "video", "VP8"}}, std::nullopt}); });
  }
  void unpublish(const std::string& room, const std::string& peer) override {
    log.push_back("unpublish " + room + " " + peer);
  }
  void offer(const std::string& room, const SfuOffer& offer,
             std::function<void(const std::string&, const std::string&)> done) override {
    log.push_back("offer " + room + " " + offer.subscriber);
    pending.push_back([done] { done(test::webrtcbin_offer(), ""); });
  }
  void answer(const std::string& room, const std::string& peer, uint64_t, const std::string&,
              std::function<void(const std::string&)> done) override {
    log.push_back("answer " + room + " " + peer);
    pending.push_back([done] { done(""); });
  }
  void candidate(const std::string&, const std::string&, const std::string&, int,
                 const std::string&, const std::string&) override {}
  void unsubscribe(const std::string& room, const std::string& peer) override {
    log.push_back("unsubscribe " + room + " " + peer);
  }
  void run() {
    auto now = std::exchange(pending, {});
    for (auto& f : now) f();
  }
  std::vector<std::string> log;
  std::vector<std::function<void()>> pending;
};

class Service : public ::testing::Test {
 protected:
  explicit Service(RoomServiceConfig cfg = {}) : service(std::move(cfg), store, out) {}

  // A call whose reply must come at once.
  msg::Reply now(ConnId conn, msg::Request request) {
    service.received(conn, t);
    auto reply = service.call(conn, std::move(request), [](msg::Reply) {
      ADD_FAILURE() << "a deferred reply for a call that replies at once";
    });
    EXPECT_TRUE(reply.has_value());
    return reply.value_or(msg::Reply{});
  }
  template <typename R>
  R ok(ConnId conn, msg::Request request) {
    msg::Reply reply = now(conn, std::move(request));
    EXPECT_FALSE(reply.error) << reply.error->message;
    const R* r = std::get_if<R>(&reply.result);
    return r ? *r : R{};
  }
  int code(ConnId conn, msg::Request request) {
    msg::Reply reply = now(conn, std::move(request));
    return reply.error ? reply.error->code : 0;
  }
  msg::JoinResult join(ConnId conn, const std::string& room, const std::string& peer) {
    return ok<msg::JoinResult>(conn, msg::Join{room, peer, std::nullopt});
  }

  RoomTime t = RoomTime{} + 1000s;
  MemoryStore store;
  Recorder out;
  RoomService service;
};

TEST_F(Service, JoinTellsTheOthersAndListsThemInJoinOrder) {
  join(1, "r", "a");
  join(2, "r", "b");
  out.notes.clear();
  msg::JoinResult c = join(3, "r", "c");
  EXPECT_EQ(c.mode, RoomMode::kMesh);
  EXPECT_EQ(c.peers, (std::vector<std::string>{"a", "b"}));
  for (ConnId other : {1, 2}) {
    auto seen = out.take<msg::PeerJoined>(other);
    ASSERT_EQ(seen.size(), 1u) << other;
    EXPECT_EQ(seen[0].peer, "c");
  }
  EXPECT_EQ(service.peer_of(3), std::make_pair(std::string("r"), std::string("c")));
  msg::ListResult all = ok<msg::ListResult>(4, msg::List{});
  ASSERT_EQ(all.rooms.size(), 1u);
  EXPECT_EQ(all.rooms[0].count, 3u);
  EXPECT_FALSE(all.rooms[0].peers);
  msg::ListResult one = ok<msg::ListResult>(4, msg::List{"r", std::nullopt});
  EXPECT_EQ(one.rooms.at(0).peers, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(Service, RefusedCallsChangeNothing) {
  EXPECT_EQ(code(1, msg::Leave{}), rpc::kNotJoined);
  EXPECT_EQ(code(1, msg::Join{"bad name", std::nullopt, std::nullopt}), rpc::kInvalidParams);
  join(1, "r", "a");
  EXPECT_EQ(code(1, msg::Join{"s", "x", std::nullopt}), rpc::kDuplicatePeer);
  EXPECT_EQ(code(2, msg::Join{"r", "a", std::nullopt}), rpc::kDuplicatePeer);
  EXPECT_EQ(code(1, msg::Publish{test::webrtcbin_offer()}), rpc::kMethodNotFound);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.find("r")->ordered(), std::vector<std::string>{"a"});
  EXPECT_TRUE(out.notes.empty());
}

// `mute`: the others get the full state at once, a later joiner finds it in
// its join result; unmuting everything takes the participant off that list.
TEST_F(Service, MuteTellsTheOthersAndLaterJoiners) {
  EXPECT_EQ(code(1, msg::Mute{true, std::nullopt}), rpc::kNotJoined);
  join(1, "r", "a");
  join(2, "r", "b");
  out.notes.clear();
  ok<msg::Empty>(1, msg::Mute{true, std::nullopt});
  auto seen = out.take<msg::PeerMuted>(2);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].peer, "a");
  EXPECT_TRUE(seen[0].audio);
  EXPECT_FALSE(seen[0].video);
  EXPECT_TRUE(out.take<msg::PeerMuted>(1).empty()) << "told itself";
  ok<msg::Empty>(1, msg::Mute{std::nullopt, true});  // unset audio stays muted
  seen = out.take<msg::PeerMuted>(2);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].audio && seen[0].video);
  msg::JoinResult c = join(3, "r", "c");
  ASSERT_EQ(c.muted.size(), 1u);
  EXPECT_EQ(c.muted[0].peer, "a");
  EXPECT_TRUE(c.muted[0].audio && c.muted[0].video);
  ok<msg::Empty>(1, msg::Mute{false, false});
  EXPECT_TRUE(join(4, "r", "d").muted.empty());
}

class LimitedService : public Service {
 protected:
  static RoomServiceConfig limits() {
    RoomServiceConfig cfg;
    cfg.max_rooms = 1;
    cfg.max_peers_per_room = 2;
    cfg.max_candidates = 1;
    cfg.token = "secret";
    return cfg;
  }
  LimitedService() : Service(limits()) {}
};

TEST_F(LimitedService, TokenAndLimits) {
  EXPECT_EQ(code(1, msg::Join{"r", "a", std::nullopt}), rpc::kUnauthorized);
  EXPECT_EQ(code(1, msg::Join{"r", "a", "wrong"}), rpc::kUnauthorized);
  EXPECT_EQ(code(1, msg::List{}), rpc::kUnauthorized);
  ok<msg::JoinResult>(1, msg::Join{"r", "a", "secret"});
  service.open(2, t, /*authorized=*/true);  // e.g. an Authorization header
  join(2, "r", "b");
  service.open(3, t, true);
  msg::Reply full = now(3, msg::Join{"r", "c", std::nullopt});
  ASSERT_TRUE(full.error);
  EXPECT_EQ(full.error->code, rpc::kRoomFull);
  EXPECT_EQ(full.error->data.find("limit")->as_int(), 2);
  EXPECT_EQ(code(3, msg::Join{"other", "c", std::nullopt}), rpc::kRoomFull);  // max_rooms

  // One candidate per pair and negotiation; the next offer starts a new count.
  msg::Candidate cand{"a", "candidate:1 1 UDP 2122260223 192.168.1.2 50000 typ host", "0",
                      std::nullopt, std::nullopt, Json()};
  EXPECT_EQ(code(2, cand), 0);
  EXPECT_EQ(code(2, cand), rpc::kTooLarge);
  EXPECT_EQ(code(2, msg::Offer{"a", test::webrtcbin_offer(), Json(7)}), 0);
  EXPECT_EQ(code(2, cand), 0);
}

// Joins past an address's rate: -32008 with data.retryAfter and data.limit,
// refused or not (a wrong token counts too); other addresses and
// connections without an address are not limited.
class RateLimitedService : public Service {
 protected:
  static RoomServiceConfig limits(AddressLimits::Clock::time_point* now) {
    RoomServiceConfig cfg;
    AddressLimits::Config lc;
    lc.rate = 0.5;
    lc.burst = 2;
    cfg.address_limits = std::make_shared<AddressLimits>(lc, [now] { return *now; });
    return cfg;
  }
  RateLimitedService() : Service(limits(&clock)) {}
  static inline AddressLimits::Clock::time_point clock{std::chrono::seconds(100)};
};

TEST_F(RateLimitedService, JoinPastTheRateIs32008WithRetryAfter) {
  service.open(1, t, false, "198.51.100.1");
  service.open(2, t, false, "198.51.100.1");
  service.open(3, t, false, "198.51.100.2");
  join(1, "r", "a");
  EXPECT_EQ(code(2, msg::Join{"bad name", std::nullopt, std::nullopt}), rpc::kInvalidParams);
  msg::Reply refused = now(2, msg::Join{"r", "b", std::nullopt});
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, rpc::kTooManyRequests);
  EXPECT_EQ(refused.error->data.find("retryAfter")->as_int(), 2);
  EXPECT_EQ(refused.error->data.find("limit")->as_int(), 2);
  EXPECT_NE(refused.error->message.find("too many requests from 198.51.100.1"), std::string::npos)
      << refused.error->message;
  EXPECT_EQ(store.find("r")->ordered(), std::vector<std::string>{"a"});
  join(3, "r", "c");  // another address
  join(4, "s", "d");  // no address: not limited
  join(5, "s", "e");
  clock += std::chrono::seconds(2);
  join(2, "r", "b");
}

TEST_F(Service, MeshRelayGoesToTheNamedPeerFromTheLaterJoiner) {
  join(1, "r", "a");
  join(2, "r", "b");
  out.notes.clear();
  msg::Reply wrong_way = now(1, msg::Offer{"b", test::webrtcbin_offer(), Json()});
  ASSERT_TRUE(wrong_way.error);
  EXPECT_EQ(wrong_way.error->data.find("offerer")->as_string(), "b");
  EXPECT_EQ(code(2, msg::Offer{"nobody", test::webrtcbin_offer(), Json()}), rpc::kUnknownPeer);
  EXPECT_EQ(code(2, msg::Offer{"b", test::webrtcbin_offer(), Json()}), rpc::kInvalidParams);
  EXPECT_EQ(code(2, msg::Offer{"a", "v=0 garbage", Json()}), rpc::kInvalidParams);
  EXPECT_TRUE(out.notes.empty());

  EXPECT_EQ(code(2, msg::Offer{"a", test::webrtcbin_offer(), Json("n1")}), 0);
  auto offers = out.take<msg::RelayedOffer>(1);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].from, "b");
  EXPECT_EQ(offers[0].negotiation_id, Json("n1"));
  EXPECT_EQ(code(1, msg::Answer{"b", test::webrtcbin_offer(), Json()}), 0);
  EXPECT_EQ(out.take<msg::RelayedAnswer>(2).size(), 1u);
}

TEST_F(Service, SilentAndClosedConnectionsLeave) {
  join(1, "r", "a");
  join(2, "r", "b");
  join(3, "r", "c");
  out.notes.clear();
  service.alive(2, t + 9s);
  EXPECT_EQ(service.tick(t + 10s), (std::vector<ConnId>{1, 3}));
  auto left = out.take<msg::PeerLeft>(2);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].peer, "a");
  EXPECT_EQ(left[0].reason, "timeout");
  service.closed(2);
  EXPECT_EQ(service.connection_count(), 0u);
  EXPECT_EQ(store.size(), 0u);  // empty rooms go
  service.closed(2);            // unknown: nothing
}

TEST_F(Service, CloseRoomTellsEveryoneAndKeepsPersistentRooms) {
  EXPECT_TRUE(service.create_room("kept", RoomMode::kMesh));
  join(1, "kept", "a");
  ok<msg::Empty>(1, msg::Leave{});
  EXPECT_TRUE(store.find("kept"));
  join(1, "kept", "a");
  join(2, "kept", "b");
  out.notes.clear();
  EXPECT_TRUE(service.close_room("kept", "maintenance"));
  for (ConnId c : {1, 2}) {
    auto notes = out.take<msg::ErrorNote>(c);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_EQ(notes[0].error.code, rpc::kNotJoined);
    EXPECT_EQ(notes[0].error.message, "room closed: maintenance");
    EXPECT_FALSE(service.peer_of(c));
  }
  EXPECT_FALSE(store.find("kept"));
  EXPECT_FALSE(service.close_room("kept", "again"));
}

TEST_F(Service, McuRoomsWithoutMediaRefuseMediaCalls) {
  ASSERT_TRUE(service.create_room("m", RoomMode::kMcu));
  join(1, "m", "a");
  EXPECT_EQ(code(1, msg::Publish{test::webrtcbin_offer()}), rpc::kMethodNotFound);
  EXPECT_EQ(code(1, msg::Answer{std::nullopt, test::webrtcbin_offer(), Json(1)}),
            rpc::kMethodNotFound);
  EXPECT_EQ(code(1, msg::Answer{"a", test::webrtcbin_offer(), Json(1)}), rpc::kInvalidParams);
}

class SfuService : public Service {
 protected:
  explicit SfuService(RoomServiceConfig cfg = {}) : Service(std::move(cfg)) {
    service.sfu().attach("", &media, {});
  }

  // A deferred call: its reply lands in `replies` when the media is done.
  void later(ConnId conn, msg::Request request) {
    service.received(conn, t);
    auto reply = service.call(conn, std::move(request),
                              [this, conn](msg::Reply r) { replies.emplace_back(conn, r); });
    EXPECT_FALSE(reply) << "replied at once";
  }
  SlowMedia media;
  std::vector<std::pair<ConnId, msg::Reply>> replies;
};

TEST_F(SfuService, PublishIsAnsweredWhenTheMediaIsDone) {
  join(1, "r", "sub");
  ok<msg::Empty>(1, msg::Subscribe{});
  join(2, "r", "pub");
  out.notes.clear();
  later(2, msg::Publish{test::webrtcbin_offer()});
  EXPECT_TRUE(replies.empty());
  EXPECT_TRUE(out.notes.empty());  // nobody hears of a publisher before it is answered

  media.run();
  ASSERT_EQ(replies.size(), 1u);
  const auto* published = std::get_if<msg::PublishResult>(&replies[0].second.result);
  ASSERT_TRUE(published);
  EXPECT_EQ(published->sdp, "answer");
  auto joined = out.take<msg::PublisherJoined>(1);
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].peer, "pub");
  EXPECT_EQ(media.log.back(), "offer r sub");

  media.run();  // the subscriber's offer is made
  auto offers = out.take<msg::ServerOffer>(1);
  ASSERT_EQ(offers.size(), 1u);
  ASSERT_EQ(offers[0].tracks.size(), 1u);
  EXPECT_EQ(offers[0].tracks[0].peer, "pub");
  later(1, msg::Answer{std::nullopt, test::webrtcbin_offer(), Json(offers[0].negotiation)});
  media.run();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_FALSE(replies[1].second.error);
}

// Signed tokens (signaling/auth/tokens.h): the room, the id and the grants
// of each call; refusals (-32001, data.status 401/403) change nothing.
class TokenService : public SfuService {
 protected:
  static constexpr const char* kSecret = "room-service-test-secret-0123456789abcdef";
  static RoomServiceConfig keyed() {
    RoomServiceConfig cfg;
    cfg.token = "static";
    cfg.token_secret = kSecret;
    return cfg;
  }
  TokenService() : SfuService(keyed()) {}
  static std::string token(const std::string& room, const std::string& sub, unsigned grants,
                           int64_t exp_in = 600) {
    int64_t now = TokenVerifier::wall_clock();
    return issue_token("HS256", kSecret, room, sub, grants, now - 5, now + exp_in);
  }
  msg::Reply join_with(ConnId conn, const std::string& room, std::optional<std::string> peer,
                       const std::string& tok) {
    return now(conn, msg::Join{room, std::move(peer), tok});
  }
  static int status(const msg::Reply& r) {
    if (!r.error || !r.error->data.find("status")) return 0;
    return int(r.error->data.find("status")->as_int());
  }
};

TEST_F(TokenService, RoomIdAndGrantsOfEachCall) {
  // Refused before anything changes.
  msg::Reply r = join_with(1, "b", std::nullopt, token("a", "alice", kGrantSubscribe));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, rpc::kUnauthorized);
  EXPECT_EQ(status(r), 403);
  EXPECT_EQ(r.error->message, "join: token is for room 'a', not 'b'");
  r = join_with(1, "a", "mallory", token("a", "alice", kGrantSubscribe));
  EXPECT_EQ(status(r), 403) << r.error->message;
  r = join_with(1, "a", std::nullopt, token("a", "alice", kGrantSubscribe, /*exp_in=*/-3600));
  EXPECT_EQ(status(r), 401);
  EXPECT_NE(r.error->message.find("expired"), std::string::npos) << r.error->message;
  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(out.notes.empty());

  // Subscribe-only: joins as its sub, subscribes, cannot publish.
  r = join_with(1, "a", std::nullopt, token("a", "alice", kGrantSubscribe));
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(std::get<msg::JoinResult>(r.result).peer, "alice");
  msg::Reply pub = now(1, msg::Publish{test::webrtcbin_offer()});
  ASSERT_TRUE(pub.error);
  EXPECT_EQ(pub.error->code, rpc::kUnauthorized);
  EXPECT_EQ(pub.error->message, "publish: token does not grant publish");
  EXPECT_TRUE(media.log.empty());
  ok<msg::Empty>(1, msg::Subscribe{});
  // Publish-only cannot subscribe; a wildcard admin does both.
  join_with(2, "a", std::nullopt, token("a", "bob", kGrantPublish));
  EXPECT_EQ(code(2, msg::Subscribe{}), rpc::kUnauthorized);
  join_with(3, "a", "ops", token("*", "", kGrantAdmin));
  ok<msg::Empty>(3, msg::Subscribe{});
  // The static token still allows everything.
  ASSERT_FALSE(join_with(4, "z", "any", "static").error);
  ok<msg::Empty>(4, msg::Subscribe{});
  // list: a one-room token sees its room; admin sees all.
  msg::ListResult mine = ok<msg::ListResult>(5, msg::List{std::nullopt, token("a", "x", kGrantSubscribe)});
  ASSERT_EQ(mine.rooms.size(), 1u);
  EXPECT_EQ(mine.rooms[0].room, "a");
  EXPECT_EQ(ok<msg::ListResult>(6, msg::List{std::nullopt, token("a", "y", kGrantAdmin)}).rooms.size(), 2u);
}

TEST_F(TokenService, BearerAtOpenServesTheJoin) {
  service.open_with_bearer(1, t, token("a", "alice", kGrantPublish));
  msg::JoinResult j = ok<msg::JoinResult>(1, msg::Join{"a", std::nullopt, std::nullopt});
  EXPECT_EQ(j.peer, "alice");
  service.open_with_bearer(2, t, "forged.token.here");
  EXPECT_EQ(code(2, msg::Join{"a", std::nullopt, std::nullopt}), rpc::kUnauthorized);
}

TEST_F(SfuService, OffersWaitForTheEndOfABatch) {
  join(2, "r", "pub");
  ASSERT_TRUE(service.sfu().add_publisher("r", "whip", {{"0", "video", "VP8"}}, nullptr));
  join(1, "r", "sub");
  media.log.clear();
  {
    RoomService::Batch batch(service);
    ok<msg::Empty>(1, msg::Subscribe{});
    EXPECT_TRUE(media.log.empty());
  }
  EXPECT_EQ(media.log, std::vector<std::string>{"offer r sub"});
}

TEST_F(SfuService, ADeferredReplyToAClosedConnectionIsDropped) {
  join(2, "r", "pub");
  later(2, msg::Publish{test::webrtcbin_offer()});
  service.closed(2);
  EXPECT_EQ(media.log.back(), "unpublish r pub");  // leaving cancels the publish
  media.run();
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(SfuService, UnansweredOffersEndTheSubscription) {
  join(1, "r", "sub");
  ok<msg::Empty>(1, msg::Subscribe{});
  ASSERT_TRUE(service.sfu().add_publisher("r", "whip", {{"0", "video", "VP8"}}, nullptr));
  media.run();
  out.notes.clear();
  service.alive(1, t + 20s);
  service.tick(t + 10s);
  auto ended = out.take<msg::ErrorNote>(1);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].error.code, rpc::kNotJoined);
  EXPECT_EQ(ended[0].error.data.find("connection")->as_string(), "subscribe");
  EXPECT_EQ(media.log.back(), "unsubscribe r sub");
  EXPECT_TRUE(service.peer_of(1));  // still in the room
}

// The seam a cluster node uses (signaling/cluster): what happens in the
// rooms goes to RoomEvents; another node's participant is a connection that
// ends with the reason its node gave.
struct EventLog : RoomEvents {
  void joined(const std::string& room, const std::string& peer, ConnId conn) override {
    log.push_back("joined " + room + " " + peer + " " + std::to_string(conn));
  }
  void left(const std::string& room, const std::string& peer, const std::string& reason,
            ConnId conn) override {
    log.push_back("left " + room + " " + peer + " " + reason + " " + std::to_string(conn));
  }
  void room_note(const std::string& room, const std::string& from, const msg::Note& note) override {
    if (std::holds_alternative<msg::PublisherJoined>(note))
      log.push_back("publisher-joined " + room + " " + from);
    if (std::holds_alternative<msg::PublisherLeft>(note))
      log.push_back("publisher-left " + room + " " + from);
  }
  std::vector<std::string> log;
};

TEST_F(SfuService, EventsTellJoinsLeavesAndPublishersAndEndCarriesTheReason) {
  EventLog events;
  service.set_events(&events);
  join(1, "r", "a");
  join(2, "r", "b");
  ASSERT_TRUE(service.sfu().add_publisher("r", "cam", {{"0", "video", "VP8"}}, nullptr));
  service.sfu().remove_publisher("r", "cam", "left");
  out.notes.clear();
  service.end(2, "timeout");
  auto left = out.take<msg::PeerLeft>(1);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].peer, "b");
  EXPECT_EQ(left[0].reason, "timeout");
  EXPECT_FALSE(service.peer_of(2));
  EXPECT_EQ(events.log, (std::vector<std::string>{"joined r a 1", "joined r b 2",
                                                   "publisher-joined r cam",
                                                   "publisher-left r cam", "left r b timeout 2"}));
  // tell_room: the room's participants here but `except`; tell_peer: one.
  join(3, "r", "c");
  out.notes.clear();
  EXPECT_TRUE(service.tell_room("r", "c", msg::PublisherJoined{"r", "far", {}}));
  EXPECT_EQ(out.take<msg::PublisherJoined>(1).size(), 1u);
  EXPECT_TRUE(out.take<msg::PublisherJoined>(3).empty());
  EXPECT_FALSE(service.tell_room("nope", "", msg::PublisherJoined{"nope", "far", {}}));
  EXPECT_TRUE(service.tell_peer("r", "c", msg::RelayedOffer{"far", "sdp", {}}));
  EXPECT_EQ(out.take<msg::RelayedOffer>(3).size(), 1u);
  EXPECT_FALSE(service.tell_peer("r", "gone", msg::RelayedOffer{"far", "sdp", {}}));
  service.set_events(nullptr);
}

}  // namespace
}  // namespace rtcmesh::sig
