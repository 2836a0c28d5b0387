// rtcmeshbin url=http://HOST:PORT/rtc (issue 16): the one-POST front end.
// The real rtcmesh-server --mode sfu as a subprocess; one participant over
// the WebSocket, one over a single POSTed connection whose data channel
// carries the room protocol and whose renegotiations carry its publication
// and subscription.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/server_process.h"

using namespace rtcmesh;
using namespace rtcmesh::test;
using Participant = RoomParticipant;

namespace {

// The connections an rtcmeshbin's stats list as connected.
std::multiset<std::string> connected_connections(GstElement* bin) {
  std::multiset<std::string> out;
  GstStructure* s = nullptr;
  g_object_get(bin, "stats", &s, nullptr);
  if (!s) return out;
  const GValue* list = gst_structure_get_value(s, "remote-stats");
  for (guint i = 0; list && i < gst_value_list_get_size(list); i++) {
    const GstStructure* r = gst_value_get_structure(gst_value_list_get_value(list, i));
    gboolean connected = FALSE;
    gst_structure_get_boolean(r, "connected", &connected);
    if (const char* c = gst_structure_get_string(r, "connection"); c && connected) out.insert(c);
  }
  gst_structure_free(s);
  return out;
}

// rtcmesh_room_signal_connections{room="r"} on the server's /metrics (0 once
// the series is gone with the room's last connection).
int signal_connections(const std::string& base) {
  HttpReply m = http_request("GET", base + "/metrics", nullptr, "");
  const std::string key = "rtcmesh_room_signal_connections{room=\"r\"} ";
  size_t at = m.body.find(key);
  if (m.status != 200) return -1;
  return at == std::string::npos ? 0 : std::atoi(m.body.c_str() + at + key.size());
}

TEST(RtcPostClient, AWebSocketAndAOnePostParticipantDecodeEachOtherAndALeaveRenegotiates) {
  auto server = RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "4000"});
  ASSERT_TRUE(server);
  const std::string post_url = server->base + "/rtc";
  Participant a(server->ws_url(), "a");
  auto b = std::make_unique<Participant>(post_url, "b");
  std::vector<Participant*> room = {&a, b.get()};
  std::vector<std::string> ids = {"a", "b"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 15); }, 40s))
      << describe(room, ids);
  for (size_t i = 0; i < room.size(); i++) {
    const std::string other = ids[1 - i];
    EXPECT_EQ(pad_peers(room[i]->bin()), (std::multiset<std::string>{other, other})) << ids[i];
    for (auto& t : room[i]->tracks()) {
      EXPECT_EQ(t->peer_id, other);
      EXPECT_NE(t->caps.find(t->video() ? "video/x-raw" : "audio/x-raw"), std::string::npos)
          << t->caps;
    }
  }
  // b has one connection for everything; a the WebSocket's two.
  EXPECT_EQ(connected_connections(b->bin()), (std::multiset<std::string>{"rtc"}));
  EXPECT_EQ(connected_connections(a.bin()),
            (std::multiset<std::string>{"publish", "subscribe"}));
  EXPECT_EQ(signal_connections(server->base), 1);

  // Room data both ways with the sender's id: b's "rtcmesh" channel speaks
  // the room protocol, its data rides rtcmesh-data / rtcmesh-unreliable.
  DataLog a_got, b_got;
  a_got.watch(a.bin());
  b_got.watch(b->bin());
  EXPECT_EQ(exchange_text_and_bytes(a.bin(), "a", a_got, b->bin(), "b", b_got), "");
  // Unreliable ones arrive too (loopback loses nothing), on their channel.
  EXPECT_TRUE(send_string(b->bin(), "a", "quick from b", false));
  EXPECT_TRUE(send_string(a.bin(), "b", "quick from a", false));
  EXPECT_TRUE(wait_until([&] { return !a_got.from("b", "rtcmesh-unreliable").empty(); }, 10s));
  EXPECT_TRUE(wait_until([&] { return !b_got.from("a", "rtcmesh-unreliable").empty(); }, 10s));
  EXPECT_EQ(b_got.count(), 2u) << "nothing else reached b, nothing came back to its sender";

  // b leaves: its resource is DELETEd, a hears publisher-left and b's tracks
  // end with EOS; the server's next offer to a marks b's m-lines inactive.
  LeftCounter a_saw{"b"};
  a_saw.watch(a.bin());
  b.reset();
  EXPECT_TRUE(wait_until([&] { return a_saw.count == 1; }, 8s));
  EXPECT_TRUE(wait_until(
      [&] {
        for (auto& t : a.tracks())
          if (t->peer_id == "b" && !t->eos) return false;
        return pad_peers(a.bin()).empty();
      },
      8s))
      << "b's tracks end with EOS and their pads go";
  EXPECT_TRUE(wait_until([&] { return signal_connections(server->base) == 0; }, 8s))
      << signal_connections(server->base);

  // a takes the server's renegotiations after the leave: a new one-POST
  // participant c reaches a, and a reaches c, on a's same WebSocket.
  Participant c(post_url, "c");
  room = {&a, &c};
  ids = {"a", "c"};
  EXPECT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 15); }, 40s))
      << describe(room, ids);
  for (auto* p : room) EXPECT_TRUE(p->pipeline().errors().empty()) << describe(room, ids);
}

}  // namespace

