// GStreamer debug category of the signaling layer (GST_DEBUG=rtcsignaling:5).
// Kept separate from gst/common so signaling/ does not depend on gst/.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
GST_DEBUG_CATEGORY_EXTERN(rtcsignaling_debug);
G_END_DECLS

namespace rtcmesh::sig {
// Idempotent and thread-safe; every public entry point that logs calls it.
void init_debug();
}  // namespace rtcmesh::sig
