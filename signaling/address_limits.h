// Abuse limits per client address (issue 11 §4): a token bucket on the
// requests that create sessions (WHIP/WHEP POST, JSON-RPC join, new
// WebSocket connections) and a cap on the sessions one address holds at once
// (WHIP publishers, WHEP players, JSON-RPC connections). One per server,
// shared by its endpoints; thread-safe; the clock is injected (tests).
//
// Memory is bounded: an address without sessions is forgotten once its
// bucket would be full again (burst / rate seconds after its last request:
// forgetting it then changes nothing), and the table holds at most
// `max_addresses`; past that the least recently used address without
// sessions is forgotten early (it gets a full bucket again: a spray of
// source addresses costs memory only up to the cap).
//
// An IPv6 client is counted by its /64 (one host usually has the whole
// /64); an IPv4-mapped IPv6 address ("::ffff:1.2.3.4") as the IPv4 address.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace rtcmesh::sig {

class AddressLimits {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // The defaults are sized so that a room of browsers behind one NAT never
  // meets them: a browser joining a room costs 2 requests (its WebSocket and
  // its join), a WHEP player 1 POST. A full room (16 peers, the default
  // max-peers-per-room) arriving at once is 32 requests: inside the burst of
  // 40; after it 20 a second (10 browsers joining every second, for ever).
  // 50 sessions: three full rooms behind one address with players to spare,
  // and one address still cannot take more than a tenth of a server's 500
  // (max-sessions). Loopback is not exempt.
  struct Config {
    double rate = 20;         // session-creating requests per second; 0 = no rate limit
    unsigned burst = 40;      // requests at once after a quiet time (at least 1)
    unsigned max_sessions = 50;  // sessions held at once; 0 = no limit
    size_t max_addresses = 16384;  // addresses tracked at once (bounds the memory)
    bool operator==(const Config&) const = default;
  };

  // Why a request or session was refused.
  struct Refusal {
    unsigned retry_after_s = 1;  // whole seconds, at least 1 (HTTP Retry-After)
    unsigned limit = 0;          // the per-address limit passed (sessions, or burst)
    std::string reason;          // for the client: names the limit and the address
  };

  // One session of an address for as long as it lives (copies share it).
  class Lease;
  using LeasePtr = std::shared_ptr<Lease>;

  explicit AddressLimits(Config config, Now now = Clock::now);
  ~AddressLimits();
  AddressLimits(const AddressLimits&) = delete;
  AddressLimits& operator=(const AddressLimits&) = delete;

  // A session-creating request from `address`: nullopt = go ahead (a token
  // is taken), else when to come back. An empty address is never limited.
  std::optional<Refusal> request(const std::string& address);
  // A session of `address`: the lease, or null with *why filled in when the
  // address holds max_sessions already. An empty address gets a lease that
  // counts nothing.
  LeasePtr session(const std::string& address, Refusal* why);

  // Sessions `address` holds now; addresses tracked now (tests, metrics).
  unsigned sessions(const std::string& address) const;
  size_t tracked() const;
  const Config& config() const;
  // Refusals so far (/metrics): requests past the rate, sessions past the cap.
  uint64_t refused_requests() const;
  uint64_t refused_sessions() const;

  // The key an address is counted under ("1.2.3.4", "2001:db8:1:2::/64");
  // the address itself when it does not parse.
  static std::string key_of(const std::string& address);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace rtcmesh::sig
