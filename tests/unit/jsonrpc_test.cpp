// The JSON value and the JSON-RPC 2.0 codec (signaling/json.h, jsonrpc.h).
#include "signaling/rpc/jsonrpc.h"

#include <glib.h>
#include <gtest/gtest.h>

#include <string>

#include "signaling/json.h"

namespace rtcmesh::sig {
namespace {

using Kind = rpc::Item::Kind;

TEST(Json, ParsesEveryType) {
  auto j = Json::parse(
      R"({"n":null,"t":true,"f":false,"i":-42,"d":1.5,"s":"h\u00e9\n","a":[1,"x"],"o":{"k":{}}})");
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->is_object());
  EXPECT_TRUE(j->find("n")->is_null());
  EXPECT_TRUE(j->find("t")->as_bool());
  EXPECT_FALSE(j->find("f")->as_bool());
  EXPECT_EQ(j->find("i")->as_int(), -42);
  EXPECT_DOUBLE_EQ(j->find("d")->as_double(), 1.5);
  EXPECT_EQ(j->find("s")->as_string(), "h\xc3\xa9\n");
  EXPECT_EQ(j->find("a")->size(), 2u);
  EXPECT_EQ(j->find("a")->as_array()[1].as_string(), "x");
  EXPECT_TRUE(j->find("o")->find("k")->is_object());
  EXPECT_EQ(j->find("missing"), nullptr);
  EXPECT_EQ(j->get_string("s"), std::optional<std::string>("h\xc3\xa9\n"));
  EXPECT_EQ(j->get_string("i"), std::nullopt);
  EXPECT_THROW(j->find("i")->as_string(), std::logic_error);
}

TEST(Json, DumpRoundTripsAndKeepsOrder) {
  Json j =
      Json::object({{"z", 1}, {"a", "q\"\\\t\x01"}, {"m", Json::array().push(2.0).push(nullptr)}});
  j.set("z", 3);  // replaces in place
  EXPECT_EQ(j.dump(), R"({"z":3,"a":"q\"\\\t\u0001","m":[2.0,null]})");
  auto back = Json::parse(j.dump());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, j);
  EXPECT_TRUE(back->find("m")->as_array()[0].type() == Json::Type::kDouble);
  EXPECT_EQ(Json(1), Json(1.0));
  EXPECT_NE(Json("1"), Json(1));
  EXPECT_EQ(Json(std::numeric_limits<double>::infinity()).dump(), "null");
  EXPECT_EQ(json_quote("a\"b"), "\"a\\\"b\"");
}

