// rtcsfu in a cluster (issue 15): the ClusterNode of its host's rooms, and
// the media between nodes. Another node's publisher becomes a publisher of
// this node's rooms (Ingest::add_fed_publisher) whose tracks are appsrc →
// Source (identity → FanOut), fed with the RTP packets of its NATS subjects;
// the Router then forwards it like a local publisher (keyframe on join,
// NACKs answered by each subscriber connection's own rtprtxsend, or with
// engine=native from the engine's history: its tap on the Source's tee
// takes these packets as a local publisher's). While some
// subscriber here is fed by such a track (a FanOut branch or a Router slot), the bridge tells the origin node
// ("want", every 250 ms); keyframe requests reaching the appsrc (merged and
// rate-limited by the FanOut) go back to the origin. A local publisher's
// track that some node wants gets a FanOut branch → appsink whose packets
// are published on its subject, until no want came for the node TTL.
//
// Worker thread (the host's), but the NATS and appsink callbacks.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "gst/server/host.h"
#include "gst/server/ingest.h"
#include "signaling/cluster/cluster_node.h"
#include "signaling/glib_util.h"

namespace rtcmesh::sfu {

class ClusterBridge : public sig::cluster::ClusterMedia {
 public:
  // `fed`: whether a subscriber slot here is fed by the source (the
  // Router's graph): with engine=native subscribers take the packets from
  // a tap on the source's tee, not from a FanOut branch, so the branches
  // alone do not tell that a remote track is wanted.
  ClusterBridge(GstBin* bin, server::Ingest& ingest, std::function<bool(server::Source*)> fed);
  ~ClusterBridge() override;
  ClusterBridge(const ClusterBridge&) = delete;
  ClusterBridge& operator=(const ClusterBridge&) = delete;

  // Joins the cluster with the host's rooms; throws std::runtime_error
  // (Redis or NATS unreachable, bad settings).
  void start(server::Host& host, const sig::cluster::ClusterOptions& options);
  // Other nodes' publishers leave this node's rooms (publisher-left),
  // egress stops, the node leaves the cluster.
  void stop();
  sig::cluster::ClusterNode* node() { return node_.get(); }
  // A publisher of this node leaves (Ingest's leaving hook): nothing may
  // send from its sources after this.
  void publisher_leaving(const server::Publisher& pub);

  // ClusterMedia
  bool remote_publisher(const std::string& node, const std::string& room, const std::string& peer,
                        const std::vector<sig::SfuTrack>& tracks) override;
  void remote_publisher_left(const std::string& room, const std::string& peer,
                             const std::string& reason) override;
  void wanted(const std::string& room, const std::string& peer, const std::string& track) override;
  void keyframe_wanted(const std::string& room, const std::string& peer,
                       const std::string& track) override;

  struct Feed;    // one remote track: appsrc + its NATS subscription
  struct Egress;  // one local track sent to other nodes

 private:
  struct Remote {
    std::string node;
    std::vector<std::shared_ptr<Feed>> feeds;
  };
  void tick();

  GstBin* bin_;
  server::Ingest& ingest_;
  std::function<bool(server::Source*)> fed_;
  server::Host* host_ = nullptr;
  std::unique_ptr<sig::cluster::ClusterNode> node_;
  std::map<std::string, Remote> remotes_;  // session_key(room, peer)
  std::map<std::string, std::unique_ptr<Egress>> egress_;  // subject
  sig::SourceHandle timer_;
};

}  // namespace rtcmesh::sfu
