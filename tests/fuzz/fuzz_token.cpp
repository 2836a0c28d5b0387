// libFuzzer target: room tokens (signaling/auth/tokens.h) as every endpoint
// receives them: the static token, then JWT parsing, signature (HS256 and
// ES256 keys both configured), algorithm, claims and times, then the grant
// check a call makes.
// Input: first byte: bit 0 = check times, bits 1-3 = the grants asked for;
// the rest is the token. Seeds: tokens made by `rtcmesh-server token` with
// the keys below, alg none, the static token.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "signaling/auth/tokens.h"

using namespace rtcmesh::sig;

namespace {
// A P-256 public key (its private half made the ES256 seed) and an HS256
// secret: fixed so that seeds verify and runs are repeatable.
constexpr const char* kPublicKey = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEt4vsaKfKcqqi4oy0TRezV7aZ/18z
f8PX1k0JEtfKn36XYT0JbDcy6lJbncoDUFbHv0uE5lD8jOFHqRqEuha3UQ==
-----END PUBLIC KEY-----
)";
constexpr const char* kSecret = "rtcmesh-fuzz-secret-0123456789abcdef";
// A fixed "now" (2026-12-03), inside the seeds' validity.
constexpr int64_t kNow = 1796300000;

const TokenVerifier& verifier() {
  static const TokenVerifier v(TokenKeys{"static-token", kSecret, kPublicKey});
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view token(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto verdict = verifier().verify(token, kNow, data[0] & 1);
  if (auto* claims = std::get_if<TokenClaims>(&verdict)) {
    unsigned grants = (data[0] >> 1) & 7;
    (void)TokenVerifier::check(*claims, "r", "alice", grants);
    (void)TokenVerifier::check(*claims, claims->room == "*" ? "any" : claims->room, claims->sub,
                               grants);
  } else {
    (void)std::get<TokenRefusal>(verdict).reason.size();
  }
  return 0;
}
