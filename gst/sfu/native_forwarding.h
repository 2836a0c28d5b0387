// The native forwarding path (issue 17): a subscriber connection served by
// gst/engine (ICE-lite, DTLS, SRTP on the element's one UDP port) instead of a
// webrtcbin. NativeEgress is the element's engine plus one tap per publisher
// track (a buffer probe on the track's tee: each packet reaches the engine
// once, whatever the number of subscribers). It answers WHEP players' offers
// and offers to JSON-RPC subscribers, writing the SDP itself (gstreamer-sdp).
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "gst/common/worker.h"
#include "gst/engine/engine.h"
#include "gst/sfu/forwarding_path.h"

namespace rtcmesh::sfu {

class NativeEgress {
 public:
  // Binds `addresses` (numeric) on `port` (0: any); candidates carry
  // `announced` (empty: the bound addresses). Throws std::runtime_error.
  // Made before the element's host (and its worker) exist, so that the room
  // is attached as soon as the host accepts connections: `serve_from` gives
  // the worker, before any session.
  NativeEgress(std::vector<std::string> addresses, guint port, std::vector<std::string> announced,
               guint peer_timeout_ms);
  ~NativeEgress();

  engine::Engine& engine() { return *engine_; }
  void serve_from(Worker& worker) { worker_ = &worker; }
  Worker& worker() { return *worker_; }
  guint port() const { return engine_->port(); }
  const std::vector<std::string>& announced() const { return announced_; }
  // The engine track fed by `source`'s packets: the native ingress's own
  // (Source::engine_track), else a tap on its tee made on first use.
  engine::TrackId track_for(Source* source);
  // Native ingress: `fn` gets each packet of `track` (engine threads) until
  // stop_receiving returns; the track's keyframe requests reach its
  // publisher through keyframe_requester() (any thread, safe after we go).
  void receive(engine::TrackId track, std::function<void(const uint8_t*, size_t)> fn);
  void stop_receiving(engine::TrackId track);
  std::function<void(engine::TrackId)> keyframe_requester();
  // Appends `m` to `sdp` (and frees it) with a=mid `mid` and our transport:
  // ICE-lite credentials of `local`, the fingerprint, a=setup `setup`,
  // rtcp-mux/rsize, host candidates on the shared port.
  void add_media(GstSDPMessage* sdp, GstSDPMedia* m, const std::string& mid,
                 const engine::Engine::LocalParams& local, const char* setup) const;
  // What a publisher's connection calls with each RTCP SR it receives (any
  // thread; does nothing once the egress is gone): subscribers' SRs then
  // carry the publisher's NTP↔RTP mapping.
  std::function<void(guint32 ssrc, guint64 ntp, guint32 rtp_timestamp)> sender_reports();
  // Session events: registered by a path, called on the worker.
  void listen(engine::SessionId id, ForwardingPath::Events events, std::atomic<bool>* connected);
  void forget(engine::SessionId id);

 private:
  struct Tap;
  static GstPadProbeReturn on_buffer(GstPad*, GstPadProbeInfo* info, gpointer data);
  struct Listener {
    ForwardingPath::Events events;
    std::atomic<bool>* connected;
  };
  Worker* worker_ = nullptr;  // where session events are handed (serve_from)
  std::vector<std::string> announced_;
  std::unique_ptr<engine::Engine> engine_;
  std::mutex mutex_;  // leaf: listeners_, fanouts_; nothing is called under it
  std::map<engine::SessionId, Listener> listeners_;
  std::map<engine::TrackId, media::FanOut*> fanouts_;  // for keyframe requests
  std::shared_mutex receivers_lock_;  // leaf; shared by the engine threads per packet
  std::map<engine::TrackId, std::function<void(const uint8_t*, size_t)>> receivers_;
  // What taps (streaming threads) and engine events hold: cleared, under its
  // lock, before the engine goes, so none of them uses it after.
  struct Alive {
    std::shared_mutex lock;
    NativeEgress* egress;
  };
  std::shared_ptr<Alive> alive_;
  // A copy of the session's listener (engine threads: the entry may go meanwhile).
  std::optional<Listener> listener_of(engine::SessionId id);
  // native_data.cpp: engine data events, hopped to the worker.
  static std::function<void(engine::SessionId, const engine::DataChannelMessage&)> data_event(
      std::shared_ptr<Alive> alive);
};

// A description of ours (o= with `session_id` and `version`, a=ice-lite).
GstSDPMessage* native_description(const std::string& session_id, unsigned version);
using SdpMessagePtr = std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)>;
// The remote's description parsed, with its ICE credentials, fingerprints
// and our DTLS role (`offer`: it offers); null and *why when it is not SDP
// or lacks them.
SdpMessagePtr read_remote_description(const std::string& text, bool offer, engine::Engine::RemoteParams* remote,
                                      std::string* why);
