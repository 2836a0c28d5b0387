#include "signaling/rooms/sfu_room.h"

#include <algorithm>

#include "signaling/rpc/jsonrpc.h"
#include "signaling/util.h"

namespace rtcmesh::sig {

namespace {

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

// -32004 when the id is taken, -32002 when `count` reached `limit` (0: none).
void check_room_for(const std::string& id, bool taken, const char* what, size_t count,
                    unsigned limit) {
  if (taken)
    throw SfuError(rpc::kDuplicatePeer, quoted(id) + " is already " + what,
                   Json::object({{"peer", id}}));
  if (limit && count >= limit)
    throw SfuError(rpc::kRoomFull,
                   "the room has " + std::to_string(limit) + " " + what + " peers, the limit",
                   Json::object({{"limit", limit}}));
}

}  // namespace

SfuRoom::SfuRoom(Limits limits) : limits_(limits) {}

void SfuRoom::add_publisher(const std::string& id, std::vector<SfuTrack> tracks) {
  check_room_for(id, publisher(id), "publishing", publishers_.size(), limits_.max_publishers);
  for (size_t i = 0; i < tracks.size(); ++i) {
    tracks[i].codec = to_upper(tracks[i].codec);
    for (size_t j = 0; j < i; ++j)
      if (tracks[j].id == tracks[i].id)
        throw SfuError(rpc::kInvalidParams,
                       "two tracks of " + quoted(id) + " have the id " + quoted(tracks[i].id));
  }
  publishers_.push_back({id, std::move(tracks)});
}

bool SfuRoom::set_tracks(const std::string& id, std::vector<SfuTrack> tracks) {
  auto it = std::find_if(publishers_.begin(), publishers_.end(),
                         [&](const SfuPublisher& p) { return p.id == id; });
  if (it == publishers_.end()) return false;
  for (SfuTrack& t : tracks) t.codec = to_upper(t.codec);
  it->tracks = std::move(tracks);
  return true;
}

bool SfuRoom::remove_publisher(const std::string& id) {
  auto it = std::find_if(publishers_.begin(), publishers_.end(),
                         [&](const SfuPublisher& p) { return p.id == id; });
  if (it == publishers_.end()) return false;
  publishers_.erase(it);
  // A later publisher with this id is news again.
  for (Subscriber& s : subscribers_)
    std::erase_if(s.reported, [&](const auto& key) { return key.first == id; });
  return true;
}

void SfuRoom::add_subscriber(const std::string& id, std::vector<std::string> codecs) {
  check_room_for(id, find_subscriber(id), "subscribed", subscribers_.size(),
                 limits_.max_subscribers);
  Subscriber s;
  s.id = id;
  for (std::string& c : codecs) {
    c = to_upper(c);
    if (std::find(s.codecs.begin(), s.codecs.end(), c) == s.codecs.end())
      s.codecs.push_back(std::move(c));
  }
  subscribers_.push_back(std::move(s));
}

bool SfuRoom::remove_subscriber(const std::string& id) {
  return std::erase_if(subscribers_, [&](const Subscriber& s) { return s.id == id; }) > 0;
}

bool SfuRoom::accepts(const Subscriber& s, const std::string& codec) const {
  return s.codecs.empty() || std::find(s.codecs.begin(), s.codecs.end(), codec) != s.codecs.end();
}

std::vector<std::pair<const SfuPublisher*, const SfuTrack*>> SfuRoom::wanted(
    const Subscriber& s) const {
  std::vector<std::pair<const SfuPublisher*, const SfuTrack*>> out;
  for (const SfuPublisher& p : publishers_) {
    if (p.id == s.id) continue;  // never your own media
    if (!limits_.output_publisher.empty()) {
      if (p.id == limits_.output_publisher) out = output_tracks(s, p);
      continue;
    }
    for (const SfuTrack& t : p.tracks)
      if (accepts(s, t.codec)) out.emplace_back(&p, &t);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return (a.second->kind == "audio") > (b.second->kind == "audio");
  });
  // More than fit in one connection: the first ones; the others come when
  // some of those leave.
  if (limits_.max_mlines && out.size() > limits_.max_mlines) out.resize(limits_.max_mlines);
  return out;
}

