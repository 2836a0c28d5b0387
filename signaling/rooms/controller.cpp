#include "signaling/rooms/controller.h"

#include "signaling/http/sdp.h"
#include "signaling/util.h"

namespace rtcmesh::sig {

void not_in_mode(const std::string& method, const RoomRecord& room) {
  rpc::fail(rpc::kMethodNotFound, method + ": room " + quote_short(room.name) + " is a " +
                                      to_string(room.mode) + " room, not an sfu room");
}

std::optional<msg::Result> ModeController::publish(const Caller& c, const msg::Publish&,
                                                   const Done&) {
  not_in_mode("publish", c.room);
}
std::optional<msg::Result> ModeController::layout(const Caller& c, const msg::Layout&,
                                                  const Done&) {
  rpc::fail(rpc::kMethodNotFound, "layout: room " + quote_short(c.room.name) + " is a " +
                                      to_string(c.room.mode) + " room, not an mcu room");
}
std::optional<msg::Result> ModeController::unpublish(const Caller& c, const msg::Unpublish&,
                                                     const Done&) {
  not_in_mode("unpublish", c.room);
}
std::optional<msg::Result> ModeController::subscribe(const Caller& c, const msg::Subscribe&,
                                                     const Done&) {
  not_in_mode("subscribe", c.room);
}
std::optional<msg::Result> ModeController::unsubscribe(const Caller& c, const msg::Unsubscribe&,
                                                       const Done&) {
  not_in_mode("unsubscribe", c.room);
}

std::string checked_sdp(const std::string& method, std::string sdp) {
  try {
    validate_offer(sdp);
  } catch (const SdpError& e) {
    rpc::fail(rpc::kInvalidParams, method + ": invalid SDP: " + e.what());
  }
  return sdp;
}

std::string checked_candidate(const msg::Candidate& c) {
  if (c.candidate.empty()) return c.candidate;
  if (!c.mid && !c.mline_index) rpc::bad_param("candidate", "sdpMid", "or \"sdpMLineIndex\" is required");
  try {
    return normalize_candidate(c.candidate);
  } catch (const SdpError& e) {
    rpc::fail(rpc::kInvalidParams, std::string("candidate: ") + e.what());
  }
}

}  // namespace rtcmesh::sig