TEST(Json, RefusesGarbageAndDepthBombs) {
  std::string why;
  EXPECT_FALSE(Json::parse("", &why));
  EXPECT_FALSE(Json::parse("{", &why));
  EXPECT_FALSE(Json::parse("{\"a\":}", &why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(Json::parse(std::string("\"a\0b\"", 5), &why));
  EXPECT_FALSE(Json::parse("\"\xff\xfe\"", &why));
  EXPECT_EQ(why, "not valid UTF-8");
  // Found by fuzz_room_server: json-glib takes the octal escape "\331" and
  // yields the byte 0xD9, so valid UTF-8 text gave a string that is not: a
  // mesh offer relayed with it, or an error quoting it, was a text frame a
  // browser fails its WebSocket on.
  EXPECT_FALSE(Json::parse(R"({"sdp":"a=setup:actpass\3317"})", &why));
  EXPECT_EQ(why, "a string is not valid UTF-8 (an escape JSON does not have)");
  EXPECT_FALSE(Json::parse(R"({"\377":1})", &why));
  // json-glib's own error quotes the bad string, escape decoded.
  EXPECT_FALSE(Json::parse(R"(["a\3317" x])", &why));
  EXPECT_TRUE(g_utf8_validate(why.data(), static_cast<gssize>(why.size()), nullptr)) << why;
  EXPECT_NE(why.find("unexpected string constant \"a\xef\xbf\xbd" "7\""), std::string::npos) << why;
  EXPECT_EQ(Json::parse(R"(["\u00e9", "\\331"])")->dump(), "[\"\xc3\xa9\",\"\\\\331\"]");
  std::string deep(100000, '[');
  EXPECT_FALSE(Json::parse(deep, &why));
  EXPECT_EQ(why, "nested deeper than 64 levels");
  // Brackets inside strings do not count.
  EXPECT_TRUE(Json::parse("[\"" + std::string(1000, '[') + "\"]"));
  std::string ok(64, '[');
  ok += std::string(64, ']');
  EXPECT_TRUE(Json::parse(ok));
}

TEST(JsonRpc, Request) {
  rpc::Message m = rpc::parse(R"({"jsonrpc":"2.0","method":"join","params":{"room":"a"},"id":7})");
  ASSERT_FALSE(m.error);
  EXPECT_FALSE(m.batch);
  ASSERT_EQ(m.items.size(), 1u);
  const rpc::Item& it = m.items[0];
  ASSERT_EQ(it.kind, Kind::kRequest);
  EXPECT_EQ(it.request.method, "join");
  EXPECT_TRUE(it.request.has_id);
  EXPECT_FALSE(it.request.notification());
  EXPECT_EQ(it.request.id, Json(7));
  EXPECT_EQ(it.request.params.get_string("room"), "a");
}

TEST(JsonRpc, NotificationAndIdKinds) {
  rpc::Message m = rpc::parse(R"({"jsonrpc":"2.0","method":"candidate"})");
  ASSERT_EQ(m.items.size(), 1u);
  EXPECT_EQ(m.items[0].kind, Kind::kRequest);
  EXPECT_TRUE(m.items[0].request.notification());
  EXPECT_TRUE(m.items[0].request.params.is_null());

  // A null id is a request (it gets a response), not a notification.
  m = rpc::parse(R"({"jsonrpc":"2.0","method":"list","id":null})");
  EXPECT_TRUE(m.items[0].request.has_id);
  m = rpc::parse(R"({"jsonrpc":"2.0","method":"list","id":"abc"})");
  EXPECT_EQ(m.items[0].request.id, Json("abc"));
  m = rpc::parse(R"({"jsonrpc":"2.0","method":"list","params":[1,2],"id":1.5})");
  EXPECT_EQ(m.items[0].kind, Kind::kRequest);
  EXPECT_TRUE(m.items[0].request.params.is_array());
}

TEST(JsonRpc, InvalidRequests) {
  struct Case {
    const char* text;
    Json id;  // echoed when readable
  };
  const Case cases[] = {
      {R"({"method":"join","id":1})", Json(1)},                            // no jsonrpc
      {R"({"jsonrpc":"1.0","method":"join","id":1})", Json(1)},            // wrong version
      {R"({"jsonrpc":2.0,"method":"join","id":"x"})", Json("x")},          // version not a string
      {R"({"jsonrpc":"2.0","method":5,"id":2})", Json(2)},                 // method not a string
      {R"({"jsonrpc":"2.0","method":"a","params":"p","id":3})", Json(3)},  // scalar params
      {R"({"jsonrpc":"2.0","method":"a","id":{"x":1}})", Json()},          // object id
      {R"({"jsonrpc":"2.0","method":"a","id":[1]})", Json()},              // array id
      {R"({"jsonrpc":"2.0","id":4})", Json(4)},                            // no method, no result
      {R"({"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"m"},"id":5})", Json(5)},
      {R"({"jsonrpc":"2.0","error":{"code":"x","message":"m"},"id":6})", Json(6)},
      {R"({"jsonrpc":"2.0","result":1})", Json()},  // response without id
  };
  for (const Case& c : cases) {
    rpc::Message m = rpc::parse(c.text);
    ASSERT_FALSE(m.error) << c.text;
    ASSERT_EQ(m.items.size(), 1u) << c.text;
    EXPECT_EQ(m.items[0].kind, Kind::kInvalid) << c.text;
    EXPECT_EQ(m.items[0].error.code, rpc::kInvalidRequest) << c.text;
    EXPECT_EQ(m.items[0].id, c.id) << c.text;
    EXPECT_FALSE(m.items[0].error.message.empty());
  }
}

