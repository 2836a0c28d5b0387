#include "gst/elements.h"

#include <gio/gio.h>
#include <openssl/crypto.h>

#include "gst/common/debug.h"
#include "gst/client/meshbin.h"
#include "gst/mcu/mcu.h"
#include "gst/sfu/sfu.h"
#include "gst/whep/whepsink.h"
#include "gst/whep/whepsrc.h"
#include "gst/whip/whipsink.h"
#include "gst/whip/whipsrc.h"

gboolean rtcmesh_register_elements(GstPlugin* plugin) {
  rtcmesh::init_debug();
  // OpenSSL (our DTLS certificate, webrtcbin's dtls elements) must not tear
  // itself down in an atexit handler while webrtcbin's threads may still
  // use it (an exit-time SIGSEGV in OPENSSL_cleanup): the first init decides.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  // GIO's address types, made here on one thread: our workers first touch
  // them concurrently (a libsoup session's class_init, address parsing), and
  // GLib 2.74 deadlocks when one thread initialises GInetSocketAddress (it
  // adds GSocketAddress's interface under the type locks) while another
  // waits for it inside a class_init (seen: rtcmeshbin's two workers).
  g_type_ensure(G_TYPE_INET_ADDRESS);
  g_type_ensure(G_TYPE_INET_SOCKET_ADDRESS);
  gboolean ok = TRUE;
  ok &= GST_ELEMENT_REGISTER(rtcmeshbin, plugin);
  ok &= GST_ELEMENT_REGISTER(rtcmcu, plugin);
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
    registered =
        gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "rtcmesh",
                                   RTCMESH_PLUGIN_DESCRIPTION, rtcmesh_register_elements, "0.1.0",
                                   "LGPL", "rtcmesh", "rtcmesh", "https://example.invalid/rtcmesh");
  }
  return registered;
}
