// Plugin registration, nothing else: the elements live in the static library.
#include "gst/elements.h"

static gboolean plugin_init(GstPlugin* plugin) { return rtcmesh_register_elements(plugin); }

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, rtcmesh, RTCMESH_PLUGIN_DESCRIPTION,
                  plugin_init, "0.1.0", "LGPL", "rtcmesh", "https://example.invalid/rtcmesh")
