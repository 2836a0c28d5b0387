// One-POST rooms (issue 16, part 2): Chromium with a plain RTCPeerConnection
// and fetch (page.html mode=rtcpost) POSTs an offer with only a data channel
// to rtcmesh-server --mode sfu (POST /rtc/r), then speaks the room protocol
// over that channel: it joins, subscribes and publishes, and every
// renegotiation (the server's offers, its own publish offer) rides the same
// connection. Bad input over that channel gets JSON-RPC errors on it.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

#include "tests/support/harness.h"
#include "tests/support/post_page.h"
#include "tests/support/room_checks.h"
#include "tests/support/server_process.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

// A pipeline publishing a solid colour (0xAARRGGBB) into room "r" over the WebSocket.
std::unique_ptr<test::Pipeline> coloured_publisher(const std::string& ws, const std::string& id,
                                                   const char* argb) {
  auto p = std::make_unique<test::Pipeline>(
      "rtcmeshbin name=m url=" + ws + " room=r peer-id=" + id +
      " peer-timeout=3000 videotestsrc is-live=true pattern=solid-color foreground-color=" + argb +
      " ! video/x-raw,width=320,height=240,framerate=15/1 ! m.video_0");
  p->set_state(GST_STATE_PLAYING);
  return p;
}

// The value of one Prometheus sample line ("name{labels}"), -1 if absent.
double metric(const std::string& base, const std::string& sample) {
  test::HttpReply r = test::http_request("GET", base + "/metrics", nullptr, "");
  size_t at = r.body.find("\n" + sample + " ");
  return at == std::string::npos ? -1 : std::atof(r.body.c_str() + at + sample.size() + 2);
}

// The POST /rtc connections of room "r" (-1: none, the series is gone).
const std::string kSignalConnections = "rtcmesh_room_signal_connections{room=\"r\"}";

bool reddish(const std::vector<int>& c) {
  return c.size() == 3 && c[0] > 150 && c[1] < 90 && c[2] < 90;
}
bool bluish(const std::vector<int>& c) {
  return c.size() == 3 && c[2] > 150 && c[0] < 90 && c[1] < 90;
}
std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& l : v) out += "\n  " + l;
  return out;
}
std::string str(const std::vector<int>& c) {
  std::string s;
  for (int x : c) s += std::to_string(x) + " ";
  return s;
}

class RtcPost : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& args) {
    if (std::string why = test::RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
      GTEST_SKIP() << why;
    std::vector<std::string> all{"--mode", "sfu", "--peer-timeout", "4000"};
    all.insert(all.end(), args.begin(), args.end());
    server = test::RtcmeshServer::start(RTCMESH_SERVER, all);
    ASSERT_TRUE(server);
  }
  void open_page() {
    std::string error;
    page = test::PostPage::open(RTCMESH_BROWSER_DIR, server->base + "/rtc/r", "page", 100, &error);
    ASSERT_TRUE(page) << error;
    ASSERT_TRUE(wait_until([&] { return page->poll(), page->joined; }, 30s)) << page->describe();
  }
  // The page saw no error, and its browser exits 0 on SIGTERM.
  template <typename Page>
  void ends_cleanly(Page& p) {
    EXPECT_TRUE(p.last_error.empty()) << p.last_error;
    p.proc->send_signal(SIGTERM);
    auto status = p.proc->wait(20s);
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0) << p.describe();
  }
  // The room page as participant "rp" with ?signal=datachannel (null and a
  // failure when it cannot start).
  std::unique_ptr<test::RoomPage> open_room_page(int duration_s) {
    std::string error;
    auto room = test::RoomPage::open(RTCMESH_BROWSER_DIR,
                                     server->base + "/room/r?peer=rp&signal=datachannel", "rp",
                                     duration_s, &error);
    if (!room) ADD_FAILURE() << error;
    return room;
  }
  // Until the page decodes `peer`'s video (20 frames) and `pipeline`
  // decodes the page's video and audio.
  bool media_both_ways(test::RoomPage& room, const std::string& peer,
                       test::RoomParticipant& pipeline) {
    return wait_until(
        [&] {
          return room.stat(peer, "videoFramesDecoded") > 20 && pipeline.frames_from("rp") > 20 &&
                 pipeline.samples_from("rp") > 0;
        },
        60s);
  }
  // The page's chat line reaches participant "pl" (a pipeline) as from
  // "rp", and pl's line to "rp" reaches the page as from "pl": "" when so.
  std::string chat_both_ways(test::RoomPage& room, test::RoomParticipant& pl) {
    test::DataLog pl_got;
    pl_got.watch(pl.bin());
    struct Unwatch {  // pl_got goes with this call
      GstElement* bin;
      test::DataLog* log;
      ~Unwatch() { g_signal_handlers_disconnect_by_data(bin, log); }
    } unwatch{pl.bin(), &pl_got};
    if (!room.send("hello from the page") ||
        !test::send_string(pl.bin(), "rp", "hello from the pipeline", true))
      return "a message was refused";
    if (!wait_until([&] { return !pl_got.from("rp", "rtcmesh").empty(); }, 15s))
      return "the pipeline got nothing from the page";
    if (pl_got.from("rp", "rtcmesh")[0].data != "hello from the page")
      return "the pipeline got " + pl_got.from("rp", "rtcmesh")[0].data;
    if (!wait_until([&] { return !room.received_from("pl").empty(); }, 15s))
      return "the page got nothing from the pipeline";
    std::string got = room.received_from("pl")[0].get_string("data").value_or("");
    return got == "hello from the pipeline" ? "" : "the page got " + got;
  }
  std::unique_ptr<test::RtcmeshServer> server;
  std::unique_ptr<test::PostPage> page;
};

