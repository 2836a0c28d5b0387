// The fourth front end of the room service (DESIGN §9): JSON-RPC 2.0 of
// docs/protocol.md over a WebRTC data channel opened by one HTTP POST
// (POST /rtc/<room>, docs/protocol.md "Signaling over a data channel"). The
// framing is the WebSocket front end's own (JsonRpcFrontEnd, JsonRpcDelivery):
// one channel message is one frame. Only the transport differs: each
// connection sends through the function it was opened with. Pure (no
// webrtcbin): gst/sfu/signal_channels.h is the transport. Context thread of
// the RoomServer only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "signaling/rooms/rooms.h"
#include "signaling/rpc/front_end.h"

namespace rtcmesh::sig::rpc {

class ChannelFrontEnd {
 public:
  // Sends one text message on the connection's channel; must not call back
  // into the room service.
  using Send = std::function<void(const std::string& text)>;

  // Registers with `rooms` (RoomServer::add_front_end); `rooms` must outlive it.
  ChannelFrontEnd(RoomServer& rooms, JsonRpcFrontEnd::Limits limits);
  // Every connection still open is closed (its participant leaves).
  ~ChannelFrontEnd();
  ChannelFrontEnd(const ChannelFrontEnd&) = delete;
  ChannelFrontEnd& operator=(const ChannelFrontEnd&) = delete;

  // A new connection: its POST's bearer token (Authorization, "" = none) and
  // client address stand for the connection's, as a WebSocket upgrade's do.
  ConnId open(Send send, const std::string& bearer, const std::string& address, RoomTime now);
  // One message from the channel: answered through its Send.
  void message(ConnId conn, std::string_view text, RoomTime now);
  // The transport is alive (its connection still carries RTCP or data).
  void alive(ConnId conn, RoomTime now);
  // The channel or its connection is gone: the participant leaves
  // (peer-left "disconnected"). Unknown connections are ignored.
  void close(ConnId conn);
  size_t size() const { return sends_.size(); }

 private:
  RoomServer& rooms_;
  JsonRpcDelivery out_;
  JsonRpcFrontEnd front_;
  ConnId base_ = 0, next_ = 1;
  std::map<ConnId, Send> sends_;
};

}  // namespace rtcmesh::sig::rpc
