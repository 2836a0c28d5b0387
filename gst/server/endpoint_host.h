// The server side of a WHIP/WHEP element: its worker thread, the HTTP server
// living on it, and the resource endpoint answering at the element's path.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gst/common/worker.h"
#include "signaling/http/http_server.h"
#include "signaling/http/resource_endpoint.h"

namespace rtcmesh {

class EndpointHost {
 public:
  using Routes = std::function<void(sig::HttpServer&)>;
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
