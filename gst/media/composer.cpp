#include "gst/media/composer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gst/common/debug.h"
#include "gst/media/util.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

GstElement* make(GstBin* bin, const char* factory, const char* name) {
  GstElement* e = gst_element_factory_make(factory, name);
  if (!e)
    throw std::runtime_error(std::string(factory) + " is missing (" +
                             (g_str_equal(factory, "textoverlay") ? "gstreamer1.0-x"
                                                                   : "gstreamer1.0-plugins-base") +
                             ")");
  gst_bin_add(bin, e);
  return e;
}

bool is_label(GstElement* e) {
  GstElementFactory* f = gst_element_get_factory(e);
  return f && g_str_equal(GST_OBJECT_NAME(f), "textoverlay");
}

}  // namespace

Composer::Composer(GstBin* bin, int width, int height, int framerate)
    : bin_(bin), width_(width), height_(height), framerate_(framerate) {
  background_ = make(bin, "videotestsrc", "compose-background");
  g_object_set(background_, "is-live", TRUE, "pattern", 2 /* black */, nullptr);
  background_caps_ = make(bin, "capsfilter", "compose-background-caps");
  compositor_ = make(bin, "compositor", "compose-video");
  g_object_set(compositor_, "background", 1 /* black */, nullptr);
  video_filter_ = make(bin, "capsfilter", "compose-video-caps");
  background_input_ = gst_element_request_pad_simple(compositor_, "sink_%u");
  apply_caps();
  gst_element_link(background_, background_caps_);
  GstPad* bg_src = gst_element_get_static_pad(background_caps_, "src");
  gst_pad_link(bg_src, background_input_);
  gst_object_unref(bg_src);
  gst_element_link(compositor_, video_filter_);

  silence_ = make(bin, "audiotestsrc", "compose-silence");
  g_object_set(silence_, "is-live", TRUE, "wave", 4 /* silence */, nullptr);
  mixer_ = make(bin, "audiomixer", "compose-audio");
  gst_element_link(silence_, mixer_);

  video_src_ = gst_element_get_static_pad(video_filter_, "src");
  audio_src_ = gst_element_get_static_pad(mixer_, "src");
  for (GstElement* e : {video_filter_, compositor_, background_caps_, background_, mixer_, silence_})
    gst_element_sync_state_with_parent(e);  // downstream first, as in tile_chain
}

void Composer::apply_caps() {
  // I420: what decoders give and encoders take. Left open, the compositor
  // picked ABGR64_LE (16 bits a channel) and converted every tile into it.
  GstCaps* caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                      G_TYPE_INT, width_, "height",
                                      G_TYPE_INT, height_, "framerate", GST_TYPE_FRACTION,
                                      framerate_, 1, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1,
                                      nullptr);
  g_object_set(video_filter_, "caps", caps, nullptr);
  gst_caps_unref(caps);
  caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                             16, "height", G_TYPE_INT, 16, "framerate", GST_TYPE_FRACTION,
                             framerate_, 1, nullptr);
  g_object_set(background_caps_, "caps", caps, nullptr);
  gst_caps_unref(caps);
  // The background only keeps the compositor live with no tile: one 16x16
  // black frame in a corner (the compositor paints the rest black itself);
  // a full-canvas one cost a 1280x720 fill and blend every frame.
  g_object_set(background_input_, "xpos", 0, "ypos", 0, "width", 16, "height", 16, "zorder", 0,
               nullptr);
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
  remove_elements(bin_, {background_, background_caps_, compositor_, video_filter_, silence_, mixer_});
}