std::vector<std::pair<const SfuPublisher*, const SfuTrack*>> SfuRoom::output_tracks(
    const Subscriber& s, const SfuPublisher& p) const {
  std::vector<std::pair<const SfuPublisher*, const SfuTrack*>> out;
  // A participant that publishes audio never gets the full mix (its own
  // voice would echo back): only its minus-one mix, once the host has it.
  const SfuPublisher* self = publisher(s.id);
  bool speaks = self && std::any_of(self->tracks.begin(), self->tracks.end(),
                                    [](const SfuTrack& t) { return t.kind == "audio"; });
  for (const char* kind : {"audio", "video"}) {
    const SfuTrack* pick = nullptr;
    for (const SfuTrack& t : p.tracks)
      if (t.kind == kind && t.for_peer == s.id && accepts(s, t.codec)) pick = &t;
    bool shared_ok = !(speaks && std::string(kind) == "audio");
    for (const SfuTrack& t : p.tracks)
      if (!pick && shared_ok && t.kind == kind && t.for_peer.empty() && accepts(s, t.codec))
        pick = &t;
    if (pick) out.emplace_back(&p, pick);
  }
  return out;
}

std::vector<SfuOffer> SfuRoom::take_offers() {
  std::vector<SfuOffer> offers;
  for (Subscriber& s : subscribers_) {
    if (s.in_flight) continue;
    auto want = wanted(s);
    std::set<std::pair<std::string, std::string>> want_keys, have_keys;
    for (const auto& [p, t] : want) want_keys.emplace(p->id, t->id);
    for (const SfuSlot& slot : s.current)
      if (slot.active()) have_keys.emplace(slot.publisher, slot.track);
    if (want_keys == have_keys && !s.retry) continue;
    s.retry = false;
    if (!s.connected && want.empty()) continue;  // nothing to carry yet

    bool rebuild = !s.connected;
    std::vector<SfuSlot> slots;
    if (!rebuild) {
      slots = s.current;
      for (SfuSlot& slot : slots)
        if (slot.active() && !want_keys.count({slot.publisher, slot.track})) {
          slot.publisher.clear();
          slot.track.clear();
        }
      for (const auto& [p, t] : want) {
        if (have_keys.count({p->id, t->id})) continue;
        auto reuse = std::find_if(slots.begin(), slots.end(), [&, t = t](const SfuSlot& slot) {
          return !slot.active() && slot.kind == t->kind && slot.codec == t->codec;
        });
        if (reuse != slots.end()) {
          reuse->publisher = p->id;
          reuse->track = t->id;
        } else if (limits_.max_mlines && slots.size() >= limits_.max_mlines) {
          rebuild = true;
          break;
        } else {
          slots.push_back({static_cast<unsigned>(slots.size()), t->kind, t->codec, p->id, t->id});
        }
      }
    }
    if (rebuild) {
      slots.clear();
      for (const auto& [p, t] : want)
        slots.push_back({static_cast<unsigned>(slots.size()), t->kind, t->codec, p->id, t->id});
      ++s.session;
    }
    SfuOffer offer;
    offer.subscriber = s.id;
    offer.session = s.session;
    offer.negotiation = next_negotiation_++;
    offer.rebuild = rebuild;
    offer.slots = slots;
    s.current = std::move(slots);
    s.in_flight = offer.negotiation;
    s.in_flight_rebuild = rebuild;
    offers.push_back(std::move(offer));
  }
  return offers;
}

bool SfuRoom::negotiation_done(const std::string& subscriber, uint64_t negotiation, bool ok) {
  Subscriber* s = find_subscriber(subscriber);
  if (!s || s->in_flight != negotiation) return false;
  s->in_flight.reset();
  if (ok) {
    s->answered = s->current;
    s->connected = true;
    return true;
  }
  // The next offer is on a new connection: the old one may be in a state its
  // webrtcbin cannot leave (1.22 refuses some renegotiations for good), and a
  // failed rebuild has already replaced it anyway.
  s->connected = false;
  s->answered.clear();
  s->current = s->answered;
  s->retry = true;
  return true;
}

std::vector<SfuMismatch> SfuRoom::take_mismatches() {
  std::vector<SfuMismatch> out;
  for (Subscriber& s : subscribers_) {
    for (const SfuPublisher& p : publishers_) {
      if (p.id == s.id) continue;
      // MCU: the mixed publishers are never forwarded, so no codec misses them.
      if (!limits_.output_publisher.empty() && p.id != limits_.output_publisher) continue;
      for (const SfuTrack& t : p.tracks)
        if (!accepts(s, t.codec) && s.reported.emplace(p.id, t.id).second)
          out.push_back({s.id, p.id, t.id, t.codec, s.codecs});
    }
  }
  return out;
}

const SfuPublisher* SfuRoom::publisher(const std::string& id) const {
  for (const SfuPublisher& p : publishers_)
    if (p.id == id) return &p;
  return nullptr;
}

std::vector<std::string> SfuRoom::subscribers() const {
  std::vector<std::string> out;
  for (const Subscriber& s : subscribers_) out.push_back(s.id);
  return out;
}

bool SfuRoom::subscribed(const std::string& id) const {
  return find_subscriber(id) != nullptr;
}

std::vector<SfuSlot> SfuRoom::slots(const std::string& subscriber) const {
  const Subscriber* s = find_subscriber(subscriber);
  return s ? s->current : std::vector<SfuSlot>{};
}

