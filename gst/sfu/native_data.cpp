// The native forwarding path's data channels (issue 17): the room's data on a
// JSON-RPC subscriber's connection, over the engine's SCTP (gst/engine/sctp.h)
// as rtcsfu does over webrtcbin's: our offer carries an application m-line,
// the answer's a=sctp-port tells the remote port, and once the association
// is up we open "rtcmesh" (reliable) and "rtcmesh-unreliable" (unordered,
// max-retransmits 0). What the subscriber sends on them reaches the room's
// relay with the channel's label.
#include <gst/sdp/sdp.h>

#include "gst/peer/peer.h"
#include "gst/sfu/native_forwarding.h"

namespace rtcmesh::sfu {

namespace {
constexpr const char* kDataMid = "data";
}

std::function<void(engine::SessionId, const engine::DataChannelMessage&)> NativeEgress::data_event(
    std::shared_ptr<Alive> alive) {
  // An engine thread: copy, then hop to the element's worker.
  return [alive](engine::SessionId id, const engine::DataChannelMessage& m) {
    std::shared_lock hold(alive->lock);
    NativeEgress* e = alive->egress;
    if (!e) return;
    std::optional<Listener> l = e->listener_of(id);
    if (!l || !l->events.data) return;
    e->worker_->post([cb = l->events.data, message = peer::DataMessage{m.label, m.data, m.text}] { cb(message); });
  };
}

void NativeForwardingPath::add_data_media(GstSDPMessage* sdp, std::string* bundle) const {
  GstSDPMedia* m = native_media("application", "UDP/DTLS/SCTP");
  gst_sdp_media_add_format(m, "webrtc-datachannel");
  gst_sdp_media_add_attribute(m, "mid", kDataMid);
  gst_sdp_media_add_attribute(m, "ice-ufrag", local_.ufrag.c_str());
  gst_sdp_media_add_attribute(m, "ice-pwd", local_.pwd.c_str());
  gst_sdp_media_add_attribute(m, "fingerprint", egress_.engine().fingerprint().c_str());
  gst_sdp_media_add_attribute(m, "setup", "actpass");
  gst_sdp_media_add_attribute(m, "sctp-port", "5000");
  std::string max = std::to_string(engine::SctpAssociation::kMaxMessageSize);
  gst_sdp_media_add_attribute(m, "max-message-size", max.c_str());
  gst_sdp_message_add_media(sdp, m);
  gst_sdp_media_free(m);
  *bundle += std::string(" ") + kDataMid;
}

void NativeForwardingPath::read_data_answer(const GstSDPMessage* answer, engine::Engine::RemoteParams* remote) {
  answered_ = true;
  if (data_mline_ < 0 || guint(data_mline_) >= gst_sdp_message_medias_len(answer)) return;
  const GstSDPMedia* m = gst_sdp_message_get_media(answer, guint(data_mline_));
  const char* kind = gst_sdp_media_get_media(m);
  if (!kind || !g_str_equal(kind, "application") || gst_sdp_media_get_port(m) == 0) return;
  guint64 port = 5000;
  if (const char* p = gst_sdp_media_get_attribute_val(m, "sctp-port"))
    if (!g_ascii_string_to_unsigned(p, 10, 1, 65535, &port, nullptr)) return;
  data_negotiated_ = true;
  remote->sctp_port = guint16(port);
  remote->channels = {{peer::Peer::kReliableLabel, true}, {peer::Peer::kUnreliableLabel, false}};
}

bool NativeForwardingPath::send_data(std::string data, bool text, bool reliable) {
  // Queued by the engine until the association is up; refused when the
  // subscriber's answer had no data channels.
  if (!data_channels_ || (answered_ && !data_negotiated_)) return false;
  if (data.size() > peer::Peer::kMaxDataMessage) return false;
  egress_.engine().send_data(local_.id, reliable ? peer::Peer::kReliableLabel : peer::Peer::kUnreliableLabel,
                             std::move(data), text);
  return true;
}

}  // namespace rtcmesh::sfu
