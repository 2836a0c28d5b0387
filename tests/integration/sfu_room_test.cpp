// Issue 5's SFU room, end to end through one rtcmesh-server --mode sfu
// subprocess: publishers by WHIP (rtcwhipsink), JSON-RPC (rtcmeshbin) and the
// room page (Chromium); subscribers by JSON-RPC (rtcmeshbin with and without
// inputs, the page) and WHEP (rtcwhepsrc on the room's slots). Everyone decodes
// everyone else; a publisher leaves; a late subscriber decodes a long-GOP
// H.264 publisher at once (keyframe on join); a killed publisher is removed
// within peer-timeout; /metrics follows. Then bad input on every endpoint
// (WHIP, WHEP, JSON-RPC) while a publisher/subscriber pair keeps flowing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <regex>
#include <set>

#include "signaling/json.h"
#include "tests/support/child_mode.h"
#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/room_page.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"
#include "tests/unit/sdp_samples.h"

namespace rtcmesh {
namespace {

using namespace std::chrono_literals;
using namespace test;
using sig::Json;
namespace rpc = sig::rpc;

constexpr const char* kRoom = "hall";
constexpr auto kMeet = 60s;  // Chromium's start included
// peer-timeout 3 s, plus detection and the notification's way out.
constexpr double kRemovalLimitMs = 3000 + 2000;

std::unique_ptr<RtcmeshServer> sfu_server() {
  return RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "sfu", "--peer-timeout", "3000"});
}

std::string metrics(const RtcmeshServer& server) {
  return http_request("GET", server.base + "/metrics", nullptr, "").body;
}

