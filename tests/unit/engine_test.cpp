// The native egress engine's parts without sockets (gst/engine): STUN with
// the RFC 5769 vectors, ICE-lite state, DTLS-SRTP between two in-memory
// endpoints (keys, profiles, retransmission, fingerprint check), SRTP with
// Debian's libsrtp2, RTP rewrite across source switches, the shared packet
// history, RTCP parse/build.
#include <gtest/gtest.h>

#include <openssl/ssl.h>
#include <srtp2/srtp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <deque>
#include <thread>

#include "gst/engine/dtls.h"
#include "gst/engine/history.h"
#include "gst/engine/ice_lite.h"
#include "gst/engine/packet.h"
#include "gst/engine/receiver.h"
#include "gst/engine/rewriter.h"
#include "gst/engine/rtcp.h"
#include "gst/engine/srtp.h"
#include "gst/engine/stun.h"
#include "gst/peer/dtls_certificate.h"

using namespace rtcmesh::engine;
using namespace std::chrono_literals;

namespace {

// RFC 5769 §2.1–2.3.
const uint8_t kRequest[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};
const uint8_t kResponseV4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};
const uint8_t kResponseV6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};
constexpr const char* kPassword = "VOkJxbRl1RmTxUk/WvJxBt";

std::vector<uint8_t> bytes(const uint8_t* p, size_t n) { return std::vector<uint8_t>(p, p + n); }

}  // namespace

// --- STUN ---

TEST(Stun, Rfc5769RequestParsesAndVerifies) {
  std::string why;
  auto m = stun::parse(kRequest, sizeof kRequest, &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->type, stun::kBindingRequest);
  EXPECT_EQ(*m->username(), "evtj:h6vY");
  EXPECT_EQ(*m->priority(), 0x6e0001ffu);
  ASSERT_NE(m->find(stun::kIceControlled), nullptr);
  EXPECT_EQ(m->find(stun::kSoftware)->value, "STUN test client");
  EXPECT_TRUE(m->fingerprint_ok);
  EXPECT_TRUE(stun::check_integrity(kRequest, sizeof kRequest, *m, kPassword));
  EXPECT_FALSE(stun::check_integrity(kRequest, sizeof kRequest, *m, "VOkJxbRl1RmTxUk/WvJxBu"));
}

TEST(Stun, Rfc5769ResponsesCarryTheMappedAddress) {
  auto v4 = stun::parse(kResponseV4, sizeof kResponseV4);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->type, stun::kBindingSuccess);
  EXPECT_TRUE(stun::check_integrity(kResponseV4, sizeof kResponseV4, *v4, kPassword));
  EXPECT_EQ(v4->xor_mapped_address()->to_string(), "192.0.2.1:32853");
  auto v6 = stun::parse(kResponseV6, sizeof kResponseV6);
  ASSERT_TRUE(v6);
  EXPECT_TRUE(stun::check_integrity(kResponseV6, sizeof kResponseV6, *v6, kPassword));
  EXPECT_EQ(v6->xor_mapped_address()->to_string(), "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

TEST(Stun, BuilderReproducesTheVectorsAndRoundTrips) {
  // The §2.2 response rebuilt from its parts is the vector, byte for byte.
  stun::TransactionId id;
  std::copy(kResponseV4 + 8, kResponseV4 + 20, id.begin());
  auto built = stun::Builder(stun::kBindingSuccess, id)
                   .add(stun::kSoftware, "test vector")
                   .add_xor_address(Address::parse("192.0.2.1", 32853))
                   .finish(kPassword, true);
  // Same layout and attribute bytes as the vector; it pads SOFTWARE with a
  // space where we pad with zero (so its MAC differs): ours must verify.
  ASSERT_EQ(built.size(), sizeof kResponseV4);
  EXPECT_EQ(std::vector<uint8_t>(built.begin(), built.begin() + 35), bytes(kResponseV4, 35));
  EXPECT_EQ(std::vector<uint8_t>(built.begin() + 36, built.begin() + 48), bytes(kResponseV4 + 36, 12));
  auto again = stun::parse(built.data(), built.size());
  ASSERT_TRUE(again);
  EXPECT_TRUE(stun::check_integrity(built.data(), built.size(), *again, kPassword));
  EXPECT_EQ(again->find(stun::kSoftware)->value, "test vector");
  // IPv6 round trip through our own builder.
  auto v6 = stun::Builder(stun::kBindingSuccess, id)
                .add_xor_address(Address::parse("2001:db8::7", 9))
                .finish("pw", true);
  auto m = stun::parse(v6.data(), v6.size());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->fingerprint_ok);
  EXPECT_TRUE(stun::check_integrity(v6.data(), v6.size(), *m, "pw"));
  EXPECT_EQ(m->xor_mapped_address()->to_string(), "[2001:db8::7]:9");
}

TEST(Stun, DamagedMessagesAreRejected) {
  auto request = bytes(kRequest, sizeof kRequest);
  for (size_t n = 0; n < request.size(); ++n)
    EXPECT_FALSE(stun::parse(request.data(), n)) << "truncated to " << n;
  std::string why;
  auto flipped = request;
  flipped[30] ^= 1;  // inside SOFTWARE: FINGERPRINT no longer matches
  EXPECT_FALSE(stun::parse(flipped.data(), flipped.size(), &why));
  EXPECT_EQ(why, "FINGERPRINT mismatch");
  auto bad_length = request;
  bad_length[3] = 0x5c;  // one attribute past the end
  EXPECT_FALSE(stun::parse(bad_length.data(), bad_length.size(), &why));
  auto overflow = request;
  overflow[22] = 0x7f;  // SOFTWARE length far past the message
  EXPECT_FALSE(stun::parse(overflow.data(), overflow.size(), &why));
  EXPECT_EQ(why, "attribute overflows the message");
  // Integrity without FINGERPRINT: a body byte changed is caught by the HMAC.
  stun::TransactionId id{};
  auto plain = stun::Builder(stun::kBindingRequest, id).add(stun::kUsername, "a:b").finish("key", false);
  plain[24] ^= 1;
  auto m = stun::parse(plain.data(), plain.size());
  ASSERT_TRUE(m);
  EXPECT_FALSE(stun::check_integrity(plain.data(), plain.size(), *m, "key"));
}

// --- ICE-lite ---

namespace {
std::vector<uint8_t> check(const std::string& username, const std::string& pwd, bool use_candidate,
                           bool controlled = false) {
  stun::TransactionId id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = uint8_t(rand());
  stun::Builder b(stun::kBindingRequest, id);
  b.add(stun::kUsername, username).add_u32(stun::kPriority, 1234);
  if (controlled) b.add_u64(stun::kIceControlled, 1);
  else b.add_u64(stun::kIceControlling, 42);
  if (use_candidate) b.add(stun::kUseCandidate, "");
  return b.finish(pwd, true);
}
IceLite::Outcome feed(IceLite& ice, const std::vector<uint8_t>& req, const Address& from, Clock::time_point now) {
  auto m = stun::parse(req.data(), req.size());
  EXPECT_TRUE(m);
  return ice.on_stun(req.data(), req.size(), *m, from, now);
}
}  // namespace

