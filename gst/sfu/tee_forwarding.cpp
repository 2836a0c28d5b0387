#include "gst/sfu/tee_forwarding.h"

#include <stdexcept>


namespace rtcmesh::sfu {

int payload_type(media::Codec codec) {
  switch (codec) {
    case media::Codec::kVP8: return 96;
    case media::Codec::kVP9: return 98;
    case media::Codec::kH264: return 102;
    case media::Codec::kOpus: return 111;
  }
  return 96;
}

TeeForwardingPath::~TeeForwardingPath() {
  // The connection stops first: no branch thread can then be waiting inside
  // it (a shared one goes on; its sink pads just stop being fed).
  peer_.reset();
  for (auto& slot : slots_) detach(slot);
  slots_.clear();
}

void TeeForwardingPath::add_slot(media::Codec codec, Source* source, const GstCaps* caps) {
  Slot slot;
  // The slot's own SSRC, in the offer's a=ssrc and in every packet whoever
  // publishes behind it.
  media::Normalizer::Forwarding identity;
  identity.ssrc = g_random_int();
  CapsPtr slot_caps = caps      ? CapsPtr(gst_caps_copy(caps))
                      : source  ? source->slot_caps(payload_type(codec))
                                : media::rtp_caps(codec, payload_type(codec));
  gst_structure_set(gst_caps_get_structure(slot_caps.get(), 0), "ssrc", G_TYPE_UINT,
                    identity.ssrc, nullptr);
  slot.sink = peer_->add_send_track(slot_caps.get(), false);
  if (!slot.sink) throw std::runtime_error("webrtcbin refused a sending transceiver");
  slot.normalizer = std::make_unique<media::Normalizer>(
      bin_, slot_caps.get(), peer_->name() + "-slot" + std::to_string(slots_.size()), identity);
  if (gst_pad_link(slot.normalizer->src_pad(), slot.sink) != GST_PAD_LINK_OK)
    throw std::runtime_error("cannot link a slot into " + peer_->name());
  slots_.push_back(std::move(slot));
  if (source) attach(slots_.back(), source);
}

void TeeForwardingPath::feed(size_t index, Source* source) {
  Slot& slot = slots_.at(index);
  if (slot.source == source) return;
  detach(slot);
  if (source) {
    slot.normalizer->switch_source();
    attach(slot, source);
  }
}

void TeeForwardingPath::set_sending(size_t index, bool sending) {
  peer_->set_send_track_active(slots_.at(index).sink, sending);
}

// EOS into webrtcbin: rtpsession sends RTCP BYE for every SSRC it sends
// (and rtpfunnel passes the first EOS of a bundle on). Pushed from
// GStreamer's thread pool, not the worker: the webrtcbin of a killed player
// can hold a stream lock until it is torn down (its DTLS sender waiting),
// and the worker also serves HTTP (sfu_stress saw the server stop
// answering, the worker blocked here).
bool TeeForwardingPath::end_stream() {
  for (auto& slot : slots_) {
    detach(slot);
    GstPad* pad = slot.normalizer->src_pad();
    GstElement* owner = gst_pad_get_parent_element(pad);
    if (!owner) continue;
    gst_element_call_async(
        owner, +[](GstElement*, gpointer pad) { gst_pad_push_event(GST_PAD(pad), gst_event_new_eos()); },
        gst_object_ref(pad), gst_object_unref);
    gst_object_unref(owner);
  }
  return true;
}

guint64 TeeForwardingPath::retransmissions() {
  return peer_->retransmissions();
}

bool TeeForwardingPath::posted(GstMessage* message) const {
  return peer_->posted(message);
}

void TeeForwardingPath::attach(Slot& slot, Source* source) {
  slot.source = source;
  slot.branch = source->fanout().attach(slot.normalizer->sink_pad());
}

void TeeForwardingPath::detach(Slot& slot) {
  if (slot.source && slot.branch >= 0) slot.source->fanout().detach(slot.branch);
  slot.source = nullptr;
  slot.branch = -1;
}

PathFactory tee_forwarding(GstBin* bin, Worker& worker, std::function<peer::IceSettings()> ice,
                           std::function<GstClockTime()> peer_timeout) {
  return [bin, &worker, ice, peer_timeout](const std::string&, const std::string& name,
                                           ForwardingPath::Events events)
             -> std::unique_ptr<ForwardingPath> {
    peer::PeerEvents peer_events;
    peer_events.connected = std::move(events.connected);
    peer_events.failed = std::move(events.failed);
    peer_events.data = std::move(events.data);
    // A subscriber's own packets never come: its liveness is its RTCP.
    peer_events.remote_pad = [](GstPad*, const std::string&) { return false; };
    return std::make_unique<TeeForwardingPath>(
        bin, std::make_unique<peer::Peer>(bin, worker, name, ice(), peer_timeout(),
                                          std::move(peer_events)));
  };
}

}  // namespace rtcmesh::sfu
