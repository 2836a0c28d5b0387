#include "gst/server/host.h"

#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/peer/peer.h"

#define GST_CAT_DEFAULT rtcsfu_host_debug
GST_DEBUG_CATEGORY_STATIC(rtcsfu_host_debug);

namespace rtcmesh::server {

namespace {

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<Host>> registry;  // "address:port" of hosts with a fixed port

std::string key(const std::string& address, unsigned port) {
  return address + ":" + std::to_string(port);
}

}  // namespace

// WHIP and WHEP on a host of mesh rooms: nothing on the server ends media.
static sig::HttpResponse mesh_refusal(const char* what) {
  return sig::HttpResponse::error(
      404, std::string(what) + " serves SFU and MCU rooms (--mode sfu|mcu); this server runs mesh "
                               "rooms, whose media goes peer to peer: join over the WebSocket at "
                               "/rtc or POST /rtc/ROOM");
}

// Sends each WHIP or WHEP request to the element hosting its room, and later
// requests on a resource (PATCH, DELETE) to the element that took the POST.
struct Host::EndpointRoutes : sig::ResourceEndpoint::Handler {
  std::mutex mutex;
  std::map<std::string, sig::ResourceEndpoint::Handler*> rooms;  // "" = catch-all
  std::map<std::string, sig::ResourceEndpoint::Handler*> resources;

  sig::ResourceEndpoint::Handler* for_room(const std::string& room) {
    std::lock_guard lock(mutex);
    auto it = rooms.find(room);
    if (it == rooms.end()) it = rooms.find("");
    if (it != rooms.end()) return it->second;
    // POST <path> without a room: the one room hosted here, if there is one.
    if (room.empty() && rooms.size() == 1) return rooms.begin()->second;
    return nullptr;
  }
  std::string draining;  // under mutex: new sessions get 503 with this reason

