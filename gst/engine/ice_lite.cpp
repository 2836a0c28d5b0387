#include "gst/engine/ice_lite.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace rtcmesh::engine {

std::string IceLite::random_string(size_t length) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> bytes(length);
  if (RAND_bytes(bytes.data(), int(length)) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out;
  for (uint8_t b : bytes) out += kChars[b % 64];
  return out;
}

IceLite::IceLite() : IceLite(random_string(8), random_string(24)) {}

IceLite::IceLite(std::string local_ufrag, std::string local_pwd)
    : ufrag_(std::move(local_ufrag)), pwd_(std::move(local_pwd)) {}

void IceLite::set_remote(std::string ufrag, std::string pwd) {
  remote_ufrag_ = std::move(ufrag);
  remote_pwd_ = std::move(pwd);
}

std::string_view IceLite::local_part(std::string_view username) {
  auto colon = username.find(':');
  return colon == std::string_view::npos ? std::string_view() : username.substr(0, colon);
}

bool IceLite::consent_expired(Clock::time_point now) const {
  return !selected_.empty() && now - last_consent_ > consent_timeout_;
}

IceLite::Outcome IceLite::on_stun(const uint8_t* data, size_t size, const stun::Message& m,
                                  const Address& from, Clock::time_point now) {
  Outcome out;
  if (m.type != stun::kBindingRequest) return out;  // indications, stray responses
  auto username = m.username();
  auto error = [&](Verdict v, int code, const char* reason) {
    out.verdict = v;
    // Error responses carry no integrity when the request's did not verify.
    out.response = stun::Builder(stun::kBindingError, m.transaction_id)
                       .add_error(code, reason)
                       .finish(v == Verdict::kUnauthorized || v == Verdict::kBadRequest ? "" : pwd_, true);
    return out;
  };
  if (!username || !m.integrity_offset) return error(Verdict::kBadRequest, 400, "Bad Request");
  if (local_part(*username) != ufrag_) return out;
  std::string_view remote = username->substr(ufrag_.size() + 1);
  if (!remote_ufrag_.empty() && remote != remote_ufrag_) return out;
  if (!stun::check_integrity(data, size, m, pwd_)) return error(Verdict::kUnauthorized, 401, "Unauthorized");
  // A lite agent is always controlled (RFC 8445 §6.1.1): a peer claiming the
  // same role is in conflict.
  if (m.find(stun::kIceControlled)) return error(Verdict::kRoleConflict, 487, "Role Conflict");

  out.verdict = Verdict::kAccepted;
  ++valid_checks_;
  bool nominate = m.use_candidate();
  if (selected_.empty() || (nominate && !(selected_ == from))) {
    out.selected_changed = !(selected_ == from);
    selected_ = from;
  }
  if (nominate) nominated_ = true;
  if (selected_ == from) last_consent_ = now;
  out.response = stun::Builder(stun::kBindingSuccess, m.transaction_id)
                     .add_xor_address(from)
                     .finish(pwd_, true);
  return out;
}

}  // namespace rtcmesh::engine
