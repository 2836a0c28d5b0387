// Shared pieces of the media tests: a pipeline holding one bin (standing in for
// an rtcmesh element), counting appsinks, and a bus pump that records errors.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "gst/common/ptr.h"

namespace rtcmesh::media::test {

// An appsink that counts what reaches it and keeps the last caps.
class CountingSink {
 public:
  // caps: what the sink accepts ("" for ANY).
  explicit CountingSink(const std::string& caps, const char* name = nullptr);
  ~CountingSink();
  GstElement* element() const { return sink_; }
  GstPad* pad() const;
  int samples() const { return samples_.load(); }
  int frames() const { return frames_.load(); }  // distinct timestamps
  int keyframes() const { return keyframes_.load(); }
  bool first_was_keyframe() const { return first_keyframe_.load() == 1; }
  bool eos() const { return eos_.load(); }
  CapsPtr caps() const;
  std::string caps_string() const;

 private:
  static GstFlowReturn on_sample(GstAppSink* sink, gpointer data);
  static void on_eos(GstAppSink* sink, gpointer data);

  GstElement* sink_;  // our own reference
  std::atomic<int> samples_{0};
  std::atomic<int> frames_{0};
  std::atomic<GstClockTime> last_pts_{GST_CLOCK_TIME_NONE};
  std::atomic<int> keyframes_{0};
  std::atomic<int> first_keyframe_{-1};
  std::atomic<bool> eos_{false};
  mutable std::mutex mutex_;
  CapsPtr caps_;
};

class MediaTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Pumps the bus until cond() holds or timeout passes; records errors,
  // warnings and EOS. Returns cond().
  bool run_until(const std::function<bool()>& cond,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }
  void play();
  void stop();

  // In bin_: videotestsrc is-live=true ! capsfilter 320x240@15 (returns its src pad).
  GstPad* add_video_source(int num_buffers = -1);
  // In bin_: audiotestsrc is-live=true ! capsfilter 48 kHz stereo.
  GstPad* add_audio_source(int num_buffers = -1);
  // In bin_: element `factory` with properties as gst-launch "a=b" strings,
  // linked after `upstream`; returns its src pad.
  GstPad* add_after(GstPad* upstream, const char* factory,
                    const std::vector<std::string>& props = {});
  // Elements inside bin_ (recursively) whose factory klass contains `klass`.
  int count_in_bin(const char* klass) const;

  std::string errors_text() const;
  // GLib warnings and criticals logged (GStreamer, GObject, GLib) since SetUp;
  // TearDown fails the test if there were any.
  int glib_warnings() const { return glib_warnings_.load(); }

  GstElement* pipeline_ = nullptr;
  GstBin* bin_ = nullptr;  // "rtc", owned by the pipeline
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
  bool eos_ = false;
  std::atomic<int> glib_warnings_{0};
  std::vector<guint> log_handlers_;
};

GstPadTemplate* src_template(const char* name_template, bool video);

}  // namespace rtcmesh::media::test
