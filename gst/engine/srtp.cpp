#include "gst/engine/srtp.h"

#include <srtp2/srtp.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace rtcmesh::engine {

namespace {

void set_policy(srtp_policy_t* policy, SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
      return;
    case SrtpProfile::kAes128CmSha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtcp);
      return;
    case SrtpProfile::kNone: break;
  }
  throw std::runtime_error("SRTP: no profile");
}

srtp_t create(const SrtpKeys& keys, const std::vector<uint8_t>& key, srtp_ssrc_type_t direction) {
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  set_policy(&policy, keys.profile);
  size_t want = keys.profile == SrtpProfile::kAeadAes128Gcm ? SRTP_AES_GCM_128_KEY_LEN_WSALT
                                                           : SRTP_AES_ICM_128_KEY_LEN_WSALT;
  if (key.size() != want) throw std::runtime_error("SRTP: key length " + std::to_string(key.size()));
  std::vector<uint8_t> copy = key;  // libsrtp2 takes a non-const pointer
  policy.key = copy.data();
  policy.ssrc.type = direction;
  // Retransmissions answer NACKs with packets sent before: allow them.
  policy.allow_repeat_tx = 1;
  policy.window_size = 1024;
  srtp_t session = nullptr;
  srtp_err_status_t err = srtp_create(&session, &policy);
  if (err != srtp_err_status_ok)
    throw std::runtime_error("SRTP: srtp_create failed (" + std::to_string(int(err)) + ")");
  return session;
}

}  // namespace

void SrtpSession::init_library() {
  static std::once_flag once;
  // GStreamer's srtp plugin (webrtcbin's srtpenc/srtpdec) initialises the
  // same library in this process, and a second srtp_init re-runs the cipher
  // self-tests and may report failure although the kernel works: whether it
  // really does shows in srtp_create, which throws with its status.
  std::call_once(once, [] { (void)srtp_init(); });
}

SrtpSession::SrtpSession(const SrtpKeys& keys) : profile_(keys.profile) {
  init_library();
  out_ = create(keys, keys.local, ssrc_any_outbound);
  try {
    in_ = create(keys, keys.remote, ssrc_any_inbound);
  } catch (...) {
    srtp_dealloc(out_);
    throw;
  }
}

SrtpSession::~SrtpSession() {
  if (out_) srtp_dealloc(out_);
  if (in_) srtp_dealloc(in_);
}

#define RTCMESH_SRTP_CALL(fn, ctx)                       \
  int len = int(*size);                                  \
  if (fn(ctx, buffer, &len) != srtp_err_status_ok) {     \
    ++failures_;                                         \
    return false;                                        \
  }                                                      \
  *size = size_t(len);                                   \
  return true;

bool SrtpSession::protect_rtp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_protect, out_) }
bool SrtpSession::protect_rtcp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_protect_rtcp, out_) }
bool SrtpSession::unprotect_rtp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_unprotect, in_) }
bool SrtpSession::unprotect_rtcp(uint8_t* buffer, size_t* size) { RTCMESH_SRTP_CALL(srtp_unprotect_rtcp, in_) }

#undef RTCMESH_SRTP_CALL

}  // namespace rtcmesh::engine
