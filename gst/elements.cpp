#include "gst/elements.h"

#include "gst/common/debug.h"
#include "gst/client/meshbin.h"
#include "gst/sfu/sfu.h"
#include "gst/whep/whepsink.h"
#include "gst/whep/whepsrc.h"
#include "gst/whip/whipsink.h"
#include "gst/whip/whipsrc.h"

gboolean rtcmesh_register_elements(GstPlugin* plugin) {
  rtcmesh::init_debug();
  gboolean ok = TRUE;
  ok &= GST_ELEMENT_REGISTER(rtcmeshbin, plugin);
  ok &= GST_ELEMENT_REGISTER(rtcsfu, plugin);
  ok &= GST_ELEMENT_REGISTER(rtcwhepsink, plugin);
  ok &= GST_ELEMENT_REGISTER(rtcwhepsrc, plugin);
  ok &= GST_ELEMENT_REGISTER(rtcwhipsink, plugin);
  ok &= GST_ELEMENT_REGISTER(rtcwhipsrc, plugin);
  return ok;
}

gboolean rtcmesh_register_static(void) {
  static gboolean registered = FALSE;
  if (!registered) {
    registered = gst_plugin_register_static(
        GST_VERSION_MAJOR, GST_VERSION_MINOR, "rtcmesh",
        "WebRTC rooms for pipelines: WHIP, WHEP, mesh, SFU and MCU", rtcmesh_register_elements,
        "0.1.0", "LGPL", "rtcmesh", "rtcmesh", "https://example.invalid/rtcmesh");
  }
  return registered;
}
