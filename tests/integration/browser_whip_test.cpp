// A real browser publishes by WHIP into rtcwhipsrc.
//
// Debian's Chromium (headless, fake camera and microphone) is driven by
// tests/integration/browser/run.mjs (playwright-core): it loads page.html from
// its own origin, so the POST is cross-origin and exercises CORS, publishes
// video+audio with plain RTCPeerConnection + fetch, reports getStats() and
// DELETEs the resource when told to stop. In this process, rtcwhipsrc (port 0)
// feeds appsinks that count decoded frames and audio samples.
#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/harness.h"
#include "tests/support/subprocess.h"

#ifndef RTCMESH_BROWSER_DIR
#error "RTCMESH_BROWSER_DIR must point at tests/integration/browser"
#endif

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Records every emission of a signal, whatever its signature (generic marshal).
struct SignalLog {
  std::mutex mu;
  std::vector<std::vector<std::string>> calls;

  static void marshal(GClosure* closure, GValue*, guint n_params, const GValue* params, gpointer,
                      gpointer) {
    auto* self = static_cast<SignalLog*>(closure->data);
    std::vector<std::string> args;
    for (guint i = 1; i < n_params; i++) {
      if (G_VALUE_HOLDS_STRING(&params[i])) {
        const char* s = g_value_get_string(&params[i]);
        args.emplace_back(s ? s : "");
      } else {
        gchar* c = g_strdup_value_contents(&params[i]);
        args.emplace_back(c);
        g_free(c);
      }
    }
    std::lock_guard<std::mutex> lock(self->mu);
    self->calls.push_back(std::move(args));
  }
  bool connect(GstElement* element, const char* signal) {
    if (g_signal_lookup(signal, G_OBJECT_TYPE(element)) == 0) return false;
    GClosure* c = g_closure_new_simple(sizeof(GClosure), this);
    g_closure_set_marshal(c, &SignalLog::marshal);
    g_signal_connect_closure(element, signal, c, FALSE);
    return true;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return calls.size();
  }
  std::string describe() {
    std::lock_guard<std::mutex> lock(mu);
    std::string out;
    for (auto& call : calls) {
      out += "(";
      for (size_t i = 0; i < call.size(); i++) out += (i ? ", " : "") + call[i];
      out += ") ";
    }
    return out;
  }
};

// What the appsinks saw.
struct Received {
  std::atomic<int> video_frames{0};
  std::atomic<long> audio_samples{0};
  std::atomic<int> audio_rate{0};
  std::atomic<int> width{0}, height{0};
  std::mutex mu;
  std::vector<std::string> pads;  // "video_0 peer-id=… room=… codec=…"
  std::string video_caps, audio_caps;
};

std::string pad_string_property(GstPad* pad, const char* name) {
  if (!g_object_class_find_property(G_OBJECT_GET_CLASS(pad), name)) return "";
  gchar* v = nullptr;
  g_object_get(pad, name, &v, nullptr);
  std::string s = v ? v : "";
  g_free(v);
  return s;
}

