// libFuzzer target: DTLS fingerprints (signaling/http/dtls_fingerprint.h):
// the a=fingerprint lines of a remote description and the certificate check
// Peer runs once DTLS connects.
// Input: first byte even → an SDP whose fingerprints are compared with a
// fixed certificate; odd → a "PEM" hashed with the algorithm the second byte
// picks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/http/dtls_fingerprint.h"
#include "signaling/http/sdp.h"

using namespace rtcmesh::sig;

namespace {
// A self-signed ECDSA P-256 certificate (openssl req -x509 -newkey ec);
// sha-256 2D:8D:D0:FB:70:7A:CA:A3:D1:C3:06:A1:3B:8A:D5:FF:AF:E5:44:05:80:25:A9:4F:E7:A9:4B:EF:F0:E1:7C:DA
// (the seed fuzz_dtls_fingerprint/match.sdp names it).
constexpr const char* kPem = R"(-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUCH6OxmpeGvLr0dhoASBYjd6wnHowCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMcnRjbWVzaC1mdXp6MB4XDTI2MTIwMzExMjM0OVoXDTM2MTEz
MDExMjM0OVowFzEVMBMGA1UEAwwMcnRjbWVzaC1mdXp6MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEGwImfQsaJ66VVDeQ219xl8+SKNrYLUUEf1qrkLza6fcUPxeJ
VLFNR/GzYgKIo/fVQVEf0yw84v2zdW06hu3JUqNTMFEwHQYDVR0OBBYEFIfHzOT6
k7p95vN8pUcJt6FnaXx9MB8GA1UdIwQYMBaAFIfHzOT6k7p95vN8pUcJt6FnaXx9
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAOgy9I/yzqg919RU
S/6HrxNIWJbJVtXkRW/SCHLaDuOkAiARe0/Z7twgoUAITuqz5937bSp0jP/ohQ5V
f9Yqcp9pbw==
-----END CERTIFICATE-----
)";
const char* const kAlgorithms[] = {"sha-1", "sha-256", "sha-384", "sha-512", "md5", "SHA-256", ""};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[0] % 2 == 0) {
    std::vector<std::vector<DtlsFingerprint>> sections;
    try {
      sections = dtls_fingerprints(rest);
    } catch (const SdpError&) {
      return 0;
    }
    for (const auto& section : sections)
      for (const DtlsFingerprint& f : section) (void)to_string(f);
    std::string why;
    (void)certificate_matches(kPem, sections, &why);
  } else {
    const char* algorithm = kAlgorithms[data[1] % (sizeof kAlgorithms / sizeof *kAlgorithms)];
    DtlsFingerprint f = fingerprint_of(rest, algorithm);
    if (!f.digest.empty()) (void)certificate_matches(rest, {{f}});
  }
  return 0;
}