TEST(IceLite, AnswersValidChecksWithIntegrityAndTheMappedAddress) {
  IceLite ice("ufrg", "0123456789abcdefghijkl");
  ice.set_remote("them", "theirpassword0123456789");
  Address from = Address::parse("127.0.0.1", 40000);
  auto t0 = Clock::now();
  auto out = feed(ice, check("ufrg:them", "0123456789abcdefghijkl", false), from, t0);
  ASSERT_EQ(out.verdict, IceLite::Verdict::kAccepted);
  EXPECT_TRUE(out.selected_changed);
  EXPECT_EQ(ice.selected(), from);
  EXPECT_FALSE(ice.nominated());
  auto resp = stun::parse(out.response.data(), out.response.size());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->type, stun::kBindingSuccess);
  EXPECT_TRUE(resp->fingerprint_ok);
  EXPECT_TRUE(stun::check_integrity(out.response.data(), out.response.size(), *resp, "0123456789abcdefghijkl"));
  EXPECT_EQ(*resp->xor_mapped_address(), from);
}

TEST(IceLite, RejectsWrongCredentialsAndRoles) {
  IceLite ice("ufrg", "0123456789abcdefghijkl");
  ice.set_remote("them", "x");
  Address from = Address::parse("127.0.0.1", 40000);
  auto now = Clock::now();
  auto bad = feed(ice, check("ufrg:them", "wrong-password-0123456", true), from, now);
  EXPECT_EQ(bad.verdict, IceLite::Verdict::kUnauthorized);
  auto err = stun::parse(bad.response.data(), bad.response.size());
  ASSERT_TRUE(err);
  EXPECT_EQ(err->type, stun::kBindingError);
  EXPECT_EQ(err->find(stun::kErrorCode)->value.substr(2, 2), std::string("\x04\x01", 2));
  EXPECT_EQ(feed(ice, check("othr:them", "0123456789abcdefghijkl", true), from, now).verdict,
            IceLite::Verdict::kNotForUs);
  EXPECT_EQ(feed(ice, check("ufrg:else", "0123456789abcdefghijkl", true), from, now).verdict,
            IceLite::Verdict::kNotForUs);
  EXPECT_EQ(feed(ice, check("ufrg:them", "0123456789abcdefghijkl", true, true), from, now).verdict,
            IceLite::Verdict::kRoleConflict);
  stun::TransactionId id{};
  auto no_integrity = stun::Builder(stun::kBindingRequest, id).add(stun::kUsername, "ufrg:them").finish("", true);
  EXPECT_EQ(feed(ice, no_integrity, from, now).verdict, IceLite::Verdict::kBadRequest);
  EXPECT_FALSE(ice.has_valid_check());
  EXPECT_EQ(ice.valid_checks(), 0u);
}

TEST(IceLite, NominationMovesTheSessionAndConsentExpires) {
  IceLite ice("ufrg", "0123456789abcdefghijkl");
  ice.set_consent_timeout(5s);
  Address a = Address::parse("127.0.0.1", 40000), b = Address::parse("127.0.0.1", 40002);
  auto t0 = Clock::now();
  feed(ice, check("ufrg:them", "0123456789abcdefghijkl", true), a, t0);
  EXPECT_TRUE(ice.nominated());
  EXPECT_EQ(ice.selected(), a);
  // A valid check from another tuple without USE-CANDIDATE does not move media.
  auto probe = feed(ice, check("ufrg:them", "0123456789abcdefghijkl", false), b, t0 + 1s);
  EXPECT_EQ(probe.verdict, IceLite::Verdict::kAccepted);
  EXPECT_FALSE(probe.selected_changed);
  EXPECT_EQ(ice.selected(), a);
  // The client moved: nominated from b, the session follows.
  auto moved = feed(ice, check("ufrg:them", "0123456789abcdefghijkl", true), b, t0 + 2s);
  EXPECT_TRUE(moved.selected_changed);
  EXPECT_EQ(ice.selected(), b);
  EXPECT_FALSE(ice.consent_expired(t0 + 6s));
  // Checks from the old tuple keep nothing alive.
  feed(ice, check("ufrg:them", "0123456789abcdefghijkl", false), a, t0 + 6s);
  EXPECT_TRUE(ice.consent_expired(t0 + 7s + 100ms));
  EXPECT_EQ(IceLite::local_part("ufrg:them"), "ufrg");
  EXPECT_EQ(IceLite::local_part("nocolon"), "");
  IceLite random;
  EXPECT_GE(random.local_ufrag().size(), 4u);
  EXPECT_GE(random.local_pwd().size(), 22u);
}

// --- DTLS ---

namespace {

std::vector<std::vector<rtcmesh::sig::DtlsFingerprint>> fingerprints_of(const DtlsContext& c) {
  std::string f = c.fingerprint();  // "sha-256 AB:CD:…"
  std::string hex = f.substr(f.find(' ') + 1);
  std::string digest;
  for (size_t i = 0; i + 1 < hex.size(); i += 3) digest += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return {{{"sha-256", digest}}};
}

// Two endpoints whose records travel through queues; `drop_first_from_client`
// loses the client's first flight.
struct Pair {
  std::deque<std::vector<uint8_t>> to_server, to_client;
  std::unique_ptr<DtlsTransport> client, server;
  int drop_client = 0;

  Pair(const DtlsContext& cc, const DtlsContext& sc,
       std::vector<std::vector<rtcmesh::sig::DtlsFingerprint>> client_expects,
       std::vector<std::vector<rtcmesh::sig::DtlsFingerprint>> server_expects) {
    client = std::make_unique<DtlsTransport>(cc, DtlsTransport::Role::kClient, client_expects,
                                             [this](const uint8_t* d, size_t n) {
                                               if (drop_client > 0) { --drop_client; return; }
                                               to_server.emplace_back(d, d + n);
                                             });
    server = std::make_unique<DtlsTransport>(sc, DtlsTransport::Role::kServer, server_expects,
                                             [this](const uint8_t* d, size_t n) { to_client.emplace_back(d, d + n); });
  }
  // Delivers until both settle or `deadline`; runs timers as they fall due.
  void run(std::chrono::milliseconds limit = 3s) {
    client->start();
    server->start();
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      bool moved = false;
      while (!to_server.empty()) {
        auto d = std::move(to_server.front());
        to_server.pop_front();
        server->on_datagram(d.data(), d.size());
        moved = true;
      }
      while (!to_client.empty()) {
        auto d = std::move(to_client.front());
        to_client.pop_front();
        client->on_datagram(d.data(), d.size());
        moved = true;
      }
      auto settled = [](const DtlsTransport& t) {
        return t.state() == DtlsTransport::State::kConnected || t.state() == DtlsTransport::State::kFailed;
      };
      if (settled(*client) && settled(*server) && to_server.empty() && to_client.empty()) return;
      if (!moved) {
        for (DtlsTransport* t : {client.get(), server.get()}) {
          auto due = t->next_timeout();
          if (due && *due <= Clock::now()) t->on_timeout();
        }
        std::this_thread::sleep_for(5ms);
      }
    }
  }
};

const DtlsContext& context() {
  static DtlsContext c(rtcmesh::peer::dtls_certificate_pem());
  return c;
}

}  // namespace

TEST(Dtls, HandshakeExportsTheSameKeysOnBothSidesPreferringGcm) {
  Pair p(context(), context(), fingerprints_of(context()), fingerprints_of(context()));
  p.run();
  ASSERT_EQ(p.client->state(), DtlsTransport::State::kConnected) << p.client->error();
  ASSERT_EQ(p.server->state(), DtlsTransport::State::kConnected) << p.server->error();
  EXPECT_EQ(p.client->keys().profile, SrtpProfile::kAeadAes128Gcm);
  EXPECT_EQ(p.server->keys().profile, SrtpProfile::kAeadAes128Gcm);
  EXPECT_EQ(p.client->keys().local.size(), 16u + 12u);
  EXPECT_EQ(p.client->keys().local, p.server->keys().remote);
  EXPECT_EQ(p.client->keys().remote, p.server->keys().local);
  EXPECT_NE(p.client->keys().local, p.client->keys().remote);
  EXPECT_EQ(context().fingerprint().rfind("sha-256 ", 0), 0u);
}

