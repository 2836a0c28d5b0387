// SRTP/SRTCP (RFC 3711, RFC 7714) for one DTLS-SRTP session with libsrtp2:
// one outbound stream template (protect) and one inbound (unprotect), keyed
// by what DtlsTransport exported. Debian 12's libsrtp2 (2.5.0) is built
// against NSS, not OpenSSL; it has AES-GCM (srtp_aes_gcm_128), which the
// unit test checks by protecting and unprotecting with both profiles.
// Not thread-safe: one engine thread owns a session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gst/engine/dtls.h"

struct srtp_ctx_t_;

namespace rtcmesh::engine {

class SrtpSession {
 public:
  // Room a protected packet needs past the plain one (auth tag, SRTCP index).
  static constexpr size_t kMaxTrailer = 16 + 4 + 10;

  // Throws std::runtime_error when the profile or keys are unusable.
  explicit SrtpSession(const SrtpKeys& keys);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // In place: `buffer` holds `*size` bytes and has room for kMaxTrailer
  // more; *size is updated. False (and counted) on failure.
  bool protect_rtp(uint8_t* buffer, size_t* size);
  bool protect_rtcp(uint8_t* buffer, size_t* size);
  bool unprotect_rtp(uint8_t* buffer, size_t* size);
  bool unprotect_rtcp(uint8_t* buffer, size_t* size);

  SrtpProfile profile() const { return profile_; }
  uint64_t failures() const { return failures_; }

  static void init_library();  // once per process; the constructor calls it

 private:
  srtp_ctx_t_* out_ = nullptr;
  srtp_ctx_t_* in_ = nullptr;
  SrtpProfile profile_;
  uint64_t failures_ = 0;
};

}  // namespace rtcmesh::engine
