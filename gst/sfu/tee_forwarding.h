// Today's forwarding path (DESIGN §8, "SFU forward"): a subscriber connection
// is a webrtcbin (a Peer) whose sending transceivers are the slots; each slot
// is a forwarding Normalizer (the slot's payload type and SSRC, sequence and
// timestamps continued across sources) linked into the transceiver's sink
// pad, fed by one branch (leaky queue) of its Source's tee.
#pragma once

#include <memory>
#include <vector>

#include "gst/media/normalizer.h"
#include "gst/peer/peer.h"
#include "gst/sfu/forwarding_path.h"

namespace rtcmesh::sfu {

class TeeForwardingPath : public ForwardingPath {
 public:
  // The Peer must live in `bin`.
  TeeForwardingPath(GstBin* bin, std::unique_ptr<peer::Peer> peer)
      : bin_(bin), peer_(std::move(peer)) {}
  // Over a connection someone else owns and that goes on after this path
  // (a POST /rtc participant's): its "rtcmesh" channel carries the room
  // protocol, so the room's data goes on "rtcmesh-data" (reliable) and
  // "rtcmesh-unreliable" (docs/protocol.md).
  TeeForwardingPath(GstBin* bin, std::shared_ptr<peer::Peer> shared)
      : bin_(bin), peer_(std::move(shared)), room_data_(false) {}
  ~TeeForwardingPath() override;

  size_t slot_count() const override { return slots_.size(); }
  void add_slot(media::Codec codec, Source* source, const GstCaps* caps) override;
  void feed(size_t index, Source* source) override;
  void set_sending(size_t index, bool sending) override;
  bool end_stream() override;

  const std::string& name() const override { return peer_->name(); }
  void make_offer(SdpDone done) override { peer_->make_offer(std::move(done)); }
  void accept_answer(const std::string& sdp,
                     std::function<void(const std::string& error)> done) override {
    peer_->accept_answer(sdp, std::move(done));
  }
  void answer_offer(const std::string& offer, SdpDone done) override {
    peer_->answer_offer(offer, std::move(done));
  }
  void add_remote_candidate(guint mline, const std::string& candidate) override {
    peer_->add_remote_candidate(mline, candidate);
  }
  bool is_connected() const override { return peer_->is_connected(); }
  void enable_data_channels() override { peer_->enable_data_channels(); }
  bool send_data(std::string data, bool text, bool reliable) override {
    if (!room_data_)
      return peer_->send_data_on(reliable ? peer::Peer::kRoomDataLabel : peer::Peer::kUnreliableLabel,
                                 std::move(data), text);
    return peer_->send_data(std::move(data), text, reliable);
  }
  StructurePtr stats() const override { return peer_->stats(); }
  guint64 retransmissions() override;
  bool posted(GstMessage* message) const override;

 private:
  struct Slot {
    GstPad* sink = nullptr;  // webrtcbin's, owned by it
    std::unique_ptr<media::Normalizer> normalizer;
    Source* source = nullptr;
    int branch = -1;  // of source's FanOut
  };
  void attach(Slot& slot, Source* source);
  void detach(Slot& slot);

  GstBin* bin_;
  std::shared_ptr<peer::Peer> peer_;
  bool room_data_ = true;
  std::vector<Slot> slots_;
};

// The factory of TeeForwardingPaths: a Peer per connection, in `bin`.
PathFactory tee_forwarding(GstBin* bin, Worker& worker,
                           std::function<peer::IceSettings()> ice,
                           std::function<GstClockTime()> peer_timeout);

}  // namespace rtcmesh::sfu
