// rtcwhipsink → rtcwhipsrc over loopback with real webrtcbin on both sides:
// decoded frames and audio samples must arrive.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "signaling/auth/tokens.h"
#include "tests/support/child_mode.h"
#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/subprocess.h"

using namespace rtcmesh::test;

namespace {

constexpr auto kMediaTimeout = 15s;

std::string joined(const std::vector<std::string>& v) {
  return std::accumulate(v.begin(), v.end(), std::string(),
                         [](std::string a, const std::string& b) { return a + b + "\n"; });
}

TEST(Whip, RawVideoAndAudioArriveDecoded) {
  Ingest ingest("peer-timeout=3000");
  Pipeline pub(publisher_launch(ingest.url("/whip/room1/alice")));
  ASSERT_NE(pub.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames() >= 20 && ingest.audio_samples() >= 48000 / 2; },
                         kMediaTimeout))
      << "frames " << ingest.video_frames() << " samples " << ingest.audio_samples() << "\n"
      << joined(pub.errors()) << joined(ingest.pipeline().errors());
  for (auto& t : ingest.tracks()) {
    EXPECT_EQ(t->peer_id, "alice");
    EXPECT_EQ(t->room, "room1");
    if (t->video()) {
      EXPECT_EQ(t->codec, "VP8");
      EXPECT_NE(t->caps.find("video/x-raw"), std::string::npos) << t->caps;
      EXPECT_NE(t->caps.find("width=(int)320"), std::string::npos) << t->caps;
      EXPECT_NE(t->caps.find("height=(int)240"), std::string::npos) << t->caps;
    } else {
      EXPECT_EQ(t->codec, "OPUS");
      EXPECT_NE(t->caps.find("audio/x-raw"), std::string::npos) << t->caps;
    }
  }
  EXPECT_EQ(ingest.added(), 1u);
  EXPECT_TRUE(pub.errors().empty()) << joined(pub.errors());

  // Stats on both ends count what flowed.
  GstStructure* stats = nullptr;
  g_object_get(pub.by_name("s"), "stats", &stats, nullptr);
  ASSERT_NE(stats, nullptr);
  gboolean connected = FALSE;
  guint64 sent = 0;
  gst_structure_get(stats, "connected", G_TYPE_BOOLEAN, &connected, "packets-sent", G_TYPE_UINT64,
                    &sent, nullptr);
  gst_structure_free(stats);
  EXPECT_TRUE(connected);
  EXPECT_GT(sent, 0u);

  // Publisher stops: DELETE ends its session; its pads stay, without EOS,
  // for its next session (eos-on-leave=false; see OutlivesItsPublisher).
  pub.set_state(GST_STATE_NULL);
  ASSERT_TRUE(wait_until([&] { return ingest.removed() == 1; }, 5s));
  for (auto& t : ingest.tracks()) EXPECT_FALSE(t->eos) << t->pad;
  EXPECT_FALSE(ingest.pipeline().got_eos());
}

// The pad objects of an element, by name.
std::map<std::string, GstPad*> pads_of(GstElement* element) {
  std::map<std::string, GstPad*> out;
  GstIterator* it = gst_element_iterate_src_pads(element);
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    auto* pad = GST_PAD(g_value_get_object(&v));
    out[GST_PAD_NAME(pad)] = pad;  // compared by address only
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return out;
}

