#include "signaling/log.h"

GST_DEBUG_CATEGORY(rtcsignaling_debug);

namespace rtcmesh::sig {

void init_debug() {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(rtcsignaling_debug, "rtcsignaling", 0,
                            "rtcmesh signaling (HTTP, WHIP/WHEP, SDP)");
    g_once_init_leave(&once, 1);
  }
}

}  // namespace rtcmesh::sig
