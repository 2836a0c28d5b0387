// Native ingress (issue 17): a WHIP or JSON-RPC publisher received by
// gst/engine on the element's one UDP port (ICE-lite, DTLS, SRTP) instead of
// a webrtcbin. Its packets feed engine tracks on the engine thread that
// received them: native subscribers get them with no GStreamer element and
// no thread hop in between. The NACKs and PLIs toward the publisher and its
// receiver reports are the engine's. For what reads a track through
// GStreamer (src pads that are linked, webrtcbin subscribers, the cluster
// bridge) each track also has an appsrc, linked to its Source like a
// webrtcbin src pad, fed only while something reads it (Ingest::wanted).
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gst/common/worker.h"
#include "gst/engine/engine.h"
#include "gst/media/codec.h"
#include "gst/peer/peer.h"
#include "gst/server/ingest.h"
#include "gst/sfu/native_forwarding.h"

namespace rtcmesh::sfu {

class NativeIngress : public server::IngressConnection {
 public:
  // `accepted`: accepted_rtp_caps, the codecs in order of preference.
  // `wanted(mid)`: whether anything reads that track through its appsrc
  // (asked on the worker every kWantedCheckMs). The session is in the
  // engine's group `room`, with the room's subscribers.
  NativeIngress(NativeEgress& egress, GstBin* bin, const std::string& room, std::string name,
                const GstCaps* accepted, peer::PeerEvents events,
                std::function<bool(const std::string& mid)> wanted);
  ~NativeIngress() override;

  // Answers recvonly with one codec per audio/video m-line the publisher
  // sends (others inactive); then the tracks' pads go to events.remote_pad.
  void answer_offer(const std::string& offer, SdpDone done) override;
  std::vector<std::pair<std::string, GstPad*>> pads() const override;
  bool is_connected() const override { return connected_; }
  StructurePtr stats() const override;

  static constexpr unsigned kWantedCheckMs = 250;

 private:
  struct Stream {
    std::string mid;
    media::Codec codec;
    CapsPtr caps;  // the offer's, payload type included
    int pt = 0, rtx_pt = -1;
    guint32 ssrc = 0, rtx_ssrc = 0;  // announced by the offer, or 0
    engine::TrackId track = 0;
    GstElement* appsrc = nullptr;
    std::shared_ptr<std::atomic<bool>> wanted = std::make_shared<std::atomic<bool>>(false);
  };
  // One appsrc per stream, in `bin_`, its pad tagged with the engine track.
  void add_appsrc(Stream& stream);
  bool check_wanted();

  NativeEgress& egress_;
  GstBin* bin_;
  std::string name_;
  CapsPtr accepted_;
  peer::PeerEvents events_;
  std::function<bool(const std::string&)> wanted_;
  engine::Engine::LocalParams local_;
  std::string session_id_;
  std::vector<Stream> streams_;
  std::atomic<bool> connected_{false};
  bool answered_ = false;
  Timer wanted_timer_;
};

}  // namespace rtcmesh::sfu
