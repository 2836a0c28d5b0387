// What binds a session's DTLS handshake to its signaling (RFC 8122, RFC 8827
// §6.5): the certificate the remote side presents must hash to the
// a=fingerprint its description declares, or anyone who can redirect the UDP
// flow sits in the middle. webrtcbin up to 1.28 never compares them; Peer does,
// with these.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rtcmesh::sig {

struct DtlsFingerprint {
  std::string algorithm;  // lower case as written: "sha-256"
  std::string digest;     // raw bytes
  bool operator==(const DtlsFingerprint&) const = default;
};

// The fingerprints of each m-section that carries a transport (not disabled):
// its own a=fingerprint lines, else the session-level ones. Throws SdpError
// (signaling/http/sdp.h) when the SDP cannot be parsed, a fingerprint is
// malformed, or a section has none.
std::vector<std::vector<DtlsFingerprint>> dtls_fingerprints(std::string_view sdp);

// Whether the certificate (PEM, as dtlsdec reports it) matches: every section
// must list at least one fingerprint in an algorithm we know (sha-1, sha-256,
// sha-384, sha-512) and the certificate's digest must equal one of them. On
// false, *why says what did not match.
bool certificate_matches(std::string_view pem,
                         const std::vector<std::vector<DtlsFingerprint>>& sections,
                         std::string* why = nullptr);

// "sha-256 AB:CD:…" for logs and tests.
std::string to_string(const DtlsFingerprint& fingerprint);
// The fingerprint of a PEM certificate in `algorithm`; empty digest when the
// PEM or the algorithm is not understood.
DtlsFingerprint fingerprint_of(std::string_view pem, const std::string& algorithm);

}  // namespace rtcmesh::sig
