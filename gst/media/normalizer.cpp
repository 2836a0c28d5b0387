#include "gst/media/normalizer.h"

#include <gst/rtp/rtp.h>

#include "gst/common/debug.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

struct Normalizer::State {
  CapsPtr caps;
  guint8 pt;
};

namespace {

bool rewrite(GstBuffer** buffer, guint8 pt) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(*buffer, GST_MAP_READ, &rtp)) return false;
  bool same = gst_rtp_buffer_get_payload_type(&rtp) == pt;
  gst_rtp_buffer_unmap(&rtp);
  if (same) return true;  // nothing to copy
  *buffer = gst_buffer_make_writable(*buffer);
  if (!gst_rtp_buffer_map(*buffer, GST_MAP_READWRITE, &rtp)) return false;
  gst_rtp_buffer_set_payload_type(&rtp, pt);
  gst_rtp_buffer_unmap(&rtp);
  return true;
}

// Our caps, keeping the stream's own ssrc and offsets.
GstCaps* negotiated_caps(const GstCaps* ours, GstCaps* theirs) {
  GstCaps* caps = gst_caps_copy(ours);
  GstStructure* to = gst_caps_get_structure(caps, 0);
  const GstStructure* from = gst_caps_get_structure(theirs, 0);
  for (const char* field : {"ssrc", "timestamp-offset", "seqnum-offset"})
    if (const GValue* v = gst_structure_get_value(from, field)) gst_structure_set_value(to, field, v);
  return caps;
}

GstPadProbeReturn probe(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* state = static_cast<std::shared_ptr<Normalizer::State>*>(data)->get();
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    auto* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    if (!rewrite(&buffer, state->pt)) return GST_PAD_PROBE_DROP;
    GST_PAD_PROBE_INFO_DATA(info) = buffer;
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList* list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
    gst_buffer_list_foreach(
        list,
        [](GstBuffer** buffer, guint, gpointer pt) -> gboolean {
          rewrite(buffer, guint8(GPOINTER_TO_UINT(pt)));
          return TRUE;
        },
        GUINT_TO_POINTER(state->pt));
    GST_PAD_PROBE_INFO_DATA(info) = list;
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
    GstCaps* theirs;
    gst_event_parse_caps(event, &theirs);
    GstCaps* caps = negotiated_caps(state->caps.get(), theirs);
    gst_event_unref(event);
    GST_PAD_PROBE_INFO_DATA(info) = gst_event_new_caps(caps);
    gst_caps_unref(caps);
  }
  return GST_PAD_PROBE_OK;
}

}  // namespace

Normalizer::Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name)
    : bin_(bin), state_(std::make_shared<State>()) {
  state_->caps = CapsPtr(gst_caps_copy(negotiated));
  gint pt = 0;
  gst_structure_get_int(gst_caps_get_structure(negotiated, 0), "payload", &pt);
  state_->pt = guint8(pt);
  element_ = gst_element_factory_make("identity", name.c_str());
  g_object_set(element_, "silent", TRUE, nullptr);
  gst_bin_add(bin, element_);
  sink_ = adopt(gst_element_get_static_pad(element_, "sink"));
  src_ = adopt(gst_element_get_static_pad(element_, "src"));
  gst_pad_add_probe(src_.get(),
                    GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                    GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                    probe, new std::shared_ptr<State>(state_),
                    [](gpointer d) { delete static_cast<std::shared_ptr<State>*>(d); });
  gst_element_sync_state_with_parent(element_);
}

Normalizer::~Normalizer() {
  gst_element_set_state(element_, GST_STATE_NULL);
  gst_bin_remove(bin_, element_);
}

}  // namespace rtcmesh::media
