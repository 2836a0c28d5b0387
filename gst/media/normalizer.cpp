#include "gst/media/normalizer.h"

#include <gst/rtp/rtp.h>

#include <atomic>

#include "gst/common/debug.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

// Byte 1 of an RTP header holds the marker bit and the payload type: one
// byte read tells whether anything needs rewriting at all.
bool has_pt(GstBuffer* buffer, guint8 pt) {
  guint8 byte1;
  return gst_buffer_extract(buffer, 1, &byte1, 1) == 1 && (byte1 & 0x7f) == pt;
}

// Sets the payload type of a writable buffer (copying the header memory if
// it is shared); false when it is not RTP.
bool set_pt(GstBuffer* buffer, guint8 pt) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READWRITE, &rtp)) return false;
  gst_rtp_buffer_set_payload_type(&rtp, pt);
  gst_rtp_buffer_unmap(&rtp);
  return true;
}

}  // namespace

// A two-pad element rather than a probe on a stock one: caps must be replaced
// before anything downstream sees them (basetransform elements would
// negotiate the stream's own caps first), and a connection's flow errors must
// stop here instead of travelling up the fan-out queue into the shared tee.
struct RtcNormalizer {
  GstElement parent;
  GstPad* sink;
  GstPad* src;
  GstCaps* caps;  // negotiated, fixed
  guint8 pt;
  std::atomic<bool> warned;
};
struct RtcNormalizerClass {
  GstElementClass parent_class;
};

G_DEFINE_TYPE(RtcNormalizer, rtc_normalizer, GST_TYPE_ELEMENT)

// What the connection's refusal means for the shared stream: nothing.
static GstFlowReturn shield(RtcNormalizer* self, GstFlowReturn ret) {
  if (ret >= GST_FLOW_OK) return ret;
  // FLUSHING too stays here: it is the connection going to NULL while its
  // branch still holds data. Passed up, it would pause the branch queue, whose
  // sink then answers the shared tee FLUSHING, and the tee stops the stream
  // for every connection (seen with 50 viewers when one left). Upstream
  // flushes are handled by that queue itself.
  if (ret != GST_FLOW_FLUSHING && !self->warned.exchange(true))
    GST_WARNING_OBJECT(self, "connection refused data (%s); dropping its packets",
                       gst_flow_get_name(ret));
  return GST_FLOW_OK;
}

static GstFlowReturn normalizer_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  if (!has_pt(buffer, self->pt)) {
    buffer = gst_buffer_make_writable(buffer);
    if (!set_pt(buffer, self->pt)) {
      gst_buffer_unref(buffer);
      return GST_FLOW_OK;
    }
  }
  return shield(self, gst_pad_push(self->src, buffer));
}

// The payloader's lists (the packets of one NAL unit) stay lists: webrtcbin's
// send path (rtpsession, rtprtxsend, rtpfunnel, srtpenc, nicesink) takes
// them whole, one pass per element for all the packets instead of one per
// packet.
static GstFlowReturn normalizer_chain_list(GstPad*, GstObject* parent, GstBufferList* list) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  guint n = gst_buffer_list_length(list);
  guint i = 0;
  while (i < n && has_pt(gst_buffer_list_get(list, i), self->pt)) i++;
  if (i < n) {
    // Another payload type (or not RTP at all): copy the headers from here on.
    list = gst_buffer_list_make_writable(list);
    while (i < n) {
      if (set_pt(gst_buffer_list_get_writable(list, i), self->pt)) {
        i++;
      } else {
        gst_buffer_list_remove(list, i, 1);
        n--;
      }
    }
    if (n == 0) {
      gst_buffer_list_unref(list);
      return GST_FLOW_OK;
    }
  }
  return shield(self, gst_pad_push_list(self->src, list));
}

static gboolean normalizer_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
    // Our caps, keeping the stream's own ssrc and offsets.
    GstCaps* theirs;
    gst_event_parse_caps(event, &theirs);
    GstCaps* caps = gst_caps_copy(self->caps);
    GstStructure* to = gst_caps_get_structure(caps, 0);
    const GstStructure* from = gst_caps_get_structure(theirs, 0);
    for (const char* field : {"ssrc", "timestamp-offset", "seqnum-offset"})
      if (const GValue* v = gst_structure_get_value(from, field))
        gst_structure_set_value(to, field, v);
    gst_event_unref(event);
    event = gst_event_new_caps(caps);
    gst_caps_unref(caps);
  }
  gst_pad_push_event(self->src, event);
  return TRUE;  // a connection refusing an event is its own problem
}

static gboolean normalizer_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  // Whatever the shared stream's caps, we turn them into the negotiated ones.
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    gst_query_set_accept_caps_result(query, TRUE);
    return TRUE;
  }
  if (GST_QUERY_TYPE(query) == GST_QUERY_CAPS) {
    GstCaps* filter;
    gst_query_parse_caps(query, &filter);
    GstCaps* any = gst_caps_new_empty_simple("application/x-rtp");
    gst_query_set_caps_result(query, any);
    gst_caps_unref(any);
    return TRUE;
  }
  return gst_pad_query_default(pad, parent, query);
}

static void rtc_normalizer_finalize(GObject* object) {
  gst_caps_replace(&reinterpret_cast<RtcNormalizer*>(object)->caps, nullptr);
  G_OBJECT_CLASS(rtc_normalizer_parent_class)->finalize(object);
}

static GstStaticPadTemplate normalizer_sink = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("application/x-rtp"));
static GstStaticPadTemplate normalizer_src = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("application/x-rtp"));

static void rtc_normalizer_class_init(RtcNormalizerClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = rtc_normalizer_finalize;
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(element_class, &normalizer_sink);
  gst_element_class_add_static_pad_template(element_class, &normalizer_src);
  gst_element_class_set_static_metadata(
      element_class, "RTP normalizer (internal)", "Filter/Network/RTP",
      "Rewrites one connection's payload type and caps", "rtcmesh");
}

static void rtc_normalizer_init(RtcNormalizer* self) {
  self->sink = gst_pad_new_from_static_template(&normalizer_sink, "sink");
  gst_pad_set_chain_function(self->sink, normalizer_chain);
  gst_pad_set_chain_list_function(self->sink, normalizer_chain_list);
  gst_pad_set_event_function(self->sink, normalizer_event);
  gst_pad_set_query_function(self->sink, normalizer_query);
  GST_PAD_SET_PROXY_ALLOCATION(self->sink);
  gst_element_add_pad(GST_ELEMENT(self), self->sink);
  self->src = gst_pad_new_from_static_template(&normalizer_src, "src");
  gst_element_add_pad(GST_ELEMENT(self), self->src);
  self->caps = nullptr;
  self->pt = 0;
  self->warned = false;
}

Normalizer::Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name)
    : bin_(bin) {
  element_ = GST_ELEMENT(g_object_new(rtc_normalizer_get_type(), "name", name.c_str(), nullptr));
  auto* self = reinterpret_cast<RtcNormalizer*>(element_);
  self->caps = gst_caps_copy(negotiated);
  gint pt = 0;
  gst_structure_get_int(gst_caps_get_structure(negotiated, 0), "payload", &pt);
  self->pt = guint8(pt);
  gst_bin_add(bin, element_);
  sink_ = retain(self->sink);
  src_ = retain(self->src);
  gst_element_sync_state_with_parent(element_);
}

Normalizer::~Normalizer() {
  gst_element_set_state(element_, GST_STATE_NULL);
  gst_bin_remove(bin_, element_);
}

}  // namespace rtcmesh::media