TEST_F(RtcPost, OneConnectionCarriesTheRoomProtocolSubscriptionAndPublication) {
  start({});
  if (IsSkipped()) return;
  auto red = coloured_publisher(server->ws_url(), "red", "0xffff0000");
  auto blue = coloured_publisher(server->ws_url(), "blue", "0xff0000ff");
  open_page();
  EXPECT_EQ(metric(server->base, kSignalConnections), 1);

  // Both publishers through the server's offers on the POSTed connection.
  ASSERT_TRUE(wait_until(
      [&] {
        return page->frames_from("red") > 20 && page->frames_from("blue") > 20 &&
               reddish(page->colour_of("red")) && bluish(page->colour_of("blue"));
      },
      60s))
      << "red " << str(page->colour_of("red")) << ", blue " << str(page->colour_of("blue")) << "; "
      << page->describe() << "\nred: " << lines(red->errors()) << lines(red->warnings())
      << "\nblue: " << lines(blue->errors()) << lines(blue->warnings());

  // The page's camera, published on the same connection (its own offer over
  // the channel), decoded by a pipeline that subscribes over the WebSocket.
  test::RoomParticipant viewer(server->ws_url(), "viewer", "", "r", false);
  ASSERT_TRUE(page->call("publish"));
  ASSERT_TRUE(wait_until([&] { return page->result_of("publish").has_value(); }, 30s));
  sig::Json published = *page->result_of("publish");
  ASSERT_TRUE(published.find("result") && !published.find("error")) << published.dump();
  ASSERT_TRUE(wait_until([&] { return viewer.frames_from("page") > 20; }, 40s))
      << "viewer got " << viewer.frames_from("page") << " frames from the page; "
      << page->describe();

  // A publisher leaves: the server offers again over the channel; its m-line
  // carries nothing now, the other one goes on.
  size_t offers = page->notes("offer");
  red.reset();
  ASSERT_TRUE(wait_until(
      [&] { return page->frames_from("red") == -1 && page->notes("offer") > offers; }, 20s))
      << page->describe();
  EXPECT_GE(page->notes("publisher-left"), 1u);
  int64_t blue_then = page->frames_from("blue"), page_then = viewer.frames_from("page");
  EXPECT_TRUE(wait_until(
      [&] {
        return page->frames_from("blue") > blue_then + 15 &&
               viewer.frames_from("page") > page_then + 15 && bluish(page->colour_of("blue"));
      },
      20s))
      << page->describe();
  ASSERT_NO_FATAL_FAILURE(ends_cleanly(*page));
  // DELETE on the way out: the participant is gone from the room, its
  // connection from the server.
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(server->base, "rtcmesh_room_publishers{room=\"r\"}") == 1 &&
               metric(server->base, kSignalConnections) == -1;
      },
      10s));
}

// An MCU room through the same front end: the one connection receives the
// composite (publisher "mcu") of a pipeline's red picture.
TEST_F(RtcPost, AnMcuRoomsCompositeComesOnTheOneConnection) {
  start({"--mode", "mcu", "--room", "r", "--canvas", "320x240@15"});
  if (IsSkipped()) return;
  auto red = coloured_publisher(server->ws_url(), "red", "0xffff0000");
  open_page();
  EXPECT_TRUE(wait_until(
      [&] { return page->frames_from("mcu") > 20 && reddish(page->colour_of("mcu")); }, 60s))
      << "composite " << str(page->colour_of("mcu")) << "; " << page->describe();
  EXPECT_TRUE(page->last_error.empty()) << page->last_error;
}

