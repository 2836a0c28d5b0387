#include "signaling/rpc/json_messages.h"

#include <type_traits>

#include "signaling/util.h"

namespace rtcmesh::sig::rpc {

namespace {

// Reads named params; anything wrong is -32602 naming the member.
class Params {
 public:
  Params(const Json& params, const std::string& method) : method_(method) {
    if (params.is_null()) return;
    if (!params.is_object()) fail(kInvalidParams, method + ": params must be an object (by name)");
    p_ = &params;
  }
  const Json* get(const char* key) const { return p_ ? p_->find(key) : nullptr; }
  std::optional<std::string> opt_string(const char* key) const {
    const Json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) bad_param(method_, key, "must be a string");
    return v->as_string();
  }
  std::string string(const char* key) const {
    auto v = opt_string(key);
    if (!v) bad_param(method_, key, "is required");
    return *v;
  }
  std::optional<int64_t> opt_uint(const char* key) const {
    const Json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_int() || v->as_int() < 0) bad_param(method_, key, "must be a non-negative integer");
    return v->as_int();
  }
  std::optional<bool> opt_bool(const char* key) const {
    const Json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_bool()) bad_param(method_, key, "must be true or false");
    return v->as_bool();
  }
  // Any JSON value; null when absent. Its meaning depends on the room.
  Json raw(const char* key) const {
    const Json* v = get(key);
    return v ? *v : Json();
  }

 private:
  const Json* p_ = nullptr;
  const std::string& method_;
};

std::vector<std::string> read_codecs(const Params& p, const std::string& method) {
  std::vector<std::string> codecs;
  const Json* list = p.get("codecs");
  if (!list || list->is_null()) return codecs;
  if (!list->is_array()) bad_param(method, "codecs", "must be an array of encoding names");
  for (const Json& codec : list->as_array()) {
    if (!codec.is_string())
      bad_param(method, "codecs", "must hold encoding names (strings of 1-32 characters)");
    codecs.push_back(codec.as_string());
  }
  return codecs;
}

Json tracks_json(const std::vector<SfuTrack>& tracks) {
  Json out = Json::array();
  for (const SfuTrack& t : tracks)
    out.push(Json::object({{"id", t.id}, {"kind", t.kind}, {"codec", t.codec}}));
  return out;
}

Json strings_json(const std::vector<std::string>& strings) {
  Json out = Json::array();
  for (const std::string& s : strings) out.push(s);
  return out;
}

Json ice_json(const std::vector<IceServer>& servers) {
  Json out = Json::array();
  for (const IceServer& s : servers) {
    Json e = Json::object({{"urls", Json(Json::Array{s.url})}});
    if (!s.username.empty()) e.set("username", s.username);
    if (!s.credential.empty()) e.set("credential", s.credential);
    out.push(std::move(e));
  }
  return out;
}

Json encode(const msg::Empty&) {
  return Json::object();
}

Json encode(const msg::JoinResult& r) {
  Json publishers = Json::array();
  for (const msg::Publisher& p : r.publishers)
    publishers.push(Json::object({{"peer", p.peer}, {"tracks", tracks_json(p.tracks)}}));
  Json out = Json::object({{"room", r.room},
                           {"peer", r.peer},
                           {"mode", to_string(r.mode)},
                           {"peers", strings_json(r.peers)},
                           {"publishers", std::move(publishers)},
                           {"iceServers", ice_json(r.ice_servers)}});
  if (!r.muted.empty()) {
    Json muted = Json::array();
    for (const msg::PeerMuted& m : r.muted)
      muted.push(Json::object({{"peer", m.peer}, {"audio", m.audio}, {"video", m.video}}));
    out.set("muted", std::move(muted));
  }
  return out;
}

Json encode(const msg::ListResult& r) {
  Json rooms = Json::array();
  for (const msg::RoomEntry& e : r.rooms) {
    Json entry = Json::object({{"room", e.room}, {"mode", to_string(e.mode)}, {"count", e.count}});
    if (e.peers) entry.set("peers", strings_json(*e.peers));
    rooms.push(std::move(entry));
  }
  return Json::object({{"rooms", std::move(rooms)}});
}

Json encode(const msg::PublishResult& r) {
  return Json::object({{"sdp", r.sdp}, {"tracks", tracks_json(r.tracks)}});
}

void set_negotiation(Json& params, const Json& negotiation_id) {
  if (!negotiation_id.is_null()) params.set("negotiationId", negotiation_id);
}

}  // namespace

