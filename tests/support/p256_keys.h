// A fresh ECDSA P-256 key pair as PEM text, for tests that issue and verify
// ES256 room tokens.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

namespace rtcmesh::test {

struct KeyPair {
  std::string private_pem, public_pem;
};

inline KeyPair p256() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  KeyPair kp;
  for (bool priv : {true, false}) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv)
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else
      PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    (priv ? kp.private_pem : kp.public_pem).assign(data, n);
    BIO_free(bio);
  }
  EVP_PKEY_free(key);
  return kp;
}

}  // namespace rtcmesh::test