TEST(Dtls, FallsBackToAesCmWhenThePeerOffersOnlyThat) {
  DtlsContext cm_only(rtcmesh::peer::dtls_certificate_pem());
  ASSERT_EQ(SSL_CTX_set_tlsext_use_srtp(cm_only.ctx(), "SRTP_AES128_CM_SHA1_80"), 0);
  Pair p(cm_only, context(), fingerprints_of(context()), fingerprints_of(cm_only));
  p.run();
  ASSERT_EQ(p.server->state(), DtlsTransport::State::kConnected) << p.server->error();
  ASSERT_EQ(p.client->state(), DtlsTransport::State::kConnected) << p.client->error();
  EXPECT_EQ(p.server->keys().profile, SrtpProfile::kAes128CmSha1_80);
  EXPECT_EQ(p.server->keys().local.size(), 16u + 14u);
  EXPECT_EQ(p.client->keys().local, p.server->keys().remote);
}

TEST(Dtls, WrongFingerprintFailsWithoutKeys) {
  auto wrong = fingerprints_of(context());
  wrong[0][0].digest[5] ^= 1;
  Pair p(context(), context(), fingerprints_of(context()), wrong);
  p.run();
  EXPECT_EQ(p.server->state(), DtlsTransport::State::kFailed);
  EXPECT_NE(p.server->error().find("fingerprint"), std::string::npos) << p.server->error();
  EXPECT_EQ(p.server->keys().profile, SrtpProfile::kNone);
  EXPECT_TRUE(p.server->keys().local.empty());
}

TEST(Dtls, LostFlightIsRetransmittedOnTheTimer) {
  Pair p(context(), context(), fingerprints_of(context()), fingerprints_of(context()));
  p.client->set_initial_timeout(50ms);
  p.server->set_initial_timeout(50ms);
  p.drop_client = 1;  // the first ClientHello never arrives
  auto t0 = Clock::now();
  p.run();
  ASSERT_EQ(p.server->state(), DtlsTransport::State::kConnected) << p.server->error();
  ASSERT_EQ(p.client->state(), DtlsTransport::State::kConnected) << p.client->error();
  EXPECT_GE(p.client->retransmissions(), 1u);
  // OpenSSL fires a timer up to 15 ms early (d1_lib.c).
  EXPECT_GE(Clock::now() - t0, 35ms);
}

// --- SRTP ---

namespace {
std::vector<uint8_t> rtp_packet(uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t pt = 96, size_t payload = 100) {
  std::vector<uint8_t> p(12 + payload);
  p[0] = 0x80;
  write_rtp(p.data(), pt, seq, ts, ssrc);
  for (size_t i = 0; i < payload; ++i) p[12 + i] = uint8_t(i * 7 + seq);
  return p;
}

void srtp_round_trip(const Pair& p) {
  SrtpSession a(p.client->keys()), b(p.server->keys());
  for (uint16_t seq = 1000; seq < 1010; ++seq) {
    auto plain = rtp_packet(seq, 90 * seq, 0x11223344);
    auto buf = plain;
    buf.resize(plain.size() + SrtpSession::kMaxTrailer);
    size_t n = plain.size();
    ASSERT_TRUE(a.protect_rtp(buf.data(), &n));
    EXPECT_GT(n, plain.size());
    EXPECT_NE(std::vector<uint8_t>(buf.begin() + 12, buf.begin() + long(plain.size())),
              std::vector<uint8_t>(plain.begin() + 12, plain.end()));
    auto tampered = buf;
    tampered[20] ^= 1;
    size_t tn = n;
    EXPECT_FALSE(b.unprotect_rtp(tampered.data(), &tn));
    ASSERT_TRUE(b.unprotect_rtp(buf.data(), &n));
    buf.resize(n);
    EXPECT_EQ(buf, plain);
  }
  // SRTCP in the other direction.
  std::vector<uint8_t> rr;
  rtcp::build_rr(&rr, {0x55667788, {}});
  auto plain = rr;
  rr.resize(rr.size() + SrtpSession::kMaxTrailer);
  size_t n = plain.size();
  ASSERT_TRUE(b.protect_rtcp(rr.data(), &n));
  ASSERT_TRUE(a.unprotect_rtcp(rr.data(), &n));
  rr.resize(n);
  EXPECT_EQ(rr, plain);
  EXPECT_EQ(b.failures(), 10u);  // the tampered packets
}
}  // namespace

TEST(Srtp, DebiansLibsrtp2ProtectsWithAesGcm) {
  Pair p(context(), context(), fingerprints_of(context()), fingerprints_of(context()));
  p.run();
  ASSERT_EQ(p.client->keys().profile, SrtpProfile::kAeadAes128Gcm);
  srtp_round_trip(p);
}

TEST(Srtp, DebiansLibsrtp2ProtectsWithAesCmHmacSha1) {
  DtlsContext cm_only(rtcmesh::peer::dtls_certificate_pem());
  ASSERT_EQ(SSL_CTX_set_tlsext_use_srtp(cm_only.ctx(), "SRTP_AES128_CM_SHA1_80"), 0);
  Pair p(cm_only, context(), fingerprints_of(context()), fingerprints_of(cm_only));
  p.run();
  ASSERT_EQ(p.client->keys().profile, SrtpProfile::kAes128CmSha1_80);
  srtp_round_trip(p);
}

namespace {
// libsrtp2 (Debian's, on NSS) is the reference the OpenSSL transforms are
// compared with; configured as the engine configured it before.
void init_libsrtp2() {
  static std::once_flag once;
  std::call_once(once, [] { (void)srtp_init(); });
}

std::vector<uint8_t> test_master(bool gcm, uint8_t seed) {
  std::vector<uint8_t> master(gcm ? 28 : 30);
  for (size_t i = 0; i < master.size(); ++i) master[i] = uint8_t(i * 13 + seed);
  return master;
}

srtp_t libsrtp2_session(bool gcm, std::vector<uint8_t> key, srtp_ssrc_type_t direction) {
  init_libsrtp2();
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  if (gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  }
  policy.key = key.data();
  policy.ssrc.type = direction;
  policy.allow_repeat_tx = 1;
  policy.window_size = 1024;
  srtp_t session = nullptr;
  EXPECT_EQ(srtp_create(&session, &policy), srtp_err_status_ok);
  return session;
}

// One CSRC and a one-byte header extension (3 words).
void add_csrc_and_extension(std::vector<uint8_t>* plain) {
  std::vector<uint8_t> ext{0x0A, 0x0B, 0x0C, 0x0D, 0xBE, 0xDE, 0x00, 0x02, 0x10, 0xAA, 0x21, 0xBB, 0xCC, 0, 0, 0};
  (*plain)[0] = 0x80 | 0x10 | 0x01;
  plain->insert(plain->begin() + 12, ext.begin(), ext.end());
}

// `plain` protected by `session` (RTP or RTCP); empty if it refuses.
std::vector<uint8_t> libsrtp2_protect(srtp_t session, std::vector<uint8_t> plain, bool rtcp) {
  size_t n = plain.size();
  plain.resize(n + SrtpSession::kMaxTrailer);
  int len = int(n);
  auto err = rtcp ? srtp_protect_rtcp(session, plain.data(), &len) : srtp_protect(session, plain.data(), &len);
  if (err != srtp_err_status_ok) return {};
  plain.resize(size_t(len));
  return plain;
}
}  // namespace

