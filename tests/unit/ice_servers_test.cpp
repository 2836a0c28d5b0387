// ICE server URIs, the RFC 9725 Link header and webrtcbin URIs
// (signaling/http/ice_servers.h).
#include "signaling/http/ice_servers.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace rtcmesh::sig {
namespace {

std::string parse_error(std::string_view stun, std::vector<std::string> turn) {
  try {
    parse_ice_servers(stun, turn);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(IceServers, ParsesStunForms) {
  auto s = parse_ice_servers("stun://stun.example.org:19302", {});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].url, "stun:stun.example.org:19302");
  EXPECT_TRUE(s[0].username.empty());
  EXPECT_EQ(parse_ice_servers("stun:10.0.0.1:3479", {})[0].url, "stun:10.0.0.1:3479");
  EXPECT_EQ(parse_ice_servers("stun:host", {})[0].url, "stun:host:3478");
  EXPECT_EQ(parse_ice_servers("stun://[2001:db8::1]:3478", {})[0].url, "stun:[2001:db8::1]:3478");
  EXPECT_TRUE(parse_ice_servers("", {}).empty());
}

TEST(IceServers, ParsesTurnWebrtcbinStyleWithPercentEncoding) {
  auto s = parse_ice_servers(
      "", {"turn://us%40er:p%3Ass@turn.example.org:3478", "turns://u:p@turn.example.org",
           "turn:u:p@10.0.0.2:3478?transport=tcp"});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].url, "turn:turn.example.org:3478?transport=udp");
  EXPECT_EQ(s[0].username, "us@er");
  EXPECT_EQ(s[0].credential, "p:ss");
  EXPECT_EQ(s[1].url, "turns:turn.example.org:5349?transport=tcp");
  EXPECT_EQ(s[2].url, "turn:10.0.0.2:3478?transport=tcp");
  EXPECT_EQ(s[2].username, "u");
}

TEST(IceServers, RejectsWithAReason) {
  EXPECT_NE(parse_error("http://x:1", {}).find("the scheme must be stun:"), std::string::npos);
  EXPECT_NE(parse_error("stun://u:p@x:1", {}).find("take no credentials"), std::string::npos);
  EXPECT_NE(parse_error("stun:x:0", {}).find("bad port"), std::string::npos);
  EXPECT_NE(parse_error("stun:x:99999", {}).find("bad port"), std::string::npos);
  EXPECT_NE(parse_error("stun:x:", {}).find("bad port"), std::string::npos);
  EXPECT_NE(parse_error("stun:2001:db8::1", {}).find("[brackets]"), std::string::npos);
  EXPECT_NE(parse_error("stun://", {}).find("empty host"), std::string::npos);
  EXPECT_NE(parse_error("nonsense", {}).find("expected scheme:host"), std::string::npos);
  EXPECT_NE(parse_error("", {"turn://host:3478"}).find("user:password@"), std::string::npos);
  EXPECT_NE(parse_error("", {"stun://host:3478"}).find("turn: or turns:"), std::string::npos);
  EXPECT_NE(parse_error("", {"turn://u:p@h:1?transport=sctp"}).find("udp or tcp"),
            std::string::npos);
  EXPECT_NE(parse_error("", {"turn://u:p%zz@h:1"}).find("percent-encoding"), std::string::npos);
  EXPECT_NE(parse_error("stun:ho st:1", {}).find("bad host"), std::string::npos);
  // Found by fuzz_ice_servers: a bracketed host was taken as is, so it could
  // carry '>' ';' ',' into the Link header written from it.
  EXPECT_FALSE(parse_error(std::string("stun:[2081:db8::1\0</whep>; ren]:347", 35), {}).empty());
  EXPECT_NE(parse_error("stun:[2081:db8::1</whep>; ren]:347", {}).find("bad IPv6 address"),
            std::string::npos);
  EXPECT_NE(parse_error("", {"turn://u:p@[::1>, <stun:evil]:3478"}).find("bad IPv6 address"),
            std::string::npos);
  EXPECT_EQ(parse_ice_servers("stun:[fe80::1%eth0]:3478", {})[0].url, "stun:[fe80::1%eth0]:3478");
  // Found by fuzz_ice_servers: turns with transport=udp was kept in the Link
  // header but became TCP in webrtcbin's URI.
  EXPECT_NE(parse_error("", {"turns:u:p@t.example.org?transport=udp"}).find("runs over TCP"),
            std::string::npos);
}

TEST(LinkHeader, MatchesRfc9725AndRoundTrips) {
  std::vector<IceServer> servers = {
      {"stun:stun.example.net:3478", "", ""},
      {"turn:turn.example.net:3478?transport=udp", "user", "myPassword"},
      {"turns:turn.example.net:5349?transport=tcp", "we\"ird\\", "p,a;s=s"},
  };
  std::string h = link_header(servers);
  EXPECT_EQ(h.substr(0, h.find(", <turns")),
            "<stun:stun.example.net:3478>; rel=\"ice-server\", "
            "<turn:turn.example.net:3478?transport=udp>; rel=\"ice-server\"; username=\"user\"; "
            "credential=\"myPassword\"; credential-type=\"password\"");
  EXPECT_EQ(parse_link_header(h), servers);
}

TEST(LinkHeader, IgnoresOtherRelsAndToleratesSpacing) {
  auto s = parse_link_header(
      "</whep>; rel=\"urn:rtcmesh:tracks\"; count=3,<stun:a.example:3478>;rel=ice-server ,"
      " <https://example.org/>; rel=\"next\", <turn:b.example:3478>; rel=\"ice-server\";"
      " username=u; credential=\"c\"");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].url, "stun:a.example:3478");
  EXPECT_EQ(s[1].url, "turn:b.example:3478");
  EXPECT_EQ(s[1].username, "u");
  EXPECT_EQ(s[1].credential, "c");

  auto links = parse_links("</whep>; rel=\"urn:rtcmesh:tracks\"; count=3");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].target, "/whep");
  EXPECT_TRUE(links[0].has_rel("urn:rtcmesh:tracks"));
  EXPECT_EQ(links[0].params.at("count"), "3");
  EXPECT_TRUE(parse_link_header("garbage, <<>>; ;;").empty());
}

TEST(GstUri, StunAndTurnForWebrtcbin) {
  EXPECT_EQ(to_gst_uri({"stun:stun.example.net:3478", "", ""}), "stun://stun.example.net:3478");
  EXPECT_EQ(to_gst_uri({"turn:t.example:3478?transport=udp", "us@er", "p:ss/"}),
            "turn://us%40er:p%3Ass%2F@t.example:3478");
  EXPECT_EQ(to_gst_uri({"turn:t.example:3478?transport=tcp", "u", "p"}),
            "turn://u:p@t.example:3478?transport=tcp");
  EXPECT_EQ(to_gst_uri({"turns:t.example:5349?transport=tcp", "u", "p"}),
            "turns://u:p@t.example:5349");
  // What users type → IceServer → webrtcbin URI keeps the credentials intact.
  auto s = parse_ice_servers("", {"turn://a%3Ab:c%40d@h.example:3478"});
  EXPECT_EQ(to_gst_uri(s[0]), "turn://a%3Ab:c%40d@h.example:3478");
}

}  // namespace
}  // namespace rtcmesh::sig
