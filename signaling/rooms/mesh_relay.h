// Mesh rooms: the participants connect to each other; the server relays
// offer/answer/candidate between two peers of a room, enforces who offers
// (the later joiner) and bounds the candidates per pair and negotiation.
#pragma once

#include <map>
#include <string>

#include "signaling/rooms/controller.h"

namespace rtcmesh::sig {

class MeshRelay : public ModeController {
 public:
  explicit MeshRelay(RoomContext& ctx) : ctx_(ctx) {}

  std::optional<msg::Result> offer(const Caller& c, const msg::Offer& m, const Done&) override;
  std::optional<msg::Result> answer(const Caller& c, const msg::Answer& m, const Done&) override;
  std::optional<msg::Result> candidate(const Caller& c, const msg::Candidate& m,
                                       const Done&) override;

  void leaving(RoomRecord& room, const std::string& peer, const std::string& reason) override;
  void closing(RoomRecord&, const rpc::Error&) override {}
  void gone(RoomRecord& room, bool end_media) override;

 private:
  // The participant `to` names (-32602, -32003 otherwise).
  const Participant& target(const Caller& c, const std::string& method,
                      const std::optional<std::string>& to);
  // offer/answer: the later joiner offers; a new negotiation between the two.
  std::string sdp_for(const Caller& c, const std::string& method, const std::string& to,
                      const std::string& sdp);
  template <typename Note, typename M>
  std::optional<msg::Result> relay_sdp(const Caller& c, const std::string& method, const M& m);
  Json negotiation(const std::string& method, const Json& id);

  RoomContext& ctx_;
  // Candidates relayed this negotiation: room → from → to → count.
  std::map<std::string, std::map<std::string, std::map<std::string, unsigned>>> candidates_;
};

}  // namespace rtcmesh::sig
