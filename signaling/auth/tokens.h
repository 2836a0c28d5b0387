// Room tokens (docs/protocol.md "Authentication", docs/security.md "Tokens"):
// a server's static bearer token, and signed JWTs (HS256 with a shared
// secret, ES256 with a P-256 public key) that say who (`sub`) may do what
// (`grants`) in which room (`room`) until when (`exp`, `nbf`). Pure: times
// come in with the calls; thread-safe (a verifier is immutable).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rtcmesh::sig {

// What a server accepts. Everything empty: the server is open.
struct TokenKeys {
  std::string token;       // static bearer token: every room, every id, every grant
  std::string hs256;       // HS256 secret (bytes); empty = HS256 tokens are refused
  std::string es256;       // ES256 public key (PEM); empty = ES256 tokens are refused
  std::chrono::seconds leeway{30};  // clock skew allowed on exp and nbf
  bool operator==(const TokenKeys&) const = default;
  bool open() const { return token.empty() && hs256.empty() && es256.empty(); }
  bool signed_tokens() const { return !hs256.empty() || !es256.empty(); }
};

enum Grant : unsigned {
  kGrantPublish = 1,
  kGrantSubscribe = 2,
  kGrantAdmin = 4,  // every grant, and `list` of every room
  kGrantLayout = 8,  // MCU rooms: the `layout` method
};
const char* grant_name(Grant g);  // "publish", "subscribe", "admin", "layout"

// What a token allows. The static token (and an open server) allow all.
struct TokenClaims {
  std::string room = "*";  // a room name, or "*": every room
  std::string sub;         // participant id; empty: any
  unsigned grants = kGrantPublish | kGrantSubscribe | kGrantAdmin;
  int64_t exp = 0;         // seconds since the epoch; 0: never (static token)
  bool has(Grant g) const { return (grants & g) || (grants & kGrantAdmin); }
  bool allows_room(std::string_view name) const { return room == "*" || room == name; }
  static TokenClaims all() { return {}; }
};

// Why a token or a use of it is refused. 401: the token itself (missing,
// malformed, badly signed, wrong algorithm, expired, not yet valid); 403: a
// good token that does not allow this (room, id, grant). JSON-RPC answers
// both with -32001.
struct TokenRefusal {
  int status = 401;
  std::string reason;
};

class TokenVerifier {
 public:
  TokenVerifier() = default;  // open
  // Throws std::invalid_argument when a key is unusable (a secret shorter
  // than 32 bytes, a PEM that is not an EC P-256 public key).
  explicit TokenVerifier(TokenKeys keys);

  bool open() const { return keys_.open(); }
  const TokenKeys& keys() const { return keys_; }

  // `token` against the static token, then as a JWT. `now`: seconds since
  // the epoch. check_times = false skips exp/nbf (a resource whose session
  // a then valid token created).
  std::variant<TokenClaims, TokenRefusal> verify(std::string_view token, int64_t now,
                                                 bool check_times = true) const;

  // The claims allow `grant` in `room` as `peer` (empty: not checked); the
  // 403 refusal otherwise.
  static std::optional<TokenRefusal> check(const TokenClaims& claims, std::string_view room,
                                           std::string_view peer, unsigned grants);

  static int64_t wall_clock();  // now, seconds since the epoch

 private:
  TokenKeys keys_;
};

// Reads a key file: the HS256 secret (trailing newline dropped) or a PEM.
// Throws std::invalid_argument naming the file when it cannot be read or is
// empty.
std::string read_key_file(const std::string& path, const char* what);

// A signed token, for `rtcmesh-server token` and tests. `alg` "HS256"
// (key: the secret) or "ES256" (key: a P-256 private key PEM). Throws
// std::invalid_argument with the reason.
std::string issue_token(const std::string& alg, const std::string& key, const std::string& room,
                        const std::string& sub, unsigned grants, int64_t nbf, int64_t exp);

}  // namespace rtcmesh::sig
