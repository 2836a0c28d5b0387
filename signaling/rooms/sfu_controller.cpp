#include "signaling/rooms/sfu_controller.h"

#include "signaling/http/sdp.h"
#include "signaling/log.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

msg::Reply failed(rpc::Error error) {
  return msg::Reply{std::move(error), msg::Empty{}};
}

}  // namespace

// --- hosting ---

const SfuController::Attachment* SfuController::attachment_for(const std::string& room) const {
  auto it = attached_.find(room);
  if (it == attached_.end()) it = attached_.find("");
  return it == attached_.end() ? nullptr : &it->second;
}

bool SfuController::hosts(const std::string& room) const {
  return attachment_for(room) != nullptr;
}

void SfuController::host(RoomRecord& room) {
  std::string key = attached_.count(room.name) ? room.name : "";
  const Attachment& a = attached_.at(key);
  room.mode = a.limits.output_publisher.empty() ? RoomMode::kSfu : RoomMode::kMcu;
  room.sfu = std::make_unique<SfuRoom>(a.limits);
  hosted_[room.name] = Hosted{a.media, key, {}, {}, {}, {}, {}};
}

RoomMode SfuController::mode_for(const std::string& room) const {
  const Attachment* a = attachment_for(room);
  return a && !a->limits.output_publisher.empty() ? RoomMode::kMcu : RoomMode::kSfu;
}

void SfuController::attach(const std::string& room, RoomMedia* media, SfuRoom::Limits limits) {
  if (attached_.count(room)) detach(room);
  attached_[room] = {media, limits};
  GST_INFO("SFU attached for %s", room.empty() ? "every room" : room.c_str());
  // Rooms made as sfu rooms before any media hosted them are hosted now; a
  // room of that name in another mode or on other media is closed.
  std::vector<std::string> unhosted, replaced;
  for (const RoomRecord* r : ctx_.store().all()) {
    if (!room.empty() && r->name != room) continue;
    if (r->mode == mode_for(r->name) && !r->sfu)
      unhosted.push_back(r->name);
    else if (!room.empty())
      replaced.push_back(r->name);
  }
  for (const std::string& name : replaced) ctx_.close(name, "now hosted by an SFU", true);
  for (const std::string& name : unhosted) host(*ctx_.store().find(name));
}

void SfuController::detach(const std::string& room) {
  if (!attached_.erase(room)) return;
  std::vector<std::string> hosted;
  for (const auto& [name, h] : hosted_)
    if (h.attachment == room) hosted.push_back(name);
  for (const std::string& name : hosted) ctx_.close(name, "the SFU hosting it stopped", false);
  GST_INFO("SFU detached from %s", room.empty() ? "every room" : room.c_str());
}

RoomRecord* SfuController::live_room(const std::string& name, uint64_t serial) {
  RoomRecord* room = ctx_.store().find(name);
  return room && room->serial == serial && room->sfu ? room : nullptr;
}

// --- publishers from outside ---

