// rtcmeshbin: a participant of an rtcmesh room (JSON-RPC 2.0 over WebSocket,
// docs/protocol.md). In a mesh room it holds one connection per other
// participant: its request pads are encoded once and sent to all of them, and
// every remote track becomes a src pad (or, with compose=true, a tile of the
// composited video_src and a voice in the mixed audio_src). In an SFU room
// (sfu_session.h) it publishes its request pads to the server on one
// connection and receives every other publisher's tracks on another, with the
// same pads (peer-id = the publisher) and publisher-joined/-left signals.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_MESH_BIN (rtc_mesh_bin_get_type())
G_DECLARE_FINAL_TYPE(RtcMeshBin, rtc_mesh_bin, RTC, MESH_BIN, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcmeshbin);
G_END_DECLS
