// SRTP/SRTCP (RFC 3711, RFC 7714) for one DTLS-SRTP session with libsrtp2:
// one outbound stream template (protect) and one inbound (unprotect), keyed
// by what DtlsTransport exported. Debian 12's libsrtp2 (2.5.0) is built
// against NSS, not OpenSSL; it has AES-GCM (srtp_aes_gcm_128), which the
// unit test checks by protecting and unprotecting with both profiles.
// Outgoing RTP of AES_CM_128_HMAC_SHA1_80 does not go through libsrtp2: NSS
// sets its AES and HMAC keys up again on every call (the largest share of
// the engine's profile, docs/benchmarks.md), so CmSender does RFC 3711's
// transform with OpenSSL contexts kept for the session, packet for packet
// what libsrtp2 would send (the unit test unprotects it with libsrtp2).
// Not thread-safe: one engine thread owns a session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "gst/engine/dtls.h"

struct srtp_ctx_t_;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace rtcmesh::engine {

// SRTP sending with AES_CM_128_HMAC_SHA1_80 (RFC 3711 §4) on OpenSSL: the
// session keys derived once, AES-128-CTR and HMAC-SHA1 contexts kept, the
// roll-over counter of each SSRC estimated as libsrtp2 does (a packet more
// than 1024 behind the highest sent is refused, as libsrtp2's window).
class CmSender {
 public:
  // `master`: 16-byte master key then 14-byte master salt. Throws
  // std::runtime_error when OpenSSL refuses.
  explicit CmSender(const std::vector<uint8_t>& master);
  ~CmSender();
  CmSender(const CmSender&) = delete;
  CmSender& operator=(const CmSender&) = delete;
  // As SrtpSession::protect_rtp.
  bool protect(uint8_t* buffer, size_t* size);

 private:
  EVP_CIPHER_CTX* cipher_ = nullptr;
  EVP_MAC_CTX* hmac_ = nullptr;
  uint8_t salt_[14] = {};
  std::unordered_map<uint32_t, uint64_t> index_;  // by SSRC: highest ROC << 16 | SEQ
};

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
  std::unique_ptr<CmSender> cm_out_;  // AES_CM_128_HMAC_SHA1_80: RTP out through OpenSSL
  srtp_ctx_t_* in_ = nullptr;
  SrtpProfile profile_;
  uint64_t failures_ = 0;
};

}  // namespace rtcmesh::engine
