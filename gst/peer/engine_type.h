// The values of rtcsfu's "engine" property (issue 17): what serves a
// subscriber connection, a webrtcbin per subscriber (a Peer) or the native
// egress engine (gst/engine). Registered here because only gst/peer names
// webrtcbin (tests/unit/layering_test.py).
#pragma once

#include <glib-object.h>

namespace rtcmesh::peer {

enum class SubscriberEngine { kWebrtcbin = 0, kNative = 1 };

// GEnum "RtcSfuEngine": webrtcbin, native.
GType subscriber_engine_get_type();

}  // namespace rtcmesh::peer
