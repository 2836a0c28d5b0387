#include "gst/media/minus_one.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/media/util.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

GstElement* add(GstBin* bin, const char* factory) {
  GstElement* e = make_element(factory);
  gst_bin_add(bin, e);
  return e;
}


}  // namespace

struct MinusOneMixes::Level {
  MinusOneMixes* owner;
  std::atomic<double> power{0};  // mean square, full scale 1, smoothed
};

// The mean square of S16 or F32 samples, smoothed over ~0.3 s of buffers.
GstPadProbeReturn MinusOneMixes::on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* level = static_cast<Level*>(data);
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (!caps) return GST_PAD_PROBE_OK;
  const char* format = gst_structure_get_string(gst_caps_get_structure(caps, 0), "format");
  bool s16 = format && g_str_equal(format, "S16LE"), f32 = format && g_str_equal(format, "F32LE");
  gst_caps_unref(caps);
  GstMapInfo map;
  if ((!s16 && !f32) || !gst_buffer_map(buf, &map, GST_MAP_READ)) return GST_PAD_PROBE_OK;
  double sum = 0;
  size_t n = s16 ? map.size / 2 : map.size / 4;
  for (size_t i = 0; i < n; i++) {
    double v = s16 ? reinterpret_cast<const gint16*>(map.data)[i] / 32768.0
                   : reinterpret_cast<const float*>(map.data)[i];
    sum += v * v;
  }
  gst_buffer_unmap(buf, &map);
  if (n) level->power = 0.8 * level->power + 0.2 * (sum / n);
  level->owner->measured();
  return GST_PAD_PROBE_OK;
}

void MinusOneMixes::measured() {
  gint64 now = g_get_monotonic_time(), last = last_loudest_us_;
  if (!hooks_.loudest || now - last < 100000 ||
      !last_loudest_us_.compare_exchange_strong(last, now))
    return;
  std::string loudest;
  double best = 1e-5;  // -50 dBFS
  {
    // Never wait here (a streaming thread) for a change in progress.
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock) return;
    for (auto& v : voices_)
      if (v->level->power > best) {
        best = v->level->power;
        loudest = v->peer;
      }
  }
  hooks_.loudest(loudest);
}

MinusOneMixes::~MinusOneMixes() {
  std::vector<GstPad*> tracks;
  {
    // Never wait here (a streaming thread) for a change in progress.
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock) return;
    for (auto& v : voices_) tracks.push_back(v->track);
  }
  for (GstPad* t : tracks) remove_voice(t);
}

void MinusOneMixes::feed(Voice& v, const std::string& owner, Mix& m) {
  GstPad* out = gst_element_request_pad_simple(v.tee, "src_%u");
  GstPad* in = gst_element_request_pad_simple(m.mixer, "sink_%u");
  if (gst_pad_link(out, in) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT(bin_, "cannot mix %s into %s's mix", v.peer.c_str(), owner.c_str());
  v.into[owner] = out;
  m.inputs[v.peer] = in;
}

void MinusOneMixes::unfeed(Voice& v, const std::string& owner, Mix& m) {
  GstPad* out = v.into[owner];
  GstPad* in = m.inputs[v.peer];
  gst_pad_unlink(out, in);
  gst_element_release_request_pad(v.tee, out);
  gst_element_release_request_pad(m.mixer, in);
  gst_object_unref(out);
  gst_object_unref(in);
  v.into.erase(owner);
  m.inputs.erase(v.peer);
}

void MinusOneMixes::add_voice(GstPad* track, const std::string& peer, bool own_mix) {
  auto v = std::make_unique<Voice>();
  v->peer = peer;
  v->track = track;
  v->tee = add(bin_, "tee");
  g_object_set(v->tee, "allow-not-linked", TRUE, nullptr);
  GstPad* own_src = nullptr;
  {
    std::lock_guard lock(mutex_);
    for (auto& [owner, m] : mixes_)
      if (owner != peer) feed(*v, owner, m);
    if (own_mix && !mixes_.count(peer)) {
      Mix& m = mixes_[peer];
      m.silence = add(bin_, "audiotestsrc");
      g_object_set(m.silence, "is-live", TRUE, "wave", 4 /* silence */, nullptr);
      m.mixer = add(bin_, "audiomixer");
      gst_element_link(m.silence, m.mixer);
      for (auto& other : voices_)
        if (other->peer != peer) feed(*other, peer, m);
      own_src = gst_element_get_static_pad(m.mixer, "src");
    }
  }
  v->level = std::make_shared<Level>();
  v->level->owner = this;
  GstPad* level_pad = gst_element_get_static_pad(v->tee, "sink");
  v->probe = gst_pad_add_probe(level_pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, v->level.get(),
                               nullptr);
  gst_object_unref(level_pad);
  v->full = gst_element_request_pad_simple(v->tee, "src_%u");
  composer_.add(v->full, Kind::kAudio);
  GstPad* tee_sink = gst_element_get_static_pad(v->tee, "sink");
  gst_pad_link(track, tee_sink);
  gst_object_unref(tee_sink);
  gst_element_sync_state_with_parent(v->tee);
  {
    std::lock_guard lock(mutex_);
    voices_.push_back(std::move(v));
  }
  if (own_src) {
    hooks_.mix_added(peer, own_src);
    std::lock_guard lock(mutex_);
    Mix& m = mixes_[peer];
    gst_element_sync_state_with_parent(m.mixer);
    gst_element_sync_state_with_parent(m.silence);
  }
  if (own_src) gst_object_unref(own_src);
}

void MinusOneMixes::remove_voice(GstPad* track) {
  std::unique_ptr<Voice> v;
  std::optional<Mix> own;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(voices_.begin(), voices_.end(),
                           [track](const auto& x) { return x->track == track; });
    if (it == voices_.end()) return;
    v = std::move(*it);
    voices_.erase(it);
    for (auto& [owner, m] : mixes_)
      if (v->into.count(owner)) unfeed(*v, owner, m);
    if (auto m = mixes_.find(v->peer); m != mixes_.end()) {
      for (auto& other : voices_)
        if (other->into.count(v->peer)) unfeed(*other, v->peer, m->second);
      own = std::move(m->second);
      mixes_.erase(m);
    }
  }
  composer_.remove(v->full);
  GstPad* level_pad = gst_element_get_static_pad(v->tee, "sink");
  gst_pad_remove_probe(level_pad, v->probe);
  gst_object_unref(level_pad);
  gst_element_release_request_pad(v->tee, v->full);
  gst_object_unref(v->full);
  GstPad* tee_sink = gst_element_get_static_pad(v->tee, "sink");
  gst_pad_unlink(track, tee_sink);
  gst_object_unref(tee_sink);
  remove_elements(bin_, {v->tee});
  if (own) {
    GstPad* src = gst_element_get_static_pad(own->mixer, "src");
    hooks_.mix_removed(v->peer, src);
    gst_object_unref(src);
    remove_elements(bin_, {own->silence, own->mixer});
  }
}

size_t MinusOneMixes::mixes() const {
  std::lock_guard lock(mutex_);
  return mixes_.size();
}

}  // namespace rtcmesh::media
