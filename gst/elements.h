// Registers every rtcmesh element with a plugin. The shared plugin calls it from
// plugin_init; tests and tools call rtcmesh_register_static() instead so that
// they never load libgstrtcmesh.so (duplicate GTypes abort).
#pragma once

#include <gst/gst.h>

// What the plugin holds, for gst-inspect-1.0: only what is built.
#define RTCMESH_PLUGIN_DESCRIPTION \
  "WebRTC for pipelines: WHIP and WHEP clients and servers, mesh, SFU and MCU rooms"

G_BEGIN_DECLS
gboolean rtcmesh_register_elements(GstPlugin* plugin);
// Registers the plugin statically in this process (idempotent).
gboolean rtcmesh_register_static(void);
G_END_DECLS
