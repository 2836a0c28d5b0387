// TokenVerifier (signaling/auth/tokens.h): the static token, HS256 and
// ES256 JWTs made by issue_token (and by hand for the forgeries), at fixed
// times.
#include "signaling/auth/tokens.h"

#include <glib.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/p256_keys.h"

namespace rtcmesh::sig {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

using test::KeyPair;
using test::p256;

std::string b64url(const std::string& s) {
  gchar* b = g_base64_encode(reinterpret_cast<const guchar*>(s.data()), s.size());
  std::string out(b);
  g_free(b);
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string hs(const std::string& room, const std::string& sub, unsigned grants,
               int64_t exp = kNow + 600, int64_t nbf = kNow - 10,
               const std::string& secret = kSecret) {
  return issue_token("HS256", secret, room, sub, grants, nbf, exp);
}

TokenClaims ok(const TokenVerifier& v, const std::string& token, int64_t now = kNow) {
  auto r = v.verify(token, now);
  if (auto* refused = std::get_if<TokenRefusal>(&r)) {
    ADD_FAILURE() << "refused: " << refused->reason;
    return {};
  }
  return std::get<TokenClaims>(r);
}

TokenRefusal refused(const TokenVerifier& v, const std::string& token, int64_t now = kNow) {
  auto r = v.verify(token, now);
  if (auto* c = std::get_if<TokenClaims>(&r)) {
    ADD_FAILURE() << "accepted, room " << c->room;
    return {};
  }
  return std::get<TokenRefusal>(r);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Tokens, OpenServerAllowsEverything) {
  TokenVerifier v;
  EXPECT_TRUE(v.open());
  TokenClaims c = ok(v, "");
  EXPECT_TRUE(c.has(kGrantPublish));
  EXPECT_FALSE(TokenVerifier::check(c, "any", "anyone", kGrantPublish | kGrantSubscribe));
}

TEST(Tokens, StaticTokenKeepsWorkingBesideSignedOnes) {
  TokenVerifier v(TokenKeys{"s3cret", kSecret, ""});
  TokenClaims c = ok(v, "s3cret");
  EXPECT_EQ(c.room, "*");
  EXPECT_TRUE(c.has(kGrantAdmin));
  EXPECT_EQ(refused(v, "s3cre").status, 401);
  EXPECT_EQ(refused(v, "").status, 401);
  // A static token alone: JWTs are just wrong tokens.
  TokenVerifier only(TokenKeys{"s3cret", "", ""});
  EXPECT_EQ(refused(only, hs("a", "p", kGrantPublish)).reason, "invalid token");
}

TEST(Tokens, ValidHs256TokenCarriesItsClaims) {
  TokenVerifier v(TokenKeys{"", kSecret, ""});
  TokenClaims c = ok(v, hs("roomA", "alice", kGrantSubscribe));
  EXPECT_EQ(c.room, "roomA");
  EXPECT_EQ(c.sub, "alice");
  EXPECT_TRUE(c.has(kGrantSubscribe));
  EXPECT_FALSE(c.has(kGrantPublish));
  EXPECT_EQ(c.exp, kNow + 600);
}

TEST(Tokens, ExpiredAndNotYetValidAreRefusedWithLeeway) {
  TokenVerifier v(TokenKeys{"", kSecret, "", std::chrono::seconds(30)});
  std::string t = hs("a", "p", kGrantPublish, /*exp=*/kNow, /*nbf=*/kNow - 60);
  ok(v, t, kNow + 30);  // within the leeway
  TokenRefusal r = refused(v, t, kNow + 31);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(contains(r.reason, "expired 31 s ago")) << r.reason;

  std::string future = hs("a", "p", kGrantPublish, kNow + 600, /*nbf=*/kNow + 100);
  r = refused(v, future);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(contains(r.reason, "not valid yet")) << r.reason;
  ok(v, future, kNow + 70);  // 30 s early is within the leeway
  // check_times = false: a then-valid token still names its room.
  EXPECT_TRUE(std::holds_alternative<TokenClaims>(v.verify(t, kNow + 3600, false)));
}

TEST(Tokens, RoomSubAndGrantsAreChecked) {
  TokenVerifier v(TokenKeys{"", kSecret, ""});
  TokenClaims c = ok(v, hs("roomA", "alice", kGrantSubscribe));
  EXPECT_FALSE(TokenVerifier::check(c, "roomA", "alice", kGrantSubscribe));
  EXPECT_FALSE(TokenVerifier::check(c, "roomA", "", kGrantSubscribe));  // id not checked
  auto wrong_room = TokenVerifier::check(c, "roomB", "alice", kGrantSubscribe);
  ASSERT_TRUE(wrong_room);
  EXPECT_EQ(wrong_room->status, 403);
  EXPECT_EQ(wrong_room->reason, "token is for room 'roomA', not 'roomB'");
  auto wrong_sub = TokenVerifier::check(c, "roomA", "mallory", 0);
  ASSERT_TRUE(wrong_sub);
  EXPECT_EQ(wrong_sub->reason, "token is for peer 'alice', not 'mallory'");
  auto no_grant = TokenVerifier::check(c, "roomA", "alice", kGrantPublish);
  ASSERT_TRUE(no_grant);
  EXPECT_EQ(no_grant->status, 403);
  EXPECT_EQ(no_grant->reason, "token does not grant publish");
}

TEST(Tokens, WildcardRoomAndAdmin) {
  TokenVerifier v(TokenKeys{"", kSecret, ""});
  TokenClaims c = ok(v, hs("*", "ops", kGrantAdmin));
  EXPECT_FALSE(TokenVerifier::check(c, "anyroom", "ops", kGrantPublish | kGrantSubscribe));
  TokenClaims none = ok(v, hs("*", "", 0));
  EXPECT_TRUE(none.sub.empty());
  EXPECT_TRUE(TokenVerifier::check(none, "r", "x", kGrantSubscribe));
}

TEST(Tokens, BadSignatureIsRefused) {
  TokenVerifier v(TokenKeys{"", kSecret, ""});
  std::string other = hs("a", "p", kGrantPublish, kNow + 600, kNow,
                         "another-secret-of-at-least-32-bytes!!");
  EXPECT_EQ(refused(v, other).reason, "invalid token: bad signature");
  // The payload changed after signing (a grant added).
  std::string t = hs("a", "p", kGrantSubscribe);
  std::string forged_payload = b64url(
      R"({"room":"a","sub":"p","grants":["publish","subscribe"],"exp":1800000600})");
  std::string forged = t.substr(0, t.find('.')) + "." + forged_payload + t.substr(t.rfind('.'));
  EXPECT_EQ(refused(v, forged).reason, "invalid token: bad signature");
  EXPECT_EQ(refused(v, "a.b").status, 401);
  EXPECT_EQ(refused(v, "not-a-token").status, 401);
  EXPECT_EQ(refused(v, t.substr(0, t.rfind('.') + 1)).reason, "invalid token: no signature");
}

TEST(Tokens, AlgNoneIsRefused) {
  TokenVerifier v(TokenKeys{"", kSecret, ""});
  std::string payload =
      b64url(R"({"room":"*","sub":"p","grants":["admin"],"exp":1800000600})");
  for (const char* h : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"typ":"JWT"})"}) {
    for (const char* sig : {"", "AAAA"}) {
      TokenRefusal r = refused(v, b64url(h) + "." + payload + "." + sig);
      EXPECT_EQ(r.status, 401);
      EXPECT_TRUE(contains(r.reason, "is not accepted here (HS256)")) << h << ": " << r.reason;
    }
  }
}

