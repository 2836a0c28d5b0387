// rtcmeshbin compose=true: every remote video track becomes a tile of one
// grid that follows their number, every remote audio track a voice of one mix.
// Live black and silent inputs keep both outputs running with nobody there.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "gst/media/codec.h"

namespace rtcmesh::media {

// grid: every tile alike, ceil(sqrt(n)) columns; speaker / pinned: the
// focus tile large (the top three quarters), the others in a strip below.
enum class Layout { kGrid, kSpeaker, kPinned };

class Composer {
 public:
  Composer(GstBin* bin, int width, int height, int framerate = 30);
  ~Composer();
  Composer(const Composer&) = delete;
  Composer& operator=(const Composer&) = delete;

  // The mixers' outputs, to be ghosted as the element's always pads.
  GstPad* video_src() const { return video_src_; }
  GstPad* audio_src() const { return audio_src_; }

  // Links a received track's pad (decoded there: the mixers ask for raw) into
  // a new mixer input and lays the grid out again. Any thread.
  void add(GstPad* track, Kind kind, const std::string& who = "");
  // Unlinks it and releases its input (after the track's EOS).
  void remove(GstPad* track);
  // A tile for `who`, who sends no video: black with their name, until a
  // video track of theirs is added (or remove_placeholder).
  void add_placeholder(const std::string& who);
  void remove_placeholder(const std::string& who);
  // Name labels (`who`) on the video tiles: new tiles get one, existing
  // ones show or hide theirs. Off by default (rtcmeshbin compose=true).
  void set_labels(bool on);
  size_t tiles() const;
  // Any thread. The focus is the `who` of a tile (none there: a grid).
  void set_layout(Layout layout);
  void set_focus(const std::string& who);
  std::string focus() const;
  // The canvas (rtcmcu's width, height, framerate): before the mixers run.
  void set_format(int width, int height, int framerate);

 private:
  void layout();  // mutex_ held
  void apply_caps();
  struct Input;
  std::vector<GstElement*> tile_chain(GstPad* track, GstPad* input, const std::string& who);
  void drop(const std::function<bool(const Input&)>& which);
  bool stopping() const;

  GstBin* bin_;
  int width_, height_, framerate_;
  GstPad* background_input_ = nullptr;  // the compositor's, full canvas
  GstElement *compositor_, *video_filter_, *background_, *background_caps_, *mixer_, *silence_;
  GstPad *video_src_, *audio_src_;
  mutable std::mutex mutex_;
  struct Input {
    GstPad* track;  // nullptr: a placeholder tile
    GstPad* input;  // the mixer's request pad
    Kind kind;
    std::string who;
    std::vector<GstElement*> chain;  // video: tile_chain's elements, upstream first
  };
  bool labels_ = false;
  Layout layout_ = Layout::kGrid;
  std::string focus_;
  std::vector<Input> inputs_;  // in arrival order
};

}  // namespace rtcmesh::media
