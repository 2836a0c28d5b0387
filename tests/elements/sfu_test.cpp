// rtcsfu with real webrtcbin on loopback: WHIP publishers in, WHEP players
// out (one publisher, or the room's slots), src pads recorded without
// re-encoding, /metrics checked against what was sent, bad input on WHIP and
// WHEP, a killed publisher cleaned up within peer-timeout.
#include <gst/webrtc/webrtc.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <regex>

#include "tests/support/child_mode.h"
#include "tests/support/harness.h"
#include "tests/support/server_process.h"
#include "tests/support/subprocess.h"

using namespace rtcmesh::test;

namespace {

constexpr auto kMediaTimeout = 20s;

std::string joined(const std::vector<std::string>& v) {
  return std::accumulate(v.begin(), v.end(), std::string(),
                         [](std::string a, const std::string& b) { return a + b + "\n"; });
}

// An rtcsfu hosting room "r" on an ephemeral port; its src pads (remote
// publishers' tracks) feed counting appsinks taking the encoded form.
class Sfu {
 public:
  explicit Sfu(const std::string& props = "", const std::string& room = "r", unsigned port = 0)
      : pipeline_(std::make_unique<Pipeline>("rtcsfu name=sfu port=" + std::to_string(port) +
                                             " room=" + room + " peer-timeout=3000 " + props)) {
    sfu_ = pipeline_->by_name("sfu");
    sinks_ = std::make_unique<TrackSinks>(sfu_, "video/x-vp8;video/x-h264;video/x-vp9",
                                          "audio/x-opus");
    g_signal_connect(sfu_, "publisher-removed",
                     G_CALLBACK(+[](GstElement*, const char*, const char*, const char*,
                                    gpointer self) { static_cast<Sfu*>(self)->removed_++; }),
                     this);
    g_signal_connect(sfu_, "subscriber-removed",
                     G_CALLBACK(+[](GstElement*, const char*, const char*, const char*,
                                    gpointer self) { static_cast<Sfu*>(self)->unsubscribed_++; }),
                     this);
    EXPECT_NE(pipeline_->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
        << joined(pipeline_->errors());
  }
  ~Sfu() { pipeline_->set_state(GST_STATE_NULL); }
  unsigned port() const {
    guint port = 0;
    g_object_get(sfu_, "port", &port, nullptr);
    return port;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  guint stat(const char* field) const {
    GstStructure* s = nullptr;
    g_object_get(sfu_, "stats", &s, nullptr);
    guint v = 0;
    if (s) gst_structure_get_uint(s, field, &v);
    if (s) gst_structure_free(s);
    return v;
  }
  Pipeline& pipeline() { return *pipeline_; }
  GstElement* element() const { return sfu_; }
  TrackSinks& sinks() { return *sinks_; }
  int removed() const { return removed_; }
  int unsubscribed() const { return unsubscribed_; }

 private:
  std::unique_ptr<Pipeline> pipeline_;
  GstElement* sfu_;
  std::unique_ptr<TrackSinks> sinks_;
  std::atomic<int> removed_{0}, unsubscribed_{0};
};

std::unique_ptr<Pipeline> publish(const Sfu& sfu, const std::string& name,
                                  const std::string& props = "", const std::string& room = "r") {
  auto p = std::make_unique<Pipeline>(
      publisher_launch(sfu.url("/whip/" + room + "/" + name), "peer-timeout=3000 " + props));
  EXPECT_NE(p->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  return p;
}

// cam1 and cam2 publishing into room "r", once `frames` frames of each
// reached the SFU's src pads (null, and a failure, if they do not in time).
std::pair<std::unique_ptr<Pipeline>, std::unique_ptr<Pipeline>> two_publishers(Sfu& sfu,
                                                                               int frames) {
  auto cam1 = publish(sfu, "cam1");
  auto cam2 = publish(sfu, "cam2");
  if (!wait_until(
          [&] {
            return sfu.sinks().video_frames("cam1") >= frames &&
                   sfu.sinks().video_frames("cam2") >= frames;
          },
          kMediaTimeout)) {
    ADD_FAILURE() << joined(sfu.pipeline().errors()) << joined(cam1->errors())
                  << joined(cam2->errors());
    return {};
  }
  return {std::move(cam1), std::move(cam2)};
}

// Every webrtcbin inside `bin`, however deep.
std::vector<GstElement*> webrtcbins_in(GstElement* bin) {
  std::vector<GstElement*> found;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(bin));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* element = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(element);
    if (f && g_str_equal(GST_OBJECT_NAME(f), "webrtcbin")) found.push_back(element);
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

// The remote description of the one webrtcbin in `pipeline` (a client's).
std::string remote_description(GstElement* pipeline) {
  auto found = webrtcbins_in(pipeline);
  if (found.size() != 1) return "(" + std::to_string(found.size()) + " webrtcbins)";
  GstWebRTCSessionDescription* desc = nullptr;
  g_object_get(found[0], "remote-description", &desc, nullptr);
  if (!desc) return "(no remote description)";
  gchar* text = gst_sdp_message_as_text(desc->sdp);
  std::string sdp = text;
  g_free(text);
  gst_webrtc_session_description_free(desc);
  return sdp;
}

// Videos a player decodes (at least 10 frames each).
int decoding(const WhepViewer& v) {
  int n = 0;
  for (auto& t : v.tracks())
    if (t->video() && t->buffers >= 10) n++;
  return n;
}

// A player of cam2 and a player of the room's slots (cam1 and cam2
// publishing): the first decodes video and audio, the second both videos.
void play_one_and_room(Sfu& sfu, WhepViewer& one, WhepViewer& room) {
  ASSERT_TRUE(one.play());
  ASSERT_TRUE(room.play());
  ASSERT_TRUE(wait_until([&] { return one.video_frames() >= 15 && one.audio_samples() > 0; },
                         kMediaTimeout))
      << "frames " << one.video_frames() << ", samples " << one.audio_samples() << "\n"
      << joined(one.pipeline().errors()) << joined(sfu.pipeline().errors());
  ASSERT_TRUE(wait_until([&] { return decoding(room) == 2; }, kMediaTimeout))
      << "room player decodes " << decoding(room) << " videos\n"
      << joined(room.pipeline().errors());
}

const char* kOffer =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n"
    "a=rtpmap:96 VP8/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 "
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"
    "EE:FF\r\na=setup:actpass\r\na=rtcp-mux\r\n";

// Frames decoded from a Matroska file (VP8), -1 if it does not play to its end.
int decoded_frames(const std::string& path) {
  Pipeline play("filesrc location=" + path +
                " ! matroskademux ! video/x-vp8 ! vp8dec ! fakesink name=f signal-handoffs=true");
  std::atomic<int> frames{0};
  g_signal_connect(play.by_name("f"), "handoff",
                   G_CALLBACK(+[](GstElement*, GstBuffer*, GstPad*, gpointer n) {
                     ++*static_cast<std::atomic<int>*>(n);
                   }),
                   &frames);
  if (play.set_state(GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) return -1;
  if (!wait_until([&] { return play.got_eos(); }, 10s) || !play.errors().empty()) {
    ADD_FAILURE() << path << ": " << joined(play.errors());
    return -1;
  }
  return frames;
}

}  // namespace

// Issue 17: a server bound to one address gathers ICE candidates there only
// (not on every interface), and writes announced-addresses into its host
// candidates (1:1 NAT, containers). 127.0.0.2 reaches nothing here (the
// sockets are bound to 127.0.0.1): the connections still come up through
// the server's own checks, as behind a NAT without hairpinning. engine=
// webrtcbin also under RTCMESH_TEST_SFU_ENGINE=native: ICE-lite never checks
// toward the client, so a native subscriber of an unreachable announced
// address never connects (README, Not done yet).
TEST(Sfu, IceUsesTheBoundAddressAndWritesTheAnnouncedOne) {
  Sfu sfu("address=127.0.0.1 announced-addresses=127.0.0.2 engine=webrtcbin");
  auto cam = publish(sfu, "cam1");
  ASSERT_TRUE(wait_until([&] { return sfu.sinks().video_frames("cam1") >= 15; }, kMediaTimeout))
      << joined(sfu.pipeline().errors()) << joined(cam->errors());
  WhepViewer player(sfu.url("/whep/r/cam1"), "peer-timeout=3000");
  ASSERT_TRUE(player.play());
  ASSERT_TRUE(wait_until([&] { return player.video_frames() >= 15; }, kMediaTimeout))
      << joined(player.pipeline().errors()) << joined(sfu.pipeline().errors());
  // What each client was told: the publisher's answer, the player's offer.
  std::vector<std::pair<std::string, std::string>> told = {
      {"publisher", remote_description(cam->get())},
      {"player", remote_description(player.pipeline().get())}};
  std::regex host(R"(a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ host)");
  for (const auto& [who, sdp] : told) {
    int hosts = 0;
    for (std::sregex_iterator m(sdp.begin(), sdp.end(), host), end; m != end; ++m, ++hosts)
      EXPECT_EQ((*m)[1], "127.0.0.2") << who << ":\n" << sdp;
    EXPECT_GT(hosts, 0) << who << ":\n" << sdp;
  }
}

TEST(Sfu, WhipPublishersReachWhepPlayersAndSrcPads) {
  Sfu sfu;
  // The element's src pads: every remote publisher's tracks, encoded.
  auto [cam1, cam2] = two_publishers(sfu, 15);
  ASSERT_TRUE(cam1 && cam2);
  int opus_packets = 0;
  for (auto& t : sfu.sinks().tracks())
    if (!t->video() && t->peer_id == "cam1") opus_packets += t->buffers;
  EXPECT_GT(opus_packets, 0);
  EXPECT_EQ(sfu.stat("publishers"), 2u);

  // A player of one publisher, and a player of the room's slots.
  WhepViewer one(sfu.url("/whep/r/cam2"), "peer-timeout=3000");
  WhepViewer room(sfu.url("/whep/r"), "peer-timeout=3000");
  ASSERT_NO_FATAL_FAILURE(play_one_and_room(sfu, one, room));

  // A third publisher fills a free slot of the room player without a new
  // negotiation.
  auto cam3 = publish(sfu, "cam3");
  ASSERT_TRUE(wait_until([&] { return decoding(room) == 3; }, kMediaTimeout))
      << "room player decodes " << decoding(room) << " videos";
  EXPECT_EQ(sfu.stat("subscribers"), 2u);
}

// engine=native (issue 17): WHEP players served by our own ICE-lite, DTLS
// and SRTP on one UDP port; the same players as above decode every track.
TEST(Sfu, NativeEngineServesWhepPlayersFromOneUdpPort) {
  Sfu sfu("engine=native ingress=webrtcbin");
  guint udp_port = 0;
  g_object_get(sfu.element(), "udp-port", &udp_port, nullptr);
  ASSERT_GT(udp_port, 0u);
  auto [cam1, cam2] = two_publishers(sfu, 15);
  ASSERT_TRUE(cam1 && cam2);
  WhepViewer one(sfu.url("/whep/r/cam2"), "peer-timeout=3000");
  WhepViewer room(sfu.url("/whep/r"), "peer-timeout=3000");
  ASSERT_NO_FATAL_FAILURE(play_one_and_room(sfu, one, room));
  EXPECT_EQ(sfu.stat("subscribers"), 2u);
  // No webrtcbin per player: only the two publishers' connections have one.
  EXPECT_EQ(webrtcbins_in(sfu.element()).size(), 2u);
  // Both sessions on the one port the element reports.
  guint again = 0;
  g_object_get(sfu.element(), "udp-port", &again, nullptr);
  EXPECT_EQ(again, udp_port);
}

// A WHEP player of one publisher: when that publisher leaves, the server
// sends a last SR and an RTCP BYE for the player's streams, and rtcwhepsrc
// ends every pad with EOS (also with engine=native: the engine's BYE).
static void player_of_a_leaving_publisher_ends_with_eos(const std::string& props) {
  Sfu sfu(props);
  auto [cam1, cam2] = two_publishers(sfu, 15);
  ASSERT_TRUE(cam1 && cam2);
  WhepViewer one(sfu.url("/whep/r/cam2"), "peer-timeout=3000");
  ASSERT_TRUE(one.play());
  ASSERT_TRUE(wait_until([&] { return one.video_frames() >= 15 && one.audio_samples() > 0; },
                         kMediaTimeout))
      << "frames " << one.video_frames() << "\n" << joined(one.pipeline().errors());
  auto all_ended = [&] {
    auto tracks = one.tracks();
    for (const auto& t : tracks)
      if (!t->eos) return false;
    return tracks.size() == 2;
  };
  EXPECT_FALSE(all_ended());
  gint64 left = g_get_monotonic_time();
  cam2->set_state(GST_STATE_NULL);  // DELETE: the publisher leaves
  ASSERT_TRUE(wait_until(all_ended, 10s))
      << "tracks " << one.tracks().size() << "\n" << joined(one.pipeline().errors())
      << joined(sfu.pipeline().errors());
  std::printf("player of cam2: EOS on both pads %.0f ms after cam2 left\n",
              (g_get_monotonic_time() - left) / 1000.0);
  EXPECT_TRUE(one.pipeline().errors().empty()) << joined(one.pipeline().errors());
  // rtcwhepsrc deletes its resource: the player leaves the SFU, cam1 stays.
  EXPECT_TRUE(wait_until([&] { return sfu.stat("subscribers") == 0; }, 10s))
      << sfu.stat("subscribers");
  EXPECT_GE(sfu.sinks().video_frames("cam1"), 15);
}

// ingress=native (issue 17, the default, as in the tests above): WHIP
// publishers received by the engine too, on the same UDP port as the
// players: no webrtcbin in the element at all. The players get the packets
// from the engine, the src pads (linked here) through each track's appsrc;
// the publishers' counters are the engine's.
TEST(Sfu, NativeIngressReceivesWhipPublishersWithoutWebrtcbin) {
  Sfu sfu("engine=native ingress=native");
  auto [cam1, cam2] = two_publishers(sfu, 15);
  ASSERT_TRUE(cam1 && cam2);
  WhepViewer one(sfu.url("/whep/r/cam2"), "peer-timeout=3000");
  WhepViewer room(sfu.url("/whep/r"), "peer-timeout=3000");
  ASSERT_NO_FATAL_FAILURE(play_one_and_room(sfu, one, room));
  EXPECT_EQ(webrtcbins_in(sfu.element()).size(), 0u);
  GstStructure* stats = nullptr;
  g_object_get(sfu.element(), "stats", &stats, nullptr);
  const GValue* pubs = gst_structure_get_value(stats, "publisher-stats");
  ASSERT_TRUE(pubs && gst_value_list_get_size(pubs) == 2) << gst_structure_to_string(stats);
  for (guint i = 0; i < 2; i++) {
    const GstStructure* p = gst_value_get_structure(gst_value_list_get_value(pubs, i));
    guint64 received = 0;
    gboolean connected = FALSE;
    gst_structure_get_uint64(p, "packets-received", &received);
    gst_structure_get_boolean(p, "connected", &connected);
    EXPECT_GT(received, 100u) << gst_structure_to_string(p);
    EXPECT_TRUE(connected);
  }
  gst_structure_free(stats);
}

TEST(Sfu, PlayerOfALeavingPublisherEndsWithEos) { player_of_a_leaving_publisher_ends_with_eos(""); }
TEST(Sfu, NativeIngressPlayerOfALeavingPublisherEndsWithEos) {
  player_of_a_leaving_publisher_ends_with_eos("engine=native ingress=native");
}
TEST(Sfu, NativeEnginePlayerOfALeavingPublisherEndsWithEos) {
  player_of_a_leaving_publisher_ends_with_eos("engine=native");
}

// Counting appsinks behind every decoded pad of the elements it watches
// (uridecodebin's src_N, decodebin's: the kind comes from the caps).
struct DecodedPads {
  void watch(GstElement* element) {
    g_signal_connect(element, "pad-added",
                     G_CALLBACK(+[](GstElement* element, GstPad* pad, gpointer self) {
                       static_cast<DecodedPads*>(self)->added(element, pad);
                     }),
                     this);
    g_signal_connect(element, "no-more-pads", G_CALLBACK(+[](GstElement*, gpointer self) {
                       static_cast<DecodedPads*>(self)->no_more_pads++;
                     }),
                     this);
  }
  // An application's way: every pad of `src` into a decodebin of its own.
  void decode_each_pad_of(GstElement* src) {
    g_signal_connect(src, "pad-added", G_CALLBACK(+[](GstElement* src, GstPad* pad, gpointer self) {
                       GstElement* decodebin = gst_element_factory_make("decodebin", nullptr);
                       static_cast<DecodedPads*>(self)->watch(decodebin);
                       link_beside(src, pad, decodebin);
                     }),
                     this);
  }
  void added(GstElement* element, GstPad* pad) {
    GstCaps* caps = gst_pad_get_current_caps(pad);
    if (!caps) caps = gst_pad_query_caps(pad, nullptr);
    auto track = std::make_shared<Track>();
    const char* name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
    track->pad = g_str_has_prefix(name, "video/") ? "video" : "audio";
    gst_caps_unref(caps);
    GstElement* sink = make_counting_sink(track, track->video() ? "video/x-raw" : "audio/x-raw");
    {
      std::lock_guard lock(mutex);
      tracks.push_back(track);
    }
    link_beside(element, pad, sink);
  }
  // Adds `next` to `element`'s bin, running, and links `pad` to its sink pad.
  static void link_beside(GstElement* element, GstPad* pad, GstElement* next) {
    GstElement* parent = GST_ELEMENT(gst_element_get_parent(element));
    gst_bin_add(GST_BIN(parent), next);
    gst_element_sync_state_with_parent(next);
    GstPad* sinkpad = gst_element_get_static_pad(next, "sink");
    gst_pad_link(pad, sinkpad);
    gst_object_unref(sinkpad);
    gst_object_unref(parent);
  }
  // Video pads that got at least `frames` frames.
  int videos(int frames) {
    std::lock_guard lock(mutex);
    int n = 0;
    for (auto& t : tracks)
      if (t->video() && t->buffers >= frames) n++;
    return n;
  }
  int audios() {
    std::lock_guard lock(mutex);
    int n = 0;
    for (auto& t : tracks)
      if (!t->video() && t->audio_samples > 0) n++;
    return n;
  }
  std::mutex mutex;
  std::vector<std::shared_ptr<Track>> tracks;
  std::atomic<int> no_more_pads{0};
};

// Issue 12 point 2: a room's whep:// URI plays in playbin and uridecodebin,
// and in an application that decodes every rtcwhepsrc pad. rtcwhepsrc
// offers the room's slots (4 of each kind); only the two that carry a
// publisher become pads (an empty slot's decoder would never preroll and the
// live pipeline would stay in PAUSED), then no-more-pads; a third
// publisher's tracks are new pads. (uridecodebin, and so playbin, stops
// listening for a source's pads at its no-more-pads: there the new pads
// appear but stay unlinked; the application decodes them.)
TEST(Sfu, PlaybinAndUridecodebinPlayARoomAndPickUpALaterPublisher) {
  Sfu sfu;
  auto [cam1, cam2] = two_publishers(sfu, 5);
  ASSERT_TRUE(cam1 && cam2);
  const std::string uri = "whep://127.0.0.1:" + std::to_string(sfu.port()) + "/whep/r";

  DecodedPads pads, app_pads;  // outlive the pipelines that call them
  Pipeline decode("uridecodebin name=d uri=" + uri);
  pads.watch(decode.by_name("d"));
  Pipeline app("rtcwhepsrc name=r endpoint=" + sfu.url("/whep/r"));
  app_pads.decode_each_pad_of(app.by_name("r"));
  Pipeline playbin("playbin uri=" + uri);
  PlaybinSinks sinks(playbin.get());
  auto& video = sinks.video;
  auto& audio = sinks.audio;
  for (Pipeline* p : {&decode, &app, &playbin})
    ASSERT_NE(p->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << joined(p->errors());
  auto n_video = [&] {
    gint n = 0;
    g_object_get(playbin.get(), "n-video", &n, nullptr);
    return n;
  };
  ASSERT_TRUE(wait_until(
      [&] { return pads.videos(15) == 2 && pads.audios() == 2 && pads.no_more_pads > 0; },
      kMediaTimeout))
      << "uridecodebin decodes " << pads.videos(15) << " videos, " << pads.audios()
      << " audios, no-more-pads " << pads.no_more_pads << "\n"
      << joined(decode.errors()) << joined(decode.warnings());
  ASSERT_TRUE(
      wait_until([&] { return video->buffers >= 15 && audio->audio_samples > 0 && n_video() == 2; },
                 kMediaTimeout))
      << "playbin: frames " << video->buffers << " samples " << audio->audio_samples << " n-video "
      << n_video() << "\n"
      << joined(playbin.errors()) << joined(playbin.warnings());
  ASSERT_TRUE(
      wait_until([&] { return app_pads.videos(15) == 2 && app_pads.audios() == 2; }, kMediaTimeout))
      << "the application decodes " << app_pads.videos(15) << " videos\n"
      << joined(app.errors());
  GstState state = GST_STATE_VOID_PENDING;
  gst_element_get_state(playbin.get(), &state, nullptr, 0);
  EXPECT_EQ(state, GST_STATE_PLAYING);
  // Only the slots with a publisher became pads.
  GstElement* src = nullptr;
  g_object_get(playbin.get(), "source", &src, nullptr);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->numsrcpads, 4u) << "two publishers, each video and audio";

  // A third publisher: new pads on every rtcwhepsrc; the application decodes them.
  auto cam3 = publish(sfu, "cam3");
  ASSERT_TRUE(
      wait_until([&] { return app_pads.videos(15) == 3 && app_pads.audios() == 3; }, kMediaTimeout))
      << "the application decodes " << app_pads.videos(15) << " videos\n"
      << joined(app.errors());
  EXPECT_TRUE(wait_until([&] { return src->numsrcpads == 6u; }, 5s)) << src->numsrcpads;
  gst_object_unref(src);
  // playbin and uridecodebin play on.
  int before = video->buffers, decoded = pads.videos(15 + 30);
  EXPECT_TRUE(wait_until([&] { return video->buffers >= before + 15; }, 5s));
  EXPECT_TRUE(wait_until([&] { return pads.videos(15 + 30) == 2; }, 5s)) << decoded;
  for (Pipeline* p : {&decode, &app, &playbin})
    EXPECT_TRUE(p->errors().empty()) << joined(p->errors());
}

TEST(Sfu, RecordsSrcPadsWithoutReencoding) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("rtcsfu-rec-" + std::to_string(getpid()) + ".mkv"))
                         .string();
  // gst-launch's delayed linking: the sometimes pad is linked when it comes.
  // eos-on-leave=true: the publisher leaving finishes the file (by default
  // its pad would stay for its next session: RecordsEveryPublisher…).
  Pipeline rec("rtcsfu name=sfu port=0 room=r peer-timeout=3000 output=encoded eos-on-leave=true "
               "sfu.src_video_0 ! queue ! matroskamux ! filesink location=" + path);
  ASSERT_NE(rec.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  guint port = 0;
  g_object_get(rec.by_name("sfu"), "port", &port, nullptr);
  // Frames that reach the recorder, and frames the publisher produces from
  // the moment the first one did (before that the connection was still
  // being set up). Frames already on their way at that moment reach the file
  // without being counted as produced (about 0.1 s idle, 0.6 s under load),
  // so that count is a lower bound of what the file must hold.
  struct Count {
    std::atomic<bool> started{false};
    std::atomic<int> published{0}, recorded{0};
  } count;
  g_signal_connect(rec.by_name("sfu"), "pad-added", G_CALLBACK(+[](GstElement*, GstPad* pad, gpointer c) {
                     if (!g_str_has_prefix(GST_PAD_NAME(pad), "src_video_")) return;
                     gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER,
                                       [](GstPad*, GstPadProbeInfo*, gpointer c) {
                                         auto* count = static_cast<Count*>(c);
                                         count->started = true;
                                         count->recorded++;
                                         return GST_PAD_PROBE_OK;
                                       },
                                       c, nullptr);
                   }),
                   &count);
  // 90 frames (6 s at 15 fps), then the publisher ends and leaves (DELETE):
  // its src pad gets EOS and the file is finished.
  constexpr int kFrames = 90;
  Pipeline pub(publisher_launch("http://127.0.0.1:" + std::to_string(port) + "/whip/r/cam",
                                "peer-timeout=3000",
                                "videotestsrc is-live=true num-buffers=" + std::to_string(kFrames) +
                                    " ! identity name=count signal-handoffs=true",
                                ""));
  g_signal_connect(pub.by_name("count"), "handoff",
                   G_CALLBACK(+[](GstElement*, GstBuffer*, gpointer c) {
                     auto* count = static_cast<Count*>(c);
                     if (count->started) count->published++;
                   }),
                   &count);
  ASSERT_NE(pub.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_until([&] { return pub.got_eos(); }, 20s)) << joined(pub.errors());
  std::this_thread::sleep_for(500ms);  // the last packets on the wire
  pub.set_state(GST_STATE_NULL);
  // The DELETE (or, without it, peer-timeout) ends the publisher: EOS out of
  // its pad finishes the file. Generous for the sanitizer build under load.
  ASSERT_TRUE(wait_until([&] { return rec.got_eos(); }, 20s))
      << joined(rec.errors()) << "publishers left: " << [&] {
           GstStructure* st = nullptr;
           g_object_get(rec.by_name("sfu"), "stats", &st, nullptr);
           gchar* c = st ? gst_structure_to_string(st) : nullptr;
           std::string text = c ? c : "";
           g_free(c);
           if (st) gst_structure_free(st);
           return text;
         }();
  ASSERT_GT(count.published, kFrames / 2) << "the publisher took too long to connect";
  // Nothing inside decoded or encoded.
  int codecs = 0;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(rec.by_name("sfu")));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    GstElementFactory* f = gst_element_get_factory(GST_ELEMENT(g_value_get_object(&v)));
    if (f && (gst_element_factory_list_is_type(f, GST_ELEMENT_FACTORY_TYPE_DECODER) ||
              gst_element_factory_list_is_type(f, GST_ELEMENT_FACTORY_TYPE_ENCODER)))
      codecs++;
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  EXPECT_EQ(codecs, 0);
  rec.set_state(GST_STATE_NULL);

