// The native egress engine (gst/engine) against a real webrtcbin: the engine
// offers (a=ice-lite, our host candidate on the shared port), webrtcbin
// answers, runs ICE as the controlling agent, DTLS as client, and decodes
// the VP8 the engine forwards from a tapped publisher track (a live encoder
// here). Then bad input on the port: dropped, counted, the session goes on.
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>
#include <random>
#include <set>

#include "gst/engine/engine.h"
#include "gst/engine/packet.h"
#include "gst/engine/stun.h"
#include "gst/peer/dtls_certificate.h"
#include "signaling/http/dtls_fingerprint.h"
#include "tests/support/harness.h"

using namespace rtcmesh;
using namespace rtcmesh::engine;
using namespace std::chrono_literals;

namespace {

std::string describe(const EngineStats& s) {
  return "received " + std::to_string(s.received) + ", sent " + std::to_string(s.sent) + ", unknown user " +
         std::to_string(s.dropped_unknown_user) + ", bad STUN " + std::to_string(s.dropped_bad_stun) +
         ", unauthorized " + std::to_string(s.dropped_unauthorized) + ", unknown address " +
         std::to_string(s.dropped_unknown_address) + ", DTLS " + std::to_string(s.dropped_dtls);
}

std::string attribute(const std::string& sdp, const std::string& name) {
  auto at = sdp.find("a=" + name + ":");
  if (at == std::string::npos) return "";
  at += name.size() + 3;
  return sdp.substr(at, sdp.find_first_of("\r\n", at) - at);
}

// rtx_ssrc: RTX (RFC 4588, payload type 97) offered too.
std::string offer_sdp(const Engine& engine, const Engine::LocalParams& local, uint32_t ssrc, uint16_t port,
                      uint32_t rtx_ssrc = 0) {
  std::string fp = engine.fingerprint();
  std::string s =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\na=group:BUNDLE 0\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96" + std::string(rtx_ssrc ? " 97" : "") + "\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
      "a=ice-ufrag:" + local.ufrag + "\r\na=ice-pwd:" + local.pwd + "\r\n"
      "a=fingerprint:" + fp + "\r\na=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n"
      "a=rtcp-rsize\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
      + (rtx_ssrc ? "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=ssrc-group:FID " + std::to_string(ssrc) + " " +
                        std::to_string(rtx_ssrc) + "\r\na=ssrc:" + std::to_string(rtx_ssrc) + " cname:rtcmesh\r\n"
                  : std::string()) +
      "a=ssrc:" + std::to_string(ssrc) + " cname:rtcmesh\r\n"
      "a=candidate:1 1 UDP 2130706431 127.0.0.1 " + std::to_string(port) + " typ host\r\n"
      "a=end-of-candidates\r\n";
  return s;
}

GstWebRTCSessionDescription* description(GstWebRTCSDPType type, const std::string& text) {
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new_from_text(text.c_str(), &sdp);
  return gst_webrtc_session_description_new(type, sdp);
}

// A webrtcbin's ICE on loopback only, without UPnP (libnice leaves
// loopback out by default).
void loopback_only(GstElement* webrtc) {
  GstWebRTCICE* ice = nullptr;
  g_object_get(webrtc, "ice-agent", &ice, nullptr);
  GObject* agent = nullptr;
  g_object_get(ice, "agent", &agent, nullptr);
  g_object_set(agent, "upnp", FALSE, nullptr);
  g_object_unref(agent);
  gboolean ok = FALSE;
  g_signal_emit_by_name(ice, "add-local-ip-address", "127.0.0.1", &ok);
  gst_object_unref(ice);
}

// webrtcbin's "offer" or "answer" (create-offer/create-answer), set as its
// local description; its SDP text, empty when none came.
std::string create_local_description(GstElement* webrtc, const std::string& kind) {
  GstPromise* p = gst_promise_new();
  g_signal_emit_by_name(webrtc, ("create-" + kind).c_str(), nullptr, p);
  GstWebRTCSessionDescription* desc = nullptr;
  if (gst_promise_wait(p) == GST_PROMISE_RESULT_REPLIED)
    gst_structure_get(gst_promise_get_reply(p), kind.c_str(), GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
  gst_promise_unref(p);
  if (!desc) return "";
  gchar* text = gst_sdp_message_as_text(desc->sdp);
  std::string sdp = text;
  g_free(text);
  p = gst_promise_new();
  g_signal_emit_by_name(webrtc, "set-local-description", desc, p);
  gst_promise_wait(p);
  gst_promise_unref(p);
  gst_webrtc_session_description_free(desc);
  return sdp;
}

// What a player pad-added gets: depayload, decode, count raw frames.
void on_pad(GstElement* webrtc, GstPad* pad, gpointer data) {
  auto* track = static_cast<std::shared_ptr<test::Track>*>(data);
  GstElement* pipeline = GST_ELEMENT(gst_element_get_parent(webrtc));
  GstElement* chain = gst_parse_bin_from_description("queue ! rtpvp8depay ! vp8dec ! videoconvert", TRUE, nullptr);
  GstElement* sink = test::make_counting_sink(*track, "video/x-raw");
  gst_bin_add_many(GST_BIN(pipeline), chain, sink, nullptr);
  gst_element_link(chain, sink);
  gst_element_sync_state_with_parent(chain);
  gst_element_sync_state_with_parent(sink);
  GstPad* in = gst_element_get_static_pad(chain, "sink");
  gst_pad_link(pad, in);
  gst_object_unref(in);
  gst_object_unref(pipeline);
}

struct TapContext {
  Engine* engine = nullptr;
  TrackId track = 0;
  std::mutex lock;
  std::vector<uint8_t> last;  // the last packet pushed
};

GstFlowReturn on_tap(GstAppSink* sink, gpointer data) {
  auto* ctx = static_cast<TapContext*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  GstMapInfo map;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    // As rtcsfu's tap: a frame's packets as one batch, ending at the marker bit.
    ctx->engine->push(ctx->track, map.data, map.size, map.size >= 2 && !(map.data[1] & 0x80));
    std::lock_guard<std::mutex> g(ctx->lock);
    ctx->last.assign(map.data, map.data + map.size);
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

void send_udp(uint16_t port, const std::vector<uint8_t>& data, int fd) {
  Address to = Address::parse("127.0.0.1", port);
  sendto(fd, data.data(), data.size(), 0, to.sa(), to.length);
}

// A UDP relay in front of the engine that loses `loss` of the RTP going to
// the player (never STUN, DTLS or RTCP): what 2 % loss on a subscriber's
// path looks like to the engine. `inbound`: the RTP going to the engine is
// lost instead (a publisher's path).
class LossyRelay {
 public:
  LossyRelay(uint16_t engine_port, double loss, bool inbound = false)
      : engine_(Address::parse("127.0.0.1", engine_port)), loss_(loss), inbound_(inbound) {
    for (int* fd : {&outside_, &inside_}) {
      *fd = socket(AF_INET, SOCK_DGRAM, 0);
      Address any = Address::parse("127.0.0.1", 0);
      bind(*fd, any.sa(), any.length);
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(outside_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = Address::from(reinterpret_cast<sockaddr*>(&bound), len).port();
    thread_ = std::thread([this] { run(); });
  }
  ~LossyRelay() {
    stop_ = true;
    thread_.join();
    close(outside_);
    close(inside_);
  }
  uint16_t port() const { return port_; }
  int dropped() const { return dropped_; }
  int forwarded() const { return forwarded_; }
  // A datagram to the engine from the relay's side: from the address the
  // engine knows the peer by.
  void inject(const std::vector<uint8_t>& data) { sendto(inside_, data.data(), data.size(), 0, engine_.sa(), engine_.length); }

 private:
  void run() {
    std::mt19937 rng(11);
    uint8_t buf[2048];
    while (!stop_) {
      pollfd fds[2] = {{outside_, POLLIN, 0}, {inside_, POLLIN, 0}};
      if (poll(fds, 2, 50) <= 0) continue;
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      if (fds[0].revents & POLLIN) {  // player → engine
        ssize_t n = recvfrom(outside_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0) {
          player_ = Address::from(reinterpret_cast<sockaddr*>(&from), len);
          if (inbound_ && classify(buf, size_t(n)) == PacketKind::kRtp && rng() % 10000 < loss_ * 10000) {
            dropped_++;
            continue;
          }
          forwarded_++;
          sendto(inside_, buf, size_t(n), 0, engine_.sa(), engine_.length);
        }
      }
      if (fds[1].revents & POLLIN) {  // engine → player
        ssize_t n = recv(inside_, buf, sizeof buf, 0);
        if (n <= 0 || player_.empty()) continue;
        if (!inbound_ && classify(buf, size_t(n)) == PacketKind::kRtp && rng() % 10000 < loss_ * 10000) {
          dropped_++;
          continue;
        }
        forwarded_++;
        sendto(outside_, buf, size_t(n), 0, player_.sa(), player_.length);
      }
    }
  }
  Address engine_, player_;
  double loss_;
  bool inbound_;
  int outside_ = -1, inside_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> dropped_{0}, forwarded_{0};
  std::thread thread_;
};

// An engine with one session and one slot fed by a live VP8 encoder, and a
// plain webrtcbin that answers its offer and decodes (frames). The offer's
// candidate is the engine's port, or `candidate_port` (a relay).
struct EngineAndPlayer {
  std::atomic<int> connected{0}, keyframes{0};
  std::string failure;
  std::unique_ptr<Engine> engine_holder;
  TrackId track = 0;
  Engine::LocalParams local;
  Engine::RemoteParams remote;
  std::unique_ptr<test::Pipeline> player_holder, publisher_holder;
  std::shared_ptr<test::Track> frames = std::make_shared<test::Track>();
  TapContext tap_ctx;
  static constexpr uint32_t ssrc = 0x1234ABCD;
  uint32_t rtx_ssrc = 0;  // not 0: RTX offered and enabled on the slot
  // Given the engine's port, where the offer points the player (a relay).
  std::function<uint16_t(uint16_t)> relay_factory;
  // When set, feeds `track` instead of the tapped encoder (native ingress),
  // once the player's session started.
  std::function<void()> publish;
  std::atomic<uint64_t> received{0};  // Events::received of `track`
  // A player without loss sends RTCP only every 2.5-7.5 s (rtpsession's
  // randomised 5 s) and libnice no consent checks to an ICE-lite peer:
  // longer runs need more than 5 s.
  std::chrono::milliseconds peer_timeout = 5000ms;

  void start() {
    EngineConfig config;
    config.threads = 2;
    config.peer_timeout = peer_timeout;
    config.certificate_pem = peer::dtls_certificate_pem();
    engine_holder = std::make_unique<Engine>(config, Engine::Events{[this](SessionId) { connected++; },
                           [this](SessionId id, const std::string& why) { failure = "session " + std::to_string(id) + ": " + why; },
                           [this](TrackId) { keyframes++; }, nullptr,
                           [this](TrackId id, const uint8_t*, size_t) {
                             if (id == track) received++;
                           }});
    Engine& engine = *engine_holder;
    ASSERT_GT(engine.port(), 0);
    EXPECT_EQ(engine.threads(), 2u);

    track = engine.add_track();
    local = engine.create_session();
    size_t slot = engine.add_slot(local.id, ssrc, 96, 90000);
    engine.feed(local.id, slot, track);
    if (rtx_ssrc) engine.enable_rtx(local.id, slot, rtx_ssrc, 97);
    uint16_t candidate_port = relay_factory ? relay_factory(engine.port()) : engine.port();
    // The player: a plain webrtcbin answering our offer.
    player_holder = std::make_unique<test::Pipeline>("webrtcbin name=recv bundle-policy=max-bundle");
    test::Pipeline& player = *player_holder;
    GstElement* recv = player.by_name("recv");
    frames->pad = "video_0";
    // NACKs for what the path loses (webrtcbin 1.22 leaves do-nack off).
    g_signal_connect(recv, "on-new-transceiver", G_CALLBACK(+[](GstElement*, GObject* t, gpointer) {
                       g_object_set(t, "do-nack", TRUE, nullptr);
                     }), nullptr);
    g_signal_connect(recv, "pad-added", G_CALLBACK(on_pad), &frames);
    loopback_only(recv);
    ASSERT_NE(player.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

    GstWebRTCSessionDescription* offer = description(GST_WEBRTC_SDP_TYPE_OFFER, offer_sdp(engine, local, ssrc, candidate_port, rtx_ssrc));
    GstPromise* p = gst_promise_new();
    g_signal_emit_by_name(recv, "set-remote-description", offer, p);
    gst_promise_wait(p);
    gst_promise_unref(p);
    gst_webrtc_session_description_free(offer);
    std::string answer_sdp = create_local_description(recv, "answer");
    ASSERT_FALSE(answer_sdp.empty());

    remote.ufrag = attribute(answer_sdp, "ice-ufrag");
    remote.pwd = attribute(answer_sdp, "ice-pwd");
    remote.fingerprints = sig::dtls_fingerprints(answer_sdp);
    // webrtcbin answers a=setup:active: it is the DTLS client.
    ASSERT_EQ(attribute(answer_sdp, "setup"), "active");
    remote.role = DtlsTransport::Role::kServer;
    engine.start_session(local.id, remote);

    if (publish) {
      ASSERT_NO_FATAL_FAILURE(publish());
    } else {
      // The publisher's track, tapped once: a live VP8 encoder's RTP.
      publisher_holder = std::make_unique<test::Pipeline>(
          "videotestsrc is-live=true pattern=snow ! video/x-raw,width=320,height=240,framerate=15/1 "
          "! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=600000 "
          "! rtpvp8pay pt=100 ssrc=777 mtu=400 "
          "! appsink name=tap sync=false emit-signals=true");
      tap_ctx.engine = &engine;
      tap_ctx.track = track;
      test::Pipeline& publisher = *publisher_holder;
      g_signal_connect(publisher.by_name("tap"), "new-sample", G_CALLBACK(on_tap), &tap_ctx);
      ASSERT_NE(publisher.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    }

    ASSERT_TRUE(test::wait_until([&] { return connected > 0; }, 15s)) << "DTLS never connected: " << failure << "; " << describe(engine.stats());
    ASSERT_TRUE(test::wait_until([&] { return frames->buffers >= 20; }, 20s))
        << "decoded frames: " << frames->buffers << "; " << failure;
    EXPECT_NE(frames->caps.find("width=(int)320"), std::string::npos) << frames->caps;
    auto stats = engine.session_stats(local.id);
    EXPECT_TRUE(stats.connected);
    EXPECT_EQ(stats.selected.rfind("127.0.0.1:", 0), 0u) << stats.selected;
    EXPECT_GT(stats.packets_sent, 20u);
  }
  ~EngineAndPlayer() {
    if (publisher_holder) publisher_holder->set_state(GST_STATE_NULL);
    player_holder.reset();
    if (engine_holder) engine_holder->remove_session(local.id);
  }
};

}  // namespace

TEST(NativeEngine, WebrtcbinDecodesWhatTheEngineForwardsAndBadInputIsDropped) {
  EngineAndPlayer t;
  ASSERT_NO_FATAL_FAILURE(t.start());
  Engine& engine = *t.engine_holder;
  auto& frames = t.frames;
  auto& local = t.local;
  auto& remote = t.remote;
  std::string& failure = t.failure;

  // Bad input on the shared port, from another socket (an address no valid
  // check came from).
  EngineStats before = engine.stats();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  std::mt19937 rng(7);
  auto random_bytes = [&](size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    return v;
  };
  std::vector<uint8_t> unknown = random_bytes(100);
  unknown[0] = 0xF0;  // no protocol of RFC 7983
  send_udp(engine.port(), unknown, fd);
  stun::TransactionId id{};
  auto check = stun::Builder(stun::kBindingRequest, id)
                   .add(stun::kUsername, local.ufrag + ":" + remote.ufrag)
                   .add_u64(stun::kIceControlling, 1)
                   .finish("not-the-password-at-all", true);
  send_udp(engine.port(), check, fd);                                                 // wrong integrity
  send_udp(engine.port(), std::vector<uint8_t>(check.begin(), check.begin() + 30), fd);  // truncated
  std::vector<uint8_t> dtls = random_bytes(80);
  dtls[0] = 22;
  send_udp(engine.port(), dtls, fd);  // DTLS garbage from an unknown address
  std::vector<uint8_t> rtp = random_bytes(200);
  rtp[0] = 0x80;
  rtp[1] = 96;
  send_udp(engine.port(), rtp, fd);  // RTP from an unknown address
  for (int i = 0; i < 3000; ++i) {    // a flood from one address
    auto junk = random_bytes(64 + rng() % 900);
    junk[0] = uint8_t(0x80 | (rng() % 64));
    send_udp(engine.port(), junk, fd);
  }
  close(fd);
  ASSERT_TRUE(test::wait_until([&] {
    EngineStats s = engine.stats();
    return s.dropped_unknown_address >= before.dropped_unknown_address + 3002;
  }, 10s)) << engine.stats().dropped_unknown_address;
  EngineStats after = engine.stats();
  EXPECT_GE(after.dropped_unknown, before.dropped_unknown + 1);
  EXPECT_GE(after.dropped_unauthorized, before.dropped_unauthorized + 1);
  EXPECT_GE(after.dropped_bad_stun, before.dropped_bad_stun + 1);

  // The session did not notice.
  int decoded = frames->buffers;
  ASSERT_TRUE(test::wait_until([&] { return frames->buffers >= decoded + 15; }, 10s))
      << "frames stopped after bad input: " << frames->buffers;
  EXPECT_TRUE(engine.session_stats(local.id).connected);
  EXPECT_TRUE(failure.empty()) << failure;
  // The packets of a frame (rtpvp8pay cuts it in 400-byte packets) left
  // as UDP GSO messages, which webrtcbin received as datagrams and decoded.
  EngineStats sent = engine.stats();
  EXPECT_GT(sent.sent_segmented, sent.sent / 2) << sent.sent_segmented << " of " << sent.sent << " datagrams";
}

// The engine's port is its own: its RTCP is steered between two sockets
// of a SO_REUSEPORT group, which a second engine asked for the same port
// must not join (it would take part of the first one's traffic).
TEST(NativeEngine, ASecondEngineCannotTakeTheSamePort) {
  EngineConfig config;
  config.threads = 1;
  config.certificate_pem = peer::dtls_certificate_pem();
  Engine first(config, Engine::Events{});
  config.port = first.port();
  try {
    Engine second(config, Engine::Events{});
    ADD_FAILURE() << "a second engine bound port " << second.port();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot bind"), std::string::npos) << e.what();
  }
  // Engines on port 0 each get a port of their own.
  std::vector<std::unique_ptr<Engine>> many;
  std::set<uint16_t> ports{first.port()};
  config.port = 0;
  for (int i = 0; i < 20; ++i) {
    many.push_back(std::make_unique<Engine>(config, Engine::Events{}));
    EXPECT_TRUE(ports.insert(many.back()->port()).second) << "port " << many.back()->port() << " twice";
  }
}

// A room's sessions share a worker (no hop between a publisher and its
// subscribers); a new room goes to the worker with the fewest sessions. A
// session's worker is its id modulo the thread count (docs/architecture.md).
TEST(NativeEngine, ARoomsSessionsShareAWorkerAndRoomsSpreadOverWorkers) {
  EngineConfig config;
  config.threads = 2;
  config.certificate_pem = peer::dtls_certificate_pem();
  Engine engine(config, Engine::Events{});
  auto worker = [](const Engine::LocalParams& p) { return p.id % 2; };
  std::vector<Engine::LocalParams> a, b;
  for (int i = 0; i < 3; ++i) a.push_back(engine.create_session("room-a"));
  for (int i = 0; i < 2; ++i) b.push_back(engine.create_session("room-b"));
  for (auto& p : a) EXPECT_EQ(worker(p), worker(a[0]));
  for (auto& p : b) EXPECT_EQ(worker(p), worker(b[0]));
  EXPECT_EQ(worker(a[0]), 0u) << "the first room goes to the reader";
  EXPECT_NE(worker(b[0]), worker(a[0])) << "the second to the idle worker";
  // room-a empties: a new room goes where the sessions are fewest.
  for (auto& p : a) engine.remove_session(p.id);
  EXPECT_EQ(worker(engine.create_session("room-c")), worker(a[0]));
  // room-a is forgotten with its last session: placed anew (now beside room-c: 1 and 2 sessions).
  EXPECT_EQ(worker(engine.create_session("room-a")), worker(a[0]));
}

// `t` started behind a relay that loses 2 % of the RTP to the player, until
// 10 packets were lost and 45 more frames decoded.
static void run_with_loss(EngineAndPlayer& t, std::unique_ptr<LossyRelay>& relay) {
  // In front of the engine once it has a port; the offer points at the relay.
  t.relay_factory = [&](uint16_t engine_port) {
    relay = std::make_unique<LossyRelay>(engine_port, 0.02);
    return relay->port();
  };
  ASSERT_NO_FATAL_FAILURE(t.start());
  int decoded = t.frames->buffers;
  ASSERT_TRUE(test::wait_until([&] { return relay->dropped() >= 10 && t.frames->buffers >= decoded + 45; }, 20s))
      << "dropped " << relay->dropped() << " of " << relay->forwarded() << " forwarded, frames " << t.frames->buffers
      << "; engine sent " << t.engine_holder->session_stats(t.local.id).packets_sent << " to "
      << t.engine_holder->session_stats(t.local.id).selected;
}

// 2 % of the RTP to the player lost on the way: its NACKs are answered from
// the track's shared history and the picture keeps coming.
TEST(NativeEngine, NacksAreAnsweredFromTheSharedHistory) {
  EngineAndPlayer t;
  std::unique_ptr<LossyRelay> relay;
  ASSERT_NO_FATAL_FAILURE(run_with_loss(t, relay));
  SessionStats stats = t.engine_holder->session_stats(t.local.id);
  EXPECT_GT(stats.nacks, 0u);
  EXPECT_GT(stats.retransmissions, 0u);
  // The RTCP carrying them was steered by the kernel to the feedback socket.
  EXPECT_GE(t.engine_holder->stats().received_feedback, stats.rtcp_received);
  std::printf("relay dropped %d RTP packets; NACKed %llu, retransmitted %llu; %d frames decoded\n",
              relay->dropped(), (unsigned long long)stats.nacks, (unsigned long long)stats.retransmissions,
              int(t.frames->buffers));
}

// The same loss with RTX negotiated (RFC 4588): the NACKs are answered on
// the RTX stream, which webrtcbin's rtprtxreceive turns back into the
// original packets, and the picture keeps coming.
TEST(NativeEngine, NacksAreAnsweredOnTheRtxStreamWhenNegotiated) {
  EngineAndPlayer t;
  t.rtx_ssrc = 0x0BADCAFE;
  std::unique_ptr<LossyRelay> relay;
  ASSERT_NO_FATAL_FAILURE(run_with_loss(t, relay));
  ASSERT_TRUE(test::wait_until([&] { return t.engine_holder->session_stats(t.local.id).rtx_sent > 0; }, 5s));
  SessionStats stats = t.engine_holder->session_stats(t.local.id);
  EXPECT_EQ(stats.rtx_sent, stats.retransmissions);
  // webrtcbin's rtprtxreceive took them as RTX of our stream.
  guint rtx_packets = 0, associated = 0;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(t.player_holder->by_name("recv")));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    GstElement* e = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(e);
    if (f && g_str_equal(GST_OBJECT_NAME(f), "rtprtxreceive")) {
      guint n = 0, a = 0;
      g_object_get(e, "num-rtx-packets", &n, "num-rtx-assoc-packets", &a, nullptr);
      rtx_packets += n;
      associated += a;
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  EXPECT_GT(associated, 0u) << rtx_packets << " RTX packets received";
  std::printf("relay dropped %d; NACKed %llu, sent on RTX %llu; the player's rtprtxreceive: %u RTX, %u associated; "
              "%d frames\n",
              relay->dropped(), (unsigned long long)stats.nacks, (unsigned long long)stats.rtx_sent, rtx_packets,
              associated, int(t.frames->buffers));
}

// The packets of a frame are handed to the workers at its marker bit; a
// frame whose last packet never reaches the engine (lost before it) is sent
// anyway once held for 5 ms, by worker 0's housekeeping when no other packet
// comes.
TEST(NativeEngine, ABatchWhoseLastPacketNeverComesIsSentAnyway) {
  EngineAndPlayer t;
  ASSERT_NO_FATAL_FAILURE(t.start());
  Engine& engine = *t.engine_holder;
  t.publisher_holder->set_state(GST_STATE_NULL);  // no more pushes from the tap
  std::vector<uint8_t> packet;
  {
    std::lock_guard<std::mutex> g(t.tap_ctx.lock);
    packet = t.tap_ctx.last;
  }
  ASSERT_GE(packet.size(), 12u);
  std::this_thread::sleep_for(300ms);
  uint64_t sent = engine.session_stats(t.local.id).packets_sent;
  // The next packet of the stream, as the first of a frame whose end never comes.
  uint16_t seq = uint16_t((packet[2] << 8 | packet[3]) + 1);
  packet[1] &= 0x7F;
  packet[2] = uint8_t(seq >> 8);
  packet[3] = uint8_t(seq);
  auto pushed = std::chrono::steady_clock::now();
  engine.push(t.track, packet.data(), packet.size(), true);
  ASSERT_TRUE(test::wait_until([&] { return engine.session_stats(t.local.id).packets_sent > sent; }, 2s))
      << "a held packet was never sent";
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - pushed);
  EXPECT_EQ(engine.session_stats(t.local.id).packets_sent, sent + 1);
  std::printf("held packet sent after %lld ms\n", (long long)waited.count());
}

namespace {

// The SR the player's rtpbin last received for `ssrc`: {have, ntp, rtp}.
// The rtpsession of a webrtcbin's bundle (owned by the caller), or null.
GObject* bundle_session(GstElement* webrtc) {
  GstElement* rtpbin = gst_bin_get_by_name(GST_BIN(webrtc), "rtpbin");
  GObject* session = nullptr;
  g_signal_emit_by_name(rtpbin, "get-internal-session", 0u, &session);
  gst_object_unref(rtpbin);
  return session;
}

std::tuple<bool, guint64, guint> received_sr(GstElement* webrtc, uint32_t ssrc) {
  GObject* session = bundle_session(webrtc);
  if (!session) return {false, 0, 0};
  GObject* source = nullptr;
  g_signal_emit_by_name(session, "get-source-by-ssrc", guint(ssrc), &source);
  g_object_unref(session);
  if (!source) return {false, 0, 0};
  GstStructure* stats = nullptr;
  g_object_get(source, "stats", &stats, nullptr);
  g_object_unref(source);
  gboolean have = FALSE;
  guint64 ntp = 0;
  guint rtp = 0;
  gst_structure_get_boolean(stats, "have-sr", &have);
  gst_structure_get_uint64(stats, "sr-ntptime", &ntp);
  gst_structure_get_uint(stats, "sr-rtptime", &rtp);
  gst_structure_free(stats);
  return {bool(have), ntp, rtp};
}

// The report block about its own stream `ssrc` that rtpbin last received
// (our RR; rtpbin keeps it on the reporter's source): {have, fraction lost,
// packets lost, LSR, round trip in 1/65536 s}.
std::tuple<bool, guint, gint, guint, guint> received_rb(GstElement* webrtc, uint32_t ssrc) {
  std::tuple<bool, guint, gint, guint, guint> rb{false, 0, 0, 0, 0};
  GObject* session = bundle_session(webrtc);
  if (!session) return rb;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS  // rtpsession's "sources" is a GValueArray
  GValueArray* sources = nullptr;
  g_object_get(session, "sources", &sources, nullptr);
  g_object_unref(session);
  for (guint i = 0; sources && i < sources->n_values; ++i) {
    GObject* source = G_OBJECT(g_value_get_object(g_value_array_get_nth(sources, i)));
    GstStructure* stats = nullptr;
    g_object_get(source, "stats", &stats, nullptr);
    gboolean have = FALSE;
    guint about = 0, fraction = 0, lsr = 0, rtt = 0;
    gint lost = 0;
    gst_structure_get_boolean(stats, "have-rb", &have);
    gst_structure_get_uint(stats, "rb-ssrc", &about);
    if (have && about == ssrc) {
      gst_structure_get_uint(stats, "rb-fractionlost", &fraction);
      gst_structure_get_int(stats, "rb-packetslost", &lost);
      gst_structure_get_uint(stats, "rb-lsr", &lsr);
      gst_structure_get_uint(stats, "rb-round-trip", &rtt);
      rb = {true, fraction, lost, lsr, rtt};
    }
    gst_structure_free(stats);
  }
  if (sources) g_value_array_free(sources);
  G_GNUC_END_IGNORE_DEPRECATIONS
  return rb;
}

}  // namespace

// The publisher's SR (NTP↔RTP mapping of its stream, SSRC 777 here) is what
// the subscriber's SRs carry, moved on to their send time: the player's
// rtpbin holds an SR on the publisher's NTP clock (late 2029 here, not ours)
// whose RTP timestamp matches it at 90 kHz. Then the stream ends: a last SR
// and an RTCP BYE, and the player's rtpbin reports the BYE of our SSRC.
TEST(NativeEngine, ReportsCarryThePublishersClockAndByeEndsTheStream) {
  EngineAndPlayer t;
  ASSERT_NO_FATAL_FAILURE(t.start());
  Engine& engine = *t.engine_holder;
  GstElement* recv = t.player_holder->by_name("recv");
  std::atomic<guint> bye_ssrc{0};
  GstElement* rtpbin = gst_bin_get_by_name(GST_BIN(recv), "rtpbin");
  g_signal_connect(rtpbin, "on-bye-ssrc", G_CALLBACK(+[](GstElement*, guint, guint ssrc, gpointer data) {
                     static_cast<std::atomic<guint>*>(data)->store(ssrc);
                   }),
                   &bye_ssrc);
  gst_object_unref(rtpbin);

  const uint64_t publisher_ntp = uint64_t(4100000000u) << 32;  // late 2029: not our clock
  const uint32_t publisher_rtp = 0x10000000;
  engine.sender_report(777, publisher_ntp, publisher_rtp);
  auto reported = std::chrono::steady_clock::now();
  // The next SR (one a second) carries it.
  guint64 ntp = 0;
  guint rtp = 0;
  ASSERT_TRUE(test::wait_until([&] {
    auto [have, n, r] = received_sr(recv, t.ssrc);
    ntp = n;
    rtp = r;
    return have && (n >> 32) >= 4100000000u;
  }, 5s)) << "the player's last SR: NTP " << ntp << " (seconds " << (ntp >> 32) << ")";
  double elapsed = double(ntp - publisher_ntp) / 4294967296.0;
  double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - reported).count();
  EXPECT_GE(elapsed, 0.0);
  EXPECT_LE(elapsed, since + 0.01);
  // No source switch: the slot's timestamps are the publisher's (offset 0).
  EXPECT_NEAR(double(uint32_t(rtp - publisher_rtp)) / 90000.0, elapsed, 0.001)
      << "SR RTP " << rtp << " for " << elapsed << " s after the publisher's SR";

  EXPECT_EQ(bye_ssrc.load(), 0u);
  engine.end_streams(t.local.id);
  ASSERT_TRUE(test::wait_until([&] { return bye_ssrc.load() == t.ssrc; }, 5s)) << "BYE of " << bye_ssrc.load();
  uint64_t sent = engine.session_stats(t.local.id).packets_sent;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(engine.session_stats(t.local.id).packets_sent, sent) << "the slot is not fed after the BYE";
}

namespace {

// The payload type of `encoding` ("VP8/90000") in an SDP, or -1.
int payload_type_of(const std::string& sdp, const std::string& encoding) {
  for (size_t at = sdp.find("a=rtpmap:"); at != std::string::npos; at = sdp.find("a=rtpmap:", at + 1)) {
    size_t end = sdp.find_first_of("\r\n", at);
    std::string line = sdp.substr(at + 9, end - at - 9);
    size_t space = line.find(' ');
    if (space != std::string::npos && line.substr(space + 1) == encoding) return std::stoi(line.substr(0, space));
  }
  return -1;
}

// The RTX payload type (a=fmtp:N apt=`media`) in an SDP, or -1.
int rtx_payload_type_of(const std::string& sdp, int media) {
  std::string apt = " apt=" + std::to_string(media);
  for (size_t at = sdp.find("a=fmtp:"); at != std::string::npos; at = sdp.find("a=fmtp:", at + 1)) {
    size_t end = sdp.find_first_of("\r\n", at);
    std::string line = sdp.substr(at + 7, end - at - 7);
    size_t space = line.find(' ');
    if (space != std::string::npos && line.substr(space) == apt) return std::stoi(line.substr(0, space));
  }
  return -1;
}

// A webrtcbin publisher of a live VP8 encoder to the engine (native
// ingress): webrtcbin offers (sendonly, NACK and so RTX on), the engine's
// answer is written here (ice-lite, recvonly, a=setup:passive: webrtcbin is
// the DTLS client). The force-key-unit requests reaching the encoder are
// counted.
struct WebrtcbinPublisher {
  std::unique_ptr<test::Pipeline> pipeline;
  std::atomic<int> key_unit_requests{0};
  Engine::LocalParams local;
  std::string offer, answer;
  int payload_type = -1, rtx_payload_type = -1;

  void start(Engine& engine, TrackId track, uint16_t candidate_port) {
    pipeline = std::make_unique<test::Pipeline>(
        "videotestsrc is-live=true pattern=snow ! video/x-raw,width=320,height=240,framerate=15/1 "
        "! vp8enc name=enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=600000 "
        "! rtpvp8pay name=pay mtu=400 ! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 "
        "! webrtcbin name=send bundle-policy=max-bundle");
    GstElement* send = pipeline->by_name("send");
    GstPad* enc_src = gst_element_get_static_pad(pipeline->by_name("enc"), "src");
    gst_pad_add_probe(enc_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
                      +[](GstPad*, GstPadProbeInfo* info, gpointer data) {
                        if (gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info)))
                          static_cast<std::atomic<int>*>(data)->fetch_add(1);
                        return GST_PAD_PROBE_OK;
                      },
                      &key_unit_requests, nullptr);
    gst_object_unref(enc_src);
    {  // sendonly, and NACKs answered (webrtcbin 1.22 leaves do-nack off; on, it offers RTX)
      GstWebRTCRTPTransceiver* transceiver = nullptr;
      g_signal_emit_by_name(send, "get-transceiver", 0, &transceiver);
      ASSERT_NE(transceiver, nullptr);
      g_object_set(transceiver, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, "do-nack", TRUE, nullptr);
      gst_object_unref(transceiver);
    }
    loopback_only(send);
    ASSERT_NE(pipeline->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

    offer = create_local_description(send, "offer");
    ASSERT_FALSE(offer.empty());

    payload_type = payload_type_of(offer, "VP8/90000");
    ASSERT_GT(payload_type, 0) << offer;
    rtx_payload_type = rtx_payload_type_of(offer, payload_type);
    ASSERT_GT(rtx_payload_type, 0) << "no RTX offered:\n" << offer;
    std::string mid = attribute(offer, "mid");

    local = engine.create_session();
    Engine::RemoteParams remote;
    remote.ufrag = attribute(offer, "ice-ufrag");
    remote.pwd = attribute(offer, "ice-pwd");
    remote.fingerprints = sig::dtls_fingerprints(offer);
    remote.role = DtlsTransport::Role::kServer;  // we answer a=setup:passive
    engine.start_session(local.id, remote);
    IngressStream stream;
    stream.payload_type = uint8_t(payload_type);
    stream.video = true;
    stream.rtx_payload_type = rtx_payload_type;
    stream.track = track;
    engine.add_ingress(local.id, stream);  // before DTLS is up, as rtcsfu would

    std::string pt = std::to_string(payload_type), rtx = std::to_string(rtx_payload_type);
    answer =
        "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\na=group:BUNDLE " + mid + "\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF " + pt + " " + rtx + "\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:" + local.ufrag + "\r\na=ice-pwd:" + local.pwd + "\r\n"
        "a=fingerprint:" + engine.fingerprint() + "\r\na=setup:passive\r\na=mid:" + mid + "\r\na=recvonly\r\n"
        "a=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:" + pt + " VP8/90000\r\na=rtcp-fb:" + pt + " nack\r\n"
        "a=rtcp-fb:" + pt + " nack pli\r\na=rtpmap:" + rtx + " rtx/90000\r\na=fmtp:" + rtx + " apt=" + pt + "\r\n"
        "a=candidate:1 1 UDP 2130706431 127.0.0.1 " + std::to_string(candidate_port) + " typ host\r\n"
        "a=end-of-candidates\r\n";
    GstWebRTCSessionDescription* theirs = description(GST_WEBRTC_SDP_TYPE_ANSWER, answer);
    GstPromise* p = gst_promise_new();
    g_signal_emit_by_name(send, "set-remote-description", theirs, p);
    gst_promise_wait(p);
    gst_promise_unref(p);
    gst_webrtc_session_description_free(theirs);
  }
};

}  // namespace

// Native ingress: a webrtcbin publisher sends VP8 (and RTX) to a session of
// the engine, whose track feeds a webrtcbin subscriber on another session.
// 3 % of the publisher's RTP is lost on the way in: the engine NACKs the
// gaps, webrtcbin answers on RTX, the engine unwraps and forwards, and the
// subscriber keeps decoding. request_keyframe sends the publisher a PLI that
// reaches its encoder as a force-key-unit. RTP from the subscriber's session
// (no ingress) is dropped and counted.
TEST(NativeEngine, APublisherSessionFeedsSubscribersAndIsAskedForLostPacketsAndKeyframes) {
  EngineAndPlayer t;
  std::unique_ptr<LossyRelay> subscriber_relay, publisher_relay;
  WebrtcbinPublisher publisher;
  t.peer_timeout = 15000ms;  // the subscriber's path is lossless: its RTCP may be 7.5 s apart
  t.relay_factory = [&](uint16_t engine_port) {  // lossless: to inject from the subscriber's address
    subscriber_relay = std::make_unique<LossyRelay>(engine_port, 0.0);
    return subscriber_relay->port();
  };
  t.publish = [&] {
    Engine& engine = *t.engine_holder;
    publisher_relay = std::make_unique<LossyRelay>(engine.port(), 0.03, true);
    ASSERT_NO_FATAL_FAILURE(publisher.start(engine, t.track, publisher_relay->port()));
  };
  ASSERT_NO_FATAL_FAILURE(t.start()) << "the publisher's offer:\n" << publisher.offer;
  Engine& engine = *t.engine_holder;
  SessionId pub = publisher.local.id;

  // Losses recovered and the picture still coming.
  int decoded = t.frames->buffers;
  ASSERT_TRUE(test::wait_until([&] {
    SessionStats s = engine.session_stats(pub);
    return publisher_relay->dropped() >= 10 && s.recovered > 0 && t.frames->buffers >= decoded + 45;
  }, 30s)) << "dropped " << publisher_relay->dropped() << " of " << publisher_relay->forwarded()
           << "; NACKed " << engine.session_stats(pub).nacks_sent << ", recovered "
           << engine.session_stats(pub).recovered << "; frames " << t.frames->buffers;
  SessionStats stats = engine.session_stats(pub);
  EXPECT_TRUE(stats.connected);
  EXPECT_GT(stats.nacks_sent, 0u);
  EXPECT_GT(stats.recovered, 0u);
  EXPECT_GT(stats.packets_received, 100u);
  EXPECT_GT(stats.bytes_received, stats.packets_received * 12);
  EXPECT_GE(t.frames->buffers, 30);
  EXPECT_GT(t.received.load(), 100u);
  // The subscriber got what the publisher sent (losses repaired on the way).
  EXPECT_GT(engine.session_stats(t.local.id).packets_sent, 100u);
  // The publisher's RTP came through the media socket, which wakes the
  // engine at once; only RTCP (its SRs, the subscriber's reports) was
  // steered to the feedback socket.
  EXPECT_LT(engine.stats().received_feedback, stats.packets_received / 2);

  // Our RRs reached the publisher's rtpbin, with LSR/DLSR of its SRs (a
  // round trip it could compute: loopback, well under 100 ms).
  guint media_ssrc = 0;  // the payloader's (the offer may have none)
  {
    GstStructure* pay = nullptr;
    g_object_get(publisher.pipeline->by_name("pay"), "stats", &pay, nullptr);
    ASSERT_NE(pay, nullptr);
    gst_structure_get_uint(pay, "ssrc", &media_ssrc);
    gst_structure_free(pay);
  }
  GstElement* send = publisher.pipeline->by_name("send");
  std::tuple<bool, guint, gint, guint, guint> rb;
  EXPECT_TRUE(test::wait_until([&] {
    rb = received_rb(send, media_ssrc);
    return std::get<0>(rb) && std::get<3>(rb) != 0;
  }, 12s)) << "no RR with LSR for " << media_ssrc;
  EXPECT_LT(std::get<4>(rb), 65536u / 10) << "round trip in 1/65536 s";
  EXPECT_LE(std::get<1>(rb), 256u / 5) << "fraction lost (of 256) with 3 % lost and repaired";

  // A keyframe asked of the publisher: a PLI, a force-key-unit at its encoder.
  int requests = publisher.key_unit_requests;
  uint64_t plis = stats.plis_sent;
  EXPECT_TRUE(engine.request_keyframe(t.track));
  EXPECT_TRUE(test::wait_until([&] { return engine.session_stats(pub).plis_sent > plis; }, 5s));
  EXPECT_TRUE(test::wait_until([&] { return publisher.key_unit_requests > requests; }, 5s))
      << "the encoder got no force-key-unit";
  EXPECT_FALSE(engine.request_keyframe(t.track + 1000)) << "no session feeds it";

  // RTP on the subscriber's session (no ingress): dropped and counted, not fed.
  EngineStats before = engine.stats();
  uint64_t received = engine.session_stats(t.local.id).packets_received;
  std::vector<uint8_t> rtp(200, 0x5A);
  rtp[0] = 0x80;
  rtp[1] = uint8_t(publisher.payload_type);
  for (int i = 0; i < 3; ++i) subscriber_relay->inject(rtp);
  EXPECT_TRUE(test::wait_until([&] { return engine.stats().dropped_rtp >= before.dropped_rtp + 3; }, 5s))
      << engine.stats().dropped_rtp;
  EXPECT_EQ(engine.session_stats(t.local.id).packets_received, received);
  // RTP on the publisher's session that is not its SRTP: fails
  // authentication, counted; the stream goes on.
  uint64_t fed = engine.session_stats(pub).packets_received;
  for (int i = 0; i < 3; ++i) publisher_relay->inject(rtp);
  EXPECT_TRUE(test::wait_until([&] { return engine.stats().dropped_srtcp >= before.dropped_srtcp + 3; }, 5s))
      << engine.stats().dropped_srtcp;
  EXPECT_TRUE(test::wait_until([&] { return engine.session_stats(pub).packets_received > fed + 50; }, 5s));
  EXPECT_TRUE(t.failure.empty()) << t.failure << " (publisher " << pub << ", subscriber " << t.local.id
                                 << ", whose RTCP: " << engine.session_stats(t.local.id).rtcp_received << ")";
  stats = engine.session_stats(pub);
  std::printf("publisher relay dropped %d; NACKed %llu, recovered %llu, lost %llu; received %llu; %d frames decoded; "
              "the publisher's report block: fraction lost %u/256, lost %d, round trip %u/65536 s\n",
              publisher_relay->dropped(), (unsigned long long)stats.nacks_sent, (unsigned long long)stats.recovered,
              (unsigned long long)stats.lost, (unsigned long long)stats.packets_received, int(t.frames->buffers),
              std::get<1>(rb), std::get<2>(rb), std::get<4>(rb));
}
