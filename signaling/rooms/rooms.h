// The room server as transports and elements use it: one JSON-RPC front end
// (signaling/rpc/front_end.h) over the room service (signaling/rooms/service.h)
// with an in-memory store. Pure and deterministic: the transport (ws_server,
// a test) names connections with ConnId, feeds text frames and times in, and
// gets text frames out through `send`.
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

#include "signaling/http/ice_servers.h"
#include "signaling/json.h"
#include "signaling/rooms/controller.h"
#include "signaling/rooms/delivery.h"
#include "signaling/rooms/messages.h"
#include "signaling/rooms/room_media.h"
#include "signaling/rooms/sfu_room.h"
#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig {

class RoomService;

class RoomServer {
 public:
  using Clock = std::chrono::steady_clock;
  using Time = Clock::time_point;

  // The room service's settings and the JSON-RPC front end's frame limits.
  struct Config : RoomServiceConfig {
    size_t max_message = 64 * 1024;  // bytes of one frame; over → -32006
    size_t max_batch = 16;           // requests in one batch; over → -32600
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
  // `address`: the client's, for the per-address limits of Config.
  void on_open(ConnId conn, Time now, bool authorized = false, const std::string& address = {});
  // The transport's bearer token (Authorization on the upgrade), checked as a
  // join's token would be: a good one serves calls without a token.
  void on_open_with_bearer(ConnId conn, Time now, const std::string& bearer,
                           const std::string& address = {});
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
  // and is no longer joined; the room is gone (in an SFU room its
  // participants' connections are ended on the media). False when unknown.
  bool close_room(const std::string& name, const std::string& why);

  // --- SFU rooms (docs/protocol.md, "SFU rooms") ---
  // `media` hosts room `room` (empty: every room not attached by name) as an
  // SFU room. The media must outlive its attachment. An existing room of that
  // name that is not hosted by it is closed first (close_room).
  void attach_sfu(const std::string& room, RoomMedia* media, SfuRoom::Limits limits);
  // The rooms hosted through that attachment are closed (`error` -32005
  // "room closed: …" to their participants) without calls to the media.
  void detach_sfu(const std::string& room);
  // A publisher from outside JSON-RPC (WHIP ingest, the pipeline's own sink
  // pads). The room must be hosted by an attached SFU; it is created if
  // needed. False with *why when not hosted, the id is taken (by a publisher
  // or a joined participant), or a limit is reached. `participant`: the
  // publisher is the room's participant of that id publishing through
  // another node of a cluster (its id is then taken by itself).
  bool add_publisher(const std::string& room, const std::string& peer, std::vector<SfuTrack> tracks,
                     std::string* why = nullptr, bool participant = false);
  // A publisher from outside changes its tracks in place (kept tracks keep
  // their subscriber slots). False when it is not a publisher of the room.
  bool update_publisher(const std::string& room, const std::string& peer,
                        std::vector<SfuTrack> tracks);
  // Any publisher (also a participant's): publisher-left with `reason`. The
  // media is not called (it ended the connection itself).
  void remove_publisher(const std::string& room, const std::string& peer,
                        const std::string& reason);
  // A connection failed on the media side (which has ended it). "publish":
  // publisher-left reason "failed" (and an `error` notification to a
  // participant publisher); "subscribe": the subscription ends with an
  // `error` notification.
  void media_failed(const std::string& room, const std::string& peer, const std::string& connection,
                    const std::string& why);
  struct SfuRoomInfo {
    std::string name;
    size_t publishers = 0;   // every way in
    size_t subscribers = 0;  // JSON-RPC subscribers
  };
  std::vector<SfuRoomInfo> sfu_rooms() const;  // hosted rooms, by name
  // The publishers of a hosted room in join order (empty when none or unknown).
  std::vector<SfuPublisher> sfu_publishers(const std::string& room) const;

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

  // --- other front ends over the same room service (gRPC) ---
  // Their connections are numbered from the returned base (far above the
  // JSON-RPC ones: base + n, n < 2^48) and their notes go to `delivery`,
  // which must outlive its registration. Context thread only.
  ConnId add_front_end(Delivery& delivery);
  void remove_front_end(ConnId base);
  // Delivery::drain of every other front end (WsServer::drain calls it).
  void drain_front_ends(const std::string& reason);
  RoomService& service();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
