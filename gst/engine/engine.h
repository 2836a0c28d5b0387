// The native egress engine: subscriber connections of an SFU served from one
// UDP socket per listening address by our own ICE-lite + DTLS + SRTP, with a
// fixed pool of threads (no thread per subscriber) and batched sends.
//
// Threads: worker 0 also reads every socket (recvmmsg) and demultiplexes
// each datagram, STUN by the local half of USERNAME, the rest by the
// sender's address (learned from valid checks), into the inbox of the
// worker that owns the session. A session is owned by one worker for its
// life and only that worker touches its state (ICE, DTLS, SRTP, rewriters),
// so no lock guards it. The sessions of one group (a room) share a worker,
// as a mediasoup Router's transports do: a room's packets and feedback stay
// on one thread, and rooms spread over the workers. A publisher packet
// (push) is shared: it is stored in its track's history and handed once to
// each worker that has a subscriber of the track; each rewrites and protects
// it for its own subscribers and sends in batches (sendmmsg); the packets of
// one frame are handed over as one item, so a worker wakes once per frame
// rather than per packet. A publisher session's own SRTP (native ingress,
// add_ingress) feeds its track the same way from the worker that owns it,
// which forwards its own share directly. Control calls (sessions, slots,
// feeding) post to the owner's inbox and return; events are called from the
// owner worker. A worker without sessions sleeps until posted to.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gst/engine/address.h"
#include "gst/engine/dtls.h"
#include "gst/engine/history.h"
#include "gst/engine/sctp.h"

namespace rtcmesh::engine {

using SessionId = uint64_t;
using TrackId = uint64_t;

struct EngineConfig {
  std::vector<std::string> addresses{"127.0.0.1"};  // numeric, one socket each
  uint16_t port = 0;                                // 0: any (the same for every address)
  unsigned threads = 0;                             // 0: one per core (at most 64)
  std::chrono::milliseconds peer_timeout{10000};   // no consent and no RTCP: session fails
  std::string certificate_pem;                      // certificate then key
  // Tests only: this share (percent) of outgoing RTP, retransmissions
  // included, is protected and then not sent, as if lost on the way to the
  // subscriber (rtcsfu reads RTCMESH_TEST_EGRESS_LOSS). 0 in production.
  double test_loss_percent = 0;
};

// Engine-wide counters of what arrived on the port and what was dropped.
struct EngineStats {
  uint64_t received = 0, sent = 0, send_calls = 0;
  uint64_t sent_segmented = 0;           // of sent, datagrams that left in a UDP GSO message
  uint64_t received_feedback = 0;        // of received, RTCP the kernel steered to the feedback socket
  uint64_t dropped_unknown = 0;          // not STUN/DTLS/RTP/RTCP by its first byte
  uint64_t dropped_bad_stun = 0;         // truncated, malformed, bad FINGERPRINT
  uint64_t dropped_unknown_user = 0;     // STUN for no session of ours
  uint64_t dropped_unauthorized = 0;     // STUN with a wrong MESSAGE-INTEGRITY (answered 401)
  uint64_t dropped_unknown_address = 0;  // DTLS/RTP/RTCP from an address no valid check came from
  uint64_t dropped_dtls = 0;             // records a session's DTLS rejected
  uint64_t dropped_srtcp = 0;            // SRTCP (or a publisher's SRTP) failing authentication or parse
  uint64_t dropped_rtp = 0;              // RTP of no ingress stream (a subscriber only receives)
  uint64_t test_lost = 0;                // outgoing RTP not sent (test_loss_percent)
};

// A stream a publisher session sends us (native ingress): one m-line.
struct IngressStream {
  uint8_t payload_type = 0;     // the m-line's media payload type
  uint32_t clock_rate = 90000;
  bool video = false;           // frames batched by the marker bit; PLI answers keyframe requests
  int rtx_payload_type = -1;    // its RFC 4588 stream (apt=payload_type), or -1
  TrackId track = 0;            // add_track()'s: what the packets feed
  // The SSRCs the description announces for the m-line (a=ssrc, ssrc-group
  // FID), 0 when it does not: packets are matched by SSRC first, then by
  // payload type among the streams without one (two m-lines of one codec
  // share a payload type under BUNDLE).
  uint32_t ssrc = 0, rtx_ssrc = 0;
};

struct SessionStats {
  bool connected = false;
  std::string selected;  // the remote address media goes to
  uint64_t packets_sent = 0, bytes_sent = 0, nacks = 0, retransmissions = 0, plis = 0, firs = 0;
  uint64_t rtx_sent = 0;  // retransmissions sent on an RTX stream (of retransmissions)
  uint64_t rtcp_received = 0, remb = 0, transport_cc = 0;
  // A publisher session's (native ingress): media packets and bytes
  // received (RTX unwrapped counted once), packets asked again by our NACKs,
  // those that came back, PLIs sent, packets given up on.
  uint64_t packets_received = 0, bytes_received = 0, nacks_sent = 0, recovered = 0, plis_sent = 0,
           lost = 0;
  uint32_t fraction_lost = 0, jitter = 0;
  double rtt_ms = -1;
};

class Engine {
 public:
  struct Events {  // called on the session's worker thread
    std::function<void(SessionId)> connected;
    std::function<void(SessionId, const std::string& why)> failed;
    std::function<void(TrackId)> keyframe_request;  // a subscriber sent PLI/FIR
    // A message on one of the session's data channels (RemoteParams::sctp_port).
    std::function<void(SessionId, const DataChannelMessage&)> data;
    // Native ingress: each media packet of an ingress track (RTX unwrapped:
    // as the publisher first sent it) once it fed the track, for what reads
    // the track outside the engine (rtcsfu's appsrc into the Source's tee).
    // On the receiving worker: must not block.
    std::function<void(TrackId, const uint8_t* rtp, size_t size)> received;
  };
  struct LocalParams {
    SessionId id;
    std::string ufrag, pwd;
  };
  struct RemoteParams {
    std::string ufrag, pwd;
    std::vector<std::vector<sig::DtlsFingerprint>> fingerprints;
    DtlsTransport::Role role = DtlsTransport::Role::kServer;  // ours
    // Data channels: SCTP (our port 5000) over the DTLS association to the
    // remote's a=sctp-port (0: none), and the channels we open once it is up
    // (label, reliable) — the remote's own channels are taken as they come.
    uint16_t sctp_port = 0;
    std::vector<std::pair<std::string, bool>> channels;
  };