// Outgoing RTP goes through CmSender / GcmSender (OpenSSL), not libsrtp2:
// byte for byte what libsrtp2 sends, across a sequence number wrap
// (roll-over counter), packets late and repeated (retransmissions), two
// SSRCs, CSRCs and a header extension; 1024 or more behind is refused as
// libsrtp2 refuses it.
template <typename Sender>
void expect_same_as_libsrtp2(bool gcm) {
  std::vector<uint8_t> master = test_master(gcm, 5);
  srtp_t reference = libsrtp2_session(gcm, master, ssrc_any_outbound);
  ASSERT_TRUE(reference);
  Sender ours(master);

  std::vector<std::pair<uint16_t, uint32_t>> sends;  // (seq, ssrc)
  for (uint32_t i = 0; i < 40; ++i) sends.emplace_back(uint16_t(65520 + i), 0x11223344);  // wraps at 16
  sends.emplace_back(uint16_t(65530), 0x11223344);  // late, from before the wrap
  sends.emplace_back(uint16_t(5), 0x11223344);      // repeated
  for (uint32_t i = 0; i < 5; ++i) sends.emplace_back(uint16_t(40000 + i), 0x55667788);
  sends.emplace_back(uint16_t(30), 0x11223344);
  auto protect_both = [&](std::vector<uint8_t> plain, bool* ref_ok, bool* our_ok) {
    auto a = libsrtp2_protect(reference, plain, false), b = plain;
    b.resize(plain.size() + SrtpSession::kMaxTrailer);
    size_t nb = plain.size();
    *ref_ok = !a.empty();
    *our_ok = ours.protect(b.data(), &nb);
    b.resize(nb);
    return std::make_pair(a, b);
  };
  for (auto [seq, ssrc] : sends) {
    auto plain = rtp_packet(seq, 90 * seq, ssrc, 96, 200 + seq % 50);
    if (seq % 3 == 0) add_csrc_and_extension(&plain);
    bool ref_ok = false, our_ok = false;
    auto [a, b] = protect_both(plain, &ref_ok, &our_ok);
    ASSERT_TRUE(ref_ok && our_ok) << seq;
    ASSERT_GT(b.size(), plain.size());
    ASSERT_EQ(a, b) << "seq " << seq << " ssrc " << ssrc;
  }
  // The window behind the highest sent, or more: both refuse.
  bool ref_ok = true, our_ok = true;
  protect_both(rtp_packet(uint16_t(30 - 1024), 0, 0x11223344), &ref_ok, &our_ok);
  EXPECT_FALSE(ref_ok);
  EXPECT_FALSE(our_ok);
  protect_both(rtp_packet(uint16_t(30 - 1023), 0, 0x11223344), &ref_ok, &our_ok);
  EXPECT_TRUE(ref_ok);
  EXPECT_TRUE(our_ok);
  srtp_dealloc(reference);
}

TEST(Srtp, OpenSslAesCmSenderMatchesLibsrtp2) { expect_same_as_libsrtp2<CmSender>(false); }
TEST(Srtp, OpenSslAesGcmSenderMatchesLibsrtp2) { expect_same_as_libsrtp2<GcmSender>(true); }

