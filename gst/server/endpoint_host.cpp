#include "gst/server/endpoint_host.h"

#include <glib.h>

#include <stdexcept>

#include "signaling/auth/tokens.h"
#include "signaling/http/ice_servers.h"

namespace rtcmesh {

void ServerProps::install(GObjectClass* klass, guint first, const Defaults& d) {
  install_string(klass, first + kAddress, "address", "Address the HTTP server listens on",
                 "0.0.0.0");
  g_object_class_install_property(
      klass, first + kPort,
      g_param_spec_uint("port", "port",
                        "TCP port of the HTTP server (0 = ephemeral; reads back the bound port "
                        "once the element is PAUSED)",
                        0, 65535, d.port, rw_flags()));
  install_string(klass, first + kPath, "path", d.path_blurb, d.path);
  install_string(klass, first + kAuthToken, "auth-token", d.auth_token_blurb);
  install_uint(klass, first + kPeerTimeout, "peer-timeout", d.peer_timeout_blurb, 500, G_MAXUINT,
               10000);
  install_string(klass, first + kTlsCertificate, "tls-certificate",
                 "PEM certificate file: serve HTTPS (needs tls-key)");
  install_string(klass, first + kTlsKey, "tls-key", "PEM private key file for tls-certificate");
  install_string(klass, first + kTokenSecretFile, "token-secret-file",
                 "File holding the HS256 secret (32 bytes or more) of signed room tokens: JWTs "
                 "with room, sub, grants, exp (docs/security.md), accepted beside auth-token "
                 "(empty = none)");
  install_string(klass, first + kTokenPublicKey, "token-public-key",
                 "File holding the P-256 public key (PEM) that verifies ES256 room tokens, as "
                 "token-secret-file does HS256 ones (empty = none)");
  AddressLimitProps::install(klass, first + kLimitsFirst);
}

bool ServerProps::set(guint first, guint id, const GValue* value) {
  if (id < first || id >= first + kCount) return false;
  if (limits.set(first + kLimitsFirst, id, value)) return true;
  auto str = [&](const char* fallback) {
    const char* s = g_value_get_string(value);
    return std::string(s ? s : fallback);
  };
  switch (id - first) {
    case kAddress: address = str("0.0.0.0"); break;
    case kPort: port = g_value_get_uint(value); break;
    case kPath: path = str(default_path_); break;
    case kAuthToken: auth_token = str(""); break;
    case kPeerTimeout: peer_timeout_ms = g_value_get_uint(value); break;
    case kTlsCertificate: tls_certificate = str(""); break;
    case kTlsKey: tls_key = str(""); break;
    case kTokenSecretFile: token_secret_file = str(""); break;
    case kTokenPublicKey: token_public_key = str(""); break;
  }
  return true;
}

bool ServerProps::get(guint first, guint id, GValue* value, guint bound_port) const {
  if (id < first || id >= first + kCount) return false;
  if (limits.get(first + kLimitsFirst, id, value)) return true;
  switch (id - first) {
    case kAddress: g_value_set_string(value, address.c_str()); break;
    case kPort: g_value_set_uint(value, bound_port ? bound_port : port); break;
    case kPath: g_value_set_string(value, path.c_str()); break;
    case kAuthToken: g_value_set_string(value, auth_token.c_str()); break;
    case kPeerTimeout: g_value_set_uint(value, peer_timeout_ms); break;
    case kTlsCertificate: g_value_set_string(value, tls_certificate.c_str()); break;
    case kTlsKey: g_value_set_string(value, tls_key.c_str()); break;
    case kTokenSecretFile: g_value_set_string(value, token_secret_file.c_str()); break;
    case kTokenPublicKey: g_value_set_string(value, token_public_key.c_str()); break;
  }
  return true;
}

sig::HttpServer::Options ServerProps::http_options() const {
  sig::HttpServer::Options opts;
  opts.address = address;
  opts.port = port;
  opts.tls_certificate = tls_certificate;
  opts.tls_key = tls_key;
  return opts;
}

sig::ResourceEndpoint::Config ServerProps::endpoint_config(const IceProps& ice) const {
  sig::ResourceEndpoint::Config config;
  config.path = path;
  config.token = auth_token;
  if (!token_secret_file.empty())
    config.token_secret = sig::read_key_file(token_secret_file, "token-secret-file");
  if (!token_public_key.empty())
    config.token_public_key = sig::read_key_file(token_public_key, "token-public-key");
  config.grant = grant_;
  config.ice_servers = sig::parse_ice_servers(ice.stun_server, split_list(ice.turn_servers));
  config.address_limits = std::make_shared<sig::AddressLimits>(limits.config);
  return config;
}

EndpointHost::Routes EndpointHost::page_routes(std::string html, std::string what,
                                               std::string protocol, std::string endpoint_path,
                                               std::string extra) {
  return [=](sig::HttpServer& http) {
    auto serve = [=](const sig::HttpRequest& req, sig::Responder respond) {
      const std::string where = "; " + protocol + " offers are POSTed to " + endpoint_path +
                                ", " + what + " is /";
      if (req.path != "/" && (extra.empty() || !g_str_has_suffix(req.path.c_str(), ("/" + extra).c_str())))
        return respond(sig::HttpResponse::error(404, "nothing at " + req.path + where));
      respond(sig::HttpResponse::page(req.method, html, what + " is read-only" + where));
    };
    http.add_handler("/", serve);
    if (!extra.empty()) http.add_handler(endpoint_path + "/" + extra, serve);
  };
}

EndpointHost::EndpointHost(const std::string& thread_name, const sig::HttpServer::Options& http,
                           const sig::ResourceEndpoint::Config& config,
                           sig::ResourceEndpoint::Handler& handler, const Routes& routes)
    : worker_(std::make_unique<Worker>(thread_name)) {
  std::string error;
  worker_->call([&] {
    try {
      sig::HttpServer::Options opts = http;
      // The server's own errors (404, 413) carry CORS too.
      sig::Headers cors = sig::ResourceEndpoint::cors_headers();
      for (const auto& [k, v] : cors.items()) opts.extra_headers.add(k, v);
      server_ = std::make_unique<sig::HttpServer>(worker_->context(), opts);
      endpoint_ = std::make_unique<sig::ResourceEndpoint>(config, handler);
      server_->add_handler(config.path, [this](const sig::HttpRequest& req, sig::Responder r) {
        endpoint_->handle(req, std::move(r));
      });
      if (routes) routes(*server_);
      server_->start();
      port_ = server_->port();
      base_url_ = server_->base_url();
    } catch (const std::exception& e) {
      error = e.what();
      endpoint_.reset();
      server_.reset();
    }
  });
  if (!error.empty()) {
    worker_.reset();
    throw std::runtime_error(error);
  }
}

void EndpointHost::stop(const std::function<void()>& cleanup) {
  if (!worker_) return;
  worker_->call([&] {
    server_->stop();
    if (cleanup) cleanup();
    endpoint_.reset();
    server_.reset();
  });
  worker_.reset();
}

EndpointHost::~EndpointHost() { stop(); }

}  // namespace rtcmesh