// Issue 12: an ingest pipeline lives until it is stopped. A publisher that
// leaves leaves its pads (no EOS, no error); when it publishes again under
// the same name, media continues on the same pad objects; a second session
// of a live name replaces the first (an OBS reconnect before the old one
// timed out).
TEST(Whip, IngestOutlivesItsPublisherAndContinuesOnItsPads) {
  Ingest ingest("peer-timeout=3000");
  auto pub = std::make_unique<Pipeline>(publisher_launch(ingest.url("/whip/live/obs")));
  ASSERT_NE(pub->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames() >= 15 && ingest.audio_samples() > 0; },
                         kMediaTimeout))
      << joined(pub->errors()) << joined(ingest.pipeline().errors());
  std::map<std::string, GstPad*> pads = pads_of(ingest.src());
  ASSERT_EQ(pads.size(), 2u);
  ASSERT_TRUE(pads.count("video_0") && pads.count("audio_0"));

  // It leaves (DELETE): the session ends, the pads stay, nothing ends.
  pub.reset();
  ASSERT_TRUE(wait_until([&] { return ingest.removed() == 1; }, 5s));
  std::this_thread::sleep_for(2s);  // longer than the ~1.6 s the old EOS took
  EXPECT_EQ(pads_of(ingest.src()), pads);
  for (auto& t : ingest.tracks()) EXPECT_FALSE(t->eos) << t->pad;
  EXPECT_FALSE(ingest.pipeline().got_eos());
  int frames = ingest.video_frames();
  guint64 samples = ingest.audio_samples();

  // It comes back under the same name: media again, on the same pads.
  pub = std::make_unique<Pipeline>(publisher_launch(ingest.url("/whip/live/obs")));
  ASSERT_NE(pub->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_until(
      [&] {
        return ingest.video_frames() >= frames + 15 && ingest.audio_samples() > samples + 24000;
      },
      kMediaTimeout))
      << "frames " << ingest.video_frames() << " (had " << frames << ")\n"
      << joined(pub->errors()) << joined(ingest.pipeline().errors());
  EXPECT_EQ(pads_of(ingest.src()), pads);
  EXPECT_EQ(ingest.tracks().size(), 2u);  // no new pad-added
  EXPECT_EQ(ingest.added(), 2u);

  // A new session while the old one is live replaces it, on the same pads.
  Pipeline again(publisher_launch(ingest.url("/whip/live/obs")));
  ASSERT_NE(again.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_until([&] { return ingest.removed() == 2 && ingest.added() == 3; }, 10s));
  pub.reset();  // before its own retry would replace the newcomer
  frames = ingest.video_frames();
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames() >= frames + 15; }, kMediaTimeout))
      << joined(again.errors()) << joined(ingest.pipeline().errors());
  EXPECT_EQ(pads_of(ingest.src()), pads);
  for (auto& t : ingest.tracks()) EXPECT_FALSE(t->eos) << t->pad;
  EXPECT_FALSE(ingest.pipeline().got_eos());
  EXPECT_TRUE(ingest.pipeline().errors().empty()) << joined(ingest.pipeline().errors());

  // EOS sent to the pipeline (gst-launch -e) ends every pad.
  gst_element_send_event(ingest.pipeline().get(), gst_event_new_eos());
  EXPECT_TRUE(wait_until(
      [&] {
        for (auto& t : ingest.tracks())
          if (!t->eos) return false;
        return true;
      },
      5s));
}

struct EncodedCase {
  const char* name;
  const char* video;  // encoded upstream: the sink must not re-encode
  const char* audio;
  const char* codec;  // expected on the ingest pad
};

class WhipEncoded : public testing::TestWithParam<EncodedCase> {};

TEST_P(WhipEncoded, PassedThroughAndDecoded) {
  const EncodedCase& c = GetParam();
  Ingest ingest("peer-timeout=3000");
  std::string launch = "rtcwhipsink name=s endpoint=" + ingest.url("/whip");
  if (*c.video)
    launch += std::string(" videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! ") +
              c.video + " ! s.video_0";
  if (*c.audio)
    launch += std::string(" audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=2 ! ") +
              c.audio + " ! s.audio_0";
  Pipeline pub(launch);
  ASSERT_NE(pub.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  bool video = *c.video, audio = *c.audio;
  ASSERT_TRUE(wait_until(
      [&] {
        return (!video || ingest.video_frames() >= 15) && (!audio || ingest.audio_samples() >= 24000);
      },
      kMediaTimeout))
      << c.name << ": frames " << ingest.video_frames() << " samples " << ingest.audio_samples()
      << "\n" << joined(pub.errors()) << joined(ingest.pipeline().errors());
  for (auto& t : ingest.tracks())
    if (t->video() == video) {
      EXPECT_EQ(t->codec, c.codec);
    }
  // Pass-through: no encoder was added inside the sink.
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(pub.by_name("s")));
  GValue item = G_VALUE_INIT;
  int encoders = 0;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&item));
    const char* klass = gst_element_class_get_metadata(GST_ELEMENT_GET_CLASS(e), "klass");
    if (klass && (strstr(klass, "Encoder/Video") || strstr(klass, "Encoder/Audio"))) encoders++;
    g_value_reset(&item);
  }
  gst_iterator_free(it);
  EXPECT_EQ(encoders, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, WhipEncoded,
    testing::Values(
        EncodedCase{"VP8", "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=300", "", "VP8"},
        EncodedCase{"VP9", "vp9enc deadline=1 cpu-used=8 keyframe-max-dist=300", "", "VP9"},
        EncodedCase{"H264",
                    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 ! "
                    "video/x-h264,profile=constrained-baseline",
                    "", "H264"},
        EncodedCase{"Opus", "", "opusenc", "OPUS"}),
    [](const testing::TestParamInfo<EncodedCase>& info) { return std::string(info.param.name); });

