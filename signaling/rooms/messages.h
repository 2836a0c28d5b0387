// Typed messages of the room protocol (docs/protocol.md): one struct per
// request, result and notification. Front ends (JSON-RPC today, gRPC and the
// data channel later) translate their wire format to and from these; the room
// service only sees these. Presence and type of members are the front end's
// check; what the values mean (names, SDP, who may offer) is the service's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "signaling/http/ice_servers.h"
#include "signaling/json.h"
#include "signaling/rooms/sfu_room.h"
#include "signaling/rpc/errors.h"

namespace rtcmesh::sig {

enum class RoomMode { kMesh, kSfu, kMcu };
const char* to_string(RoomMode mode);  // "mesh", "sfu", "mcu"
std::optional<RoomMode> parse_room_mode(std::string_view name);

// Room names and peer ids: 1-64 characters of [A-Za-z0-9._~-].
bool valid_room_name(std::string_view name);
bool valid_peer_id(std::string_view id);

// One client connection, numbered by its front end (never reused while open).
using ConnId = uint64_t;

namespace msg {

// --- requests ---
struct Join {
  std::string room;
  std::optional<std::string> peer;  // unset: the server picks one
  std::optional<std::string> token;
};
struct Leave {};
struct List {
  std::optional<std::string> room;  // set: only that room, with its peers
  std::optional<std::string> token;
};
struct Ping {};
// offer/answer/candidate: with `to` the mesh relay, without it (SFU rooms)
// the participant's own connections with the server.
struct Offer {
  std::optional<std::string> to;
  std::string sdp;
  Json negotiation_id;  // null = none; relayed as is (mesh), the offer's integer (SFU)
};
struct Answer {
  std::optional<std::string> to;
  std::string sdp;
  Json negotiation_id;
};
struct Candidate {
  std::optional<std::string> to;
  std::string candidate;  // empty = end of candidates
  std::optional<std::string> mid;
  std::optional<int64_t> mline_index;
  std::optional<std::string> connection;  // SFU: "publish" | "subscribe"
  Json negotiation_id;
};
struct Publish {
  std::string sdp;
};
struct Unpublish {};
struct Subscribe {
  std::vector<std::string> codecs;  // encoding names; empty = all
};
struct Unsubscribe {};
// What a participant sends muted (the page's Mute / Camera off): told to
// the others as peer-muted; unset members stay as they were.
struct Mute {
  std::optional<bool> audio, video;
};
struct Layout {  // MCU rooms: how the composite lays participants out
  std::string layout;                 // "grid" | "speaker" | "pinned"
  std::optional<std::string> pinned;  // the participant shown large by "pinned"
};

using Request = std::variant<Join, Leave, List, Ping, Offer, Answer, Candidate, Publish, Unpublish,
                             Subscribe, Unsubscribe, Layout, Mute>;

// --- results ---
struct Empty {};  // `{}`
struct Publisher {
  std::string peer;
  std::vector<SfuTrack> tracks;
};
// A participant's muted state, in full.
struct PeerMuted {
  std::string room, peer;
  bool audio = false, video = false;
};
struct JoinResult {
  std::string room, peer;
  RoomMode mode = RoomMode::kMesh;
  std::vector<std::string> peers;       // already in the room, join order
  std::vector<Publisher> publishers;    // SFU rooms, but yourself
  std::vector<IceServer> ice_servers;
  std::vector<PeerMuted> muted;         // the others that have something muted
};
struct RoomEntry {
  std::string room;
  RoomMode mode = RoomMode::kMesh;
  size_t count = 0;
  std::optional<std::vector<std::string>> peers;  // when one room was asked for
};
struct ListResult {
  std::vector<RoomEntry> rooms;
};
struct PublishResult {
  std::string sdp;  // the server's answer
  std::vector<SfuTrack> tracks;
};
using Result = std::variant<Empty, JoinResult, ListResult, PublishResult>;

// What a call ends with: an error, or a result.
struct Reply {
  std::optional<rpc::Error> error;
  Result result;
};

// --- notifications (server → participant) ---
struct PeerJoined {
  std::string room, peer;
};
struct PeerLeft {
  std::string room, peer, reason;  // "left" | "disconnected" | "timeout" | "removed"
};
// A mesh peer's offer/answer/candidate, relayed.
struct RelayedOffer {
  std::string from, sdp;
  Json negotiation_id;
};
struct RelayedAnswer {
  std::string from, sdp;
  Json negotiation_id;
};
struct RelayedCandidate {
  std::string from, candidate;
  std::optional<std::string> mid;
  std::optional<int64_t> mline_index;
  Json negotiation_id;
};
struct PublisherJoined {
  std::string room, peer;
  std::vector<SfuTrack> tracks;
};
struct PublisherLeft {
  std::string room, peer, reason;
};
// The server's offer on a subscribe connection.
struct OfferedTrack {
  std::string mid, peer, track, kind, codec;
};
struct ServerOffer {
  std::string sdp;
  uint64_t negotiation = 0;
  uint64_t session = 0;
  std::vector<OfferedTrack> tracks;  // the m-lines that carry one
};
// A failure no response can carry (room closed, subscription ended, …).
struct ErrorNote {
  rpc::Error error;
};

using Note = std::variant<PeerJoined, PeerLeft, RelayedOffer, RelayedAnswer, RelayedCandidate,
                          PublisherJoined, PublisherLeft, ServerOffer, ErrorNote, PeerMuted>;

}  // namespace msg
}  // namespace rtcmesh::sig