GstFlowReturn on_video_sample(GstAppSink* sink, gpointer data) {
  auto* r = static_cast<Received*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstVideoInfo info;
  if (GstCaps* caps = gst_sample_get_caps(sample); caps && gst_video_info_from_caps(&info, caps)) {
    r->width = GST_VIDEO_INFO_WIDTH(&info);
    r->height = GST_VIDEO_INFO_HEIGHT(&info);
    if (r->video_frames == 0) {
      gchar* s = gst_caps_to_string(caps);
      std::lock_guard<std::mutex> lock(r->mu);
      r->video_caps = s;
      g_free(s);
    }
  }
  r->video_frames++;
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

GstFlowReturn on_audio_sample(GstAppSink* sink, gpointer data) {
  auto* r = static_cast<Received*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstAudioInfo info;
  GstBuffer* buf = gst_sample_get_buffer(sample);
  if (GstCaps* caps = gst_sample_get_caps(sample);
      buf && caps && gst_audio_info_from_caps(&info, caps) && GST_AUDIO_INFO_BPF(&info) > 0) {
    r->audio_rate = GST_AUDIO_INFO_RATE(&info);
    r->audio_samples += static_cast<long>(gst_buffer_get_size(buf) / GST_AUDIO_INFO_BPF(&info));
    if (r->audio_caps.empty()) {
      gchar* s = gst_caps_to_string(caps);
      std::lock_guard<std::mutex> lock(r->mu);
      r->audio_caps = s;
      g_free(s);
    }
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

struct PadAddedCtx {
  GstElement* pipeline;
  Received* received;
};

// Each new src pad of rtcwhipsrc: queue ! appsink (raw caps), linked right away.
void on_pad_added(GstElement*, GstPad* pad, gpointer data) {
  auto* ctx = static_cast<PadAddedCtx*>(data);
  gchar* name = gst_pad_get_name(pad);
  std::string pad_name = name;
  g_free(name);
  bool video = pad_name.rfind("video_", 0) == 0;
  bool audio = pad_name.rfind("audio_", 0) == 0;
  {
    std::lock_guard<std::mutex> lock(ctx->received->mu);
    std::string peer = pad_string_property(pad, "peer-id");
    if (peer.empty()) peer = pad_string_property(pad, "publisher-id");
    ctx->received->pads.push_back(pad_name + " peer-id=" + peer +
                                  " room=" + pad_string_property(pad, "room") +
                                  " codec=" + pad_string_property(pad, "codec"));
  }
  if (!video && !audio) return;
  GstElement* queue = gst_element_factory_make("queue", nullptr);
  GstElement* sink = gst_element_factory_make("appsink", nullptr);
  GstCaps* caps = gst_caps_from_string(video ? "video/x-raw" : "audio/x-raw");
  g_object_set(sink, "caps", caps, "sync", FALSE, "async", FALSE, "max-buffers", 8, "drop", TRUE,
               nullptr);
  gst_caps_unref(caps);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = video ? on_video_sample : on_audio_sample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, ctx->received, nullptr);
  gst_bin_add_many(GST_BIN(ctx->pipeline), queue, sink, nullptr);
  gst_element_link(queue, sink);
  gst_element_sync_state_with_parent(sink);
  gst_element_sync_state_with_parent(queue);
  GstPad* qsink = gst_element_get_static_pad(queue, "sink");
  GstPadLinkReturn lr = gst_pad_link(pad, qsink);
  if (lr != GST_PAD_LINK_OK)
    ADD_FAILURE() << "linking " << pad_name << " to an appsink failed: " << lr;
  gst_object_unref(qsink);
}

// Pops bus errors; returns the first error text, or "".
std::string drain_bus_errors(GstBus* bus) {
  std::string first;
  while (GstMessage* msg = gst_bus_pop_filtered(
             bus, static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    GError* err = nullptr;
    gchar* dbg = nullptr;
    bool is_error = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
    if (is_error)
      gst_message_parse_error(msg, &err, &dbg);
    else
      gst_message_parse_warning(msg, &err, &dbg);
    std::string text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " +
                       (err ? err->message : "?") + " (" + (dbg ? dbg : "") + ")";
    std::fprintf(stderr, "bus %s: %s\n", is_error ? "ERROR" : "warning", text.c_str());
    if (is_error && first.empty()) first = text;
    g_clear_error(&err);
    g_free(dbg);
    gst_message_unref(msg);
  }
  return first;
}

// Share of a PNG's pixels that are clearly green (Chromium's fake camera
// paints green), decoded by GStreamer; -1 when it cannot be read.
double green_share(const std::string& png) {
  gchar* desc = g_strdup_printf(
      "filesrc location=\"%s\" ! pngdec ! videoconvert ! video/x-raw,format=RGB ! appsink name=out",
      png.c_str());
  GstElement* p = gst_parse_launch(desc, nullptr);
  g_free(desc);
  if (!p) return -1;
  GstElement* out = gst_bin_get_by_name(GST_BIN(p), "out");
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(out), 5 * GST_SECOND);
  double share = -1;
  GstVideoInfo info;
  if (sample && gst_video_info_from_caps(&info, gst_sample_get_caps(sample))) {
    GstMapInfo map;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
      long green = 0, all = 0;
      for (int y = 0; y < GST_VIDEO_INFO_HEIGHT(&info); y++) {
        const guint8* row = map.data + y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
        for (int x = 0; x < GST_VIDEO_INFO_WIDTH(&info); x++, all++) {
          const guint8* px = row + 3 * x;
          if (px[1] > 100 && px[0] < 90 && px[2] < 90) green++;
        }
      }
      share = all ? double(green) / all : -1;
      gst_buffer_unmap(buf, &map);
    }
  }
  if (sample) gst_sample_unref(sample);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(out);
  gst_object_unref(p);
  return share;
}

class BrowserWhip : public ::testing::Test {
 protected:
  void SetUp() override {
    browser_dir_ = env_or("RTCMESH_BROWSER_DIR", RTCMESH_BROWSER_DIR);
    chromium_ = env_or("RTCMESH_CHROMIUM", "/usr/bin/chromium");
    if (!fs::exists(chromium_))
      GTEST_SKIP() << chromium_ << " is missing (scripts/install-deps installs Debian's chromium)";
    fs::path modules = fs::path(browser_dir_).parent_path() / "node_modules" / "playwright-core";
    if (!fs::exists(modules / "package.json"))
      GTEST_SKIP() << modules
                   << " is missing (scripts/install-deps runs npm ci in tests/integration)";
    gchar* node = g_find_program_in_path("node");
    if (!node) GTEST_SKIP() << "node is not in PATH (scripts/install-deps installs it)";
    node_ = node;
    g_free(node);
  }

  void TearDown() override {
    if (browser_) browser_->terminate(10s);
    browser_.reset();
    if (bus_) gst_object_unref(bus_);
    if (pipeline_) {
      gst_element_set_state(pipeline_, GST_STATE_NULL);
      gst_object_unref(pipeline_);
    }
  }

  // rtcwhipsrc (port 0, raw output, peer-timeout 3 s) into appsinks; returns its port.
  guint start_source() {
    src_ = gst_element_factory_make("rtcwhipsrc", "whip");
    if (!src_) {
      ADD_FAILURE() << "element rtcwhipsrc is not registered";
      return 0;
    }
    pipeline_ = gst_pipeline_new("browser-whip");
    ctx_.pipeline = pipeline_;
    gst_bin_add(GST_BIN(pipeline_), src_);
    g_object_set(src_, "address", "127.0.0.1", "port", 0, nullptr);
    gst_util_set_object_arg(G_OBJECT(src_), "output", "raw");
    gst_util_set_object_arg(G_OBJECT(src_), "peer-timeout", "3000");  // ms
    EXPECT_TRUE(added_.connect(src_, "publisher-added")) << "no publisher-added signal";
    EXPECT_TRUE(removed_.connect(src_, "publisher-removed")) << "no publisher-removed signal";
    g_signal_connect(src_, "pad-added", G_CALLBACK(on_pad_added), &ctx_);
    bus_ = gst_element_get_bus(pipeline_);
    if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      ADD_FAILURE() << drain_bus_errors(bus_);
      return 0;
    }
    gst_element_get_state(pipeline_, nullptr, nullptr, 5 * GST_SECOND);
    guint port = 0;
    g_object_get(src_, "port", &port, nullptr);
    EXPECT_NE(port, 0u) << "rtcwhipsrc port=0 must read back the bound port after READY->PAUSED";
    return port;
  }

  // run.mjs with `args` (after node run.mjs), echoing its lines.
  bool start_browser(std::vector<std::string> args) {
    args.insert(args.begin(), {node_, browser_dir_ + "/run.mjs"});
    for (const char* a : {"--duration", "60", "--chromium"}) args.push_back(a);
    args.push_back(chromium_);
    std::string error;
    rtcmesh::test::Subprocess::Options opts;
    opts.echo_prefix = "[browser]";
    browser_ = rtcmesh::test::Subprocess::spawn(args, opts, &error);
    EXPECT_TRUE(browser_) << "could not start node: " << error;
    return !!browser_;
  }

  // Waits for the driver's "published" (30 s, Chromium start-up included),
  // then for >= 30 decoded frames and >= 1 s of audio within 15 s; prints
  // what arrived. Returns "" or what went wrong.
  std::string wait_for_media() {
    auto published_deadline = std::chrono::steady_clock::now() + 30s;
    auto media_deadline = std::chrono::steady_clock::time_point::max();
    bool published = false;
    std::string failure;
    auto enough = [&] {
      int rate = received_.audio_rate.load();
      return received_.video_frames >= 30 && rate > 0 && received_.audio_samples >= rate;
    };
    while (!enough() && failure.empty()) {
      auto now = std::chrono::steady_clock::now();
      if ((!published && now > published_deadline) || now > media_deadline) break;
      if (auto line = browser_->read_line(100ms)) {
        if (line->find("\"event\":\"published\"") != std::string::npos) {
          published = true;
          media_deadline = std::chrono::steady_clock::now() + 15s;
        } else if (line->find("\"event\":\"error\"") != std::string::npos) {
          failure = *line;
        }
      } else if (browser_->stdout_closed()) {
        failure = "browser driver exited early";
      }
      if (failure.empty()) failure = drain_bus_errors(bus_);
    }
    std::lock_guard<std::mutex> lock(received_.mu);
    std::string pads;
    for (auto& p : received_.pads) pads += "\n  " + p;
    std::fprintf(stderr,
                 "received: %d video frames (%dx%d), %ld audio samples at %d Hz\n"
                 "video caps: %s\naudio caps: %s\npads:%s\npublisher-added: %s\n",
                 received_.video_frames.load(), received_.width.load(), received_.height.load(),
                 received_.audio_samples.load(), received_.audio_rate.load(),
                 received_.video_caps.c_str(), received_.audio_caps.c_str(), pads.c_str(),
                 added_.describe().c_str());
    if (failure.empty() && !published) failure = "the page never got a 201 answer to its WHIP POST";
    return failure;
  }

  // The browser leaves (SIGTERM to the driver): its "stopped" line, and the
  // driver's exit.
  std::string leave() {
    browser_->send_signal(SIGTERM);
    auto stopped = browser_->wait_for_line(
        [](const std::string& l) { return l.find("\"event\":\"stopped\"") != std::string::npos; },
        15s);
    EXPECT_TRUE(browser_->wait(15s).has_value()) << "the browser driver did not exit";
    return stopped.value_or("");
  }

  void expect_removed() {
    auto removed_deadline = std::chrono::steady_clock::now() + 8s;
    while (removed_.count() == 0 && std::chrono::steady_clock::now() < removed_deadline)
      std::this_thread::sleep_for(50ms);
    EXPECT_GE(removed_.count(), 1u) << "publisher-removed never fired after the browser left";
    std::string bus_error = drain_bus_errors(bus_);
    EXPECT_TRUE(bus_error.empty()) << "a leaving publisher must not take the element down: "
                                   << bus_error;
  }

  std::string browser_dir_, chromium_, node_;
  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;
  GstBus* bus_ = nullptr;
  SignalLog added_, removed_;
  Received received_;
  PadAddedCtx ctx_{nullptr, &received_};
  std::unique_ptr<rtcmesh::test::Subprocess> browser_;
};

