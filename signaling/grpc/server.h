// The gRPC transport of the room service: rtcmesh.v1.Signaling/Signal on a
// grpc++ server (callback API), feeding the GrpcFrontEnd of one RoomServer's
// room service. gRPC's threads only read, write and finish streams; every
// request, open and close is handed to the room server's GMainContext, so no
// room state is touched from a gRPC thread.
#pragma once

#include <glib.h>

#include <chrono>
#include <memory>
#include <string>

#include "signaling/rooms/rooms.h"

namespace rtcmesh::sig::grpc_front {

class GrpcServer {
 public:
  struct Options {
    std::string address = "0.0.0.0";
    unsigned port = 0;  // 0: a free port (read port() back)
    std::string tls_certificate, tls_key;  // PEM files; both set: TLS (grpcs)
  };
  // On the thread that runs ctx (the RoomServer's); destroy there too,
  // before `rooms`. Frame limit and peer-timeout come from rooms.config():
  // requests over max_message get -32006 (the stream stays), over 4× that
  // gRPC ends the stream (RESOURCE_EXHAUSTED); HTTP/2 keepalive pings at a
  // third of peer-timeout end a vanished client's stream. Throws
  // std::runtime_error when it cannot listen.
  GrpcServer(GMainContext* ctx, RoomServer& rooms, Options options);
  ~GrpcServer();  // cancels every stream (their participants leave)
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  unsigned port() const;
  size_t stream_count() const;  // context thread

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig::grpc_front
