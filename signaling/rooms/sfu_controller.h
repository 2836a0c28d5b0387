// SFU rooms: the participants' publish and subscribe connections with the
// server. The room state (publishers, subscribers, slots) is the store's
// SfuRoom; this controller turns calls and media results into changes of it,
// hands the media work to the RoomMedia hosting the room, answers deferred
// calls, sends the server's offers and ends unanswered ones.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "signaling/rooms/controller.h"
#include "signaling/rooms/room_media.h"

namespace rtcmesh::sig {

class SfuController : public ModeController {
 public:
  explicit SfuController(RoomContext& ctx) : ctx_(ctx) {}

  // --- hosting (RoomServer::attach_sfu …) ---
  // `media` hosts room `room` (empty: every room not attached by name). An
  // existing room of that name not hosted by it is closed first.
  void attach(const std::string& room, RoomMedia* media, SfuRoom::Limits limits);
  // The rooms hosted through that attachment are closed without media calls.
  void detach(const std::string& room);
  bool hosts(const std::string& room) const;  // an attachment covers that name
  // Makes `room` an SFU (or MCU) room on the attachment covering it (there is one).
  void host(RoomRecord& room);
  // The mode of a room hosted by the attachment covering `room`: kMcu when
  // that media composites (SfuRoom::Limits::output_publisher), else kSfu.
  RoomMode mode_for(const std::string& room) const;

  // --- publishers from outside the participants (WHIP, pipeline pads) ---
  // `participant`: it is the participant of that id publishing from
  // elsewhere (another node of a cluster), so the id may be a participant's.
  bool add_publisher(const std::string& room, const std::string& peer, std::vector<SfuTrack> tracks,
                     std::string* why, bool participant = false);
  // The tracks of a publisher from outside change in place (no notes; the
  // subscribers' offers follow). False when it is not one.
  bool update_publisher(const std::string& room, const std::string& peer,
                        std::vector<SfuTrack> tracks);
  // publisher-left with `reason`; the media is not called.
  void remove_publisher(const std::string& room, const std::string& peer,
                        const std::string& reason);
  void media_failed(const std::string& room, const std::string& peer,
                    const std::string& connection, const std::string& why);

  // --- ModeController ---
  std::optional<msg::Result> offer(const Caller& c, const msg::Offer&, const Done&) override;
  std::optional<msg::Result> answer(const Caller& c, const msg::Answer& m,
                                    const Done& done) override;
  std::optional<msg::Result> candidate(const Caller& c, const msg::Candidate& m,
                                       const Done&) override;
  std::optional<msg::Result> publish(const Caller& c, const msg::Publish& m,
                                     const Done& done) override;
  std::optional<msg::Result> unpublish(const Caller& c, const msg::Unpublish&,
                                       const Done&) override;
  std::optional<msg::Result> subscribe(const Caller& c, const msg::Subscribe& m,
                                       const Done&) override;
  std::optional<msg::Result> unsubscribe(const Caller& c, const msg::Unsubscribe&,
                                         const Done&) override;
  std::optional<msg::Result> layout(const Caller& c, const msg::Layout& m,
                                    const Done&) override;
  void leaving(RoomRecord& room, const std::string& peer, const std::string& reason) override;
  void closing(RoomRecord& room, const rpc::Error& closed) override;
  void gone(RoomRecord& room, bool end_media) override;
  bool keeps(const RoomRecord& room) const override;
  void tick(RoomTime now) override;
  void settle() override;

 private:
  struct Attachment {
    RoomMedia* media = nullptr;
    SfuRoom::Limits limits;
  };
  // A publish or an answer the media is working on.
  struct Pending {
    uint64_t serial = 0;  // publish: a fresh number; answer: the negotiation
    Done done;
  };
  // This node's side of a hosted room (the rest is the store's SfuRoom).
  struct Hosted {
    RoomMedia* media = nullptr;
    std::string attachment;                     // its key in attached_
    std::map<std::string, Pending> publishing;  // publishes the media is answering
    std::map<std::string, Pending> answering;   // subscriber answers the media is applying
    std::map<std::string, RoomTime> offered_at;  // subscribers with an offer out, since
    std::map<std::string, unsigned> publish_candidates, subscribe_candidates;
  };

  const Attachment* attachment_for(const std::string& room) const;
  Hosted& hosted(const RoomRecord& room) { return hosted_.at(room.name); }
  // The room of a media callback, unless it is gone or was replaced meanwhile.
  RoomRecord* live_room(const std::string& name, uint64_t serial);

  void published(const std::string& name, uint64_t room_serial, const std::string& peer,
                 uint64_t serial, RoomMedia::PublishResult result);
  void answered(const std::string& name, uint64_t room_serial, const std::string& peer,
                uint64_t negotiation, const std::string& error);
  void announce_publisher(const RoomRecord& room, const std::string& peer);
  bool cancel_publish(RoomRecord& room, const std::string& peer, const rpc::Error& error);
  bool drop_publisher(RoomRecord& room, const std::string& peer, const std::string& reason);
  bool drop_subscriber(RoomRecord& room, const std::string& peer, const rpc::Error& answer_error,
                       const std::optional<rpc::Error>& note);
  void end_publish(const std::string& name, const std::string& peer, const std::string& reason,
                   const std::string& message);

  // Offers (and codec mismatch errors) for every room that changed.
  void drive_offers();
  void drive(const std::string& name);
  void offer_made(const std::string& name, uint64_t room_serial, const SfuOffer& offer,
                  const std::string& sdp, const std::string& error);

  RoomContext& ctx_;
  std::map<std::string, Attachment> attached_;  // "" = every room not attached by name
  std::map<std::string, Hosted> hosted_;        // by room name
  uint64_t next_serial_ = 1;
  std::set<std::string> to_drive_;  // rooms whose subscribers may need offers
  bool driving_ = false;
  // Media callbacks hold a weak_ptr: after the controller is gone they do nothing.
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

}  // namespace rtcmesh::sig
