// JSON-RPC 2.0 client over one WebSocket (libsoup 3): calls matched to their
// responses by id, notifications from the server, timeouts, liveness, and
// the same TLS options as HttpClient. rtcmeshbin's signaling connection.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "signaling/http/http.h"
#include "signaling/json.h"
#include "signaling/rpc/calls.h"
#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig {

class WsClient {
 public:
  struct Options {
    unsigned connect_timeout_s = 5;  // TCP + TLS + upgrade
    unsigned call_timeout_s = 10;    // default per call
    unsigned ping_interval_s = 5;    // WebSocket ping to the server; 0 = none
    // Nothing from the server (frame or pong) for this long: the connection
    // is dropped and on_closed reports it. 0 = never; needs ping_interval_s.
    unsigned peer_timeout_s = 15;
    std::string tls_ca_file;              // PEM bundle replacing the system CAs
    bool tls_insecure = false;            // accept any server certificate
    Headers headers;                      // added to the upgrade request (e.g. Authorization)
    uint64_t max_incoming = 1024 * 1024;  // larger frames close the connection
  };

  using Reply = rpc::Reply;
  using ReplyFn = std::function<void(Reply)>;
  using ConnectFn = std::function<void(bool ok, const std::string& error)>;
  // A notification from the server ("peer-joined", "offer", …).
  using NotificationFn = std::function<void(const std::string& method, const Json& params)>;
  // An error response we cannot match to a call (id null: the server could
  // not read one of our frames).
  using ErrorFn = std::function<void(const rpc::Error& error)>;
  // The open connection ended without close() (server closed it, network
  // error, no answer for peer_timeout_s). `code` 1006 when there was no close
  // frame.
  using ClosedFn = std::function<void(int code, const std::string& reason)>;

  // Construct, use and destroy on the thread that runs ctx, with ctx its
  // thread-default context (libsoup attaches the socket's sources to it).
  // Throws std::runtime_error when tls_ca_file cannot be loaded,
  // std::invalid_argument when peer_timeout_s is not above ping_interval_s.
  WsClient(GMainContext* ctx, Options options);
  ~WsClient();  // closes; no callback runs afterwards
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void set_notification_handler(NotificationFn fn);
  void set_error_handler(ErrorFn fn);
  void set_closed_handler(ClosedFn fn);

  // ws://, wss:// (http:// and https:// are taken as the same). `done` runs
  // later on ctx's thread, never from inside connect(). One connection per
  // client: connecting again first closes the current one.
  void connect(const std::string& url, ConnectFn done);
  bool connected() const;

  // Sends a request; `done` runs exactly once, later (never inside call()),
  // unless the client is destroyed first. timeout_ms 0 = call_timeout_s.
  // Returns the request id.
  int64_t call(const std::string& method, Json params, ReplyFn done, unsigned timeout_ms = 0);
  // A notification (no response). False when not connected.
  bool notify(const std::string& method, Json params);
  // Sends any text frame as is (tests: malformed input). False when not connected.
  bool send_raw(const std::string& text);

  // Orderly close; pending calls get kClosed (from the loop). on_closed does
  // not run.
  void close();
  // Drops the socket without a close frame, as a crash would; like close()
  // otherwise.
  void abort();

  size_t pending_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
