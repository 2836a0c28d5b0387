// A JSON-RPC room server on an ephemeral port, in-process (WsServer on an
// HttpServer, as rtcmesh-server runs it): pings every second, drops a
// silent participant after 4 s.
#pragma once

#include <memory>
#include <string>

#include "gst/common/worker.h"
#include "signaling/http/http_server.h"
#include "signaling/http/ws_server.h"

namespace rtcmesh::test {

class RoomHost {
 public:
  explicit RoomHost(const std::string& token = "") : worker_("room-host") {
    worker_.call([&] {
      sig::HttpServer::Options http;
      http.address = "127.0.0.1";
      http_ = std::make_unique<sig::HttpServer>(worker_.context(), http);
      sig::RoomServer::Config config;
      config.token = token;
      config.peer_timeout = std::chrono::seconds(4);
      sig::WsServer::Options opts;
      opts.ping_interval_s = 1;
      ws_ = std::make_unique<sig::WsServer>(worker_.context(), *http_, config, opts);
      http_->start();
    });
  }
  ~RoomHost() {
    worker_.call([&] {
      ws_.reset();
      http_.reset();
    });
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(http_->port()) + "/rtc"; }

 private:
  Worker worker_;
  std::unique_ptr<sig::HttpServer> http_;
  std::unique_ptr<sig::WsServer> ws_;
};

}  // namespace rtcmesh::test
