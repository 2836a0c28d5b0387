#include "gst/server/admission.h"

namespace rtcmesh::server {

std::string refusal(const AdmissionLimits& limits, const Load& load, const std::string& room,
                    const std::string& id) {
  auto limit = [](size_t n, const std::string& what) {
    return "at the limit of " + std::to_string(n) + " " + what + "; try again later";
  };
  if (limits.max_sessions && load.sessions >= limits.max_sessions)
    return limit(limits.max_sessions, "sessions per server");
  if (!load.rooms_in_use.count(room) && load.rooms_in_use.size() >= limits.max_rooms)
    return limit(limits.max_rooms, "rooms");
  if (id.empty())
    return limits.max_subscribers && load.room_subscribers >= limits.max_subscribers
               ? limit(limits.max_subscribers, "players in room '" + room + "'")
               : "";
  if (limits.max_publishers && load.room_publishers >= limits.max_publishers)
    return limit(limits.max_publishers, "publishers in room '" + room + "'");
  // A WHIP publisher is a participant of its room like a joined peer.
  if (!load.participants.count(id) && load.participants.size() >= limits.max_peers_per_room)
    return limit(limits.max_peers_per_room, "participants in room '" + room + "'");
  return "";
}

}  // namespace rtcmesh::server
