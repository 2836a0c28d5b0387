#include "gst/media/composer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gst/common/debug.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

GstElement* make(GstBin* bin, const char* factory, const char* name) {
  GstElement* e = gst_element_factory_make(factory, name);
  if (!e) throw std::runtime_error(std::string(factory) + " is missing (gstreamer1.0-plugins-base)");
  gst_bin_add(bin, e);
  return e;
}

}  // namespace

Composer::Composer(GstBin* bin, int width, int height, int framerate)
    : bin_(bin), width_(width), height_(height), framerate_(framerate) {
  background_ = make(bin, "videotestsrc", "compose-background");
  g_object_set(background_, "is-live", TRUE, "pattern", 2 /* black */, nullptr);
  compositor_ = make(bin, "compositor", "compose-video");
  g_object_set(compositor_, "background", 1 /* black */, nullptr);
  video_filter_ = make(bin, "capsfilter", "compose-video-caps");
  background_input_ = gst_element_request_pad_simple(compositor_, "sink_%u");
  apply_caps();
  GstPad* bg_src = gst_element_get_static_pad(background_, "src");
  gst_pad_link(bg_src, background_input_);
  gst_object_unref(bg_src);
  gst_element_link(compositor_, video_filter_);

  silence_ = make(bin, "audiotestsrc", "compose-silence");
  g_object_set(silence_, "is-live", TRUE, "wave", 4 /* silence */, nullptr);
  mixer_ = make(bin, "audiomixer", "compose-audio");
  gst_element_link(silence_, mixer_);

  video_src_ = gst_element_get_static_pad(video_filter_, "src");
  audio_src_ = gst_element_get_static_pad(mixer_, "src");
  for (GstElement* e : {background_, compositor_, video_filter_, silence_, mixer_})
    gst_element_sync_state_with_parent(e);
}

void Composer::apply_caps() {
  GstCaps* caps = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, width_, "height",
                                      G_TYPE_INT, height_, "framerate", GST_TYPE_FRACTION,
                                      framerate_, 1, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1,
                                      nullptr);
  g_object_set(video_filter_, "caps", caps, nullptr);
  gst_caps_unref(caps);
  g_object_set(background_input_, "xpos", 0, "ypos", 0, "width", width_, "height", height_,
               "zorder", 0, nullptr);
}

void Composer::set_format(int width, int height, int framerate) {
  std::lock_guard lock(mutex_);
  width_ = width;
  height_ = height;
  framerate_ = framerate;
  apply_caps();
  layout();
}

Composer::~Composer() {
  gst_object_unref(background_input_);
  gst_object_unref(video_src_);
  gst_object_unref(audio_src_);
  for (GstElement* e : {background_, compositor_, video_filter_, silence_, mixer_}) {
    gst_element_set_state(e, GST_STATE_NULL);
    gst_bin_remove(bin_, e);
  }
}

void Composer::add(GstPad* track, Kind kind, const std::string& who) {
  GstPad* input = gst_element_request_pad_simple(kind == Kind::kVideo ? compositor_ : mixer_,
                                                 "sink_%u");
  // A tile shows the whole picture, between black bands if its shape differs.
  if (kind == Kind::kVideo) g_object_set(input, "sizing-policy", 1 /* keep-aspect-ratio */, nullptr);
  {
    std::lock_guard lock(mutex_);
    inputs_.push_back({track, input, kind, who});
    layout();
  }
  if (gst_pad_link(track, input) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT(bin_, "cannot link %s into the composition", GST_PAD_NAME(track));
}

void Composer::remove(GstPad* track) {
  Input gone;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(inputs_.begin(), inputs_.end(),
                           [track](const Input& i) { return i.track == track; });
    if (it == inputs_.end()) return;
    gone = *it;
    inputs_.erase(it);
    layout();
  }
  GstPad* input = gone.input;
  Kind kind = gone.kind;
  gst_pad_unlink(track, input);
  gst_element_release_request_pad(kind == Kind::kVideo ? compositor_ : mixer_, input);
  gst_object_unref(input);
}

size_t Composer::tiles() const {
  std::lock_guard lock(mutex_);
  return std::count_if(inputs_.begin(), inputs_.end(),
                       [](const Input& i) { return i.kind == Kind::kVideo; });
}

void Composer::set_layout(Layout layout) {
  std::lock_guard lock(mutex_);
  layout_ = layout;
  this->layout();
}

void Composer::set_focus(const std::string& who) {
  std::lock_guard lock(mutex_);
  if (focus_ == who) return;
  focus_ = who;
  layout();
}

std::string Composer::focus() const {
  std::lock_guard lock(mutex_);
  return focus_;
}

// A grid of ceil(sqrt(n)) columns over the canvas, in arrival order; or the
// focus large over the top three quarters and the others in a strip below.
void Composer::layout() {
  std::vector<GstPad*> tiles;
  GstPad* focus = nullptr;
  for (const Input& i : inputs_) {
    if (i.kind != Kind::kVideo) continue;
    if (layout_ != Layout::kGrid && !focus && !focus_.empty() && i.who == focus_)
      focus = i.input;
    else
      tiles.push_back(i.input);
  }
  if (focus) {
    int big = tiles.empty() ? height_ : height_ * 3 / 4;
    g_object_set(focus, "xpos", 0, "ypos", 0, "width", width_, "height", big, "zorder", 1,
                 nullptr);
    int n = int(tiles.size());
    for (int i = 0; i < n; i++)
      g_object_set(tiles[i], "xpos", i * (width_ / n), "ypos", big, "width", width_ / n,
                   "height", height_ - big, "zorder", 1, nullptr);
    return;
  }
  if (tiles.empty()) return;
  int n = int(tiles.size());
  int cols = int(std::ceil(std::sqrt(double(n))));
  int rows = (n + cols - 1) / cols;
  int w = width_ / cols, h = height_ / rows;
  for (int i = 0; i < n; i++)
    g_object_set(tiles[i], "xpos", (i % cols) * w, "ypos", (i / cols) * h, "width", w, "height",
                 h, "zorder", 1, nullptr);
}

}  // namespace rtcmesh::media
