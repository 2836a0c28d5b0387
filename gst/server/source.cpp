#include "gst/server/source.h"

#include <stdexcept>

#include "gst/media/util.h"

namespace rtcmesh::server {

Source::Source(GstBin* bin, const std::string& room, std::string publisher, std::string track,
               media::Codec codec, const GstCaps* caps)
    : publisher_(std::move(publisher)), track_(std::move(track)), codec_(codec), bin_(bin) {
  if (caps) caps_.reset(gst_caps_copy(caps));
  // A stable element to fan out from: webrtcbin's src pad only appears with
  // the first packet, subscribers attach before that.
  entry_ = gst_element_factory_make("identity", nullptr);
  if (!entry_) throw std::runtime_error("identity element missing (gstreamer core)");
  g_object_set(entry_, "silent", TRUE, "sync", FALSE, nullptr);
  gst_bin_add(bin_, entry_);
  gst_element_sync_state_with_parent(entry_);
  GPtr<GstPad> src = adopt(gst_element_get_static_pad(entry_, "src"));
  owned_ =
      std::make_unique<media::FanOut>(bin_, src.get(), room + "-" + publisher_ + "-" + track_);
  fanout_ = owned_.get();
}

Source::Source(std::string publisher, std::string track, media::Codec codec, const GstCaps* caps,
               media::FanOut* fanout)
    : publisher_(std::move(publisher)), track_(std::move(track)), codec_(codec), fanout_(fanout) {
  if (caps) caps_.reset(gst_caps_copy(caps));
}

Source::~Source() {
  owned_.reset();
  if (entry_) {
    media::remove_elements(bin_, {entry_});
  }
}

GQuark Source::engine_track_quark() {
  static GQuark quark = g_quark_from_static_string("rtcmesh-engine-track");
  return quark;
}

bool Source::link_input(GstPad* webrtc_src) {
  if (!entry_) return false;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(entry_, "sink"));
  if (gst_pad_link(webrtc_src, sink.get()) != GST_PAD_LINK_OK) return false;
  if (auto* track = static_cast<guint64*>(g_object_get_qdata(G_OBJECT(webrtc_src), engine_track_quark())))
    engine_track_ = *track;
  return true;
}

bool Source::linked() const {
  if (!entry_) return true;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(entry_, "sink"));
  return gst_pad_is_linked(sink.get());
}

void Source::park_input() {
  if (!entry_) return;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(entry_, "sink"));
  GPtr<GstPad> src = adopt(gst_pad_get_peer(sink.get()));
  if (!src) return;
  gst_pad_add_probe(src.get(),
                    GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    [](GstPad*, GstPadProbeInfo*, gpointer) { return GST_PAD_PROBE_DROP; },
                    nullptr, nullptr);
  gst_pad_unlink(src.get(), sink.get());
}

CapsPtr Source::slot_caps(int pt) const {
  CapsPtr caps = media::rtp_caps(codec_, pt);
  GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  // The publisher's stream decides its profile: a subscriber told another
  // one could refuse to decode it.
  if (caps_)
    for (const char* field : {"profile-level-id", "packetization-mode", "profile-id",
                              "level-asymmetry-allowed"})
      if (const GValue* v = gst_structure_get_value(gst_caps_get_structure(caps_.get(), 0), field))
        gst_structure_set_value(s, field, v);
  return caps;
}

}  // namespace rtcmesh::server
