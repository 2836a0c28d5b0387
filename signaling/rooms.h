// Rooms over JSON-RPC 2.0 (docs/protocol.md): join/leave/list, relay of
// offer/answer/candidate between the peers of a mesh room, tokens, limits and
// liveness. Pure and deterministic: the transport (ws_server, a test, later
// the gRPC bridge) names connections with ConnId, feeds text frames and
// times in, and gets text frames out through `send`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/ice_servers.h"
#include "signaling/json.h"
#include "signaling/jsonrpc.h"

namespace rtcmesh::sig {

enum class RoomMode { kMesh, kSfu, kMcu };
const char* to_string(RoomMode mode);  // "mesh", "sfu", "mcu"
std::optional<RoomMode> parse_room_mode(std::string_view name);

// Room names and peer ids: 1-64 characters of [A-Za-z0-9._~-].
bool valid_room_name(std::string_view name);
bool valid_peer_id(std::string_view id);

// One client connection, numbered by the transport (never reused while open).
using ConnId = uint64_t;

class RoomServer {
 public:
  using Clock = std::chrono::steady_clock;
  using Time = Clock::time_point;

  struct Config {
    RoomMode default_mode = RoomMode::kMesh;  // of rooms a join creates
    std::string token;                        // empty = open; else join/list need it
    size_t max_message = 64 * 1024;           // bytes of one frame; over → -32006
    size_t max_batch = 16;                    // requests in one batch; over → -32600
    unsigned max_rooms = 1000;                // over → -32002 on the join that would create one
    unsigned max_peers_per_room = 16;         // over → -32002
    // Candidates one peer may relay to one other peer per negotiation (an
    // offer or answer between them starts a new count); over → -32006.
    unsigned max_candidates = 256;
    // A connection with no sign of life (frame or pong) for this long is
    // removed by tick(): its room gets peer-left, the transport closes it.
    std::chrono::milliseconds peer_timeout{10000};
    std::vector<IceServer> ice_servers;  // "iceServers" of the join result
  };
  // Sends one text frame. Called synchronously from the entry points below;
  // it must not call back into the RoomServer (defer transport events).
  using Send = std::function<void(ConnId conn, const std::string& text)>;

  RoomServer(Config config, Send send);
  ~RoomServer();
  RoomServer(const RoomServer&) = delete;
  RoomServer& operator=(const RoomServer&) = delete;

  // Transport events; one thread at a time (not thread-safe). None throws.
  // `authorized`: the transport already checked the token (e.g. an
  // Authorization header on the WebSocket upgrade).
  void on_open(ConnId conn, Time now, bool authorized = false);
  // One text frame: answered through `send` (nothing for notifications).
  // A connection not yet opened is opened here.
  void on_message(ConnId conn, std::string_view text, Time now);
  void on_alive(ConnId conn, Time now);  // a pong or other sign of life
  // The socket is gone: the peer leaves its room (peer-left, reason
  // "disconnected"). Unknown connections are ignored.
  void on_closed(ConnId conn);
  // Connections silent for peer_timeout are removed (peer-left, reason
  // "timeout") and returned: the transport closes them, and its later
  // on_closed for them does nothing.
  std::vector<ConnId> tick(Time now);

  // A room that stays when empty, with its own mode. False when the name is
  // invalid, the room exists, or max_rooms is reached.
  bool create_room(const std::string& name, RoomMode mode);
  // Every peer gets an `error` notification (-32005, "room closed: <why>")
  // and is no longer joined; the room is gone. False when unknown.
  bool close_room(const std::string& name, const std::string& why);

  struct RoomInfo {
    std::string name;
    RoomMode mode = RoomMode::kMesh;
    std::vector<std::string> peers;  // join order
    bool persistent = false;         // made by create_room
  };
  std::vector<RoomInfo> rooms() const;  // by name
  std::optional<RoomInfo> room(const std::string& name) const;
  size_t connection_count() const;
  // {room, peer} of a joined connection.
  std::optional<std::pair<std::string, std::string>> peer_of(ConnId conn) const;
  const Config& config() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
