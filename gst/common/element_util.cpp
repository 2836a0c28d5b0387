#include "gst/common/element_util.h"

#include <gst/webrtc/webrtc.h>

namespace rtcmesh {

bool is_session_failure(GstMessage* message) {
  return GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR;
}

bool is_from(GstMessage* message, GstElement* element) {
  for (GstObject* o = GST_MESSAGE_SRC(message); o; o = GST_OBJECT_PARENT(o))
    if (o == GST_OBJECT(element)) return true;
  return false;
}

std::string message_text(GstMessage* message) {
  GError* err = nullptr;
  gchar* debug = nullptr;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR)
    gst_message_parse_error(message, &err, &debug);
  else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING)
    gst_message_parse_warning(message, &err, &debug);
  std::string text = err ? err->message : "";
  g_clear_error(&err);
  g_free(debug);
  return text;
}

bool drop_internal_eos(GstBin* bin, GstMessage* message) {
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_EOS || GST_MESSAGE_SRC(message) == GST_OBJECT(bin))
    return false;
  gst_message_unref(message);
  return true;
}

static void set_source_flags(GstBin* bin, GstElement* = nullptr, gpointer = nullptr) {
  GST_OBJECT_LOCK(bin);
  GST_OBJECT_FLAG_UNSET(bin, GST_ELEMENT_FLAG_SINK);
  GST_OBJECT_FLAG_SET(bin, GST_ELEMENT_FLAG_SOURCE);
  GST_OBJECT_UNLOCK(bin);
}

void keep_source_flags(GstElement* bin) {
  set_source_flags(GST_BIN(bin));
  // Emitted after gst_bin_add updated the flags.
  g_signal_connect(bin, "element-added", G_CALLBACK(set_source_flags), nullptr);
  g_signal_connect(bin, "element-removed", G_CALLBACK(set_source_flags), nullptr);
}

void add_rtp_totals(GstStructure* out, const GstStructure* stats) {
  guint64 packets_sent = 0, bytes_sent = 0, packets_received = 0, bytes_received = 0;
  gint64 packets_lost = 0;
  guint nacks = 0, plis = 0, firs = 0;
  if (stats) {
    for (int i = 0, n = gst_structure_n_fields(stats); i < n; i++) {
      const GValue* v = gst_structure_get_value(stats, gst_structure_nth_field_name(stats, i));
      if (!GST_VALUE_HOLDS_STRUCTURE(v)) continue;
      const GstStructure* s = gst_value_get_structure(v);
      GstWebRTCStatsType type;
      if (!gst_structure_get_enum(s, "type", GST_TYPE_WEBRTC_STATS_TYPE, (gint*)&type)) continue;
      guint64 u64 = 0;
      guint u = 0;
      gint i32 = 0;
      gint64 i64 = 0;
      if (type == GST_WEBRTC_STATS_OUTBOUND_RTP || type == GST_WEBRTC_STATS_INBOUND_RTP) {
        if (gst_structure_get_uint(s, "nack-count", &u)) nacks += u;
        if (gst_structure_get_uint(s, "pli-count", &u)) plis += u;
        if (gst_structure_get_uint(s, "fir-count", &u)) firs += u;
      }
      if (type == GST_WEBRTC_STATS_OUTBOUND_RTP) {
        if (gst_structure_get_uint64(s, "packets-sent", &u64)) packets_sent += u64;
        if (gst_structure_get_uint64(s, "bytes-sent", &u64)) bytes_sent += u64;
      } else if (type == GST_WEBRTC_STATS_INBOUND_RTP) {
        if (gst_structure_get_uint64(s, "packets-received", &u64)) packets_received += u64;
        if (gst_structure_get_uint64(s, "bytes-received", &u64)) bytes_received += u64;
        if (gst_structure_get_int64(s, "packets-lost", &i64)) packets_lost += i64;
        else if (gst_structure_get_int(s, "packets-lost", &i32)) packets_lost += i32;
      }
    }
  }
  gst_structure_set(out, "packets-sent", G_TYPE_UINT64, packets_sent, "bytes-sent", G_TYPE_UINT64,
                    bytes_sent, "packets-received", G_TYPE_UINT64, packets_received,
                    "bytes-received", G_TYPE_UINT64, bytes_received, "packets-lost", G_TYPE_INT64,
                    packets_lost, "nack-count", G_TYPE_UINT, nacks, "pli-count", G_TYPE_UINT, plis,
                    "fir-count", G_TYPE_UINT, firs, nullptr);
}

std::string string_property(gpointer object, const char* name) {
  gchar* v = nullptr;
  g_object_get(object, name, &v, nullptr);
  std::string out = v ? v : "";
  g_free(v);
  return out;
}

}  // namespace rtcmesh