TEST(Whip, TwoPublishersAtOnce) {
  Ingest ingest("peer-timeout=3000");
  Pipeline a(publisher_launch(ingest.url("/whip/stage/a")));
  Pipeline b(publisher_launch(ingest.url("/whip/stage/b"), "video-codec=h264"));
  a.set_state(GST_STATE_PLAYING);
  b.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until(
      [&] { return ingest.video_frames("a") >= 15 && ingest.video_frames("b") >= 15 &&
                   ingest.audio_samples("a") > 0 && ingest.audio_samples("b") > 0; },
      kMediaTimeout))
      << "a " << ingest.video_frames("a") << "/" << ingest.audio_samples("a") << " b "
      << ingest.video_frames("b") << "/" << ingest.audio_samples("b") << "\n"
      << joined(a.errors()) << joined(b.errors()) << joined(ingest.pipeline().errors());
  EXPECT_EQ(ingest.tracks().size(), 4u);
  EXPECT_EQ(ingest.added(), 2u);
  for (auto& t : ingest.tracks())
    if (t->video()) {
      EXPECT_EQ(t->codec, t->peer_id == "b" ? "H264" : "VP8");
    }
  // One leaving does not disturb the other.
  a.set_state(GST_STATE_NULL);
  ASSERT_TRUE(wait_until([&] { return ingest.removed() == 1; }, 5s));
  int before = ingest.video_frames("b");
  EXPECT_TRUE(wait_until([&] { return ingest.video_frames("b") >= before + 15; }, 5s));
}

// The child of KilledPublisherIsRemovedWithinPeerTimeout: publishes until killed.
int publish_until_killed() {
  const char* endpoint = std::getenv("RTCMESH_CHILD_ENDPOINT");
  if (!endpoint) return 2;
  Pipeline pub(publisher_launch(endpoint));
  pub.set_state(GST_STATE_PLAYING);
  std::printf("publishing\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return 0;
}
RTCMESH_CHILD_MODE("publish-until-killed", publish_until_killed);

// eos-on-leave=true: the old behaviour, on request: a publisher that goes
// away ends its pads with EOS (muxers finish) and they are removed.
TEST(Whip, KilledPublisherIsRemovedWithinPeerTimeout) {
  Ingest ingest("peer-timeout=2000 eos-on-leave=true");
  Pipeline stays(publisher_launch(ingest.url("/whip/room/stays")));
  stays.set_state(GST_STATE_PLAYING);
  // The other publisher is a child process we SIGKILL: no DELETE is ever sent.
  Subprocess::Options opts;
  opts.env = {{"RTCMESH_CHILD_ENDPOINT", ingest.url("/whip/room/killed")}};
  auto child = Subprocess::spawn(child_mode_command("publish-until-killed"), opts);
  ASSERT_TRUE(child);
  // The child process starts GStreamer from scratch: give it longer.
  ASSERT_TRUE(wait_until(
      [&] { return ingest.video_frames("killed") >= 10 && ingest.video_frames("stays") >= 10; },
      2 * kMediaTimeout));
  child->send_signal(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return ingest.removed() == 1; }, 8s));
  auto took = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(took, 2s + 2s) << "removed after "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  for (auto& t : ingest.tracks())
    if (t->peer_id == "killed") {
      EXPECT_TRUE(t->eos);
    }
  int before = ingest.video_frames("stays");
  EXPECT_TRUE(wait_until([&] { return ingest.video_frames("stays") >= before + 15; }, 5s));
  EXPECT_TRUE(ingest.pipeline().errors().empty()) << joined(ingest.pipeline().errors());
}

