#include "gst/sfu/subscribers.h"

#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "signaling/rooms/room_data.h"

#define GST_CAT_DEFAULT rtcmesh_debug

namespace rtcmesh::sfu {

using server::session_key;

Subscribers::Subscribers(GstElement* element, server::Ingest& ingest,
                         server::RoomMetrics& metrics, Hooks hooks)
    : element_(element), ingest_(ingest), metrics_(metrics), hooks_(std::move(hooks)) {}

void Subscribers::start(server::Host& host, PathFactory paths) {
  host_ = &host;
  paths_ = std::move(paths);
}

void Subscribers::stop() {
  std::vector<std::string> keys;
  for (auto& [k, s] : subscribers_) keys.push_back(k);
  for (auto& k : keys) remove(k, "element stopping", false);
  host_ = nullptr;
  paths_ = nullptr;
}

std::unique_ptr<Subscriber> Subscribers::make(const std::string& room, const std::string& id,
                                              const std::string& key, const std::string& name) {
  ForwardingPath::Events events;
  events.failed = [this, key, room](const std::string& why) {
    hooks_.post([this, key, room, why] {
      metrics_.count_failure(room);
      remove(key, why, true);
    });
  };
  events.connected = [this, key] {
    Subscriber* s = find(key);
    if (!s) return;
    s->connect_deadline.reset();
    GST_INFO_OBJECT(element_, "subscriber %s connected after %.0f ms", key.c_str(),
                    (g_get_monotonic_time() - s->created_us) / 1000.0);
    // Keyframe on join: the subscriber's decoders cannot start without one.
    router_.request_keyframes(key);
  };
  events.data = [this, room, id](const peer::DataMessage& m) {
    if (hooks_.data) hooks_.data(room, id, m);
  };
  auto s = std::make_unique<Subscriber>();
  s->room = room;
  s->id = id;
  // A path over the participant's own connection gets that connection's
  // events from its owner (it is connected already).
  if (hooks_.own_path) s->path = hooks_.own_path(room, id);
  if (!s->path) s->path = paths_(room, name, std::move(events));
  router_.attach(key, *s->path);
  return s;
}

Subscriber& Subscribers::add(const std::string& key, std::unique_ptr<Subscriber> subscriber) {
  Subscriber& s = *subscriber;
  {
    std::lock_guard lock(mutex_);
    subscribers_[key] = std::move(subscriber);
  }
  metrics_.count_subscriber(s.room);
  return s;
}

void Subscribers::discard(const std::string& key, std::unique_ptr<Subscriber> subscriber) {
  router_.detach(key);
  subscriber.reset();
}

void Subscribers::remove(const std::string& key, const std::string& why, bool tell_room) {
  std::unique_ptr<Subscriber> s;
  {
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(key);
    if (it == subscribers_.end()) return;
    s = std::move(it->second);
    subscribers_.erase(it);
  }
  GST_INFO_OBJECT(element_, "subscriber %s removed: %s", key.c_str(), why.c_str());
  if (s->whep && host_) host_->remove_resource(s->id);
  if (!s->whep && tell_room && host_) host_->rooms().media_failed(s->room, s->id, "subscribe", why);
  s->connect_deadline.reset();
  guint64 rtx = s->path->retransmissions();
  StructurePtr totals = server::rtp_totals(s->path->stats().get());
  metrics_.change(s->room)->add_subscriber(totals.get(), rtx);
  router_.detach(key);
  s->path.reset();  // the connection stops, then its slots stop being fed
  hooks_.removed(*s, why);
}

Timer Subscribers::connect_deadline(const std::string& key, guint ms) {
  return host_->worker().timeout(ms, [this, key] {
    remove(key, "ICE did not connect in time", true);
    return false;
  });
}

Subscriber* Subscribers::find(const std::string& key) {
  auto it = subscribers_.find(key);
  return it == subscribers_.end() ? nullptr : it->second.get();
}

// --- JSON-RPC subscribers: the server offers what SfuRoom chose ---

void Subscribers::offer(const std::string& room, const sig::SfuOffer& o,
                        std::function<void(const std::string&, const std::string&)> done) {
  const std::string key = session_key(room, o.subscriber);
  Subscriber* s = find(key);
  try {
    if (!s || o.rebuild || s->session != o.session) {
      if (s) remove(key, "connection rebuilt", false);
      auto made = make(room, o.subscriber, key,
                       "sub-" + room + "-" + o.subscriber + "-" + std::to_string(o.session));
      made->session = o.session;
      // The participant's data channels to the room ride this connection.
      made->path->enable_data_channels();
      s = &add(key, std::move(made));
    }
    for (size_t i = 0; i < o.slots.size(); i++) {
      const sig::SfuSlot& slot = o.slots[i];
      Source* src = slot.active() ? ingest_.find_source(room, slot.publisher, slot.track) : nullptr;
      // An unused slot stays sendonly, without media: webrtcbin 1.22 cannot
      // make an inactive m-line active again when the slot is reused.
      if (i < router_.slot_count(key)) {
        router_.switch_source(key, i, src, false);
      } else {
        auto codec = media::codec_from_name(slot.codec);
        if (!codec) throw std::runtime_error("unknown codec " + slot.codec);
        router_.add_slot(key, *codec, src);
      }
    }
  } catch (const std::exception& e) {
    std::string why = e.what();
    return hooks_.post([done, why] { done({}, why); });
  }
  s->path->make_offer(
      [done](const std::string& sdp, const std::string& error) { done(sdp, error); });
}

void Subscribers::answer(const std::string& room, const std::string& peer, const std::string& sdp,
                         std::function<void(const std::string&)> done) {
  const std::string key = session_key(room, peer);
  Subscriber* s = find(key);
  if (!s) return hooks_.post([done] { done("no subscription to answer"); });
  s->path->accept_answer(sdp, [this, key, done](const std::string& error) {
    done(error);
    Subscriber* s = find(key);
    // New tracks need a keyframe to start (a connected subscriber gets it
    // now; a new one when it connects).
    if (error.empty() && s && s->path->is_connected()) router_.request_keyframes(key);
  });
}

void Subscribers::add_remote_candidate(const std::string& room, const std::string& peer,
                                       int mline, const std::string& candidate) {
  if (Subscriber* s = find(session_key(room, peer)))
    s->path->add_remote_candidate(mline, candidate);
}

void Subscribers::unsubscribe(const std::string& room, const std::string& peer) {
  remove(session_key(room, peer), "unsubscribed", false);
}

size_t Subscribers::send_data(const std::string& room, const std::string& from,
                              const std::string& to, const std::string& payload, bool text,
                              bool reliable) {
  const std::string message = sig::wrap_room_data(from, payload);
  size_t taken = 0;
  for (auto& [key, s] : subscribers_) {
    if (s->whep || s->id == from || (!room.empty() && s->room != room)) continue;
    if (!to.empty() && s->id != to) continue;
    if (s->path->send_data(message, text, reliable)) taken++;
  }
  return taken;
}

// --- WHEP resources ---

bool Subscribers::trickle(const std::string& resource,
                          const std::vector<sig::TrickleCandidate>& candidates) {
  Subscriber* s = find(resource);
  if (!s) return false;
  for (const auto& c : candidates)
    if (c.mline_index >= 0) s->path->add_remote_candidate(c.mline_index, c.candidate);
  return true;
}

bool Subscribers::remove_resource(const std::string& resource, const std::string& why) {
  if (!find(resource)) return false;
  remove(resource, why, false);
  return true;
}

// --- load, stats, metrics ---

void Subscribers::add_load(const std::string& room, server::Load& load) {
  load.sessions += subscribers_.size();
  for (auto& [k, s] : subscribers_) {
    load.rooms_in_use.insert(s->room);
    load.room_subscribers += s->room == room;
  }
}

std::string Subscribers::key_of_sender(GstMessage* message) {
  std::lock_guard lock(mutex_);
  std::string key;
  for (auto& [k, s] : subscribers_)
    if (s->path->posted(message)) key = k;
  return key;
}

void Subscribers::append_stats(GValue* list) {
  std::lock_guard lock(mutex_);
  for (auto& [k, sub] : subscribers_) {
    GstStructure* s = gst_structure_new(
        "subscriber", "room", G_TYPE_STRING, sub->room.c_str(), "id", G_TYPE_STRING,
        sub->id.c_str(), "whep", G_TYPE_BOOLEAN, sub->whep, "slots", G_TYPE_UINT,
        guint(sub->path->slot_count()), "session", G_TYPE_UINT64, sub->session, "connected",
        G_TYPE_BOOLEAN, sub->path->is_connected(), nullptr);
    add_rtp_totals(s, sub->path->stats().get());
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&v, s);
    gst_value_list_append_and_take_value(list, &v);
  }
}

size_t Subscribers::size() {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

void Subscribers::add_counters(server::RoomCountersByName& rooms) {
  std::vector<std::pair<std::string, ForwardingPath*>> paths;
  {
    std::lock_guard lock(mutex_);
    for (auto& [k, s] : subscribers_) {
      rooms[s->room].add_subscriber(server::rtp_totals(s->path->stats().get()).get(), 0);
      paths.emplace_back(s->room, s->path.get());
    }
  }
  // Reading retransmissions walks a webrtcbin, taking its locks: not under
  // ours. The paths live on: only this (the worker) thread removes them.
  for (auto& [room, path] : paths) rooms[room].retransmissions += path->retransmissions();
}

void Subscribers::add_rooms(std::set<std::string>& rooms) {
  std::lock_guard lock(mutex_);
  for (auto& [k, s] : subscribers_) rooms.insert(s->room);
}

}  // namespace rtcmesh::sfu
