#include "gst/sfu/forward.h"

#include <stdexcept>

#include "gst/common/debug.h"

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

Source::Source(GstBin* bin, const std::string& room, std::string publisher, std::string track,
               media::Codec codec, const GstCaps* caps)
    : publisher_(std::move(publisher)), track_(std::move(track)), codec_(codec), bin_(bin) {
  if (caps) caps_.reset(gst_caps_copy(caps));
  // A stable element to fan out from: webrtcbin's src pad only appears with
  // the first packet, subscribers attach before that.
  entry_ = gst_element_factory_make("identity", nullptr);
  if (!entry_) throw std::runtime_error("identity element missing (gstreamer core)");
  g_object_set(entry_, "silent", TRUE, "sync", FALSE, nullptr);
  gst_bin_add(bin_, entry_);
  gst_element_sync_state_with_parent(entry_);
  GPtr<GstPad> src = adopt(gst_element_get_static_pad(entry_, "src"));
  owned_ =
      std::make_unique<media::FanOut>(bin_, src.get(), room + "-" + publisher_ + "-" + track_);
  fanout_ = owned_.get();
}

Source::Source(std::string publisher, std::string track, media::Codec codec, const GstCaps* caps,
               media::FanOut* fanout)
    : publisher_(std::move(publisher)), track_(std::move(track)), codec_(codec), fanout_(fanout) {
  if (caps) caps_.reset(gst_caps_copy(caps));
}

Source::~Source() {
  owned_.reset();
  if (entry_) {
    gst_element_set_state(entry_, GST_STATE_NULL);
    gst_bin_remove(bin_, entry_);
  }
}

bool Source::link_input(GstPad* webrtc_src) {
  if (!entry_) return false;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(entry_, "sink"));
  return gst_pad_link(webrtc_src, sink.get()) == GST_PAD_LINK_OK;
}

bool Source::linked() const {
  if (!entry_) return true;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(entry_, "sink"));
  return gst_pad_is_linked(sink.get());
}

CapsPtr Source::slot_caps(int pt) const {
  CapsPtr caps = media::rtp_caps(codec_, pt);
  GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  // The publisher's stream decides its profile: a subscriber told another
  // one could refuse to decode it.
  if (caps_)
    for (const char* field : {"profile-level-id", "packetization-mode", "profile-id",
                              "level-asymmetry-allowed"})
      if (const GValue* v = gst_structure_get_value(gst_caps_get_structure(caps_.get(), 0), field))
        gst_structure_set_value(s, field, v);
  return caps;
}

Subscription::~Subscription() {
  // The connection stops first: no branch thread can then be waiting inside it.
  peer_.reset();
  for (auto& slot : slots_) detach(slot);
  slots_.clear();
}

void Subscription::add_slot(media::Codec codec, Source* source, const GstCaps* caps) {
  Slot slot;
  slot.codec = codec;
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

void Subscription::set_source(size_t index, Source* source, bool inactive) {
  Slot& slot = slots_.at(index);
  if (slot.source != source) {
    detach(slot);
    if (source) {
      slot.normalizer->switch_source();
      attach(slot, source);
    }
  }
  GstWebRTCRTPTransceiver* trans = nullptr;
  g_object_get(slot.sink, "transceiver", &trans, nullptr);
  if (trans) {
    g_object_set(trans, "direction",
                 inactive ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_INACTIVE
                          : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
                 nullptr);
    gst_object_unref(trans);
  }
}

void Subscription::drop_source(Source* source) {
  for (auto& slot : slots_)
    if (slot.source == source) detach(slot);
}

void Subscription::request_keyframes() {
  for (auto& slot : slots_)
    if (slot.source && slot.source->kind() == media::Kind::kVideo) slot.source->request_keyframe();
}

void Subscription::attach(Slot& slot, Source* source) {
  slot.source = source;
  slot.branch = source->fanout().attach(slot.normalizer->sink_pad());
}

void Subscription::detach(Slot& slot) {
  if (slot.source && slot.branch >= 0) slot.source->fanout().detach(slot.branch);
  slot.source = nullptr;
  slot.branch = -1;
}

}  // namespace rtcmesh::sfu
