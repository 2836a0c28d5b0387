#include "gst/sfu/signal_channels.h"

#include <chrono>

#include "gst/common/debug.h"
#include "gst/sfu/tee_forwarding.h"

#define GST_CAT_DEFAULT rtcmesh_debug

namespace rtcmesh::sfu {

namespace {
sig::RoomTime now() {
  return std::chrono::steady_clock::now();
}
}  // namespace

SignalChannels::SignalChannels(GstBin* bin, Hooks hooks) : bin_(bin), hooks_(std::move(hooks)) {}

void SignalChannels::start(server::Host& host) {
  host_ = &host;
  const auto& cfg = host.rooms().config();
  front_ = std::make_unique<sig::rpc::ChannelFrontEnd>(
      host.rooms(), sig::rpc::JsonRpcFrontEnd::Limits{cfg.max_message, cfg.max_batch});
}

void SignalChannels::stop() {
  while (!conns_.empty()) end(conns_.begin()->first, "element stopping");
  front_.reset();
  host_ = nullptr;
}

void SignalChannels::offer(const sig::ResourceEndpoint::Offer& o,
                           std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  if (!host_) return reply({503, "not running", {}});
  if (std::string why = hooks_.refusal(o.room); !why.empty()) return reply({503, why, {}});
  const std::string id = o.id;
  auto c = std::make_unique<Connection>();
  c->resource = id;
  c->room = o.room;
  peer::PeerEvents events;
  events.data = [this, id](const peer::DataMessage& m) {
    auto it = conns_.find(id);
    if (it == conns_.end() || !front_) return;
    // Only the "rtcmesh" channel speaks the room protocol; the others carry
    // the room's data, from the participant the connection joined as.
    if (m.label == peer::Peer::kReliableLabel) return front_->message(it->second->conn, m.data, now());
    auto who = host_ ? host_->rooms().peer_of(it->second->conn) : std::nullopt;
    if (!who || !hooks_.room_data) return;  // not joined yet: nobody to relay for
    // Reliable room data reads "rtcmesh", as from a subscribe connection.
    peer::DataMessage relayed = m;
    if (relayed.label == peer::Peer::kRoomDataLabel) relayed.label = peer::Peer::kReliableLabel;
    hooks_.room_data(who->first, who->second, relayed);
  };
  events.channel_closed = [this, id](const std::string& label) {
    if (label == peer::Peer::kReliableLabel)
      hooks_.post([this, id] { end(id, "its data channel closed"); });
  };
  events.failed = [this, id](const std::string& why) {
    hooks_.post([this, id, why] { end(id, why); });
  };
  events.connected = [this, id] {
    auto it = conns_.find(id);
    if (it != conns_.end()) it->second->connect_deadline.reset();
  };
  events.remote_pad = [this, who = c->who](GstPad* pad, const std::string& mid) {
    std::string room, peer;
    {
      std::lock_guard lock(who->mutex);
      room = who->room;
      peer = who->peer;
    }
    return !peer.empty() && hooks_.remote_pad(room, peer, pad, mid);
  };
  c->peer =
      std::make_shared<peer::Peer>(bin_, host_->worker(), "rtc-" + o.room + "-" + id.substr(0, 8),
                                   hooks_.ice(), hooks_.peer_timeout(), std::move(events));
  c->peer->enable_data_channels();
  if (hooks_.prepare) hooks_.prepare(*c->peer);
  std::weak_ptr<peer::Peer> weak = c->peer;
  c->conn = front_->open(
      [weak, id](const std::string& text) {
        auto p = weak.lock();
        if (p && !p->send_data(text, true, true))
          GST_WARNING("%s: a message of %zu bytes could not be sent on its channel", id.c_str(),
                      text.size());
      },
      o.bearer, o.remote_address, now());
  guint timeout_ms =
      guint(std::max<GstClockTime>(hooks_.peer_timeout(), 10 * GST_SECOND) / GST_MSECOND);
  c->connect_deadline = host_->worker().timeout(timeout_ms, [this, id] {
    end(id, "ICE did not connect in time");
    return false;
  });
  // The room service's liveness follows the connection's (RTP, RTCP, data).
  c->alive_timer = host_->worker().timeout(1000, [this, id] {
    auto it = conns_.find(id);
    if (it == conns_.end()) return false;
    if (it->second->peer->is_connected()) front_->alive(it->second->conn, now());
    return true;
  });
  peer::Peer* peer = c->peer.get();
  {
    std::lock_guard lock(mutex_);
    conns_[id] = std::move(c);
  }
  GST_INFO("POST /rtc/%s: connection %s", o.room.c_str(), id.c_str());
  peer->answer_offer(o.sdp, [this, id, reply](const std::string& sdp, const std::string& error) {
    if (!conns_.count(id)) return reply({503, "the connection ended during negotiation", {}});
    if (!error.empty()) {
      end(id, error);
      return reply({422, "cannot answer the offer: " + error, {}});
    }
    reply({201, {}, sdp});
  });
}

void SignalChannels::end(const std::string& resource, const std::string& why) {
  std::unique_ptr<Connection> c;
  {
    std::lock_guard lock(mutex_);
    auto it = conns_.find(resource);
    if (it == conns_.end()) return;
    c = std::move(it->second);
    conns_.erase(it);
  }
  GST_INFO("POST /rtc connection %s ends: %s", resource.c_str(), why.c_str());
  c->connect_deadline.reset();
  c->alive_timer.reset();
  if (host_) host_->remove_resource(resource);
  // The participant leaves: its publication and subscription end, and with
  // them the other references to the connection.
  if (front_) front_->close(c->conn);
  c->peer.reset();
}

SignalChannels::Connection* SignalChannels::find(const std::string& room, const std::string& peer) {
  if (!host_) return nullptr;
  for (auto& [id, c] : conns_) {
    auto who = host_->rooms().peer_of(c->conn);
    if (who && who->first == room && who->second == peer) return c.get();
  }
  return nullptr;
}

std::shared_ptr<peer::Peer> SignalChannels::connection_of(const std::string& room,
                                                          const std::string& peer) {
  Connection* c = find(room, peer);
  if (!c) return nullptr;
  {
    std::lock_guard lock(c->who->mutex);
    c->who->room = room;
    c->who->peer = peer;
  }
  return c->peer;
}

std::unique_ptr<ForwardingPath> SignalChannels::path_for(const std::string& room,
                                                         const std::string& peer) {
  Connection* c = find(room, peer);
  if (!c) return nullptr;
  if (c->subscribed)
    throw std::runtime_error(
        "a POST /rtc connection carries one subscription (subscribing again on it is not done)");
  c->subscribed = true;
  return std::make_unique<TeeForwardingPath>(bin_, c->peer);
}

std::string SignalChannels::key_of_sender(GstMessage* message) {
  std::lock_guard lock(mutex_);
  for (auto& [id, c] : conns_)
    if (c->peer && c->peer->posted(message)) return id;
  return {};
}

std::map<std::string, size_t> SignalChannels::count_by_room() {
  std::lock_guard lock(mutex_);
  std::map<std::string, size_t> out;
  for (auto& [id, c] : conns_) out[c->room]++;
  return out;
}

size_t SignalChannels::size() {
  std::lock_guard lock(mutex_);
  return conns_.size();
}

}  // namespace rtcmesh::sfu
