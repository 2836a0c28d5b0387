#include "signaling/rooms/store.h"

#include <algorithm>

namespace rtcmesh::sig {

std::vector<std::string> RoomRecord::ordered() const {
  std::vector<std::pair<uint64_t, std::string>> v;
  for (const auto& [id, p] : participants) v.emplace_back(p.seq, id);
  std::sort(v.begin(), v.end());
  std::vector<std::string> out;
  for (auto& [seq, id] : v) out.push_back(std::move(id));
  return out;
}

bool RoomRecord::taken(const std::string& peer) const {
  return participants.count(peer) || (sfu && sfu->publisher(peer));
}

RoomRecord* MemoryStore::find(const std::string& name) {
  auto it = rooms_.find(name);
  return it == rooms_.end() ? nullptr : it->second.get();
}

RoomRecord& MemoryStore::create(const std::string& name, RoomMode mode) {
  auto& room = rooms_[name];
  room = std::make_unique<RoomRecord>();
  room->name = name;
  room->mode = mode;
  room->serial = next_serial_++;
  return *room;
}

std::unique_ptr<RoomRecord> MemoryStore::take(const std::string& name) {
  auto it = rooms_.find(name);
  if (it == rooms_.end()) return nullptr;
  auto room = std::move(it->second);
  rooms_.erase(it);
  return room;
}

std::vector<RoomRecord*> MemoryStore::all() {
  std::vector<RoomRecord*> out;
  for (auto& [name, room] : rooms_) out.push_back(room.get());
  return out;
}

}  // namespace rtcmesh::sig
