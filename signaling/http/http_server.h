// HTTP(S) server on a GMainContext (libsoup 3). Handlers get plain
// HttpRequest values and answer through a Responder, possibly later and from
// another thread; the message stays paused until then. Every connection
// serves one request (Connection: close) or becomes a WebSocket.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>

#include "signaling/http/http.h"
#include "signaling/http/http_listener.h"
#include "signaling/http/websocket.h"

namespace rtcmesh::sig {

class HttpServer {
 public:
  struct Options {
    std::string address = "0.0.0.0";
    unsigned port = 0;                     // 0 = ephemeral, see port()
    std::string tls_certificate, tls_key;  // PEM files; HTTPS when set
    size_t max_body = 256 * 1024;          // larger request bodies get 413
    // Added to every response (including the server's own 404/413/500)
    // unless the handler's response already carries that header: CORS.
    Headers extra_headers;
    // A connection that is slower than these (or lingers after its response)
    // is shut down; a WebSocket only for never-ending fragments.
    HttpListener::Limits limits;
  };
  using Handler = std::function<void(const HttpRequest&, Responder)>;
  // Gets each accepted WebSocket (open, on the server's context) and the
  // upgrade request (path, query, headers, remote address; no body).
  using WebSocketHandler = std::function<void(std::unique_ptr<WebSocket>, const HttpRequest&)>;

  // Construct, start, stop and destroy on the thread that runs ctx.
  HttpServer(GMainContext* ctx, Options options);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Longest matching prefix wins, on path-segment boundaries ("/whip" serves
  // "/whip" and "/whip/x", not "/whipx"). Requests matching none get 404.
  void add_handler(std::string path_prefix, Handler fn);
  // WebSocket upgrades at `path` and below it (libsoup's path match). Other
  // requests there get libsoup's 400 (no CORS headers, no HTTP handler).
  // permessage-deflate is never negotiated: a small compressed frame could
  // inflate past every size limit.
  void add_websocket_handler(std::string path, WebSocketHandler fn);
  void remove_websocket_handler(const std::string& path);
  // Listens; throws std::runtime_error("cannot listen on ADDR:PORT: why").
  void start();
  unsigned port() const;         // the real port after start()
  std::string base_url() const;  // "http://127.0.0.1:PORT" ("https" with TLS)
  // Stops listening and closes connections; pending Responders become no-ops.
  void stop();
  bool running() const;
  size_t pending_count() const;  // requests waiting for their Responder
  size_t connection_count() const;  // open connections, WebSockets included

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