TEST(Whip, PublisherReconnectsWhenTheServerRestarts) {
  unsigned port;
  auto ingest = std::make_unique<Ingest>("peer-timeout=2000");
  port = ingest->port();
  Pipeline pub(publisher_launch(ingest->url("/whip/r/p"), "peer-timeout=2000"));
  pub.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return ingest->video_frames() >= 10; }, kMediaTimeout));
  ingest.reset();  // the server vanishes (no goodbye to the publisher)
  std::this_thread::sleep_for(500ms);
  ingest = std::make_unique<Ingest>("peer-timeout=2000", "video/x-raw", "audio/x-raw", port);
  ASSERT_TRUE(wait_until([&] { return ingest->video_frames() >= 10; }, 20s))
      << joined(pub.errors()) << joined(pub.warnings());
  EXPECT_TRUE(pub.errors().empty()) << joined(pub.errors());
  EXPECT_FALSE(pub.warnings().empty()) << "each reconnect attempt warns";
}

TEST(Whip, PublisherUsesTheServersLinkIceServers) {
  // rtcwhipsrc advertises its stun-server as Link on OPTIONS (nothing listens
  // there: host candidates still connect, srflx gathering just times out).
  Ingest ingest("stun-server=stun://127.0.0.1:3478");
  Pipeline pub(publisher_launch(ingest.url("/whip")));
  struct Seen {
    std::mutex mutex;
    std::string stun;
  } seen;
  auto on_added = +[](GstBin*, GstElement* element, gpointer d) {
    if (g_strcmp0(G_OBJECT_TYPE_NAME(element), "GstWebRTCBin") != 0) return;
    auto* seen = static_cast<Seen*>(d);
    gchar* value = nullptr;
    g_object_get(element, "stun-server", &value, nullptr);
    std::lock_guard lock(seen->mutex);
    seen->stun = value ? value : "";
    g_free(value);
  };
  g_signal_connect(pub.by_name("s"), "element-added", G_CALLBACK(on_added), &seen);
  pub.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames() >= 10; }, kMediaTimeout))
      << joined(pub.errors());
  pub.set_state(GST_STATE_NULL);
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.stun, "stun://127.0.0.1:3478");
}

// token-secret-file: a signed token for the room, the publisher name and the
// publish grant publishes; one that only grants subscribe, or names another
// publisher, is refused with 403 before a session exists.
TEST(Whip, SignedTokensDecideWhoPublishes) {
  const std::string secret = "whip-test-secret-0123456789abcdefghij";
  std::filesystem::path key = std::filesystem::temp_directory_path() /
                              ("rtcmesh-whip-secret-" + std::to_string(getpid()));
  std::ofstream(key) << secret;
  Ingest ingest("peer-timeout=3000 token-secret-file=" + key.string());
  int64_t now = rtcmesh::sig::TokenVerifier::wall_clock();
  auto token = [&](const char* sub, unsigned grants) {
    return rtcmesh::sig::issue_token("HS256", secret, "stage", sub, grants, now - 5, now + 600);
  };
  Pipeline cam(publisher_launch(ingest.url("/whip/stage/cam"),
                                "auth-token=" + token("cam", rtcmesh::sig::kGrantPublish)));
  Pipeline viewer(publisher_launch(ingest.url("/whip/stage/viewer"),
                                   "auth-token=" + token("viewer", rtcmesh::sig::kGrantSubscribe)));
  Pipeline impostor(publisher_launch(ingest.url("/whip/stage/cam2"),
                                     "auth-token=" + token("cam", rtcmesh::sig::kGrantPublish)));
  for (Pipeline* p : {&cam, &viewer, &impostor}) p->set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames("cam") >= 15; }, kMediaTimeout))
      << joined(cam.errors()) << joined(ingest.pipeline().errors());
  for (Pipeline* p : {&viewer, &impostor}) {
    ASSERT_TRUE(wait_until([&] { return !p->errors().empty(); }, 10s));
    EXPECT_NE(p->errors()[0].find("403"), std::string::npos) << p->errors()[0];
  }
  EXPECT_EQ(ingest.added(), 1u);
  std::filesystem::remove(key);
}

