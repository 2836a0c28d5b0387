#include "signaling/cluster/redis_state.h"

#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>

#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::cluster {

std::optional<RedisAddress> parse_redis_url(const std::string& url, std::string* why) {
  auto fail = [&](const std::string& w) -> std::optional<RedisAddress> {
    if (why) *why = w;
    return std::nullopt;
  };
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return fail("takes redis://HOST:PORT[/DB], not '" + url + "'");
  std::string rest = url.substr(scheme.size());
  RedisAddress a;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest.resize(slash);
    if (!db.empty()) {
      if (db.size() > 2 || db.find_first_not_of("0123456789") != std::string::npos)
        return fail("the database in '" + url + "' must be a number from 0 to 15");
      a.db = static_cast<unsigned>(std::stoul(db));
      if (a.db > 15) return fail("the database in '" + url + "' must be a number from 0 to 15");
    }
  }
  auto colon = rest.rfind(':');
  a.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  if (a.host.empty()) return fail("no host in '" + url + "'");
  if (colon != std::string::npos) {
    std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) == 0 || std::stoul(port) > 65535)
      return fail("the port in '" + url + "' must be 1 to 65535");
    a.port = static_cast<unsigned>(std::stoul(port));
  }
  return a;
}

namespace {

void on_connect(const redisAsyncContext* ac, int status) {
  if (ac->data) static_cast<RedisState*>(ac->data)->connected_cb(status);
}
void on_disconnect(const redisAsyncContext* ac, int status) {
  if (ac->data) static_cast<RedisState*>(ac->data)->disconnected_cb(status);
}

// A reply callback's closure: the user's function, run only while the state lives.
struct Pending {
  std::weak_ptr<bool> life;
  std::function<void(redisReply*)> fn;
};

void on_reply(redisAsyncContext*, void* r, void* privdata) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
  if (p->life.expired() || !p->fn) return;
  guarded("redis reply", [&] { p->fn(static_cast<redisReply*>(r)); });
}

}  // namespace

RedisState::RedisState(GMainContext* ctx, RedisAddress address, unsigned ttl_ms)
    : ctx_(ctx), address_(std::move(address)), ttl_ms_(ttl_ms) {
  // A clear error at start: a blocking PING with a timeout.
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), int(address_.port), tv);
  std::string where = address_.host + ":" + std::to_string(address_.port);
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    throw std::runtime_error("cannot connect to Redis at " + where + ": " + why +
                             " (is redis-server running there?)");
  }
  auto* reply = static_cast<redisReply*>(redisCommand(c, "SELECT %u", address_.db));
  std::string err = !reply ? c->errstr : reply->type == REDIS_REPLY_ERROR ? reply->str : "";
  if (reply) freeReplyObject(reply);
  redisFree(c);
  if (!err.empty()) throw std::runtime_error("Redis at " + where + " refused: " + err);
  connect();
}

RedisState::~RedisState() {
  life_.reset();
  retry_.reset();
  if (ac_) {
    ac_->data = nullptr;
    redisAsyncFree(ac_);  // runs the pending callbacks with null replies
  }
  drop_source();
  free_stale();
}

// hiredis still touches the source after its callbacks return: it is
// destroyed at the next connect (or with the state), not here.
void RedisState::drop_source() {
  if (source_) stale_.push_back(source_);
  source_ = nullptr;
}

void RedisState::free_stale() {
  for (GSource* s : stale_) {
    g_source_destroy(s);
    g_source_unref(s);
  }
  stale_.clear();
}

void RedisState::connect() {
  free_stale();
  ac_ = redisAsyncConnect(address_.host.c_str(), int(address_.port));
  if (!ac_ || ac_->err) {
    if (ac_) redisAsyncFree(ac_);
    ac_ = nullptr;
    retry_later();
    return;
  }
  ac_->data = this;
  source_ = redis_source_new(ac_);
  g_source_attach(source_, ctx_);
  redisAsyncSetConnectCallback(ac_, on_connect);
  redisAsyncSetDisconnectCallback(ac_, on_disconnect);
  if (address_.db) command({"SELECT", std::to_string(address_.db)});
}

void RedisState::connected_cb(int status) {
  if (status != REDIS_OK) {
    // hiredis frees the context (and cleans its source up) after this callback.
    ac_ = nullptr;
    drop_source();
    retry_later();
    return;
  }
  connected_ = true;
  backoff_ms_ = 250;
  if (reported_down_) {
    GST_WARNING("cluster: Redis at %s:%u is back; writing this node's keys again",
                address_.host.c_str(), address_.port);
    g_printerr("rtcmesh-server: Redis at %s:%u is back\n", address_.host.c_str(), address_.port);
    reported_down_ = false;
    reconnects_++;
  }
  refresh();
  if (on_state) on_state(true);
}

