#include "gst/media/minus_one.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "gst/common/debug.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

GstElement* add(GstBin* bin, const char* factory) {
  GstElement* e = gst_element_factory_make(factory, nullptr);
  if (!e) throw std::runtime_error(std::string(factory) + " is missing");
  gst_bin_add(bin, e);
  return e;
}

void drop(GstBin* bin, GstElement* e) {
  gst_element_set_state(e, GST_STATE_NULL);
  gst_bin_remove(bin, e);
}

}  // namespace

MinusOneMixes::~MinusOneMixes() {
  std::vector<GstPad*> tracks;
  {
    std::lock_guard lock(mutex_);
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
  gst_element_release_request_pad(v->tee, v->full);
  gst_object_unref(v->full);
  GstPad* tee_sink = gst_element_get_static_pad(v->tee, "sink");
  gst_pad_unlink(track, tee_sink);
  gst_object_unref(tee_sink);
  drop(bin_, v->tee);
  if (own) {
    GstPad* src = gst_element_get_static_pad(own->mixer, "src");
    hooks_.mix_removed(v->peer, src);
    gst_object_unref(src);
    drop(bin_, own->silence);
    drop(bin_, own->mixer);
  }
}

size_t MinusOneMixes::mixes() const {
  std::lock_guard lock(mutex_);
  return mixes_.size();
}

}  // namespace rtcmesh::media