// A video tile's chain into the compositor's `input`: from the track, a queue
// of two frames that drops the oldest (the decoder never waits for the
// compositor, so a compositor that falls behind skips frames instead of
// backing up into the track's jitterbuffer, which has no limit: seconds of
// delay in rtcmesh-bench mcu); without a track, a live black picture
// (a participant with no video). Then the name label (silent when off).
std::vector<GstElement*> Composer::tile_chain(GstPad* track, GstPad* input,
                                             const std::string& who) {
  // A tile shows the whole picture, between black bands if its shape differs.
  g_object_set(input, "sizing-policy", 1 /* keep-aspect-ratio */, nullptr);
  std::vector<GstElement*> chain;
  if (track) {
    static std::atomic<unsigned> tiles{0};
    GstElement* queue = make(bin_, "queue", ("tile-queue-" + std::to_string(tiles++)).c_str());
    g_object_set(queue, "max-size-buffers", 2u, "max-size-bytes", 0u, "max-size-time",
                 guint64(0), "leaky", 2 /* downstream */, nullptr);
    chain.push_back(queue);
  } else {
    GstElement* black = make(bin_, "videotestsrc", nullptr);
    g_object_set(black, "is-live", TRUE, "pattern", 2 /* black */, nullptr);
    GstElement* caps = make(bin_, "capsfilter", nullptr);
    GstCaps* c = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                     G_TYPE_INT, 320, "height", G_TYPE_INT, 180, "framerate",
                                     GST_TYPE_FRACTION, framerate_, 1, nullptr);
    g_object_set(caps, "caps", c, nullptr);
    gst_caps_unref(c);
    chain.push_back(black);
    chain.push_back(caps);
  }
  bool labels;
  {
    std::lock_guard lock(mutex_);
    labels = labels_;
  }
  if (labels || !track) {
    // A no-video tile always says whose it is; labels=false keeps it silent
    // only on real pictures. The font follows the picture's width.
    GstElement* label = make(bin_, "textoverlay", nullptr);
    g_object_set(label, "text", who.c_str(), "shaded-background", TRUE, "font-desc",
                 track ? "Sans Bold 20" : "Sans Bold 28", nullptr);
    gst_util_set_object_arg(G_OBJECT(label), "valignment", track ? "bottom" : "center");
    gst_util_set_object_arg(G_OBJECT(label), "halignment", track ? "left" : "center");
    chain.push_back(label);
  }
  for (size_t i = 1; i < chain.size(); i++) gst_element_link(chain[i - 1], chain[i]);
  GstPad* src = gst_element_get_static_pad(chain.back(), "src");
  gst_pad_link(src, input);
  gst_object_unref(src);
  // Downstream first: a live black source started before its label would
  // push into a pad still flushing and stop for good (a blank tile, seen once).
  for (auto e = chain.rbegin(); e != chain.rend(); ++e) gst_element_sync_state_with_parent(*e);
  return chain;
}

// The bin is going down: a tile's elements added now (on a host's worker,
// while the bin's children stop) could miss the NULL state and keep their
// threads running after it (hangs at exit seen in the mcu test).
bool Composer::stopping() const {
  GST_OBJECT_LOCK(bin_);
  bool down = GST_STATE_TARGET(bin_) < GST_STATE_PAUSED;
  GST_OBJECT_UNLOCK(bin_);
  return down;
}

void Composer::add(GstPad* track, Kind kind, const std::string& who) {
  if (stopping()) return;
  if (kind == Kind::kVideo && !who.empty()) remove_placeholder(who);
  GstPad* input = gst_element_request_pad_simple(kind == Kind::kVideo ? compositor_ : mixer_,
                                                 "sink_%u");
  std::vector<GstElement*> chain;
  if (kind == Kind::kVideo) chain = tile_chain(track, input, who);
  {
    std::lock_guard lock(mutex_);
    inputs_.push_back({track, input, kind, who, chain});
    layout();
  }
  GstPad* sink = chain.empty() ? GST_PAD(gst_object_ref(input))
                               : gst_element_get_static_pad(chain.front(), "sink");
  if (gst_pad_link(track, sink) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT(bin_, "cannot link %s into the composition", GST_PAD_NAME(track));
  gst_object_unref(sink);
}

void Composer::add_placeholder(const std::string& who) {
  if (stopping()) return;
  {
    std::lock_guard lock(mutex_);
    for (const Input& i : inputs_)
      if (i.kind == Kind::kVideo && i.who == who) return;  // has a tile
  }
  GstPad* input = gst_element_request_pad_simple(compositor_, "sink_%u");
  std::vector<GstElement*> chain = tile_chain(nullptr, input, who);
  std::lock_guard lock(mutex_);
  inputs_.push_back({nullptr, input, Kind::kVideo, who, chain});
  layout();
}

void Composer::remove_placeholder(const std::string& who) {
  drop([&](const Input& i) { return !i.track && i.kind == Kind::kVideo && i.who == who; });
}

void Composer::remove(GstPad* track) {
  drop([track](const Input& i) { return i.track == track; });
}

void Composer::drop(const std::function<bool(const Input&)>& which) {
  Input gone;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(inputs_.begin(), inputs_.end(), which);
    if (it == inputs_.end()) return;
    gone = *it;
    inputs_.erase(it);
    layout();
  }
  GstPad* input = gone.input;
  if (!gone.chain.empty()) {
    if (gone.track) {
      GstPad* sink = gst_element_get_static_pad(gone.chain.front(), "sink");
      gst_pad_unlink(gone.track, sink);
      gst_object_unref(sink);
    }
    remove_elements(bin_, gone.chain);
  } else {
    gst_pad_unlink(gone.track, input);
  }
  gst_element_release_request_pad(gone.kind == Kind::kVideo ? compositor_ : mixer_, input);
  gst_object_unref(input);
}

void Composer::set_labels(bool on) {
  std::lock_guard lock(mutex_);
  labels_ = on;
  for (const Input& i : inputs_)
    if (i.track && !i.chain.empty() && is_label(i.chain.back()))
      g_object_set(i.chain.back(), "silent", !on, nullptr);
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
