#include "gst/sfu/router.h"

#include <stdexcept>

namespace rtcmesh::sfu {

void Router::attach(const std::string& key, ForwardingPath& path) {
  Subscriber& s = subscribers_[key];
  s.path = &path;
}

void Router::detach(const std::string& key) {
  auto it = subscribers_.find(key);
  if (it == subscribers_.end()) return;
  for (size_t i = 0; i < it->second.slots.size(); i++) unlink(key, i);
  subscribers_.erase(it);
}

void Router::add_slot(const std::string& key, media::Codec codec, Source* source,
                      const GstCaps* caps) {
  Subscriber& s = subscriber(key);
  s.path->add_slot(codec, source, caps);
  s.slots.push_back({codec, nullptr});
  if (source) link(key, s.slots.size() - 1, source);
}

void Router::switch_source(const std::string& key, size_t index, Source* source, bool inactive) {
  Subscriber& s = subscriber(key);
  Slot& slot = s.slots.at(index);
  if (slot.source != source) {
    bool was_fed = slot.source != nullptr;
    s.path->feed(index, source);
    unlink(key, index);
    if (source) {
      link(key, index, source);
      if (was_fed) switches_++;
    }
  }
  s.path->set_sending(index, !inactive);
}

void Router::detach_source(Source* source) {
  auto it = fed_by_.find(source);
  if (it == fed_by_.end()) return;
  std::set<SlotRef> slots = it->second;
  for (const auto& [key, index] : slots) {
    subscriber(key).path->feed(index, nullptr);
    unlink(key, index);
  }
}

size_t Router::slot_count(const std::string& key) const {
  return subscriber(key).slots.size();
}

Source* Router::source(const std::string& key, size_t index) const {
  return subscriber(key).slots.at(index).source;
}

media::Codec Router::codec(const std::string& key, size_t index) const {
  return subscriber(key).slots.at(index).codec;
}

void Router::request_keyframes(const std::string& key) {
  auto it = subscribers_.find(key);
  if (it == subscribers_.end()) return;  // a connection event after it left
  for (const Slot& slot : it->second.slots)
    if (slot.source && slot.source->kind() == media::Kind::kVideo) {
      slot.source->request_keyframe();
      keyframe_requests_++;
    }
}

Router::Counters Router::counters() const {
  return {attaches_.load(), detaches_.load(), switches_.load(), keyframe_requests_.load()};
}

Router::Subscriber& Router::subscriber(const std::string& key) {
  auto it = subscribers_.find(key);
  if (it == subscribers_.end()) throw std::logic_error("no subscriber " + key + " in the router");
  return it->second;
}

const Router::Subscriber& Router::subscriber(const std::string& key) const {
  auto it = subscribers_.find(key);
  if (it == subscribers_.end()) throw std::logic_error("no subscriber " + key + " in the router");
  return it->second;
}

void Router::link(const std::string& key, size_t index, Source* source) {
  subscriber(key).slots.at(index).source = source;
  std::set<SlotRef>& slots = fed_by_[source];
  bool first = slots.empty();
  slots.insert({key, index});
  attaches_++;
  if (first && fed_hook_) fed_hook_(source, true);
}

void Router::unlink(const std::string& key, size_t index) {
  Slot& slot = subscriber(key).slots.at(index);
  if (!slot.source) return;
  auto it = fed_by_.find(slot.source);
  if (it != fed_by_.end()) {
    it->second.erase({key, index});
    if (it->second.empty()) fed_by_.erase(it);
  }
  Source* was = slot.source;
  slot.source = nullptr;
  detaches_++;
  if (!feeds(was) && fed_hook_) fed_hook_(was, false);
}

}  // namespace rtcmesh::sfu
