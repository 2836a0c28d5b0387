// ICE-lite (RFC 8445 §2.5) for one session: we never send checks, we answer
// the full agent's binding requests. A request is valid when USERNAME is
// "<our ufrag>:<theirs>" and MESSAGE-INTEGRITY verifies with our password;
// each valid request keeps consent (RFC 7675) for its 5-tuple fresh.
// USE-CANDIDATE nominates the tuple the request came from, so a client whose
// address changes keeps its session once it checks (and nominates) again.
// Not thread-safe: the engine thread that owns the session drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gst/engine/address.h"
#include "gst/engine/stun.h"

namespace rtcmesh::engine {

using Clock = std::chrono::steady_clock;

class IceLite {
 public:
  enum class Verdict {
    kNotForUs,      // not a binding request, or another session's username
    kBadRequest,    // 400: no USERNAME or MESSAGE-INTEGRITY, ICE-CONTROLLED from a peer
    kUnauthorized,  // 401: integrity did not verify
    kRoleConflict,  // 487: the peer also claims to be controlled
    kAccepted,
  };
  struct Outcome {
    Verdict verdict = Verdict::kNotForUs;
    std::vector<uint8_t> response;  // to send back to `from` (empty: nothing)
    bool selected_changed = false;  // the address media goes to changed
  };

  // Random ICE credentials (RFC 8839: ufrag ≥ 4, pwd ≥ 22 ice-chars).
  IceLite();
  IceLite(std::string local_ufrag, std::string local_pwd);

  const std::string& local_ufrag() const { return ufrag_; }
  const std::string& local_pwd() const { return pwd_; }
  // From the remote description; until then the remote half of USERNAME is
  // not checked (a check may arrive before the answer).
  void set_remote(std::string ufrag, std::string pwd);
  void set_consent_timeout(Clock::duration d) { consent_timeout_ = d; }

  // A parsed STUN message (stun::parse succeeded) from `from`.
  Outcome on_stun(const uint8_t* data, size_t size, const stun::Message& message,
                  const Address& from, Clock::time_point now);

  // Where media goes: the nominated tuple, else the first valid one.
  const Address& selected() const { return selected_; }
  bool nominated() const { return nominated_; }
  bool has_valid_check() const { return !selected_.empty(); }
  // No valid check from the selected tuple for the consent timeout.
  bool consent_expired(Clock::time_point now) const;
  uint64_t valid_checks() const { return valid_checks_; }

  // The USERNAME prefix that routes a request to this session.
  static std::string_view local_part(std::string_view username);
  static std::string random_string(size_t length);

 private:
  std::string ufrag_, pwd_, remote_ufrag_, remote_pwd_;
  Address selected_;
  bool nominated_ = false;
  Clock::time_point last_consent_{};
  Clock::duration consent_timeout_ = std::chrono::seconds(30);
  uint64_t valid_checks_ = 0;
};

}  // namespace rtcmesh::engine
