#include "gst/peer/sent_tracks.h"

#include <gst/sdp/sdp.h>

namespace rtcmesh::peer {

SentTracks::~SentTracks() {
  for (auto& t : tracks_)
    if (t.branch >= 0) t.input->fanout()->detach(t.branch);
}

void SentTracks::add(media::SendInput* input, const GstCaps* caps, bool sendrecv,
                     bool announce_ssrc) {
  GstPad* pad = peer_.add_send_track(caps, sendrecv);
  const std::string name = peer_.name() + "-" + input->name();
  // The forwarding normalizer owns the stream's SSRC and puts it in its caps
  // before any packet flows: webrtcbin's offer then has a=ssrc.
  Track t{input, announce_ssrc ? std::make_unique<media::Normalizer>(
                                     bin_, caps, name, media::Normalizer::Forwarding{g_random_int()})
                               : std::make_unique<media::Normalizer>(bin_, caps, name)};
  if (gst_pad_link(t.normalizer->src_pad(), pad) != GST_PAD_LINK_OK)
    throw std::runtime_error("cannot link " + input->name() + " into " + peer_.name());
  t.branch = input->fanout()->attach(t.normalizer->sink_pad());
  tracks_.push_back(std::move(t));
}

void SentTracks::offer(const std::vector<media::SendInput*>& inputs, bool sendrecv,
                       bool announce_ssrc) {
  for (media::SendInput* in : inputs) add(in, in->offer_caps().get(), sendrecv, announce_ssrc);
}

void SentTracks::answer(const std::vector<media::SendInput*>& inputs,
                        const std::string& remote_offer, bool sendrecv) {
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new(&sdp);
  gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(remote_offer.data()),
                               remote_offer.size(), sdp);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> hold(sdp, gst_sdp_message_free);
  std::vector<media::SendInput*> unused = inputs;
  std::string ours;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    const GstSDPMedia* m = gst_sdp_message_get_media(sdp, i);
    for (auto it = unused.begin(); it != unused.end(); ++it) {
      media::SendInput* in = *it;
      if (g_strcmp0(gst_sdp_media_get_media(m), media::kind_name(in->kind())) != 0) continue;
      const char* codec = media::codec_info(*in->codec()).name;
      CapsPtr caps = media::offered_caps(m, *in->codec());
      if (!caps) {
        if (ours.find(codec) == std::string::npos) ours += (ours.empty() ? "" : ", ") + std::string(codec);
        continue;
      }
      add(in, caps.get(), sendrecv);
      unused.erase(it);
      break;
    }
  }
  if (tracks_.empty() && !inputs.empty())
    throw NoCommonCodec("no common codec: we send " +
                        (ours.empty() ? std::string("nothing the offer asks for") : ours));
}

void SentTracks::request_keyframes() {
  for (auto& t : tracks_)
    if (t.input->kind() == media::Kind::kVideo) t.input->fanout()->request_keyframe(0);
}

}  // namespace rtcmesh::peer
