// The one place that drives webrtcbin (DESIGN §6). A Peer is one WebRTC
// connection: its webrtcbin lives in the owning element's bin, its state on
// the element's worker thread. webrtcbin's own threads only copy what they got
// and post it to the worker; nothing here ever waits on a GstPromise.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gst/common/data_signals.h"
#include "gst/common/ice_settings.h"
#include "gst/common/ptr.h"
#include "gst/common/worker.h"

namespace rtcmesh::peer {

// Kept so that peer::IceSettings names it (the values live in common/).
using IceSettings = rtcmesh::IceSettings;

// A message that came over one of the connection's data channels.
struct DataMessage {
  std::string label;  // the channel's ("rtcmesh", "rtcmesh-unreliable", or the remote's own)
  std::string data;   // bytes as they came (UTF-8 text when `text`)
  bool text = false;  // a string message (PPID 51) rather than binary
};

// All callbacks run on the worker thread unless said otherwise.
struct PeerEvents {
  std::function<void(guint mline, const std::string& candidate)> local_candidate;
  // Runs on a webrtcbin streaming thread: link `pad` (a remote track) now, an
  // unlinked webrtcbin src pad kills the transport. `mid` is its m-line's as
  // webrtcbin tells it ("" if none; with bundle 1.22 is sometimes wrong, so
  // check it against the codec or the SSRC). Returning false: the Peer links
  // the pad to a fakesink.
  std::function<bool(GstPad* pad, const std::string& mid)> remote_pad;
  std::function<void()> connected;
  // ICE/DTLS failure or no RTP/RTCP from the remote side for peer_timeout.
  std::function<void(const std::string& why)> failed;
  // A data channel message (after enable_data_channels()); inbound data is
  // proof of life, as RTP and RTCP are.
  std::function<void(const DataMessage& message)> data;
  // An open data channel closed (by the remote side, or with the connection).
  std::function<void(const std::string& label)> channel_closed;
  // The remote side ended a stream it sent: an RTCP BYE (rtpbin's
  // on-bye-ssrc). A server that ends the stream of a player says so this way.
  std::function<void(guint ssrc)> remote_bye;
};

class Peer {
 public:
  using SdpDone = std::function<void(const std::string& sdp, const std::string& error)>;

  // Creates the webrtcbin inside `bin` (synced to its state). Worker thread only.
  Peer(GstBin* bin, Worker& worker, const std::string& name, const IceSettings& ice,
       GstClockTime peer_timeout, PeerEvents events);
  // Removes the webrtcbin from the bin and stops it. Worker thread only.
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // For applications only (rtcwhepsink's viewer-added hands it out); rtcmesh
  // code asks the Peer instead.
  GstElement* webrtcbin() const { return webrtc_; }
  const std::string& name() const { return name_; }

  // A sending transceiver with `rtp_caps` as codec preference; returns its
  // sink pad (owned by webrtcbin) to link the RTP into. sendrecv lets the
  // remote side send on the same m-line (mesh rooms).
  GstPad* add_send_track(const GstCaps* rtp_caps, bool sendrecv = false);
  // A recvonly transceiver offering `caps` (one structure per acceptable
  // codec of one kind): how a WHEP client asks for a track.
  void add_recv_track(const GstCaps* caps);
  // A track of add_send_track sends (sendonly) or not (inactive). webrtcbin
  // 1.22 fires no negotiation-needed for it: offer again to tell the remote.
  void set_send_track_active(GstPad* send_pad, bool active);
  // Codecs this side accepts in answers (media, encoding-name, clock-rate per
  // structure); applied to transceivers webrtcbin creates from remote offers.
  void set_accepted_codecs(CapsPtr caps) { accepted_ = std::move(caps); }

  // create-offer, set-local-description, then waits for gathering (up to the
  // gather timeout) and returns the local description with its candidates.
  void make_offer(SdpDone done);
  void accept_answer(const std::string& sdp, std::function<void(const std::string& error)> done);
  // set-remote-description(offer), create-answer, set-local-description,
  // gathering wait; returns the answer with candidates. A make_offer call
  // meanwhile waits until this is done.
  void answer_offer(const std::string& offer, SdpDone done);
  void add_remote_candidate(guint mline, const std::string& candidate);

  // Data channels (SCTP over the same DTLS as the media). Call before the
  // first offer or answer. An offerer opens two: kReliableLabel (ordered,
  // retransmitted until delivered) and kUnreliableLabel (unordered, never
  // retransmitted); an answerer takes the channels the offer brings.
  // With `room_data_channel` an offerer also opens kRoomDataLabel (ordered,
  // retransmitted): on a one-POST connection, whose kReliableLabel speaks
  // the room protocol, the room's data rides it.
  void enable_data_channels(bool room_data_channel = false);
  // Sends on the reliable or the unreliable channel. Queued while it is not
  // open yet (at most kMaxQueuedMessages). False, and nothing sent, when the
  // message is larger than kMaxDataMessage, the queue is full, or the
  // connection has no such channel (data channels not enabled, the remote's
  // offer had none, or the channel closed).
  bool send_data(std::string data, bool text, bool reliable);
  // The same on the channel labelled `label`.
  bool send_data_on(const std::string& label, std::string data, bool text);
  static constexpr const char* kReliableLabel = "rtcmesh";
  static constexpr const char* kUnreliableLabel = "rtcmesh-unreliable";
  static constexpr const char* kRoomDataLabel = "rtcmesh-data";
  static constexpr size_t kMaxDataMessage = rtcmesh::kMaxDataMessage;
  static constexpr size_t kMaxQueuedMessages = 256;

