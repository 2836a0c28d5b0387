// rtcmcu with real webrtcbin on loopback: three WHIP publishers, each a solid
// colour and a tone, composited into a 320x240 grid; a WHEP player of the
// room decodes the composite (each colour in its own grid region, read from
// the pixels) and the mix (each tone there, measured with `spectrum`); a
// publisher leaves and the grid re-flows to two tiles.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "tests/support/harness.h"

using namespace rtcmesh::test;

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

std::unique_ptr<Pipeline> publish(const std::string& url, const Colour& c) {
  auto p = std::make_unique<Pipeline>(publisher_launch(
      url, "peer-timeout=3000",
      "videotestsrc is-live=true pattern=solid-color foreground-color=" + std::to_string(c.argb),
      "audiotestsrc is-live=true wave=sine volume=0.2 freq=" + std::to_string(c.freq)));
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
    EXPECT_NE(pipeline_.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  }
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

TEST(Mcu, ThreePublishersCompositedIntoAGridThatReflowsWhenOneLeaves) {
  Pipeline mcu_pipeline(
      "rtcmcu name=mcu port=0 room=r width=320 height=240 framerate=15 peer-timeout=3000 "
      "mcu.video_src ! fakesink name=composite sync=false async=false "
      "mcu.audio_src ! fakesink sync=false async=false");
  GstElement* mcu = mcu_pipeline.by_name("mcu");
  std::atomic<int> added{0}, removed{0};
  g_signal_connect(mcu, "publisher-added",
                   G_CALLBACK(+[](GstElement*, const char*, const char*, gpointer n) {
                     ++*static_cast<std::atomic<int>*>(n);
                   }),
                   &added);
  g_signal_connect(mcu, "publisher-removed",
                   G_CALLBACK(+[](GstElement*, const char*, const char*, const char*, gpointer n) {
                     ++*static_cast<std::atomic<int>*>(n);
                   }),
                   &removed);
  ASSERT_NE(mcu_pipeline.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
      << joined(mcu_pipeline.errors());
  guint port = 0;
  g_object_get(mcu, "port", &port, nullptr);
  std::string base = "http://127.0.0.1:" + std::to_string(port);

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
                     << joined(mcu_pipeline.errors()) << joined(player.pipeline().errors())
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
  // (two 160x240 halves), red and blue, and its tone is out of the mix.
  green.reset();
  bool two = wait_until(
      [&] {
        auto halves = player.grid(2, 1);
        auto lower = player.grid(2, 2);
        cells = halves;
        return std::multiset<std::string>(halves.begin(), halves.end()) ==
                   std::multiset<std::string>{"red", "blue"} &&
               lower[2] == halves[0] && lower[3] == halves[1];
      },
      kMediaTimeout);
  EXPECT_TRUE(two) << "halves: " << str(cells) << " quadrants: " << str(player.grid(2, 2));
  EXPECT_TRUE(wait_until([&] { return removed >= 1; }, 10s));
  player.reset_levels();
  std::this_thread::sleep_for(1500ms);
  EXPECT_LT(player.level(kGreen.freq), player.level(kRed.freq) - 25) << "green's tone left";
  EXPECT_GE(added.load(), 4);
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
  Pipeline mcu_pipeline(
      "rtcmcu name=mcu port=0 room=r width=320 height=240 framerate=15 peer-timeout=3000");
  GstElement* mcu = mcu_pipeline.by_name("mcu");
  ASSERT_NE(mcu_pipeline.set_state(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
      << joined(mcu_pipeline.errors());
  guint port = 0;
  g_object_get(mcu, "port", &port, nullptr);
  std::string ws = "ws://127.0.0.1:" + std::to_string(port) + "/rtc";
  std::vector<std::unique_ptr<Player>> people;
  for (const Colour* c : {&kRed, &kGreen, &kBlue}) people.push_back(Player::participant(ws, *c));

  for (size_t i = 0; i < people.size(); i++) {
    std::vector<std::string> cells;
    bool composite = wait_until(
        [&] {
          cells = people[i]->grid(2, 2);
          return std::multiset<std::string>(cells.begin(), cells.begin() + 3) ==
                 std::multiset<std::string>{"red", "green", "blue"};
        },
        kMediaTimeout);
    ASSERT_TRUE(composite) << "participant " << i << " cells: " << str(cells) << "\n"
                           << joined(mcu_pipeline.errors()) << joined(people[i]->pipeline().errors());
  }
  GstStructure* stats = nullptr;
  g_object_get(mcu, "stats", &stats, nullptr);
  guint mixes = 0;
  gst_structure_get_uint(stats, "minus-one-mixes", &mixes);
  gst_structure_free(stats);
  EXPECT_EQ(mixes, 3u);

  // Renegotiations settle (each mix is a new track of the room's output).
  std::this_thread::sleep_for(2s);
  for (auto& p : people) p->reset_levels();
  std::this_thread::sleep_for(2s);
  const Colour* colours[] = {&kRed, &kGreen, &kBlue};
  for (size_t i = 0; i < people.size(); i++) {
    double quiet = people[i]->level(2200);
    for (size_t j = 0; j < 3; j++) {
      double l = people[i]->level(colours[j]->freq);
      if (i == j)
        EXPECT_LT(l, quiet + 15) << colours[i]->name << " hears its own tone: " << l
                                 << " dB, quiet band " << quiet;
      else
        EXPECT_GT(l, quiet + 25) << colours[i]->name << " misses " << colours[j]->name
                                 << "'s tone: " << l << " dB, quiet band " << quiet;
    }
  }
}
