#include "gst/peer/engine_type.h"

namespace rtcmesh::peer {

GType subscriber_engine_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {int(SubscriberEngine::kWebrtcbin), "webrtcbin: a webrtcbin per subscriber", "webrtcbin"},
      {int(SubscriberEngine::kNative), "native: our ICE-lite/DTLS/SRTP engine on one UDP port", "native"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static("RtcSfuEngine", values));
  return type;
}

}  // namespace rtcmesh::peer