TEST(Whip, ClientErrorIsAnElementErrorWithStatus) {
  Ingest ingest("auth-token=secret");
  Pipeline pub(publisher_launch(ingest.url("/whip"), "auth-token=wrong"));
  pub.set_state(GST_STATE_PLAYING);
  ASSERT_TRUE(wait_until([&] { return !pub.errors().empty(); }, 10s));
  EXPECT_NE(pub.errors()[0].find("401"), std::string::npos) << pub.errors()[0];
  EXPECT_EQ(ingest.added(), 0u);
}

// Raw HTTP against a running ingest: every bad request gets its status and a
// reason, and the publisher already there keeps flowing.
class WhipBadInput : public testing::Test {
 protected:
  void SetUp() override {
    ingest = std::make_unique<Ingest>("auth-token=tok max-publishers=1 peer-timeout=3000");
    pub = std::make_unique<Pipeline>(publisher_launch(ingest->url("/whip"), "auth-token=tok"));
    pub->set_state(GST_STATE_PLAYING);
    ASSERT_TRUE(wait_until([&] { return ingest->video_frames() >= 5; }, kMediaTimeout));
  }
  HttpReply request(const char* method, const std::string& path, const char* type,
                    const std::string& body, const char* token = "tok") {
    return http_request(method, ingest->url(path), type, body, token);
  }
  void expect_still_flowing() {
    int before = ingest->video_frames();
    EXPECT_TRUE(wait_until([&] { return ingest->video_frames() >= before + 10; }, 5s));
    EXPECT_EQ(ingest->removed(), 0u);
  }

  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<Pipeline> pub;
};

const char* kH264OnlyOffer =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 "
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:102 H264/90000\r\n";

TEST_F(WhipBadInput, EachIsAnsweredWithItsStatusAndReason) {
  struct Case {
    const char* what;
    HttpReply reply;
    guint status;
  };
  std::vector<Case> cases;
  cases.push_back({"malformed SDP", request("POST", "/whip", "application/sdp", "hello"), 400});
  cases.push_back({"no token", request("POST", "/whip", "application/sdp", kH264OnlyOffer, nullptr), 401});
  cases.push_back({"wrong token", request("POST", "/whip", "application/sdp", kH264OnlyOffer, "nope"), 401});
  cases.push_back({"huge body", request("POST", "/whip", "application/sdp", std::string(2 << 20, 'x')), 413});
  cases.push_back({"content type", request("POST", "/whip", "text/plain", kH264OnlyOffer), 415});
  cases.push_back({"unknown resource", request("DELETE", "/whip/0123456789abcdef0123456789abcdef", nullptr, ""), 404});
  cases.push_back({"method", request("PUT", "/whip", "application/sdp", kH264OnlyOffer), 405});
  // max-publishers=1 is taken: even a good offer is refused.
  cases.push_back({"over limit", request("POST", "/whip", "application/sdp", kH264OnlyOffer), 503});
  for (auto& c : cases) {
    EXPECT_EQ(c.reply.status, c.status) << c.what << ": " << c.reply.body;
    EXPECT_FALSE(c.reply.body.empty()) << c.what << " has no reason";
  }
  expect_still_flowing();
}

