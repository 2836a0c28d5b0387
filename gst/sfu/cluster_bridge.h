// rtcsfu in a cluster (issue 15): the ClusterNode of its host's rooms, and
// the media between nodes. Another node's publisher becomes a publisher of
// this node's rooms (Ingest::add_fed_publisher) whose tracks are appsrc →
// Source (identity → FanOut), fed with the RTP packets of its NATS subjects;
// the Router then forwards it like a local publisher (keyframe on join,
// NACKs answered by each subscriber connection's own rtprtxsend). While some
// subscriber here is fed by such a track, the bridge tells the origin node
// ("want", every 250 ms); keyframe requests reaching the appsrc (merged and
// rate-limited by the FanOut) go back to the origin. A local publisher's
// track that some node wants gets a FanOut branch → appsink whose packets
// are published on its subject, until no want came for the node TTL.
//
// Worker thread (the host's), but the NATS and appsink callbacks.
#pragma once

#include <gst/gst.h>

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
  ClusterBridge(GstBin* bin, server::Ingest& ingest);
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
  server::Host* host_ = nullptr;
  std::unique_ptr<sig::cluster::ClusterNode> node_;
  std::map<std::string, Remote> remotes_;  // session_key(room, peer)
  std::map<std::string, std::unique_ptr<Egress>> egress_;  // subject
  sig::SourceHandle timer_;
};

}  // namespace rtcmesh::sfu
