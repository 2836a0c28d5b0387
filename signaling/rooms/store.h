// The room store seam: the state of rooms that outlives a call: each room's
// mode, its participants in join order and, in SFU rooms, its publishers and
// their tracks (SfuRoom). In memory today (MemoryStore); a cluster keeps it in
// Redis. Node-local state (connections, deferred replies, media attachments)
// stays with the service and its mode controllers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signaling/rooms/messages.h"
#include "signaling/rooms/sfu_room.h"

namespace rtcmesh::sig {

struct Participant {
  ConnId conn = 0;   // where its notes go
  uint64_t seq = 0;  // join order across the service: a later joiner has a larger seq
  bool audio_muted = false, video_muted = false;  // as it said with `mute`
};

struct RoomRecord {
  std::string name;
  RoomMode mode = RoomMode::kMesh;
  bool persistent = false;  // made by create_room: stays when empty
  uint64_t serial = 0;      // tells a room from an older one of the same name
  std::map<std::string, Participant> participants;
  std::unique_ptr<SfuRoom> sfu;  // set while an SFU hosts the room

  std::vector<std::string> ordered() const;  // participant ids, join order
  // A participant or any publisher has that id.
  bool taken(const std::string& peer) const;
};

class RoomStore {
 public:
  virtual ~RoomStore() = default;
  virtual RoomRecord* find(const std::string& name) = 0;
  const RoomRecord* find(const std::string& name) const {
    return const_cast<RoomStore*>(this)->find(name);
  }
  // A new room of that name (there is none), with a fresh serial.
  virtual RoomRecord& create(const std::string& name, RoomMode mode) = 0;
  // The room leaves the store; null when unknown.
  virtual std::unique_ptr<RoomRecord> take(const std::string& name) = 0;
  virtual size_t size() const = 0;
  virtual std::vector<RoomRecord*> all() = 0;  // by name
  std::vector<const RoomRecord*> all() const {
    auto rooms = const_cast<RoomStore*>(this)->all();
    return {rooms.begin(), rooms.end()};
  }
};

class MemoryStore : public RoomStore {
 public:
  RoomRecord* find(const std::string& name) override;
  using RoomStore::find;
  RoomRecord& create(const std::string& name, RoomMode mode) override;
  std::unique_ptr<RoomRecord> take(const std::string& name) override;
  size_t size() const override { return rooms_.size(); }
  std::vector<RoomRecord*> all() override;
  using RoomStore::all;

 private:
  std::map<std::string, std::unique_ptr<RoomRecord>> rooms_;
  uint64_t next_serial_ = 1;
};

}  // namespace rtcmesh::sig