  void on_offer(const sig::ResourceEndpoint::Offer& offer,
                std::function<void(sig::ResourceEndpoint::Answer)> reply) override {
    {
      std::lock_guard lock(mutex);
      if (!draining.empty()) return reply({503, draining, {}});  // (+ Retry-After)
    }
    sig::ResourceEndpoint::Handler* h = for_room(offer.room);
    if (!h)
      return reply({404, offer.room.empty() ? "POST to <path>/<room>: this server hosts rooms"
                                            : "no room '" + offer.room + "' here",
                    {}});
    {
      std::lock_guard lock(mutex);
      resources[offer.id] = h;
    }
    sig::ResourceEndpoint::Offer routed = offer;
    if (routed.room.empty()) {
      std::lock_guard lock(mutex);
      for (auto& [name, handler] : rooms)
        if (handler == h) routed.room = name;
    }
    h->on_offer(routed, std::move(reply));
  }
  sig::ResourceEndpoint::Handler* for_resource(const std::string& id, bool forget) {
    std::lock_guard lock(mutex);
    auto it = resources.find(id);
    if (it == resources.end()) return nullptr;
    auto* h = it->second;
    if (forget) resources.erase(it);
    return h;
  }
  void on_trickle(const std::string& id, const std::vector<sig::TrickleCandidate>& candidates,
                  bool end) override {
    if (auto* h = for_resource(id, false)) h->on_trickle(id, candidates, end);
  }
  void on_delete(const std::string& id) override {
    if (auto* h = for_resource(id, true)) h->on_delete(id);
  }
  void drop(sig::ResourceEndpoint::Handler* h) {
    std::lock_guard lock(mutex);
    std::erase_if(rooms, [h](auto& kv) { return kv.second == h; });
    std::erase_if(resources, [h](auto& kv) { return kv.second == h; });
  }
};

std::shared_ptr<Host> Host::acquire(const Options& options) {
  std::lock_guard lock(registry_mutex);
  const std::string k = key(options.http.address, options.http.port);
  if (options.http.port != 0) {
    if (auto host = registry[k].lock()) {
      const Options& o = host->options_;
      if (o.metrics_token != options.metrics_token)
        throw std::runtime_error("port " + std::to_string(options.http.port) +
                                 " is shared with another rtcsfu whose metrics-token differs");
      if (o.rooms.token != options.rooms.token)
        throw std::runtime_error("port " + std::to_string(options.http.port) +
                                 " is shared with another rtcsfu whose auth-token differs");
      if (o.rooms.token_secret != options.rooms.token_secret ||
          o.rooms.token_public_key != options.rooms.token_public_key)
        throw std::runtime_error(
            "port " + std::to_string(options.http.port) +
            " is shared with another rtcsfu whose token-secret-file or token-public-key differs");
      if (o.address_limits != options.address_limits)
        throw std::runtime_error("port " + std::to_string(options.http.port) +
                                 " is shared with another rtcsfu whose per-address limits "
                                 "differ");
      if (o.http.tls_certificate != options.http.tls_certificate ||
          o.http.tls_key != options.http.tls_key)
        throw std::runtime_error("port " + std::to_string(options.http.port) +
                                 " is shared with another rtcsfu whose TLS files differ");
      return host;
    }
  }
  std::shared_ptr<Host> host(new Host(options));
  registry[key(options.http.address, host->port())] = host;
  return host;
}

std::shared_ptr<Host> Host::find(const std::string& address, unsigned port) {
  std::lock_guard lock(registry_mutex);
  auto it = registry.find(key(address, port));
  return it == registry.end() ? nullptr : it->second.lock();
}

Host::Host(const Options& options)
    : options_(options), worker_(std::make_unique<Worker>("rtcsfu-host")) {
  static std::once_flag once;
  std::call_once(once, [] {
    GST_DEBUG_CATEGORY_INIT(rtcsfu_host_debug, "rtcsfuhost", 0, "rtcsfu shared HTTP host");
  });
  whip_ = std::make_unique<EndpointRoutes>();
  whep_ = std::make_unique<EndpointRoutes>();
  rtc_ = std::make_unique<EndpointRoutes>();
  std::string error;
  worker_->call([&] {
    try {
      sig::HttpServer::Options http = options.http;
      // The server's own errors (404, 413) carry CORS too.
      sig::Headers cors = sig::ResourceEndpoint::cors_headers();
      for (const auto& [k, v] : cors.items()) http.extra_headers.add(k, v);
      http_ = std::make_unique<sig::HttpServer>(worker_->context(), http);

      // One count per client address for WHIP, WHEP and /rtc together.
      address_limits_ = std::make_shared<sig::AddressLimits>(options.address_limits);
      const auto& limits = address_limits_;
      sig::ResourceEndpoint::Config whip;
      whip.path = "/whip";
      whip.address_limits = limits;
      whip.token = options.rooms.token;
      whip.token_secret = options.rooms.token_secret;
      whip.token_public_key = options.rooms.token_public_key;
      whip.grant = sig::kGrantPublish;
      whip.ice_servers = options.rooms.ice_servers;
      whip.accepted_direction = "sendonly";
      sig::ResourceEndpoint::Config whep = whip;
      whep.path = "/whep";
      whep.accepted_direction = "recvonly";
      whep.grant = sig::kGrantSubscribe;
      whep.track_count = options.whep_slots;
      // POST /rtc/<room>: a connection whose data channel carries the room
      // protocol (any grant: join checks the token's as over a WebSocket).
      sig::ResourceEndpoint::Config rtc = whip;
      rtc.path = "/rtc";
      rtc.accepted_direction.clear();
      rtc.grant = 0;
      rtc.data_channel = true;
      whip_endpoint_ = std::make_unique<sig::ResourceEndpoint>(whip, *whip_);
      whep_endpoint_ = std::make_unique<sig::ResourceEndpoint>(whep, *whep_);
      rtc_endpoint_ = std::make_unique<sig::ResourceEndpoint>(rtc, *rtc_);
      http_->add_handler("/whip", [this](const sig::HttpRequest& r, sig::Responder respond) {
        if (options_.mesh_rooms) return respond(mesh_refusal("WHIP"));
        whip_endpoint_->handle(r, std::move(respond));
      });
      http_->add_handler("/whep", [this](const sig::HttpRequest& r, sig::Responder respond) {
        if (options_.mesh_rooms) return respond(mesh_refusal("WHEP"));
        whep_endpoint_->handle(r, std::move(respond));
      });
      http_->add_handler("/rtc", [this](const sig::HttpRequest& r, sig::Responder respond) {
        rtc_endpoint_->handle(r, std::move(respond));
      });
      http_->add_handler("/metrics", [this](const sig::HttpRequest& r, sig::Responder respond) {
        serve_metrics(r, std::move(respond));
      });

      sig::RoomServer::Config rooms = options.rooms;
      rooms.default_mode = options.mesh_rooms ? sig::RoomMode::kMesh : sig::RoomMode::kSfu;
      rooms.address_limits = limits;
      ws_ = std::make_unique<sig::WsServer>(
          worker_->context(), *http_, rooms,
          sig::WsServer::Options::for_peer_timeout(rooms.peer_timeout));
      http_->start();
      port_ = http_->port();
      base_url_ = http_->base_url();
      rooms_url_ = ws_->url();
    } catch (const std::exception& e) {
      error = e.what();
      ws_.reset();
      whip_endpoint_.reset();
      whep_endpoint_.reset();
      rtc_endpoint_.reset();
      http_.reset();
    }
  });
  if (!error.empty()) {
    worker_.reset();
    throw std::runtime_error(error);
  }
  GST_INFO("SFU host on %s: rooms at %s, WHIP %s/whip, WHEP %s/whep", base_url_.c_str(),
           ws_->url().c_str(), base_url_.c_str(), base_url_.c_str());
}

void Host::drain(const std::string& close_reason) {
  for (EndpointRoutes* r : {whip_.get(), whep_.get()}) {
    std::lock_guard lock(r->mutex);
    r->draining = "this server is shutting down (draining): no new sessions; " +
                  std::string(close_reason.starts_with("move ") ? "use " + close_reason.substr(5)
                                                                : "use another node");
  }
  ws_->drain(close_reason);
}

size_t Host::session_count() {
  return ws_->connection_count() + whip_endpoint_->session_count() +
         whep_endpoint_->session_count();
}

Host::~Host() {
  // Close frames (1001 going away) first, written while the server still runs.
  size_t open = 0;
  worker_->call([&] {
    open = ws_->connection_count();
    ws_.reset();
  });
  if (open) g_usleep(200 * 1000);
  worker_->call([this] {
    http_->stop();
    whip_endpoint_.reset();
    whep_endpoint_.reset();
    rtc_endpoint_.reset();
    http_.reset();
  });
  worker_.reset();
}

sig::RoomServer& Host::rooms() { return ws_->rooms(); }

bool Host::route(const std::string& room, sig::ResourceEndpoint::Handler* whip,
                 sig::ResourceEndpoint::Handler* whep, sig::ResourceEndpoint::Handler* rtc) {
  std::scoped_lock lock(whip_->mutex, whep_->mutex, rtc_->mutex);
  if (whip_->rooms.count(room) || whep_->rooms.count(room) || rtc_->rooms.count(room))
    return false;
  whip_->rooms[room] = whip;
  whep_->rooms[room] = whep;
  if (rtc) rtc_->rooms[room] = rtc;
  return true;
}

void Host::unroute(const std::string& room) {
  for (EndpointRoutes* routes : {whip_.get(), whep_.get(), rtc_.get()}) {
    sig::ResourceEndpoint::Handler* h = nullptr;
    {
      std::lock_guard lock(routes->mutex);
      if (auto it = routes->rooms.find(room); it != routes->rooms.end()) h = it->second;
    }
    if (h) routes->drop(h);
  }
}

void Host::remove_resource(const std::string& id) {
  for (EndpointRoutes* routes : {whip_.get(), whep_.get(), rtc_.get()})
    routes->for_resource(id, true);
  // The endpoints are reset only on the worker thread, by the destructor.
  for (sig::ResourceEndpoint* e : {whip_endpoint_.get(), whep_endpoint_.get(), rtc_endpoint_.get()})
    if (e) e->remove(id);
}

void Host::add_metrics(const void* owner, MetricsWriter writer) {
  std::lock_guard lock(metrics_mutex_);
  metrics_.emplace_back(owner, std::move(writer));
}

void Host::remove_metrics(const void* owner) {
  std::lock_guard lock(metrics_mutex_);
  std::erase_if(metrics_, [owner](auto& m) { return m.first == owner; });
}

void Host::serve_metrics(const sig::HttpRequest& req, sig::Responder respond) {
  if (req.method != "GET" && req.method != "HEAD") {
    sig::HttpResponse r = sig::HttpResponse::error(405, req.method + " not allowed on /metrics");
    r.headers.set("Allow", "GET, HEAD");
    return respond(std::move(r));
  }
  // Room names are in the series: a server with a metrics token shows them
  // only to whoever has it.
  if (!options_.metrics_token.empty() &&
      req.headers.get("Authorization").value_or("") != "Bearer " + options_.metrics_token) {
    sig::HttpResponse r = sig::HttpResponse::error(401, "/metrics needs the metrics token");
    r.headers.set("WWW-Authenticate", "Bearer");
    return respond(std::move(r));
  }
  sig::HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  sig::Metrics m;
  m.gauge("rtcmesh_rooms", "Rooms with participants or publishers", {},
          rooms().sfu_rooms().size());
  m.counter("rtcmesh_dtls_refusals_total",
            "Connections (this process) refused because the remote DTLS certificate did not "
            "match the a=fingerprint of its description",
            {}, peer::Peer::dtls_refusals());
  m.counter("rtcmesh_address_limit_refusals_total",
            "Requests refused by a per-client-address limit (429, -32008, WebSocket 4029)",
            {{"limit", "rate"}}, address_limits_->refused_requests());
  m.counter("rtcmesh_address_limit_refusals_total", "", {{"limit", "sessions"}},
            address_limits_->refused_sessions());
  for (const auto& room : rooms().sfu_rooms()) {
    m.gauge("rtcmesh_room_publishers", "Publishers in the room (every way in)",
            {{"room", room.name}}, room.publishers);
    m.gauge("rtcmesh_room_subscribers", "JSON-RPC subscribers of the room",
            {{"room", room.name}}, room.subscribers);
  }
  {
    std::lock_guard lock(metrics_mutex_);
    for (auto& [owner, write] : metrics_) write(m);
  }
  r.body = req.method == "HEAD" ? "" : m.text();
  respond(std::move(r));
}

}  // namespace rtcmesh::server
