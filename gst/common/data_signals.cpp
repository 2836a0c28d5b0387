#include "gst/common/data_signals.h"

namespace rtcmesh {

namespace {

GQuark send_quark() {
  static GQuark q = g_quark_from_static_string("rtcmesh-send-data");
  return q;
}

gboolean send(GstElement* element, const gchar* to, std::string data, bool text, bool reliable) {
  if (data.size() > kMaxDataMessage) {
    GST_ELEMENT_WARNING(element, RESOURCE, WRITE, ("data message not sent"),
                        ("%zu bytes, over the limit of %zu", data.size(),
                         kMaxDataMessage));
    return FALSE;
  }
  auto fn = reinterpret_cast<SendData>(g_type_get_qdata(G_OBJECT_TYPE(element), send_quark()));
  return fn ? fn(element, to ? to : "", std::move(data), text, reliable) : FALSE;
}

gboolean send_string(GstElement* element, const gchar* to, const gchar* text, gboolean reliable) {
  return send(element, to, text ? text : "", true, reliable);
}

gboolean send_bytes(GstElement* element, const gchar* to, GBytes* bytes, gboolean reliable) {
  gsize size = 0;
  const char* data = bytes ? static_cast<const char*>(g_bytes_get_data(bytes, &size)) : nullptr;
  return send(element, to, std::string(data ? data : "", size), false, reliable);
}

}  // namespace

guint install_data_signals(GObjectClass* klass, SendData send_fn) {
  GType type = G_TYPE_FROM_CLASS(klass);
  g_type_set_qdata(type, send_quark(), reinterpret_cast<gpointer>(send_fn));
  g_signal_new_class_handler("send-string", type,
                             GSignalFlags(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
                             G_CALLBACK(send_string), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 3,
                             G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
  g_signal_new_class_handler("send-data", type, GSignalFlags(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
                             G_CALLBACK(send_bytes), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 3,
                             G_TYPE_STRING, G_TYPE_BYTES, G_TYPE_BOOLEAN);
  return g_signal_new("data-received", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                      G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BYTES, G_TYPE_BOOLEAN);
}

void emit_data_received(GstElement* element, guint signal, const std::string& from,
                        const std::string& label, const std::string& data, bool text) {
  GBytes* bytes = g_bytes_new(data.data(), data.size());
  g_signal_emit(element, signal, 0, from.c_str(), label.c_str(), bytes, gboolean(text));
  g_bytes_unref(bytes);
}

}  // namespace rtcmesh
