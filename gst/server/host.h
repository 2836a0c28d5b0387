// The network side every SFU room of a process shares (DESIGN §7): one worker
// thread, one HTTP server per address and port, the JSON-RPC rooms at /rtc
// (one RoomServer), and the WHIP and WHEP endpoints, whose requests are routed
// by room to the element hosting that room. Several rtcsfu elements, and
// rtcmesh-server's page, can listen on one port.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gst/common/worker.h"
#include "signaling/http/http_server.h"
#include "signaling/http/ice_servers.h"
#include "signaling/metrics.h"
#include "signaling/http/resource_endpoint.h"
#include "signaling/rooms/rooms.h"
#include "signaling/http/ws_server.h"

namespace rtcmesh::server {

class Host {
 public:
  struct Options {
    sig::HttpServer::Options http;
    // The JSON-RPC rooms (default_mode is sfu); its token and ICE servers
    // serve WHIP and WHEP too.
    sig::RoomServer::Config rooms;
    int whep_slots = 4;  // video (and audio) tracks a /whep/<room> player is offered
    std::string metrics_token;  // Bearer token GET /metrics needs; empty = open
    // Per client address, over /rtc, WHIP and WHEP together (one
    // sig::AddressLimits per host; rooms.address_limits is ignored).
    sig::AddressLimits::Config address_limits;
    // Mesh rooms (rtcmesh-server --mode mesh): rooms a join creates are mesh
    // rooms, whose media goes peer to peer; the room service relays their
    // offers and answers. An rtcsfu on such a host hosts no SFU room: its
    // POST /rtc connections are data-only, carrying their participant's room
    // protocol. WHIP and WHEP answer 404 with that reason. Set by the first
    // user (later users share the host as it is).
    bool mesh_rooms = false;
  };
  // The host listening on options.http's address and port, made on first use.
  // A second user must ask for the same token, TLS files and per-address
  // limits. Port 0 makes a new host, registered under the port it got (read
  // port() back). Throws std::runtime_error saying what failed (port taken,
  // options that differ from the first user's).
  static std::shared_ptr<Host> acquire(const Options& options);
  // The running host on that address and port (after an element's PAUSED), if any.
  static std::shared_ptr<Host> find(const std::string& address, unsigned port);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  Worker& worker() { return *worker_; }
  // Worker thread only.
  sig::HttpServer& http() { return *http_; }
  sig::RoomServer& rooms();
  unsigned port() const { return port_; }
  const std::string& base_url() const { return base_url_; }
  const std::string& rooms_url() const { return rooms_url_; }  // ws(s)://…/rtc
  const Options& options() const { return options_; }

  // WHIP (publishers), WHEP (players) and POST /rtc (participants signaled
  // over a data channel; null: 404) requests for `room` ("" = every room no
  // one routes by name) go to these handlers. Any thread; false when the
  // room is routed already.
  bool route(const std::string& room, sig::ResourceEndpoint::Handler* whip,
             sig::ResourceEndpoint::Handler* whep,
             sig::ResourceEndpoint::Handler* rtc = nullptr);
  void unroute(const std::string& room);
  // The element ended a WHIP, WHEP or POST /rtc session itself: its resource is gone.
  void remove_resource(const std::string& id);

  // SIGTERM (draining): WHIP/WHEP POSTs get 503 with Retry-After, /rtc
  // connections are closed with 1001 `close_reason` (WsServer::drain).
  // Worker thread.
  void drain(const std::string& close_reason);
  // /rtc connections and WHIP/WHEP sessions open now. Worker thread.
  size_t session_count();

  // GET /metrics: every registered writer adds its samples (worker thread).
  using MetricsWriter = std::function<void(sig::Metrics& metrics)>;
  void add_metrics(const void* owner, MetricsWriter writer);
  void remove_metrics(const void* owner);

  struct EndpointRoutes;  // WHIP or WHEP requests → the element hosting the room

 private:
  explicit Host(const Options& options);
  void serve_metrics(const sig::HttpRequest& req, sig::Responder respond);

  Options options_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<sig::HttpServer> http_;
  std::shared_ptr<sig::AddressLimits> address_limits_;  // WHIP, WHEP and /rtc together
  std::unique_ptr<EndpointRoutes> whip_, whep_, rtc_;
  std::unique_ptr<sig::ResourceEndpoint> whip_endpoint_, whep_endpoint_, rtc_endpoint_;
  std::unique_ptr<sig::WsServer> ws_;
  unsigned port_ = 0;
  std::string base_url_, rooms_url_;
  std::mutex metrics_mutex_;
  std::vector<std::pair<const void*, MetricsWriter>> metrics_;
};

}  // namespace rtcmesh::server
