#include "gst/engine/dtls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/srtp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace rtcmesh::engine {

namespace {

// Our records stay under a typical path MTU after SRTP/UDP/IP overhead.
constexpr long kMtu = 1200;

std::string openssl_error(const char* what) {
  std::string out = what;
  unsigned long e = ERR_get_error();
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += std::string(": ") + buf;
  }
  ERR_clear_error();
  return out;
}

std::string to_pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_X509(bio.get(), cert)) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

// Every certificate is self-signed: the fingerprint check, not a chain, is
// what authenticates the peer (done once the handshake completes).
int accept_any(int, X509_STORE_CTX*) { return 1; }

}  // namespace

const char* to_string(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAeadAes128Gcm: return "SRTP_AEAD_AES_128_GCM";
    case SrtpProfile::kAes128CmSha1_80: return "SRTP_AES128_CM_SHA1_80";
    case SrtpProfile::kNone: break;
  }
  return "none";
}

DtlsContext::DtlsContext(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!cert || !key) throw std::runtime_error(openssl_error("DTLS: certificate or key PEM not readable"));
  ctx_ = SSL_CTX_new(DTLS_method());
  if (!ctx_) throw std::runtime_error(openssl_error("DTLS: SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
  if (SSL_CTX_use_certificate(ctx_, cert.get()) != 1 || SSL_CTX_use_PrivateKey(ctx_, key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx_) != 1) {
    SSL_CTX_free(ctx_);
    throw std::runtime_error(openssl_error("DTLS: certificate and key do not match"));
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  SSL_CTX_set_read_ahead(ctx_, 1);
  // Order is preference (RFC 5764 §4.1.2): AES-GCM first, then what every
  // browser and webrtcbin supports.
  if (SSL_CTX_set_tlsext_use_srtp(ctx_, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0) {
    SSL_CTX_free(ctx_);
    throw std::runtime_error(openssl_error("DTLS: use_srtp"));
  }
  fingerprint_ = sig::to_string(sig::fingerprint_of(to_pem(cert.get()), "sha-256"));
}

DtlsContext::~DtlsContext() { SSL_CTX_free(ctx_); }

DtlsTransport::DtlsTransport(const DtlsContext& context, Role role,
                             std::vector<std::vector<sig::DtlsFingerprint>> remote_fingerprints, Send send)
    : role_(role), remote_fingerprints_(std::move(remote_fingerprints)), send_(std::move(send)) {
  ssl_ = SSL_new(context.ctx());
  if (!ssl_) throw std::runtime_error(openssl_error("DTLS: SSL_new"));
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // Empty memory BIOs mean "try again", not end of file.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_app_data(ssl_, this);
  // A memory BIO cannot answer MTU queries: fix it.
  SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(ssl_, kMtu);
  DTLS_set_link_mtu(ssl_, kMtu);
  DTLS_set_timer_cb(ssl_, &DtlsTransport::timer_cb);
  if (role_ == Role::kClient) SSL_set_connect_state(ssl_);
  else SSL_set_accept_state(ssl_);
}

DtlsTransport::~DtlsTransport() { SSL_free(ssl_); }  // frees both BIOs

unsigned int DtlsTransport::timer_cb(SSL* ssl, unsigned int previous_us) {
  auto* self = static_cast<DtlsTransport*>(SSL_get_app_data(ssl));
  if (previous_us == 0) return unsigned(std::chrono::microseconds(self->initial_timeout_).count());
  ++self->retransmissions_;
  return std::min(previous_us * 2, 4000000u);
}

void DtlsTransport::start() {
  if (state_ != State::kNew) return;
  state_ = State::kConnecting;
  if (role_ == Role::kClient) pump();
}

void DtlsTransport::on_datagram(const uint8_t* data, size_t size) {
  if (state_ == State::kFailed || state_ == State::kClosed) return;
  if (state_ == State::kNew) state_ = State::kConnecting;
  BIO_write(in_, data, int(size));
  if (state_ == State::kConnecting) {
    pump();
  } else {
    // Connected: application data (SCTP), alerts (close_notify) and
    // handshake retransmissions from a peer that lost our last flight.
    read_application();
  }
  BIO_reset(in_);
}

void DtlsTransport::read_application() {
  uint8_t buf[16384];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      if (receive_) receive_(buf, size_t(n));
      continue;
    }
    if (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) state_ = State::kClosed;
    break;
  }
  flush();
}

bool DtlsTransport::send(const uint8_t* data, size_t size) {
  if (state_ != State::kConnected) return false;
  int n = SSL_write(ssl_, data, int(size));
  flush();
  return n == int(size);
}

void DtlsTransport::pump() {
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    flush();
    connected();
    if (state_ == State::kConnected) read_application();  // data behind the last flight
    return;
  }
  int e = SSL_get_error(ssl_, r);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    flush();  // the alert, if any
    fail(openssl_error("DTLS handshake failed"));
    return;
  }
  flush();
}

