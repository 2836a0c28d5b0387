#include "signaling/rpc/channel_front_end.h"

#include "signaling/rooms/service.h"

namespace rtcmesh::sig::rpc {

ChannelFrontEnd::ChannelFrontEnd(RoomServer& rooms, JsonRpcFrontEnd::Limits limits)
    : rooms_(rooms),
      out_([this](ConnId conn, const std::string& text) {
        auto it = sends_.find(conn);
        if (it != sends_.end()) it->second(text);
      }),
      front_(rooms.service(), out_, limits) {
  base_ = rooms_.add_front_end(out_);
}

ChannelFrontEnd::~ChannelFrontEnd() {
  while (!sends_.empty()) close(sends_.begin()->first);
  rooms_.remove_front_end(base_);
}

ConnId ChannelFrontEnd::open(Send send, const std::string& bearer, const std::string& address,
                             RoomTime now) {
  ConnId conn = base_ + next_++;
  sends_[conn] = std::move(send);
  rooms_.service().open_with_bearer(conn, now, bearer, address);
  return conn;
}

void ChannelFrontEnd::message(ConnId conn, std::string_view text, RoomTime now) {
  if (!sends_.count(conn)) return;
  front_.on_message(conn, text, now);
}

void ChannelFrontEnd::alive(ConnId conn, RoomTime now) {
  if (sends_.count(conn)) rooms_.service().alive(conn, now);
}

void ChannelFrontEnd::close(ConnId conn) {
  if (!sends_.erase(conn)) return;
  rooms_.service().closed(conn);
}

}  // namespace rtcmesh::sig::rpc