// The room page with ?signal=datachannel: the same one-connection flow from
// rtcmesh-server's own page (camera and microphone out, every publisher in).
TEST_F(RtcPost, TheRoomPageJoinsOverADataChannel) {
  start({});
  if (IsSkipped()) return;
  auto red = coloured_publisher(server->ws_url(), "red", "0xffff0000");
  test::RoomParticipant viewer(server->ws_url(), "viewer", "", "r", false);
  auto room = open_room_page(90);
  ASSERT_TRUE(room);
  EXPECT_TRUE(media_both_ways(*room, "red", viewer))
      << room->describe() << "\nviewer got " << viewer.frames_from("rp") << " frames";

  // The chat over the POSTed connection's rtcmesh-data channel: the page's
  // line reaches the pipeline as from "rp", the pipeline's reaches the page
  // as from "viewer"; bytes to one participant keep their bytes.
  test::DataLog viewer_got;
  viewer_got.watch(viewer.bin());
  ASSERT_TRUE(room->send("hello from the page"));
  sig::Json bytes = sig::Json::array();
  for (int b : {0, 1, 10, 255}) bytes.push(b);
  ASSERT_TRUE(room->send("viewer", bytes, true));
  EXPECT_TRUE(test::send_string(viewer.bin(), "rp", "hello from the viewer", true));
  EXPECT_TRUE(wait_until([&] { return viewer_got.from("rp", "rtcmesh").size() >= 2; }, 15s))
      << room->describe();
  auto got = viewer_got.from("rp", "rtcmesh");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].data, "hello from the page");
  EXPECT_TRUE(got[0].text);
  EXPECT_EQ(got[1].data, std::string({0, 1, 10, '\xff'}));
  EXPECT_FALSE(got[1].text);
  EXPECT_TRUE(wait_until([&] { return !room->received_from("viewer").empty(); }, 15s))
      << room->describe();
  const sig::Json from_viewer = room->received_from("viewer")[0];
  EXPECT_EQ(from_viewer.get_string("data").value_or(""), "hello from the viewer");
  EXPECT_EQ(from_viewer.get_string("label").value_or(""), "rtcmesh");
  EXPECT_TRUE(room->received_from("red").empty());

  ASSERT_NO_FATAL_FAILURE(ends_cleanly(*room));
}

// A mesh room through the same front end (rtcmesh-server --mode mesh): the
// page's POSTed connection carries only the room protocol; its mesh offers
// to a pipeline (a WebSocket participant) and back ride it, and the media
// and chat go peer to peer, decoded on both sides.
TEST_F(RtcPost, TheRoomPageJoinsAMeshRoomOverADataChannel) {
  start({"--mode", "mesh"});
  if (IsSkipped()) return;
  test::RoomParticipant pl(server->ws_url(), "pl");
  auto room = open_room_page(90);
  ASSERT_TRUE(room);
  EXPECT_TRUE(media_both_ways(*room, "pl", pl))
      << room->describe() << "\npl got " << pl.frames_from("rp") << " frames";
  EXPECT_EQ(metric(server->base, kSignalConnections), 1);

  EXPECT_EQ(chat_both_ways(*room, pl), "") << room->describe();

  ASSERT_NO_FATAL_FAILURE(ends_cleanly(*room));
}

// The room page's chat in an MCU room over a data channel: relayed by the
// MCU's inner rtcsfu with the sender's id, both ways with a pipeline, while
// the page decodes the composite.
TEST_F(RtcPost, TheRoomPageChatsInAnMcuRoomOverADataChannel) {
  start({"--mode", "mcu", "--room", "r", "--canvas", "320x240@15"});
  if (IsSkipped()) return;
  test::RoomParticipant pl(server->ws_url(), "pl");
  auto room = open_room_page(90);
  ASSERT_TRUE(room);
  EXPECT_TRUE(wait_until([&] { return room->stat("mcu", "videoFramesDecoded") > 20; }, 60s))
      << room->describe();
  EXPECT_EQ(chat_both_ways(*room, pl), "") << room->describe();
  EXPECT_TRUE(room->last_error.empty()) << room->last_error;
}

