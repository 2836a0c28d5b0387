// HTTP(S) client on a GMainContext (libsoup 3) with the redirect, timeout and
// TLS behaviour WHIP/WHEP clients need.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>

#include "signaling/http/http.h"

typedef struct _SoupSession SoupSession;

namespace rtcmesh::sig {

// The PEM bundle at `path` replaces the system CAs of `session` (HttpClient's
// and WsClient's tls-ca-file). Throws std::runtime_error when it cannot load.
void use_tls_ca_file(SoupSession* session, const std::string& path);

class HttpClient {
 public:
  struct Options {
    unsigned timeout_s = 10;         // whole request, redirects included
    unsigned connect_timeout_s = 5;  // until the request could be written
    std::string tls_ca_file;         // PEM bundle replacing the system CAs
    bool tls_insecure = false;       // accept any server certificate
    unsigned max_redirects = 5;
  };
  struct Result {
    int status = 0;  // 0 = transport error, see `error`
    std::string reason;
    std::string error;  // transport error text
    Headers headers;
    std::string body;
    std::string url;  // final URL after redirects
  };
  using Done = std::function<void(Result)>;

  // Construct, use and destroy on the thread that runs ctx. Throws
  // std::runtime_error when tls_ca_file cannot be loaded.
  HttpClient(GMainContext* ctx, Options options);
  ~HttpClient();  // cancels everything pending
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Asynchronous; `done` runs later on ctx's thread, never from inside
  // request(). Redirects (301/302/303/307/308) are followed here, re-sending
  // the same method, body and headers (Authorization included) to Location
  // resolved against the request URL: libsoup would turn a POST into a GET.
  void request(std::string method, std::string url, Headers headers, std::string content_type,
               std::string body, Done done);
  // Pending `done`s are not called after this.
  void cancel_all();
  size_t pending_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
