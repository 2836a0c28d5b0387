// Headers, HttpResponse, helpers and the client's trickle fragment builder.
#include <gtest/gtest.h>

#include "signaling/http/http.h"
#include "signaling/http/resource_client.h"
#include "signaling/http/sdp.h"
#include "signaling/rooms/room_data.h"
#include "signaling/util.h"

namespace rtcmesh::sig {
namespace {

TEST(Headers, CaseInsensitiveOrderedWithDuplicates) {
  Headers h;
  h.add("Link", "<a>");
  h.add("content-type", "text/plain");
  h.add("LINK", "<b>");
  EXPECT_EQ(h.get("link").value_or(""), "<a>");
  EXPECT_EQ(h.get_all("Link"), (std::vector<std::string>{"<a>", "<b>"}));
  EXPECT_EQ(h.get("Content-Type").value_or(""), "text/plain");
  EXPECT_FALSE(h.get("ETag").has_value());
  h.set("link", "<c>");
  EXPECT_EQ(h.get_all("Link"), std::vector<std::string>{"<c>"});
  EXPECT_EQ(h.items().size(), 2u);
  EXPECT_EQ(h.items()[0].first, "content-type");
  h.remove("CONTENT-TYPE");
  EXPECT_FALSE(h.has("content-type"));
}

TEST(HttpResponse, ErrorIsTextWithNewline) {
  HttpResponse r = HttpResponse::error(415, "wrong type");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.body, "wrong type\n");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_STREQ(status_phrase(413), "Content Too Large");
  EXPECT_STREQ(status_phrase(799), "Unknown");
}

TEST(Util, RandomHexAndConstantTimeCompare) {
  std::string a = random_hex(16), b = random_hex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(constant_time_equal("token", "token"));
  EXPECT_FALSE(constant_time_equal("token", "tokeN"));
  EXPECT_FALSE(constant_time_equal("token", "token2"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_EQ(media_type(" Application/SDP ; charset=utf-8"), "application/sdp");
}

// Reasons quoting a client's text were cut at a byte count, maybe inside a
// UTF-8 sequence: the JSON-RPC error frame was then no longer valid UTF-8 (a
// browser fails the WebSocket on such a text frame). Seen while fixing what
// fuzz_room_server found (jsonrpc_test, RefusesGarbageAndDepthBombs).
TEST(Util, ShortQuotesKeepUtf8Valid) {
  EXPECT_EQ(utf8_prefix("abc", 5), "abc");
  EXPECT_EQ(utf8_prefix("ab\xc3\xa9", 3), "ab");  // "abé" cut inside the é
  EXPECT_EQ(utf8_prefix("ab\xc3\xa9", 4), "ab\xc3\xa9");
  EXPECT_EQ(utf8_prefix("\xe2\x82\xac", 2), "");
  std::string q = quote_short(std::string(63, 'a') + "\xc3\xa9tail");
  EXPECT_EQ(q, "'" + std::string(63, 'a') + "…'");
  try {
    validate_offer("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio " +
                   std::string(53, '9') + "\xc3\xa9\xc3\xa9 RTP/AVP 0\r\n");
    ADD_FAILURE() << "accepted";
  } catch (const SdpError& e) {
    std::string why = e.what();
    EXPECT_NE(why.find("m=audio " + std::string(53, '9') + "..."), std::string::npos) << why;
  }
}

TEST(BuildTrickleFragment, GroupsByMidAndRoundTrips) {
  std::vector<TrickleCandidate> c = {
      {"0", 0, "candidate:1 1 UDP 2015363327 192.168.1.5 50000 typ host"},
      {"1", 1, "a=candidate:2 1 UDP 2015363327 192.168.1.5 50002 typ host"},
      {"0", 0, "candidate:3 1 TCP 1015021823 192.168.1.5 9 typ host tcptype active"},
  };
  std::string f = build_trickle_fragment("EsAw", "P2uYro0UCOQ4zxjKXaWCBui1", c, true);
  EXPECT_EQ(f,
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
            "a=mid:0\r\n"
            "a=ice-ufrag:EsAw\r\n"
            "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
            "a=candidate:1 1 UDP 2015363327 192.168.1.5 50000 typ host\r\n"
            "a=candidate:3 1 TCP 1015021823 192.168.1.5 9 typ host tcptype active\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
            "a=mid:1\r\n"
            "a=ice-ufrag:EsAw\r\n"
            "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
            "a=candidate:2 1 UDP 2015363327 192.168.1.5 50002 typ host\r\n"
            "a=end-of-candidates\r\n");
  TrickleFragment back = parse_trickle_fragment(f);
  EXPECT_EQ(back.ice_ufrag, "EsAw");
  EXPECT_EQ(back.ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
  EXPECT_TRUE(back.end_of_candidates);
  ASSERT_EQ(back.candidates.size(), 3u);
  EXPECT_EQ(back.candidates[0].mid, "0");
  EXPECT_EQ(back.candidates[1].mid, "0");
  EXPECT_EQ(back.candidates[2].mid, "1");
  EXPECT_EQ(back.candidates[2].candidate,
            "candidate:2 1 UDP 2015363327 192.168.1.5 50002 typ host");
}

TEST(BuildTrickleFragment, EndOfCandidatesAlone) {
  EXPECT_EQ(build_trickle_fragment("u", "p", {}, true, "video0"),
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:video0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n"
            "a=end-of-candidates\r\n");
  EXPECT_EQ(build_trickle_fragment("u", "p", {}, false), "");
}

TEST(Created, Retryable) {
  ResourceClient::Created c;
  for (int s : {0, 500, 502, 503, 408, 429}) {
    c.status = s;
    EXPECT_TRUE(c.retryable()) << s;
  }
  for (int s : {400, 401, 403, 404, 413, 415, 422}) {
    c.status = s;
    EXPECT_FALSE(c.retryable()) << s;
  }
  c.status = 201;
  EXPECT_FALSE(c.ok());  // no SDP
  c.answer_sdp = "v=0\r\n";
  EXPECT_TRUE(c.ok());
}

// Room data (docs/protocol.md, "Data in SFU rooms"): "<peer>\n<payload>",
// payload bytes as they are (line feeds and NULs included).
TEST(RoomData, WrapsAndUnwrapsAnyPayload) {
  const std::string payload = std::string("a\nb\0c", 5);
  auto back = unwrap_room_data(wrap_room_data("alice", payload));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->peer, "alice");
  EXPECT_EQ(back->payload, payload);
  auto all = unwrap_room_data("\nhello");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->peer, "");  // everyone
  EXPECT_EQ(all->payload, "hello");
  EXPECT_FALSE(unwrap_room_data("no line feed"));
  EXPECT_FALSE(unwrap_room_data("bad id!\nx"));
  EXPECT_FALSE(unwrap_room_data(std::string(65, 'a') + "\nx"));  // ids are 1-64 characters
  EXPECT_TRUE(unwrap_room_data(std::string(64, 'a') + "\n"));
}

}  // namespace
}  // namespace rtcmesh::sig
