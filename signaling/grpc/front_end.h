// The gRPC front end of the room service (docs/protocol.md, "gRPC"): each
// rtcmesh.v1.SignalRequest of a stream becomes one typed call, its reply a
// SignalResponse with the same request_id; the service's notes go out as
// notifications. The twin of rpc/front_end.h without the JSON framing; no
// room logic here, and no grpc++ either (GrpcServer is the transport).
#pragma once

#include <functional>

#include "signaling/grpc/proto_messages.h"
#include "signaling/rooms/delivery.h"
#include "signaling/rooms/service.h"

namespace rtcmesh::sig::grpc_front {

// Queues one response on a stream; must not call back into the room service.
using SendResponse = std::function<void(ConnId conn, v1::SignalResponse response)>;

class GrpcFrontEnd : public Delivery {
 public:
  struct Limits {
    size_t max_message = 64 * 1024;  // bytes of one request; over → -32006, the stream stays
  };
  // `drain`: the transport ends its streams with the reason (Delivery::drain).
  GrpcFrontEnd(RoomService& service, Limits limits, SendResponse send,
               std::function<void(const std::string& reason)> drain = {})
      : service_(service), limits_(limits), send_(std::move(send)), drain_(std::move(drain)) {}

  // One request whose serialized size is `bytes`: answered unless its
  // request_id is 0 (a notification). Never throws.
  void on_request(ConnId conn, const v1::SignalRequest& request, size_t bytes, RoomTime now);
  void deliver(ConnId conn, const msg::Note& note) override;
  void drain(const std::string& reason) override {
    if (drain_) drain_(reason);
  }

 private:
  void request(ConnId conn, const v1::SignalRequest& request, size_t bytes);
  void reply(ConnId conn, uint64_t request_id, const msg::Reply& reply);

  RoomService& service_;
  Limits limits_;
  SendResponse send_;
  std::function<void(const std::string&)> drain_;
};

}  // namespace rtcmesh::sig::grpc_front
