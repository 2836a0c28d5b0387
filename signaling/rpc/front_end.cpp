#include "signaling/rpc/front_end.h"

#include "signaling/log.h"
#include "signaling/rpc/json_messages.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::rpc {

void JsonRpcDelivery::send(ConnId conn, const std::string& text) {
  try {
    if (send_) send_(conn, text);
  } catch (const std::exception& e) {
    GST_ERROR("send to connection %" G_GUINT64_FORMAT " threw: %s", conn, e.what());
  } catch (...) {
    GST_ERROR("send to connection %" G_GUINT64_FORMAT " threw", conn);
  }
}

void JsonRpcDelivery::deliver(ConnId conn, const msg::Note& note) {
  auto [method, params] = to_json(note);
  send(conn, notification(method, std::move(params)));
}

void JsonRpcFrontEnd::on_message(ConnId conn, std::string_view text, RoomTime now) {
  try {
    service_.received(conn, now);
    message(conn, text);
  } catch (const std::exception& e) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": message failed: %s", conn, e.what());
  } catch (...) {
    GST_ERROR("connection %" G_GUINT64_FORMAT ": message failed", conn);
  }
}

void JsonRpcFrontEnd::message(ConnId conn, std::string_view text) {
  if (text.size() > limits_.max_message) {
    too_large(conn, text);
    return;
  }
  Message m = parse(text);
  if (m.error) {
    GST_DEBUG("connection %" G_GUINT64_FORMAT ": %s", conn, m.error->message.c_str());
    out_.send(conn, error(Json(), *m.error));
    return;
  }
  if (m.batch && m.items.size() > limits_.max_batch) {
    out_.send(conn, error(Json(), {kInvalidRequest,
                                   "batch of " + std::to_string(m.items.size()) +
                                       " requests is over the limit of " +
                                       std::to_string(limits_.max_batch),
                                   Json::object({{"limit", limits_.max_batch}})}));
    return;
  }
  // Offers the calls cause go out after the replies (when `batch` ends).
  RoomService::Batch batch(service_);
  Json replies = Json::array();
  for (const Item& item : m.items) {
    Json reply = handle_item(conn, item);
    if (reply.is_null()) continue;
    if (m.batch)
      replies.push(std::move(reply));
    else
      out_.send(conn, reply.dump());
  }
  // A batch of notifications only gets no reply at all.
  if (m.batch && replies.size() > 0) out_.send(conn, replies.dump());
}

// The frame is not processed; its id is recovered (libsoup already bounds
// it to 4×M) so a client's pending call fails at once instead of timing out.
void JsonRpcFrontEnd::too_large(ConnId conn, std::string_view text) {
  Json req_id;
  Message m = parse(text);
  if (!m.error && !m.batch && m.items.size() == 1 && m.items[0].kind == Item::Kind::kRequest &&
      m.items[0].request.has_id)
    req_id = m.items[0].request.id;
  GST_INFO("connection %" G_GUINT64_FORMAT ": message of %zu bytes over the %zu byte limit", conn,
           text.size(), limits_.max_message);
  out_.send(conn, error(req_id, {kTooLarge,
                                 "message of " + std::to_string(text.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(limits_.max_message),
                                 Json::object({{"limit", limits_.max_message}})}));
}

Json JsonRpcFrontEnd::handle_item(ConnId conn, const Item& item) {
  switch (item.kind) {
    case Item::Kind::kInvalid:
      return error_object(item.id, item.error);
    case Item::Kind::kResponse:
      // We send no requests yet; never answer a response.
      GST_DEBUG("connection %" G_GUINT64_FORMAT ": ignoring a response", conn);
      return {};
    case Item::Kind::kRequest:
      break;
  }
  const Request& req = item.request;
  std::optional<msg::Reply> reply;
  try {
    reply = service_.call(conn, parse_request(req.method, req.params),
                          [this, conn, id = req.id, has_id = req.has_id](msg::Reply later) {
                            // Deferred: always a frame of its own.
                            if (!has_id) return;
                            out_.send(conn, later.error ? error(id, *later.error)
                                                        : result(id, to_json(later.result)));
                          });
  } catch (const Failure& f) {  // the params
    reply = msg::Reply{f.error, msg::Empty{}};
  }
  if (!reply) return {};
  if (req.notification()) {
    if (reply->error)
      GST_DEBUG("connection %" G_GUINT64_FORMAT ": notification %s failed (%d %s)", conn,
                req.method.c_str(), reply->error->code, reply->error->message.c_str());
    return {};
  }
  if (reply->error) return error_object(req.id, *reply->error);
  return result_object(req.id, to_json(reply->result));
}

}  // namespace rtcmesh::sig::rpc
