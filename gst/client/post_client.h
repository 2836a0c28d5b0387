// rtcmeshbin url=http(s)://HOST:PORT/rtc (docs/protocol.md, "Signaling over
// a data channel"): the room connection is one WebRTC connection opened by
// POST /rtc/<room> with an offer that carries only the data channels. Its
// "rtcmesh" channel then speaks the room's JSON-RPC (the same calls and
// notifications as over the WebSocket: a sig::RoomClient, so rtcmeshbin's
// session code does not change), and in SFU/MCU rooms the same connection
// carries the publication and the subscription (SfuSession's shared
// connection). Worker thread only, except where said.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>

#include "gst/client/client_session.h"
#include "gst/common/worker.h"
#include "gst/peer/peer.h"
#include "signaling/http/resource_client.h"
#include "signaling/room_client.h"
#include "signaling/rpc/calls.h"

namespace rtcmesh::room {

// True for http:// and https:// room URLs (the one-POST front end).
bool is_post_url(const std::string& url);

class PostRoomClient : public sig::RoomClient {
 public:
  struct Setup {
    GstBin* bin = nullptr;
    Worker* worker = nullptr;
    ResourceCloser* closer = nullptr;  // DELETEs the resource when we go; outlives us
    peer::IceSettings ice;
    guint peer_timeout_ms = 10000;
    std::string room, token;
    Options options;  // call timeout, TLS
  };
  // The events of the connection that belong to whoever uses its media
  // (SfuSession). remote_pad runs on a streaming thread.
  struct MediaEvents {
    std::function<bool(GstPad* pad, const std::string& mid)> remote_pad;
    std::function<void()> connected;
    std::function<void(const std::string& why)> failed;  // else the room connection closes
    std::function<void(const peer::DataMessage& message)> data;  // other channels than rtcmesh
  };

  explicit PostRoomClient(Setup setup);
  ~PostRoomClient() override;  // DELETEs the resource; no callback runs afterwards

  void set_notification_handler(NotificationFn fn) override;
  void set_closed_handler(ClosedFn fn) override;
  // POSTs the offer to `url`/<room>; done(true) once the answer is applied
  // (calls made before the channel opens wait for it in the Peer's queue).
  void connect(const std::string& url, ConnectFn done) override;
  void call(const std::string& method, sig::Json params, ReplyFn done) override;
  bool notify(const std::string& method, sig::Json params) override;

  // The connection (null before connect()): SfuSession publishes and
  // subscribes on it.
  std::shared_ptr<peer::Peer> connection() const { return peer_; }
  // The last connect() was refused for good (a 4xx other than 408/429):
  // trying again would get the same.
  bool refused() const { return refused_; }
  void set_media_events(MediaEvents events);  // null members: unset
  // Drops our reference to the connection and DELETEs the resource (the
  // owner of the last reference then stops it).
  void release();

 private:
  void lost(const std::string& why);

  Setup setup_;
  sig::rpc::Calls calls_;
  sig::rpc::Calls::Send send_;
  ClosedFn on_closed_;
  std::shared_ptr<peer::Peer> peer_;
  std::unique_ptr<sig::ResourceClient> resource_;
  Timer ping_timer_;
  bool refused_ = false;
  struct Routed {  // read by webrtcbin's streaming threads
    std::mutex mutex;
    MediaEvents events;
  };
  std::shared_ptr<Routed> routed_ = std::make_shared<Routed>();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rtcmesh::room
