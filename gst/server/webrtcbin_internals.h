// webrtcbin internals: → Peer. The room hosts' last reaches past Peer into
// webrtcbin's children and transceivers, gathered here so that the Peer
// boundary (issue 10, point 3: Peer is the only code naming webrtcbin) can
// replace each function by a Peer method and delete this file.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <string>

#include "gst/peer/peer.h"

namespace rtcmesh::server {

// webrtcbin internals: → Peer. A publisher connection forwards at once: the
// pass-through jitterbuffer in its rtpbin, and retransmission requests for
// every stream (webrtcbin only turns them on for an SSRC the offer lists).
void forward_without_jitterbuffer(peer::Peer& peer);

// webrtcbin internals: → Peer. Packets the connection's rtprtxsend resent
// (answers to NACKs). Walks webrtcbin's children, taking their locks: not
// under a lock that webrtcbin's pad-added waits for.
guint64 retransmissions(peer::Peer& peer);

// webrtcbin internals: → Peer. The mid of the transceiver a src pad belongs to
// ("" when unknown).
std::string transceiver_mid(GstWebRTCRTPTransceiver* transceiver);

// webrtcbin internals: → Peer. The send direction of the transceiver behind
// a webrtcbin sink pad: sendonly, or inactive in the next offer.
void set_sending(GstPad* webrtc_sink, bool sending);

// webrtcbin internals: → Peer. Whether a bus message comes from this
// connection's webrtcbin or one of its children.
bool comes_from(GstMessage* message, const peer::Peer& peer);

}  // namespace rtcmesh::server
