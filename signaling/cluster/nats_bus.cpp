#include "signaling/cluster/nats_bus.h"

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "signaling/glib_util.h"
#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::cluster {

// What cnats' threads see: the context to post to, and whether the bus is
// still there (closures outlive it until cnats has finished with them).
struct NatsBus::Shared {
  GMainContext* ctx;
  std::mutex mutex;
  bool alive = true;
  std::atomic<uint64_t> bytes_in{0}, reconnects{0};
  std::atomic<bool> connected{false};
  // cnats runs the connection's callbacks on a thread of its own, also after
  // natsConnection_Close returns; the closed callback is the last of them.
  std::condition_variable closed_cv;
  bool closed = false;  // under mutex
  NatsBus* bus;  // valid while alive, on the context only
  std::vector<std::unique_ptr<std::pair<Shared*, Handler>>> subs;
  std::vector<natsSubscription*> handles;

  void post(std::function<void(NatsBus&)> fn) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!alive) return;
    std::weak_ptr<Shared> self = weak;
    post_to_context(ctx, [self, fn = std::move(fn)] {
      auto s = self.lock();
      if (!s || !s->alive) return;
      guarded("nats", [&] { fn(*s->bus); });
    });
  }
  std::weak_ptr<Shared> weak;
};

struct NatsBus::Direct {
  DirectHandler handler;
  natsSubscription* sub = nullptr;
};

namespace {

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* sub = static_cast<std::pair<NatsBus::Shared*, NatsBus::Handler>*>(closure);
  std::string subject = natsMsg_GetSubject(msg);
  std::string data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  sub->first->bytes_in += data.size();
  NatsBus::Handler* handler = &sub->second;  // lives as long as the Shared
  sub->first->post([handler, subject = std::move(subject), data = std::move(data)](NatsBus&) {
    (*handler)(subject, data);
  });
}

void on_disconnected(natsConnection*, void* closure) {
  auto* shared = static_cast<NatsBus::Shared*>(closure);
  shared->connected = false;
  shared->post([](NatsBus& bus) {
    if (bus.on_state) bus.on_state(false);
  });
}

void on_reconnected(natsConnection*, void* closure) {
  auto* shared = static_cast<NatsBus::Shared*>(closure);
  shared->connected = true;
  shared->reconnects++;
  shared->post([](NatsBus& bus) {
    if (bus.on_state) bus.on_state(true);
  });
}

void on_closed(natsConnection*, void* closure) {
  auto* shared = static_cast<NatsBus::Shared*>(closure);
  std::lock_guard<std::mutex> lock(shared->mutex);
  shared->closed = true;
  shared->closed_cv.notify_all();
}

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw std::runtime_error(what + ": " + natsStatus_GetText(s));
}

}  // namespace

NatsBus::NatsBus(GMainContext* ctx, const std::string& url, const std::string& name)
    : ctx_(ctx), shared_(std::make_shared<Shared>()) {
  shared_->ctx = ctx;
  shared_->bus = this;
  shared_->weak = shared_;
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "nats options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> owned(opts, natsOptions_Destroy);
  check(natsOptions_SetURL(opts, url.c_str()), "NATS " + url);
  natsOptions_SetName(opts, name.c_str());
  natsOptions_SetTimeout(opts, 2000);
  natsOptions_SetAllowReconnect(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);  // a node never gives NATS up
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetReconnectJitter(opts, 100, 100);
  natsOptions_SetPingInterval(opts, 2000);
  natsOptions_SetMaxPingsOut(opts, 2);
  natsOptions_SetDisconnectedCB(opts, on_disconnected, shared_.get());
  natsOptions_SetReconnectedCB(opts, on_reconnected, shared_.get());
  natsOptions_SetClosedCB(opts, on_closed, shared_.get());
  natsStatus s = natsConnection_Connect(&conn_, opts);
  if (s != NATS_OK)
    throw std::runtime_error("cannot connect to NATS at " + url + ": " + natsStatus_GetText(s) +
                             " (is nats-server running there?)");
  shared_->connected = true;
}

bool NatsBus::connected() const { return shared_->connected; }
uint64_t NatsBus::bytes_in() const { return shared_->bytes_in; }
uint64_t NatsBus::reconnects() const { return shared_->reconnects; }

NatsBus::~NatsBus() {
  for (auto& [id, d] : direct_) {
    natsSubscription_Unsubscribe(d->sub);
    natsSubscription_Destroy(d->sub);
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->alive = false;
  }
  for (natsSubscription* sub : shared_->handles) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  if (conn_) {
    natsConnection_Close(conn_);
    // The disconnected and closed callbacks may still run (they hold a raw
    // Shared*): wait for the closed one; past 2 s the Shared is kept for good.
    std::unique_lock<std::mutex> lock(shared_->mutex);
    bool done = shared_->closed_cv.wait_for(lock, std::chrono::seconds(2),
                                            [this] { return shared_->closed; });
    lock.unlock();
    natsConnection_Destroy(conn_);
    if (!done) new std::shared_ptr<Shared>(shared_);  // (leaked on purpose)
  }
}

void NatsBus::subscribe(const std::string& subject, Handler handler) {
  shared_->subs.push_back(
      std::make_unique<std::pair<Shared*, Handler>>(shared_.get(), std::move(handler)));
  natsSubscription* sub = nullptr;
  check(natsConnection_Subscribe(&sub, conn_, subject.c_str(), on_message,
                                 shared_->subs.back().get()),
        "NATS subscribe " + subject);
  shared_->handles.push_back(sub);
}

namespace {
void on_direct(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* d = static_cast<NatsBus::DirectHandler*>(closure);
  guarded("nats media", [&] { (*d)(natsMsg_GetData(msg), size_t(natsMsg_GetDataLength(msg))); });
  natsMsg_Destroy(msg);
}
}  // namespace

uint64_t NatsBus::subscribe_direct(const std::string& subject, DirectHandler handler) {
  auto d = std::make_unique<Direct>();
  d->handler = std::move(handler);
  check(natsConnection_Subscribe(&d->sub, conn_, subject.c_str(), on_direct, &d->handler),
        "NATS subscribe " + subject);
  uint64_t id = next_direct_++;
  direct_[id] = std::move(d);
  return id;
}

void NatsBus::unsubscribe(uint64_t id) {
  auto it = direct_.find(id);
  if (it == direct_.end()) return;
  natsSubscription_Unsubscribe(it->second->sub);
  // Destroy waits for nothing: a message being delivered may still run the
  // handler, so the handler stays until the bus goes.
  natsSubscription_Destroy(it->second->sub);
  it->second->sub = nullptr;
  retired_.push_back(std::move(it->second));
  direct_.erase(it);
}

bool NatsBus::flush(int timeout_ms) {
  return natsConnection_FlushTimeout(conn_, timeout_ms) == NATS_OK;
}

bool NatsBus::publish(const std::string& subject, std::string_view data) {
  natsStatus s =
      natsConnection_Publish(conn_, subject.c_str(), data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return false;
  bytes_out_ += data.size();
  return true;
}

}  // namespace rtcmesh::sig::cluster