  // Inbound streams get media's pass-through jitterbuffer instead of
  // rtpjitterbuffer: each packet forwarded as it arrives, gaps asked again
  // (what a forwarding server wants). Call before the remote description.
  void use_passthrough_jitterbuffer();
  // Every inbound stream asks for lost packets (NACK), also one whose SSRC the
  // offer leaves out: webrtcbin enables that only for SSRCs the offer lists
  // (rtcwhipsink lists none), and 1.22 sets each new jitterbuffer from the
  // transceiver of whichever listed SSRC of the bundle comes last (an audio
  // or unused slot: no NACK for the video either). Call before the remote
  // description.
  void force_retransmission();
  // Each RTCP SR the remote sends for a stream it sends: its SSRC and the
  // NTP time (64-bit, RFC 3550) that its RTP timestamp maps to. Called on
  // webrtcbin's RTCP thread (rtpbin's on-ssrc-active), not the worker. Call
  // before the remote description.
  using SenderReportFn = std::function<void(guint32 ssrc, guint64 ntp, guint32 rtp_timestamp)>;
  void on_sender_reports(SenderReportFn fn);

  // True once ICE and DTLS are up. Media and data cross only after the
  // remote certificate matched the remote description's a=fingerprint; a
  // mismatch fails the Peer ("DTLS certificate refused: …").
  bool is_connected() const { return connected_; }
  // True from make_offer until the remote's answer is applied (our offer is
  // out: an offer of the remote's now would be glare). Worker thread.
  bool offer_outstanding() const;
  // Connections of this process refused for a certificate that did not match
  // (for /metrics).
  static uint64_t dtls_refusals();
  // True when `message` was posted by this connection (its webrtcbin or an
  // element inside it). Any thread.
  bool posted(GstMessage* message) const;
  // True when `message` was posted by some Peer's connection, maybe one that
  // is gone by now. Any thread.
  static bool posted_by_any(GstMessage* message);
  // Packets this connection resent on the remote's NACKs. Any thread; it takes
  // webrtcbin's locks, so not while holding a lock a remote_pad handler takes.
  guint64 retransmissions() const;
  // Latest webrtcbin stats (refreshed every second), deep copy; may be null.
  StructurePtr stats() const;

  struct Life;  // internal: what webrtcbin's threads may reach

 private:
  struct Channel {
    GPtr<GstWebRTCDataChannel> channel;
    bool open = false;
    bool closed = false;
    std::deque<std::pair<std::string, bool>> queued;  // (data, text) until open
  };
  void adopt_channel(GstWebRTCDataChannel* channel);
  void channel_opened(const std::string& label);
  void channel_closed(const std::string& label);
  void send_now(GstWebRTCDataChannel* channel, const std::string& data, bool text);
  void add_recv_tracks(const std::string& offer);
  void create_description(bool offer, int attempt, SdpDone done);
  void set_description(bool local, GstWebRTCSDPType type, const std::string& sdp,
                       std::function<void(const std::string& error)> done);
  void await_gathering(SdpDone done);
  void on_tick();
  void fail(const std::string& why);

  Worker& worker_;
  std::string name_;
  GstBin* bin_;
  GstElement* webrtc_ = nullptr;
  GstClockTime peer_timeout_;
  unsigned gather_timeout_ms_;
  std::vector<std::string> announced_;  // written into our host candidates
  PeerEvents events_;
  CapsPtr accepted_;
  std::shared_ptr<Life> life_;
  Timer tick_;  // every 500 ms: liveness; stats every other tick
  unsigned ticks_ = 0;
  GstPromise* stats_promise_ = nullptr;  // the last get-stats request
  bool connected_ = false;
  bool failed_ = false;
  bool data_enabled_ = false;
  bool room_data_channel_ = false;  // an offerer opens kRoomDataLabel too
  bool offering_ = false;                // make_offer until accept_answer ends
  bool answering_ = false;               // answer_offer in progress
  std::vector<SdpDone> deferred_offers_;  // make_offer calls meanwhile
  std::map<std::string, Channel> channels_;  // by label; worker only
  gint64 connect_started_us_ = 0;
};

// A serving element's send-string/send-data: posts to `worker` (null once
// the element stopped: FALSE) the message for the connection `to` of
// `connections` (id → an owner with a `peer`, read on the worker), or for
// every one when `to` is empty; connections without data channels skip it.
// The caller holds the lock that guards `worker`.
template <typename Connections>
gboolean post_data_to(Worker* worker, const Connections& connections, std::string to,
                      std::string data, bool text, bool reliable) {
  if (!worker) return FALSE;
  worker->post([&connections, to = std::move(to), data = std::move(data), text, reliable] {
    for (const auto& [id, owner] : connections)
      if ((to.empty() || id == to) && owner->peer) owner->peer->send_data(data, text, reliable);
  });
  return TRUE;
}

// Peer::retransmissions() of a webrtcbin no Peer drives (tests, benchmarks).
guint64 retransmissions(GstElement* webrtcbin);

}  // namespace rtcmesh::peer