TEST_F(BrowserWhip, ChromiumPublishesVideoAndAudio) {
  guint port = start_source();
  ASSERT_NE(port, 0u);
  std::string endpoint = "http://127.0.0.1:" + std::to_string(port) + "/whip/browser";
  ASSERT_TRUE(start_browser({"--mode", "whip", "--endpoint", endpoint}));

  std::string failure = wait_for_media();
  ASSERT_TRUE(failure.empty()) << failure;
  EXPECT_GE(received_.video_frames.load(), 30);
  EXPECT_GT(received_.audio_rate.load(), 0) << "no raw audio arrived";
  EXPECT_GE(received_.audio_samples.load(), static_cast<long>(received_.audio_rate.load()))
      << "less than 1 s of audio";
  // Chromium's fake camera is 640x480; the encoder may scale it down, keeping 4:3.
  int w = received_.width, h = received_.height;
  EXPECT_GE(w, 160);
  EXPECT_GE(h, 120);
  EXPECT_NEAR(static_cast<double>(w) / std::max(h, 1), 4.0 / 3.0, 0.1) << w << "x" << h;
  EXPECT_GE(added_.count(), 1u) << "publisher-added never fired";
  {
    std::lock_guard<std::mutex> lock(received_.mu);
    for (auto& p : received_.pads) EXPECT_NE(p.find(" room=browser "), std::string::npos) << p;
  }
  EXPECT_EQ(removed_.count(), 0u)
      << "publisher-removed fired while the browser was still publishing";

  // The browser leaves: the driver DELETEs the resource, closes the connection
  // and Chromium (by PID). publisher-removed must follow.
  std::string stopped = leave();
  ASSERT_FALSE(stopped.empty()) << "the browser driver did not report its DELETE";
  EXPECT_NE(stopped.find("\"deleteStatus\":200"), std::string::npos)
      << "DELETE of the WHIP resource did not answer 200: " << stopped;
  expect_removed();
}

