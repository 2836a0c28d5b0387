// The client half of JSON-RPC 2.0, whatever carries the frames: requests
// matched to their responses by id, per-call timeouts, notifications and
// unmatched errors from the server. WsClient (WebSocket) and rtcmeshbin's
// one-POST connection (frames on a data channel) both use it. Lives on one
// GMainContext thread.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/glib_util.h"
#include "signaling/json.h"
#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig::rpc {

struct Reply {
  enum class Status {
    kResult,   // `result` holds the server's result
    kError,    // `error` is the server's error response
    kTimeout,  // no response within the call's timeout (error.message says so)
    kClosed,   // not connected, or the connection ended before the response
  };
  Status status = Status::kClosed;
  Json result;
  Error error;  // code 0 for kTimeout/kClosed
  bool ok() const { return status == Status::kResult; }
};

class Calls {
 public:
  using ReplyFn = std::function<void(Reply)>;
  using NotificationFn = std::function<void(const std::string& method, const Json& params)>;
  using ErrorFn = std::function<void(const Error& error)>;
  // Sends one text frame; false when the transport is not open.
  using Send = std::function<bool(const std::string& text)>;

  explicit Calls(GMainContext* ctx) : ctx_(g_main_context_ref(ctx)) {}
  ~Calls();  // no callback runs afterwards
  Calls(const Calls&) = delete;
  Calls& operator=(const Calls&) = delete;

  NotificationFn on_notification;
  ErrorFn on_error;

  // Sends a request through `send` (null: not connected, `done` fails with
  // kClosed). `done` runs exactly once, later, never inside call(), unless
  // this is destroyed first. timeout_ms 0 = none. Returns the request id.
  int64_t call(const Send& send, const std::string& method, Json params, ReplyFn done,
               unsigned timeout_ms);
  // One frame from the server: responses, notifications, requests we do not
  // implement (answered -32601 through `send`). Callbacks may destroy this.
  void received(std::string_view text, const Send& send);
  // The transport is gone: every pending call fails with kClosed, now
  // (deferred = false) or from the loop.
  void fail_all(const std::string& why, bool deferred);
  // Runs fn from the loop, soon (callbacks never run inside the caller's call).
  void defer(std::function<void()> fn);
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    std::string method;
    ReplyFn done;
    SourceHandle timer;
  };
  void dispatch(const Item& item, const Send& send);
  void run_deferred();

  GMainContext* ctx_;
  std::map<int64_t, Pending> pending_;
  int64_t next_id_ = 1;
  std::vector<std::function<void()>> deferred_;
  SourceHandle deferred_timer_;
  // Expires when this is destroyed: checked after every user callback,
  // which may destroy it.
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

}  // namespace rtcmesh::sig::rpc
