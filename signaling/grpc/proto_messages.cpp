#include "signaling/grpc/proto_messages.h"

#include <type_traits>

namespace rtcmesh::sig::grpc_front {

namespace {

// grpc::StatusCode values (grpc/status.h), spelled here so this file does not
// need grpc++.
enum GrpcStatus : int {
  kInvalidArgument = 3,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnauthenticated = 16,
};

const std::string& required(const std::string& value, const char* method, const char* field) {
  if (value.empty()) rpc::bad_param(method, field, "is required");
  return value;
}

Json negotiation_json(bool has, const v1::NegotiationId& id) {
  if (!has) return Json();
  switch (id.kind_case()) {
    case v1::NegotiationId::kNumber:
      return Json(id.number());
    case v1::NegotiationId::kText:
      return Json(id.text());
    default:
      return Json();
  }
}

// Sets `out` from JSON-RPC's negotiationId (string or integer; anything else
// is carried as its JSON text).
void set_negotiation(const Json& id, v1::NegotiationId* out) {
  if (id.is_int())
    out->set_number(id.as_int());
  else if (id.is_string())
    out->set_text(id.as_string());
  else
    out->set_text(id.dump());
}

// offer and answer: the same fields.
template <typename M, typename P>
M sdp_request(const P& p, const char* method) {
  M m;
  if (p.has_to()) m.to = p.to();
  m.sdp = required(p.sdp(), method, "sdp");
  m.negotiation_id = negotiation_json(p.has_negotiation_id(), p.negotiation_id());
  return m;
}

// A relayed offer or answer (from, sdp, negotiation id) into its note.
template <typename N, typename P>
void relayed(const N& n, P* p) {
  p->set_from(n.from);
  p->set_sdp(n.sdp);
  if (!n.negotiation_id.is_null()) set_negotiation(n.negotiation_id, p->mutable_negotiation_id());
}

template <typename P>
void set_tracks(const std::vector<SfuTrack>& tracks, P* out) {
  for (const SfuTrack& t : tracks) {
    v1::Track* p = out->add_tracks();
    p->set_id(t.id);
    p->set_kind(t.kind);
    p->set_codec(t.codec);
  }
}

void encode(const msg::Empty&, v1::Reply* r) {
  r->mutable_empty();
}

void set_muted(const msg::PeerMuted& m, v1::PeerMuted* out) {
  out->set_room(m.room);
  out->set_peer(m.peer);
  out->set_audio(m.audio);
  out->set_video(m.video);
}
msg::PeerMuted muted_of(const v1::PeerMuted& m) { return {m.room(), m.peer(), m.audio(), m.video()}; }

void encode(const msg::JoinResult& j, v1::Reply* r) {
  v1::JoinResult* out = r->mutable_join();
  out->set_room(j.room);
  out->set_peer(j.peer);
  out->set_mode(to_string(j.mode));
  for (const std::string& p : j.peers) out->add_peers(p);
  for (const msg::Publisher& p : j.publishers) {
    v1::Publisher* pub = out->add_publishers();
    pub->set_peer(p.peer);
    set_tracks(p.tracks, pub);
  }
  for (const IceServer& s : j.ice_servers) {
    v1::IceServer* ice = out->add_ice_servers();
    ice->add_urls(s.url);
    ice->set_username(s.username);
    ice->set_credential(s.credential);
  }
  for (const msg::PeerMuted& m : j.muted) set_muted(m, out->add_muted());
}

void encode(const msg::ListResult& l, v1::Reply* r) {
  v1::ListResult* out = r->mutable_list();
  for (const msg::RoomEntry& e : l.rooms) {
    v1::RoomEntry* room = out->add_rooms();
    room->set_room(e.room);
    room->set_mode(to_string(e.mode));
    room->set_count(e.count);
    room->set_has_peers(e.peers.has_value());
    if (e.peers)
      for (const std::string& p : *e.peers) room->add_peers(p);
  }
}

void encode(const msg::PublishResult& p, v1::Reply* r) {
  v1::PublishResult* out = r->mutable_publish();
  out->set_sdp(p.sdp);
  set_tracks(p.tracks, out);
}

}  // namespace

msg::Request from_proto(const v1::SignalRequest& req) {
  using R = v1::SignalRequest;
  switch (req.method_case()) {
    case R::kJoin: {
      const v1::JoinRequest& j = req.join();
      msg::Join m;
      m.room = required(j.room(), "join", "room");
      if (j.has_peer()) m.peer = j.peer();
      if (j.has_token()) m.token = j.token();
      return m;
    }
    case R::kLeave:
      return msg::Leave{};
    case R::kList: {
      msg::List m;
      if (req.list().has_room()) m.room = req.list().room();
      if (req.list().has_token()) m.token = req.list().token();
      return m;
    }
    case R::kPing:
      return msg::Ping{};
    case R::kOffer:
      return sdp_request<msg::Offer>(req.offer(), "offer");
    case R::kAnswer:
      return sdp_request<msg::Answer>(req.answer(), "answer");
    case R::kCandidate: {
      const v1::CandidateRequest& c = req.candidate();
      msg::Candidate m;
      if (c.has_to()) m.to = c.to();
      m.candidate = c.candidate();
      if (c.has_sdp_mid()) m.mid = c.sdp_mid();
      if (c.has_sdp_mline_index()) m.mline_index = c.sdp_mline_index();
      if (c.has_connection()) m.connection = c.connection();
      m.negotiation_id = negotiation_json(c.has_negotiation_id(), c.negotiation_id());
      return m;
    }
    case R::kPublish:
      return msg::Publish{required(req.publish().sdp(), "publish", "sdp")};
    case R::kUnpublish:
      return msg::Unpublish{};
    case R::kSubscribe: {
      msg::Subscribe m;
      for (const std::string& codec : req.subscribe().codecs()) m.codecs.push_back(codec);
      return m;
    }
    case R::kUnsubscribe:
      return msg::Unsubscribe{};
    case R::kMute: {
      msg::Mute m;
      if (req.mute().has_audio()) m.audio = req.mute().audio();
      if (req.mute().has_video()) m.video = req.mute().video();
      if (!m.audio && !m.video)
        rpc::fail(rpc::kInvalidParams, "mute: \"audio\" or \"video\" (true or false) is required");
      return m;
    }
    case R::kLayout: {
      msg::Layout m{required(req.layout().layout(), "layout", "layout"), std::nullopt};
      if (req.layout().has_pinned()) m.pinned = req.layout().pinned();
      return m;
    }
    case R::METHOD_NOT_SET:
      break;
  }
  rpc::fail(rpc::kInvalidRequest,
            "the request has no method (set one of join, leave, list, ping, offer, answer, "
            "candidate, publish, unpublish, subscribe, unsubscribe, mute, layout)");
}

int status_for(const rpc::Error& error) {
  switch (error.code) {
    case rpc::kParseError:
    case rpc::kInvalidRequest:
    case rpc::kInvalidParams:
      return kInvalidArgument;
    case rpc::kMethodNotFound:
      return kUnimplemented;
    case rpc::kUnauthorized: {
      const Json* status = error.data.is_object() ? error.data.find("status") : nullptr;
      return status && status->is_int() && status->as_int() == 403 ? kPermissionDenied
                                                                   : kUnauthenticated;
    }
    case rpc::kRoomFull:
    case rpc::kTooLarge:
    case rpc::kTooManyRequests:
      return kResourceExhausted;
    case rpc::kUnknownPeer:
      return kNotFound;
    case rpc::kDuplicatePeer:
      return kAlreadyExists;
    case rpc::kNotJoined:
    case rpc::kNoCommonCodec:
      return kFailedPrecondition;
    default:
      return kInternal;
  }
}

v1::Error to_proto(const rpc::Error& error) {
  v1::Error out;
  out.set_code(error.code);
  out.set_message(error.message);
  if (!error.data.is_null()) out.set_data(error.data.dump());
  out.set_status(status_for(error));
  return out;
}

v1::Reply to_proto(uint64_t request_id, const msg::Reply& reply) {
  v1::Reply out;
  out.set_request_id(request_id);
  if (reply.error)
    *out.mutable_error() = to_proto(*reply.error);
  else
    std::visit([&](const auto& r) { encode(r, &out); }, reply.result);
  return out;
}

v1::Notification to_proto(const msg::Note& note) {
  v1::Notification out;
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, msg::PeerJoined>) {
          v1::PeerJoined* p = out.mutable_peer_joined();
          p->set_room(n.room);
          p->set_peer(n.peer);
        } else if constexpr (std::is_same_v<T, msg::PeerLeft>) {
          v1::PeerLeft* p = out.mutable_peer_left();
          p->set_room(n.room);
          p->set_peer(n.peer);
          p->set_reason(n.reason);
        } else if constexpr (std::is_same_v<T, msg::RelayedOffer>) {
          relayed(n, out.mutable_offer());
        } else if constexpr (std::is_same_v<T, msg::RelayedAnswer>) {
          relayed(n, out.mutable_answer());
        } else if constexpr (std::is_same_v<T, msg::RelayedCandidate>) {
          v1::CandidateNote* p = out.mutable_candidate();
          p->set_from(n.from);
          p->set_candidate(n.candidate);
          if (n.mid) p->set_sdp_mid(*n.mid);
          if (n.mline_index) p->set_sdp_mline_index(static_cast<uint32_t>(*n.mline_index));
          if (!n.negotiation_id.is_null())
            set_negotiation(n.negotiation_id, p->mutable_negotiation_id());
        } else if constexpr (std::is_same_v<T, msg::PublisherJoined>) {
          v1::PublisherJoined* p = out.mutable_publisher_joined();
          p->set_room(n.room);
          p->set_peer(n.peer);
          set_tracks(n.tracks, p);
        } else if constexpr (std::is_same_v<T, msg::PublisherLeft>) {
          v1::PublisherLeft* p = out.mutable_publisher_left();
          p->set_room(n.room);
          p->set_peer(n.peer);
          p->set_reason(n.reason);
        } else if constexpr (std::is_same_v<T, msg::ServerOffer>) {
          v1::OfferNote* p = out.mutable_offer();
          p->set_sdp(n.sdp);
          p->mutable_negotiation_id()->set_number(static_cast<int64_t>(n.negotiation));
          p->set_session(n.session);
          for (const msg::OfferedTrack& t : n.tracks) {
            v1::OfferedTrack* o = p->add_tracks();
            o->set_mid(t.mid);
            o->set_peer(t.peer);
            o->set_track(t.track);
            o->set_kind(t.kind);
            o->set_codec(t.codec);
          }
        } else if constexpr (std::is_same_v<T, msg::PeerMuted>) {
          set_muted(n, out.mutable_peer_muted());
        } else {
          static_assert(std::is_same_v<T, msg::ErrorNote>);
          *out.mutable_error() = to_proto(n.error);
        }
      },
      note);
  return out;
}

