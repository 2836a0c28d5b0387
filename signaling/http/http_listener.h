// The listening socket and the life of every connection of an HttpServer.
//
// libsoup 3.2 cannot be trusted with either: its listener stops accepting for
// good after one failed accept (EMFILE), and a keep-alive connection that the
// client closes while idle is never closed on our side (CLOSE-WAIT, one fd per
// client; fixed in libsoup 3.3). So we accept ourselves, hand each connection
// to libsoup (soup_server_accept_iostream), and keep a deadline per
// connection: a client that is too slow to send its request, its body, or to
// read our response, or that lingers after it, is shut down, and so is a
// WebSocket that sends fragments of a message that never ends.
#pragma once

#include <gio/gio.h>

#include <functional>
#include <memory>
#include <string>

namespace rtcmesh::sig {

class HttpListener {
 public:
  struct Limits {
    unsigned request_ms = 10000;  // accept → request headers complete
    unsigned body_ms = 30000;     // headers → body complete
    unsigned write_ms = 30000;    // response started → written
    unsigned idle_ms = 5000;      // a connection left open after its response
    // Bytes an upgraded connection (WebSocket) may receive between two
    // complete messages (or pongs): libsoup 3.2 buffers never-ending
    // fragments without a limit.
    uint64_t upgraded_pending_bytes = 1 << 20;
  };
  // Where a connection is; HttpServer reports it from libsoup's message signals.
  enum class Phase { kRequest, kBody, kHandling, kWriting, kIdle, kUpgraded };
  // Gets each accepted stream (TLS-wrapped when a certificate is set) with its
  // addresses; the remote address identifies the connection in set_phase().
  using Accept = std::function<void(GIOStream*, GSocketAddress* local, GSocketAddress* remote)>;

  // On the thread that runs ctx, which runs every callback.
  HttpListener(GMainContext* ctx, Limits limits, GTlsCertificate* tls, Accept accept);
  // Stops listening; open connections stay with their owners (libsoup,
  // WebSockets).
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds and listens; throws std::runtime_error with the reason.
  void listen(GSocketAddress* address);
  unsigned port() const;

  // kUpgraded again after each message or pong: what came so far is done.
  void set_phase(GSocketAddress* remote, Phase phase);
  // Writes `response` (a whole HTTP response) and shuts the connection down,
  // for requests libsoup would otherwise go on reading (its body length is
  // unknowable).
  void refuse(GSocketAddress* remote, const std::string& response);
  size_t connections() const;  // open, WebSockets included

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Raises this process's soft RLIMIT_NOFILE to its hard limit (once).
void raise_fd_limit();

}  // namespace rtcmesh::sig
