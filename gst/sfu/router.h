// The SFU's Router (DESIGN §9): publisher tracks (Sources) → subscriber
// slots. It holds the forwarding graph explicitly: which slot of which
// subscriber connection each Source feeds, so a leaving publisher, a switch
// of source or a keyframe request touches exactly the slots concerned. The
// packets themselves go through each connection's ForwardingPath.
//
// Worker thread (the host's) only, but counters() (any thread). It does not
// own the paths: the sessions do, and detach a path here before destroying it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gst/sfu/forwarding_path.h"

namespace rtcmesh::sfu {

class Router {
 public:
  // A subscriber connection, known by `key`, with no slot yet (or the slots
  // it already has, fed by nothing).
  void attach(const std::string& key, ForwardingPath& path);
  // The connection's slots leave the graph; the caller destroys the path.
  void detach(const std::string& key);

  // Appends a slot to `key`'s connection, fed by `source` (may be null).
  // `caps`: the slot's RTP caps when the subscriber chose them (WHEP offer).
  // Throws std::runtime_error (the connection refused it).
  void add_slot(const std::string& key, media::Codec codec, Source* source,
                const GstCaps* caps = nullptr);
  // Slot `index` of `key` is fed by `source` from now on (nullptr: nothing);
  // `inactive` also makes its m-line inactive in the next offer.
  void switch_source(const std::string& key, size_t index, Source* source, bool inactive);
  // The publisher of `source` leaves: every slot it feeds is fed by nothing.
  void detach_source(Source* source);

  size_t slot_count(const std::string& key) const;
  Source* source(const std::string& key, size_t index) const;
  media::Codec codec(const std::string& key, size_t index) const;

  // Keyframes for every video slot of `key` that is fed (a subscriber that
  // connected, an answer that added tracks, a filled player slot): asked of
  // the sources, merged and rate-limited there. Unknown keys are ignored.
  void request_keyframes(const std::string& key);

  // Called when `source` begins feeding its first slot (fed) or stops
  // feeding its last one (rtcmcu encodes a codec of its composite only
  // while someone receives it). Worker thread, from the calls above.
  void set_fed_hook(std::function<void(Source* source, bool fed)> hook) {
    fed_hook_ = std::move(hook);
  }
  bool feeds(Source* source) const { return fed_by_.count(source) > 0; }

  struct Counters {
    guint64 attaches = 0;   // a source began feeding a slot
    guint64 detaches = 0;   // a source stopped feeding a slot
    guint64 switches = 0;   // a slot went from one source to another
    guint64 keyframe_requests = 0;  // asked of sources
  };
  Counters counters() const;

 private:
  struct Slot {
    media::Codec codec;
    Source* source = nullptr;
  };
  struct Subscriber {
    ForwardingPath* path = nullptr;
    std::vector<Slot> slots;
  };
  using SlotRef = std::pair<std::string, size_t>;  // (subscriber key, slot index)
  Subscriber& subscriber(const std::string& key);
  const Subscriber& subscriber(const std::string& key) const;
  // The graph's edges, both ways: slot → source in Slot, source → slots here.
  void link(const std::string& key, size_t index, Source* source);
  void unlink(const std::string& key, size_t index);

  std::map<std::string, Subscriber> subscribers_;
  std::map<Source*, std::set<SlotRef>> fed_by_;
  std::function<void(Source*, bool)> fed_hook_;
  std::atomic<guint64> attaches_{0}, detaches_{0}, switches_{0}, keyframe_requests_{0};
};

}  // namespace rtcmesh::sfu
