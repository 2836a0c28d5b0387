#include "signaling/http/ws_client.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <map>
#include <stdexcept>
#include <vector>

#include "signaling/glib_util.h"
#include "signaling/http/http_client.h"
#include "signaling/log.h"
#include "signaling/http/websocket.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

// One soup_session_websocket_connect_async in flight. Outlives the client if
// needed: `impl` is cleared when the client stops caring.
struct ConnectOp {
  WsClient::Impl* impl = nullptr;
  GCancellable* cancellable = g_cancellable_new();
  std::string url;
  std::string abort_reason;
  ~ConnectOp() { g_object_unref(cancellable); }
};

}  // namespace

struct WsClient::Impl {
  Impl(GMainContext* c, Options o) : ctx(g_main_context_ref(c)), opts(std::move(o)), calls(c) {
    send = [this](const std::string& text) { return ws && ws->send_text(text); };
  }
  ~Impl() {
    if (session) g_object_unref(session);
    g_main_context_unref(ctx);
  }

  GMainContext* ctx;
  Options opts;
  SoupSession* session = nullptr;
  std::unique_ptr<WebSocket> ws;
  ConnectOp* connecting = nullptr;
  ConnectFn connect_done;
  SourceHandle connect_timer;
  rpc::Calls calls;  // pending calls, notifications
  rpc::Calls::Send send;
  ClosedFn on_closed;
  gint64 last_seen_us = 0;
  SourceHandle liveness_timer;
  // Expires when the client is destroyed: checked after every user callback,
  // which may destroy it.
  std::shared_ptr<int> life = std::make_shared<int>(0);

  void defer(std::function<void()> fn) { calls.defer(std::move(fn)); }

  // --- connecting ---

  void cancel_connect(bool notify_done) {
    if (!connecting) return;
    connecting->impl = nullptr;
    g_cancellable_cancel(connecting->cancellable);  // its callback deletes it
    connecting = nullptr;
    connect_timer.reset();
    ConnectFn done = std::move(connect_done);
    connect_done = nullptr;
    if (notify_done && done)
      defer([done] { done(false, "closed before the connection was made"); });
  }

  static void on_connected(GObject* source, GAsyncResult* res, gpointer data) {
    auto* op = static_cast<ConnectOp*>(data);
    GError* err = nullptr;
    SoupWebsocketConnection* conn =
        soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &err);
    Impl* self = op->impl;
    if (self) {
      guarded("WsClient connect", [&] { self->connected(op, conn, err); });
    }
    if (conn) g_object_unref(conn);
    g_clear_error(&err);
    delete op;
  }

  void connected(ConnectOp* op, SoupWebsocketConnection* conn, GError* err) {
    connecting = nullptr;
    connect_timer.reset();
    ConnectFn done = std::move(connect_done);
    connect_done = nullptr;
    if (!conn) {
      std::string why = !op->abort_reason.empty() ? op->abort_reason
                        : err                     ? std::string(err->message)
                                                  : "unknown error";
      GST_INFO("WebSocket %s: %s", op->url.c_str(), why.c_str());
      if (done) done(false, "cannot connect to " + op->url + ": " + why);
      return;
    }
    GST_INFO("WebSocket connected to %s", op->url.c_str());
    ws = std::make_unique<WebSocket>(ctx, conn);
    ws->set_max_incoming_payload_size(opts.max_incoming);
    ws->set_keepalive_interval(opts.ping_interval_s);
    WebSocket::Callbacks cb;
    cb.on_text = [this](std::string_view text) { received(text); };
    cb.on_pong = [this] { last_seen_us = g_get_monotonic_time(); };
    cb.on_closed = [this](int code, const std::string& reason) { lost(code, reason); };
    ws->set_callbacks(std::move(cb));
    last_seen_us = g_get_monotonic_time();
    if (opts.peer_timeout_s > 0 && opts.ping_interval_s > 0) arm_liveness();
    if (done) done(true, "");
  }

  void arm_liveness() {
    unsigned period_ms = std::min(1000u, opts.peer_timeout_s * 250);
    liveness_timer = add_timer(ctx, period_ms, [this] {
      liveness_timer.reset();
      if (!ws) return;
      gint64 silent_us = g_get_monotonic_time() - last_seen_us;
      if (silent_us > gint64(opts.peer_timeout_s) * G_USEC_PER_SEC) {
        GST_WARNING("no frame or pong from the server for %u s; dropping the connection",
                    opts.peer_timeout_s);
        ws->abort();
        lost(1006, "no answer from the server for " + std::to_string(opts.peer_timeout_s) + " s");
        return;
      }
      arm_liveness();
    });
  }

  // --- the open connection ---

  // The connection ended without close(): fail the calls, then tell the user.
  void lost(int code, const std::string& reason) {
    if (!ws) return;
    GST_INFO("WebSocket closed: %d %s", code, reason.c_str());
    auto dead = std::move(ws);  // destroyed on return (allowed inside its callback)
    liveness_timer.reset();
    std::weak_ptr<int> alive = life;
    calls.fail_all("the connection closed (" + std::to_string(code) + " " + reason + ")", false);
    if (alive.expired()) return;
    ClosedFn fn = on_closed;
    if (fn) guarded("WsClient closed handler", [&] { fn(code, reason); });
  }

  void received(std::string_view text) {
    last_seen_us = g_get_monotonic_time();
    calls.received(text, send);
  }

  // close()/abort(): no on_closed; pending calls fail from the loop.
  void shut(bool abrupt) {
    cancel_connect(true);
    liveness_timer.reset();
    if (ws) {
      if (abrupt)
        ws->abort();
      else
        ws->close(1000, "bye");
      ws.reset();
    }
    calls.fail_all("the client closed", true);
  }
};

