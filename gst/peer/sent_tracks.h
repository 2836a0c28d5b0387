// The tracks one connection sends (DESIGN §8): per track, a normalizer fed by
// the connection's own branch of that input's fan-out and linked into a
// webrtcbin sink pad. Shared by every sending element.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gst/media/normalizer.h"
#include "gst/media/send_input.h"
#include "gst/peer/peer.h"

namespace rtcmesh::peer {

// The remote offer asks for none of the codecs we send.
struct NoCommonCodec : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SentTracks {
 public:
  SentTracks(GstBin* bin, Peer& peer) : bin_(bin), peer_(peer) {}
  // Detaches the branches: stop the Peer first (its NULL state unblocks any
  // branch thread waiting inside webrtcbin, so detaching cannot hang).
  ~SentTracks();
  SentTracks(const SentTracks&) = delete;
  SentTracks& operator=(const SentTracks&) = delete;

  // We offer: every ready input, in our own payload types. `announce_ssrc`:
  // each track gets a fixed SSRC of its own that the offer names (a=ssrc),
  // so that the remote webrtcbin can tell the tracks apart when the bundle's
  // first m-line is no track (a one-POST connection's data channel).
  void offer(const std::vector<media::SendInput*>& inputs, bool sendrecv,
             bool announce_ssrc = false);
  // We answer: each audio/video m-line of `remote_offer` gets the first unused
  // ready input of its kind, in the payload type and fmtp the remote offered
  // for our codec. Throws NoCommonCodec when no m-line could be served.
  void answer(const std::vector<media::SendInput*>& inputs, const std::string& remote_offer,
              bool sendrecv);
  // Keyframe on join: asks every video input's encoder (rate-limited there).
  void request_keyframes();
  size_t size() const { return tracks_.size(); }

 private:
  void add(media::SendInput* input, const GstCaps* caps, bool sendrecv,
           bool announce_ssrc = false);
  struct Track {
    media::SendInput* input;
    std::unique_ptr<media::Normalizer> normalizer;
    int branch = -1;
  };
  GstBin* bin_;
  Peer& peer_;
  std::vector<Track> tracks_;
};

}  // namespace rtcmesh::peer