  // The file plays back: VP8 as sent, with the frames that were sent.
  int frames = decoded_frames(path);
  ASSERT_GE(frames, 0);
  std::printf("file: %d frames; published while connected: %d; through the src pad: %d\n",
              frames, count.published.load(), count.recorded.load());
  // Every frame produced while connected is in the file (±10 %), the file
  // holds what the SFU's pad gave the muxer, and nothing was duplicated.
  EXPECT_GE(frames + count.published / 10, count.published + 1);
  EXPECT_NEAR(frames, count.recorded, count.recorded / 10);
  EXPECT_LE(frames, kFrames);
  std::filesystem::remove(path);
}

// Issue 12: the README's recording one-liner records every publisher (one
// file per src_video_N), the room outlives a publisher that leaves, a
// publisher that comes back continues on its pad, and EOS at the end (as
// gst-launch -e sends it) finishes both files.
TEST(Sfu, RecordsEveryPublisherIntoItsOwnFileAndOutlivesThem) {
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string a_path = dir + "/rtcsfu-a-" + std::to_string(getpid()) + ".mkv";
  std::string b_path = dir + "/rtcsfu-b-" + std::to_string(getpid()) + ".mkv";
  Pipeline rec("rtcsfu name=sfu port=0 room=r peer-timeout=3000 output=encoded "
               "sfu.src_video_0 ! queue ! matroskamux ! filesink async=false location=" +
               a_path + " sfu.src_video_1 ! queue ! matroskamux ! filesink async=false location=" +
               b_path);
  struct Count {
    std::atomic<int> frames[3] = {0, 0, 0};  // src_video_0, _1, any later one
    std::atomic<int> removed{0};
  } count;
  GstElement* sfu = rec.by_name("sfu");
  g_signal_connect(sfu, "pad-added", G_CALLBACK(+[](GstElement*, GstPad* pad, gpointer c) {
                     if (!g_str_has_prefix(GST_PAD_NAME(pad), "src_video_")) return;
                     int n = std::min(atoi(GST_PAD_NAME(pad) + strlen("src_video_")), 2);
                     gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER,
                                       [](GstPad*, GstPadProbeInfo*, gpointer f) {
                                         ++*static_cast<std::atomic<int>*>(f);
                                         return GST_PAD_PROBE_OK;
                                       },
                                       &static_cast<Count*>(c)->frames[n], nullptr);
                   }),
                   &count);
  g_signal_connect(sfu, "publisher-removed",
                   G_CALLBACK(+[](GstElement*, const char*, const char*, const char*, gpointer c) {
                     static_cast<Count*>(c)->removed++;
                   }),
                   &count);
  ASSERT_NE(rec.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  guint port = 0;
  g_object_get(sfu, "port", &port, nullptr);
  auto publisher = [&](const char* name) {
    auto p = std::make_unique<Pipeline>(publisher_launch(
        "http://127.0.0.1:" + std::to_string(port) + "/whip/r/" + name, "peer-timeout=3000"));
    EXPECT_NE(p->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    return p;
  };
  auto a = publisher("a");
  ASSERT_TRUE(wait_until([&] { return count.frames[0] >= 15; }, kMediaTimeout))
      << joined(rec.errors()) << joined(a->errors());
  auto b = publisher("b");
  ASSERT_TRUE(wait_until([&] { return count.frames[1] >= 15; }, kMediaTimeout))
      << joined(rec.errors()) << joined(b->errors());

  // a leaves: b's file goes on growing, nothing ends. a's linked video pad
  // stays; its audio pad, which nothing links, goes.
  a.reset();
  ASSERT_TRUE(wait_until([&] { return count.removed == 1; }, 10s));
  int b_before = count.frames[1], a_left = count.frames[0];
  auto has_pad = [&](const char* name) {
    GstPad* pad = gst_element_get_static_pad(sfu, name);
    if (pad) gst_object_unref(pad);
    return pad != nullptr;
  };
  EXPECT_TRUE(has_pad("src_video_0"));
  EXPECT_FALSE(has_pad("src_audio_0"));
  EXPECT_TRUE(has_pad("src_audio_1"));  // b's
  ASSERT_TRUE(wait_until([&] { return count.frames[1] >= b_before + 30; }, kMediaTimeout));
  EXPECT_FALSE(rec.got_eos());
  EXPECT_TRUE(rec.errors().empty()) << joined(rec.errors());

  // a comes back: its video continues on src_video_0 (no third video pad).
  a = publisher("a");
  ASSERT_TRUE(wait_until([&] { return count.frames[0] >= a_left + 15; }, kMediaTimeout))
      << joined(rec.errors()) << joined(a->errors());
  EXPECT_EQ(count.frames[2], 0);
  EXPECT_FALSE(has_pad("src_video_2"));

  // Both leave: the room still runs, its pads idle.
  a.reset();
  b.reset();
  ASSERT_TRUE(wait_until([&] { return count.removed == 3; }, 10s));
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(rec.got_eos());

  // The end (gst-launch -e): EOS reaches every src pad, idle ones too (with
  // no webrtcbin left inside, the element is still a source of the
  // pipeline), and both files finish.
  gst_element_send_event(rec.get(), gst_event_new_eos());
  ASSERT_TRUE(wait_until([&] { return rec.got_eos(); }, 10s)) << joined(rec.errors());
  int recorded_a = count.frames[0], recorded_b = count.frames[1];
  rec.set_state(GST_STATE_NULL);
  int in_a = decoded_frames(a_path), in_b = decoded_frames(b_path);
  std::printf("a: %d frames decoded of %d recorded; b: %d of %d\n", in_a, recorded_a, in_b,
              recorded_b);
  EXPECT_NEAR(in_a, recorded_a, recorded_a / 10 + 1);
  EXPECT_NEAR(in_b, recorded_b, recorded_b / 10 + 1);
  EXPECT_GE(in_a, 30);
  EXPECT_GE(in_b, 45);
  std::filesystem::remove(a_path);
  std::filesystem::remove(b_path);
}

TEST(Sfu, MetricsCountWhatWasSent) {
  Sfu sfu;
  auto cam1 = publish(sfu, "cam1");
  WhepViewer v(sfu.url("/whep/r/cam1"), "peer-timeout=3000");
  ASSERT_TRUE(wait_until([&] { return sfu.stat("publishers") == 1; }, kMediaTimeout));
  ASSERT_TRUE(v.play());
  ASSERT_TRUE(wait_until([&] { return v.video_frames() >= 30; }, kMediaTimeout));
  // Stats refresh every second: let them catch up, then compare.
  std::this_thread::sleep_for(2500ms);
  guint64 viewer_packets = guint64(std::max<gint64>(0, v.stat("packets-received")));
  HttpReply r = http_request("GET", sfu.url("/metrics"), nullptr, "");
  ASSERT_EQ(r.status, 200u);
  EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE rtcmesh_packets_out_total counter"), std::string::npos) << r.body;
  double in = metric_value(r.body, "rtcmesh_packets_in_total", "r");
  double out = metric_value(r.body, "rtcmesh_packets_out_total", "r");
  EXPECT_GT(in, 100) << r.body;
  EXPECT_GT(out, 100) << r.body;
  // What the player counted and what the server says it sent agree (stats
  // of both sides are up to a second old).
  ASSERT_GT(viewer_packets, 0u);
  EXPECT_NEAR(out, double(viewer_packets), 0.35 * viewer_packets) << r.body;
  EXPECT_EQ(metric_value(r.body, "rtcmesh_publishers_total", "r"), 1) << r.body;
  EXPECT_EQ(metric_value(r.body, "rtcmesh_subscribers_total", "r"), 1) << r.body;
  EXPECT_GE(metric_value(r.body, "rtcmesh_keyframe_requests_total", "r"), 1) << r.body;
  EXPECT_EQ(metric_value(r.body, "rtcmesh_connection_failures_total", "r"), 0) << r.body;
  EXPECT_NE(r.body.find("rtcmesh_room_publishers{room=\"r\"} 1"), std::string::npos) << r.body;
  EXPECT_EQ(http_request("POST", sfu.url("/metrics"), "text/plain", "x").status, 405u);
}

TEST(Sfu, BadInputGetsClearStatusesAndChangesNothing) {
  Sfu sfu("max-publishers=1");
  auto cam1 = publish(sfu, "cam1");
  ASSERT_TRUE(wait_until([&] { return sfu.sinks().video_frames("cam1") >= 5; }, kMediaTimeout));
  auto post = [&](const std::string& path, const std::string& body,
                  const char* type = "application/sdp") {
    return http_request("POST", sfu.url(path), type, body);
  };
  HttpReply r = post("/whip/other", kOffer);
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_NE(r.body.find("other"), std::string::npos) << r.body;
  EXPECT_EQ(post("/whip/r/cam1", kOffer).status, 409u);
  r = post("/whip/r/cam2", kOffer);
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(post("/whip/r/cam2", "v=0 garbage").status, 400u);
  EXPECT_EQ(post("/whip/r/cam2", kOffer, "text/plain").status, 415u);
  r = post("/whep/r/nobody", "v=0\r\n");
  EXPECT_EQ(r.status, 400u) << r.body;
  std::string recv_offer = std::regex_replace(kOffer, std::regex("sendonly"), "recvonly");
  r = post("/whep/r/nobody", recv_offer);
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_EQ(http_request("GET", sfu.url("/nothing"), nullptr, "").status, 404u);
  // Nothing changed for the publisher.
  int before = sfu.sinks().video_frames("cam1");
  EXPECT_TRUE(wait_until([&] { return sfu.sinks().video_frames("cam1") >= before + 10; }, 5s));
  EXPECT_EQ(sfu.stat("publishers"), 1u);
  EXPECT_TRUE(sfu.pipeline().errors().empty()) << joined(sfu.pipeline().errors());
}

// The child of KilledPublisherIsRemovedWithinPeerTimeout: publishes until killed.
int publish_until_killed() {
  const char* endpoint = std::getenv("RTCMESH_CHILD_ENDPOINT");
  if (!endpoint) return 2;
  Pipeline pub(publisher_launch(endpoint, "peer-timeout=3000"));
  pub.set_state(GST_STATE_PLAYING);
  std::this_thread::sleep_for(60s);
  return 0;
}
RTCMESH_CHILD_MODE("publish-until-killed", publish_until_killed);

TEST(Sfu, KilledPublisherIsRemovedWithinPeerTimeout) {
  Sfu sfu;
  Subprocess::Options opts;
  opts.env = {{"RTCMESH_CHILD_ENDPOINT", sfu.url("/whip/r/cam9")}};
  auto child = Subprocess::spawn(child_mode_command("publish-until-killed"), opts);
  ASSERT_TRUE(child);
  ASSERT_TRUE(wait_until([&] { return sfu.sinks().video_frames("cam9") >= 10; }, 30s))
      << joined(sfu.pipeline().errors());
  WhepViewer v(sfu.url("/whep/r/cam9"), "peer-timeout=3000");
  ASSERT_TRUE(v.play());
  ASSERT_TRUE(wait_until([&] { return v.video_frames() >= 5; }, kMediaTimeout));
  child->send_signal(SIGKILL);
  gint64 killed = g_get_monotonic_time();
  ASSERT_TRUE(wait_until([&] { return sfu.removed() == 1; }, 10s));
  double ms = (g_get_monotonic_time() - killed) / 1000.0;
  EXPECT_LT(ms, 3000 + 2000) << "removed after " << ms << " ms";
  std::printf("killed publisher removed after %.0f ms (peer-timeout 3000)\n", ms);
  EXPECT_EQ(sfu.stat("publishers"), 0u);
  // Its src pads stay, without EOS, for its next session (eos-on-leave=false).
  int pads = 0;
  for (auto& t : sfu.sinks().tracks()) {
    if (t->peer_id == "cam9") {
      EXPECT_FALSE(t->eos) << t->pad;
      GstPad* pad = gst_element_get_static_pad(sfu.element(), t->pad.c_str());
      EXPECT_NE(pad, nullptr) << t->pad;
      if (pad) gst_object_unref(pad);
      pads++;
    }
  }
  EXPECT_EQ(pads, 2);
  EXPECT_FALSE(sfu.pipeline().got_eos());
  EXPECT_TRUE(sfu.pipeline().errors().empty()) << joined(sfu.pipeline().errors());
}

TEST(Sfu, ElementsOnOnePortShareOneServerEachWithItsRoom) {
  Sfu a("", "ra");
  Sfu b("", "rb", a.port());
  ASSERT_EQ(b.port(), a.port());
  auto pa = publish(a, "cam", "", "ra");
  auto pb = publish(b, "cam", "", "rb");
  ASSERT_TRUE(wait_until(
      [&] { return a.sinks().video_frames("cam") >= 10 && b.sinks().video_frames("cam") >= 10; },
      kMediaTimeout))
      << joined(a.pipeline().errors()) << joined(b.pipeline().errors());
  EXPECT_EQ(a.stat("publishers"), 1u);
  EXPECT_EQ(b.stat("publishers"), 1u);
  EXPECT_EQ(http_request("POST", a.url("/whip/rc/x"), "application/sdp", kOffer).status, 404u);

  // A room hosted twice, or another token on the port: the element does not start.
  const std::string port = std::to_string(a.port());
  Pipeline twice("rtcsfu name=sfu port=" + port + " room=ra");
  EXPECT_EQ(twice.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  EXPECT_NE(joined(twice.errors()).find("already hosts room 'ra'"), std::string::npos)
      << joined(twice.errors());
  Pipeline token("rtcsfu name=sfu port=" + port + " room=rd auth-token=other");
  EXPECT_EQ(token.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  EXPECT_NE(joined(token.errors()).find("auth-token differs"), std::string::npos)
      << joined(token.errors());

  // One element stops: its room is gone, the other's publisher goes on.
  pb->set_state(GST_STATE_NULL);
  b.pipeline().set_state(GST_STATE_NULL);
  EXPECT_EQ(http_request("POST", a.url("/whip/rb/x"), "application/sdp", kOffer).status, 404u);
  int before = a.sinks().video_frames("cam");
  EXPECT_TRUE(wait_until([&] { return a.sinks().video_frames("cam") >= before + 10; }, 5s));
}

// The child of KilledSubscriberIsRemovedAndTheOthersGoOn: plays until killed.
int play_until_killed() {
  const char* endpoint = std::getenv("RTCMESH_CHILD_PLAYER");
  if (!endpoint) return 2;
  WhepViewer v(endpoint, "peer-timeout=3000");
  v.play();
  std::this_thread::sleep_for(60s);
  return 0;
}
RTCMESH_CHILD_MODE("play-until-killed", play_until_killed);

TEST(Sfu, KilledSubscriberIsRemovedAndTheOthersGoOn) {
  Sfu sfu;
  auto cam = publish(sfu, "cam1");
  // A player of an unknown publisher gets 404, final: wait for the publisher.
  ASSERT_TRUE(wait_until([&] { return sfu.sinks().video_frames("cam1") >= 5; }, kMediaTimeout));
  WhepViewer stays(sfu.url("/whep/r/cam1"), "peer-timeout=3000");
  ASSERT_TRUE(stays.play());
  Subprocess::Options opts;
  opts.env = {{"RTCMESH_CHILD_PLAYER", sfu.url("/whep/r/cam1")}};
  auto child = Subprocess::spawn(child_mode_command("play-until-killed"), opts);
  ASSERT_TRUE(child);
  ASSERT_TRUE(wait_until([&] { return sfu.stat("subscribers") == 2 && stays.video_frames() >= 10; },
                         30s))
      << joined(sfu.pipeline().errors());
  // Both subscribers receive (their connections count packets sent).
  std::this_thread::sleep_for(1500ms);
  child->send_signal(SIGKILL);
  gint64 killed = g_get_monotonic_time();
  ASSERT_TRUE(wait_until([&] { return sfu.unsubscribed() == 1; }, 10s));
  double ms = (g_get_monotonic_time() - killed) / 1000.0;
  std::printf("killed subscriber removed after %.0f ms (peer-timeout 3000)\n", ms);
  EXPECT_LT(ms, 3000 + 2000);
  EXPECT_EQ(sfu.stat("subscribers"), 1u);
  int before = stays.video_frames();
  EXPECT_TRUE(wait_until([&] { return stays.video_frames() >= before + 15; }, 5s));
  EXPECT_TRUE(sfu.pipeline().errors().empty()) << joined(sfu.pipeline().errors());
}
