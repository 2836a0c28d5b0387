#include "signaling/auth/tokens.h"

#include <glib.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "signaling/json.h"
#include "signaling/rooms/messages.h"
#include "signaling/util.h"

namespace rtcmesh::sig {

namespace {

constexpr size_t kMaxToken = 8 * 1024;
constexpr size_t kMinSecret = 32;

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

TokenRefusal unauthorized(std::string why) { return {401, std::move(why)}; }
TokenRefusal forbidden(std::string why) { return {403, std::move(why)}; }

// base64url without padding (RFC 7515 §2) → bytes; nullopt when malformed.
std::optional<std::string> base64url_decode(std::string_view in) {
  std::string b64;
  b64.reserve(in.size() + 3);
  for (char c : in) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!g_ascii_isalnum(c)) return std::nullopt;
    b64 += c;
  }
  if (b64.size() % 4 == 1) return std::nullopt;
  while (b64.size() % 4) b64 += '=';
  gsize len = 0;
  guchar* out = g_base64_decode(b64.c_str(), &len);
  std::string bytes(reinterpret_cast<const char*>(out), len);
  g_free(out);
  return bytes;
}

std::optional<Json> json_segment(std::string_view seg) {
  auto bytes = base64url_decode(seg);
  if (!bytes) return std::nullopt;
  auto j = Json::parse(*bytes, nullptr, 8);
  if (!j || !j->is_object()) return std::nullopt;
  return j;
}

std::optional<int64_t> numeric_date(const Json& payload, const char* name, std::string* error) {
  const Json* v = payload.find(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    *error = std::string("token: \"") + name + "\" is not a number";
    return std::nullopt;
  }
  return v->is_int() ? v->as_int() : static_cast<int64_t>(v->as_double());
}

// The EC P-256 public key a PEM holds, or the reason it does not.
std::string check_es256_public_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                               BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) return "not a PEM public key (-----BEGIN PUBLIC KEY-----)";
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_EC) return "not an EC key (ES256 needs P-256)";
  char curve[64] = {0};
  size_t len = 0;
  if (!EVP_PKEY_get_group_name(key.get(), curve, sizeof curve, &len) ||
      std::string_view(curve) != "prime256v1")
    return std::string("an EC key on ") + (curve[0] ? curve : "an unknown curve") +
           ", not P-256 (prime256v1)";
  return {};
}

}  // namespace

const char* grant_name(Grant g) {
  switch (g) {
    case kGrantPublish: return "publish";
    case kGrantSubscribe: return "subscribe";
    case kGrantAdmin: return "admin";
    case kGrantLayout: return "layout";
  }
  return "?";
}

int64_t TokenVerifier::wall_clock() { return g_get_real_time() / G_USEC_PER_SEC; }

TokenVerifier::TokenVerifier(TokenKeys keys) : keys_(std::move(keys)) {
  if (!keys_.hs256.empty() && keys_.hs256.size() < kMinSecret)
    throw std::invalid_argument("the HS256 secret has " + std::to_string(keys_.hs256.size()) +
                                " bytes; it needs at least " + std::to_string(kMinSecret) +
                                " (e.g. openssl rand -hex 32)");
  if (!keys_.es256.empty())
    if (std::string why = check_es256_public_key(keys_.es256); !why.empty())
      throw std::invalid_argument("the ES256 public key is " + why);
}

