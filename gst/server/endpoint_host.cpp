#include "gst/server/endpoint_host.h"

#include <stdexcept>

namespace rtcmesh {

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