double room_metric(const RtcmeshServer& server, const char* name) {
  return metric_value(metrics(server), name, kRoom);
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// rtcwhepsrc's pads carry no publisher id: its video (audio) tracks that got
// at least `frames` frames (some samples).
int video_tracks_decoding(const WhepViewer& v, int frames) {
  int n = 0;
  for (auto& t : v.tracks())
    if (t->video() && t->buffers >= frames) n++;
  return n;
}
int audio_tracks_decoding(const WhepViewer& v) {
  int n = 0;
  for (auto& t : v.tracks())
    if (!t->video() && t->audio_samples > 0) n++;
  return n;
}
// How many of its video tracks got `frames` more frames within `window`.
int video_tracks_growing(const WhepViewer& v, int frames, std::chrono::milliseconds window) {
  std::map<Track*, int> before;
  for (auto& t : v.tracks())
    if (t->video()) before[t.get()] = t->buffers;
  std::this_thread::sleep_for(window);
  int n = 0;
  for (auto& t : v.tracks())
    if (t->video() && t->buffers >= before[t.get()] + frames) n++;
  return n;
}

std::set<std::string> as_set(const std::vector<std::string>& v) {
  return std::set<std::string>(v.begin(), v.end());
}

// An rtcmeshbin subscriber's view of one publisher: no pad left for it, and
// every track it had ended with EOS.
bool gone_from(RoomParticipant& p, const std::string& publisher) {
  if (pad_peers(p.bin()).count(publisher)) return false;
  for (auto& t : p.tracks())
    if (t->peer_id == publisher && !t->eos) return false;
  return true;
}

// A WHIP publisher of pre-encoded long-GOP H.264 and the test tone.
std::string long_gop_publisher(const std::string& endpoint) {
  return std::string("rtcwhipsink name=s peer-timeout=3000 endpoint=") + endpoint + " " +
         kTestH264LongGop + " ! queue ! s.video_0 " + kTestAudio + " ! queue ! s.audio_0";
}

// The child of ThreePublishersFourSubscribersInOneRoom: an H.264 WHIP
// publisher with a 20 s GOP, until SIGKILL.
int publish_long_gop_until_killed() {
  const char* endpoint = std::getenv("RTCMESH_CHILD_ENDPOINT");
  if (!endpoint) return 2;
  Pipeline pub(long_gop_publisher(endpoint));
  pub.set_state(GST_STATE_PLAYING);
  std::this_thread::sleep_for(120s);
  return 0;
}
RTCMESH_CHILD_MODE("publish-long-gop-until-killed", publish_long_gop_until_killed);

TEST(SfuRoom, ThreePublishersFourSubscribersInOneRoom) {
  if (std::string why = RoomPage::missing(RTCMESH_BROWSER_DIR); !why.empty())
    GTEST_SKIP() << why;
  auto server = sfu_server();
  ASSERT_TRUE(server);
  const std::string ws = server->ws_url();
  auto http = [&](const std::string& path) { return server->base + path; };

  // The signal counters outlive the pipelines that emit them.
  LeftCounter gst_saw_whip{"whip-pub"}, viewer_saw_whip{"whip-pub"};
  LeftCounter gst_saw_cam{"h264cam"}, viewer_saw_cam{"h264cam"}, late_saw_cam{"h264cam"};

  // Publishers: WHIP, rtcmeshbin (also subscribes), the page (also subscribes).
  auto whip = std::make_unique<Pipeline>(
      publisher_launch(http(std::string("/whip/") + kRoom + "/whip-pub"), "peer-timeout=3000"));
  ASSERT_NE(whip->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  RoomParticipant gst(ws, "gst", "", kRoom);
  std::string error;
  auto opened = RoomPage::open(RTCMESH_BROWSER_DIR,
                               http(std::string("/room/") + kRoom + "?peer=page"), "page", 150,
                               &error);
  ASSERT_TRUE(opened) << error;
  RoomPage& page = *opened;
  // Subscribers only: an rtcmeshbin without inputs, and (once the three
  // publish, so that the server's OPTIONS counts them) a player of the slots.
  RoomParticipant viewer(ws, "viewer", "", kRoom, /*publish=*/false);
  gst_saw_whip.watch(gst.bin());
  gst_saw_cam.watch(gst.bin());
  viewer_saw_whip.watch(viewer.bin());
  viewer_saw_cam.watch(viewer.bin());
  // (A page whose driver ended, e.g. Chromium did not start, fails at once.)
  ASSERT_TRUE(wait_until(
                  [&] {
                    page.poll();
                    return page.done || room_metric(*server, "rtcmesh_room_publishers") == 3;
                  },
                  kMeet) &&
              !page.done)
      << metrics(*server) << page.describe();
  WhepViewer slots(http(std::string("/whep/") + kRoom), "peer-timeout=3000");
  ASSERT_TRUE(slots.play());

  auto everyone = [&](int frames) {
    for (const char* from : {"whip-pub", "page"})
      if (gst.frames_from(from) < frames || gst.samples_from(from) == 0) return false;
    for (const char* from : {"whip-pub", "gst", "page"})
      if (viewer.frames_from(from) < frames || viewer.samples_from(from) == 0) return false;
    for (const char* from : {"whip-pub", "gst"})
      if (page.stat(from, "videoFramesDecoded") < frames || page.stat(from, "audioSamples") <= 0)
        return false;
    return video_tracks_decoding(slots, frames) >= 3 && audio_tracks_decoding(slots) >= 3;
  };
  auto describe = [&] {
    std::string out = page.describe() + "\n";
    for (auto [name, p] : {std::pair{"gst", &gst}, std::pair{"viewer", &viewer}}) {
      out += std::string(name) + ":";
      for (const char* from : {"whip-pub", "gst", "page", "h264cam"})
        out += std::string(" ") + from + "=" + std::to_string(p->frames_from(from)) + "f/" +
               std::to_string(p->samples_from(from)) + "s";
      out += "\n" + joined(p->pipeline().errors());
    }
    out += "slots player: " + std::to_string(video_tracks_decoding(slots, 1)) +
           " video tracks decoding, " + std::to_string(audio_tracks_decoding(slots)) +
           " audio\n" + joined(slots.pipeline().errors());
    return out;
  };
  gint64 t0 = g_get_monotonic_time();
  ASSERT_TRUE(wait_until([&] { return everyone(15) || page.done; }, kMeet) && !page.done)
      << describe();
  std::printf("3 publishers, 4 subscribers: everyone decodes everyone %.1f s after the player\n",
              (g_get_monotonic_time() - t0) / 1e6);
  // Nobody receives itself; each JSON-RPC subscriber has one video and one
  // audio pad (tile) per other publisher; the slots player decodes exactly 3.
  EXPECT_EQ(gst.frames_from("gst"), 0);
  EXPECT_EQ(pad_peers(gst.bin()),
            (std::multiset<std::string>{"whip-pub", "whip-pub", "page", "page"}));
  EXPECT_EQ(pad_peers(viewer.bin()), (std::multiset<std::string>{"whip-pub", "whip-pub", "gst",
                                                                 "gst", "page", "page"}));
  EXPECT_EQ(as_set(page.peers()), (std::set<std::string>{"whip-pub", "gst"})) << page.describe();
  EXPECT_EQ(video_tracks_decoding(slots, 1), 3) << describe();
  for (auto& t : gst.tracks()) EXPECT_EQ(t->room, kRoom);

  // /metrics while it flows: 3 publishers (every way in), 3 JSON-RPC
  // subscribers, packets going in and out, keyframe requests for the joins.
  std::string m1 = metrics(*server);
  std::this_thread::sleep_for(2500ms);  // the SFU's stats refresh every second
  std::string m2 = metrics(*server);
  EXPECT_EQ(metric_value(m2, "rtcmesh_room_publishers", kRoom), 3) << m2;
  EXPECT_EQ(metric_value(m2, "rtcmesh_room_subscribers", kRoom), 3) << m2;
  for (const char* counter : {"rtcmesh_packets_in_total", "rtcmesh_packets_out_total"}) {
    EXPECT_GT(metric_value(m1, counter, kRoom), 0) << counter << "\n" << m1;
    EXPECT_GT(metric_value(m2, counter, kRoom), metric_value(m1, counter, kRoom))
        << counter << "\n" << m2;
  }
  EXPECT_GT(metric_value(m2, "rtcmesh_keyframe_requests_total", kRoom), 0) << m2;
  EXPECT_GE(metric_value(m2, "rtcmesh_publishers_total", kRoom), 3) << m2;

  // The WHIP publisher leaves (to NULL: DELETE). The JSON-RPC subscribers get
  // publisher-left and a renegotiation: its pads end, its tile goes; the
  // others keep decoding, the slots player too.
  int gst_from_page = gst.frames_from("page");
  int viewer_from_gst = viewer.frames_from("gst");
  int64_t page_from_gst = page.stat("gst", "videoFramesDecoded");
  gint64 left_at = g_get_monotonic_time();
  whip.reset();
  ASSERT_TRUE(wait_until([&] { return gst_saw_whip.count == 1 && viewer_saw_whip.count == 1; },
                         8s))
      << describe();
  std::printf("publisher left: publisher-left at the rtcmeshbin subscribers after %.0f ms\n",
              (std::max(gst_saw_whip.first_us.load(), viewer_saw_whip.first_us.load()) -
               left_at) / 1000.0);
  EXPECT_TRUE(wait_until([&] { return gone_from(gst, "whip-pub") && gone_from(viewer, "whip-pub"); },
                         8s))
      << "whip-pub's pads end with EOS and go\n"
      << describe();
  EXPECT_TRUE(wait_until([&] { return !page.shows("whip-pub"); }, 10s)) << page.describe();
  EXPECT_EQ(as_set(page.peers()), (std::set<std::string>{"gst"})) << page.describe();
  EXPECT_TRUE(wait_until(
      [&] {
        return gst.frames_from("page") >= gst_from_page + 15 &&
               viewer.frames_from("gst") >= viewer_from_gst + 15 &&
               page.stat("gst", "videoFramesDecoded") >= page_from_gst + 15;
      },
      10s))
      << describe();
  EXPECT_EQ(video_tracks_growing(slots, 10, 2s), 2) << describe();
  EXPECT_TRUE(wait_until([&] { return room_metric(*server, "rtcmesh_room_publishers") == 2; }, 5s))
      << metrics(*server);

  // A long-GOP H.264 publisher (in a child process, killed below). Once it
  // has been flowing for a while, a late rtcmeshbin subscriber and then a
  // WHEP player of it must decode within 1 s of joining: the SFU asks the
  // publisher for a keyframe when a subscriber joins.
  Subprocess::Options child_opts;
  child_opts.env = {{"RTCMESH_CHILD_ENDPOINT", http(std::string("/whip/") + kRoom + "/h264cam")}};
  child_opts.echo_prefix = "[h264cam]";
  auto child = Subprocess::spawn(child_mode_command("publish-long-gop-until-killed"), child_opts);
  ASSERT_TRUE(child);
  ASSERT_TRUE(wait_until(
      [&] { return viewer.frames_from("h264cam") >= 10 && gst.frames_from("h264cam") >= 10; },
      30s))
      << describe();
  std::this_thread::sleep_for(2s);  // past the keyframe-request rate limit of those joins
  auto late = std::make_unique<RoomParticipant>(ws, "late", "", kRoom, /*publish=*/false);
  late_saw_cam.watch(late->bin());
  ASSERT_TRUE(wait_until([&] { return late->frames_from("h264cam") >= 1; }, 10s)) << describe();
  double late_ms = late->first_frame_ms("h264cam");
  EXPECT_TRUE(wait_until(
      [&] { return late->frames_from("gst") >= 5 && late->frames_from("page") >= 5; }, 10s))
      << "the late subscriber gets every publisher";
  std::this_thread::sleep_for(1500ms);
  WhepViewer one(http(std::string("/whep/") + kRoom + "/h264cam"), "peer-timeout=3000");
  ASSERT_TRUE(one.play());
  ASSERT_TRUE(wait_until([&] { return one.video_frames() >= 1; }, 10s))
      << joined(one.pipeline().errors());
  double whep_ms = one.first_frame_delay_us() / 1000.0;
  std::printf("late subscriber, H.264 with a 20 s GOP: first frame after %.0f ms (rtcmeshbin, "
              "join to frame), %.0f ms (rtcwhepsrc of /whep/%s/h264cam, play to frame)\n",
              late_ms, whep_ms, kRoom);
  EXPECT_LT(late_ms, 1000);
  EXPECT_LT(whep_ms, 1000);

  // The H.264 publisher is killed (no DELETE): within peer-timeout the
  // JSON-RPC subscribers get publisher-left and /metrics counts 2 again.
  ASSERT_TRUE(wait_until([&] { return room_metric(*server, "rtcmesh_room_publishers") == 3; }, 5s));
  child->send_signal(SIGKILL);
  gint64 killed_at = g_get_monotonic_time();
  double metrics_ms = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        if (metrics_ms < 0 && room_metric(*server, "rtcmesh_room_publishers") == 2)
          metrics_ms = (g_get_monotonic_time() - killed_at) / 1000.0;
        return metrics_ms >= 0 && gst_saw_cam.count == 1 && viewer_saw_cam.count == 1 &&
               late_saw_cam.count == 1;
      },
      15s))
      << describe() << metrics(*server);
  double left_ms = (std::max({gst_saw_cam.first_us.load(), viewer_saw_cam.first_us.load(),
                              late_saw_cam.first_us.load()}) -
                    killed_at) / 1000.0;
  std::printf("killed publisher: publisher-left at all subscribers after %.0f ms, /metrics "
              "publishers 2 after %.0f ms (peer-timeout 3000)\n",
              left_ms, metrics_ms);
  EXPECT_LT(left_ms, kRemovalLimitMs);
  EXPECT_LT(metrics_ms, kRemovalLimitMs);
  EXPECT_TRUE(wait_until([&] { return gone_from(viewer, "h264cam") && gone_from(*late, "h264cam"); },
                         8s))
      << describe();
  EXPECT_TRUE(wait_until([&] { return !page.shows("h264cam"); }, 10s)) << page.describe();

  for (auto* p : {&gst, &viewer, late.get()})
    EXPECT_TRUE(p->pipeline().errors().empty()) << joined(p->pipeline().errors());
  EXPECT_TRUE(page.last_error.empty()) << page.last_error;
  page.proc->send_signal(SIGTERM);
  auto page_status = page.proc->wait(20s);
  ASSERT_TRUE(page_status);
  EXPECT_EQ(*page_status, 0) << page.describe();
}

