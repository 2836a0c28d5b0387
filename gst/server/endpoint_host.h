// The server side of a WHIP/WHEP element: its worker thread, the HTTP server
// living on it, the resource endpoint answering at the element's path, and
// the properties that configure them.
#pragma once

#include <glib-object.h>

#include <functional>
#include <memory>
#include <string>

#include "gst/common/props.h"
#include "gst/common/worker.h"
#include "signaling/http/http_server.h"
#include "signaling/http/resource_endpoint.h"

namespace rtcmesh {

// address, port, path, auth-token, peer-timeout, tls-certificate, tls-key of
// a WHIP/WHEP server element: install with ids first..first+6 and route
// get/set by id (like IceProps).
struct ServerProps {
  enum : guint {
    kAddress = 0,
    kPort,
    kPath,
    kAuthToken,
    kPeerTimeout,
    kTlsCertificate,
    kTlsKey,
    kTokenSecretFile,
    kTokenPublicKey,
    kLimitsFirst,  // AddressLimitProps from here on
    kCount = kLimitsFirst + AddressLimitProps::kCount
  };
  // What differs between the elements: defaults and who the blurbs name.
  struct Defaults {
    guint port;
    const char* path;
    const char* path_blurb;
    const char* auth_token_blurb;
    const char* peer_timeout_blurb;
    unsigned grant;  // what a signed token must grant: sig::kGrantPublish (WHIP) or Subscribe
  };
  explicit ServerProps(const Defaults& d)
      : port(d.port), path(d.path), default_path_(d.path), grant_(d.grant) {}

  std::string address = "0.0.0.0";
  guint port;
  std::string path, auth_token;
  guint peer_timeout_ms = 10000;
  std::string tls_certificate, tls_key;
  std::string token_secret_file, token_public_key;  // paths
  AddressLimitProps limits;

  static void install(GObjectClass* klass, guint first, const Defaults& d);
  bool set(guint first, guint id, const GValue* value);
  // `bound_port`: the listening port once the server runs, else 0.
  bool get(guint first, guint id, GValue* value, guint bound_port) const;
  sig::HttpServer::Options http_options() const;
  // Path, tokens (the signed-token keys read from their files), the ICE
  // servers to advertise and the per-address limits (a new sig::AddressLimits
  // each call); throws std::invalid_argument on a bad STUN/TURN URI or an
  // unreadable key file.
  sig::ResourceEndpoint::Config endpoint_config(const IceProps& ice) const;

 private:
  const char* default_path_;
  unsigned grant_;
};

class EndpointHost {
 public:
  using Routes = std::function<void(sig::HttpServer&)>;
  // Routes serving the element's own read-only `html` page (`what`: "the
  // player page") at GET / and at <endpoint path>/<extra> when `extra` is set;
  // any other path is 404, and a write 405, saying where `protocol` offers are
  // POSTed and where the page is.
  static Routes page_routes(std::string html, std::string what, std::string protocol,
                            std::string endpoint_path, std::string extra = "");
  // Starts the worker and listens. `routes` may add handlers beside the
  // endpoint's (a player page). Throws std::runtime_error saying what failed.
  EndpointHost(const std::string& thread_name, const sig::HttpServer::Options& http,
               const sig::ResourceEndpoint::Config& config, sig::ResourceEndpoint::Handler& handler,
               const Routes& routes = {});
  // Stops listening, runs `cleanup` on the worker (end the sessions), then
  // joins the worker. Idempotent; the destructor calls it.
  void stop(const std::function<void()>& cleanup = {});
  ~EndpointHost();

  Worker& worker() { return *worker_; }
  // Worker thread only (or after construction, before stop).
  sig::ResourceEndpoint& endpoint() { return *endpoint_; }
  unsigned port() const { return port_; }
  const std::string& base_url() const { return base_url_; }

 private:
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<sig::HttpServer> server_;
  std::unique_ptr<sig::ResourceEndpoint> endpoint_;
  unsigned port_ = 0;
  std::string base_url_;
};

}  // namespace rtcmesh