namespace {
SrtpKeys session_keys(bool gcm, std::vector<uint8_t> local, std::vector<uint8_t> remote) {
  return {gcm ? SrtpProfile::kAeadAes128Gcm : SrtpProfile::kAes128CmSha1_80, std::move(local), std::move(remote)};
}

// What libsrtp2 (its own receiver beside ours, as the engine had it: window
// 1024) and SrtpSession decide for one protected packet: both must agree,
// accept as `expect` says and give back `plain`.
struct Receivers {
  srtp_t reference;
  SrtpSession* ours;
  bool rtcp;
  size_t rejected = 0;
  void deliver(const std::vector<uint8_t>& protected_packet, const std::vector<uint8_t>& plain, bool expect,
               const std::string& what) {
    auto a = protected_packet, b = protected_packet;
    int na = int(a.size());
    size_t nb = b.size();
    bool ref_ok = (rtcp ? srtp_unprotect_rtcp(reference, a.data(), &na) : srtp_unprotect(reference, a.data(), &na)) ==
                  srtp_err_status_ok;
    bool our_ok = rtcp ? ours->unprotect_rtcp(b.data(), &nb) : ours->unprotect_rtp(b.data(), &nb);
    EXPECT_EQ(ref_ok, expect) << "libsrtp2, " << what;
    EXPECT_EQ(our_ok, expect) << "ours, " << what;
    if (!our_ok) ++rejected;
    if (our_ok) {
      b.resize(nb);
      EXPECT_EQ(b, plain) << what;
    }
  }
};

// libsrtp2 protects, SrtpSession unprotects: across the wrap (ROC 0 → 1),
// reordered, replayed (rejected), too old (rejected), tampered (rejected and
// nothing changed: the good packet after it passes), two SSRCs, CSRCs and a
// header extension.
void expect_unprotects_what_libsrtp2_protects(bool gcm) {
  auto theirs = test_master(gcm, 5), mine = test_master(gcm, 77);
  srtp_t sender = libsrtp2_session(gcm, theirs, ssrc_any_outbound);
  srtp_t reference = libsrtp2_session(gcm, theirs, ssrc_any_inbound);
  SrtpSession ours(session_keys(gcm, mine, theirs));
  Receivers rx{reference, &ours, false};

  struct Sent {
    std::vector<uint8_t> plain, packet;
  };
  std::vector<Sent> a, b;  // SSRC 0x11223344 from seq 64000 (wraps at 1536), 0x55667788
  for (uint32_t i = 0; i < 1700; ++i) {
    auto plain = rtp_packet(uint16_t(64000 + i), 90 * i, 0x11223344, 96, 100 + i % 300);
    if (i % 3 == 0) add_csrc_and_extension(&plain);
    a.push_back({plain, libsrtp2_protect(sender, plain, false)});
    ASSERT_FALSE(a.back().packet.empty());
    if (i % 7 == 0) {
      auto p2 = rtp_packet(uint16_t(100 + i / 7), 90 * i, 0x55667788, 111, 60);
      b.push_back({p2, libsrtp2_protect(sender, p2, false)});
    }
  }
  for (size_t i = 0; i < a.size(); ++i) {
    std::string what = "packet " + std::to_string(i);
    if (i == 5) continue;  // held back: too old at the end
    if (i % 10 == 5 && i + 1 < a.size()) {  // reordered (1535/1536: across the wrap)
      rx.deliver(a[i + 1].packet, a[i + 1].plain, true, what + " early");
      rx.deliver(a[i].packet, a[i].plain, true, what + " late");
      ++i;
      continue;
    }
    if (i == 200 || i == 1537) {
      auto tampered = a[i].packet;
      tampered[tampered.size() / 2] ^= 0x20;
      rx.deliver(tampered, a[i].plain, false, what + " tampered");
      tampered = a[i].packet;
      tampered.back() ^= 1;  // the tag
      rx.deliver(tampered, a[i].plain, false, what + " tampered tag");
    }
    rx.deliver(a[i].packet, a[i].plain, true, what);
    if (i == 100 || i == 1540) rx.deliver(a[i - 2].packet, a[i - 2].plain, false, what + ": 2 before replayed");
    if (i % 7 == 0 && i / 7 < b.size()) rx.deliver(b[i / 7].packet, b[i / 7].plain, true, what + " other SSRC");
  }
  rx.deliver(a[5].packet, a[5].plain, false, "too old");
  rx.deliver(b[0].packet, b[0].plain, false, "other SSRC replayed");
  EXPECT_EQ(ours.failures(), rx.rejected);
  EXPECT_EQ(rx.rejected, 8u);
  srtp_dealloc(sender);
  srtp_dealloc(reference);
}

std::vector<uint8_t> rtcp_packet(uint32_t ssrc, int i) {
  std::vector<uint8_t> rr;
  rtcp::ReportBlock block;
  block.ssrc = 0x11223344;
  block.highest_sequence = uint32_t(1000 + i);
  block.jitter = uint32_t(i * 3);
  rtcp::ReceiverReport report{ssrc, {block}};
  rtcp::build_rr(&rr, report);
  if (i % 2) rtcp::build_rr(&rr, report);  // a compound of two
  return rr;
}

// SRTCP both ways: ours protects byte for byte as libsrtp2 (index from 1 per
// SSRC) and libsrtp2 unprotects it; libsrtp2 protects and ours unprotects,
// reordered, replayed, too old (128 behind) and tampered rejected.
void expect_srtcp_as_libsrtp2(bool gcm) {
  auto theirs = test_master(gcm, 5), mine = test_master(gcm, 77);
  SrtpSession ours(session_keys(gcm, mine, theirs));
  srtp_t same = libsrtp2_session(gcm, mine, ssrc_any_outbound);
  srtp_t peer_in = libsrtp2_session(gcm, mine, ssrc_any_inbound);
  for (int i = 0; i < 300; ++i) {
    uint32_t ssrc = i % 3 ? 0x0A0B0C0D : 0x01020304;
    auto plain = rtcp_packet(ssrc, i);
    auto expected = libsrtp2_protect(same, plain, true);
    auto buf = plain;
    buf.resize(plain.size() + SrtpSession::kMaxTrailer);
    size_t n = plain.size();
    ASSERT_TRUE(ours.protect_rtcp(buf.data(), &n));
    buf.resize(n);
    ASSERT_EQ(buf, expected) << i;
    int len = int(n);
    ASSERT_EQ(srtp_unprotect_rtcp(peer_in, buf.data(), &len), srtp_err_status_ok) << i;
    buf.resize(size_t(len));
    ASSERT_EQ(buf, plain);
  }

  srtp_t sender = libsrtp2_session(gcm, theirs, ssrc_any_outbound);
  srtp_t reference = libsrtp2_session(gcm, theirs, ssrc_any_inbound);
  Receivers rx{reference, &ours, true};
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> sent;  // (plain, protected)
  for (int i = 0; i < 300; ++i) {
    auto plain = rtcp_packet(i % 5 ? 0x66778899 : 0x01020304, i);
    sent.emplace_back(plain, libsrtp2_protect(sender, plain, true));
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    std::string what = "SRTCP " + std::to_string(i);
    if (i == 1) continue;  // held back: too old at the end
    if (i % 10 == 3) {
      rx.deliver(sent[i + 1].second, sent[i + 1].first, true, what + " early");
      rx.deliver(sent[i].second, sent[i].first, true, what + " late");
      ++i;
      continue;
    }
    if (i == 50) {
      auto tampered = sent[i].second;
      tampered[12] ^= 4;
      rx.deliver(tampered, sent[i].first, false, what + " tampered");
      tampered = sent[i].second;
      tampered[tampered.size() - (gcm ? 1 : 11)] ^= 1;  // the index
      rx.deliver(tampered, sent[i].first, false, what + " tampered index");
    }
    rx.deliver(sent[i].second, sent[i].first, true, what);
    if (i == 60) rx.deliver(sent[i].second, sent[i].first, false, what + " replayed");
  }
  rx.deliver(sent[1].second, sent[1].first, false, "too old");
  EXPECT_EQ(rx.rejected, 4u);
  for (auto* s : {same, peer_in, sender, reference}) srtp_dealloc(s);
}

// Not an assertion: µs per unprotect of a 1200-byte packet, libsrtp2 (NSS)
// against ours (OpenSSL), in the test's output.
void benchmark_unprotect(bool gcm) {
  constexpr int kPackets = 20000;
  auto theirs = test_master(gcm, 5);
  srtp_t sender = libsrtp2_session(gcm, theirs, ssrc_any_outbound);
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < kPackets; ++i)
    packets.push_back(libsrtp2_protect(sender, rtp_packet(uint16_t(i), 90 * i, 0x11223344, 96, 1188), false));
  auto time = [&](auto&& unprotect) {
    auto start = std::chrono::steady_clock::now();
    uint8_t buf[1500];
    int ok = 0;
    for (auto& p : packets) {
      std::memcpy(buf, p.data(), p.size());
      ok += unprotect(buf, p.size());
    }
    EXPECT_EQ(ok, kPackets);
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kPackets;
  };
  srtp_t reference = libsrtp2_session(gcm, theirs, ssrc_any_inbound);
  double ref_us = time([&](uint8_t* buf, size_t n) {
    int len = int(n);
    return srtp_unprotect(reference, buf, &len) == srtp_err_status_ok;
  });
  SrtpSession ours(session_keys(gcm, test_master(gcm, 77), theirs));
  double our_us = time([&](uint8_t* buf, size_t n) { return ours.unprotect_rtp(buf, &n); });
  std::printf("[ bench    ] SRTP unprotect %s, %d x 1200 bytes: libsrtp2 %.2f us, ours %.2f us per packet\n",
              gcm ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80", kPackets, ref_us, our_us);
  srtp_dealloc(sender);
  srtp_dealloc(reference);
}
}  // namespace

TEST(Srtp, OpenSslAesCmUnprotectsWhatLibsrtp2Protects) { expect_unprotects_what_libsrtp2_protects(false); }
TEST(Srtp, OpenSslAesGcmUnprotectsWhatLibsrtp2Protects) { expect_unprotects_what_libsrtp2_protects(true); }
TEST(Srtp, OpenSslAesCmSrtcpAsLibsrtp2) { expect_srtcp_as_libsrtp2(false); }
TEST(Srtp, OpenSslAesGcmSrtcpAsLibsrtp2) { expect_srtcp_as_libsrtp2(true); }
TEST(Srtp, UnprotectMicroBenchmark) {
  benchmark_unprotect(false);
  benchmark_unprotect(true);
}

// --- RTP rewrite and history ---