// Glare on the one connection (docs/protocol.md, "Signaling over a data
// channel", point 5): the page holds the server's offer for a new publisher
// unanswered and publishes across it. The server, the impolite side,
// refuses with -32602 and data {"glare": true}; the page rolls its offer
// back, answers, publishes again, and both directions then flow.
TEST_F(RtcPost, APublishAcrossAnUnansweredServerOfferIsRefusedAsGlareThenRetried) {
  start({});
  if (IsSkipped()) return;
  open_page();
  ASSERT_TRUE(page->call("holdOffers", sig::Json(true)));
  ASSERT_TRUE(wait_until([&] { return page->result_of("holdOffers").has_value(); }, 10s));
  auto red = coloured_publisher(server->ws_url(), "red", "0xffff0000");
  ASSERT_TRUE(wait_until([&] { return page->notes("offer") >= 1; }, 30s)) << page->describe();
  test::RoomParticipant viewer(server->ws_url(), "viewer", "", "r", false);
  ASSERT_TRUE(page->call("publishAcrossAnOffer"));
  ASSERT_TRUE(wait_until([&] { return page->result_of("publishAcrossAnOffer").has_value(); }, 30s))
      << page->describe();
  sig::Json r = *page->result_of("publishAcrossAnOffer");
  const sig::Json* result = r.find("result");
  ASSERT_TRUE(result) << r.dump();
  auto number = [&](const char* key) {
    const sig::Json* v = result->find(key);
    return v && v->is_int() ? v->as_int() : int64_t(0);
  };
  EXPECT_EQ(number("code"), -32602) << r.dump();
  EXPECT_TRUE(result->find("glare") && result->find("glare")->as_bool()) << r.dump();
  EXPECT_GE(number("answered"), 1) << r.dump();
  EXPECT_EQ(number("tracks"), 1) << r.dump();
  EXPECT_TRUE(wait_until(
      [&] {
        return page->frames_from("red") > 20 && reddish(page->colour_of("red")) &&
               viewer.frames_from("page") > 20;
      },
      40s))
      << "red " << str(page->colour_of("red")) << ", viewer got " << viewer.frames_from("page")
      << " frames of the page; " << page->describe();
  EXPECT_TRUE(page->last_error.empty()) << page->last_error;
}

// The room page's reconnection with ?signal=datachannel: the server dies
// (SIGKILL) and comes back on its port; the page notices (its pings go
// unanswered), POSTs again, joins again, publishes again and receives again.
TEST_F(RtcPost, ThePageOverADataChannelComesBackAfterAServerRestart) {
  start({"--peer-timeout", "3000"});
  if (IsSkipped()) return;
  const unsigned port = server->port;
  auto red = coloured_publisher(server->ws_url(), "red", "0xffff0000");
  test::RoomParticipant viewer(server->ws_url(), "viewer", "peer-timeout=3000", "r", false);
  auto room = open_room_page(120);
  ASSERT_TRUE(room);
  ASSERT_TRUE(wait_until(
      [&] { return room->stat("red", "videoFramesDecoded") > 20 && viewer.frames_from("rp") > 20; },
      60s))
      << room->describe() << "\nviewer got " << viewer.frames_from("rp") << " frames";

  std::string last;
  auto status_is = [](const char* s) {
    return [s](const std::string& l) {
      return l.find(std::string("\"status\":\"") + s + "\"") != std::string::npos;
    };
  };
  server->proc->send_signal(SIGKILL);
  server->proc->wait(5s);
  gint64 killed_us = g_get_monotonic_time();
  ASSERT_TRUE(test::next_stats(*room->proc, &last, status_is("reconnecting"), 20s))
      << "the page did not notice: " << last;
  std::printf("the page noticed the dead server after %.1f s\n",
              (g_get_monotonic_time() - killed_us) / 1e6);
  server = test::RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "3000",
                                                       "--port", std::to_string(port)});
  ASSERT_TRUE(server);
  ASSERT_EQ(server->port, port);
  ASSERT_TRUE(test::next_stats(*room->proc, &last, status_is("joined"), 40s))
      << "the page did not join again: " << last;
  // Media both ways again, on the page's new connection.
  int viewer_before = viewer.frames_from("rp");
  EXPECT_TRUE(wait_until(
      [&] {
        return room->stat("red", "videoFramesDecoded") > 20 &&
               viewer.frames_from("rp") > viewer_before + 20;
      },
      40s))
      << room->describe() << "\nviewer got " << viewer.frames_from("rp") - viewer_before
      << " frames since";
  EXPECT_EQ(metric(server->base, kSignalConnections), 1);
  room->proc->send_signal(SIGTERM);
  EXPECT_TRUE(room->proc->wait(20s).has_value());
}

