// Publisher ingest of a room host (DESIGN §3, server/): what rtcsfu (and a
// later rtcmcu) does with a publisher, whatever the room's mode then does
// with its tracks. A remote publisher (a WHIP POST, a JSON-RPC publish) is a
// Peer answering its offer; each track it sends becomes a Source (its RTP
// fanned out once) and a src pad of the element. The pipeline's own request
// pads are the local publisher: its Sources are their send chains' fan-outs.
// Worker thread (the host's) unless said.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gst/common/worker.h"
#include "gst/media/output.h"
#include "gst/media/send_inputs.h"
#include "gst/peer/peer.h"
#include "gst/server/admission.h"
#include "gst/server/host.h"
#include "gst/server/room_metrics.h"
#include "gst/server/source.h"
#include "signaling/http/resource_endpoint.h"
#include "signaling/rooms/rooms.h"

namespace rtcmesh::server {

// The key of a room's participant in a host's session tables.
inline std::string session_key(const std::string& room, const std::string& peer) {
  return room + "/" + peer;
}

// A remote publisher's connection served without webrtcbin (rtcsfu's
// native ingress, gst/sfu/native_ingress.h). Once it answered, pads() has
// each received track's RTP src pad by mid, which Ingest links to the
// track's Source as it does webrtcbin's. Worker thread.
class IngressConnection {
 public:
  using SdpDone = std::function<void(const std::string& sdp, const std::string& error)>;
  virtual ~IngressConnection() = default;
  virtual void answer_offer(const std::string& offer, SdpDone done) = 0;
  virtual std::vector<std::pair<std::string, GstPad*>> pads() const = 0;
  virtual bool is_connected() const = 0;                  // any thread
  virtual StructurePtr stats() const = 0;                 // webrtcbin's stats shape; any thread
};

// A publisher of a room: a remote connection (WHIP or JSON-RPC) or the
// pipeline's own request pads.
struct Publisher {
  std::string room, id;
  std::string resource;              // WHIP resource id, else empty
  // Remote only; stopped before the sources go, unless `shared`.
  std::shared_ptr<peer::Peer> peer;
  // Remote, served natively (instead of peer); stopped as peer is.
  std::shared_ptr<IngressConnection> ingress;
  // The connection is the participant's POST /rtc connection, which also
  // carries its signaling and subscription and outlives this publication.
  bool shared = false;
  // What feeds a publisher that has no connection here (another node's
  // RTP over NATS, gst/sfu/cluster_bridge.h); released like `peer`.
  std::shared_ptr<void> feed;
  std::vector<std::unique_ptr<Source>> sources;
  // Remote only, one per source: the src pads it feeds (its name's, which
  // outlive it: Ingest::feeds_) and the fan-out branch feeding each.
  std::vector<media::OutputBranch*> outputs;
  std::vector<int> output_branches;
  Timer connect_deadline;
  gint64 created_us = g_get_monotonic_time();
  bool in_room = false;  // RoomServer knows it