TEST(JsonRpc, WholeMessageErrors) {
  rpc::Message m = rpc::parse("{\"jsonrpc\":\"2.0\",\"method\"");
  ASSERT_TRUE(m.error);
  EXPECT_EQ(m.error->code, rpc::kParseError);
  EXPECT_TRUE(m.items.empty());
  m = rpc::parse("[]");
  ASSERT_TRUE(m.error);
  EXPECT_EQ(m.error->code, rpc::kInvalidRequest);
  EXPECT_TRUE(m.batch);
  m = rpc::parse("42");
  ASSERT_TRUE(m.error);
  EXPECT_EQ(m.error->code, rpc::kInvalidRequest);
  m = rpc::parse(std::string(500, '{'));
  ASSERT_TRUE(m.error);
  EXPECT_EQ(m.error->code, rpc::kParseError);
}

TEST(JsonRpc, Batch) {
  rpc::Message m =
      rpc::parse(R"([{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b"},1,)"
                 R"({"jsonrpc":"2.0","result":{},"id":9}])");
  ASSERT_FALSE(m.error);
  EXPECT_TRUE(m.batch);
  ASSERT_EQ(m.items.size(), 4u);
  EXPECT_EQ(m.items[0].kind, Kind::kRequest);
  EXPECT_TRUE(m.items[1].request.notification());
  EXPECT_EQ(m.items[2].kind, Kind::kInvalid);
  EXPECT_EQ(m.items[3].kind, Kind::kResponse);
  EXPECT_EQ(m.items[3].response.id, Json(9));
  EXPECT_TRUE(m.items[3].response.ok());
}

TEST(JsonRpc, Responses) {
  rpc::Message m = rpc::parse(R"({"jsonrpc":"2.0","result":{"peer":"p"},"id":3})");
  ASSERT_EQ(m.items[0].kind, Kind::kResponse);
  EXPECT_TRUE(m.items[0].response.ok());
  EXPECT_EQ(m.items[0].response.result.get_string("peer"), "p");

  m = rpc::parse(
      R"({"jsonrpc":"2.0","error":{"code":-32002,"message":"room full","data":{"limit":2}},"id":null})");
  ASSERT_EQ(m.items[0].kind, Kind::kResponse);
  const rpc::Response& r = m.items[0].response;
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, rpc::kRoomFull);
  EXPECT_EQ(r.error->message, "room full");
  EXPECT_EQ(r.error->data.find("limit")->as_int(), 2);
  EXPECT_TRUE(r.id.is_null());
}

TEST(JsonRpc, Serialize) {
  EXPECT_EQ(rpc::request(1, "join", Json::object({{"room", "a"}})),
            R"({"jsonrpc":"2.0","method":"join","params":{"room":"a"},"id":1})");
  EXPECT_EQ(rpc::request("x", "leave", Json()), R"({"jsonrpc":"2.0","method":"leave","id":"x"})");
  EXPECT_EQ(rpc::notification("peer-left", Json::object({{"peer", "b"}})),
            R"({"jsonrpc":"2.0","method":"peer-left","params":{"peer":"b"}})");
  EXPECT_EQ(rpc::result(2, Json::object()), R"({"jsonrpc":"2.0","result":{},"id":2})");
  EXPECT_EQ(rpc::error(Json(), {rpc::kParseError, "bad", {}}),
            R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"bad"},"id":null})");
  EXPECT_EQ(
      rpc::error("q", {rpc::kTooLarge, "big", Json::object({{"limit", 10}})}),
      R"({"jsonrpc":"2.0","error":{"code":-32006,"message":"big","data":{"limit":10}},"id":"q"})");
  // What we write, we read back.
  rpc::Message m = rpc::parse(rpc::error(5, {rpc::kUnknownPeer, "who", Json()}));
  ASSERT_EQ(m.items.size(), 1u);
  ASSERT_EQ(m.items[0].kind, Kind::kResponse);
  EXPECT_EQ(m.items[0].response.error->code, rpc::kUnknownPeer);
}

TEST(JsonRpc, CodeNames) {
  EXPECT_EQ(rpc::code_name(rpc::kParseError), "parse error");
  EXPECT_EQ(rpc::code_name(rpc::kNoCommonCodec), "no common codec");
  EXPECT_EQ(rpc::code_name(-1), "error -1");
}

}  // namespace
}  // namespace rtcmesh::sig
