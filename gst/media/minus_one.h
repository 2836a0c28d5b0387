// Minus-one audio of an MCU room (DESIGN §8): every participant's decoded
// audio goes into the room's full mix (the Composer's) and into the mix of
// every other participant that has one; a participant that publishes and
// subscribes hears its own mix, everyone but itself. One tee per voice, one
// audiomixer (with a live silence, so it runs alone) per mix.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gst/media/composer.h"

namespace rtcmesh::media {

class MinusOneMixes {
 public:
  struct Hooks {
    // A participant's mix runs: link `src` (raw audio) where it is encoded.
    std::function<void(const std::string& peer, GstPad* src)> mix_added;
    // Its voice left: undo mix_added (the mixer goes after this returns).
    std::function<void(const std::string& peer, GstPad* src)> mix_removed;
    // At most every 100 ms, from a voice's streaming thread: the loudest
    // voice now ("" when every one is below -50 dBFS). Optional.
    std::function<void(const std::string& peer)> loudest;
  };
  MinusOneMixes(GstBin* bin, Composer& composer, Hooks hooks)
      : bin_(bin), composer_(composer), hooks_(std::move(hooks)) {}
  ~MinusOneMixes();
  MinusOneMixes(const MinusOneMixes&) = delete;
  MinusOneMixes& operator=(const MinusOneMixes&) = delete;

  // `peer`'s decoded audio `track` (not a streaming thread of it): into the
  // full mix and every other participant's mix; own_mix: `peer` gets one.
  void add_voice(GstPad* track, const std::string& peer, bool own_mix);
  // After the track's EOS: out of every mix; its own mix goes.
  void remove_voice(GstPad* track);
  size_t mixes() const;

  struct Level;  // a voice's smoothed loudness, shared with its pad probe

 private:
  struct Voice {
    std::string peer;
    GstPad* track = nullptr;
    GstElement* tee = nullptr;
    GstPad* full = nullptr;                 // tee pad into the Composer
    std::map<std::string, GstPad*> into;    // mix owner → tee pad feeding that mix
    std::shared_ptr<Level> level;
    gulong probe = 0;
  };
  static GstPadProbeReturn on_buffer(GstPad*, GstPadProbeInfo*, gpointer);
  void measured();  // a Level changed: tell `loudest`, at most every 100 ms
  struct Mix {
    GstElement *silence = nullptr, *mixer = nullptr;
    std::map<std::string, GstPad*> inputs;  // voice peer → the mixer's request pad
  };
  void feed(Voice& v, const std::string& owner, Mix& m);  // mutex_ held
  void unfeed(Voice& v, const std::string& owner, Mix& m);  // mutex_ held

  GstBin* bin_;
  Composer& composer_;
  Hooks hooks_;
  mutable std::mutex mutex_;  // voices_, mixes_; never held while calling the hooks
  std::vector<std::unique_ptr<Voice>> voices_;
  std::map<std::string, Mix> mixes_;  // by owner
  std::atomic<gint64> last_loudest_us_{0};
};

}  // namespace rtcmesh::media