WsClient::WsClient(GMainContext* ctx, Options options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {
  init_debug();
  const Options& o = impl_->opts;
  if (o.peer_timeout_s > 0 && o.ping_interval_s > 0 && o.peer_timeout_s <= o.ping_interval_s)
    throw std::invalid_argument("peer-timeout (" + std::to_string(o.peer_timeout_s) +
                                " s) must be longer than the ping interval (" +
                                std::to_string(o.ping_interval_s) + " s)");
  ScopedContext scope(ctx);
  impl_->session = soup_session_new_with_options("user-agent", "rtcmesh/0.1 ", nullptr);
  // No permessage-deflate: a small compressed frame could inflate past every limit.
  soup_session_remove_feature_by_type(impl_->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  if (!impl_->opts.tls_ca_file.empty()) use_tls_ca_file(impl_->session, impl_->opts.tls_ca_file);
}

WsClient::~WsClient() {
  ScopedContext scope(impl_->ctx);
  impl_->life.reset();
  impl_->cancel_connect(false);
  impl_->liveness_timer.reset();
  impl_->ws.reset();  // closes with 1001
}

void WsClient::set_notification_handler(NotificationFn fn) {
  impl_->calls.on_notification = std::move(fn);
}

void WsClient::set_error_handler(ErrorFn fn) {
  impl_->calls.on_error = std::move(fn);
}

void WsClient::set_closed_handler(ClosedFn fn) {
  impl_->on_closed = std::move(fn);
}

void WsClient::connect(const std::string& url, ConnectFn done) {
  Impl* impl = impl_.get();
  impl->shut(false);
  std::string http_url = url;
  if (http_url.rfind("ws://", 0) == 0)
    http_url = "http://" + http_url.substr(5);
  else if (http_url.rfind("wss://", 0) == 0)
    http_url = "https://" + http_url.substr(6);
  GError* err = nullptr;
  GUri* uri = g_uri_parse(http_url.c_str(), static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS), &err);
  const char* scheme = uri ? g_uri_get_scheme(uri) : nullptr;
  const char* host = uri ? g_uri_get_host(uri) : nullptr;
  if (!uri || !scheme || !host || !*host ||
      (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0)) {
    std::string why = "invalid WebSocket URL '" + url + "'" +
                      (err ? std::string(": ") + err->message : std::string());
    g_clear_error(&err);
    if (uri) g_uri_unref(uri);
    impl->defer([done, why] {
      if (done) done(false, why);
    });
    return;
  }
  ScopedContext scope(impl->ctx);
  SoupMessage* msg = soup_message_new_from_uri("GET", uri);
  g_uri_unref(uri);
  SoupMessageHeaders* h = soup_message_get_request_headers(msg);
  for (const auto& [name, value] : impl->opts.headers.items())
    soup_message_headers_append(h, name.c_str(), value.c_str());
  if (impl->opts.tls_insecure) {
    g_signal_connect(msg, "accept-certificate",
                     G_CALLBACK(+[](SoupMessage*, GTlsCertificate*, GTlsCertificateFlags,
                                    gpointer) -> gboolean { return TRUE; }),
                     nullptr);
  }
  auto* op = new ConnectOp;
  op->impl = impl;
  op->url = url;
  impl->connecting = op;
  impl->connect_done = std::move(done);
  if (impl->opts.connect_timeout_s > 0) {
    impl->connect_timer = add_timer(impl->ctx, impl->opts.connect_timeout_s * 1000, [impl, op] {
      impl->connect_timer.reset();
      op->abort_reason =
          "could not connect within " + std::to_string(impl->opts.connect_timeout_s) + " s";
      g_cancellable_cancel(op->cancellable);
    });
  }
  GST_DEBUG("WebSocket connecting to %s", url.c_str());
  soup_session_websocket_connect_async(impl->session, msg, nullptr, nullptr, G_PRIORITY_DEFAULT,
                                       op->cancellable, Impl::on_connected, op);
  g_object_unref(msg);
}

bool WsClient::connected() const {
  return impl_->ws && impl_->ws->open();
}

int64_t WsClient::call(const std::string& method, Json params, ReplyFn done, unsigned timeout_ms) {
  Impl* impl = impl_.get();
  unsigned ms = timeout_ms ? timeout_ms : impl->opts.call_timeout_s * 1000;
  return impl->calls.call(connected() ? impl->send : rpc::Calls::Send(), method,
                          std::move(params), std::move(done), ms);
}

bool WsClient::notify(const std::string& method, Json params) {
  if (!connected()) return false;
  return impl_->ws->send_text(rpc::notification(method, std::move(params)));
}

bool WsClient::send_raw(const std::string& text) {
  if (!connected()) return false;
  return impl_->ws->send_text(text);
}

void WsClient::close() {
  impl_->shut(false);
}

void WsClient::abort() {
  impl_->shut(true);
}

size_t WsClient::pending_count() const {
  return impl_->calls.pending();
}

}  // namespace rtcmesh::sig
