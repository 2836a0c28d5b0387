// Debug categories: one per element plus the shared layers (GST_DEBUG=rtc*:5).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
GST_DEBUG_CATEGORY_EXTERN(rtcmesh_debug);
GST_DEBUG_CATEGORY_EXTERN(rtcpeer_debug);
GST_DEBUG_CATEGORY_EXTERN(rtcmedia_debug);
G_END_DECLS

namespace rtcmesh {
// Idempotent; called from plugin registration and by anything used without it.
void init_debug();
}  // namespace rtcmesh
