// rtcmcu with real webrtcbin on loopback: three WHIP publishers, each a solid
// colour and a tone, composited into a 320x240 grid; a WHEP player of the
// room decodes the composite (each colour in its own grid region, read from
// the pixels) and the mix (each tone there, measured with `spectrum`); a
// publisher leaves and the grid re-flows to two tiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "gst/common/element_util.h"
#include "tests/support/harness.h"
#include "tests/support/room_checks.h"
#include "tests/support/rpc_client.h"
#include "tests/support/server_process.h"
#include "signaling/auth/tokens.h"

using namespace rtcmesh::test;
namespace sig = rtcmesh::sig;

namespace {

constexpr auto kMediaTimeout = 30s;

std::string joined(const std::vector<std::string>& v) {
  return std::accumulate(v.begin(), v.end(), std::string(),
                         [](std::string a, const std::string& b) { return a + b + "\n"; });
}

struct Colour {
  const char* name;
  guint32 argb;
  int freq;  // Hz of its tone
};
const Colour kRed{"red", 0xffff0000, 500};
const Colour kGreen{"green", 0xff00ff00, 1300};
const Colour kBlue{"blue", 0xff0000ff, 3100};

std::unique_ptr<Pipeline> publish(const std::string& url, const Colour& c,
                                  double volume = 0.2) {
  auto p = std::make_unique<Pipeline>(publisher_launch(
      url, "peer-timeout=3000",
      "videotestsrc is-live=true pattern=solid-color foreground-color=" + std::to_string(c.argb),
      "audiotestsrc is-live=true wave=sine volume=" + std::to_string(volume) +
          " freq=" + std::to_string(c.freq)));
  EXPECT_NE(p->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << joined(p->errors());
  return p;
}

// What a receiver of the room gets: the composite as RGB in a fakesink's last
// sample, the audio through `spectrum` (128 bands of 187.5 Hz at 48 kHz): the
// loudest level each band reached. `head` names the receiving element `r`,
// whose `video` and `audio` pads it reads.
class Player {
 public:
  Player(const std::string& head, const std::string& video, const std::string& audio)
      : pipeline_(head + " r." + video +
                  " ! videoconvert ! video/x-raw,format=RGB ! "
                  "fakesink name=v enable-last-sample=true sync=false r." + audio +
                  " ! audioconvert ! audioresample ! audio/x-raw,rate=48000 ! spectrum "
                  "bands=128 threshold=-90 interval=100000000 post-messages=true ! fakesink "
                  "sync=false") {
    peaks_.fill(-90);
    pipeline_.on_element_message([this](GstMessage* m) { on_element(m); });
    GstPad* sink = gst_element_get_static_pad(pipeline_.by_name("v"), "sink");
    gst_pad_add_probe(
        sink, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad*, GstPadProbeInfo*, gpointer n) {
          ++*static_cast<std::atomic<int>*>(n);
          return GST_PAD_PROBE_OK;
        },
        &frames_, nullptr);
    gst_object_unref(sink);
    EXPECT_NE(pipeline_.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  }
  int frames() const { return frames_; }  // decoded pictures
  // A WHEP player of the room.
  static std::unique_ptr<Player> whep(const std::string& url) {
    return std::make_unique<Player>("rtcwhepsrc name=r peer-timeout=3000 endpoint=" + url,
                                    "video_0", "audio_0");
  }
  // A participant joining with rtcmeshbin that publishes `c` and receives
  // (compose=true: whatever the room sends, in video_src and audio_src).
  static std::unique_ptr<Player> participant(const std::string& ws, const Colour& c) {
    return std::make_unique<Player>(
        "rtcmeshbin name=r compose=true url=" + ws + " room=r peer-id=" + c.name +
            " peer-timeout=3000 videotestsrc is-live=true pattern=solid-color foreground-color=" +
            std::to_string(c.argb) +
            " ! video/x-raw,width=160,height=120,framerate=15/1 ! queue ! r.video_0 "
            "audiotestsrc is-live=true wave=sine volume=0.2 freq=" + std::to_string(c.freq) +
            " ! audio/x-raw,rate=48000,channels=2 ! queue ! r.audio_0",
        "video_src", "audio_src");
  }
  Pipeline& pipeline() { return pipeline_; }

  // The colour name at (fx, fy), fractions of the latest frame's width and
  // height ("black"; "?" if there is no frame).
  std::string colour_at(double fx, double fy) {
    GstSample* sample = nullptr;
    g_object_get(pipeline_.by_name("v"), "last-sample", &sample, nullptr);
    if (!sample) return "?";
    GstStructure* s = gst_caps_get_structure(gst_sample_get_caps(sample), 0);
    int w = 0, h = 0;
    gst_structure_get_int(s, "width", &w);
    gst_structure_get_int(s, "height", &h);
    std::string out = "?";
    GstMapInfo map;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    if (w > 0 && h > 0 && gst_buffer_map(buf, &map, GST_MAP_READ)) {
      int stride = (w * 3 + 3) & ~3;
      int x = int(fx * w), y = int(fy * h);
      const guint8* px = map.data + y * stride + x * 3;
      int r = px[0], g = px[1], b = px[2];
      auto high = [](int v) { return v > 150; };
      auto low = [](int v) { return v < 90; };
      if (high(r) && low(g) && low(b)) out = "red";
      else if (low(r) && high(g) && low(b)) out = "green";
      else if (low(r) && low(g) && high(b)) out = "blue";
      else if (low(r) && low(g) && low(b)) out = "black";
      else out = "rgb(" + std::to_string(r) + "," + std::to_string(g) + "," + std::to_string(b) + ")";
      gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
    return out;
  }
  // Colours at the centres of a cols x rows grid's cells, row by row.
  std::vector<std::string> grid(int cols, int rows) {
    std::vector<std::string> out;
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < cols; c++)
        out.push_back(colour_at((2 * c + 1) / (2.0 * cols), (2 * r + 1) / (2.0 * rows)));
    return out;
  }
  double level(int freq) {
    std::lock_guard lock(mutex_);
    return peaks_[std::min(127, int(freq / 187.5))];
  }
  void reset_levels() {
    std::lock_guard lock(mutex_);
    peaks_.fill(-90);
  }

 private:
  void on_element(GstMessage* m) {
    const GstStructure* s = gst_message_get_structure(m);
    if (!s || !gst_structure_has_name(s, "spectrum")) return;
    const GValue* mags = gst_structure_get_value(s, "magnitude");
    if (!mags) return;
    std::lock_guard lock(mutex_);
    for (guint i = 0; i < std::min<guint>(128, gst_value_list_get_size(mags)); i++)
      peaks_[i] = std::max(peaks_[i], double(g_value_get_float(gst_value_list_get_value(mags, i))));
  }
  std::atomic<int> frames_{0};  // before the pipeline: its threads count until it stops
  Pipeline pipeline_;
  std::mutex mutex_;
  std::array<double, 128> peaks_;
};

std::string str(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + " ";
  return s;
}

}  // namespace

// An rtcmcu hosting room "r" on an ephemeral port, PLAYING, counting its
// publisher signals; `extra`: more of the launch line (its src pads).
struct Room {
  explicit Room(const std::string& props, const std::string& extra = "")
      : pipeline("rtcmcu name=mcu port=0 room=r " + props + " " + extra),
        mcu(pipeline.by_name("mcu")) {
    g_signal_connect(mcu, "publisher-added",
                     G_CALLBACK(+[](GstElement*, const char*, const char*, gpointer n) {
                       ++*static_cast<std::atomic<int>*>(n);
                     }),
                     &added);
    g_signal_connect(mcu, "publisher-removed",
                     G_CALLBACK(+[](GstElement*, const char*, const char*, const char*,
                                    gpointer n) { ++*static_cast<std::atomic<int>*>(n); }),
                     &removed);
    EXPECT_NE(pipeline.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
        << joined(pipeline.errors());
    g_object_get(mcu, "port", &port, nullptr);
  }
  std::string http() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string ws() const { return "ws://127.0.0.1:" + std::to_string(port) + "/rtc"; }
  std::string errors() const { return joined(pipeline.errors()); }
  Pipeline pipeline;
  GstElement* mcu;
  guint port = 0;
  std::atomic<int> added{0}, removed{0};
};

// Participants publishing `colours` into room "r" of `ws`: each receives the
// composite, where every colour has its own cell of a cols x rows grid, and
// its minus-one mix: every other colour's tone and never its own.
void check_participants(const std::string& ws, const std::vector<const Colour*>& colours, int cols,
                        int rows, const std::function<std::string()>& server_errors,
                        const std::function<void()>& before_audio = {}) {
  std::vector<std::unique_ptr<Player>> people;
  for (const Colour* c : colours) people.push_back(Player::participant(ws, *c));
  std::multiset<std::string> all;
  for (const Colour* c : colours) all.insert(c->name);
  for (size_t i = 0; i < people.size(); i++) {
    std::vector<std::string> cells;
    bool composite = wait_until(
        [&] {
          cells = people[i]->grid(cols, rows);
          return std::multiset<std::string>(cells.begin(), cells.begin() + colours.size()) == all;
        },
        kMediaTimeout);
    ASSERT_TRUE(composite) << colours[i]->name << " sees cells: " << str(cells) << "\n"
                           << server_errors() << joined(people[i]->pipeline().errors());
  }
  if (before_audio) before_audio();
  // Each hears the others' tones (their peaks since joining, once the mixes
  // and renegotiations settled: wait for them), and never its own: a
  // publishing participant is never sent the full mix.
  for (size_t i = 0; i < people.size(); i++) {
    for (size_t j = 0; j < colours.size(); j++) {
      if (i == j) continue;
      double l = 0, quiet = 0;
      EXPECT_TRUE(wait_until(
          [&] {
            l = people[i]->level(colours[j]->freq);
            quiet = people[i]->level(2200);
            return l > quiet + 25;
          },
          kMediaTimeout))
          << colours[i]->name << " misses " << colours[j]->name << "'s tone: " << l
          << " dB, quiet band " << quiet;
    }
  }
  std::this_thread::sleep_for(1s);
  for (size_t i = 0; i < people.size(); i++) {
    double own = people[i]->level(colours[i]->freq), quiet = people[i]->level(2200);
    EXPECT_LT(own, quiet + 15) << colours[i]->name << " hears its own tone: " << own
                               << " dB, quiet band " << quiet;
  }
}

TEST(Mcu, ThreePublishersCompositedIntoAGridThatReflowsWhenOneLeaves) {
  Room room("width=320 height=240 framerate=15 peer-timeout=3000",
            "mcu.video_src ! fakesink name=composite sync=false async=false "
            "mcu.audio_src ! fakesink sync=false async=false");
  GstElement* mcu = room.mcu;
  std::string base = room.http();

  auto red = publish(base + "/whip/r/red", kRed);
  auto green = publish(base + "/whip/r/green", kGreen);
  auto blue = publish(base + "/whip/r/blue", kBlue);
  auto whep = Player::whep(base + "/whep/r");
  Player& player = *whep;

  // Grid of 3: 2x2 cells of 160x120 in arrival order, the fourth black.
  std::vector<std::string> cells;
  bool three = wait_until(
      [&] {
        cells = player.grid(2, 2);
        std::multiset<std::string> first3(cells.begin(), cells.begin() + 3);
        return first3 == std::multiset<std::string>{"red", "green", "blue"} &&
               cells[3] == "black";
      },
      kMediaTimeout);
  ASSERT_TRUE(three) << "cells: " << str(cells) << "\n"
                     << room.errors() << joined(player.pipeline().errors())
                     << joined(red->errors());
  GstStructure* stats = nullptr;
  g_object_get(mcu, "stats", &stats, nullptr);
  ASSERT_TRUE(stats);
  guint tiles = 0, publishers = 0;
  gst_structure_get_uint(stats, "tiles", &tiles);
  gst_structure_get_uint(stats, "publishers", &publishers);
  gst_structure_free(stats);
  EXPECT_EQ(tiles, 3u);
  EXPECT_EQ(publishers, 4u);  // three participants and the room's output

  // The mix carries the three tones (well above a band none of them is in).
  player.reset_levels();
  std::this_thread::sleep_for(1500ms);
  double quiet = player.level(2200);
  for (const Colour* c : {&kRed, &kGreen, &kBlue})
    EXPECT_GT(player.level(c->freq), quiet + 25) << c->name << " tone in the mix; quiet band "
                                                 << quiet;

  // The green publisher leaves: within peer-timeout the grid has two tiles
  // (two 160x240 halves), red and blue, and its tone is out of the mix. Each
  // 4:3 picture keeps its shape: 160x120 in the middle of its half, black
  // above and below (in four rows: the middle two coloured; the 2x2 grid of
  // before would colour the top two).
  green.reset();
  bool two = wait_until(
      [&] {
        auto halves = player.grid(2, 1);
        auto rows = player.grid(2, 4);
        cells = halves;
        return std::multiset<std::string>(halves.begin(), halves.end()) ==
                   std::multiset<std::string>{"red", "blue"} &&
               rows[2] == halves[0] && rows[3] == halves[1] && rows[4] == halves[0] &&
               rows[5] == halves[1] && rows[0] == "black" && rows[7] == "black";
      },
      kMediaTimeout);
  EXPECT_TRUE(two) << "halves: " << str(cells) << " rows: " << str(player.grid(2, 4));
  EXPECT_TRUE(wait_until([&] { return room.removed >= 1; }, 10s));
  // Measured over 1.5 s windows until red is heard and green is not: the
  // mix is rebuilt when a voice leaves, and a loaded machine can leave a
  // window with no audio at all (both at the noise floor).
  double green_level = 0, red_level = 0;
  bool green_gone = wait_until(
      [&] {
        player.reset_levels();
        std::this_thread::sleep_for(1500ms);
        green_level = player.level(kGreen.freq);
        red_level = player.level(kRed.freq);
        return green_level < red_level - 25;
      },
      10s);
  EXPECT_TRUE(green_gone) << "green's tone left: green " << green_level << " dB, red " << red_level
                          << " dB";
  EXPECT_GE(room.added.load(), 4);
}

TEST(Mcu, RoomIsRequired) {
  Pipeline p("rtcmcu name=mcu port=0 mcu.video_src ! fakesink mcu.audio_src ! fakesink");
  EXPECT_EQ(p.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  EXPECT_NE(joined(p.errors()).find("room"), std::string::npos) << joined(p.errors());
}

// JSON-RPC participants (rtcmeshbin) in an MCU room: each publishes a colour
// and a tone and receives one video, the composite of all three, and one
// audio, its minus-one mix: the others' tones, not its own.
TEST(Mcu, ParticipantsHearEveryoneButThemselvesAndSeeTheComposite) {
  Room room("width=320 height=240 framerate=15 peer-timeout=3000");
  GstElement* mcu = room.mcu;
  check_participants(
      room.ws(), {&kRed, &kGreen, &kBlue}, 2, 2, [&] { return room.errors(); },
      [&] {
        GstStructure* stats = nullptr;
        g_object_get(mcu, "stats", &stats, nullptr);
        guint mixes = 0;
        gst_structure_get_uint(stats, "minus-one-mixes", &mixes);
        gst_structure_free(stats);
        EXPECT_EQ(mixes, 3u);
      });
}

// rtcmesh-server --mode mcu: the same for two participants of its MCU room
// (grid of two: left and right halves).
TEST(Mcu, ServerModeMcuHostsARoomOfParticipants) {
  auto server = RtcmeshServer::start(RTCMESH_SERVER, {"--mode", "mcu", "--room", "r",
                                                      "--canvas", "320x240@15",
                                                      "--peer-timeout", "4000"});
  ASSERT_TRUE(server);
  check_participants(server->ws_url(), {&kRed, &kGreen}, 2, 1, [] { return std::string(); });
}

// Layouts: speaker puts the loudest publisher large over the top three
// quarters and the others in a strip below; pinned puts the chosen one
// large; both change while playing, and back to the grid.
TEST(Mcu, SpeakerAndPinnedLayoutsPutOneParticipantLarge) {
  Room room("width=320 height=240 framerate=15 peer-timeout=3000 layout=speaker "
            "speaker-hold=500");
  GstElement* mcu = room.mcu;
  std::string base = room.http();
  auto red = publish(base + "/whip/r/red", kRed, 0.02);
  auto green = publish(base + "/whip/r/green", kGreen, 0.02);
  auto blue = publish(base + "/whip/r/blue", kBlue, 0.6);  // the speaker
  auto whep = Player::whep(base + "/whep/r");
  // Large: the top three quarters; the strip: two cells along the bottom.
  auto large_and_strip = [&](std::vector<std::string>& seen) {
    seen = {whep->colour_at(0.5, 0.375), whep->colour_at(0.25, 0.875),
            whep->colour_at(0.75, 0.875)};
    return seen;
  };
  std::vector<std::string> seen;
  EXPECT_TRUE(wait_until(
      [&] {
        large_and_strip(seen);
        return seen[0] == "blue" && std::multiset<std::string>(seen.begin() + 1, seen.end()) ==
                                        std::multiset<std::string>{"red", "green"};
      },
      kMediaTimeout))
      << "large, strip: " << str(seen) << room.errors();

  g_object_set(mcu, "pinned", "green", nullptr);
  gst_util_set_object_arg(G_OBJECT(mcu), "layout", "pinned");
  EXPECT_TRUE(wait_until(
      [&] {
        large_and_strip(seen);
        return seen[0] == "green" && std::multiset<std::string>(seen.begin() + 1, seen.end()) ==
                                         std::multiset<std::string>{"red", "blue"};
      },
      10s))
      << "large, strip: " << str(seen);

  gst_util_set_object_arg(G_OBJECT(mcu), "layout", "grid");
  std::vector<std::string> cells;
  EXPECT_TRUE(wait_until(
      [&] {
        cells = whep->grid(2, 2);
        return std::multiset<std::string>(cells.begin(), cells.begin() + 3) ==
                   std::multiset<std::string>{"red", "green", "blue"} &&
               cells[3] == "black";
      },
      10s))
      << "cells: " << str(cells);
}

// Bad input over JSON-RPC, each refused with its code and changing nothing:
// `layout` without the layout grant (-32001), an unknown layout or a pinned
// layout without whom to pin (-32602); a subscriber whose codecs the
// composite's one encoder cannot serve gets -32007 naming the codec.
class McuRpc : public RpcTest {};

TEST_F(McuRpc, LayoutNeedsTheGrantAndAKnownLayoutAndCodecsMustMatch) {
  const std::string secret = "mcu-test-secret-0123456789abcdefghijkl";
  std::filesystem::path key = std::filesystem::temp_directory_path() /
                              ("rtcmesh-mcu-secret-" + std::to_string(getpid()));
  std::ofstream(key) << secret;
  Room room("width=160 height=120 framerate=10 token-secret-file=" + key.string());
  GstElement* mcu = room.mcu;
  std::string ws = room.ws();
  int64_t now = sig::TokenVerifier::wall_clock();
  auto token = [&](const char* sub, unsigned grants) {
    return sig::issue_token("HS256", secret, "r", sub, grants, now - 5, now + 600);
  };
  auto layout_now = [&] {
    gchar* pinned = nullptr;
    int layout = 0;
    g_object_get(mcu, "pinned", &pinned, "layout", &layout, nullptr);
    std::string out = std::to_string(layout) + "/" + (pinned ? pinned : "");
    g_free(pinned);
    return out;
  };

  RpcClient& director = connect(ws);
  ASSERT_EQ(code(director, "join",
                 sig::Json::object({{"room", "r"},
                                    {"token", token("director", sig::kGrantSubscribe |
                                                                    sig::kGrantLayout)}})),
            0);
  EXPECT_EQ(code(director, "layout",
                 sig::Json::object({{"layout", "pinned"}, {"pinned", "alice"}})),
            0);
  EXPECT_EQ(layout_now(), "2/alice");  // pinned, alice
  auto r = call(director, "layout", sig::Json::object({{"layout", "mosaic"}}));
  EXPECT_EQ(r.error.code, -32602);
  EXPECT_NE(r.error.message.find("mosaic"), std::string::npos) << r.error.message;
  EXPECT_EQ(code(director, "layout", sig::Json::object({{"layout", "pinned"}})), -32602);
  EXPECT_EQ(layout_now(), "2/alice");
  EXPECT_EQ(code(director, "layout", sig::Json::object({{"layout", "grid"}})), 0);
  EXPECT_EQ(layout_now(), "0/alice");

  RpcClient& viewer = connect(ws);
  ASSERT_EQ(code(viewer, "join",
                 sig::Json::object({{"room", "r"}, {"token", token("viewer", sig::kGrantSubscribe)}})),
            0);
  r = call(viewer, "layout", sig::Json::object({{"layout", "speaker"}}));
  EXPECT_EQ(r.error.code, -32001);
  EXPECT_NE(r.error.message.find("layout"), std::string::npos) << r.error.message;
  EXPECT_EQ(layout_now(), "0/alice");

  // The composite is VP8 only: an H.264-only subscriber is told so.
  sig::Json codecs = sig::Json::array();
  codecs.push(sig::Json("H264"));
  EXPECT_EQ(code(viewer, "subscribe", sig::Json::object({{"codecs", codecs}})), 0);
  // An `error` notification (docs/protocol.md, SFU rooms).
  auto no_codec = [&]() -> std::string {
    for (const auto& e : viewer.got("error"))
      if (const sig::Json* c = e.find("code"); c && c->is_int() && c->as_int() == -32007)
        return e.get_string("message").value_or("?");
    return "";
  };
  ASSERT_TRUE(run_until([&] { return !no_codec().empty(); }, 20000)) << "no -32007 error note";
  EXPECT_NE(no_codec().find("VP8"), std::string::npos) << no_codec();
  std::filesystem::remove(key);
}

// A processing room: rtcmcu video-process=… (rtcmesh-server --mode process)
// sends each participant's video through its own instance of the fragment
// and back to them only; a WHEP player of /whep/<room>/<participant> gets
// that participant's processed stream. SMPTE bars, flipped: blue (the last
// bar) comes back on the left, red (the sixth) where yellow (the second) was.
// (video-direction: 1.22's videoflip ignores its deprecated `method`.)
// alice publishes SMPTE bars and a tone to `base` (room r); a WHEP player of
// /whep/r/alice sees them mirrored and hears the tone.
void check_alice_comes_back_flipped(const std::string& base, const std::function<int()>& added,
                                    const std::function<std::string()>& server_errors) {
  auto alice = std::make_unique<Pipeline>(publisher_launch(
      base + "/whip/r/alice", "peer-timeout=3000", "videotestsrc is-live=true pattern=smpte",
      "audiotestsrc is-live=true wave=sine volume=0.2 freq=500"));
  ASSERT_NE(alice->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
      << joined(alice->errors());
  // Once alice is there: until her processed tracks are encoded the player
  // is told 503 and retries.
  ASSERT_TRUE(wait_until([&] { return added() >= 1; }, kMediaTimeout)) << server_errors();
  auto whep = Player::whep(base + "/whep/r/alice");
  auto bar = [&](int i) { return whep->colour_at((2 * (6 - i) + 1) / 14.0, 0.3); };
  std::vector<std::string> seen;
  bool flipped = wait_until(
      [&] {
        seen = {bar(6), bar(5), bar(0)};  // bars 6 and 5 of the original, mirrored
        return seen[0] == "blue" && seen[1] == "red" && seen[2] != "blue";
      },
      kMediaTimeout);
  EXPECT_TRUE(flipped) << "left, second, right: " << str(seen) << server_errors()
                       << joined(whep->pipeline().errors());
  // Its audio came back too.
  EXPECT_TRUE(wait_until([&] { return whep->level(500) > whep->level(2200) + 25; }, 10s))
      << "tone " << whep->level(500) << " dB, quiet band " << whep->level(2200);
}

TEST(McuProcess, EachParticipantsVideoComesBackThroughTheFragment) {
  Room room("peer-timeout=3000 video-process=\"videoflip video-direction=horiz\"");
  check_alice_comes_back_flipped(
      room.http(), [&] { return room.added.load(); }, [&] { return room.errors(); });
  GstStructure* stats = nullptr;
  g_object_get(room.mcu, "stats", &stats, nullptr);
  guint tiles = 99;
  gst_structure_get_uint(stats, "tiles", &tiles);
  gst_structure_free(stats);
  EXPECT_EQ(tiles, 0u);  // nothing composited
}

// The README's rtcmesh-server --mode process line (both fragments).
TEST(McuProcess, ServerModeProcessSendsEachParticipantItsOwnMediaProcessed) {
  auto server = RtcmeshServer::start(
      RTCMESH_SERVER, {"--mode", "process", "--room", "r", "--peer-timeout", "4000",
                       "--video-process", "videoflip video-direction=horiz", "--audio-process",
                       "audioecho delay=200000000 intensity=0.5"});
  ASSERT_TRUE(server);
  std::string base = server->base;
  check_alice_comes_back_flipped(
      base,
      [&] {
        // The room's publishers, alice first, from /metrics.
        std::string body = http_request("GET", base + "/metrics", nullptr, "").body;
        size_t at = body.find("\nrtcmesh_room_publishers{");
        at = at == std::string::npos ? at : body.find("} ", at);
        return at == std::string::npos ? 0 : std::atoi(body.c_str() + at + 2);
      },
      [] { return std::string(); });
}

// audio-process="audioecho delay=200000000 intensity=0.5": alice sends 40 ms
// tone bursts once a second; the decoded audio a WHEP player of
// /whep/r/alice receives has, after each burst, silence and then a second
// copy at about half its level 200 ms later (5 ms RMS windows of the samples).
TEST(McuProcess, TheEchoFragmentDelaysAudio) {
  // Nothing here is about timeouts: long ones, so a loaded machine's stall
  // does not end a session mid-test.
  Room room("peer-timeout=10000 audio-process=\"audioecho delay=200000000 intensity=0.5\"");
  std::atomic<bool> alice_in{false};
  g_signal_connect(room.mcu, "publisher-added",
                   G_CALLBACK(+[](GstElement*, const char*, const char* id, gpointer in) {
                     if (g_str_equal(id, "alice")) *static_cast<std::atomic<bool>*>(in) = true;
                   }),
                   &alice_in);
  auto alice = std::make_unique<Pipeline>(publisher_launch(
      room.http() + "/whip/r/alice", "peer-timeout=10000", "",
      "audiotestsrc is-live=true wave=ticks freq=1000 sine-periods-per-tick=40 volume=0.5"));
  ASSERT_NE(alice->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
      << joined(alice->errors());
  ASSERT_TRUE(wait_until([&] { return alice_in.load(); }, kMediaTimeout)) << room.errors();
  Pipeline player("rtcwhepsrc name=r peer-timeout=10000 endpoint=" + room.http() +
                  "/whep/r/alice r.audio_0 ! audioconvert ! audioresample ! "
                  "audio/x-raw,format=F32LE,rate=48000,channels=1 ! fakesink name=a sync=false");
  ASSERT_NE(player.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  struct Samples {
    std::mutex mutex;
    std::vector<float> v;
  } samples;
  GstPad* sink = gst_element_get_static_pad(player.by_name("a"), "sink");
  gst_pad_add_probe(
      sink, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* s = static_cast<Samples*>(data);
        GstMapInfo map;
        GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
        if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
          std::lock_guard lock(s->mutex);
          auto* f = reinterpret_cast<const float*>(map.data);
          s->v.insert(s->v.end(), f, f + map.size / sizeof(float));
          gst_buffer_unmap(buf, &map);
        }
        return GST_PAD_PROBE_OK;
      },
      &samples, nullptr);
  gst_object_unref(sink);

  // 5 ms windows (240 samples at 48 kHz): a burst is a window at 60 % of the
  // loudest or more; its echo the loudest window 180-220 ms after it, the
  // gap the loudest 80-150 ms after it. Bursts in the first or last 250 ms
  // of what was received are not judged.
  constexpr size_t kWindow = 240;
  struct Burst {
    double main, gap, echo;
    int echo_ms;
  };
  auto bursts = [&] {
    std::vector<double> env;
    {
      std::lock_guard lock(samples.mutex);
      for (size_t i = 0; i + kWindow <= samples.v.size(); i += kWindow) {
        double sum = 0;
        for (size_t j = i; j < i + kWindow; j++) sum += double(samples.v[j]) * samples.v[j];
        env.push_back(std::sqrt(sum / kWindow));
      }
    }
    std::vector<Burst> out;
    double peak = env.empty() ? 0 : *std::max_element(env.begin(), env.end());
    if (peak < 0.01) return out;
    for (size_t i = 50; i + 50 < env.size(); i++) {
      if (env[i] < 0.6 * peak || env[i - 1] >= 0.6 * peak) continue;  // a burst's start
      Burst b{env[i], 0, 0, 0};
      for (size_t k = i + 16; k <= i + 30; k++) b.gap = std::max(b.gap, env[k]);
      for (size_t k = i + 36; k <= i + 44; k++)
        if (env[k] > b.echo) {
          b.echo = env[k];
          b.echo_ms = int(k - i) * 5;
        }
      out.push_back(b);
    }
    return out;
  };
  std::vector<Burst> seen;
  auto describe = [&] {
    std::string s;
    for (auto& b : seen)
      s += "burst " + std::to_string(b.main) + " gap " + std::to_string(b.gap) + " echo " +
           std::to_string(b.echo) + " at +" + std::to_string(b.echo_ms) + " ms; ";
    return s;
  };
  // The last three bursts, each echoed at half its level (Opus and the
  // resamplers between: 0.3-0.75) with silence before the echo.
  bool echoed = wait_until(
      [&] {
        seen = bursts();
        if (seen.size() < 3) return false;
        seen.erase(seen.begin(), seen.end() - 3);
        for (auto& b : seen)
          if (b.echo < 0.3 * b.main || b.echo > 0.75 * b.main || b.gap > 0.15 * b.main)
            return false;
        return true;
      },
      kMediaTimeout);
  EXPECT_TRUE(echoed) << describe() << room.errors() << joined(player.errors());
}

// A fragment that does not parse fails the start with the parser's message,
// in the element and in rtcmesh-server --mode process.
TEST(McuProcess, ABrokenFragmentIsRefusedWithTheParsersMessage) {
  Pipeline p("rtcmcu name=mcu port=0 room=r video-process=\"videoflip method=sideways\"");
  EXPECT_EQ(p.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  std::string errors = joined(p.errors());
  EXPECT_NE(errors.find("video-process 'videoflip method=sideways'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("method"), std::string::npos) << errors;

  Pipeline q("rtcmcu name=mcu port=0 room=r audio-process=\"audioecho ! nosuchelement\"");
  EXPECT_EQ(q.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  errors = joined(q.errors());
  EXPECT_NE(errors.find("no element \"nosuchelement\""), std::string::npos) << errors;

  gchar *out = nullptr, *err = nullptr;
  gint status = 0;
  const gchar* argv[] = {RTCMESH_SERVER, "--port", "0", "--address", "127.0.0.1", "--mode",
                         "process", "--video-process", "videoflip video-direction=sideways",
                         nullptr};
  ASSERT_TRUE(g_spawn_sync(nullptr, const_cast<gchar**>(argv), nullptr, G_SPAWN_DEFAULT, nullptr,
                           nullptr, &out, &err, &status, nullptr));
  std::string said = err ? err : "";
  g_free(out);
  g_free(err);
  EXPECT_FALSE(g_spawn_check_wait_status(status, nullptr));
  EXPECT_NE(said.find("could not set property \"video-direction\""), std::string::npos) << said;
}

namespace {

// White-ish pixels (text) of the player's latest frame in the rectangle
// [x0, x1) x [y0, y1), fractions of its size; -1 without a frame.
int white_pixels(Player& player, double x0, double y0, double x1, double y1, int min = 180) {
  GstSample* sample = nullptr;
  g_object_get(player.pipeline().by_name("v"), "last-sample", &sample, nullptr);
  if (!sample) return -1;
  GstStructure* s = gst_caps_get_structure(gst_sample_get_caps(sample), 0);
  int w = 0, h = 0, n = 0;
  gst_structure_get_int(s, "width", &w);
  gst_structure_get_int(s, "height", &h);
  GstMapInfo map;
  GstBuffer* buf = gst_sample_get_buffer(sample);
  if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
    int stride = (w * 3 + 3) & ~3;
    for (int y = int(y0 * h); y < int(y1 * h); y++)
      for (int x = int(x0 * w); x < int(x1 * w); x++) {
        const guint8* px = map.data + y * stride + x * 3;
        n += px[0] > min && px[1] > min && px[2] > min;
      }
    gst_buffer_unmap(buf, &map);
  }
  gst_sample_unref(sample);
  return n;
}

}  // namespace

// Name labels: a red publisher's tile carries its name (white text in its
// lower left, where the picture is red) until labels=false; a publisher of
// audio only gets a black tile with its name (white text on black).
TEST(Mcu, NameLabelsOnTilesAndATileForAParticipantWithoutVideo) {
  Room room("width=320 height=240 framerate=15 peer-timeout=3000");
  std::string base = room.http();
  auto red = publish(base + "/whip/r/red", kRed);
  auto voice = std::make_unique<Pipeline>(publisher_launch(
      base + "/whip/r/voice", "peer-timeout=3000", "",
      "audiotestsrc is-live=true wave=sine volume=0.2 freq=1300"));
  ASSERT_NE(voice->set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
      << joined(voice->errors());
  auto whep = Player::whep(base + "/whep/r");
  // Two tiles, side by side: red's and voice's.
  std::vector<std::string> halves;
  int red_left = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        halves = whep->grid(2, 1);
        red_left = halves[0] == "red" ? 1 : halves[1] == "red" ? 0 : -1;
        return red_left >= 0;
      },
      kMediaTimeout))
      << "halves: " << str(halves) << room.errors();
  double red_x = red_left ? 0.0 : 0.5, voice_x = red_left ? 0.5 : 0.0;
  int label = 0, name = 0;
  EXPECT_TRUE(wait_until(
      [&] {
        // Light on red (thin strokes lose some whiteness to 4:2:0 and VP8).
        label = white_pixels(*whep, red_x, 0.6, red_x + 0.3, 1.0, 100);
        name = white_pixels(*whep, voice_x, 0.0, voice_x + 0.5, 1.0);
        return label > 5 && name > 5;
      },
      kMediaTimeout))
      << "white pixels: red's label " << label << ", voice's name " << name;
  GstStructure* stats = nullptr;
  g_object_get(room.mcu, "stats", &stats, nullptr);
  guint tiles = 0;
  gst_structure_get_uint(stats, "tiles", &tiles);
  gst_structure_free(stats);
  EXPECT_EQ(tiles, 2u);

  g_object_set(room.mcu, "labels", FALSE, nullptr);
  EXPECT_TRUE(wait_until(
      [&] {
        label = white_pixels(*whep, red_x, 0.0, red_x + 0.5, 1.0, 100);
        name = white_pixels(*whep, voice_x, 0.0, voice_x + 0.5, 1.0);
        return label == 0 && name > 5;
      },
      10s))
      << "labels=false: white pixels in red's tile " << label << ", voice's name " << name;
}

// video-codecs=vp8,h264: the composite is encoded once in each, each
// encoder running only while someone receives its codec (stats
// video-encoders: 1 with a VP8 player, 2 while an H.264-only player decodes
// it, 1 again once that one left); a player that decodes only H.264 and one
// that takes VP8 first both see it; one that decodes neither is refused.
TEST(Mcu, TheCompositeIsEncodedOncePerCodecWhileSomeoneReceivesIt) {
  Room room("width=320 height=240 framerate=15 peer-timeout=3000 video-codecs=vp8,h264");
  std::string base = room.http();
  auto red = publish(base + "/whip/r/red", kRed);
  auto encoding = [&] {
    GstStructure* stats = nullptr;
    g_object_get(room.mcu, "stats", &stats, nullptr);
    guint n = 99;
    gst_structure_get_uint(stats, "video-encoders", &n);
    std::string s = std::to_string(n) + ":" + gst_structure_get_string(stats, "video-encoding");
    gst_structure_free(stats);
    return s;
  };
  auto sees_red = [&](Player& p) {
    std::string seen;
    EXPECT_TRUE(wait_until(
        [&] {
          seen = p.colour_at(0.5, 0.5);
          return seen == "red";
        },
        kMediaTimeout))
        << "seen " << seen << room.errors() << joined(p.pipeline().errors());
  };
  auto codec_of = [](Player& p) {
    GstPad* pad = gst_element_get_static_pad(p.pipeline().by_name("r"), "video_0");
    std::string codec = pad ? rtcmesh::string_property(pad, "codec") : "no pad";
    if (pad) gst_object_unref(pad);
    return codec;
  };
  auto vp8 = Player::whep(base + "/whep/r");
  sees_red(*vp8);
  EXPECT_EQ(codec_of(*vp8), "VP8");
  std::string now;
  EXPECT_TRUE(wait_until([&] { return (now = encoding()) == "1:VP8"; }, 10s)) << now;

  auto h264 = std::make_unique<Player>(
      "rtcwhepsrc name=r peer-timeout=3000 video-codecs=h264 endpoint=" + base + "/whep/r",
      "video_0", "audio_0");
  sees_red(*h264);
  EXPECT_EQ(codec_of(*h264), "H264");
  EXPECT_EQ(encoding(), "2:VP8,H264");
  // It goes on decoding new pictures.
  int frames = h264->frames();
  EXPECT_TRUE(wait_until([&] { return h264->frames() >= frames + 10; }, 10s))
      << h264->frames() - frames << " more frames";
  h264.reset();
  EXPECT_TRUE(wait_until([&] { return (now = encoding()) == "1:VP8"; }, 10s)) << now;
  // The VP8 player never noticed.
  frames = vp8->frames();
  EXPECT_TRUE(wait_until([&] { return vp8->frames() >= frames + 10; }, 10s));

  // A player that decodes neither is refused, told which codecs there are.
  Pipeline vp9("rtcwhepsrc name=r peer-timeout=3000 video-codecs=vp9 endpoint=" + base +
               "/whep/r r.video_0 ! fakesink");
  vp9.set_state(GST_STATE_PLAYING);
  std::string refusal;
  EXPECT_TRUE(wait_until(
      [&] {
        refusal = joined(vp9.errors());
        return refusal.find("422") != std::string::npos;
      },
      10s));
  EXPECT_NE(refusal.find("encoded in VP8, H264 only"), std::string::npos) << refusal;
  GstStructure* stats = nullptr;
  g_object_get(room.mcu, "stats", &stats, nullptr);
  const char* codecs = gst_structure_get_string(stats, "video-codecs");
  EXPECT_STREQ(codecs, "VP8,H264");
  gst_structure_free(stats);
}

// Room data in an MCU room (issue 16): a WebSocket participant and a one-POST
// participant exchange text and binary messages, reliable and not, relayed
// by the room with the sender's id; the pipeline takes part as "mcu" through
// rtcmcu's send-string/send-data, data-received and data_%u pad.
TEST(Mcu, RoomDataIsRelayedWithTheSendersIdAndThePipelineTakesPart) {
  Room room("width=320 height=240 framerate=15 peer-timeout=3000",
            "appsrc name=d format=time caps=text/x-raw,format=utf8 ! mcu.data_0");
  ASSERT_TRUE(room.errors().empty()) << room.errors();
  DataLog mcu_got;
  mcu_got.watch(room.mcu);
  RoomParticipant a(room.ws(), "a");
  RoomParticipant b(room.http() + "/rtc", "b");
  ASSERT_TRUE(wait_until([&] { return a.frames_from("mcu") >= 5 && b.frames_from("mcu") >= 5; },
                         kMediaTimeout))
      << a.frames_from("mcu") << " and " << b.frames_from("mcu") << " frames of the composite\n"
      << room.errors();
  DataLog a_got, b_got;
  a_got.watch(a.bin());
  b_got.watch(b.bin());

  // Participant to participant, text and bytes, with the sender's id.
  EXPECT_EQ(exchange_text_and_bytes(a.bin(), "a", a_got, b.bin(), "b", b_got), "");
  const std::string bytes = {'\0', '\x01', '\n', '\xff'};
  // b's message to everyone reached the pipeline too; the one to a did not.
  EXPECT_TRUE(wait_until([&] { return !mcu_got.from("b", "rtcmesh").empty(); }, 10s));
  EXPECT_EQ(mcu_got.from("b", "rtcmesh").size(), 1u);
  EXPECT_EQ(mcu_got.from("b", "rtcmesh")[0].data, "hello from b");

  // Unreliable ones arrive too (loopback), on their channel.
  EXPECT_TRUE(send_string(b.bin(), "a", "quick from b", false));
  EXPECT_TRUE(send_string(a.bin(), "b", "quick from a", false));
  EXPECT_TRUE(wait_until([&] { return !a_got.from("b", "rtcmesh-unreliable").empty(); }, 10s));
  EXPECT_TRUE(wait_until([&] { return !b_got.from("a", "rtcmesh-unreliable").empty(); }, 10s));

  // 300 reliable messages each way: all of them, in order.
  for (int i = 0; i < 300; i++) {
    EXPECT_TRUE(send_string(a.bin(), "b", "a" + std::to_string(i), true));
    EXPECT_TRUE(send_string(b.bin(), "a", "b" + std::to_string(i), true));
  }
  EXPECT_TRUE(wait_until([&] { return b_got.from("a", "rtcmesh").size() >= 301; }, 20s));
  EXPECT_TRUE(wait_until([&] { return a_got.from("b", "rtcmesh").size() >= 302; }, 20s));
  {
    auto got = b_got.from("a", "rtcmesh");
    ASSERT_EQ(got.size(), 301u);
    for (int i = 0; i < 300; i++) ASSERT_EQ(got[i + 1].data, "a" + std::to_string(i));
    got = a_got.from("b", "rtcmesh");
    ASSERT_EQ(got.size(), 302u);
    for (int i = 0; i < 300; i++) ASSERT_EQ(got[i + 2].data, "b" + std::to_string(i));
  }

  // A message to "mcu" reaches the pipeline only.
  EXPECT_TRUE(send_string(a.bin(), "mcu", "to the pipeline", true));
  EXPECT_TRUE(wait_until([&] { return !mcu_got.from("a", "rtcmesh").empty(); }, 10s));
  EXPECT_EQ(mcu_got.from("a", "rtcmesh")[0].data, "to the pipeline");

  // The pipeline's send-string to everyone, send-data to a, and a buffer on
  // its data_0 pad: from "mcu".
  EXPECT_TRUE(send_string(room.mcu, nullptr, "from the room", true));
  EXPECT_TRUE(send_bytes(room.mcu, "a", bytes, true));
  GstBuffer* buf = gst_buffer_new_memdup("from the pad", 12);
  GstFlowReturn flow = GST_FLOW_ERROR;
  g_signal_emit_by_name(room.pipeline.by_name("d"), "push-buffer", buf, &flow);
  gst_buffer_unref(buf);
  EXPECT_EQ(flow, GST_FLOW_OK);
  EXPECT_TRUE(wait_until([&] { return a_got.from("mcu", "rtcmesh").size() >= 3; }, 10s));
  EXPECT_TRUE(wait_until([&] { return b_got.from("mcu", "rtcmesh").size() >= 2; }, 10s));
  auto a_from_mcu = a_got.from("mcu", "rtcmesh");
  auto b_from_mcu = b_got.from("mcu", "rtcmesh");
  ASSERT_EQ(a_from_mcu.size(), 3u);
  ASSERT_EQ(b_from_mcu.size(), 2u);
  EXPECT_EQ(a_from_mcu[0].data, "from the room");
  EXPECT_TRUE(a_from_mcu[0].text);
  EXPECT_EQ(a_from_mcu[1].data, bytes);
  EXPECT_FALSE(a_from_mcu[1].text);
  EXPECT_EQ(a_from_mcu[2].data, "from the pad");
  EXPECT_TRUE(a_from_mcu[2].text);
  EXPECT_EQ(b_from_mcu[0].data, "from the room");
  EXPECT_EQ(b_from_mcu[1].data, "from the pad");

  // Nothing came back to its sender; the room counted the relays.
  EXPECT_TRUE(a_got.from("a", "rtcmesh").empty());
  EXPECT_TRUE(b_got.from("b", "rtcmesh").empty());
  EXPECT_TRUE(mcu_got.from("mcu", "rtcmesh").empty());
  GstStructure* stats = nullptr;
  g_object_get(room.mcu, "stats", &stats, nullptr);
  guint64 relayed = 0;
  if (stats) gst_structure_get_uint64(stats, "data-relayed", &relayed);
  if (stats) gst_structure_free(stats);
  EXPECT_GE(relayed, 600u + 6u);
  EXPECT_TRUE(a.pipeline().errors().empty());
  EXPECT_TRUE(b.pipeline().errors().empty());
}