namespace {

// An offer or answer request's fields.
template <typename M, typename P>
void fill_sdp(const M& m, P* p) {
  if (m.to) p->set_to(*m.to);
  p->set_sdp(m.sdp);
  if (!m.negotiation_id.is_null()) set_negotiation(m.negotiation_id, p->mutable_negotiation_id());
}

std::vector<SfuTrack> tracks_of(const google::protobuf::RepeatedPtrField<v1::Track>& tracks) {
  std::vector<SfuTrack> out;
  for (const v1::Track& t : tracks) out.push_back({t.id(), t.kind(), t.codec()});
  return out;
}

std::vector<std::string> strings_of(const google::protobuf::RepeatedPtrField<std::string>& s) {
  return {s.begin(), s.end()};
}

RoomMode mode_of(const std::string& name) {
  return parse_room_mode(name).value_or(RoomMode::kMesh);
}

}  // namespace

v1::SignalRequest to_proto(uint64_t request_id, const msg::Request& request) {
  v1::SignalRequest out;
  out.set_request_id(request_id);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, msg::Join>) {
          v1::JoinRequest* p = out.mutable_join();
          p->set_room(m.room);
          if (m.peer) p->set_peer(*m.peer);
          if (m.token) p->set_token(*m.token);
        } else if constexpr (std::is_same_v<T, msg::Leave>) {
          out.mutable_leave();
        } else if constexpr (std::is_same_v<T, msg::List>) {
          v1::ListRequest* p = out.mutable_list();
          if (m.room) p->set_room(*m.room);
          if (m.token) p->set_token(*m.token);
        } else if constexpr (std::is_same_v<T, msg::Ping>) {
          out.mutable_ping();
        } else if constexpr (std::is_same_v<T, msg::Offer>) {
          fill_sdp(m, out.mutable_offer());
        } else if constexpr (std::is_same_v<T, msg::Answer>) {
          fill_sdp(m, out.mutable_answer());
        } else if constexpr (std::is_same_v<T, msg::Candidate>) {
          v1::CandidateRequest* p = out.mutable_candidate();
          if (m.to) p->set_to(*m.to);
          p->set_candidate(m.candidate);
          if (m.mid) p->set_sdp_mid(*m.mid);
          if (m.mline_index) p->set_sdp_mline_index(static_cast<uint32_t>(*m.mline_index));
          if (m.connection) p->set_connection(*m.connection);
          if (!m.negotiation_id.is_null())
            set_negotiation(m.negotiation_id, p->mutable_negotiation_id());
        } else if constexpr (std::is_same_v<T, msg::Publish>) {
          out.mutable_publish()->set_sdp(m.sdp);
        } else if constexpr (std::is_same_v<T, msg::Unpublish>) {
          out.mutable_unpublish();
        } else if constexpr (std::is_same_v<T, msg::Subscribe>) {
          v1::SubscribeRequest* p = out.mutable_subscribe();
          for (const std::string& c : m.codecs) p->add_codecs(c);
        } else if constexpr (std::is_same_v<T, msg::Unsubscribe>) {
          out.mutable_unsubscribe();
        } else if constexpr (std::is_same_v<T, msg::Mute>) {
          v1::MuteRequest* p = out.mutable_mute();
          if (m.audio) p->set_audio(*m.audio);
          if (m.video) p->set_video(*m.video);
        } else {
          static_assert(std::is_same_v<T, msg::Layout>);
          v1::LayoutRequest* p = out.mutable_layout();
          p->set_layout(m.layout);
          if (m.pinned) p->set_pinned(*m.pinned);
        }
      },
      request);
  return out;
}

