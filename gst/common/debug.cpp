#include "gst/common/debug.h"

GST_DEBUG_CATEGORY(rtcmesh_debug);
GST_DEBUG_CATEGORY(rtcpeer_debug);
GST_DEBUG_CATEGORY(rtcmedia_debug);

namespace rtcmesh {

void init_debug() {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(rtcmesh_debug, "rtcmesh", 0, "rtcmesh common");
    GST_DEBUG_CATEGORY_INIT(rtcpeer_debug, "rtcpeer", 0, "rtcmesh webrtcbin driver");
    GST_DEBUG_CATEGORY_INIT(rtcmedia_debug, "rtcmedia", 0, "rtcmesh media chains");
    g_once_init_leave(&once, 1);
  }
}

}  // namespace rtcmesh