std::variant<TokenClaims, TokenRefusal> TokenVerifier::verify(std::string_view token, int64_t now,
                                                              bool check_times) const {
  if (keys_.open()) return TokenClaims::all();
  token = trim(token);
  if (token.empty()) return unauthorized("a token is needed");
  if (!keys_.token.empty() && constant_time_equal(token, keys_.token)) return TokenClaims::all();
  auto parts = split(token, '.');
  if (!keys_.signed_tokens() || parts.size() != 3 || token.size() > kMaxToken)
    return unauthorized(keys_.signed_tokens() ? "invalid token: not a JWT (header.payload.signature)"
                                              : "invalid token");

  // The header first: which algorithm, and do we take it.
  auto header = json_segment(parts[0]);
  if (!header) return unauthorized("invalid token: the JWT header is not base64url JSON");
  std::string alg = header->get_string("alg").value_or("");
  const std::string* key = nullptr;
  if (alg == "HS256") key = &keys_.hs256;
  else if (alg == "ES256") key = &keys_.es256;
  std::string accepted = keys_.hs256.empty()   ? "ES256"
                         : keys_.es256.empty() ? "HS256"
                                               : "HS256 or ES256";
  if (!key || key->empty())
    return unauthorized("invalid token: algorithm " + quote_short(alg.empty() ? "(none)" : alg) +
                        " is not accepted here (" + accepted + ")");
  if (parts[2].empty()) return unauthorized("invalid token: no signature");

  // The signature (libjwt, which knows the header's alg is the one we chose).
  jwt_t* raw = nullptr;
  std::string text(token);
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->data()),
                      static_cast<int>(key->size()));
  JwtPtr jwt(raw);
  if (rc != 0 || !jwt) return unauthorized("invalid token: bad signature");
  if (jwt_get_alg(jwt.get()) != (alg == "HS256" ? JWT_ALG_HS256 : JWT_ALG_ES256))
    return unauthorized("invalid token: algorithm changed while verifying");

  // The claims, from the payload the signature covers.
  auto payload = json_segment(parts[1]);
  if (!payload) return unauthorized("invalid token: the JWT payload is not base64url JSON");
  std::string error;
  auto exp = numeric_date(*payload, "exp", &error);
  auto nbf = numeric_date(*payload, "nbf", &error);
  if (!error.empty()) return unauthorized(error);
  if (!exp) return unauthorized("token: no \"exp\" (tokens must expire)");
  const int64_t leeway = keys_.leeway.count();
  if (check_times && now > *exp + leeway)
    return unauthorized("token expired " + std::to_string(now - *exp) + " s ago");
  if (check_times && nbf && now + leeway < *nbf)
    return unauthorized("token not valid yet (for another " + std::to_string(*nbf - now) + " s)");

  TokenClaims c;
  c.exp = *exp;
  auto room = payload->get_string("room");
  if (!room || (*room != "*" && !valid_room_name(*room)))
    return unauthorized("token: \"room\" must be a room name or \"*\"");
  c.room = *room;
  if (const Json* sub = payload->find("sub")) {
    if (!sub->is_string() || !valid_peer_id(sub->as_string()))
      return unauthorized("token: \"sub\" must be a peer id (1-64 of A-Z a-z 0-9 . _ ~ -)");
    c.sub = sub->as_string();
  }
  const Json* grants = payload->find("grants");
  if (!grants || !grants->is_array())
    return unauthorized(
        "token: \"grants\" must be an array of \"publish\", \"subscribe\", \"admin\", \"layout\"");
  c.grants = 0;
  for (const Json& g : grants->as_array()) {
    if (!g.is_string())
      return unauthorized("token: \"grants\" must be an array of strings");
    const std::string& s = g.as_string();
    if (s == "publish") c.grants |= kGrantPublish;
    else if (s == "subscribe") c.grants |= kGrantSubscribe;
    else if (s == "admin") c.grants |= kGrantAdmin;
    else if (s == "layout") c.grants |= kGrantLayout;
    else return unauthorized("token: unknown grant " + quote_short(s));
  }
  return c;
}

std::optional<TokenRefusal> TokenVerifier::check(const TokenClaims& c, std::string_view room,
                                                 std::string_view peer, unsigned grants) {
  if (!c.allows_room(room))
    return forbidden("token is for room " + quote_short(c.room) + ", not " + quote_short(room));
  if (!peer.empty() && !c.sub.empty() && peer != c.sub)
    return forbidden("token is for peer " + quote_short(c.sub) + ", not " + quote_short(peer));
  for (Grant g : {kGrantPublish, kGrantSubscribe, kGrantAdmin, kGrantLayout})
    if ((grants & g) && !c.has(g))
      return forbidden(std::string("token does not grant ") + grant_name(g));
  return std::nullopt;
}

std::string read_key_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(std::string(what) + ": cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) throw std::invalid_argument(std::string(what) + ": " + path + " is empty");
  return s;
}

std::string issue_token(const std::string& alg, const std::string& key, const std::string& room,
                        const std::string& sub, unsigned grants, int64_t nbf, int64_t exp) {
  jwt_alg_t a = alg == "HS256" ? JWT_ALG_HS256 : alg == "ES256" ? JWT_ALG_ES256 : JWT_ALG_INVAL;
  if (a == JWT_ALG_INVAL) throw std::invalid_argument("algorithm " + alg + ": HS256 or ES256");
  if (room != "*" && !valid_room_name(room))
    throw std::invalid_argument("room " + quote_short(room) + " is not a room name or \"*\"");
  if (!sub.empty() && !valid_peer_id(sub))
    throw std::invalid_argument("identity " + quote_short(sub) + " is not a peer id");
  if (a == JWT_ALG_HS256 && key.size() < kMinSecret)
    throw std::invalid_argument("the HS256 secret needs at least 32 bytes");
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::invalid_argument("out of memory");
  JwtPtr jwt(raw);
  Json payload = Json::object({{"room", room}});
  if (!sub.empty()) payload.set("sub", sub);
  Json g = Json::array();
  for (Grant x : {kGrantPublish, kGrantSubscribe, kGrantAdmin, kGrantLayout})
    if (grants & x) g.push(grant_name(x));
  payload.set("grants", std::move(g));
  payload.set("nbf", nbf);
  payload.set("iat", nbf);
  payload.set("exp", exp);
  int rc = jwt_add_grants_json(jwt.get(), payload.dump().c_str());
  if (rc == 0)
    rc = jwt_set_alg(jwt.get(), a, reinterpret_cast<const unsigned char*>(key.data()),
                     static_cast<int>(key.size()));
  if (rc != 0) throw std::invalid_argument(std::string("cannot sign: ") + std::strerror(rc));
  char* out = jwt_encode_str(jwt.get());
  if (!out)
    throw std::invalid_argument(a == JWT_ALG_ES256
                                    ? "cannot sign: the key is not a P-256 private key PEM"
                                    : "cannot sign the token");
  std::string token(out);
  free(out);  // libjwt 1.10 allocates with malloc (no jwt_free_str yet)
  return token;
}

}  // namespace rtcmesh::sig