void DtlsTransport::flush() {
  char* data = nullptr;
  long len = BIO_get_mem_data(out_, &data);
  if (len > 0 && send_) send_(reinterpret_cast<const uint8_t*>(data), size_t(len));
  (void)BIO_reset(out_);
}

void DtlsTransport::fail(std::string why) {
  error_ = std::move(why);
  state_ = State::kFailed;
}

void DtlsTransport::connected() {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return fail("DTLS: the peer presented no certificate");
  std::string pem = to_pem(cert);
  X509_free(cert);
  std::string why;
  if (!sig::certificate_matches(pem, remote_fingerprints_, &why))
    return fail("DTLS: peer certificate does not match the SDP fingerprint: " + why);

  SRTP_PROTECTION_PROFILE* p = SSL_get_selected_srtp_profile(ssl_);
  if (!p) return fail("DTLS: no SRTP profile negotiated (use_srtp)");
  size_t key_len = 16, salt_len = 0;
  if (p->id == SRTP_AEAD_AES_128_GCM) {
    keys_.profile = SrtpProfile::kAeadAes128Gcm;
    salt_len = 12;
  } else if (p->id == SRTP_AES128_CM_SHA1_80) {
    keys_.profile = SrtpProfile::kAes128CmSha1_80;
    salt_len = 14;
  } else {
    return fail(std::string("DTLS: unsupported SRTP profile ") + p->name);
  }
  // RFC 5764 §4.2: client key, server key, client salt, server salt.
  std::vector<uint8_t> material(2 * (key_len + salt_len));
  static constexpr char kLabel[] = "EXTRACTOR-dtls_srtp";
  if (SSL_export_keying_material(ssl_, material.data(), material.size(), kLabel, sizeof kLabel - 1,
                                 nullptr, 0, 0) != 1)
    return fail(openssl_error("DTLS: keying material export"));
  auto part = [&](size_t key_at, size_t salt_at) {
    std::vector<uint8_t> out(material.begin() + long(key_at), material.begin() + long(key_at + key_len));
    out.insert(out.end(), material.begin() + long(salt_at), material.begin() + long(salt_at + salt_len));
    return out;
  };
  auto client = part(0, 2 * key_len);
  auto server = part(key_len, 2 * key_len + salt_len);
  keys_.local = role_ == Role::kClient ? client : server;
  keys_.remote = role_ == Role::kClient ? server : client;
  state_ = State::kConnected;
}

std::optional<Clock::time_point> DtlsTransport::next_timeout() const {
  if (state_ != State::kConnecting) return std::nullopt;
  timeval tv{};
  if (DTLSv1_get_timeout(ssl_, &tv) != 1) return std::nullopt;
  return Clock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

void DtlsTransport::on_timeout() {
  if (state_ != State::kConnecting) return;
  if (DTLSv1_handle_timeout(ssl_) < 0) return fail(openssl_error("DTLS: handshake timed out"));
  flush();
}

void DtlsTransport::close() {
  if (state_ == State::kConnected) {
    SSL_shutdown(ssl_);
    flush();
  }
  state_ = State::kClosed;
}

}  // namespace rtcmesh::engine