  bool remote() const { return peer || ingress; }
  bool connected() const {
    return peer ? peer->is_connected() : ingress ? ingress->is_connected() : true;
  }
  StructurePtr connection_stats() const {
    return peer ? peer->stats() : ingress ? ingress->stats() : nullptr;
  }
};

class Ingest {
 public:
  // The element's properties, copied out when needed.
  struct Settings {
    peer::IceSettings ice;
    guint peer_timeout_ms = 10000;
    media::OutputMode output = media::OutputMode::kAuto;
    // A leaving publisher's src pads get EOS and go (else they stay, idle,
    // for the next session of its name).
    bool eos_on_leave = false;
    // The pipeline's own tracks publish as local_id into local_room ("": none).
    std::string local_room, local_id;
    // MCU: only the local publisher (the composite and mixes) is forwarded;
    // remote publishers are decoded through their src pads. A local track
    // named here goes to that participant only (sig::SfuTrack::for_peer).
    bool forward_local_only = false;
    std::map<std::string, std::string> track_audience;
    // A processing room: each participant's output is their own (processed)
    // tracks, which a WHEP player of /whep/<room>/<participant> gets.
    bool own_output = false;
  };
  struct Hooks {
    std::function<Settings()> settings;  // any thread
    // Runs fn later on the worker, unless the element stopped meanwhile.
    std::function<void(std::function<void()> fn)> post;
    // Why a new remote publisher `id` of `room` is refused now, or "".
    std::function<std::string(const std::string& room, const std::string& id)> refusal;
    // A remote publisher's connection, before it answers: the mode's receive
    // options (the SFU forwards without a jitterbuffer; an MCU that decodes
    // would keep webrtcbin's).
    std::function<void(peer::Peer&)> prepare;
    // The connection a participant's publish offer renegotiates (its POST
    // /rtc connection, prepared already), or null for a new one.
    std::function<std::shared_ptr<peer::Peer>(const std::string& room, const std::string& id)>
        own_connection;
    // A new remote publisher's connection served natively, or null (then a
    // webrtcbin Peer): it answers `offer` with the first of `accepted`'s
    // codecs (accepted_rtp_caps) each m-line has; `events` as a Peer's;
    // `wanted(mid)` (worker thread) says whether anything reads that track
    // through its Source's tee.
    std::function<std::shared_ptr<IngressConnection>(
        const std::string& room, const std::string& id, const std::string& offer,
        const GstCaps* accepted, peer::PeerEvents events,
        std::function<bool(const std::string& mid)> wanted)>
        native_connection;
    std::function<void(Publisher&)> ready;    // in its room, its sources known
    std::function<void(Publisher&)> leaving;  // nothing may feed on its sources after this
    std::function<void(const Publisher&, const std::string& why)> removed;
    // forward_local_only: the local publisher's tracks changed in place;
    // `gone` Sources go after this returns (nothing may feed on them).
    std::function<void(Publisher&, const std::vector<Source*>& gone)> changed;
  };
  // `element`: the bin of the connections and sources, and the owner of the
  // src pads (templates src_video_%u, src_audio_%u). Stream ids of the src
  // pads: <stream_prefix>/<room>/<publisher>/<track>.
  Ingest(GstElement* element, std::string stream_prefix, media::SendInputs& inputs,
         RoomMetrics& metrics, Hooks hooks);
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  void start(Host& host);
  void stop();  // every publisher removed ("element stopping"), the room not told, pads gone
  // EOS out of every src pad, fed or idle (the pipeline's EOS, gst-launch -e).
  void finish_pads();

  // WHIP: answer a publisher's POST (201, 404, 409, 422, 503).
  void whip_offer(const sig::ResourceEndpoint::Offer& offer,
                  std::function<void(sig::ResourceEndpoint::Answer)> reply);
  // JSON-RPC (sig::RoomMedia): answer a participant's publish offer.
  void publish(const std::string& room, const std::string& peer, const std::string& sdp,
               std::function<void(sig::RoomMedia::PublishResult)> done);
  void unpublish(const std::string& room, const std::string& peer);
  void add_remote_candidate(const std::string& room, const std::string& peer, int mline,
                            const std::string& candidate);
  // A remote track of publisher `id`'s shared connection (webrtcbin's
  // streaming thread): linked to its Source now, or false.
  bool link_remote_pad(const std::string& room, const std::string& id, GstPad* pad,
                       const std::string& mid) {
    return link_pad(session_key(room, id), pad, mid);
  }
  // The pipeline's request pads changed: (re)announce the local publisher.
  void update_local_publisher();
  // A publisher fed by something else than a connection here (another
  // cluster node's RTP): its sources and their feed. False with *why when
  // the room refuses it (RoomServer::add_publisher).
  bool add_fed_publisher(const std::string& room, const std::string& id,
                         std::vector<std::unique_ptr<Source>> sources,
                         const std::vector<sig::SfuTrack>& tracks, std::shared_ptr<void> feed,
                         std::string* why);
  // `publisher` is the pipeline's own, not sending yet (its tracks are being encoded).
  bool local_publisher_pending(const std::string& room, const std::string& publisher);

