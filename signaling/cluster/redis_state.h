// The node's keys in Redis through hiredis' async API on a GMainContext (its
// GLib adapter): every key this node owns is written with a TTL and written
// again on each refresh(), so a dead node's keys expire by themselves. The
// connection is checked once at start (throws when Redis cannot be reached);
// later losses are logged once and retried with a capped backoff, and the
// keys are written again when it is back.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signaling/glib_util.h"

struct redisAsyncContext;

namespace rtcmesh::sig::cluster {

struct RedisAddress {
  std::string host;
  unsigned port = 6379;
  unsigned db = 0;
};
// redis://HOST:PORT[/DB]; nullopt (and *why) otherwise.
std::optional<RedisAddress> parse_redis_url(const std::string& url, std::string* why);

class RedisState {
 public:
  RedisState(GMainContext* ctx, RedisAddress address, unsigned ttl_ms);
  ~RedisState();
  RedisState(const RedisState&) = delete;
  RedisState& operator=(const RedisState&) = delete;

  // The node's own keys: kept (with the TTL) until erased.
  void put(const std::string& key, const std::string& value);
  void erase(const std::string& key);
  // Writes every key again with a fresh TTL (the node's heartbeat).
  void refresh();
  // Deletes every key of ours now, on a blocking connection (a node that
  // leaves: the async one may not get to write before it goes). Bounded by
  // a short timeout; false when Redis did not answer.
  bool erase_all_now();
  // Every key matching `pattern` with its value (SCAN + GET), on the context.
  void scan(const std::string& pattern,
            std::function<void(std::map<std::string, std::string>)> done);
  bool connected() const { return connected_; }
  uint64_t reconnects() const { return reconnects_; }
  // Called on the context when the connection is lost (false) or back (true).
  std::function<void(bool)> on_state;

  // hiredis' callbacks (C), on the context.
  void connected_cb(int status);
  void disconnected_cb(int status);

 private:
  void connect();
  void drop_source();
  void free_stale();
  void retry_later();
  void command(std::vector<std::string> args);
  void scan_step(std::string cursor, std::string pattern,
                 std::shared_ptr<std::map<std::string, std::string>> found,
                 std::function<void(std::map<std::string, std::string>)> done);

  GMainContext* ctx_;
  RedisAddress address_;
  unsigned ttl_ms_;
  redisAsyncContext* ac_ = nullptr;
  GSource* source_ = nullptr;
  std::vector<GSource*> stale_;
  bool connected_ = false;
  bool reported_down_ = false;
  unsigned backoff_ms_ = 250;
  uint64_t reconnects_ = 0;
  SourceHandle retry_;
  std::map<std::string, std::string> keys_;
  std::shared_ptr<bool> life_ = std::make_shared<bool>(true);
};

}  // namespace rtcmesh::sig::cluster
