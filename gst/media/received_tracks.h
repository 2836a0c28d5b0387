// The received tracks of one connection (DESIGN §5): one OutputBranch and one
// track pad (peer-id, room, codec, mid) per m-line that brings media to us,
// and the matching of webrtcbin's src pads to them. Used by every receiving
// element (rtcwhipsrc, rtcwhepsrc, later rtcmeshbin and rtcsfu).
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gst/media/codec.h"
#include "gst/media/output.h"
#include "signaling/http/sdp.h"

namespace rtcmesh::media {

class ReceivedTracks {
 public:
  struct Identity {
    std::string peer_id, room;
    std::string stream_prefix;  // stream-ids are "<prefix>/<mid>"
  };
  // Gives the next free pad name of a kind ("video_3"); the element has a
  // pad template of that name with the number as %u ("video_%u").
  using PadNamer = std::function<std::string(Kind)>;

  // One output per m-line of the negotiated `answer` that we receive on:
  // `we_answered` says whose answer it is (ours: recvonly/sendrecv; the
  // remote's: sendonly/sendrecv). The codec is the first known one of the
  // m-line. Pads are created, not yet added. Throws when there is none.
  ReceivedTracks(GstElement* element, const sig::SdpSummary& answer, bool we_answered,
                 OutputMode mode, const Identity& who, const PadNamer& next_name);
  // Removes the pads (if still there) and the branches. Stop the webrtcbin
  // feeding them first.
  ~ReceivedTracks();

  // Adds every pad to the element, then no-more-pads unless the caller
  // sends it once after exposing several (`no_more_pads` false). Not from a
  // streaming thread.
  void expose(bool no_more_pads = true);
  // Instead of expose(): each track's pad is added by the streaming thread
  // that brings its first buffer, so an m-line that carries nothing (an
  // empty slot of a room) never becomes a pad that a decoder waits on for
  // ever. `exposed` runs after each such pad, on that thread, with no lock
  // held; no-more-pads is the caller's. Call once, before media flows.
  void expose_when_fed(std::function<void()> exposed);
  size_t exposed() const;  // pads added so far
  // Links a new webrtcbin src pad to its track: by `mid` (the Peer's, "" if
  // unknown) when the codec agrees, else the first unlinked track of the pad's
  // codec (with bundle, 1.22 does not always give a pad the right mid). Any
  // thread (webrtcbin's pad-added).
  bool link(GstPad* webrtc_pad, const std::string& mid);
  // EOS out of every pad (the peer left, or -e), so muxers finish.
  void finish();
  size_t size() const { return tracks_.size(); }
  // The track pads, for an element that composes them inside instead of
  // exposing them (rtcmeshbin compose=true): link them to its mixers.
  std::vector<GstPad*> src_pads() const;

  // The m-lines of `answer` that bring media to us (see the constructor),
  // with their codec.
  struct Receivable {
    std::string mid;
    Codec codec;
  };
  static std::vector<Receivable> receivable(const sig::SdpSummary& answer, bool we_answered);
  // True when `answer` brings the same tracks (kind and codec, in order): a
  // new connection of the same peer can link into these pads (reconnect).
  bool matches(const sig::SdpSummary& answer, bool we_answered) const;

 private:
  struct Track {
    std::string mid;
    Codec codec;
    std::unique_ptr<OutputBranch> output;
    bool exposed = false;
  };
  void expose_fed(size_t index);  // a streaming thread (expose_when_fed)

  GstElement* element_;
  std::string peer_id_;
  mutable std::mutex mutex_;  // link() and exposure against the destructor
  std::vector<Track> tracks_;
  bool finished_ = false;             // finish() ran: no pad is added after it
  std::function<void()> on_exposed_;  // set once, before media flows
};

}  // namespace rtcmesh::media