msg::Request parse_request(const std::string& method, const Json& params) {
  const std::string& m = method;
  if (m == "join") {
    Params p(params, m);
    std::string room = p.string("room");
    std::optional<std::string> peer = p.opt_string("peer");
    return msg::Join{std::move(room), std::move(peer), p.opt_string("token")};
  }
  if (m == "leave") return (Params(params, m), msg::Leave{});
  if (m == "list") {
    Params p(params, m);
    std::optional<std::string> room = p.opt_string("room");
    return msg::List{std::move(room), p.opt_string("token")};
  }
  if (m == "ping") return (Params(params, m), msg::Ping{});
  if (m == "offer" || m == "answer") {
    Params p(params, m);
    std::optional<std::string> to = p.opt_string("to");
    std::string sdp = p.string("sdp");
    if (m == "offer") return msg::Offer{std::move(to), std::move(sdp), p.raw("negotiationId")};
    return msg::Answer{std::move(to), std::move(sdp), p.raw("negotiationId")};
  }
  if (m == "candidate") {
    Params p(params, m);
    msg::Candidate c;
    c.to = p.opt_string("to");
    c.candidate = p.string("candidate");
    c.mid = p.opt_string("sdpMid");
    c.mline_index = p.opt_uint("sdpMLineIndex");
    c.connection = p.opt_string("connection");
    c.negotiation_id = p.raw("negotiationId");
    return c;
  }
  if (m == "publish") return msg::Publish{Params(params, m).string("sdp")};
  if (m == "unpublish") return (Params(params, m), msg::Unpublish{});
  if (m == "subscribe") return msg::Subscribe{read_codecs(Params(params, m), m)};
  if (m == "unsubscribe") return (Params(params, m), msg::Unsubscribe{});
  if (m == "layout") {
    Params p(params, m);
    std::string layout = p.string("layout");
    return msg::Layout{std::move(layout), p.opt_string("pinned")};
  }
  if (m == "mute") {
    Params p(params, m);
    msg::Mute mute{p.opt_bool("audio"), p.opt_bool("video")};
    if (!mute.audio && !mute.video)
      fail(kInvalidParams, "mute: \"audio\" or \"video\" (true or false) is required");
    return mute;
  }
  fail(kMethodNotFound, "no method " + quote_short(m));
}

Json to_json(const msg::Result& result) {
  return std::visit([](const auto& r) { return encode(r); }, result);
}

std::pair<std::string, Json> to_json(const msg::Note& note) {
  return std::visit(
      [](const auto& n) -> std::pair<std::string, Json> {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, msg::PeerJoined>) {
          return {"peer-joined", Json::object({{"room", n.room}, {"peer", n.peer}})};
        } else if constexpr (std::is_same_v<T, msg::PeerLeft>) {
          return {"peer-left",
                  Json::object({{"room", n.room}, {"peer", n.peer}, {"reason", n.reason}})};
        } else if constexpr (std::is_same_v<T, msg::RelayedOffer> ||
                             std::is_same_v<T, msg::RelayedAnswer>) {
          Json params = Json::object({{"from", n.from}, {"sdp", n.sdp}});
          set_negotiation(params, n.negotiation_id);
          return {std::is_same_v<T, msg::RelayedOffer> ? "offer" : "answer", std::move(params)};
        } else if constexpr (std::is_same_v<T, msg::RelayedCandidate>) {
          Json params = Json::object({{"from", n.from}, {"candidate", n.candidate}});
          if (n.mid) params.set("sdpMid", *n.mid);
          if (n.mline_index) params.set("sdpMLineIndex", *n.mline_index);
          set_negotiation(params, n.negotiation_id);
          return {"candidate", std::move(params)};
        } else if constexpr (std::is_same_v<T, msg::PublisherJoined>) {
          return {"publisher-joined", Json::object({{"room", n.room},
                                                    {"peer", n.peer},
                                                    {"tracks", tracks_json(n.tracks)}})};
        } else if constexpr (std::is_same_v<T, msg::PublisherLeft>) {
          return {"publisher-left",
                  Json::object({{"room", n.room}, {"peer", n.peer}, {"reason", n.reason}})};
        } else if constexpr (std::is_same_v<T, msg::ServerOffer>) {
          Json tracks = Json::array();
          for (const msg::OfferedTrack& t : n.tracks)
            tracks.push(Json::object({{"mid", t.mid},
                                      {"peer", t.peer},
                                      {"track", t.track},
                                      {"kind", t.kind},
                                      {"codec", t.codec}}));
          return {"offer", Json::object({{"sdp", n.sdp},
                                         {"negotiationId", n.negotiation},
                                         {"session", n.session},
                                         {"tracks", std::move(tracks)}})};
        } else if constexpr (std::is_same_v<T, msg::PeerMuted>) {
          return {"peer-muted", Json::object({{"room", n.room},
                                              {"peer", n.peer},
                                              {"audio", n.audio},
                                              {"video", n.video}})};
        } else {
          static_assert(std::is_same_v<T, msg::ErrorNote>);
          return {"error", Json::object({{"code", n.error.code},
                                         {"message", n.error.message},
                                         {"data", n.error.data}})};
        }
      },
      note);
}

}  // namespace rtcmesh::sig::rpc
