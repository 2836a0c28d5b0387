// One received track exposed as an element src pad (DESIGN §5): a ghost pad
// whose form (RTP, encoded, raw) is chosen when it is linked, from the peer's
// caps, and whose inside drops buffers while it is unlinked, because an
// unlinked webrtcbin src pad kills the whole transport.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gst/common/ptr.h"
#include "gst/media/codec.h"

namespace rtcmesh::media {

enum class OutputMode { kAuto, kRaw, kEncoded, kRtp };

std::optional<OutputMode> output_mode_from_name(std::string_view);  // "auto|raw|encoded|rtp"
const char* output_mode_name(OutputMode);
// GEnum "RtcOutputMode" for element properties, nicks auto/raw/encoded/rtp.
GType output_mode_get_type();

// Inside `element`: sink_pad() → gate → [depay ! [parse] ! [decode ! convert]] → ghost src pad.
// The gate drops buffers while the ghost pad is unlinked, rewrites stream-start
// to carry `stream_id`, and never returns an error, NOT_LINKED or EOS upstream:
// trouble downstream of one pad stays on that pad.
//
// Threads: the constructor, remove_from and the destructor from the element's
// own (non-streaming) threads; linking the pad from any thread, including a
// streaming thread inside a pad-added handler; finish from any thread but the
// one streaming into sink_pad().
class OutputBranch {
 public:
  // Creates the branch and the ghost src pad `pad_name` (from `templ`), NOT yet
  // added to `element`: the caller adds it, sets its pad properties, then calls
  // gst_element_no_more_pads. The pad is already active if the element runs.
  // `pad_type` may be a GstGhostPad subclass (e.g. a pad type with track
  // properties). Throws std::runtime_error (missing elements are found at link
  // time and posted as an element error).
  OutputBranch(GstBin* element, Codec codec, OutputMode mode, const std::string& pad_name,
               GstPadTemplate* templ, const std::string& stream_id,
               GType pad_type = GST_TYPE_GHOST_PAD);
  // Removes its elements. Call remove_from(element) first; what feeds
  // sink_pad() (a webrtcbin src pad) must be stopped or re-routed by the caller.
  ~OutputBranch();
  OutputBranch(const OutputBranch&) = delete;
  OutputBranch& operator=(const OutputBranch&) = delete;

  GstPad* src_pad() const { return ghost_.get(); }  // the ghost pad
  GstPad* sink_pad() const;  // link webrtcbin's RTP src pad (application/x-rtp) here
  Codec codec() const { return codec_; }
  // The form built for the current or last link; nullopt before the first link.
  std::optional<OutputMode> form() const;

  // Pushes EOS out of the src pad (peer leaving) so muxers finalize; data
  // arriving afterwards is dropped.
  void finish();
  void remove_from(GstElement* element);
  // Upstream force-key-unit (all-headers) out of sink_pad(): webrtcbin's
  // rtpsession turns it into a PLI. Done on every link; repeated every second
  // while a video branch waits for its first keyframe.
  void request_keyframe();
  // A new sender feeds sink_pad() (first link, or a reconnect): video holds
  // back its frames until a keyframe and asks for one at its first delta frame.
  void new_sender();

  struct Shared;  // state shared with the gate and the pad probes

 private:
  void on_linked(GstPad* peer);
  void on_unlinked();
  OutputMode choose(GstPad* peer) const;
  std::vector<GstElement*> make_chain(OutputMode form) const;

  GstBin* element_;
  Codec codec_;
  OutputMode mode_;
  std::string pad_name_;
  GstElement* gate_ = nullptr;  // owned by element_
  GPtr<GstPad> ghost_;
  std::shared_ptr<Shared> shared_;

  mutable std::mutex mutex_;        // chain_, form_; held while (re)building
  std::vector<GstElement*> chain_;  // owned by element_, upstream first
  std::optional<OutputMode> form_;
};

}  // namespace rtcmesh::media