bool SfuController::add_publisher(const std::string& name, const std::string& peer,
                                  std::vector<SfuTrack> tracks, std::string* why,
                                  bool participant) {
  auto refuse = [&](std::string reason) {
    GST_INFO("publisher %s not added to room %s: %s", peer.c_str(), name.c_str(), reason.c_str());
    if (why) *why = std::move(reason);
    return false;
  };
  if (!valid_room_name(name) || !valid_peer_id(peer))
    return refuse("room and peer must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
  RoomRecord* room = ctx_.store().find(name);
  if (!room) {
    if (!hosts(name)) return refuse("room " + quote_short(name) + " is not hosted here");
    unsigned max_rooms = ctx_.config().max_rooms;
    if (ctx_.store().size() >= max_rooms)
      return refuse("server full: it has " + std::to_string(max_rooms) + " rooms");
    room = &ctx_.store().create(name, mode_for(name));
    GST_INFO("room %s created (%s)", name.c_str(), to_string(room->mode));
  }
  if (room->mode == mode_for(name) && !room->sfu && hosts(name)) host(*room);
  if (!room->sfu) return refuse("room " + quote_short(name) + " is a " + to_string(room->mode) + " room");
  if (room->participants.count(peer) && !participant)
    return refuse("peer " + quote_short(peer) + " is a participant of the room");
  try {
    room->sfu->add_publisher(peer, std::move(tracks));
  } catch (const SfuError& e) {
    ctx_.erase_if_unused(name);
    return refuse(e.what());
  }
  GST_INFO("publisher %s joined room %s", peer.c_str(), name.c_str());
  announce_publisher(*room, peer);
  drive_offers();
  return true;
}

bool SfuController::update_publisher(const std::string& name, const std::string& peer,
                                     std::vector<SfuTrack> tracks) {
  RoomRecord* room = ctx_.store().find(name);
  if (!room || !room->sfu || !room->sfu->set_tracks(peer, std::move(tracks))) return false;
  to_drive_.insert(name);
  drive_offers();
  return true;
}

void SfuController::remove_publisher(const std::string& room, const std::string& peer,
                                     const std::string& reason) {
  end_publish(room, peer, reason, "publish ended: " + reason);
  drive_offers();
}

void SfuController::media_failed(const std::string& name, const std::string& peer,
                                 const std::string& connection, const std::string& why) {
  GST_INFO("room %s: %s connection of %s failed: %s", name.c_str(), connection.c_str(),
           peer.c_str(), why.c_str());
  RoomRecord* room = ctx_.store().find(name);
  if (!room || !room->sfu) return;
  if (connection == "publish") {
    end_publish(name, peer, "failed", "publish connection failed: " + why);
  } else {
    rpc::Error ended{rpc::kInternalError, "subscription ended: " + why, {}};
    if (drop_subscriber(*room, peer, ended, ended)) to_drive_.insert(name);
  }
  drive_offers();
}

// --- calls ---

std::optional<msg::Result> SfuController::offer(const Caller&, const msg::Offer&, const Done&) {
  rpc::fail(rpc::kInvalidParams,
            "offer: in an sfu room the server offers; send yours with \"publish\"");
}

std::optional<msg::Result> SfuController::publish(const Caller& c, const msg::Publish& m,
                                                  const Done& done) {
  RoomRecord& room = c.room;
  Hosted& h = hosted(room);
  std::string sdp = checked_sdp("publish", m.sdp);
  if (room.sfu->publisher(c.peer) || h.publishing.count(c.peer))
    rpc::fail(rpc::kDuplicatePeer, "publish: you are already publishing; unpublish first",
              Json::object({{"room", room.name}, {"peer", c.peer}}));
  unsigned limit = room.sfu->limits().max_publishers;
  if (limit && room.sfu->publishers().size() + h.publishing.size() >= limit)
    rpc::fail(rpc::kRoomFull,
              "publish: room " + quote_short(room.name) + " has " + std::to_string(limit) +
                  " publishers, the limit",
              Json::object({{"limit", limit}}));
  uint64_t serial = next_serial_++;
  h.publishing[c.peer] = Pending{serial, done};
  h.publish_candidates.erase(c.peer);
  std::weak_ptr<int> alive = life_;
  h.media->publish(room.name, c.peer, sdp,
                   [this, alive, name = room.name, room_serial = room.serial, peer = c.peer,
                    serial](RoomMedia::PublishResult result) {
                     if (alive.expired()) return;
                     published(name, room_serial, peer, serial, std::move(result));
                     drive_offers();
                   });
  return std::nullopt;
}

void SfuController::published(const std::string& name, uint64_t room_serial,
                              const std::string& peer, uint64_t serial,
                              RoomMedia::PublishResult result) {
  RoomRecord* room = live_room(name, room_serial);
  if (!room) return;
  Hosted& h = hosted(*room);
  auto it = h.publishing.find(peer);
  if (it == h.publishing.end() || it->second.serial != serial) return;  // cancelled
  Done done = std::move(it->second.done);
  h.publishing.erase(it);
  if (result.error) {
    done(failed(*result.error));
    ctx_.erase_if_unused(name);
    return;
  }
  try {
    room->sfu->add_publisher(peer, result.tracks);
  } catch (const SfuError& e) {
    done(failed({e.code, std::string("publish: ") + e.what(), e.data}));
    RoomMedia* media = h.media;
    ctx_.erase_if_unused(name);
    media->unpublish(name, peer);
    return;
  }
  GST_INFO("peer %s publishes in room %s (%zu tracks)", peer.c_str(), name.c_str(),
           result.tracks.size());
  done(msg::Reply{std::nullopt, msg::PublishResult{result.sdp, room->sfu->publisher(peer)->tracks}});
  announce_publisher(*room, peer);
}

void SfuController::announce_publisher(const RoomRecord& room, const std::string& peer) {
  ctx_.tell_others(room, peer,
                   msg::PublisherJoined{room.name, peer, room.sfu->publisher(peer)->tracks});
  to_drive_.insert(room.name);
}

std::optional<msg::Result> SfuController::unpublish(const Caller& c, const msg::Unpublish&,
                                                    const Done&) {
  bool pending =
      cancel_publish(c.room, c.peer, {rpc::kNotJoined, "publish: cancelled by unpublish", {}});
  if (!pending && !drop_publisher(c.room, c.peer, "unpublished"))
    rpc::fail(rpc::kNotJoined, "unpublish: you are not publishing");
  hosted(c.room).media->unpublish(c.room.name, c.peer);
  return msg::Empty{};
}

std::optional<msg::Result> SfuController::subscribe(const Caller& c, const msg::Subscribe& m,
                                                    const Done&) {
  for (const std::string& codec : m.codecs)
    if (codec.empty() || codec.size() > 32)
      rpc::bad_param("subscribe", "codecs", "must hold encoding names (strings of 1-32 characters)");
  try {
    c.room.sfu->add_subscriber(c.peer, m.codecs);
  } catch (const SfuError& e) {
    rpc::fail(e.code, std::string("subscribe: ") + e.what(), e.data);
  }
  GST_INFO("peer %s subscribes in room %s", c.peer.c_str(), c.room.name.c_str());
  to_drive_.insert(c.room.name);
  return msg::Empty{};
}

std::optional<msg::Result> SfuController::layout(const Caller& c, const msg::Layout& m,
                                                 const Done&) {
  if (c.room.mode != RoomMode::kMcu)
    return ModeController::layout(c, m, Done{});
  if (m.layout != "grid" && m.layout != "speaker" && m.layout != "pinned")
    rpc::bad_param("layout", "layout",
                   "unknown layout " + quote_short(m.layout) + " (grid, speaker, pinned)");
  if (m.pinned && !valid_peer_id(*m.pinned))
    rpc::bad_param("layout", "pinned", "must be a participant id");
  if (m.layout == "pinned" && !m.pinned)
    rpc::bad_param("layout", "pinned", "layout \"pinned\" needs the participant to pin");
  std::string error =
      hosted(c.room).media->layout(c.room.name, m.layout, m.pinned.value_or(""));
  if (!error.empty()) rpc::fail(rpc::kInvalidParams, "layout: " + error);
  return msg::Empty{};
}

std::optional<msg::Result> SfuController::unsubscribe(const Caller& c, const msg::Unsubscribe&,
                                                      const Done&) {
  if (!drop_subscriber(c.room, c.peer, {rpc::kNotJoined, "answer: cancelled by unsubscribe", {}},
                       std::nullopt))
    rpc::fail(rpc::kNotJoined, "unsubscribe: you are not subscribed");
  hosted(c.room).media->unsubscribe(c.room.name, c.peer);
  return msg::Empty{};
}

std::optional<msg::Result> SfuController::answer(const Caller& c, const msg::Answer& m,
                                                 const Done& done) {
  RoomRecord& room = c.room;
  Hosted& h = hosted(room);
  if (!room.sfu->subscribed(c.peer)) rpc::fail(rpc::kNotJoined, "answer: you are not subscribed");
  std::string sdp = checked_sdp("answer", m.sdp);
  const Json& id = m.negotiation_id;
  if (id.is_null()) rpc::bad_param("answer", "negotiationId", "is required (the integer of the offer)");
  if (!id.is_int() || id.as_int() < 0)
    rpc::bad_param("answer", "negotiationId", "must be a non-negative integer");
  uint64_t negotiation = static_cast<uint64_t>(id.as_int());
  std::optional<uint64_t> in_flight = room.sfu->in_flight(c.peer);
  bool waiting = in_flight && !h.answering.count(c.peer);  // an offer waits for this answer
  if (!waiting || *in_flight != negotiation)
    rpc::fail(rpc::kInvalidParams,
              "answer: negotiation " + std::to_string(negotiation) +
                  (waiting ? " is not the one in flight (" + std::to_string(*in_flight) + ")"
                           : " has no offer waiting for an answer"),
              Json::object({{"negotiationId", waiting ? Json(*in_flight) : Json()}}));
  h.answering[c.peer] = Pending{negotiation, done};
  std::weak_ptr<int> alive = life_;
  h.media->answer(room.name, c.peer, negotiation, sdp,
                  [this, alive, name = room.name, room_serial = room.serial, peer = c.peer,
                   negotiation](const std::string& error) {
                    if (alive.expired()) return;
                    answered(name, room_serial, peer, negotiation, error);
                    drive_offers();
                  });
  return std::nullopt;
}

void SfuController::answered(const std::string& name, uint64_t room_serial,
                             const std::string& peer, uint64_t negotiation,
                             const std::string& error) {
  RoomRecord* room = live_room(name, room_serial);
  if (!room) return;
  Hosted& h = hosted(*room);
  auto it = h.answering.find(peer);
  if (it == h.answering.end() || it->second.serial != negotiation) return;
  Done done = std::move(it->second.done);
  h.answering.erase(it);
  h.offered_at.erase(peer);
  // Refused: the slots go back and the next offer tries again.
  room->sfu->negotiation_done(peer, negotiation, error.empty());
  to_drive_.insert(name);
  if (error.empty())
    done(msg::Reply{std::nullopt, msg::Empty{}});
  else
    done(failed({rpc::kInvalidParams, "answer: refused: " + error, {}}));
}

std::optional<msg::Result> SfuController::candidate(const Caller& c, const msg::Candidate& m,
                                                    const Done&) {
  RoomRecord& room = c.room;
  Hosted& h = hosted(room);
  if (!m.connection) rpc::bad_param("candidate", "connection", "is required");
  const std::string& connection = *m.connection;
  if (connection != "publish" && connection != "subscribe")
    rpc::bad_param("candidate", "connection", "must be \"publish\" or \"subscribe\"");
  std::string cand = checked_candidate(m);
  bool open = connection == "publish"
                  ? room.sfu->publisher(c.peer) || h.publishing.count(c.peer)
                  : room.sfu->subscribed(c.peer);
  if (!open) rpc::fail(rpc::kNotJoined, "candidate: you have no " + connection + " connection");
  auto& counts = connection == "publish" ? h.publish_candidates : h.subscribe_candidates;
  unsigned& count = counts[c.peer];
  unsigned limit = ctx_.config().max_candidates;
  if (count >= limit)
    rpc::fail(rpc::kTooLarge,
              "candidate: more than " + std::to_string(limit) + " candidates on your " +
                  connection + " connection in one negotiation",
              Json::object({{"limit", limit}}));
  ++count;
  h.media->candidate(room.name, c.peer, connection,
                     m.mline_index ? static_cast<int>(*m.mline_index) : -1, m.mid.value_or(""),
                     cand);
  return msg::Empty{};
}

// --- the end of connections ---

bool SfuController::cancel_publish(RoomRecord& room, const std::string& peer,
                                   const rpc::Error& error) {
  Hosted& h = hosted(room);
  auto it = h.publishing.find(peer);
  if (it == h.publishing.end()) return false;
  Done done = std::move(it->second.done);
  h.publishing.erase(it);
  done(failed(error));
  return true;
}

bool SfuController::drop_publisher(RoomRecord& room, const std::string& peer,
                                   const std::string& reason) {
  if (!room.sfu->remove_publisher(peer)) return false;
  hosted(room).publish_candidates.erase(peer);
  GST_INFO("publisher %s left room %s (%s)", peer.c_str(), room.name.c_str(), reason.c_str());
  ctx_.tell_others(room, peer, msg::PublisherLeft{room.name, peer, reason});
  to_drive_.insert(room.name);
  return true;
}

// The subscription is out of the room state (an answer being applied gets
// `answer_error`); `note` set: the subscriber is told.
bool SfuController::drop_subscriber(RoomRecord& room, const std::string& peer,
                                    const rpc::Error& answer_error,
                                    const std::optional<rpc::Error>& note) {
  if (!room.sfu->remove_subscriber(peer)) return false;
  Hosted& h = hosted(room);
  h.offered_at.erase(peer);
  h.subscribe_candidates.erase(peer);
  auto it = h.answering.find(peer);
  if (it != h.answering.end()) {
    Done done = std::move(it->second.done);
    h.answering.erase(it);
    done(failed(answer_error));
  }
  if (note) {
    Json data = note->data.is_null() ? Json::object() : note->data;
    data.set("room", room.name);
    data.set("connection", "subscribe");
    ctx_.tell(room, peer, msg::ErrorNote{{note->code, note->message, std::move(data)}});
  }
  GST_INFO("subscriber %s left room %s", peer.c_str(), room.name.c_str());
  return true;
}

// The media ended a publish connection: publisher-left with `reason` to the
// others, `error` (or the pending publish's error response) to a participant.
void SfuController::end_publish(const std::string& name, const std::string& peer,
                                const std::string& reason, const std::string& message) {
  RoomRecord* room = ctx_.store().find(name);
  if (!room || !room->sfu) return;
  rpc::Error ended{rpc::kInternalError, message,
                   Json::object({{"room", name}, {"connection", "publish"}})};
  if (!cancel_publish(*room, peer, ended)) {
    if (!drop_publisher(*room, peer, reason)) return;
    ctx_.tell(*room, peer, msg::ErrorNote{ended});
  }
  ctx_.erase_if_unused(name);
}

// Leave, disconnect, timeout: both connections end.
void SfuController::leaving(RoomRecord& room, const std::string& peer, const std::string& reason) {
  RoomMedia* media = hosted(room).media;
  rpc::Error gone{rpc::kNotJoined, "cancelled: you " + reason + " the room", {}};
  if (reason != "left") gone.message = "cancelled: " + reason;
  bool publishing = cancel_publish(room, peer, gone);
  publishing = drop_publisher(room, peer, reason) || publishing;
  bool subscribed = drop_subscriber(room, peer, gone, std::nullopt);
  if (publishing) media->unpublish(room.name, peer);
  if (subscribed) media->unsubscribe(room.name, peer);
}

void SfuController::closing(RoomRecord& room, const rpc::Error& closed) {
  auto it = hosted_.find(room.name);
  if (it == hosted_.end()) return;
  // Kept until gone(): it tells the media which publishes were under way.
  for (auto* pending : {&it->second.publishing, &it->second.answering})
    for (const auto& [peer, p] : *pending) p.done(failed(closed));
}

void SfuController::gone(RoomRecord& room, bool end_media) {
  auto it = hosted_.find(room.name);
  if (it == hosted_.end()) return;
  Hosted h = std::move(it->second);
  hosted_.erase(it);
  if (!room.sfu || !end_media) return;
  for (const std::string& peer : room.ordered()) {
    if (h.publishing.count(peer) || room.sfu->publisher(peer)) h.media->unpublish(room.name, peer);
    if (room.sfu->subscribed(peer)) h.media->unsubscribe(room.name, peer);
  }
}

bool SfuController::keeps(const RoomRecord& room) const {
  if (!room.sfu) return false;
  auto it = hosted_.find(room.name);
  return !room.sfu->empty() || (it != hosted_.end() && !it->second.publishing.empty());
}

// Subscribers that did not answer within peer_timeout lose the subscription.
void SfuController::tick(RoomTime now) {
  std::vector<std::pair<std::string, std::string>> late;  // room, subscriber
  auto timeout = ctx_.config().peer_timeout;
  for (const auto& [name, h] : hosted_)
    for (const auto& [peer, since] : h.offered_at)
      if (now - since >= timeout && !h.answering.count(peer)) late.emplace_back(name, peer);
  for (const auto& [name, peer] : late) {
    RoomRecord& room = *ctx_.store().find(name);
    std::string why = "subscription ended: no answer to negotiation " +
                      std::to_string(room.sfu->in_flight(peer).value_or(0)) + " within " +
                      std::to_string(timeout.count()) + " ms";
    GST_INFO("room %s: %s: %s", name.c_str(), peer.c_str(), why.c_str());
    drop_subscriber(room, peer, {rpc::kNotJoined, why, {}}, rpc::Error{rpc::kNotJoined, why, {}});
    hosted(room).media->unsubscribe(name, peer);
    to_drive_.insert(name);
  }
}

// --- the server's offers ---

void SfuController::settle() {
  drive_offers();
}

void SfuController::drive_offers() {
  if (driving_) return;  // the running loop picks up what is added meanwhile
  driving_ = true;
  while (!to_drive_.empty()) {
    std::string name = *to_drive_.begin();
    to_drive_.erase(to_drive_.begin());
    try {
      drive(name);
    } catch (const std::exception& e) {
      GST_ERROR("room %s: offers failed: %s", name.c_str(), e.what());
    }
  }
  driving_ = false;
}

void SfuController::drive(const std::string& name) {
  RoomRecord* room = ctx_.store().find(name);
  if (!room || !room->sfu) return;
  std::vector<SfuOffer> offers = room->sfu->take_offers();
  for (const SfuMismatch& m : room->sfu->take_mismatches()) {
    Json accepted = Json::array();
    for (const std::string& codec : m.accepted) accepted.push(codec);
    ctx_.tell(*room, m.subscriber,
              msg::ErrorNote{{rpc::kNoCommonCodec,
                              (room->mode == RoomMode::kMcu
                                   ? "the room's composite " + quote_short(m.track) +
                                         " is encoded in " + m.codec +
                                         " only (the MCU's video-codec), which you do not decode"
                                   : "track " + quote_short(m.track) + " of " +
                                         quote_short(m.publisher) + " is " + m.codec +
                                         ", which you do not decode"),
                              Json::object({{"peer", m.publisher},
                                            {"track", m.track},
                                            {"codec", m.codec},
                                            {"accepted", std::move(accepted)}})}});
  }
  RoomMedia* media = hosted(*room).media;
  uint64_t room_serial = room->serial;
  std::weak_ptr<int> alive = life_;
  for (const SfuOffer& offer : offers)
    media->offer(name, offer,
                 [this, alive, name, room_serial, offer](const std::string& sdp,
                                                         const std::string& error) {
                   if (alive.expired()) return;
                   offer_made(name, room_serial, offer, sdp, error);
                   drive_offers();
                 });
}

void SfuController::offer_made(const std::string& name, uint64_t room_serial,
                               const SfuOffer& offer, const std::string& sdp,
                               const std::string& error) {
  RoomRecord* room = live_room(name, room_serial);
  if (!room || room->sfu->in_flight(offer.subscriber) != offer.negotiation) return;
  Hosted& h = hosted(*room);
  const std::string& peer = offer.subscriber;
  if (!error.empty()) {
    GST_WARNING("room %s: offer to %s failed: %s", name.c_str(), peer.c_str(), error.c_str());
    room->sfu->negotiation_done(peer, offer.negotiation, false);
    drop_subscriber(*room, peer, {rpc::kInternalError, "answer: subscription ended", {}},
                    rpc::Error{rpc::kInternalError,
                               "subscription ended: the server could not offer: " + error,
                               {}});
    h.media->unsubscribe(name, peer);
    return;
  }
  h.offered_at[peer] = ctx_.now();
  h.subscribe_candidates.erase(peer);
  // The mids are the offer's own (webrtcbin names them "video0", "audio1"…).
  std::vector<std::string> mids;
  try {
    // Slots are the m-lines we send (sendonly, or inactive), in order; the
    // data channels' application m-line (the room's data relay, or the room
    // protocol of a POST /rtc connection) is none of them, nor are the
    // m-lines of the participant's own tracks when it publishes on that same
    // connection (webrtcbin 1.22 offers those recvonly or sendrecv).
    for (const MediaSummary& m : validate_offer(sdp).media)
      if (m.kind != "application" && (m.direction == "sendonly" || m.direction == "inactive"))
        mids.push_back(m.mid);
  } catch (const SdpError&) {
  }
  auto mid_of = [&](unsigned mline) {
    return mline < mids.size() && !mids[mline].empty() ? mids[mline] : std::to_string(mline);
  };
  msg::ServerOffer note{sdp, offer.negotiation, offer.session, {}};
  for (const SfuSlot& slot : offer.slots)
    if (slot.active())
      note.tracks.push_back({mid_of(slot.mline), slot.publisher, slot.track, slot.kind, slot.codec});
  ctx_.tell(*room, peer, note);
}

}  // namespace rtcmesh::sig