std::optional<uint64_t> SfuRoom::in_flight(const std::string& subscriber) const {
  const Subscriber* s = find_subscriber(subscriber);
  return s ? s->in_flight : std::nullopt;
}

SfuRoom::Subscriber* SfuRoom::find_subscriber(const std::string& id) {
  for (Subscriber& s : subscribers_)
    if (s.id == id) return &s;
  return nullptr;
}

const SfuRoom::Subscriber* SfuRoom::find_subscriber(const std::string& id) const {
  for (const Subscriber& s : subscribers_)
    if (s.id == id) return &s;
  return nullptr;
}

// --- WHEP players ---

namespace {

bool carries(const std::vector<SfuSlot>& slots, const std::string& publisher,
             const std::string& track) {
  for (const SfuSlot& s : slots)
    if (s.publisher == publisher && s.track == track) return true;
  return false;
}

bool carries_kind(const std::vector<SfuSlot>& slots, const std::string& kind) {
  for (const SfuSlot& s : slots)
    if (s.kind == kind && s.active()) return true;
  return false;
}

}  // namespace

std::vector<SfuSlot> SfuPlayers::add(const std::string& player, const std::string& room,
                                     const std::string& publisher,
                                     const std::vector<PlayerMline>& offer,
                                     const std::vector<SfuPublisher>& publishers,
                                     bool one_per_kind) {
  std::vector<SfuSlot> slots;
  bool any_track = false;
  for (size_t i = 0; i < offer.size(); ++i) {
    const PlayerMline& m = offer[i];
    if ((m.kind != "audio" && m.kind != "video") || m.codecs.empty()) continue;
    SfuSlot slot{static_cast<unsigned>(i), m.kind, to_upper(m.codecs.front()), {}, {}};
    bool has_kind = one_per_kind && carries_kind(slots, m.kind);
    for (const SfuPublisher& p : publishers) {
      if (slot.active() || has_kind) break;
      if (!publisher.empty() && p.id != publisher) continue;
      for (const SfuTrack& t : p.tracks) {
        std::string codec = to_upper(t.codec);
        bool received = std::any_of(m.codecs.begin(), m.codecs.end(),
                                    [&](const std::string& c) { return to_upper(c) == codec; });
        if (t.kind == m.kind && received && !carries(slots, p.id, t.id)) {
          slot.codec = codec;
          slot.publisher = p.id;
          slot.track = t.id;
          break;
        }
      }
    }
    any_track = any_track || slot.active();
    slots.push_back(std::move(slot));
  }
  if (slots.empty()) throw SfuError(rpc::kNoCommonCodec, "the offer receives no codec we forward");
  if (!publisher.empty() && !any_track)
    throw SfuError(rpc::kNoCommonCodec,
                   "the offer takes none of publisher '" + publisher + "''s codecs");
  players_[player] = {room, publisher, slots, one_per_kind};
  return slots;
}

void SfuPlayers::remove(const std::string& player) {
  players_.erase(player);
}

std::vector<std::string> SfuPlayers::publisher_left(const std::string& room,
                                                    const std::string& publisher) {
  std::vector<std::string> theirs;
  for (auto& [id, p] : players_) {
    if (p.room != room) continue;
    if (p.publisher == publisher) theirs.push_back(id);
    for (SfuSlot& s : p.slots)
      if (s.publisher == publisher) {
        s.publisher.clear();
        s.track.clear();
      }
  }
  return theirs;
}

std::vector<SfuPlayers::Fill> SfuPlayers::fill(const std::string& room,
                                               const std::vector<SfuPublisher>& publishers) {
  std::vector<Fill> out;
  for (auto& [id, p] : players_) {
    // A player of one publisher has its other slots answered inactive, and
    // webrtcbin blocks data pushed into those.
    if (p.room != room || !p.publisher.empty()) continue;
    for (size_t i = 0; i < p.slots.size(); ++i) {
      SfuSlot& slot = p.slots[i];
      if (p.one_per_kind && carries_kind(p.slots, slot.kind)) continue;
      for (const SfuPublisher& pub : publishers) {
        if (slot.active()) break;
        for (const SfuTrack& t : pub.tracks)
          if (to_upper(t.codec) == slot.codec && !carries(p.slots, pub.id, t.id)) {
            slot.publisher = pub.id;
            slot.track = t.id;
            out.push_back({id, i, pub.id, t.id});
            break;
          }
      }
    }
  }
  return out;
}

std::vector<SfuSlot> SfuPlayers::slots(const std::string& player) const {
  auto it = players_.find(player);
  return it == players_.end() ? std::vector<SfuSlot>{} : it->second.slots;
}

}  // namespace rtcmesh::sig