  // Binds the sockets and starts the threads; throws std::runtime_error.
  Engine(EngineConfig config, Events events);
  ~Engine();  // stops the threads, closes the sockets, drops every session
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  uint16_t port() const { return port_; }
  std::vector<Address> local_addresses() const;
  const std::string& fingerprint() const;  // "sha-256 AB:…" for a=fingerprint
  unsigned threads() const;

  // --- sessions (any thread) ---
  // The session belongs to the worker of its `group` (an SFU room: its
  // publishers and subscribers), so that a publisher's packets reach the
  // room's subscribers, and their feedback comes back, with no hop between
  // threads. A new group goes to the worker with the fewest sessions (on a
  // tie the lowest, worker 0, whose sessions' datagrams are read where they
  // are handled); it is forgotten with its last session.
  LocalParams create_session(const std::string& group = {});
  // From the remote description: starts ICE-lite checks' acceptance of the
  // remote half of USERNAME and DTLS in our role.
  void start_session(SessionId id, RemoteParams remote);
  void remove_session(SessionId id);
  // A sending stream of the session (an m-line): its SSRC, payload type and
  // clock rate; returns its index.
  size_t add_slot(SessionId id, uint32_t ssrc, uint8_t payload_type, uint32_t clock_rate);
  // Slot `index` answers NACKs on an RTX stream (RFC 4588: `rtx_ssrc`,
  // payload type `rtx_payload_type`, its own sequence numbers, the original
  // sequence number in the payload) instead of sending the packet again.
  void enable_rtx(SessionId id, size_t index, uint32_t rtx_ssrc, uint8_t rtx_payload_type);
  // Slot `index` forwards `track` from now on (0: nothing).
  void feed(SessionId id, size_t index, TrackId track);
  // The session's streams are over (the publisher a player watched left):
  // every slot stops being fed and each one that sent gets a last SR and an
  // RTCP BYE (one compound packet), so the receiver ends its streams.
  void end_streams(SessionId id);
  SessionStats session_stats(SessionId id) const;
  // A message on the session's data channel `label`, queued until the
  // association is up (SctpAssociation::send; what it refuses is dropped).
  // Returns at once.
  void send_data(SessionId id, const std::string& label, std::string data, bool text);

  // --- publisher sessions: native ingress (any thread) ---
  // The session is (also) a publisher's: the SRTP it sends us of
  // stream.payload_type feeds stream.track as push() would, on the worker
  // that received it (no hop), RTX unwrapped into it. Gaps in a video
  // stream's sequence numbers are asked again with RTCP NACK (generic, RFC
  // 4585) and given up after 1 s; a receiver report for each stream goes
  // to the publisher once a second (with LSR/DLSR of its SRs); its SRs give
  // sender_report() their mapping. RTP of another payload type is dropped
  // and counted (EngineStats::dropped_rtp).
  void add_ingress(SessionId id, IngressStream stream);
  // A keyframe of `track` from the publisher session feeding it: RTCP PLI
  // (not rate-limited here: FanOut merges requests), sent once the session
  // is connected and has received the stream (its SSRC), else not at all.
  // False when no session feeds it. Returns at once.
  bool request_keyframe(TrackId track);

  // --- publisher tracks (any thread) ---
  TrackId add_track();
  void remove_track(TrackId track);
  // One RTP packet of the track, as the publisher sent it. `more`: other
  // packets of the same batch (a video frame) follow at once, so the workers
  // are not woken for this one yet: the batch goes to each worker as one
  // item at its last packet (more false), at kBatch packets, or once it is
  // older than 5 ms (the next push or worker 0's housekeeping sends it).
  // Stored in the NACK history at once either way.
  void push(TrackId track, const uint8_t* data, size_t size, bool more = false);
  // The publisher's RTCP SR for its stream `ssrc` (the SSRC of the packets
  // pushed): the SRs of slots fed by that stream carry this NTP↔RTP mapping
  // (moved on to their send time and to the slot's timestamps) instead of
  // the slot's last sent timestamp ↔ its send time. A repeat of the mapping
  // already held is ignored (its arrival time stays).
  void sender_report(uint32_t ssrc, uint64_t ntp, uint32_t rtp_timestamp);

  EngineStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace rtcmesh::engine
