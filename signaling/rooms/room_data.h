// Data messages through a server room (SFU; docs/protocol.md, "Data in SFU
// rooms"): on a participant's data channels to the server every message is
// "<peer>\n<payload>", text or binary as sent. From a participant, <peer> is
// the destination ("" = everyone in the room, the hosting pipeline too); from
// the server, it is the sender. The server relays each message on the channel
// (reliable or not) it came on, so the receiver knows who sent it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "signaling/rooms/messages.h"

namespace rtcmesh::sig {

// The largest payload a room relays whoever sends it: the data channel limit
// (webrtcbin 1.22's a=max-message-size) less the longest peer id and '\n'.
constexpr size_t kMaxRoomDataPayload = 65535 - 65;

inline std::string wrap_room_data(std::string_view peer, std::string_view payload) {
  std::string out;
  out.reserve(peer.size() + 1 + payload.size());
  out.append(peer).push_back('\n');
  out.append(payload);
  return out;
}

struct RoomData {
  std::string peer, payload;
};

// nullopt when `message` has no '\n' or its peer is not a valid id (nor "").
inline std::optional<RoomData> unwrap_room_data(std::string_view message) {
  size_t nl = message.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view peer = message.substr(0, nl);
  if (!peer.empty() && !valid_peer_id(peer)) return std::nullopt;
  return RoomData{std::string(peer), std::string(message.substr(nl + 1))};
}

}  // namespace rtcmesh::sig
