// A peer whose DTLS certificate is not the one its description declares gets
// no media, in either direction (RFC 8122; webrtcbin 1.22 never checks): a
// man in the middle rewrites the a=fingerprint of the offer (the client lies
// to the server) or of the answer (the server lies to the client), for WHIP
// and WHEP. Honest peers of the same element keep going.
#include <gtest/gtest.h>

#include <regex>

#include "gst/peer/peer.h"
#include "tests/support/fingerprint_proxy.h"
#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/room_host.h"

using namespace rtcmesh;
using namespace rtcmesh::test;
using Lie = FingerprintProxy::Lie;

namespace {

constexpr auto kRefused = "DTLS certificate refused";
constexpr auto kMediaTimeout = 20s;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

bool any_contains(const std::vector<std::string>& lines, const char* text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

// A counter of an element's "stats" (0 when absent).
guint64 stat_of(GstElement* element, const char* field) {
  GstStructure* stats = nullptr;
  g_object_get(element, "stats", &stats, nullptr);
  guint64 value = 0;
  if (stats) {
    gst_structure_get_uint64(stats, field, &value);
    gst_structure_free(stats);
  }
  return value;
}

// A server counts a refused session among its failed ones (no pipeline
// warning, as for any remote session that fails); a client warns.
void expect_told(Lie lie, GstElement* server, const char* failed_field, Pipeline& client) {
  if (lie == Lie::kOffer)
    EXPECT_GE(stat_of(server, failed_field), 1u);
  else
    EXPECT_TRUE(any_contains(client.warnings(), kRefused)) << joined(client.warnings());
}

// Refusals counted by this process since `before`.
bool refused_since(uint64_t before) {
  return wait_until([&] { return peer::Peer::dtls_refusals() > before; }, 15s);
}

TEST(FingerprintProxy, RewritesEveryFingerprintAndNothingElse) {
  std::string sdp = "v=0\r\na=fingerprint:sha-256 AB:CD\r\nm=video 9 X 96\r\n"
                    "a=fingerprint:sha-1 00:10\r\na=mid:0\r\n";
  int n = 0;
  EXPECT_EQ(FingerprintProxy::lie_about(sdp, &n),
            "v=0\r\na=fingerprint:sha-256 AB:C0\r\nm=video 9 X 96\r\n"
            "a=fingerprint:sha-1 00:11\r\na=mid:0\r\n");
  EXPECT_EQ(n, 2);
}

class WhipLie : public testing::TestWithParam<Lie> {};

TEST_P(WhipLie, LiarIsRefusedHonestPublisherIsDecoded) {
  Ingest ingest("peer-timeout=3000");
  FingerprintProxy proxy(ingest.url(""), GetParam());
  uint64_t before = peer::Peer::dtls_refusals();
  Pipeline liar(publisher_launch(proxy.url("/whip/stage/liar")));
  Pipeline honest(publisher_launch(ingest.url("/whip/stage/honest")));
  liar.set_state(GST_STATE_PLAYING);
  honest.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(refused_since(before));
  EXPECT_GE(proxy.rewritten(), 1);
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames("honest") >= 30; }, kMediaTimeout))
      << joined(honest.errors()) << joined(ingest.pipeline().errors());
  EXPECT_GT(ingest.audio_samples("honest"), 0u);
  // The liar's session never carried media, and whoever was lied to said so.
  EXPECT_EQ(ingest.video_frames("liar"), 0);
  EXPECT_EQ(ingest.audio_samples("liar"), 0u);
  expect_told(GetParam(), ingest.src(), "publishers-failed", liar);
  EXPECT_TRUE(ingest.pipeline().errors().empty()) << joined(ingest.pipeline().errors());
}

INSTANTIATE_TEST_SUITE_P(Dtls, WhipLie, testing::Values(Lie::kOffer, Lie::kAnswer),
                         [](const testing::TestParamInfo<Lie>& info) {
                           return std::string(info.param == Lie::kOffer ? "Client" : "Server");
                         });

class WhepLie : public testing::TestWithParam<Lie> {};

TEST_P(WhepLie, LiarGetsNothingHonestViewerPlays) {
  WhepStream stream("peer-timeout=3000");
  ASSERT_TRUE(stream.wait_ready());
  FingerprintProxy proxy(stream.url(""), GetParam());
  uint64_t before = peer::Peer::dtls_refusals();
  WhepViewer liar(proxy.url("/whep"), "peer-timeout=3000");
  WhepViewer honest(stream.url(), "peer-timeout=3000");
  ASSERT_TRUE(liar.play());
  ASSERT_TRUE(honest.play());
  ASSERT_TRUE(refused_since(before));
  EXPECT_GE(proxy.rewritten(), 1);
  ASSERT_TRUE(wait_until([&] { return honest.video_frames() >= 30; }, kMediaTimeout))
      << joined(honest.pipeline().errors()) << joined(stream.pipeline().errors());
  EXPECT_GT(honest.audio_samples(), 0u);
  EXPECT_EQ(liar.video_frames(), 0);
  EXPECT_EQ(liar.audio_samples(), 0u);
  expect_told(GetParam(), stream.sink(), "viewers-failed", liar.pipeline());
  EXPECT_TRUE(stream.pipeline().errors().empty()) << joined(stream.pipeline().errors());
}

