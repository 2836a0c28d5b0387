#include "signaling/http/ws_server.h"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "signaling/glib_util.h"
#include "signaling/rpc/jsonrpc.h"
#include "signaling/log.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

constexpr int kCloseTimeout = 4000;  // application close code: no pong within peer-timeout
constexpr int kCloseTryAgainLater = 1013;
// A per-client-address limit (like HTTP 429). Not 1013: libsoup's client
// (WsClient, rtcmeshbin) takes 1013 for a protocol error (1002).
constexpr int kCloseTooManyRequests = 4029;

// The token of "Authorization: Bearer <token>"; empty when there is none.
std::string bearer_token(const HttpRequest& req) {
  auto auth = req.headers.get("Authorization");
  if (!auth) return {};
  std::string_view v = trim(*auth);
  if (!starts_with_icase(v, "bearer ")) return {};
  return std::string(trim(v.substr(7)));
}

}  // namespace

WsServer::Options WsServer::Options::for_peer_timeout(std::chrono::milliseconds peer_timeout) {
  Options o;
  o.ping_interval_s = static_cast<unsigned>(std::clamp<long long>(peer_timeout.count() / 3000, 1, 5));
  return o;
}

struct WsServer::Impl {
  Impl(GMainContext* c, HttpServer& h, RoomServer::Config cfg, Options o)
      : ctx(g_main_context_ref(c)),
        http(h),
        opts(std::move(o)),
        rooms(std::move(cfg), [this](ConnId id, const std::string& text) { send(id, text); }) {}
  ~Impl() { g_main_context_unref(ctx); }

  GMainContext* ctx;
  HttpServer& http;
  Options opts;
  RoomServer rooms;
  std::map<ConnId, std::unique_ptr<WebSocket>> sockets;
  // Each connection is a session of its client's address (AddressLimits).
  std::map<ConnId, AddressLimits::LeasePtr> leases;
  ConnId next_id = 1;
  SourceHandle tick_timer;
  std::optional<std::string> draining;  // the close reason while draining
  // Closes reach RoomServer from the loop, never from inside one of its own
  // calls (RoomServer is not re-entrant).
  std::vector<ConnId> closed;
  SourceHandle closed_timer;

  void send(ConnId id, const std::string& text) {
    auto it = sockets.find(id);
    if (it == sockets.end() || !it->second->send_text(text))
      GST_DEBUG("connection %" G_GUINT64_FORMAT " is gone; dropping %zu bytes", id, text.size());
  }

  void accept(std::unique_ptr<WebSocket> ws, const HttpRequest& req) {
    if (draining) {
      GST_INFO("refusing a WebSocket from %s: draining", req.remote_address.c_str());
      ws->close(1001, *draining);
      return;
    }
    if (sockets.size() >= opts.max_connections) {
      GST_WARNING("refusing a WebSocket from %s: %u connections already",
                  req.remote_address.c_str(), opts.max_connections);
      ws->close(kCloseTryAgainLater, "too many connections");
      // libsoup keeps the connection alive until its close completes.
      return;
    }
    const RoomServer::Config& cfg = rooms.config();
    AddressLimits::LeasePtr lease;
    if (cfg.address_limits) {
      // A new connection is a session-creating request, and a session.
      AddressLimits::Refusal why;
      if (auto refused = cfg.address_limits->request(req.remote_address))
        why = *refused;
      else
        lease = cfg.address_limits->session(req.remote_address, &why);
      if (!lease) {
        GST_INFO("refusing a WebSocket from %s: %s", req.remote_address.c_str(),
                 why.reason.c_str());
        // A close reason is at most 123 bytes.
        ws->close(kCloseTooManyRequests, why.reason.substr(0, 123));
        return;
      }
    }
    ConnId id = next_id++;
    std::string bearer = bearer_token(req);
    // Frames up to 4×M reach RoomServer, which answers -32006 and keeps the
    // socket; only larger ones make libsoup close it.
    ws->set_max_incoming_payload_size(4 * static_cast<uint64_t>(cfg.max_message));
    ws->set_keepalive_interval(opts.ping_interval_s);
    WebSocket::Callbacks cb;
    cb.on_text = [this, id](std::string_view text) {
      rooms.on_message(id, text, RoomServer::Clock::now());
    };
    cb.on_binary = [this, id](size_t bytes) {
      rooms.on_alive(id, RoomServer::Clock::now());
      send(id, rpc::error(Json(),
                          {rpc::kInvalidRequest, "binary frames are not JSON-RPC; send text frames",
                           Json::object({{"bytes", bytes}})}));
    };
    cb.on_pong = [this, id] { rooms.on_alive(id, RoomServer::Clock::now()); };
    cb.on_closed = [this, id](int code, const std::string& reason) {
      GST_INFO("connection %" G_GUINT64_FORMAT " closed (%d %s)", id, code, reason.c_str());
      closed.push_back(id);
      if (!closed_timer) closed_timer = add_timer(ctx, 0, [this] { flush_closed(); });
    };
    ws->set_callbacks(std::move(cb));
    GST_INFO("connection %" G_GUINT64_FORMAT " from %s%s", id, req.remote_address.c_str(),
             bearer.empty() ? "" : " (token in Authorization)");
    sockets[id] = std::move(ws);
    if (lease) leases[id] = std::move(lease);
    rooms.on_open_with_bearer(id, RoomServer::Clock::now(), bearer, req.remote_address);
  }

