#include "gst/client/post_client.h"

#include <algorithm>

#include "gst/common/guard.h"

GST_DEBUG_CATEGORY_EXTERN(rtcmeshbin_debug);
#define GST_CAT_DEFAULT rtcmeshbin_debug

namespace rtcmesh::room {

bool is_post_url(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

PostRoomClient::PostRoomClient(Setup setup)
    : setup_(std::move(setup)), calls_(setup_.worker->context()) {
  send_ = [this](const std::string& text) { return peer_ && peer_->send_data(text, true, true); };
}

PostRoomClient::~PostRoomClient() {
  *alive_ = false;
  release();
}

void PostRoomClient::set_notification_handler(NotificationFn fn) {
  calls_.on_notification = std::move(fn);
}

void PostRoomClient::set_closed_handler(ClosedFn fn) {
  on_closed_ = std::move(fn);
}

void PostRoomClient::set_media_events(MediaEvents events) {
  std::lock_guard lock(routed_->mutex);
  routed_->events = std::move(events);
}

void PostRoomClient::connect(const std::string& url, ConnectFn done) {
  std::string endpoint = url;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  endpoint += "/" + setup_.room;
  sig::ResourceClient::Options ro;
  ro.endpoint = endpoint;
  ro.token = setup_.token;
  ro.http.timeout_s = setup_.options.call_timeout_s;
  ro.http.connect_timeout_s = setup_.options.connect_timeout_s;
  ro.http.tls_ca_file = setup_.options.tls_ca_file;
  ro.http.tls_insecure = setup_.options.tls_insecure;
  try {
    resource_ = std::make_unique<sig::ResourceClient>(setup_.worker->context(), ro);
  } catch (const std::exception& e) {
    std::string why = e.what();
    calls_.defer([done, why] { done(false, why); });
    return;
  }

  peer::PeerEvents ev;
  auto routed = routed_;
  auto alive = alive_;
  // Candidates ride the offer (the Peer waits for gathering) and the answer.
  ev.local_candidate = [](guint, const std::string&) {};
  ev.remote_pad = [routed](GstPad* pad, const std::string& mid) {
    std::function<bool(GstPad*, const std::string&)> fn;
    {
      std::lock_guard lock(routed->mutex);
      fn = routed->events.remote_pad;
    }
    return fn && fn(pad, mid);
  };
  ev.connected = [routed] {
    std::function<void()> fn;
    {
      std::lock_guard lock(routed->mutex);
      fn = routed->events.connected;
    }
    if (fn) fn();
  };
  ev.failed = [this, routed, alive](const std::string& why) {
    std::function<void(const std::string&)> fn;
    {
      std::lock_guard lock(routed->mutex);
      fn = routed->events.failed;
    }
    if (fn) return fn(why);
    // Never inside the Peer's own callback: the owner may drop the connection.
    setup_.worker->post([this, alive, why] {
      if (*alive) lost("the connection failed: " + why);
    });
  };
  ev.data = [this, routed, alive](const peer::DataMessage& m) {
    if (m.label == peer::Peer::kReliableLabel) {
      if (!*alive) return;
      if (!m.text) {
        GST_WARNING_OBJECT(setup_.bin, "binary message on the room channel: dropped");
        return;
      }
      calls_.received(m.data, send_);
      return;
    }
    std::function<void(const peer::DataMessage&)> fn;
    {
      std::lock_guard lock(routed->mutex);
      fn = routed->events.data;
    }
    if (fn) fn(m);
  };
  ev.channel_closed = [this, alive](const std::string& label) {
    if (label != peer::Peer::kReliableLabel) return;
    setup_.worker->post([this, alive] {
      if (*alive) lost("its data channel closed");
    });
  };
  peer_ = std::make_shared<peer::Peer>(setup_.bin, *setup_.worker, "rtc-post", setup_.ice,
                                       setup_.peer_timeout_ms * GST_MSECOND, std::move(ev));
  // The channels first: they are the offer's only m-line; the server's
  // renegotiations add the media after it.
  peer_->enable_data_channels(true);  // rtcmesh (room protocol), rtcmesh-data, -unreliable
  peer_->force_retransmission();  // the subscription's tracks NACK (Peer::force_retransmission)
  peer_->make_offer([this, alive, endpoint, done](const std::string& sdp, const std::string& err) {
    if (!*alive) return;
    if (!err.empty()) return done(false, "cannot make the offer: " + err);
    resource_->create(sdp, [this, alive, endpoint, done](sig::ResourceClient::Created c) {
      if (!*alive) return;
      refused_ = !c.ok() && !c.retryable();
      if (!c.ok())
        return done(false, "POST " + endpoint + ": " +
                               (c.status ? std::to_string(c.status) + " " : std::string()) +
                               c.reason);
      peer_->accept_answer(c.answer_sdp, [this, alive, done](const std::string& error) {
        if (!*alive) return;
        if (!error.empty()) return done(false, "the server's answer: " + error);
        // Nothing else may come in for a while (no media yet): the server's
        // replies to our pings keep the Peer's liveness fed, as the
        // WebSocket's pongs do.
        unsigned every = std::max(500u, setup_.peer_timeout_ms / 4);
        ping_timer_ = setup_.worker->timeout(every, [this] {
          calls_.call(send_, "ping", sig::Json::object(), {}, setup_.peer_timeout_ms);
          return true;
        });
        GST_INFO_OBJECT(setup_.bin, "room connection %s", resource_->location().c_str());
        done(true, "");
      });
    });
  });
}

void PostRoomClient::call(const std::string& method, sig::Json params, ReplyFn done) {
  calls_.call(peer_ ? send_ : sig::rpc::Calls::Send(), method, std::move(params),
              std::move(done), setup_.options.call_timeout_s * 1000);
}

bool PostRoomClient::notify(const std::string& method, sig::Json params) {
  return peer_ && send_(sig::rpc::notification(method, std::move(params)));
}

void PostRoomClient::lost(const std::string& why) {
  if (!peer_) return;
  GST_INFO_OBJECT(setup_.bin, "room connection lost: %s", why.c_str());
  auto alive = alive_;  // false once a reply handler destroyed us
  calls_.fail_all("the connection closed: " + why, false);
  if (!*alive) return;
  ClosedFn fn = on_closed_;
  if (fn) guard(GST_ELEMENT(setup_.bin), "room connection closed", [&] { fn(1006, why); });
}

void PostRoomClient::release() {
  ping_timer_.reset();
  {
    std::lock_guard lock(routed_->mutex);
    routed_->events = {};
  }
  if (resource_ && setup_.closer) setup_.closer->close(std::move(resource_));
  resource_.reset();
  peer_.reset();
}

}  // namespace rtcmesh::room
