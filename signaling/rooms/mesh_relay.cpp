#include "signaling/rooms/mesh_relay.h"

#include "signaling/util.h"

namespace rtcmesh::sig {

const Participant& MeshRelay::target(const Caller& c, const std::string& method,
                               const std::optional<std::string>& to) {
  if (!to) rpc::bad_param(method, "to", "is required");
  if (*to == c.peer) rpc::bad_param(method, "to", "is yourself");
  auto it = c.room.participants.find(*to);
  if (it == c.room.participants.end())
    rpc::fail(rpc::kUnknownPeer,
              method + ": no peer " + quote_short(*to) + " in room " + quote_short(c.room.name),
              Json::object({{"peer", *to}}));
  return it->second;
}

std::string MeshRelay::sdp_for(const Caller& c, const std::string& method, const std::string& to,
                               const std::string& sdp) {
  std::string checked = checked_sdp(method, sdp);
  // The later joiner offers; the earlier one answers (no glare).
  bool offerer = c.room.participants.at(c.peer).seq > c.room.participants.at(to).seq;
  if (method == "offer" && !offerer)
    rpc::fail(rpc::kInvalidParams, "offer: " + quote_short(to) + " joined after you, so it sends the offer",
              Json::object({{"offerer", to}}));
  if (method == "answer" && offerer)
    rpc::fail(rpc::kInvalidParams,
              "answer: " + quote_short(to) + " joined before you, so you send the offer",
              Json::object({{"offerer", c.peer}}));
  auto& room = candidates_[c.room.name];
  room[c.peer].erase(to);
  room[to].erase(c.peer);
  return checked;
}

// Passed through untouched: a client drops what belongs to an older negotiation.
Json MeshRelay::negotiation(const std::string& method, const Json& id) {
  if (id.is_null()) return id;
  if (!id.is_string() && !id.is_int())
    rpc::bad_param(method, "negotiationId", "must be a string or an integer");
  if (id.is_string() && id.as_string().size() > 256)
    rpc::bad_param(method, "negotiationId", "is longer than 256 characters");
  return id;
}

template <typename Note, typename M>
std::optional<msg::Result> MeshRelay::relay_sdp(const Caller& c, const std::string& method,
                                                const M& m) {
  target(c, method, m.to);
  Note note{c.peer, sdp_for(c, method, *m.to, m.sdp), {}};
  note.negotiation_id = negotiation(method, m.negotiation_id);
  ctx_.tell(c.room, *m.to, note);
  return msg::Empty{};
}

std::optional<msg::Result> MeshRelay::offer(const Caller& c, const msg::Offer& m, const Done&) {
  return relay_sdp<msg::RelayedOffer>(c, "offer", m);
}

std::optional<msg::Result> MeshRelay::answer(const Caller& c, const msg::Answer& m, const Done&) {
  return relay_sdp<msg::RelayedAnswer>(c, "answer", m);
}

std::optional<msg::Result> MeshRelay::candidate(const Caller& c, const msg::Candidate& m,
                                                const Done&) {
  target(c, "candidate", m.to);
  msg::RelayedCandidate note{c.peer, checked_candidate(m), m.mid, m.mline_index, {}};
  unsigned& count = candidates_[c.room.name][c.peer][*m.to];
  unsigned limit = ctx_.config().max_candidates;
  if (count >= limit)
    rpc::fail(rpc::kTooLarge,
              "candidate: more than " + std::to_string(limit) + " candidates to " +
                  quote_short(*m.to) + " in one negotiation",
              Json::object({{"limit", limit}}));
  ++count;
  note.negotiation_id = negotiation("candidate", m.negotiation_id);
  ctx_.tell(c.room, *m.to, note);
  return msg::Empty{};
}

void MeshRelay::leaving(RoomRecord& room, const std::string& peer, const std::string&) {
  auto it = candidates_.find(room.name);
  if (it == candidates_.end()) return;
  it->second.erase(peer);
  for (auto& [from, counts] : it->second) counts.erase(peer);
}

void MeshRelay::gone(RoomRecord& room, bool) {
  candidates_.erase(room.name);
}

}  // namespace rtcmesh::sig