TEST(Rewriter, ContinuesSequenceAndTimestampAcrossSourceSwitches) {
  RtpRewriter rw(0xAAAA0001, 100, 90000);
  auto t = Clock::now();
  std::vector<uint16_t> seqs;
  std::vector<uint32_t> tss;
  auto send = [&](uint16_t seq, uint32_t ts, uint32_t ssrc, Clock::time_point at, bool expect = true) {
    auto p = rtp_packet(seq, ts, ssrc, 96);
    ASSERT_EQ(rw.rewrite(p.data(), p.size(), at), expect);
    if (!expect) return;
    auto h = parse_rtp(p.data(), p.size());
    EXPECT_EQ(h->ssrc, 0xAAAA0001u);
    EXPECT_EQ(h->payload_type, 100);
    seqs.push_back(h->sequence);
    tss.push_back(h->timestamp);
  };
  // Source A, wrapping its sequence numbers.
  send(65534, 1000, 0xA, t);
  send(65535, 4000, 0xA, t + 33ms);
  send(0, 7000, 0xA, t + 66ms);
  send(1, 10000, 0xA, t + 100ms);
  // Switch to B 100 ms later: continues at the next sequence number, its
  // timestamp advanced by 100 ms of 90 kHz.
  send(5000, 123456, 0xB, t + 200ms);
  send(5001, 126456, 0xB, t + 233ms);
  // A late packet of A is dropped, not taken for a switch back.
  send(2, 13000, 0xA, t + 234ms, false);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(uint16_t(seqs[i] - seqs[i - 1]), 1) << i;
  EXPECT_EQ(tss[4] - tss[3], 9000u);
  EXPECT_EQ(tss[5] - tss[4], 3000u);
  EXPECT_EQ(rw.switches(), 1u);
  // NACK lookup: outgoing sequence → B's own; A's packets are gone.
  EXPECT_EQ(*rw.source_sequence(seqs[5]), 5001);
  EXPECT_EQ(*rw.source_sequence(seqs[4]), 5000);
  EXPECT_FALSE(rw.source_sequence(seqs[3]));
  EXPECT_FALSE(rw.source_sequence(uint16_t(seqs[5] + 1)));
  // Reordering inside a source is kept.
  send(5003, 132456, 0xB, t + 300ms);
  send(5002, 129456, 0xB, t + 301ms);
  EXPECT_EQ(uint16_t(seqs[7] - seqs[6]), uint16_t(-1));
  EXPECT_EQ(*rw.source_sequence(seqs[7]), 5002);
  // Not RTP: dropped.
  uint8_t junk[20] = {0x40};
  EXPECT_FALSE(rw.rewrite(junk, sizeof junk, t));
}

TEST(History, AnswersBySequenceWithinItsAge) {
  PacketHistory h(16, 1s);
  auto t = Clock::now();
  for (uint16_t s = 65530; s != 12; ++s) {
    auto p = std::make_shared<SharedPacket>();
    p->data = rtp_packet(s, 0, 1);
    p->sequence = s;
    p->arrival = t;
    h.store(p);
  }
  EXPECT_TRUE(h.find(65535, t));
  EXPECT_TRUE(h.find(3, t + 500ms));
  EXPECT_EQ(h.find(3, t)->sequence, 3);
  EXPECT_FALSE(h.find(65530, t));  // overwritten: the ring holds 16
  EXPECT_FALSE(h.find(100, t));
  EXPECT_FALSE(h.find(3, t + 1500ms));  // too old to help
  EXPECT_EQ(h.stored(), 18u);
}

TEST(History, LetsGoOfPacketsOnceTooOld) {
  PacketHistory h(2048, 1s);
  auto t = Clock::now();
  auto packet = [&](uint16_t s, Clock::time_point at) {
    auto p = std::make_shared<SharedPacket>();
    p->data = rtp_packet(s, 0, 1);
    p->sequence = s;
    p->arrival = at;
    return p;
  };
  std::vector<std::weak_ptr<SharedPacket>> first;
  for (uint16_t s = 0; s < 100; ++s) {
    auto p = packet(s, t + std::chrono::milliseconds(s));
    first.push_back(p);
    h.store(p);
  }
  EXPECT_FALSE(first[0].expired());  // held while it may be asked for
  h.store(packet(100, t + 1050ms));  // 0..49 are over 1 s old now
  for (uint16_t s = 0; s < 100; ++s) EXPECT_EQ(first[s].expired(), s < 50) << s;
  EXPECT_FALSE(h.find(10, t + 1050ms));
  EXPECT_TRUE(h.find(60, t + 1050ms));
  h.store(packet(101, t + 5s));  // all but the new one
  for (uint16_t s = 0; s < 100; ++s) EXPECT_TRUE(first[s].expired()) << s;
  EXPECT_TRUE(h.find(101, t + 5s));
}

// --- ReceiveStream (native ingress) ---

namespace {
ReceiveStream video_stream() {
  ReceiveStream::Config c;
  c.nack = true;
  return ReceiveStream(c);
}
}  // namespace

// Across the 16-bit wrap: a gap is NACKed at once, the retransmission fills
// it (recovered) once, a duplicate is not accepted again, and the RR counts
// the extended highest sequence number with no loss left.
TEST(ReceiveStream, NacksAGapAtOnceAndTakesItsRetransmissionOnce) {
  auto r = video_stream();
  auto t = Clock::now();
  EXPECT_TRUE(r.receive(65533, 0, false, t).accepted);
  EXPECT_TRUE(r.receive(65534, 0, false, t).accepted);
  auto gap = r.receive(1, 0, false, t);  // 65535 and 0 missing
  EXPECT_TRUE(gap.accepted);
  EXPECT_EQ(gap.nack, (std::vector<uint16_t>{65535, 0}));
  EXPECT_EQ(r.missing(), 2u);
  auto back = r.receive(0, 0, true, t + 10ms);
  EXPECT_TRUE(back.accepted);
  EXPECT_TRUE(back.recovered);
  EXPECT_FALSE(r.receive(0, 0, true, t + 11ms).accepted) << "a duplicate";
  EXPECT_FALSE(r.receive(1, 0, false, t + 11ms).accepted) << "a duplicate";
  EXPECT_TRUE(r.receive(65535, 0, false, t + 12ms).recovered);  // late but there: a NACKed gap filled
  EXPECT_EQ(r.missing(), 0u);
  auto rb = r.report(42, t + 20ms);
  EXPECT_EQ(rb.ssrc, 42u);
  EXPECT_EQ(rb.highest_sequence, 65536u + 1);  // one cycle
  EXPECT_EQ(rb.cumulative_lost, 0);
  EXPECT_EQ(rb.fraction_lost, 0);
}

// Still missing: NACKed again every interval, 3 more times, then given up
// after a second; the RR counts it lost.
TEST(ReceiveStream, RepeatsNacksThenGivesUp) {
  auto r = video_stream();
  auto t = Clock::now();
  r.receive(10, 0, false, t);
  EXPECT_EQ(r.receive(12, 0, false, t).nack, std::vector<uint16_t>{11});
  EXPECT_TRUE(r.due(t + 50ms).nack.empty()) << "not yet";
  int repeats = 0;
  uint64_t lost = 0;
  for (auto at = t + 100ms; at <= t + 1100ms; at += 20ms) {
    auto out = r.due(at);
    repeats += int(out.nack.size());
    lost += out.lost;
  }
  EXPECT_EQ(repeats, 3);
  EXPECT_EQ(lost, 1u);
  EXPECT_EQ(r.missing(), 0u);
  EXPECT_FALSE(r.receive(11, 0, true, t + 1200ms).recovered) << "given up: not counted as recovered";
  r.receive(13, 0, false, t + 1200ms);
  auto rb = r.report(1, t + 1300ms);
  EXPECT_EQ(rb.highest_sequence, 13u);
  EXPECT_EQ(rb.cumulative_lost, 0) << "11 came after all";
}

