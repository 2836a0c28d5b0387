// SRTP/SRTCP (RFC 3711, RFC 7714) for one DTLS-SRTP session with libsrtp2:
// one outbound stream template (protect) and one inbound (unprotect), keyed
// by what DtlsTransport exported. Debian 12's libsrtp2 (2.5.0) is built
// against NSS, not OpenSSL; it has AES-GCM (srtp_aes_gcm_128), which the
// unit test checks by protecting and unprotecting with both profiles.
// Outgoing RTP does not go through libsrtp2: NSS sets its keys up again on
// every call (the largest share of the engine's profile, docs/benchmarks.md),
// so CmSender (RFC 3711) and GcmSender (RFC 7714) do the transform with
// OpenSSL contexts kept for the session, byte for byte what libsrtp2 would
// send (unit tests compare them with libsrtp2). SRTCP and inbound stay on
// libsrtp2.
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

// The packet index (ROC << 16 | SEQ) of outgoing RTP packets, per SSRC, as
// libsrtp2 estimates it (srtp_rdbx_estimate_index), and the length of the
// header (CSRCs and extension included). False for what is not RTP and for
// a packet more than 1024 behind the highest sent (libsrtp2's window).
class SendIndex {
 public:
  bool next(const uint8_t* packet, size_t size, size_t* header, uint64_t* index);

 private:
  std::unordered_map<uint32_t, uint64_t> highest_;
};

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
  SendIndex index_;
};

// SRTP sending with AEAD_AES_128_GCM (RFC 7714) on OpenSSL: the session key
// and salt derived once, one AES-128-GCM context keyed once.
class GcmSender {
 public:
  // `master`: 16-byte master key then 12-byte master salt.
  explicit GcmSender(const std::vector<uint8_t>& master);
  ~GcmSender();
  GcmSender(const GcmSender&) = delete;
  GcmSender& operator=(const GcmSender&) = delete;
  bool protect(uint8_t* buffer, size_t* size);

 private:
  EVP_CIPHER_CTX* cipher_ = nullptr;
  uint8_t salt_[12] = {};
  SendIndex index_;
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
  std::unique_ptr<CmSender> cm_out_;    // AES_CM_128_HMAC_SHA1_80: RTP out through OpenSSL
  std::unique_ptr<GcmSender> gcm_out_;  // AEAD_AES_128_GCM: RTP out through OpenSSL
  srtp_ctx_t_* in_ = nullptr;
  SrtpProfile profile_;
  uint64_t failures_ = 0;
};

}  // namespace rtcmesh::engine
