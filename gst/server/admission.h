// Admission control of a room host: whether one more remote connection fits.
// Each remote connection is a webrtcbin (~8 threads, ~1 MB): without a cap a
// burst of offers takes the machine (200 WHIP offers in 5 s: 1600 threads).
#pragma once

#include <cstddef>
#include <set>
#include <string>

namespace rtcmesh::server {

struct AdmissionLimits {
  unsigned max_sessions = 0;     // remote connections of the element; 0 = unlimited
  unsigned max_publishers = 0;   // per room; 0 = unlimited
  unsigned max_subscribers = 0;  // per room; 0 = unlimited
  unsigned max_rooms = 0;        // the room server's (rooms in use, with this one)
  unsigned max_peers_per_room = 0;
};

// What the host carries now, as seen for one room.
struct Load {
  size_t sessions = 0;  // remote connections
  std::set<std::string> rooms_in_use;
  size_t room_publishers = 0, room_subscribers = 0;
  std::set<std::string> participants;  // of the room: joined peers and publishers
};

// Why a new remote connection to `room` (a publisher `id`, or a player when
// `id` is empty) is refused, or "" to take it.
std::string refusal(const AdmissionLimits& limits, const Load& load, const std::string& room,
                    const std::string& id);

}  // namespace rtcmesh::server
