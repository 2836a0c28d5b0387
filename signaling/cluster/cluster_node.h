// One node of a cluster of room servers (docs/architecture.md, "Cluster"):
// this node's rooms mirrored into Redis (keys with a TTL it refreshes) and
// its joins, leaves, room-wide notes (publisher-joined/-left) and heartbeats
// published on NATS; other nodes' participants enter this node's room
// service as connections of their own front end (so room limits, join
// results, peer-joined/-left and the mesh relay work as for local ones), and
// notes for them (relayed offers, answers, candidates) go back over NATS to
// their node. A node whose heartbeat stops for the TTL is gone: its
// participants leave with reason "timeout", its publishers with
// publisher-left "timeout".
//
// Lives on the room server's context (one thread); cnats' threads only hand
// messages over to it.
#pragma once

#include <glib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "signaling/glib_util.h"
#include "signaling/json.h"
#include "signaling/metrics.h"
#include "signaling/rooms/controller.h"
#include "signaling/rooms/delivery.h"
#include "signaling/rooms/room_events.h"

namespace rtcmesh::sig {
class RoomServer;
class RoomService;
}  // namespace rtcmesh::sig

namespace rtcmesh::sig::cluster {

class NatsBus;
class RedisState;

struct ClusterOptions {
  std::string redis_url;  // redis://HOST:PORT[/DB]
  std::string nats_url;   // nats://HOST:PORT
  std::string node_id;    // unique in the cluster: [A-Za-z0-9._~-], 1-64
  std::string advertise_url;  // where clients reach this node (stored with its heartbeat)
  unsigned heartbeat_ms = 1000;
  unsigned ttl_ms = 3000;  // a node silent this long is gone
};

// A usage problem in the options ("--redis …"), or "" when they are fine.
std::string check_options(const ClusterOptions& o);

// The node's media host (rtcsfu) as the cluster sees it; its thread is the
// node's context.
class ClusterMedia {
 public:
  virtual ~ClusterMedia() = default;
  // Another node's publisher appeared in `room`: true when the host takes it
  // into the room as a publisher of its own (RoomServer::add_publisher, so
  // subscribers here get it), fed from the node's media subjects.
  virtual bool remote_publisher(const std::string& node, const std::string& room,
                                const std::string& peer, const std::vector<SfuTrack>& tracks) = 0;
  // ... and left (only for publishers it took).
  virtual void remote_publisher_left(const std::string& room, const std::string& peer,
                                     const std::string& reason) = 0;
  // Another node has subscribers for this node's publisher track (said again
  // every heartbeat while it has).
  virtual void wanted(const std::string& room, const std::string& peer,
                      const std::string& track) = 0;
  virtual void keyframe_wanted(const std::string& room, const std::string& peer,
                               const std::string& track) = 0;
};

class ClusterNode : private RoomEvents, private Delivery {
 public:
  // Connects to Redis and NATS (std::runtime_error saying which and why when
  // one cannot be reached). On the rooms' context.
  ClusterNode(GMainContext* ctx, RoomServer& rooms, ClusterOptions options);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Connected to Redis and NATS now.
  bool ready() const;
  struct Stats {
    size_t nodes_seen = 0;           // other nodes alive now
    size_t remote_participants = 0;  // of other nodes, in this node's rooms
    size_t remote_publishers = 0;
    uint64_t nats_bytes_out = 0, nats_bytes_in = 0;
    uint64_t media_bytes_out = 0, media_bytes_in = 0;  // RTP of publisher tracks (in the above)
    uint64_t malformed = 0;  // NATS messages ignored as malformed
    uint64_t nodes_lost = 0;
    uint64_t redis_reconnects = 0, nats_reconnects = 0;
  };
  Stats stats() const;
  // The Prometheus series of Stats (rtcmesh_cluster_*).
  void metrics(Metrics& m) const;
  const ClusterOptions& options() const { return o_; }

  // --- draining (SIGTERM) ---
  // This node takes no new participants: its heartbeats say so, and other
  // nodes no longer name it in move_url(). Returns move_url().
  std::string drain();
  bool draining() const { return draining_; }
  // Where this node's participants go: the advertised URL (--advertise-url,
  // kept with each heartbeat and in Redis) of another live node that does
  // not drain, the first by node id; "" when none is known.
  std::string move_url() const;

