// The JSON-RPC 2.0 front end of the room service (docs/protocol.md): text
// frames → typed calls and back. Framing, batches, size limits and error
// codes are here; room logic is the RoomService's. JsonRpcDelivery sends the
// service's notes to these connections as notifications.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "signaling/json.h"
#include "signaling/rooms/delivery.h"
#include "signaling/rooms/service.h"
#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig::rpc {

// Sends one text frame; must not call back into the room service.
using SendText = std::function<void(ConnId conn, const std::string& text)>;

class JsonRpcDelivery : public Delivery {
 public:
  explicit JsonRpcDelivery(SendText send) : send_(std::move(send)) {}
  void deliver(ConnId conn, const msg::Note& note) override;
  // A frame to a connection; a throwing transport is logged, not propagated.
  void send(ConnId conn, const std::string& text);

 private:
  SendText send_;
};

class JsonRpcFrontEnd {
 public:
  struct Limits {
    size_t max_message = 64 * 1024;  // bytes of one frame; over → -32006
    size_t max_batch = 16;           // requests in one batch; over → -32600
  };
  // Replies go out through `out` (the connection's notes do too).
  JsonRpcFrontEnd(RoomService& service, JsonRpcDelivery& out, Limits limits)
      : service_(service), out_(out), limits_(limits) {}

  // One text frame: answered (nothing for notifications). Never throws.
  void on_message(ConnId conn, std::string_view text, RoomTime now);

 private:
  void message(ConnId conn, std::string_view text);
  void too_large(ConnId conn, std::string_view text);
  // The reply object for one item, or null for none (deferred replies go out
  // as frames of their own).
  Json handle_item(ConnId conn, const Item& item);

  RoomService& service_;
  JsonRpcDelivery& out_;
  Limits limits_;
};

}  // namespace rtcmesh::sig::rpc