INSTANTIATE_TEST_SUITE_P(Dtls, WhepLie, testing::Values(Lie::kOffer, Lie::kAnswer),
                         [](const testing::TestParamInfo<Lie>& info) {
                           return std::string(info.param == Lie::kOffer ? "Client" : "Server");
                         });

}  // namespace

// An SFU room: a publisher that lies to the server never reaches the room's
// src pads or players; a player told a lie about the server gets nothing; the
// honest publisher and player of the same room go on.
TEST(DtlsSfuRoom, LiarsGetNothingHonestPeersPlay) {
  Pipeline room("rtcsfu name=sfu port=0 room=r peer-timeout=3000");
  GstElement* sfu = room.by_name("sfu");
  TrackSinks pads(sfu, "video/x-vp8", "audio/x-opus");
  ASSERT_NE(room.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << joined(room.errors());
  guint port = 0;
  g_object_get(sfu, "port", &port, nullptr);
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  FingerprintProxy lying_publisher(base, Lie::kOffer), lying_server(base, Lie::kAnswer);
  uint64_t before = peer::Peer::dtls_refusals();

  Pipeline honest(publisher_launch(base + "/whip/r/honest"));
  Pipeline liar(publisher_launch(lying_publisher.url("/whip/r/liar")));
  honest.set_state(GST_STATE_PLAYING);
  liar.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return pads.video_frames("honest") >= 15; }, kMediaTimeout))
      << joined(room.errors()) << joined(honest.errors());
  WhepViewer player(base + "/whep/r", "peer-timeout=3000");
  WhepViewer fooled(lying_server.url("/whep/r"), "peer-timeout=3000");
  ASSERT_TRUE(player.play());
  ASSERT_TRUE(fooled.play());
  ASSERT_TRUE(wait_until([&] { return player.video_frames() >= 30; }, kMediaTimeout))
      << joined(player.pipeline().errors());
  ASSERT_TRUE(wait_until([&] { return peer::Peer::dtls_refusals() >= before + 2; }, 15s));
  EXPECT_EQ(pads.video_frames("liar"), 0);
  EXPECT_EQ(pads.audio_samples("liar"), 0u);
  EXPECT_EQ(fooled.video_frames(), 0);
  EXPECT_EQ(fooled.audio_samples(), 0u);
  EXPECT_TRUE(any_contains(fooled.pipeline().warnings(), kRefused))
      << joined(fooled.pipeline().warnings());
  EXPECT_TRUE(room.errors().empty()) << joined(room.errors());
  // Operators see it: the process's refusals on the room host's /metrics.
  HttpReply metrics = http_request("GET", base + "/metrics", nullptr, "");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics.body, m, std::regex("rtcmesh_dtls_refusals_total (\\d+)")))
      << metrics.body;
  EXPECT_GE(std::stoull(m[1]), before + 2);
}

// A mesh room: the server only relays descriptions, so the check is the
// participants' own. A man in the middle of one participant's signaling
// lies about its certificate (what it sends) or about the others' (what it
// receives): nobody decodes the liar's connections, in either direction,
// and the honest participants of the room decode each other.
class MeshLie : public testing::TestWithParam<Lie> {};

TEST_P(MeshLie, NobodyDecodesTheLiedAboutConnectionsTheOthersGoOn) {
  RoomHost host;
  FingerprintWsProxy proxy(host.url(), GetParam());
  uint64_t before = peer::Peer::dtls_refusals();
  RoomParticipant a(host.url(), "a"), b(host.url(), "b"), liar(proxy.url(), "liar");
  std::vector<RoomParticipant*> honest = {&a, &b};
  std::vector<std::string> ids = {"a", "b"};
  ASSERT_TRUE(wait_until([&] { return everyone_sees_everyone(honest, ids, 30); }, kMediaTimeout))
      << describe(honest, ids);
  // Both connections of the liar are refused (by a and b, or by the liar).
  ASSERT_TRUE(wait_until([&] { return peer::Peer::dtls_refusals() >= before + 2; }, 15s))
      << "refusals: " << peer::Peer::dtls_refusals() - before << ", frames rewritten "
      << proxy.rewritten();
  EXPECT_GE(proxy.rewritten(), 2);
  for (auto* p : honest) {
    EXPECT_EQ(p->frames_from("liar"), 0);
    EXPECT_EQ(p->samples_from("liar"), 0u);
  }
  EXPECT_EQ(liar.frames_from("a") + liar.frames_from("b"), 0);
  EXPECT_EQ(liar.samples_from("a") + liar.samples_from("b"), 0u);
  // Whoever met the wrong certificate said so.
  RoomParticipant& told = GetParam() == Lie::kOffer ? a : liar;
  EXPECT_TRUE(any_contains(told.pipeline().warnings(), kRefused))
      << joined(told.pipeline().warnings()) << "errors:" << joined(told.pipeline().errors());
  for (auto* p : {&a, &b, &liar}) EXPECT_TRUE(p->pipeline().errors().empty());
}

INSTANTIATE_TEST_SUITE_P(Dtls, MeshLie, testing::Values(Lie::kOffer, Lie::kAnswer),
                         [](const testing::TestParamInfo<Lie>& info) {
                           return std::string(info.param == Lie::kOffer ? "AboutItself"
                                                                         : "AboutTheOthers");
                         });
