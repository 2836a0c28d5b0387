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

constexpr const char* kDataPadText = "rtcmesh-data-text";

gboolean data_pad_event(GstPad* pad, GstObject*, GstEvent* event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
    GstCaps* caps = nullptr;
    gst_event_parse_caps(event, &caps);
    bool text = caps && !gst_caps_is_empty(caps) &&
                gst_structure_has_name(gst_caps_get_structure(caps, 0), "text/x-raw");
    g_object_set_data(G_OBJECT(pad), kDataPadText, GINT_TO_POINTER(text));
  }
  gst_event_unref(event);  // nothing is downstream of it
  return TRUE;
}

gboolean data_pad_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_CAPS || GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS)
    return gst_pad_query_default(pad, parent, query);  // the template's: anything
  return FALSE;  // the default would forward it to the element's src pads
}

GstFlowReturn data_pad_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer) {
  GstMapInfo map;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    std::string data(reinterpret_cast<const char*>(map.data), map.size);
    gst_buffer_unmap(buffer, &map);
    send(GST_ELEMENT(parent), nullptr, std::move(data),
         g_object_get_data(G_OBJECT(pad), kDataPadText) != nullptr, true);
  }
  gst_buffer_unref(buffer);
  return GST_FLOW_OK;
}

bool is_data_pad_template(GstPadTemplate* templ) {
  return g_str_equal(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "data_%u");
}

bool is_data_pad(GstPad* pad) {
  GstPadTemplate* templ = GST_PAD_PAD_TEMPLATE(pad);
  return templ && is_data_pad_template(templ);
}

GstPad* request_data_pad(GstElement* element, GstPadTemplate* templ, const gchar* name) {
  std::string pad_name;
  if (name) {
    pad_name = name;
  } else {
    GST_OBJECT_LOCK(element);
    for (guint i = 0; pad_name.empty(); i++) {
      std::string candidate = "data_" + std::to_string(i);
      bool taken = false;
      for (GList* l = element->sinkpads; l && !taken; l = l->next)
        taken = candidate == GST_PAD_NAME(l->data);
      if (!taken) pad_name = candidate;
    }
    GST_OBJECT_UNLOCK(element);
  }
  GstPad* pad = gst_pad_new_from_template(templ, pad_name.c_str());
  gst_pad_set_chain_function(pad, data_pad_chain);
  gst_pad_set_event_function(pad, data_pad_event);
  gst_pad_set_query_function(pad, data_pad_query);
  gst_pad_set_active(pad, TRUE);
  if (!gst_element_add_pad(element, pad)) return nullptr;  // the name is taken
  return pad;
}

void release_data_pad(GstElement* element, GstPad* pad) {
  gst_pad_set_active(pad, FALSE);
  gst_element_remove_pad(element, pad);
}

// The class's own request_new_pad and release_pad, kept by add_data_pads.
struct PadFunctions {
  GstPad* (*request)(GstElement*, GstPadTemplate*, const gchar*, const GstCaps*);
  void (*release)(GstElement*, GstPad*);
};

GQuark pad_functions_quark() {
  static GQuark q = g_quark_from_static_string("rtcmesh-pad-functions");
  return q;
}

const PadFunctions* own_pad_functions(GstElement* element) {
  for (GType t = G_OBJECT_TYPE(element); t; t = g_type_parent(t))
    if (auto* f = static_cast<const PadFunctions*>(g_type_get_qdata(t, pad_functions_quark())))
      return f;
  return nullptr;
}

GstPad* request_pad(GstElement* element, GstPadTemplate* templ, const gchar* name,
                    const GstCaps* caps) {
  if (is_data_pad_template(templ)) return request_data_pad(element, templ, name);
  const PadFunctions* own = own_pad_functions(element);
  return own && own->request ? own->request(element, templ, name, caps) : nullptr;
}

void release_pad(GstElement* element, GstPad* pad) {
  if (is_data_pad(pad)) return release_data_pad(element, pad);  // no track: connections stay
  const PadFunctions* own = own_pad_functions(element);
  if (own && own->release) own->release(element, pad);
}

}  // namespace

void add_data_pads(GstElementClass* klass) {
  gst_element_class_add_pad_template(
      klass, gst_pad_template_new("data_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_CAPS_ANY));
  // Classes live as long as the process; so does this.
  g_type_set_qdata(G_TYPE_FROM_CLASS(klass), pad_functions_quark(),
                   new PadFunctions{klass->request_new_pad, klass->release_pad});
  klass->request_new_pad = request_pad;
  klass->release_pad = release_pad;
}

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