rpc::Error from_proto(const v1::Error& error) {
  rpc::Error out{error.code(), error.message(), Json()};
  if (!error.data().empty()) out.data = Json::parse(error.data()).value_or(Json(error.data()));
  return out;
}

msg::Result result_of(const v1::Reply& reply) {
  switch (reply.outcome_case()) {
    case v1::Reply::kJoin: {
      const v1::JoinResult& j = reply.join();
      msg::JoinResult r;
      r.room = j.room();
      r.peer = j.peer();
      r.mode = mode_of(j.mode());
      r.peers = strings_of(j.peers());
      for (const v1::Publisher& p : j.publishers())
        r.publishers.push_back({p.peer(), tracks_of(p.tracks())});
      for (const v1::IceServer& s : j.ice_servers())
        for (const std::string& url : s.urls())
          r.ice_servers.push_back({url, s.username(), s.credential()});
      for (const v1::PeerMuted& m : j.muted()) r.muted.push_back(muted_of(m));
      return r;
    }
    case v1::Reply::kList: {
      msg::ListResult r;
      for (const v1::RoomEntry& e : reply.list().rooms()) {
        msg::RoomEntry entry{e.room(), mode_of(e.mode()), static_cast<size_t>(e.count()),
                             std::nullopt};
        if (e.has_peers()) entry.peers = strings_of(e.peers());
        r.rooms.push_back(std::move(entry));
      }
      return r;
    }
    case v1::Reply::kPublish:
      return msg::PublishResult{reply.publish().sdp(), tracks_of(reply.publish().tracks())};
    default:
      return msg::Empty{};
  }
}

