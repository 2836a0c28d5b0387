#include "signaling/rooms/messages.h"

#include "signaling/util.h"

namespace rtcmesh::sig {

namespace {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const char* to_string(RoomMode mode) {
  switch (mode) {
    case RoomMode::kMesh:
      return "mesh";
    case RoomMode::kSfu:
      return "sfu";
    case RoomMode::kMcu:
      return "mcu";
    case RoomMode::kProcess:
      return "process";
  }
  return "mesh";
}

std::optional<RoomMode> parse_room_mode(std::string_view name) {
  if (iequals(name, "mesh")) return RoomMode::kMesh;
  if (iequals(name, "sfu")) return RoomMode::kSfu;
  if (iequals(name, "mcu")) return RoomMode::kMcu;
  if (iequals(name, "process")) return RoomMode::kProcess;
  return std::nullopt;
}

bool valid_room_name(std::string_view name) {
  return valid_name(name);
}

bool valid_peer_id(std::string_view id) {
  return valid_name(id);
}

}  // namespace rtcmesh::sig
