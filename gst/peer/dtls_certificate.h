// The DTLS identity of this process's connections: one ECDSA P-256
// certificate (what browsers use), generated on first use and valid for 30
// days, instead of webrtcbin 1.22's RSA-2048 one (larger handshakes, slower
// signatures on every connection). Same certificate for every Peer, as each
// browser tab does per origin.
#pragma once

#include <string>

namespace rtcmesh::peer {

// Certificate then private key, PEM (what dtlsdec's "pem" property takes).
// Thread-safe; throws std::runtime_error when OpenSSL fails.
const std::string& dtls_certificate_pem();

}  // namespace rtcmesh::peer
