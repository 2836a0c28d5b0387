// A participant's room connection, whatever carries it: JSON-RPC over a
// WebSocket (ws://, wss://: WsClient) or gRPC (grpc://, grpcs://:
// rtcmesh.v1.Signaling, when built with -Dgrpc). rtcmeshbin talks to this;
// calls and notifications keep their JSON-RPC names and JSON params either
// way (the gRPC client maps them through the typed messages).
#pragma once

#include <glib.h>

#include <memory>
#include <string>

#include "signaling/http/ws_client.h"

namespace rtcmesh::sig {

class RoomClient {
 public:
  using Options = WsClient::Options;  // headers: Authorization is the gRPC bearer too
  using Reply = WsClient::Reply;
  using ReplyFn = WsClient::ReplyFn;
  using ConnectFn = WsClient::ConnectFn;
  using NotificationFn = WsClient::NotificationFn;
  using ClosedFn = WsClient::ClosedFn;

  virtual ~RoomClient() = default;  // no callback runs afterwards
  virtual void set_notification_handler(NotificationFn fn) = 0;
  virtual void set_closed_handler(ClosedFn fn) = 0;
  // `done` runs later on the context's thread, never from inside connect().
  virtual void connect(const std::string& url, ConnectFn done) = 0;
  // `done` runs exactly once, later (never inside call()).
  virtual void call(const std::string& method, Json params, ReplyFn done) = 0;
  virtual bool notify(const std::string& method, Json params) = 0;
};

// For `url`'s scheme, on the thread that runs ctx (its thread-default
// context). Throws std::invalid_argument for grpc:// in a build without
// gRPC, and what WsClient throws.
std::unique_ptr<RoomClient> make_room_client(GMainContext* ctx, const std::string& url,
                                             RoomClient::Options options);
bool is_grpc_url(const std::string& url);

}  // namespace rtcmesh::sig
