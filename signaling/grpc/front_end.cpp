#include "signaling/grpc/front_end.h"

#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::grpc_front {

void GrpcFrontEnd::on_request(ConnId conn, const v1::SignalRequest& request, size_t bytes,
                              RoomTime now) {
  try {
    service_.received(conn, now);
    this->request(conn, request, bytes);
  } catch (const std::exception& e) {
    GST_ERROR("grpc connection %" G_GUINT64_FORMAT ": request failed: %s", conn, e.what());
  } catch (...) {
    GST_ERROR("grpc connection %" G_GUINT64_FORMAT ": request failed", conn);
  }
}

void GrpcFrontEnd::request(ConnId conn, const v1::SignalRequest& request, size_t bytes) {
  uint64_t id = request.request_id();
  if (bytes > limits_.max_message) {
    GST_INFO("grpc connection %" G_GUINT64_FORMAT ": message of %zu bytes over the %zu limit",
             conn, bytes, limits_.max_message);
    reply(conn, id,
          {rpc::Error{rpc::kTooLarge,
                      "message of " + std::to_string(bytes) + " bytes is over the limit of " +
                          std::to_string(limits_.max_message),
                      Json::object({{"limit", limits_.max_message}})},
           msg::Empty{}});
    return;
  }
  // Offers the call causes go out after its reply.
  RoomService::Batch batch(service_);
  std::optional<msg::Reply> result;
  try {
    result = service_.call(conn, from_proto(request), [this, conn, id](msg::Reply later) {
      reply(conn, id, later);
    });
  } catch (const rpc::Failure& f) {  // the fields
    result = msg::Reply{f.error, msg::Empty{}};
  }
  if (result) reply(conn, id, *result);
}

void GrpcFrontEnd::reply(ConnId conn, uint64_t request_id, const msg::Reply& reply) {
  if (request_id == 0) {  // a notification: never answered
    if (reply.error)
      GST_DEBUG("grpc connection %" G_GUINT64_FORMAT ": notification failed (%d %s)", conn,
                reply.error->code, reply.error->message.c_str());
    return;
  }
  v1::SignalResponse response;
  *response.mutable_reply() = to_proto(request_id, reply);
  send_(conn, std::move(response));
}

void GrpcFrontEnd::deliver(ConnId conn, const msg::Note& note) {
  v1::SignalResponse response;
  *response.mutable_notification() = to_proto(note);
  send_(conn, std::move(response));
}

}  // namespace rtcmesh::sig::grpc_front