msg::Note from_proto(const v1::Notification& note) {
  using N = v1::Notification;
  switch (note.note_case()) {
    case N::kPeerJoined:
      return msg::PeerJoined{note.peer_joined().room(), note.peer_joined().peer()};
    case N::kPeerLeft:
      return msg::PeerLeft{note.peer_left().room(), note.peer_left().peer(),
                           note.peer_left().reason()};
    case N::kOffer: {
      const v1::OfferNote& o = note.offer();
      if (!o.from().empty())
        return msg::RelayedOffer{o.from(), o.sdp(),
                                 negotiation_json(o.has_negotiation_id(), o.negotiation_id())};
      msg::ServerOffer so{o.sdp(), static_cast<uint64_t>(o.negotiation_id().number()),
                          o.session(), {}};
      for (const v1::OfferedTrack& t : o.tracks())
        so.tracks.push_back({t.mid(), t.peer(), t.track(), t.kind(), t.codec()});
      return so;
    }
    case N::kAnswer:
      return msg::RelayedAnswer{note.answer().from(), note.answer().sdp(),
                                negotiation_json(note.answer().has_negotiation_id(),
                                                 note.answer().negotiation_id())};
    case N::kCandidate: {
      const v1::CandidateNote& c = note.candidate();
      msg::RelayedCandidate r{c.from(), c.candidate(), std::nullopt, std::nullopt,
                              negotiation_json(c.has_negotiation_id(), c.negotiation_id())};
      if (c.has_sdp_mid()) r.mid = c.sdp_mid();
      if (c.has_sdp_mline_index()) r.mline_index = c.sdp_mline_index();
      return r;
    }
    case N::kPublisherJoined:
      return msg::PublisherJoined{note.publisher_joined().room(), note.publisher_joined().peer(),
                                  tracks_of(note.publisher_joined().tracks())};
    case N::kPublisherLeft:
      return msg::PublisherLeft{note.publisher_left().room(), note.publisher_left().peer(),
                                note.publisher_left().reason()};
    case N::kError:
      return msg::ErrorNote{from_proto(note.error())};
    case N::kPeerMuted:
      return muted_of(note.peer_muted());
    default:
      return msg::ErrorNote{{rpc::kInternalError, "an empty notification", Json()}};
  }
}

}  // namespace rtcmesh::sig::grpc_front
