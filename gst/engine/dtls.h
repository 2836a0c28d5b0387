// DTLS 1.2 for DTLS-SRTP (RFC 5764) with OpenSSL 3, over whatever carries
// datagrams: the caller feeds received records in and gets records to send
// through a callback, so the handshake runs on the engine's shared socket
// (and in memory in the unit tests). The peer's certificate is checked
// against the a=fingerprint lines of its description before the session
// counts as connected; on a mismatch it fails and no key is exported.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "signaling/http/dtls_fingerprint.h"

namespace rtcmesh::engine {

using Clock = std::chrono::steady_clock;

enum class SrtpProfile { kNone, kAeadAes128Gcm, kAes128CmSha1_80 };
const char* to_string(SrtpProfile profile);

// Keying material from "EXTRACTOR-dtls_srtp", split by direction: what we
// protect with and what we unprotect with (each master key then salt).
struct SrtpKeys {
  SrtpProfile profile = SrtpProfile::kNone;
  std::vector<uint8_t> local;
  std::vector<uint8_t> remote;
};

// The certificate and key every session of an engine presents, with its
// SSL_CTX. Thread-safe after construction.
class DtlsContext {
 public:
  // `pem`: certificate then private key (as gst/peer's dtls_certificate_pem()).
  // Throws std::runtime_error.
  explicit DtlsContext(const std::string& pem);
  ~DtlsContext();
  DtlsContext(const DtlsContext&) = delete;
  DtlsContext& operator=(const DtlsContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  // "sha-256 AB:CD:…", as written in a=fingerprint.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  std::string fingerprint_;
};

class DtlsTransport {
 public:
  enum class Role { kClient, kServer };  // a=setup:active is the client
  enum class State { kNew, kConnecting, kConnected, kFailed, kClosed };
  using Send = std::function<void(const uint8_t* data, size_t size)>;

  DtlsTransport(const DtlsContext& context, Role role,
                std::vector<std::vector<sig::DtlsFingerprint>> remote_fingerprints, Send send);
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // First retransmission timeout (doubles each time, up to 4 s).
  void set_initial_timeout(std::chrono::milliseconds timeout) { initial_timeout_ = timeout; }
  // The client sends its ClientHello; the server waits for one.
  void start();
  // A DTLS record (first byte 20..63) from the peer.
  void on_datagram(const uint8_t* data, size_t size);
  // When on_timeout must run next (nullopt: no handshake flight pending).
  std::optional<Clock::time_point> next_timeout() const;
  // Retransmits the last flight if its timer expired.
  void on_timeout();
  // Sends close_notify.
  void close();
  // Application data (SCTP of the data channels), once connected: what
  // arrives goes to `receive` (from on_datagram); send() is one record.
  void set_receive(Send receive) { receive_ = std::move(receive); }
  bool send(const uint8_t* data, size_t size);

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  Role role() const { return role_; }
  const SrtpKeys& keys() const { return keys_; }  // once connected
  uint64_t retransmissions() const { return retransmissions_; }

 private:
  void pump();  // after every OpenSSL call: handshake progress, then output
  void flush();
  void fail(std::string why);
  void connected();
  void read_application();
  static unsigned int timer_cb(SSL* ssl, unsigned int previous_us);

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // records from the peer
  BIO* out_ = nullptr;  // records to send
  Role role_;
  State state_ = State::kNew;
  std::vector<std::vector<sig::DtlsFingerprint>> remote_fingerprints_;
  Send send_;
  Send receive_;
  std::string error_;
  SrtpKeys keys_;
  std::chrono::milliseconds initial_timeout_{1000};
  uint64_t retransmissions_ = 0;
};

}  // namespace rtcmesh::engine