// rtcwhipsrc's own publish page (GET /): a person picks VP9, a room and a
// name, presses Publish; the pipeline decodes VP9 from that room and name;
// Stop DELETEs the resource.
TEST_F(BrowserWhip, PublishPageSendsTheChosenCodecIntoThePipeline) {
  guint port = start_source();
  ASSERT_NE(port, 0u);
  std::string shot = (fs::temp_directory_path() / "rtcmesh-publish-page.png").string();
  ASSERT_TRUE(start_browser({"--mode", "publish-page", "--url",
                             "http://127.0.0.1:" + std::to_string(port) + "/", "--codec", "VP9",
                             "--room", "studio", "--name", "cam1", "--screenshot", shot}));
  std::string failure = wait_for_media();
  ASSERT_TRUE(failure.empty()) << failure;
  EXPECT_GE(received_.video_frames.load(), 30);
  EXPECT_GE(received_.audio_samples.load(), static_cast<long>(received_.audio_rate.load()));
  {
    std::lock_guard<std::mutex> lock(received_.mu);
    ASSERT_FALSE(received_.pads.empty());
    bool video = false;
    for (auto& p : received_.pads) {
      EXPECT_NE(p.find("peer-id=cam1 room=studio "), std::string::npos) << p;
      if (p.rfind("video_", 0) == 0) {
        video = true;
        EXPECT_NE(p.find("codec=VP9"), std::string::npos) << "the page offered another codec: " << p;
      }
    }
    EXPECT_TRUE(video) << "no video pad";
  }
  EXPECT_NE(added_.describe().find("studio, cam1"), std::string::npos) << added_.describe();
  // The screenshot, taken once the page said it publishes, shows the
  // camera's preview (the fake camera is green), not a black box.
  double green = green_share(shot);
  EXPECT_GT(green, 0.15) << "the preview is not showing the camera in " << shot;
  std::string stopped = leave();
  EXPECT_NE(stopped.find("\"deleteStatus\":200"), std::string::npos) << stopped;
  expect_removed();
}

// A page asked for a path that is not the page, or to be changed, says where
// the page and the endpoint are.
TEST_F(BrowserWhip, PublishPageIsReadOnlyAndSaysWhereThingsAre) {
  guint port = start_source();
  ASSERT_NE(port, 0u);
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  using rtcmesh::test::http_request;
  auto page = http_request("GET", base + "/", nullptr, "");
  EXPECT_EQ(page.status, 200u) << page.body;
  EXPECT_NE(page.body.find("data-endpoint=\"/whip\""), std::string::npos) << page.body.substr(0, 2000);
  EXPECT_NE(page.body.find("data-video-codecs=\"VP8,VP9,H264\""), std::string::npos);
  auto put = http_request("PUT", base + "/", "text/html", "x");
  EXPECT_EQ(put.status, 405u) << put.body;
  EXPECT_EQ(put.header("Allow"), "GET, HEAD");
  auto other = http_request("GET", base + "/nothing", nullptr, "");
  EXPECT_EQ(other.status, 404u) << other.body;
  EXPECT_NE(other.body.find("WHIP offers are POSTed to /whip"), std::string::npos) << other.body;
}

}  // namespace