TEST(Tokens, Es256TokensAndAlgConfusion) {
  KeyPair kp = p256();
  TokenVerifier v(TokenKeys{"", "", kp.public_pem});
  std::string t = issue_token("ES256", kp.private_pem, "roomA", "bob", kGrantPublish, kNow - 5,
                              kNow + 60);
  TokenClaims c = ok(v, t);
  EXPECT_EQ(c.sub, "bob");
  EXPECT_TRUE(c.has(kGrantPublish));
  // Another key pair's signature.
  KeyPair other = p256();
  EXPECT_EQ(refused(v, issue_token("ES256", other.private_pem, "roomA", "bob", kGrantPublish,
                                   kNow - 5, kNow + 60))
                .reason,
            "invalid token: bad signature");
  // HS256 keyed with the (public) PEM: refused, ES256 is what is configured.
  std::string confused =
      issue_token("HS256", kp.public_pem, "roomA", "bob", kGrantAdmin, kNow - 5, kNow + 60);
  TokenRefusal r = refused(v, confused);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.reason, "invalid token: algorithm 'HS256' is not accepted here (ES256)");
  // HS256 signed with the real secret when only ES256 is configured: refused too.
  EXPECT_EQ(refused(v, hs("roomA", "bob", kGrantPublish)).status, 401);
  // Both configured: each verifies with its own key.
  TokenVerifier both(TokenKeys{"", kSecret, kp.public_pem});
  ok(both, t);
  ok(both, hs("roomA", "bob", kGrantPublish));
  EXPECT_EQ(refused(both, confused).reason, "invalid token: bad signature");
}