// Audio (no NACK) and jumps larger than the NACK limit are lost at once;
// fraction lost is of the interval since the last report.
TEST(ReceiveStream, LossWithoutNackAndFractionLostPerInterval) {
  ReceiveStream audio({48000, false});
  auto t = Clock::now();
  audio.receive(100, 0, false, t);
  auto out = audio.receive(104, 0, false, t);
  EXPECT_TRUE(out.nack.empty());
  EXPECT_EQ(out.lost, 3u);
  auto rb = audio.report(7, t);
  EXPECT_EQ(rb.cumulative_lost, 3);
  EXPECT_EQ(rb.fraction_lost, 3 * 256 / 5);
  audio.receive(105, 0, false, t);
  EXPECT_EQ(audio.report(7, t).fraction_lost, 0) << "nothing lost since";

  auto video = video_stream();
  video.receive(0, 0, false, t);
  out = video.receive(500, 0, false, t);
  EXPECT_TRUE(out.nack.empty()) << "too many to ask again";
  EXPECT_EQ(out.lost, 499u);
}

// RFC 3550 A.1: a far jump is a restart only when the next packet follows
// it; a retransmission never restarts; far behind is dropped.
TEST(ReceiveStream, AFarJumpRestartsTheSequenceOnlyWhenConfirmed) {
  auto r = video_stream();
  auto t = Clock::now();
  r.receive(1000, 0, false, t);
  EXPECT_FALSE(r.receive(40000, 0, true, t).accepted);
  EXPECT_FALSE(r.receive(40000, 0, false, t).accepted) << "on probation";
  EXPECT_TRUE(r.receive(1001, 0, false, t).accepted);
  EXPECT_FALSE(r.receive(40000, 0, false, t).accepted);
  EXPECT_TRUE(r.receive(40001, 0, false, t).accepted) << "followed: a new sequence";
  EXPECT_EQ(r.report(1, t).highest_sequence, 40001u);
  EXPECT_FALSE(r.receive(40001 - 2000, 0, false, t).accepted) << "older than the window";
}

// Jitter from arrival against RTP timestamps (RFC 3550 A.8), and LSR/DLSR
// from the last SR.
TEST(ReceiveStream, JitterAndTheLastSenderReport) {
  auto r = video_stream();
  auto t = Clock::now();
  // 33 ms apart (2970 ticks at 90 kHz) but timestamps 3000 apart: the transit
  // time changes by 30 ticks each packet.
  for (uint16_t i = 0; i < 200; ++i) r.receive(i, uint32_t(i) * 3000, false, t + i * 33ms);
  auto rb = r.report(1, t);
  EXPECT_NEAR(double(rb.jitter), 30.0, 2.0);
  EXPECT_EQ(rb.last_sr, 0u);
  uint64_t ntp = 0x0123456789ABCDEFull;
  r.on_sender_report(ntp, t);
  rb = r.report(1, t + 500ms);
  EXPECT_EQ(rb.last_sr, 0x456789ABu);
  EXPECT_EQ(rb.delay_since_sr, 32768u);
}

// --- RTCP ---

TEST(Rtcp, CompoundRoundTripsEveryMessageWeUse) {
  std::vector<uint8_t> out;
  rtcp::SenderReport sr{1, 0x0102030405060708ull, 90000, 10, 1000, {{2, 25, -3, 70000, 12, 0x11112222, 655}}};
  rtcp::build_sr(&out, sr);
  rtcp::build_rr(&out, {3, {{4, 0, 100, 5, 6, 7, 8}, {9, 1, 2, 3, 4, 5, 6}}});
  rtcp::build_nack(&out, {5, 6, {100, 101, 103, 116, 117, 500}});
  rtcp::build_pli(&out, {7, 8});
  rtcp::build_fir(&out, {9, {{10, 3}}});
  rtcp::build_remb(&out, {11, 1500000, {12, 13}});
  // A transport-cc message (RTPFB fmt 15), counted only.
  const uint8_t tcc[] = {0x8f, 205, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0x20, 1, 0, 0};
  out.insert(out.end(), tcc, tcc + sizeof tcc);
  rtcp::Packets p;
  std::string why;
  ASSERT_TRUE(rtcp::parse(out.data(), out.size(), &p, &why)) << why;
  ASSERT_EQ(p.sender_reports.size(), 1u);
  EXPECT_EQ(p.sender_reports[0].ntp, sr.ntp);
  EXPECT_EQ(p.sender_reports[0].octets, 1000u);
  EXPECT_EQ(p.sender_reports[0].blocks, sr.blocks);
  ASSERT_EQ(p.receiver_reports.size(), 1u);
  EXPECT_EQ(p.receiver_reports[0].blocks.size(), 2u);
  EXPECT_EQ(p.receiver_reports[0].blocks[0].cumulative_lost, 100);
  ASSERT_EQ(p.nacks.size(), 1u);
  EXPECT_EQ(p.nacks[0].media_ssrc, 6u);
  EXPECT_EQ(p.nacks[0].sequences, (std::vector<uint16_t>{100, 101, 103, 116, 117, 500}));
  ASSERT_EQ(p.plis.size(), 1u);
  EXPECT_EQ(p.plis[0].media_ssrc, 8u);
  ASSERT_EQ(p.firs.size(), 1u);
  EXPECT_EQ(p.firs[0].entries[0], std::make_pair(10u, uint8_t(3)));
  ASSERT_EQ(p.rembs.size(), 1u);
  EXPECT_NEAR(double(p.rembs[0].bitrate), 1500000.0, 1500000.0 / 100000);
  EXPECT_EQ(p.rembs[0].ssrcs, (std::vector<uint32_t>{12, 13}));
  EXPECT_EQ(p.transport_cc, 1u);
  // NACK packing: 100 + bitmask for 101, 103, 116; 117 and 500 new items.
  std::vector<uint8_t> nack;
  rtcp::build_nack(&nack, {5, 6, {100, 101, 103, 116, 117, 500}});
  EXPECT_EQ(nack.size(), 12u + 3 * 4);
}

// A stream's end: the last SR, then BYE for its SSRCs in the same compound.
TEST(Rtcp, SenderReportAndByeEndAStream) {
  std::vector<uint8_t> out;
  rtcp::build_sr(&out, {0xAABBCCDD, 0x0102030405060708ull, 90000, 10, 1000, {}});
  rtcp::build_bye(&out, {{0xAABBCCDD, 0x11223344}});
  ASSERT_EQ(out.size(), 28u + 12u);
  EXPECT_EQ(out[28], 0x82);  // version 2, two SSRCs
  EXPECT_EQ(out[29], rtcp::kBye);
  EXPECT_EQ(out[31], 2);  // length in words minus one
  rtcp::Packets p;
  std::string why;
  ASSERT_TRUE(rtcp::parse(out.data(), out.size(), &p, &why)) << why;
  ASSERT_EQ(p.sender_reports.size(), 1u);
  ASSERT_EQ(p.byes.size(), 1u);
  EXPECT_EQ(p.byes[0].ssrcs, (std::vector<uint32_t>{0xAABBCCDD, 0x11223344}));
  auto lying = out;
  lying[28] = 0x83;  // three SSRCs claimed, two present
  EXPECT_FALSE(rtcp::parse(lying.data(), lying.size(), &p, &why));
}

