// NATS through cnats (libnats): one connection, subscriptions whose messages
// cnats' own threads hand to one GMainContext, publishing from that context.
// cnats reconnects by itself (forever, with its backoff); the state changes
// reach `on_state` on the context, once per change.
#pragma once

#include <glib.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

typedef struct __natsConnection natsConnection;

namespace rtcmesh::sig::cluster {

class NatsBus {
 public:
  using Handler = std::function<void(const std::string& subject, const std::string& data)>;
  // Connects to `url` (nats://HOST:PORT); throws std::runtime_error saying
  // why when the server cannot be reached.
  NatsBus(GMainContext* ctx, const std::string& url, const std::string& name);
  ~NatsBus();
  NatsBus(const NatsBus&) = delete;
  NatsBus& operator=(const NatsBus&) = delete;

  // Handlers run on the context; wildcards as NATS has them (*, >).
  void subscribe(const std::string& subject, Handler handler);
  // Media: `handler` runs on cnats' thread of the subscription (no hop to
  // the context; it must be quick and thread-safe). The id ends it.
  using DirectHandler = std::function<void(const void* data, size_t size)>;
  uint64_t subscribe_direct(const std::string& subject, DirectHandler handler);
  void unsubscribe(uint64_t id);
  // Waits (up to `timeout_ms`) until the server has every subscription made
  // so far: messages published after it returns reach them. False on timeout.
  bool flush(int timeout_ms = 2000);
  // False when cnats refused it (too much buffered while reconnecting). Any thread.
  bool publish(const std::string& subject, std::string_view data);
  bool connected() const;
  // Called on the context with true (reconnected) or false (lost).
  std::function<void(bool)> on_state;

  uint64_t bytes_out() const { return bytes_out_; }
  uint64_t media_bytes_out() const { return media_bytes_out_; }
  uint64_t bytes_in() const;
  uint64_t reconnects() const;

  struct Shared;

 private:
  GMainContext* ctx_;
  std::shared_ptr<Shared> shared_;
  natsConnection* conn_ = nullptr;
  std::atomic<uint64_t> bytes_out_{0}, media_bytes_out_{0};
  uint64_t next_direct_ = 1;
  struct Direct;
  std::map<uint64_t, std::unique_ptr<Direct>> direct_;
  std::vector<std::unique_ptr<Direct>> retired_;
};

}  // namespace rtcmesh::sig::cluster
