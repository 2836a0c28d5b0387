// The DTLS identity check (signaling/http/dtls_fingerprint.h) against
// certificates made by our own generator (gst/peer/dtls_certificate.h), with
// OpenSSL as the independent judge of digests and key types.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gst/peer/dtls_certificate.h"
#include "signaling/http/dtls_fingerprint.h"
#include "signaling/http/sdp.h"

using namespace rtcmesh;
using sig::DtlsFingerprint;

namespace {

X509* read_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

std::string openssl_digest(const std::string& pem, const EVP_MD* md) {
  X509* cert = read_cert(pem);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert, md, out, &len);
  X509_free(cert);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string sdp(const std::string& session_fp, const std::vector<std::string>& media_fps,
                bool second_disabled = false) {
  std::string s = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
  if (!session_fp.empty()) s += "a=fingerprint:" + session_fp + "\r\n";
  for (size_t i = 0; i < media_fps.size(); ++i) {
    bool disabled = second_disabled && i == 1;
    s += std::string("m=video ") + (disabled ? "0" : "9") + " UDP/TLS/RTP/SAVPF 96\r\n";
    s += "a=mid:" + std::to_string(i) + "\r\na=rtpmap:96 VP8/90000\r\n";
    if (!media_fps[i].empty()) s += "a=fingerprint:" + media_fps[i] + "\r\n";
  }
  return s;
}

std::string flip_last_byte(std::string fingerprint) {
  char& c = fingerprint.back();
  c = c == '0' ? '1' : '0';
  return fingerprint;
}

const std::string& pem() { return peer::dtls_certificate_pem(); }
std::string ours(const char* algorithm) { return to_string(sig::fingerprint_of(pem(), algorithm)); }

}  // namespace

TEST(DtlsCertificate, IsOneEcdsaP256CertificateWithItsKey) {
  EXPECT_EQ(&pem(), &peer::dtls_certificate_pem());  // one per process
  X509* cert = read_cert(pem());
  ASSERT_NE(cert, nullptr);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char group[64] = {};
  size_t len = 0;
  EVP_PKEY_get_group_name(key, group, sizeof group, &len);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notAfter(cert)), 1);  // not expired
  X509_free(cert);
  // The private key follows the certificate (what dtlsdec's "pem" reads).
  BIO* bio = BIO_new_mem_buf(pem().data(), static_cast<int>(pem().size()));
  X509_free(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  EVP_PKEY* priv = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(priv, nullptr);
  EVP_PKEY_free(priv);
}

TEST(DtlsFingerprint, DigestsAgreeWithOpenSsl) {
  EXPECT_EQ(sig::fingerprint_of(pem(), "sha-1").digest, openssl_digest(pem(), EVP_sha1()));
  EXPECT_EQ(sig::fingerprint_of(pem(), "sha-256").digest, openssl_digest(pem(), EVP_sha256()));
  EXPECT_EQ(sig::fingerprint_of(pem(), "sha-384").digest, openssl_digest(pem(), EVP_sha384()));
  EXPECT_EQ(sig::fingerprint_of(pem(), "sha-512").digest, openssl_digest(pem(), EVP_sha512()));
  EXPECT_TRUE(sig::fingerprint_of(pem(), "md5").digest.empty());
  EXPECT_TRUE(sig::fingerprint_of("not a certificate", "sha-256").digest.empty());
}

TEST(DtlsFingerprint, MatchesMediaOrSessionLevelInEveryAlgorithm) {
  for (const char* algorithm : {"sha-1", "sha-256", "sha-384", "sha-512"}) {
    SCOPED_TRACE(algorithm);
    std::string why;
    EXPECT_TRUE(sig::certificate_matches(pem(), sig::dtls_fingerprints(sdp("", {ours(algorithm)})), &why))
        << why;
    EXPECT_TRUE(sig::certificate_matches(pem(), sig::dtls_fingerprints(sdp(ours(algorithm), {""})), &why))
        << why;
  }
  // Written in lower case, as some clients do.
  std::string lower = ours("sha-256");
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_TRUE(sig::certificate_matches(pem(), sig::dtls_fingerprints(sdp("", {lower}))));
}

TEST(DtlsFingerprint, AnotherCertificatesFingerprintIsRefusedWithAReason) {
  std::string why;
  EXPECT_FALSE(sig::certificate_matches(
      pem(), sig::dtls_fingerprints(sdp("", {flip_last_byte(ours("sha-256"))})), &why));
  EXPECT_NE(why.find("does not match"), std::string::npos) << why;
  // Media level wins over session level: a true session line does not save a lying section.
  EXPECT_FALSE(sig::certificate_matches(
      pem(), sig::dtls_fingerprints(sdp(ours("sha-256"), {flip_last_byte(ours("sha-256"))}))));
  // Every section must match, not just one.
  EXPECT_FALSE(sig::certificate_matches(
      pem(), sig::dtls_fingerprints(sdp("", {ours("sha-256"), flip_last_byte(ours("sha-256"))}))));
  // One true line among several algorithms is enough for a section.
  EXPECT_TRUE(sig::certificate_matches(
      pem(), sig::dtls_fingerprints(sdp("", {ours("sha-256")}) + "a=fingerprint:" +
                                    flip_last_byte(ours("sha-1")) + "\r\n")));
  // Only algorithms we cannot check: refused, not waved through.
  EXPECT_FALSE(sig::certificate_matches(pem(), sig::dtls_fingerprints(sdp("", {"md5 AB:CD"})), &why));
  EXPECT_NE(why.find("algorithm"), std::string::npos) << why;
  EXPECT_FALSE(sig::certificate_matches("garbage", sig::dtls_fingerprints(sdp("", {ours("sha-256")}))));
  EXPECT_FALSE(sig::certificate_matches(pem(), {}));
}

TEST(DtlsFingerprint, DisabledSectionsNeedNoneOthersMust) {
  auto sections = sig::dtls_fingerprints(sdp("", {ours("sha-256"), ""}, true));
  ASSERT_EQ(sections.size(), 1u);
  EXPECT_TRUE(sig::certificate_matches(pem(), sections));
  EXPECT_THROW(sig::dtls_fingerprints(sdp("", {ours("sha-256"), ""})), sig::SdpError);
  EXPECT_THROW(sig::dtls_fingerprints(sdp("", {"sha-256 XY:ZZ"})), sig::SdpError);
  EXPECT_THROW(sig::dtls_fingerprints(sdp("", {"sha-256"})), sig::SdpError);
  EXPECT_THROW(sig::dtls_fingerprints("nonsense"), sig::SdpError);
}
