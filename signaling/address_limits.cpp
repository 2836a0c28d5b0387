#include "signaling/address_limits.h"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

namespace rtcmesh::sig {

struct AddressLimits::State {
  struct Entry {
    double tokens = 0;
    Clock::time_point last{};  // when tokens was computed
    unsigned sessions = 0;
    std::list<std::string>::iterator idle_pos;  // in `idle` while sessions == 0
  };

  State(Config c, Now n) : cfg(c), now(std::move(n)) {
    cfg.burst = std::max(1u, cfg.burst);
    cfg.max_addresses = std::max<size_t>(1, cfg.max_addresses);
  }

  Config cfg;
  Now now;
  std::atomic<uint64_t> refused_requests{0}, refused_sessions{0};
  mutable std::mutex mu;
  std::unordered_map<std::string, Entry> entries;
  // Addresses without sessions, least recently used last.
  std::list<std::string> idle;

  // How long after its last request an idle address's bucket is full again.
  Clock::duration refill_time() const {
    if (cfg.rate <= 0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(cfg.burst / cfg.rate));
  }

  void refill(Entry& e, Clock::time_point t) const {
    if (cfg.rate > 0 && t > e.last) {
      double add = std::chrono::duration<double>(t - e.last).count() * cfg.rate;
      e.tokens = std::min<double>(cfg.burst, e.tokens + add);
    }
    e.last = std::max(e.last, t);
  }

  void touch_idle(Entry& e) { idle.splice(idle.begin(), idle, e.idle_pos); }

  // Forgets idle addresses whose bucket is full again: nothing is lost.
  void expire(Clock::time_point t) {
    Clock::duration full = refill_time();
    while (!idle.empty()) {
      auto it = entries.find(idle.back());
      if (t - it->second.last < full) break;
      entries.erase(it);
      idle.pop_back();
    }
  }

  // The entry of `key`, made when new; null when the table is full of
  // addresses that hold sessions.
  Entry* find_or_add(const std::string& key, Clock::time_point t) {
    expire(t);
    auto it = entries.find(key);
    if (it != entries.end()) return &it->second;
    if (entries.size() >= cfg.max_addresses) {
      if (idle.empty()) return nullptr;
      // Full: the least recently used idle address goes early.
      entries.erase(idle.back());
      idle.pop_back();
    }
    Entry& e = entries[key];
    e.tokens = cfg.burst;
    e.last = t;
    idle.push_front(key);
    e.idle_pos = idle.begin();
    return &e;
  }

  void release(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = entries.find(key);
    if (it == entries.end() || it->second.sessions == 0) return;
    Entry& e = it->second;
    if (--e.sessions == 0) {
      Clock::time_point t = now();
      refill(e, t);
      // The bucket's clock restarts: it is forgotten refill_time() from now
      // at the latest (a bucket full now is full then too).
      idle.push_front(key);
      e.idle_pos = idle.begin();
      expire(t);
    }
  }
};

class AddressLimits::Lease {
 public:
  Lease(std::shared_ptr<State> state, std::string key)
      : state_(std::move(state)), key_(std::move(key)) {}
  ~Lease() {
    if (state_) state_->release(key_);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  std::shared_ptr<State> state_;  // null: counts nothing
  std::string key_;
};

namespace {

unsigned whole_seconds(double s) {
  return static_cast<unsigned>(std::max(1.0, std::ceil(s - 1e-9)));
}

}  // namespace

AddressLimits::AddressLimits(Config config, Now now)
    : state_(std::make_shared<State>(config, std::move(now))) {}

AddressLimits::~AddressLimits() = default;

const AddressLimits::Config& AddressLimits::config() const {
  return state_->cfg;
}

std::string AddressLimits::key_of(const std::string& address) {
  unsigned char b[16];
  if (inet_pton(AF_INET6, address.c_str(), b) == 1) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = {};
    if (std::memcmp(b, mapped, sizeof mapped) == 0) {
      inet_ntop(AF_INET, b + 12, text, sizeof text);
      return text;
    }
    std::memset(b + 8, 0, 8);
    inet_ntop(AF_INET6, b, text, sizeof text);
    return std::string(text) + "/64";
  }
  return address;
}

std::optional<AddressLimits::Refusal> AddressLimits::request(const std::string& address) {
  State& s = *state_;
  if (address.empty() || s.cfg.rate <= 0) return std::nullopt;
  std::string key = key_of(address);
  std::lock_guard lock(s.mu);
  Clock::time_point t = s.now();
  State::Entry* e = s.find_or_add(key, t);
  if (!e) {
    ++s.refused_requests;
    return Refusal{1, static_cast<unsigned>(s.cfg.max_addresses),
                   "too many client addresses at once; try again"};
  }
  s.refill(*e, t);
  if (e->sessions == 0) s.touch_idle(*e);
  if (e->tokens >= 1) {
    e->tokens -= 1;
    return std::nullopt;
  }
  ++s.refused_requests;
  unsigned after = whole_seconds((1 - e->tokens) / s.cfg.rate);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g", s.cfg.rate);
  return Refusal{after, s.cfg.burst,
                 "too many requests from " + key + " (limit " + rate + " a second, burst " +
                     std::to_string(s.cfg.burst) + "); retry after " + std::to_string(after) +
                     " s"};
}

AddressLimits::LeasePtr AddressLimits::session(const std::string& address, Refusal* why) {
  State& s = *state_;
  if (address.empty() || s.cfg.max_sessions == 0) return std::make_shared<Lease>(nullptr, "");
  std::string key = key_of(address);
  std::lock_guard lock(s.mu);
  Clock::time_point t = s.now();
  State::Entry* e = s.find_or_add(key, t);
  if (!e) {
    ++s.refused_sessions;
    if (why) *why = {1, static_cast<unsigned>(s.cfg.max_addresses),
                     "too many client addresses at once; try again"};
    return nullptr;
  }
  if (e->sessions >= s.cfg.max_sessions) {
    // Sessions end when their clients leave: a hint, not a promise.
    ++s.refused_sessions;
    if (why)
      *why = {10, s.cfg.max_sessions,
              "too many sessions from " + key + " (limit " + std::to_string(s.cfg.max_sessions) +
                  "); end one or retry after 10 s"};
    return nullptr;
  }
  if (e->sessions++ == 0) {
    s.refill(*e, t);
    s.idle.erase(e->idle_pos);
  }
  return std::make_shared<Lease>(state_, key);
}

uint64_t AddressLimits::refused_requests() const {
  return state_->refused_requests.load();
}
uint64_t AddressLimits::refused_sessions() const {
  return state_->refused_sessions.load();
}

unsigned AddressLimits::sessions(const std::string& address) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->entries.find(key_of(address));
  return it == state_->entries.end() ? 0 : it->second.sessions;
}

size_t AddressLimits::tracked() const {
  std::lock_guard lock(state_->mu);
  state_->expire(state_->now());
  return state_->entries.size();
}

}  // namespace rtcmesh::sig
