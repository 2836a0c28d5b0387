// SRTP/SRTCP (RFC 3711, RFC 7714) for one DTLS-SRTP session, on OpenSSL:
// AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, both directions, RTP and
// RTCP. Debian 12's libsrtp2 (2.5.0) is built against NSS, which sets its
// keys up again on every call (the largest share of the engine's profile,
// docs/benchmarks.md), so the session keys are derived once (RFC 3711 §4.3,
// labels 0-2 for SRTP, 3-5 for SRTCP) and the OpenSSL contexts kept. Byte for
// byte what libsrtp2 sends and accepts: the unit tests compare with libsrtp2,
// which stays only there, as the reference.
// Not thread-safe: one engine thread owns a session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "gst/engine/dtls.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace rtcmesh::engine {

// libsrtp2's srtp_rdbx_estimate_index (RFC 3711 §3.3.1): the packet index
// (ROC << 16 | SEQ) of `seq` given the highest index seen, and its distance
// from it (`delta`, negative for a late packet).
uint64_t estimate_index(uint64_t highest, uint16_t seq, int64_t* delta);

// The length of the RTP header (CSRCs and extension included), 0 if what
// `packet` holds is not RTP.
size_t rtp_header_length(const uint8_t* packet, size_t size);

// A replay window as libsrtp2's (srtp_rdbx_t for SRTP, srtp_rdb_t for SRTCP):
// the highest index received and which of the `size` indices up to it were.
// An index `size` or more behind the highest is too old.
class ReplayWindow {
 public:
  explicit ReplayWindow(size_t size = 128);  // a multiple of 64
  uint64_t highest() const { return highest_; }
  // True if the index highest() + delta may be accepted (not a repeat, not too old).
  bool check(int64_t delta) const;
  void add(int64_t delta);  // after check() and authentication

 private:
  bool bit(uint64_t index) const { return bits_[(index % size_) / 64] >> (index % 64) & 1; }
  uint64_t highest_ = 0;
  size_t size_;
  std::vector<uint64_t> bits_;  // index % size_ received
};

// The packet index of outgoing RTP packets, per SSRC, as libsrtp2 estimates
// it, and the length of the header. False for what is not RTP and for a
// packet 1024 or more behind the highest sent (libsrtp2's window;
// retransmissions, repeats, are allowed as allow_repeat_tx does).
class SendIndex {
 public:
  bool next(const uint8_t* packet, size_t size, size_t* header, uint64_t* index);

 private:
  std::unordered_map<uint32_t, uint64_t> highest_;
};

// The AES-128-CTR and HMAC-SHA1 contexts of one direction of SRTP (label 0)
// or SRTCP (`label` 3), keyed once from the 30-byte master key and salt.
class CmKeys {
 public:
  // Throws std::runtime_error when the key is not 30 bytes or OpenSSL refuses.
  CmKeys(const std::vector<uint8_t>& master, uint8_t label);
  ~CmKeys();
  CmKeys(const CmKeys&) = delete;
  CmKeys& operator=(const CmKeys&) = delete;
  // AES-CM (encrypts and decrypts) in place, IV from the salt, SSRC and index.
  bool crypt(uint32_t ssrc, uint64_t index, uint8_t* data, size_t size);
  // The 10-byte HMAC-SHA1-80 tag of `a` then `b`.
  bool tag(const uint8_t* a, size_t a_size, const uint8_t* b, size_t b_size, uint8_t* out);

 private:
  EVP_CIPHER_CTX* cipher_ = nullptr;
  struct Hmac;  // srtp.cpp
  std::unique_ptr<Hmac> hmac_;
  uint8_t salt_[14] = {};
};

// The AES-128-GCM contexts (one to seal, one to open) of one direction of
// SRTP (label 0) or SRTCP (3), keyed once from the 28-byte master key and salt.
class GcmKeys {
 public:
  GcmKeys(const std::vector<uint8_t>& master, uint8_t label);
  ~GcmKeys();
  GcmKeys(const GcmKeys&) = delete;
  GcmKeys& operator=(const GcmKeys&) = delete;
  const uint8_t* salt() const { return salt_; }
  // In place; the 16-byte tag written at data + size. AAD: `aad` then `aad2`.
  bool seal(const uint8_t* iv, const uint8_t* aad, size_t aad_size, const uint8_t* aad2, size_t aad2_size,
            uint8_t* data, size_t size);
  // Verifies the tag (at data + size) and only then writes the plain text in
  // place; nothing is written when it fails.
  bool open(const uint8_t* iv, const uint8_t* aad, size_t aad_size, const uint8_t* aad2, size_t aad2_size,
            uint8_t* data, size_t size);

 private:
  EVP_CIPHER_CTX* seal_ = nullptr;
  EVP_CIPHER_CTX* open_ = nullptr;
  uint8_t salt_[12] = {};
  std::vector<uint8_t> scratch_;
};

// SRTP sending with AES_CM_128_HMAC_SHA1_80 (RFC 3711 §4) on OpenSSL.
class CmSender {
 public:
  // `master`: 16-byte master key then 14-byte master salt. Throws
  // std::runtime_error when OpenSSL refuses.
  explicit CmSender(const std::vector<uint8_t>& master) : keys_(master, 0) {}
  // As SrtpSession::protect_rtp.
  bool protect(uint8_t* buffer, size_t* size);

 private:
  CmKeys keys_;
  SendIndex index_;
};

// SRTP sending with AEAD_AES_128_GCM (RFC 7714) on OpenSSL.
class GcmSender {
 public:
  // `master`: 16-byte master key then 12-byte master salt.
  explicit GcmSender(const std::vector<uint8_t>& master) : keys_(master, 0) {}
  bool protect(uint8_t* buffer, size_t* size);

 private:
  GcmKeys keys_;
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

  // Nothing left to initialise (OpenSSL needs nothing); kept for callers.
  static void init_library() {}

  // libsrtp2's replay windows: what the engine configured it with for SRTP
  // (window_size 1024: NACKed packets come late), 128 for SRTCP (fixed there).
  static constexpr size_t kRtpWindow = 1024;
  static constexpr size_t kRtcpWindow = 128;

 private:
  bool counted(bool ok);  // failures_ counts what is not
  bool protect_rtcp_(uint8_t* buffer, size_t* size);
  bool unprotect_rtp_(uint8_t* buffer, size_t* size);
  bool unprotect_rtcp_(uint8_t* buffer, size_t* size);

  SrtpProfile profile_;
  bool gcm_;
  std::unique_ptr<CmSender> cm_out_;    // AES_CM_128_HMAC_SHA1_80: RTP out
  std::unique_ptr<GcmSender> gcm_out_;  // AEAD_AES_128_GCM: RTP out
  std::unique_ptr<CmKeys> cm_rtcp_out_, cm_rtp_in_, cm_rtcp_in_;
  std::unique_ptr<GcmKeys> gcm_rtcp_out_, gcm_rtp_in_, gcm_rtcp_in_;
  std::unordered_map<uint32_t, uint32_t> rtcp_sent_;  // SSRC → last SRTCP index sent
  std::unordered_map<uint32_t, ReplayWindow> rtp_received_, rtcp_received_;  // per SSRC
  uint64_t failures_ = 0;
};

}  // namespace rtcmesh::engine