// --- bad input on every endpoint ----------------------------------------------

class SfuRoomBadInput : public RpcTest {};

// An SDP offer of codecs the room does not take (H.265, PCMA).
std::string offer_of_no_room_codec() {
  std::string sdp = webrtcbin_offer("sendonly");
  sdp = std::regex_replace(sdp, std::regex("VP8/90000"), "H265/90000");
  sdp = std::regex_replace(sdp, std::regex("OPUS/48000/2"), "PCMA/8000");
  return std::regex_replace(sdp, std::regex("a=fmtp:97 [^\n]*\n"), "");
}

// A well-formed answer (ICE and DTLS attributes, setup:active).
std::string an_answer() {
  return std::regex_replace(webrtcbin_offer("recvonly"), std::regex("actpass"), "active");
}

TEST_F(SfuRoomBadInput, EveryEndpointRefusesAndThePairGoesOn) {
  auto server = sfu_server();
  ASSERT_TRUE(server);
  auto http = [&](const std::string& path) { return server->base + path; };
  const std::string whip = http(std::string("/whip/") + kRoom);
  const std::string whep = http(std::string("/whep/") + kRoom);

  // The pair that must keep flowing: a WHIP publisher, a JSON-RPC subscriber
  // (rtcmeshbin without inputs) and a WHEP player of it.
  LeftCounter saw_cam{"cam"};
  Pipeline cam(publisher_launch(whip + "/cam", "peer-timeout=3000"));
  ASSERT_NE(cam.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  RoomParticipant viewer(server->ws_url(), "viewer", "", kRoom, /*publish=*/false);
  saw_cam.watch(viewer.bin());
  WhepViewer player(whep + "/cam", "peer-timeout=3000");
  ASSERT_TRUE(wait_until([&] { return room_metric(*server, "rtcmesh_room_publishers") == 1; }, 20s));
  ASSERT_TRUE(player.play());
  ASSERT_TRUE(wait_until(
      [&] { return viewer.frames_from("cam") >= 10 && player.video_frames() >= 10; }, 30s))
      << joined(cam.errors()) << joined(viewer.pipeline().errors());

  // WHIP.
  auto post = [&](const std::string& url, const std::string& body,
                  const char* type = "application/sdp") {
    return http_request("POST", url, type, body);
  };
  const std::string offer = chromium_offer("sendonly");
  HttpReply r = post(whip + "/x", "v=0 garbage");
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(post(whip + "/x", offer, "text/plain").status, 415u);
  r = post(whip + "/cam", offer);
  EXPECT_EQ(r.status, 409u) << r.body;
  EXPECT_EQ(post(whip + "/x", std::string(300 * 1024, 'v')).status, 413u);
  r = http_request("PATCH", whip + "/cam/no-such-resource", "application/trickle-ice-sdpfrag",
                   "a=ice-ufrag:abcd\r\n");
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_EQ(http_request("DELETE", whip + "/cam/no-such-resource", nullptr, "").status, 404u);
  r = http_request("GET", whip, nullptr, "");
  EXPECT_EQ(r.status, 405u) << r.body;
  EXPECT_NE(r.header("Allow").find("POST"), std::string::npos) << r.header("Allow");
  // WHEP.
  r = post(whep + "/nobody", chromium_offer("recvonly"));
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_NE(r.body.find("nobody"), std::string::npos) << r.body;
  EXPECT_EQ(post(whep + "/cam", "v=0\r\n").status, 400u);
  EXPECT_EQ(post(whep, "not sdp at all").status, 400u);

  // JSON-RPC in the SFU room, over a real WebSocket.
  RpcClient& m = connect(server->ws_url());
  EXPECT_EQ(code(m, "publish", Json::object({{"sdp", webrtcbin_offer("sendonly")}})),
            rpc::kNotJoined);
  sig::WsClient::Reply join =
      call(m, "join", Json::object({{"room", kRoom}, {"peer", "mallory"}}));
  ASSERT_TRUE(join.ok()) << join.error.message;
  EXPECT_EQ(join.result.get_string("mode"), "sfu");
  ASSERT_TRUE(join.result.find("publishers"));
  EXPECT_NE(join.result.find("publishers")->dump().find("\"cam\""), std::string::npos)
      << join.result.dump();
  EXPECT_EQ(code(m, "publish", Json::object({{"sdp", "v=0 garbage"}})), rpc::kInvalidParams);
  sig::WsClient::Reply no_codec =
      call(m, "publish", Json::object({{"sdp", offer_of_no_room_codec()}}));
  EXPECT_EQ(no_codec.error.code, rpc::kNoCommonCodec) << no_codec.error.message;
  EXPECT_NE(no_codec.error.data.dump().find("\"H265\""), std::string::npos)
      << no_codec.error.data.dump();
  EXPECT_NE(no_codec.error.data.dump().find("\"VP8\""), std::string::npos)
      << no_codec.error.data.dump();
  EXPECT_EQ(code(m, "offer", Json::object({{"to", "viewer"}, {"sdp", webrtcbin_offer()}})),
            rpc::kInvalidParams);
  EXPECT_EQ(code(m, "unpublish"), rpc::kNotJoined);
  EXPECT_EQ(code(m, "unsubscribe"), rpc::kNotJoined);
  // subscribe twice; an answer naming another negotiation than the offer's.
  ASSERT_EQ(code(m, "subscribe"), 0);
  EXPECT_EQ(code(m, "subscribe"), rpc::kDuplicatePeer);
  ASSERT_TRUE(run_until([&] { return !m.got("offer").empty(); }, 10000));
  const Json* nid = m.got("offer")[0].find("negotiationId");
  ASSERT_TRUE(nid && nid->is_number()) << m.got("offer")[0].dump();
  int64_t in_flight = nid->as_int();
  sig::WsClient::Reply stale = call(
      m, "answer",
      Json::object({{"sdp", an_answer()}, {"negotiationId", in_flight + 1000}}));
  EXPECT_EQ(stale.error.code, rpc::kInvalidParams) << stale.error.message;
  ASSERT_TRUE(stale.error.data.find("negotiationId")) << stale.error.message;
  EXPECT_EQ(stale.error.data.find("negotiationId")->as_int(), in_flight);
  // publish twice: the first (an offer nobody will complete ICE for) is
  // answered, the second refused; then unpublish.
  sig::WsClient::Reply first =
      call(m, "publish", Json::object({{"sdp", webrtcbin_offer("sendonly")}}));
  ASSERT_TRUE(first.ok()) << first.error.message;
  EXPECT_NE(first.result.get_string("sdp").value_or("").find("m=video"), std::string::npos);
  EXPECT_EQ(code(m, "publish", Json::object({{"sdp", webrtcbin_offer("sendonly")}})),
            rpc::kDuplicatePeer);
  EXPECT_EQ(code(m, "unpublish"), 0);
  EXPECT_EQ(code(m, "unpublish"), rpc::kNotJoined);
  EXPECT_EQ(code(m, "ping"), 0);
  EXPECT_FALSE(m.closed);

  // A subscriber that cannot decode cam's VP8 is told so, naming the codecs,
  // and is offered cam's Opus only.
  RpcClient& picky = connect(server->ws_url());
  ASSERT_EQ(code(picky, "join", Json::object({{"room", kRoom}, {"peer", "picky"}})), 0);
  ASSERT_EQ(code(picky, "subscribe", Json::object({{"codecs", Json(Json::Array{"H264", "OPUS"})}})),
            0);
  ASSERT_TRUE(run_until([&] { return !picky.got("error").empty() && !picky.got("offer").empty(); },
                        10000));
  Json mismatch = picky.got("error")[0];
  EXPECT_EQ(mismatch.find("code")->as_int(), rpc::kNoCommonCodec) << mismatch.dump();
  EXPECT_NE(mismatch.dump().find("\"VP8\""), std::string::npos) << mismatch.dump();
  EXPECT_NE(mismatch.dump().find("\"H264\""), std::string::npos) << mismatch.dump();
  std::string offered = picky.got("offer")[0].find("tracks")->dump();
  EXPECT_NE(offered.find("\"OPUS\""), std::string::npos) << offered;
  EXPECT_EQ(offered.find("\"VP8\""), std::string::npos) << offered;

  // The pair noticed nothing: frames keep coming, cam is still published.
  int viewer_before = viewer.frames_from("cam");
  int player_before = player.video_frames();
  EXPECT_TRUE(wait_until(
      [&] {
        return viewer.frames_from("cam") >= viewer_before + 20 &&
               player.video_frames() >= player_before + 20;
      },
      10s))
      << viewer.frames_from("cam") << " " << player.video_frames();
  EXPECT_EQ(saw_cam.count, 0);
  EXPECT_EQ(room_metric(*server, "rtcmesh_room_publishers"), 1) << metrics(*server);
  EXPECT_TRUE(cam.errors().empty()) << joined(cam.errors());
  EXPECT_TRUE(viewer.pipeline().errors().empty()) << joined(viewer.pipeline().errors());
  EXPECT_TRUE(player.pipeline().errors().empty()) << joined(player.pipeline().errors());
}

}  // namespace
}  // namespace rtcmesh