// A subscriber's SR from the publisher's: audio (48 kHz) and video (90 kHz)
// of one publisher, forwarded through rewriters with their own offsets,
// keep the publisher's NTP timeline, so a receiver lines them up as the
// publisher's own SRs would.
TEST(Rtcp, SubscriberReportsCarryThePublishersClockMapping) {
  auto t = Clock::now();
  // The publisher's SRs: video ts 1000000 and audio ts 500000 at NTP 3900000000.5 s.
  const uint64_t ntp = uint64_t(3900000000u) << 32 | 0x80000000u;
  rtcp::ClockMapping video{ntp, 1000000, t}, audio{ntp, 500000, t + 10ms};
  // Each stream rewritten: outgoing = incoming + offset.
  RtpRewriter vw(0xB1DE0, 100, 90000), aw(0xA0D10, 111, 48000);
  auto v = rtp_packet(7, 1000000 + 9000, 0x1111, 96);  // 100 ms after the SR's instant
  auto a = rtp_packet(9, 500000 + 4800, 0x2222, 111);
  ASSERT_TRUE(vw.rewrite(v.data(), v.size(), t));
  ASSERT_TRUE(aw.rewrite(a.data(), a.size(), t));
  EXPECT_EQ(vw.source_ssrc(), 0x1111u);
  uint32_t v_out = parse_rtp(v.data(), v.size())->timestamp, a_out = parse_rtp(a.data(), a.size())->timestamp;
  EXPECT_EQ(v_out, 1000000 + 9000 + vw.timestamp_offset());
  EXPECT_EQ(a_out, 500000 + 4800 + aw.timestamp_offset());

  // Sent 1.5 s after the video SR arrived: both sides moved on by 1.5 s.
  auto [v_ntp, v_rtp] = rtcp::map_clock(video, vw.timestamp_offset(), 90000, t + 1500ms);
  EXPECT_EQ(v_ntp, ntp + (uint64_t(1) << 32) + 0x80000000u);
  EXPECT_EQ(v_rtp, 1000000 + vw.timestamp_offset() + 135000);
  auto [a_ntp, a_rtp] = rtcp::map_clock(audio, aw.timestamp_offset(), 48000, t + 1500ms);
  EXPECT_EQ(a_rtp, 500000 + aw.timestamp_offset() + 71520u);

  // What a receiver does with each SR: the NTP time of an outgoing
  // timestamp. The video and audio packets above were captured together
  // (100 ms after the SR's instant in both streams): same NTP time, to the
  // microsecond, whatever the offsets.
  auto ntp_of = [](uint64_t sr_ntp, uint32_t sr_rtp, uint32_t ts, uint32_t rate) {
    double seconds = double(sr_ntp >> 32) + double(uint32_t(sr_ntp)) / 4294967296.0;
    return seconds + double(int32_t(ts - sr_rtp)) / rate;
  };
  double v_at = ntp_of(v_ntp, v_rtp, v_out, 90000), a_at = ntp_of(a_ntp, a_rtp, a_out, 48000);
  EXPECT_NEAR(v_at, 3900000000.6, 1e-5);
  EXPECT_NEAR(a_at - v_at, 0.0, 1e-5);
  // An SR from the future of the steady clock (never): no time moved.
  auto [f_ntp, f_rtp] = rtcp::map_clock(video, 0, 90000, t - 1s);
  EXPECT_EQ(f_ntp, ntp);
  EXPECT_EQ(f_rtp, 1000000u);
}

TEST(Rtcp, MalformedPacketsAreRejected) {
  std::vector<uint8_t> out;
  rtcp::build_rr(&out, {3, {{4, 0, 100, 5, 6, 7, 8}}});
  rtcp::Packets p;
  std::string why;
  for (size_t n = 0; n < out.size(); ++n) EXPECT_FALSE(rtcp::parse(out.data(), n, &p, &why)) << n;
  auto lying = out;
  lying[0] = 0x83;  // three report blocks claimed, one present
  EXPECT_FALSE(rtcp::parse(lying.data(), lying.size(), &p, &why));
  auto v1 = out;
  v1[0] = 0x41;
  EXPECT_FALSE(rtcp::parse(v1.data(), v1.size(), &p, &why));
  EXPECT_EQ(why, "not version 2");
}

// RFC 4588 §4: an RTX packet keeps the original's header (CSRCs, extension,
// marker, timestamp) under the RTX stream's payload type, sequence number
// and SSRC; its payload is the original sequence number, then the original
// payload without padding.
TEST(Packet, RtxCarriesTheOriginalSequenceNumberAndPayload) {
  // One CSRC, a one-word header extension, marker set, 4 octets of padding.
  std::vector<uint8_t> p = {0xB1, 0x80 | 100, 0x12, 0x34, 0, 1, 0x5F, 0x90, 0xAA, 0xBB, 0xCC, 0xDD,  // V=2 P X CC=1
                            0, 0, 0, 7,                                                           // CSRC
                            0xBE, 0xDE, 0, 1, 0x10, 0x42, 0, 0,                                   // extension
                            1, 2, 3, 4, 5,                                                        // payload
                            0, 0, 0, 4};                                                          // padding
  size_t size = p.size();
  p.resize(size + 16);
  size_t n = make_rtx(p.data(), size, p.size(), 101, 777, 0x01020304);
  ASSERT_EQ(n, 12u + 4 + 8 + 2 + 5);
  auto h = parse_rtp(p.data(), n);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->payload_type, 101);
  EXPECT_TRUE(h->marker);
  EXPECT_EQ(h->sequence, 777);
  EXPECT_EQ(h->timestamp, 0x00015F90u);
  EXPECT_EQ(h->ssrc, 0x01020304u);
  EXPECT_EQ(h->padding, 0u);
  EXPECT_EQ(p[0], 0x91);  // padding bit cleared; extension and CSRC count kept
  ASSERT_EQ(h->header_size, 24u);
  EXPECT_EQ(load32(p.data() + 12), 7u);      // the CSRC
  EXPECT_EQ(p[20], 0x10);                    // the extension
  EXPECT_EQ(load16(p.data() + 24), 0x1234);  // OSN
  EXPECT_EQ(std::vector<uint8_t>(p.begin() + 26, p.begin() + 31), (std::vector<uint8_t>{1, 2, 3, 4, 5}));
  // What does not fit, or is not RTP, is refused.
  auto q = rtp_packet(5, 6, 7, 96, 100);
  const size_t q_size = q.size();
  q.resize(q_size + 2);  // the capacity we claim is there
  EXPECT_EQ(make_rtx(q.data(), q_size, q_size + 1, 97, 1, 2), 0u);
  EXPECT_EQ(make_rtx(q.data(), q_size, q_size + 2, 97, 1, 2), q_size + 2);
  uint8_t junk[12] = {0x40};
  EXPECT_EQ(make_rtx(junk, sizeof junk, sizeof junk + 2, 97, 1, 2), 0u);
}

TEST(Packet, ClassifiesByFirstByte) {
  auto rtp = rtp_packet(1, 2, 3);
  EXPECT_EQ(classify(rtp.data(), rtp.size()), PacketKind::kRtp);
  std::vector<uint8_t> rr;
  rtcp::build_rr(&rr, {1, {}});
  EXPECT_EQ(classify(rr.data(), rr.size()), PacketKind::kRtcp);
  EXPECT_EQ(classify(kRequest, sizeof kRequest), PacketKind::kStun);
  const uint8_t dtls[] = {22, 0xfe, 0xfd};
  EXPECT_EQ(classify(dtls, sizeof dtls), PacketKind::kDtls);
  const uint8_t junk[] = {200, 1};
  EXPECT_EQ(classify(junk, sizeof junk), PacketKind::kUnknown);
  EXPECT_EQ(classify(nullptr, 0), PacketKind::kUnknown);
  EXPECT_EQ(rtcp::ntp_time(std::chrono::system_clock::time_point{}) >> 32, 2208988800ull);
}
