#include "gst/media/received_tracks.h"

#include "gst/common/debug.h"
#include "gst/common/track_pad.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

ReceivedTracks::ReceivedTracks(GstElement* element, const sig::SdpSummary& answer,
                               bool we_answered, OutputMode mode, const Identity& who,
                               const PadNamer& next_name)
    : element_(element), peer_id_(who.peer_id) {
  for (const auto& r : receivable(answer, we_answered)) {
    Kind kind = codec_info(r.codec).kind;
    std::string pad_name = next_name(kind);
    // The template is the pad name's: "src_video_3" comes from "src_video_%u".
    std::string templ_name = pad_name.substr(0, pad_name.find_last_not_of("0123456789") + 1) + "%u";
    GstPadTemplate* templ =
        gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(element), templ_name.c_str());
    if (!templ) throw std::runtime_error("no pad template " + templ_name);
    Track t{r.mid, r.codec,
            std::make_unique<OutputBranch>(GST_BIN(element), r.codec, mode, pad_name, templ,
                                           who.stream_prefix + "/" + r.mid, RTC_TYPE_TRACK_PAD)};
    rtc_track_pad_set_info(RTC_TRACK_PAD(t.output->src_pad()), who.peer_id.c_str(),
                           who.room.c_str(), codec_info(r.codec).name, r.mid.c_str());
    tracks_.push_back(std::move(t));
  }
  if (tracks_.empty()) throw std::runtime_error("no usable audio or video track was negotiated");
}

std::vector<ReceivedTracks::Receivable> ReceivedTracks::receivable(const sig::SdpSummary& answer,
                                                                   bool we_answered) {
  const char* remote_sends = we_answered ? "recvonly" : "sendonly";
  std::vector<Receivable> out;
  for (const auto& m : answer.media) {
    if (m.port_zero || (m.direction != remote_sends && m.direction != "sendrecv")) continue;
    std::optional<Codec> codec;
    for (const auto& name : m.codecs)
      if ((codec = codec_from_name(name))) break;
    if (codec) out.push_back({m.mid, *codec});
  }
  return out;
}

bool ReceivedTracks::matches(const sig::SdpSummary& answer, bool we_answered) const {
  std::vector<Receivable> wanted = receivable(answer, we_answered);
  std::lock_guard lock(mutex_);
  if (wanted.size() != tracks_.size()) return false;
  for (size_t i = 0; i < wanted.size(); ++i)
    if (wanted[i].codec != tracks_[i].codec) return false;
  return true;
}

ReceivedTracks::~ReceivedTracks() {
  std::lock_guard lock(mutex_);
  for (auto& t : tracks_) t.output->remove_from(element_);
  tracks_.clear();
}

void ReceivedTracks::expose(bool no_more_pads) {
  for (auto& t : tracks_) {
    {
      std::lock_guard lock(mutex_);
      t.exposed = true;
    }
    GstPad* pad = t.output->src_pad();
    gst_pad_set_active(pad, TRUE);
    gst_element_add_pad(element_, pad);
    GST_INFO_OBJECT(element_, "%s: pad %s (%s, mid %s)", peer_id_.c_str(), GST_PAD_NAME(pad),
                    codec_info(t.codec).name, t.mid.c_str());
  }
  if (no_more_pads) gst_element_no_more_pads(element_);
}

void ReceivedTracks::expose_when_fed(std::function<void()> exposed) {
  on_exposed_ = std::move(exposed);
  struct Feed {
    ReceivedTracks* self;
    size_t index;
  };
  for (size_t i = 0; i < tracks_.size(); ++i)
    gst_pad_add_probe(
        tracks_[i].output->sink_pad(),
        GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
        [](GstPad*, GstPadProbeInfo*, gpointer data) {
          auto* feed = static_cast<Feed*>(data);
          feed->self->expose_fed(feed->index);
          return GST_PAD_PROBE_REMOVE;
        },
        new Feed{this, i}, [](gpointer data) { delete static_cast<Feed*>(data); });
}

// Before the buffer goes on: the pad-added handlers link the pad (as with a
// demuxer's), so the first keyframe reaches them.
void ReceivedTracks::expose_fed(size_t index) {
  GstPad* pad;
  {
    std::lock_guard lock(mutex_);
    Track& t = tracks_[index];
    if (finished_ || t.exposed) return;
    t.exposed = true;
    pad = t.output->src_pad();
    GST_INFO_OBJECT(element_, "%s: pad %s (%s, mid %s) carries media", peer_id_.c_str(),
                    GST_PAD_NAME(pad), codec_info(t.codec).name, t.mid.c_str());
  }
  gst_pad_set_active(pad, TRUE);
  gst_element_add_pad(element_, pad);
  if (on_exposed_) on_exposed_();
}

size_t ReceivedTracks::exposed() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (auto& t : tracks_) n += t.exposed;
  return n;
}

bool ReceivedTracks::link(GstPad* pad, const std::string& wanted) {
  CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  std::optional<Codec> codec = codec_from_caps(caps.get());
  std::lock_guard lock(mutex_);
  Track* match = nullptr;
  for (auto& t : tracks_) {
    if (codec && t.codec != *codec) continue;
    if (t.mid == wanted) {
      match = &t;
      break;
    }
    if (!match && !gst_pad_is_linked(t.output->sink_pad())) match = &t;
  }
  if (!match) {
    GST_WARNING_OBJECT(element_, "%s: no output for mid '%s' caps %" GST_PTR_FORMAT,
                       peer_id_.c_str(), wanted.c_str(), caps.get());
    return false;
  }
  if (gst_pad_link(pad, match->output->sink_pad()) != GST_PAD_LINK_OK) return false;
  match->output->new_sender();
  return true;
}

std::vector<GstPad*> ReceivedTracks::src_pads() const {
  std::vector<GstPad*> pads;
  for (auto& t : tracks_) pads.push_back(t.output->src_pad());
  return pads;
}

void ReceivedTracks::finish() {
  std::lock_guard lock(mutex_);
  finished_ = true;
  for (auto& t : tracks_) t.output->finish();
}

}  // namespace rtcmesh::media