void RedisState::disconnected_cb(int status) {
  ac_ = nullptr;  // hiredis frees it
  drop_source();
  bool was = connected_;
  connected_ = false;
  if (status != REDIS_OK || was) retry_later();
  if (was && on_state) on_state(false);
}

void RedisState::retry_later() {
  if (!reported_down_) {
    // Once per outage, not once per attempt.
    g_printerr("rtcmesh-server: lost Redis at %s:%u; local rooms go on, retrying with backoff\n",
               address_.host.c_str(), address_.port);
    reported_down_ = true;
  }
  unsigned wait = backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, 5000u);
  // (connect() may replace retry_ from inside this very timer: GLib keeps the
  // running closure alive until it returns.)
  retry_ = add_timer(ctx_, wait, [this] { connect(); });
}

void RedisState::command(std::vector<std::string> args) {
  if (!ac_) return;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAsyncCommandArgv(ac_, nullptr, nullptr, int(argv.size()), argv.data(), lens.data());
}

void RedisState::put(const std::string& key, const std::string& value) {
  keys_[key] = value;
  if (connected_) command({"SET", key, value, "PX", std::to_string(ttl_ms_)});
}

void RedisState::erase(const std::string& key) {
  keys_.erase(key);
  if (connected_) command({"DEL", key});
}

void RedisState::refresh() {
  if (!connected_) return;
  for (const auto& [key, value] : keys_)
    command({"SET", key, value, "PX", std::to_string(ttl_ms_)});
}

bool RedisState::erase_all_now() {
  if (keys_.empty()) return true;
  timeval tv{0, 500000};
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), int(address_.port), tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return false;
  }
  redisSetTimeout(c, tv);
  std::vector<std::string> args = {"DEL"};
  for (const auto& [key, value] : keys_) args.push_back(key);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  if (address_.db) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "SELECT %u", address_.db));
    if (r) freeReplyObject(r);
  }
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply =
      static_cast<redisReply*>(redisCommandArgv(c, int(argv.size()), argv.data(), lens.data()));
  bool ok = reply && reply->type == REDIS_REPLY_INTEGER;
  if (reply) freeReplyObject(reply);
  redisFree(c);
  keys_.clear();
  return ok;
}

void RedisState::scan(const std::string& pattern,
                      std::function<void(std::map<std::string, std::string>)> done) {
  scan_step("0", pattern, std::make_shared<std::map<std::string, std::string>>(), std::move(done));
}

void RedisState::scan_step(std::string cursor, std::string pattern,
                           std::shared_ptr<std::map<std::string, std::string>> found,
                           std::function<void(std::map<std::string, std::string>)> done) {
  if (!ac_) return done(std::move(*found));
  auto* p = new Pending{life_, nullptr};
  p->fn = [this, pattern, found, done](redisReply* r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return done(std::move(*found));
    std::string next(r->element[0]->str, r->element[0]->len);
    std::vector<std::string> keys;
    for (size_t i = 0; i < r->element[1]->elements; ++i)
      keys.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
    auto after = [this, next, pattern, found, done] {
      if (next == "0") return done(std::move(*found));
      scan_step(next, pattern, found, done);
    };
    if (keys.empty() || !ac_) return after();
    std::vector<std::string> args = {"MGET"};
    args.insert(args.end(), keys.begin(), keys.end());
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* q = new Pending{life_, nullptr};
    q->fn = [keys, found, after](redisReply* m) {
      if (m && m->type == REDIS_REPLY_ARRAY && m->elements == keys.size())
        for (size_t i = 0; i < keys.size(); ++i)
          if (m->element[i]->type == REDIS_REPLY_STRING)
            (*found)[keys[i]] = std::string(m->element[i]->str, m->element[i]->len);
      after();
    };
    redisAsyncCommandArgv(ac_, on_reply, q, int(argv.size()), argv.data(), lens.data());
  };
  std::string c = cursor;
  const char* argv[] = {"SCAN", c.c_str(), "MATCH", pattern.c_str(), "COUNT", "500"};
  size_t lens[] = {4, c.size(), 5, pattern.size(), 5, 3};
  redisAsyncCommandArgv(ac_, on_reply, p, 6, argv, lens);
}

}  // namespace rtcmesh::sig::cluster
