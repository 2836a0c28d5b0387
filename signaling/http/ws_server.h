// The JSON-RPC room endpoint (docs/protocol.md): WebSockets at a path of an
// HttpServer feeding one RoomServer. Pings every connection (WebSocket ping
// frames) and lets RoomServer::tick drop the silent ones.
#pragma once

#include <glib.h>

#include <chrono>

#include <memory>
#include <string>

#include "signaling/http/http_server.h"
#include "signaling/rooms/rooms.h"

namespace rtcmesh::sig {

class WsServer {
 public:
  struct Options {
    std::string path = "/rtc";
    unsigned ping_interval_s = 5;      // WebSocket ping to every client; 0 = none
    unsigned tick_ms = 500;            // how often silent connections are looked for
    unsigned max_connections = 10000;  // more are closed at once (1013 try again later)
    // Pings at least three times per peer_timeout, at most every 5 s.
    static Options for_peer_timeout(std::chrono::milliseconds peer_timeout);
  };

  // Everything on the thread that runs ctx (the HttpServer's). Destroy before
  // `http`. Throws std::invalid_argument when peer_timeout is not longer than
  // the ping interval (every idle client would be dropped).
  WsServer(GMainContext* ctx, HttpServer& http, RoomServer::Config rooms, Options options);
  WsServer(GMainContext* ctx, HttpServer& http, RoomServer::Config rooms)
      : WsServer(ctx, http, std::move(rooms), Options()) {}
  ~WsServer();  // closes every connection (1001 going away)
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  RoomServer& rooms();  // context thread only
  size_t connection_count() const;
  // SIGTERM of a cluster node: every connection, and every new one from
  // now on, is closed with 1001 and `reason` ("move <url>": the node its
  // participants go to; at most 123 bytes). Context thread.
  void drain(const std::string& reason);
  // The close reason of drain(): "move <url>", or "draining" without a url.
  static std::string drain_reason(const std::string& url) {
    return url.empty() || url.size() > 118 ? "draining" : "move " + url;
  }
  // "ws://127.0.0.1:PORT/rtc" ("wss" with TLS), once the HttpServer listens.
  std::string url() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
