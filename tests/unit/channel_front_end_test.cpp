// sig::rpc::ChannelFrontEnd (POST /rtc's JSON-RPC over a data channel) on a
// RoomServer, with each connection's channel an inbox: no sockets, no WebRTC.
#include "signaling/rpc/channel_front_end.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig {
namespace {

struct Channels {
  explicit Channels(RoomServer::Config cfg = {}, size_t max_message = 64 * 1024)
      : rooms(std::move(cfg), [this](ConnId c, const std::string& t) { ws_inbox[c].push_back(t); }),
        front(std::make_unique<rpc::ChannelFrontEnd>(
            rooms, rpc::JsonRpcFrontEnd::Limits{max_message, 16})) {}
  ConnId open(const std::string& name, const std::string& bearer = "") {
    return front->open([this, name](const std::string& t) { inbox[name].push_back(t); }, bearer,
                       "127.0.0.1", now);
  }
  // The messages `name`'s channel got since the last take, parsed.
  std::vector<Json> take(const std::string& name) {
    std::vector<Json> out;
    for (const auto& t : inbox[name]) out.push_back(Json::parse(t).value_or(Json()));
    inbox[name].clear();
    return out;
  }
  static int code(const Json& m) {
    const Json* e = m.find("error");
    return e ? static_cast<int>(e->find("code")->as_int()) : 0;
  }

  RoomServer::Time now = RoomServer::Clock::now();
  std::map<ConnId, std::vector<std::string>> ws_inbox;
  std::map<std::string, std::vector<std::string>> inbox;
  RoomServer rooms;
  std::unique_ptr<rpc::ChannelFrontEnd> front;
};

TEST(ChannelFrontEnd, TheRoomProtocolOverEachConnectionsChannel) {
  Channels c;
  ConnId a = c.open("a"), b = c.open("b");
  EXPECT_NE(a, b);
  EXPECT_GE(a, ConnId(1) << 48) << "numbered apart from the WebSocket connections";
  c.front->message(a, rpc::request(Json(1), "join", Json::object({{"room", "r"}, {"peer", "pa"}})),
                   c.now);
  auto got = c.take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].find("result")->get_string("peer").value_or(""), "pa");
  c.front->message(b, rpc::request(Json(7), "join", Json::object({{"room", "r"}, {"peer", "pb"}})),
                   c.now);
  EXPECT_EQ(c.take("b").size(), 1u);
  // The room's notes reach the other connection's channel only.
  got = c.take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].get_string("method").value_or(""), "peer-joined");
  EXPECT_TRUE(c.take("b").empty());
  EXPECT_EQ(c.rooms.room("r")->peers.size(), 2u);

  // Closing the channel is leaving.
  c.front->close(b);
  got = c.take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].get_string("method").value_or(""), "peer-left");
  EXPECT_EQ(c.rooms.room("r")->peers.size(), 1u);
  c.front->message(b, rpc::request(Json(8), "list", Json::object()), c.now);
  EXPECT_TRUE(c.take("b").empty()) << "a closed connection is gone";
  EXPECT_EQ(c.front->size(), 1u);
}

TEST(ChannelFrontEnd, BadInputGetsItsErrorOnTheChannelAndTheConnectionStays) {
  Channels c({}, 1024);
  ConnId a = c.open("a");
  c.front->message(a, "{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": ", c.now);
  auto got = c.take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Channels::code(got[0]), -32700);
  c.front->message(
      a, rpc::request(Json(4), "ping", Json::object({{"pad", std::string(2000, 'x')}})), c.now);
  got = c.take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Channels::code(got[0]), -32006);
  EXPECT_EQ(got[0].find("id")->as_int(), 4);
  c.front->message(a, rpc::request(Json(5), "ping", Json::object()), c.now);
  got = c.take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].find("result")) << got[0].dump();
}

TEST(ChannelFrontEnd, ThePostsTokenStandsForTheConnections) {
  RoomServer::Config cfg;
  cfg.token = "s3cret";
  Channels c(cfg);
  ConnId good = c.open("good", "s3cret"), none = c.open("none");
  c.front->message(good, rpc::request(Json(1), "join", Json::object({{"room", "r"}})), c.now);
  EXPECT_EQ(Channels::code(c.take("good").at(0)), 0);
  c.front->message(none, rpc::request(Json(1), "join", Json::object({{"room", "r"}})), c.now);
  EXPECT_EQ(Channels::code(c.take("none").at(0)), -32001);
}

TEST(ChannelFrontEnd, GoingAwayLeavesEveryRoom) {
  auto c = std::make_unique<Channels>();
  ConnId ws = 1;
  c->rooms.on_message(
      ws, rpc::request(Json(1), "join", Json::object({{"room", "r"}, {"peer", "w"}})), c->now);
  ConnId a = c->open("a");
  c->front->message(a, rpc::request(Json(1), "join", Json::object({{"room", "r"}, {"peer", "pa"}})),
                    c->now);
  EXPECT_EQ(c->rooms.room("r")->peers.size(), 2u);
  c->front.reset();
  EXPECT_EQ(c->rooms.room("r")->peers.size(), 1u) << "the channel's participant left";
}

}  // namespace
}  // namespace rtcmesh::sig