// A new m-line of ours: `kind` over `proto`, port 9, c=IN IP4 0.0.0.0.
GstSDPMedia* native_media(const char* kind, const char* proto);
// Its formats from RTP `caps` (payload type `pt`), and RFC 4588's rtx
// format for pt when `rtx_pt` is not -1.
void set_media_caps(GstSDPMedia* m, const GstCaps* caps, int pt, int rtx_pt);
// `format` only, a=inactive: an m-line we do not use.
void set_media_inactive(GstSDPMedia* m, const char* format);
// The text of `sdp` with a=group:`bundle` (frees sdp).
std::string finish_description(GstSDPMessage* sdp, const std::string& bundle);
// The RTX payload type an m-line pairs with `pt` (apt=pt), or -1.
int rtx_payload_for(const GstSDPMedia* m, int pt);

class NativeForwardingPath : public ForwardingPath {
 public:
  // A session of the engine's group `room`.
  NativeForwardingPath(NativeEgress& egress, const std::string& room, std::string name, Events events);
  ~NativeForwardingPath() override;

  size_t slot_count() const override { return slots_.size(); }
  void add_slot(media::Codec codec, Source* source, const GstCaps* caps) override;
  void feed(size_t index, Source* source) override;
  void set_sending(size_t index, bool sending) override;
  // A last SR and an RTCP BYE for every slot (rtcwhepsrc ends its pads).
  bool end_stream() override;

  const std::string& name() const override { return name_; }
  void make_offer(SdpDone done) override;
  void accept_answer(const std::string& sdp, std::function<void(const std::string& error)> done) override;
  void answer_offer(const std::string& offer, SdpDone done) override;
  void add_remote_candidate(guint, const std::string&) override {}  // ICE-lite: checks tell us
  bool is_connected() const override { return connected_; }
  StructurePtr stats() const override;
  guint64 retransmissions() override;
  bool posted(GstMessage*) const override { return false; }
  // The room's data channels over the engine's SCTP (native_data.cpp): an
  // application m-line in the offers, "rtcmesh" and "rtcmesh-unreliable"
  // opened by us once the answer accepted it.
  void enable_data_channels() override { data_channels_ = true; }
  bool send_data(std::string data, bool text, bool reliable) override;

 private:
  struct Slot {
    media::Codec codec;
    CapsPtr caps;  // payload type included
    guint32 ssrc;
    int pt;
    bool sending = true;
    engine::TrackId track = 0;
    // RFC 4588 for video: in our descriptions (offered to a room
    // subscriber, or answered to a player whose offer had rtx for pt), and
    // on in the engine once the other side agreed.
    int rtx_pt = -1;
    guint32 rtx_ssrc = 0;
    bool rtx_on = false;
  };
  // Slot `index` answers NACKs on its RTX stream from now on.
  void use_rtx(size_t index, int rtx_pt);
  void add_media(GstSDPMessage* sdp, const char* kind, const char* proto, const std::string& mid,
                 const Slot* slot, const char* format, const char* setup) const;
  // native_data.cpp: the application m-line of our offer; what the answer
  // says of it (into `remote`).
  void add_data_media(GstSDPMessage* sdp, std::string* bundle) const;
  void read_data_answer(const GstSDPMessage* answer, engine::Engine::RemoteParams* remote);

  NativeEgress& egress_;
  std::string name_;
  engine::Engine::LocalParams local_;
  std::string session_id_;
  mutable unsigned version_ = 0;
  bool started_ = false;
  std::string remote_ufrag_;
  std::vector<Slot> slots_;
  std::atomic<bool> connected_{false};
  bool data_channels_ = false;    // enable_data_channels() was called
  int data_mline_ = -1;           // the application m-line's index once offered
  bool answered_ = false, data_negotiated_ = false;
};

// Every subscriber connection a NativeForwardingPath.
PathFactory native_forwarding(NativeEgress& egress);

}  // namespace rtcmesh::sfu
