// POST /rtc/<room> (issue 16, docs/protocol.md "Signaling over a data
// channel"): a participant's one connection. Its offer opens a data channel
// labelled "rtcmesh" and nothing else; we answer (201 + Location, the WHIP
// semantics of ResourceEndpoint), and the channel then carries the JSON-RPC
// room protocol through sig::rpc::ChannelFrontEnd, a front end of the same
// room service as the WebSocket's. The same connection then carries the
// participant's subscription (Subscribers' own_path: a TeeForwardingPath
// over it, whose offers and answers ride the channel) and its publication
// (Ingest's own_connection: its publish offer renegotiates this connection).
// Worker thread (the host's) unless said.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gst/common/worker.h"
#include "gst/peer/peer.h"
#include "gst/server/host.h"
#include "gst/sfu/forwarding_path.h"
#include "signaling/http/resource_endpoint.h"
#include "signaling/rpc/channel_front_end.h"

namespace rtcmesh::sfu {

class SignalChannels {
 public:
  struct Hooks {
    // Runs fn later on the worker, unless the element stopped meanwhile.
    std::function<void(std::function<void()> fn)> post;
    // Why a new connection to `room` is refused now (admission), or "".
    std::function<std::string(const std::string& room)> refusal;
    std::function<peer::IceSettings()> ice;
    std::function<GstClockTime()> peer_timeout;
    // The receive options of a publisher's connection (before any offer).
    std::function<void(peer::Peer&)> prepare;
    // A remote track of the connection of participant `peer` (webrtcbin's
    // streaming thread): link it now, or false.
    std::function<bool(const std::string& room, const std::string& peer, GstPad* pad,
                       const std::string& mid)>
        remote_pad;
    // A room data message (not the room protocol) from participant `peer`.
    std::function<void(const std::string& room, const std::string& peer,
                       const peer::DataMessage& message)>
        room_data;
  };
  SignalChannels(GstBin* bin, Hooks hooks);
  SignalChannels(const SignalChannels&) = delete;
  SignalChannels& operator=(const SignalChannels&) = delete;

  void start(server::Host& host);
  void stop();  // every connection ends (its participant leaves)

  // ResourceEndpoint's calls, routed by the host.
  void offer(const sig::ResourceEndpoint::Offer& offer,
             std::function<void(sig::ResourceEndpoint::Answer)> reply);
  void end(const std::string& resource, const std::string& why);

  // The connection participant `peer` of `room` joined over (null: none),
  // for its publication. Remembers who it is for its remote pads.
  std::shared_ptr<peer::Peer> connection_of(const std::string& room, const std::string& peer);
  // A subscription path over that connection, or null when the participant
  // has none. Throws std::runtime_error when it carried a subscription
  // before (its m-lines cannot be reused: see docs/architecture.md).
  std::unique_ptr<ForwardingPath> path_for(const std::string& room, const std::string& peer);

  // Any thread: the resource whose connection posted `message` ("" = none).
  std::string key_of_sender(GstMessage* message);
  size_t size();  // any thread
  std::map<std::string, size_t> count_by_room();  // any thread

 private:
  struct Who {  // the participant, for webrtcbin's streaming threads
    std::mutex mutex;
    std::string room, peer;
  };
  struct Connection {
    std::string resource, room;
    sig::ConnId conn = 0;
    std::shared_ptr<peer::Peer> peer;
    std::shared_ptr<Who> who = std::make_shared<Who>();
    bool subscribed = false;
    Timer connect_deadline, alive_timer;
  };
  Connection* find(const std::string& room, const std::string& peer);

  GstBin* bin_;
  Hooks hooks_;
  server::Host* host_ = nullptr;
  std::unique_ptr<sig::rpc::ChannelFrontEnd> front_;
  // Changed on the worker only; the mutex guards it against bus readers. Leaf.
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Connection>> conns_;  // by resource id
};

}  // namespace rtcmesh::sfu
