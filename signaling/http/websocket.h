// One open WebSocket (libsoup 3 SoupWebsocketConnection) with C++ callbacks,
// shared by the server (HttpServer::add_websocket_handler) and WsClient.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

typedef struct _SoupWebsocketConnection SoupWebsocketConnection;

namespace rtcmesh::sig {

class WebSocket {
 public:
  struct Callbacks {
    std::function<void(std::string_view text)> on_text;
    // Binary frames are not part of our protocol; the default closes with 1003.
    std::function<void(size_t bytes)> on_binary;
    std::function<void()> on_pong;
    // Once, when the connection is gone (clean close, peer vanished, error,
    // or close()/abort() here). `code` is the peer's close code, 1006 when
    // there was none; `reason` its close reason or the error.
    std::function<void(int code, const std::string& reason)> on_closed;
  };

  // Takes a reference to conn. Create, use and destroy on the thread that
  // runs ctx (libsoup attaches its timers to the thread-default context).
  WebSocket(GMainContext* ctx, SoupWebsocketConnection* conn);
  ~WebSocket();  // closes with 1001 if still open; no callback runs afterwards
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // Callbacks may destroy the WebSocket.
  void set_callbacks(Callbacks callbacks);
  // Queued; dropped (false) when the connection is not open.
  bool send_text(std::string_view text);
  // Orderly close: close frame, then the socket (libsoup waits up to 5 s for
  // the peer's close frame).
  void close(int code, const std::string& reason);
  // Drops the socket without a close frame (what a crashed peer looks like).
  void abort();
  bool open() const;
  // libsoup sends a ping every `seconds` (0 = never); the peer's pongs reach
  // on_pong.
  void set_keepalive_interval(unsigned seconds);
  // Frames larger than this make libsoup close the connection (1009).
  void set_max_incoming_payload_size(uint64_t bytes);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