TEST_F(RtcPost, BadInputGetsClearErrorsAndLosesNothingElse) {
  start({"--max-message", "8192"});
  if (IsSkipped()) return;

  // An offer without a data channel: 422 with the reason.
  const std::string audio_only =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
      "a=rtpmap:111 opus/48000/2\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
      "a=fingerprint:sha-256 "
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"
      "EE:FF\r\na=setup:actpass\r\na=rtcp-mux\r\n";
  test::HttpReply r =
      test::http_request("POST", server->base + "/rtc/r", "application/sdp", audio_only);
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_NE(r.body.find("no data channel"), std::string::npos) << r.body;
  // Not SDP at all: 400; the wrong type: 415.
  EXPECT_EQ(test::http_request("POST", server->base + "/rtc/r", "application/sdp", "hello").status,
            400u);
  EXPECT_EQ(test::http_request("POST", server->base + "/rtc/r", "text/plain", audio_only).status,
            415u);

  auto blue = coloured_publisher(server->ws_url(), "blue", "0xff0000ff");
  test::RoomParticipant viewer(server->ws_url(), "viewer", "", "r", false);
  open_page();
  ASSERT_TRUE(wait_until([&] { return page->frames_from("blue") > 10; }, 60s)) << page->describe();

  auto reply_with = [&](auto pred) {
    for (const sig::Json& m : page->replies())
      if (pred(m)) return true;
    return false;
  };
  auto code_of = [](const sig::Json& m) {
    const sig::Json* e = m.find("error");
    const sig::Json* c = e ? e->find("code") : nullptr;
    return c && c->is_number() ? int(c->as_double()) : 0;
  };
  // Malformed JSON: -32700 back on the channel.
  ASSERT_TRUE(page->call("raw", sig::Json("{\"jsonrpc\": \"2.0\", \"id\": 5, \"method\": ")));
  EXPECT_TRUE(wait_until(
      [&] { return reply_with([&](const sig::Json& m) { return code_of(m) == -32700; }); }, 10s))
      << page->describe();
  // Over the server's message limit: -32006 naming the limit, with the id.
  std::string big = "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\",\"params\":{\"pad\":\"" +
                    std::string(9000, 'x') + "\"}}";
  ASSERT_TRUE(page->call("raw", sig::Json(big)));
  EXPECT_TRUE(wait_until(
      [&] {
        return reply_with([&](const sig::Json& m) {
          const sig::Json* id = m.find("id");
          return code_of(m) == -32006 && id && id->is_number() && id->as_double() == 77;
        });
      },
      10s))
      << page->describe();
  // The channel still serves calls after both.
  ASSERT_TRUE(page->call("raw", sig::Json("{\"jsonrpc\":\"2.0\",\"id\":78,\"method\":\"ping\"}")));
  EXPECT_TRUE(wait_until(
      [&] {
        return reply_with([&](const sig::Json& m) {
          const sig::Json* id = m.find("id");
          return m.find("result") && id && id->is_number() && id->as_double() == 78;
        });
      },
      10s))
      << page->describe();
  EXPECT_GT(page->frames_from("blue"), 10);

  // The channel closes while the page's publish offer is being answered: the
  // server ends the connection (the page leaves the room, its publication
  // is cancelled) and the others go on.
  const std::string subscribers = "rtcmesh_room_subscribers{room=\"r\"}";
  EXPECT_EQ(metric(server->base, subscribers), 3) << "blue, the viewer and the page subscribe";
  ASSERT_TRUE(page->call("publishThenClose"));
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(server->base, subscribers) == 2 &&
               metric(server->base, "rtcmesh_room_publishers{room=\"r\"}") == 1 &&
               metric(server->base, kSignalConnections) == -1;
      },
      15s))
      << test::http_request("GET", server->base + "/metrics", nullptr, "").body;
  int frames = viewer.frames_from("blue");
  EXPECT_TRUE(wait_until([&] { return viewer.frames_from("blue") > frames + 15; }, 15s));
  EXPECT_EQ(viewer.frames_from("page"), 0) << "the cancelled publication reached no one";
  EXPECT_TRUE(server->proc->running());
}

}  // namespace
}  // namespace rtcmesh