  // WHIP resources: false when `resource` is no publisher's.
  bool trickle(const std::string& resource, const std::vector<sig::TrickleCandidate>& candidates);
  bool remove_resource(const std::string& resource, const std::string& why);
  void remove(const std::string& key, const std::string& why, bool tell_room);

  Publisher* find(const std::string& room, const std::string& id);
  // Any thread: `id` publishes into `room` over WHIP (not as a participant).
  bool is_whip(const std::string& room, const std::string& id);
  Source* find_source(const std::string& room, const std::string& publisher,
                      const std::string& track);
  // The tracks of `room`'s publishers, by publisher id (forward_local_only:
  // the local publisher's shared tracks only).
  std::vector<sig::SfuPublisher> tracks(const std::string& room);
  // own_output: the local publisher with only its tracks for `peer` (that
  // participant's processed media; empty tracks until they are encoded).
  std::optional<sig::SfuPublisher> tracks_for(const std::string& room, const std::string& peer);
  // Settings::forward_local_only (an MCU or processing room).
  bool forwards_local_only() { return hooks_.settings().forward_local_only; }
  // Every request pad's track is encoded and a source of the local
  // publisher (so in tracks(); the worker adds them after they are encoded).
  bool local_tracks_ready();
  void add_load(const std::string& room, Load& load);

  // Any thread: the publisher whose connection posted `message` ("" = none).
  std::string key_of_sender(GstMessage* message);
  // Any thread: one "publisher" structure each, into a GST_TYPE_LIST.
  void append_stats(GValue* list, guint64& keyframe_requests, guint64& keyframes_sent);
  size_t size();
  // Live publishers' counters and rooms (for /metrics).
  void add_counters(RoomCountersByName& rooms);
  void add_rooms(std::set<std::string>& rooms);

 private:
  using AnswerDone = std::function<void(const std::string& answer,
                                        std::vector<sig::SfuTrack> tracks,
                                        const std::string& error)>;
  Publisher* start_remote(const std::string& room, const std::string& id,
                          const std::string& resource, const std::string& offer, AnswerDone done);
  void add_sources_and_pads(Publisher& pub, const std::string& answer);
  bool link_pad(const std::string& key, GstPad* pad, const std::string& mid);
  // Whether anything reads publisher `key`'s track `mid` from its tee: a
  // branch other than a src pad that nothing is linked to.
  bool wanted(const std::string& key, const std::string& mid);
  std::pair<std::string, std::string> local_publisher();
  // MCU: the local publisher's sources follow the ready inputs without
  // leaving the room (its kept tracks keep their subscribers). False when
  // there is no such publisher in the room.
  bool update_local_in_place(const Settings& settings, const std::string& key,
                             const std::vector<media::SendInput*>& ready);
  static sig::SfuTrack local_track(const Settings& settings, const media::SendInput& in);
  // Into the table and the room (hooks_.ready); false with *why (it is removed).
  bool admit(std::unique_ptr<Publisher> pub, const std::vector<sig::SfuTrack>& tracks,
             std::string* why);
  // The src pads of a publisher name (session_key), fed or not.
  struct FeedPad {
    std::unique_ptr<media::OutputBranch> output;
    media::Codec codec;
    bool fed = false;  // a live publisher's Source feeds it
  };
  void end_pads(const std::string& key, bool all);

  GstElement* element_;
  std::string stream_prefix_;
  media::SendInputs& inputs_;
  RoomMetrics& metrics_;
  Hooks hooks_;
  Host* host_ = nullptr;  // between start and stop
  Worker* worker_ = nullptr;
  // The table changes on the worker only; the mutex guards it against
  // webrtcbin's pad-added (streaming threads) and stats readers. Leaf.
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Publisher>> publishers_;  // session_key(room, id)
  // Src pads by publisher name (session_key): they outlive its sessions, so a
  // publisher that comes back continues on them. Worker only.
  std::map<std::string, std::vector<FeedPad>> feeds_;
  guint next_src_video_ = 0, next_src_audio_ = 0;
};

}  // namespace rtcmesh::server