TEST(Tokens, ClaimsMustBeWellFormed) {
  TokenVerifier v(TokenKeys{"", kSecret, ""});
  auto sign = [](const std::string& payload_json) {
    // Any payload, validly signed: HS256 by hand with GLib's HMAC.
    std::string head = b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(payload_json);
    GHmac* h = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(kSecret.data()),
                          kSecret.size());
    g_hmac_update(h, reinterpret_cast<const guchar*>(head.data()), head.size());
    guint8 digest[32];
    gsize len = sizeof digest;
    g_hmac_get_digest(h, digest, &len);
    g_hmac_unref(h);
    return head + "." + b64url(std::string(reinterpret_cast<char*>(digest), len));
  };
  ok(v, sign(R"({"room":"a","grants":[],"exp":1800000600})"));
  EXPECT_TRUE(contains(refused(v, sign(R"({"room":"a","grants":[]})")).reason, "no \"exp\""));
  EXPECT_TRUE(contains(refused(v, sign(R"({"grants":[],"exp":1800000600})")).reason, "\"room\""));
  EXPECT_TRUE(
      contains(refused(v, sign(R"({"room":"a b","grants":[],"exp":1800000600})")).reason, "\"room\""));
  EXPECT_TRUE(contains(refused(v, sign(R"({"room":"a","exp":1800000600})")).reason, "\"grants\""));
  EXPECT_TRUE(contains(
      refused(v, sign(R"({"room":"a","grants":["root"],"exp":1800000600})")).reason, "unknown grant"));
  EXPECT_TRUE(contains(
      refused(v, sign(R"({"room":"a","sub":7,"grants":[],"exp":1800000600})")).reason, "\"sub\""));
  EXPECT_TRUE(
      contains(refused(v, sign(R"({"room":"a","grants":[],"exp":"soon"})")).reason, "\"exp\""));
}

TEST(Tokens, UnusableKeysAreRefusedAtStart) {
  EXPECT_THROW(TokenVerifier(TokenKeys{"", "short", ""}), std::invalid_argument);
  EXPECT_THROW(TokenVerifier(TokenKeys{"", "", "not a pem"}), std::invalid_argument);
  KeyPair kp = p256();
  // The private key where the public one belongs.
  EXPECT_THROW(TokenVerifier(TokenKeys{"", "", kp.private_pem}), std::invalid_argument);
  EXPECT_THROW(issue_token("RS256", kSecret, "a", "p", 0, kNow, kNow + 1), std::invalid_argument);
  EXPECT_THROW(issue_token("ES256", kp.public_pem, "a", "p", 0, kNow, kNow + 1),
               std::invalid_argument);
}

}  // namespace
}  // namespace rtcmesh::sig
