#include "gst/server/webrtcbin_internals.h"

#include "gst/common/element_util.h"
#include "gst/media/jitter_passthrough.h"

namespace rtcmesh::server {

void forward_without_jitterbuffer(peer::Peer& peer) {
  // webrtcbin internals: → Peer (rtpbin's request-jitterbuffer).
  media::use_passthrough_jitterbuffer(peer.webrtcbin());
  // webrtcbin turns retransmission on only for an SSRC the offer lists
  // (a=ssrc); publishers that leave it out (rtcwhipsink does) would get no
  // NACK. Every transceiver has do-nack, so every stream asks.
  // webrtcbin internals: → Peer (rtpbin's new-jitterbuffer).
  GPtr<GstElement> rtpbin = adopt(gst_bin_get_by_name(GST_BIN(peer.webrtcbin()), "rtpbin"));
  g_signal_connect(rtpbin.get(), "new-jitterbuffer",
                   G_CALLBACK(+[](GstElement*, GstElement* jitterbuffer, guint, guint, gpointer) {
                     g_object_set(jitterbuffer, "do-retransmission", TRUE, nullptr);
                   }),
                   nullptr);
}

guint64 retransmissions(peer::Peer& peer) {
  // webrtcbin internals: → Peer (the rtprtxsend walk).
  guint64 total = 0;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(peer.webrtcbin()));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&v));
    GstElementFactory* f = gst_element_get_factory(e);
    if (f && g_strcmp0(GST_OBJECT_NAME(f), "rtprtxsend") == 0) {
      guint n = 0;
      g_object_get(e, "num-rtx-packets", &n, nullptr);
      total += n;
    }
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return total;
}

std::string transceiver_mid(GstWebRTCRTPTransceiver* transceiver) {
  // webrtcbin internals: → Peer (the transceiver's mid).
  gchar* mid = nullptr;
  if (transceiver) g_object_get(transceiver, "mid", &mid, nullptr);
  std::string out = mid ? mid : "";
  g_free(mid);
  return out;
}

void set_sending(GstPad* webrtc_sink, bool sending) {
  // webrtcbin internals: → Peer (the transceiver's direction).
  GstWebRTCRTPTransceiver* trans = nullptr;
  g_object_get(webrtc_sink, "transceiver", &trans, nullptr);
  if (!trans) return;
  g_object_set(trans, "direction",
               sending ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY
                       : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_INACTIVE,
               nullptr);
  gst_object_unref(trans);
}

bool comes_from(GstMessage* message, const peer::Peer& peer) {
  // webrtcbin internals: → Peer (bus messages matched against the webrtcbin).
  return is_from(message, peer.webrtcbin());
}

}  // namespace rtcmesh::server