  // --- media between nodes ---
  // Other nodes' publishers known already are offered to it at once.
  void set_media(ClusterMedia* media);
  // The subject of a publisher track's RTP (one packet a message).
  static std::string media_subject(const std::string& node, const std::string& room,
                                   const std::string& peer, const std::string& track);
  // RTP in: `handler` runs on a cnats thread (see NatsBus::subscribe_direct).
  uint64_t subscribe_media(const std::string& subject,
                           std::function<void(const void* data, size_t size)> handler);
  void unsubscribe_media(uint64_t id);
  // A message on a media subject that is no RTP packet; any thread.
  void media_malformed() { media_malformed_++; }
  // RTP out; any thread.
  bool publish_media(const std::string& subject, const void* data, size_t size);
  // To the publisher's node: this node has subscribers for the track / a keyframe, please.
  void want(const std::string& node, const std::string& room, const std::string& peer,
            const std::string& track);
  void request_keyframe(const std::string& node, const std::string& room, const std::string& peer,
                        const std::string& track);

  // Subjects and keys (docs/architecture.md, "Cluster").
  static constexpr const char* kEvents = "rtcmesh.events";
  static constexpr const char* kHeartbeat = "rtcmesh.heartbeat";
  static std::string relay_subject(const std::string& node) { return "rtcmesh.relay." + node; }

 private:
  struct Remote {  // another node's participant here
    std::string node, room, peer;
  };
  struct Node {
    RoomTime last;  // its last heartbeat or event
    std::string url;  // its --advertise-url ("" when it has none)
    bool draining = false;
    // The highest "seq" of its messages applied, of its process "boot":
    // a heartbeat older than an event already applied is only a sign of
    // life (the events and heartbeats subjects are delivered on separate
    // threads, so a heartbeat may arrive after a later event).
    std::string boot;
    int64_t seq = 0;
    std::set<ConnId> conns;
    std::map<std::pair<std::string, std::string>, std::vector<SfuTrack>> publishers;
  };

  // RoomEvents
  void joined(const std::string& room, const std::string& peer, ConnId conn) override;
  void left(const std::string& room, const std::string& peer, const std::string& reason,
            ConnId conn) override;
  void room_note(const std::string& room, const std::string& from, const msg::Note& note) override;
  // Delivery (notes for other nodes' participants)
  void deliver(ConnId conn, const msg::Note& note) override;

  bool remote(ConnId conn) const { return conn >= base_ && conn < base_ + (ConnId(1) << 48); }
  void send(const std::string& subject, Json message);
  void heartbeat();
  void expire();
  Json state() const;  // this node's participants and publishers
  // False when `m` (from node `n`) is older than a message of it applied already.
  bool newer(Node& n, const Json& m);
  void on_event(const std::string& data);
  void on_heartbeat(const std::string& data);
  void on_relay(const std::string& data);
  Node& node(const std::string& id);
  // Another node's participant joins / leaves this node's service.
  void remote_joined(const std::string& node, const std::string& room, const std::string& peer);
  void remote_left(const std::string& room, const std::string& peer, const std::string& reason);
  void remote_publisher(const std::string& node, const std::string& room, const std::string& peer,
                        std::vector<SfuTrack> tracks);
  void remote_unpublished(const std::string& node, const std::string& room,
                          const std::string& peer, const std::string& reason);
  void node_gone(const std::string& id, const char* reason);
  // A remote publisher leaves this node's rooms (the media's, or told here).
  void unpublished(const std::string& room, const std::string& peer, const std::string& reason);
  // Reconciles a node's full state (its heartbeat, a Redis snapshot).
  void apply_state(const std::string& node, const Json& state);
  void malformed(const char* subject, const std::string& why);
  RoomTime now() const { return std::chrono::steady_clock::now(); }

  GMainContext* ctx_;
  RoomServer& rooms_;
  RoomService& service_;
  ClusterOptions o_;
  std::unique_ptr<RedisState> redis_;
  std::unique_ptr<NatsBus> nats_;
  ConnId base_ = 0, next_ = 1;
  // This node's participants and publishers, by (room, peer).
  std::map<std::pair<std::string, std::string>, ConnId> local_;
  std::map<std::pair<std::string, std::string>, std::vector<SfuTrack>> local_publishers_;
  std::map<std::string, Node> nodes_;
  std::map<ConnId, Remote> remotes_;
  std::map<std::pair<std::string, std::string>, ConnId> remote_peers_;
  uint64_t malformed_ = 0, nodes_lost_ = 0;
  bool draining_ = false;
  int64_t seq_ = 0;
  std::string boot_;  // random, per ClusterNode
  ClusterMedia* media_ = nullptr;
  std::set<std::pair<std::string, std::string>> hosted_;  // remote publishers media_ took
  std::atomic<uint64_t> media_out_{0}, media_in_{0}, media_malformed_{0};
  SourceHandle beat_, check_;
};

}  // namespace rtcmesh::sig::cluster