  void flush_closed() {
    closed_timer.reset();
    auto ids = std::move(closed);
    closed.clear();
    for (ConnId id : ids) {
      sockets.erase(id);
      leases.erase(id);
      rooms.on_closed(id);
    }
  }

  void tick() {
    tick_timer = add_timer(ctx, opts.tick_ms, [this] { tick(); });
    for (ConnId id : rooms.tick(RoomServer::Clock::now())) {
      auto it = sockets.find(id);
      if (it == sockets.end()) continue;
      GST_INFO("connection %" G_GUINT64_FORMAT ": no pong within peer-timeout, closing", id);
      it->second->close(kCloseTimeout, "no pong within peer-timeout");
    }
  }
};

WsServer::WsServer(GMainContext* ctx, HttpServer& http, RoomServer::Config rooms, Options options) {
  init_debug();
  if (options.ping_interval_s > 0 &&
      rooms.peer_timeout <= std::chrono::seconds(options.ping_interval_s))
    throw std::invalid_argument("peer-timeout (" + std::to_string(rooms.peer_timeout.count()) +
                                " ms) must be longer than the ping interval (" +
                                std::to_string(options.ping_interval_s) + " s)");
  if (options.tick_ms == 0) options.tick_ms = 500;
  impl_ = std::make_unique<Impl>(ctx, http, std::move(rooms), std::move(options));
  Impl* impl = impl_.get();
  http.add_websocket_handler(impl->opts.path,
                             [impl](std::unique_ptr<WebSocket> ws, const HttpRequest& req) {
                               impl->accept(std::move(ws), req);
                             });
  impl->tick_timer = add_timer(ctx, impl->opts.tick_ms, [impl] { impl->tick(); });
}

WsServer::~WsServer() {
  impl_->http.remove_websocket_handler(impl_->opts.path);
  impl_->tick_timer.reset();
  impl_->closed_timer.reset();
  for (auto& [id, ws] : impl_->sockets) ws->close(1001, "server shutting down");
  impl_->sockets.clear();
}

void WsServer::drain(const std::string& reason) {
  impl_->draining = reason.substr(0, 123);
  // (each close reaches on_closed: the peer leaves its room as for a client's close)
  for (auto& [id, ws] : impl_->sockets) ws->close(1001, *impl_->draining);
  impl_->rooms.drain_front_ends(*impl_->draining);  // gRPC streams too
}

RoomServer& WsServer::rooms() {
  return impl_->rooms;
}

size_t WsServer::connection_count() const {
  return impl_->sockets.size();
}

std::string WsServer::url() const {
  std::string base = impl_->http.base_url();
  if (base.rfind("https://", 0) == 0)
    base = "wss://" + base.substr(8);
  else if (base.rfind("http://", 0) == 0)
    base = "ws://" + base.substr(7);
  return base + impl_->opts.path;
}

}  // namespace rtcmesh::sig