TEST(Whip, NoUsableCodecIs422) {
  Ingest ingest("video-codecs=vp8 audio-codecs=opus");
  HttpReply r = http_request("POST", ingest.url("/whip"), "application/sdp", kH264OnlyOffer, nullptr);
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_NE(r.body.find("H264"), std::string::npos) << r.body;
  EXPECT_EQ(ingest.added(), 0u);
}

}  // namespace

// Data beside the media over WHIP (issue 16): a publisher with
// data-channels=true sends telemetry the ingest pipeline receives, named by
// the publisher's id; the ingest answers on the same channel. A publisher
// without data channels is unchanged (its offer has no m=application).
// The same from gst-launch-1.0 lines: what reaches a data_%u pad of either
// element is a message (binary with non-text caps).
TEST(Whip, PublisherSendsDataAlongsideMediaAndTheIngestAnswers) {
  Ingest ingest("peer-timeout=3000 appsrc name=reply is-live=true caps=text/x-raw,format=utf8 ! "
                "src.data_0");
  DataLog at_ingest, at_publisher;
  at_ingest.watch(ingest.src());
  std::string publisher_id;
  g_signal_connect(ingest.src(), "publisher-added",
                   G_CALLBACK(+[](GstElement*, gchar* id, gchar*, gchar*, gpointer d) {
                     *static_cast<std::string*>(d) = id;
                   }),
                   &publisher_id);
  Pipeline pub(publisher_launch(ingest.url("/whip/r/drone"), "data-channels=true") +
               " appsrc name=telemetry is-live=true caps=application/x-klv ! s.data_0");
  GstElement* sink = pub.by_name("s");
  at_publisher.watch(sink);
  ASSERT_NE(pub.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  // Once the session exists, messages wait for the channel to open and
  // arrive in order.
  ASSERT_TRUE(wait_until([&] { return ingest.video_frames() >= 5; }, kMediaTimeout))
      << joined(pub.errors());
  for (int i = 0; i < 100; i++) {
    gboolean ok = FALSE;
    g_signal_emit_by_name(sink, "send-string", nullptr, ("t" + std::to_string(i)).c_str(), TRUE,
                          &ok);
    ASSERT_TRUE(ok);
  }
  ASSERT_TRUE(wait_until([&] { return at_ingest.count() >= 100; }, 10s))
      << at_ingest.count() << " of 100";
  auto got = at_ingest.from(publisher_id, "rtcmesh");
  ASSERT_EQ(got.size(), 100u) << "publisher id " << publisher_id;
  for (int i = 0; i < 100; i++) EXPECT_EQ(got[i].data, "t" + std::to_string(i));

  gboolean ok = FALSE;
  g_signal_emit_by_name(ingest.src(), "send-string", publisher_id.c_str(), "ack", TRUE, &ok);
  EXPECT_TRUE(ok);
  ASSERT_TRUE(wait_until([&] { return !at_publisher.from("server", "rtcmesh").empty(); }, 10s));
  EXPECT_EQ(at_publisher.from("server", "rtcmesh")[0].data, "ack");

  // Through the pads: KLV-like bytes up, text down.
  const std::string klv("\x06\x0e\x2b\x34\x00\x01", 6);
  push_buffer(pub.by_name("telemetry"), klv);
  push_buffer(ingest.pipeline().by_name("reply"), "from the pad");
  ASSERT_TRUE(wait_until([&] { return at_ingest.from(publisher_id, "rtcmesh").size() == 101; }, 10s));
  auto last = at_ingest.from(publisher_id, "rtcmesh").back();
  EXPECT_EQ(last.data, klv);
  EXPECT_FALSE(last.text);
  ASSERT_TRUE(wait_until([&] { return at_publisher.from("server", "rtcmesh").size() == 2; }, 10s));
  EXPECT_EQ(at_publisher.from("server", "rtcmesh")[1].data, "from the pad");
  EXPECT_TRUE(at_publisher.from("server", "rtcmesh")[1].text);

  int frames = ingest.video_frames();
  EXPECT_TRUE(wait_until([&] { return ingest.video_frames() >= frames + 10; }, 10s))
      << "media goes on";
  EXPECT_TRUE(pub.errors().empty()) << joined(pub.errors());
}