namespace {

// A mesh room over one POST (rtcmesh-server --mode mesh): the POSTed
// connection carries only the room protocol; the server relays the mesh
// offers and answers between the participants as over the WebSocket, and
// their media and data go peer to peer. Two one-POST participants and one
// over the WebSocket decode each other both ways and exchange data; WHIP and
// WHEP stay 404 with the reason; /metrics counts the POSTed connections.
TEST(RtcPostClient, AMeshRoomOverOnePostCarriesMediaAndDataPeerToPeer) {
  auto server = RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "mesh", "--peer-timeout", "4000"});
  ASSERT_TRUE(server);
  for (const char* path : {"/whip/r", "/whep/r"}) {
    HttpReply r = http_request("POST", server->base + path, "application/sdp", "v=0\r\n");
    EXPECT_EQ(r.status, 404u) << path;
    EXPECT_NE(r.body.find("mesh rooms"), std::string::npos) << r.body;
  }
  const std::string post_url = server->base + "/rtc";
  Participant a(post_url, "a");
  Participant b(post_url, "b");
  Participant c(server->ws_url(), "c");
  std::vector<Participant*> room = {&a, &b, &c};
  std::vector<std::string> ids = {"a", "b", "c"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 15); }, 40s))
      << describe(room, ids);
  // Media went peer to peer: each has one connection per other participant
  // (a mesh session), the POSTed ones their "rtc" connection besides.
  EXPECT_EQ(signal_connections(server->base), 2);
  for (auto* p : room)
    for (auto& t : p->tracks())
      EXPECT_NE(t->caps.find(t->video() ? "video/x-raw" : "audio/x-raw"), std::string::npos)
          << t->caps;

  // Data on the mesh connections, with the sender's id.
  DataLog a_got, b_got, c_got;
  a_got.watch(a.bin());
  b_got.watch(b.bin());
  c_got.watch(c.bin());
  EXPECT_EQ(exchange_text_and_bytes(a.bin(), "a", a_got, b.bin(), "b", b_got), "");
  for (int i = 0; i < 200; i++) EXPECT_TRUE(send_string(c.bin(), "b", "c" + std::to_string(i), true));
  EXPECT_TRUE(wait_until([&] { return !c_got.from("b", "rtcmesh").empty(); }, 10s))
      << "b's text to everyone reaches c too";
  EXPECT_TRUE(wait_until([&] { return b_got.from("c", "rtcmesh").size() >= 200; }, 20s));
  EXPECT_EQ(b_got.numbered_mismatch("c", "rtcmesh", "c", 200), "");
  EXPECT_TRUE(send_string(b.bin(), "c", "quick from b", false));
  EXPECT_TRUE(wait_until([&] { return !c_got.from("b", "rtcmesh-unreliable").empty(); }, 10s));

  HttpReply m = http_request("GET", server->base + "/metrics", nullptr, "");
  EXPECT_EQ(m.status, 200u);
  for (auto* p : room) EXPECT_TRUE(p->pipeline().errors().empty()) << describe(room, ids);
}

}  // namespace

namespace {

// An MCU room over one POST: the POSTed rtcmeshbin publishes into the
// composite (the server counts it among the room's publishers) and decodes
// the composite and its minus-one mix on the same connection.
TEST(RtcPostClient, AnMcuRoomsCompositeAndMixComeOnTheOneConnection) {
  auto server = RtcmeshServer::start(
      RTCMESH_SERVER, {"--mode", "mcu", "--room", "r", "--canvas", "320x240@15"});
  ASSERT_TRUE(server);
  Participant pub(server->ws_url(), "pub");
  Participant post(server->base + "/rtc", "post");
  EXPECT_TRUE(wait_until(
      [&] { return post.frames_from("mcu") >= 15 && post.samples_from("mcu") > 0; }, 40s))
      << post.frames_from("mcu") << " frames, " << post.samples_from("mcu") << " samples";
  HttpReply m = http_request("GET", server->base + "/metrics", nullptr, "");
  EXPECT_NE(m.body.find("rtcmesh_room_publishers{room=\"r\"} 3"), std::string::npos)
      << "mcu, pub and post publish";
  EXPECT_EQ(connected_connections(post.bin()), (std::multiset<std::string>{"rtc"}));
  EXPECT_TRUE(post.pipeline().errors().empty());
}

}  // namespace

namespace {

// https://…/rtc: the POST goes over TLS (tls-ca-file trusts the server's
// self-signed certificate), beside a wss:// participant.
TEST(RtcPostClient, OverHttpsWithTheServersCertificate) {
  SelfSigned certs;
  ASSERT_TRUE(certs.ok);
  auto server = RtcmeshServer::start(
      RTCMESH_SERVER, {"--mode", "sfu", "--tls-certificate", certs.cert, "--tls-key", certs.key});
  ASSERT_TRUE(server);
  ASSERT_EQ(server->base.rfind("https://", 0), 0u) << server->base;
  const std::string trust = "tls-ca-file=" + certs.cert;
  Participant a(server->ws_url(), "a", trust);
  Participant b(server->base + "/rtc", "b", trust);
  std::vector<Participant*> room = {&a, &b};
  std::vector<std::string> ids = {"a", "b"};
  EXPECT_TRUE(wait_until([&] { return everyone_sees_everyone(room, ids, 10); }, 40s))
      << describe(room, ids);
  EXPECT_EQ(connected_connections(b.bin()), (std::multiset<std::string>{"rtc"}));
}

}  // namespace
