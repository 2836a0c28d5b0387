#include "signaling/room_client.h"

#include <stdexcept>

#ifdef RTCMESH_HAVE_GRPC
#include "signaling/grpc/client.h"
#endif

namespace rtcmesh::sig {

namespace {

class WsRoomClient : public RoomClient {
 public:
  WsRoomClient(GMainContext* ctx, Options o) : ws_(ctx, std::move(o)) {}
  void set_notification_handler(NotificationFn fn) override {
    ws_.set_notification_handler(std::move(fn));
  }
  void set_closed_handler(ClosedFn fn) override { ws_.set_closed_handler(std::move(fn)); }
  void connect(const std::string& url, ConnectFn done) override {
    ws_.connect(url, std::move(done));
  }
  void call(const std::string& method, Json params, ReplyFn done) override {
    ws_.call(method, std::move(params), std::move(done));
  }
  bool notify(const std::string& method, Json params) override {
    return ws_.notify(method, std::move(params));
  }

 private:
  WsClient ws_;
};

}  // namespace

bool is_grpc_url(const std::string& url) {
  return url.rfind("grpc://", 0) == 0 || url.rfind("grpcs://", 0) == 0;
}

std::unique_ptr<RoomClient> make_room_client(GMainContext* ctx, const std::string& url,
                                             RoomClient::Options options) {
  if (is_grpc_url(url)) {
#ifdef RTCMESH_HAVE_GRPC
    return grpc_front::make_grpc_client(ctx, std::move(options));
#else
    throw std::invalid_argument("grpc:// needs rtcmesh built with gRPC (-Dgrpc=enabled)");
#endif
  }
  return std::make_unique<WsRoomClient>(ctx, std::move(options));
}

}  // namespace rtcmesh::sig
