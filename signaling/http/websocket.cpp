#include "signaling/http/websocket.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "signaling/glib_util.h"
#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

struct WebSocket::Impl : std::enable_shared_from_this<WebSocket::Impl> {
  GMainContext* ctx = nullptr;
  SoupWebsocketConnection* conn = nullptr;
  std::shared_ptr<Callbacks> callbacks = std::make_shared<Callbacks>();
  bool connected_signals = false;
  bool closed_reported = false;
  bool aborted = false;
  std::string last_error;
  SourceHandle deferred_close;

  ~Impl() {
    disconnect();
    if (conn) g_object_unref(conn);
    if (ctx) g_main_context_unref(ctx);
  }

  void disconnect() {
    if (connected_signals && conn) g_signal_handlers_disconnect_by_data(conn, this);
    connected_signals = false;
  }

  // Runs once; the callbacks are copied first since the callback may destroy
  // the WebSocket (and with it this Impl's callbacks member).
  void report_closed(int code, const std::string& reason) {
    if (closed_reported) return;
    closed_reported = true;
    disconnect();
    auto cbs = callbacks;
    if (cbs->on_closed) cbs->on_closed(code, reason);
  }

  static void on_message(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    guarded("WebSocket message", [&] {
      gsize len = 0;
      const char* p = static_cast<const char*>(g_bytes_get_data(message, &len));
      auto cbs = self->callbacks;
      if (type == SOUP_WEBSOCKET_DATA_TEXT) {
        if (cbs->on_text) cbs->on_text(std::string_view(p ? p : "", len));
      } else if (cbs->on_binary) {
        cbs->on_binary(len);
      } else {
        GST_INFO("closing a WebSocket that sent a binary frame (%zu bytes)",
                 static_cast<size_t>(len));
        ScopedContext scope(self->ctx);
        soup_websocket_connection_close(self->conn, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
                                        "binary frames are not supported");
      }
    });
  }

  static void on_pong(SoupWebsocketConnection*, GBytes*, gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    guarded("WebSocket pong", [&] {
      auto cbs = self->callbacks;
      if (cbs->on_pong) cbs->on_pong();
    });
  }

  static void on_error(SoupWebsocketConnection*, GError* error, gpointer data) {
    auto* self = static_cast<Impl*>(data);
    if (error) self->last_error = error->message;
    GST_DEBUG("WebSocket error: %s", error ? error->message : "?");
  }

  static void on_closed(SoupWebsocketConnection* conn, gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    guarded("WebSocket closed", [&] {
      int code = soup_websocket_connection_get_close_code(conn);
      const char* close_data = soup_websocket_connection_get_close_data(conn);
      std::string reason = close_data && *close_data ? close_data : self->last_error;
      if (code == 0) code = SOUP_WEBSOCKET_CLOSE_ABNORMAL;
      if (reason.empty()) reason = code == SOUP_WEBSOCKET_CLOSE_ABNORMAL ? "connection lost" : "";
      self->report_closed(code, reason);
    });
  }
};

WebSocket::WebSocket(GMainContext* ctx, SoupWebsocketConnection* conn)
    : impl_(std::make_shared<Impl>()) {
  init_debug();
  impl_->ctx = g_main_context_ref(ctx);
  impl_->conn = SOUP_WEBSOCKET_CONNECTION(g_object_ref(conn));
  Impl* raw = impl_.get();
  g_signal_connect(conn, "message", G_CALLBACK(Impl::on_message), raw);
  g_signal_connect(conn, "pong", G_CALLBACK(Impl::on_pong), raw);
  g_signal_connect(conn, "error", G_CALLBACK(Impl::on_error), raw);
  g_signal_connect(conn, "closed", G_CALLBACK(Impl::on_closed), raw);
  impl_->connected_signals = true;
  if (soup_websocket_connection_get_state(conn) == SOUP_WEBSOCKET_STATE_CLOSED) {
    // Already gone: report it from the loop like any other close.
    std::weak_ptr<Impl> weak = impl_;
    impl_->deferred_close = add_timer(ctx, 0, [weak] {
      if (auto self = weak.lock()) self->report_closed(SOUP_WEBSOCKET_CLOSE_ABNORMAL, "closed");
    });
  }
}

WebSocket::~WebSocket() {
  ScopedContext scope(impl_->ctx);
  impl_->deferred_close.reset();
  impl_->closed_reported = true;
  impl_->disconnect();
  // A running callback keeps its own copy of the old set alive.
  impl_->callbacks = std::make_shared<Callbacks>();
  if (soup_websocket_connection_get_state(impl_->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close(impl_->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "going away");
  // libsoup holds its own reference until the socket is closed.
}

void WebSocket::set_callbacks(Callbacks callbacks) {
  impl_->callbacks = std::make_shared<Callbacks>(std::move(callbacks));
}

bool WebSocket::send_text(std::string_view text) {
  if (!open()) return false;
  ScopedContext scope(impl_->ctx);
  GBytes* bytes = g_bytes_new(text.data(), text.size());
  soup_websocket_connection_send_message(impl_->conn, SOUP_WEBSOCKET_DATA_TEXT, bytes);
  g_bytes_unref(bytes);
  return true;
}

void WebSocket::close(int code, const std::string& reason) {
  if (!open()) return;
  ScopedContext scope(impl_->ctx);
  soup_websocket_connection_close(impl_->conn, static_cast<gushort>(code), reason.c_str());
}

void WebSocket::abort() {
  if (impl_->closed_reported || impl_->aborted) return;
  ScopedContext scope(impl_->ctx);
  impl_->disconnect();
  impl_->aborted = true;
  GIOStream* stream = soup_websocket_connection_get_io_stream(impl_->conn);
  if (stream) g_io_stream_close(stream, nullptr, nullptr);
  std::weak_ptr<Impl> weak = impl_;
  impl_->deferred_close = add_timer(impl_->ctx, 0, [weak] {
    if (auto self = weak.lock()) self->report_closed(SOUP_WEBSOCKET_CLOSE_ABNORMAL, "aborted");
  });
}

bool WebSocket::open() const {
  return !impl_->closed_reported && !impl_->aborted &&
         soup_websocket_connection_get_state(impl_->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

void WebSocket::set_keepalive_interval(unsigned seconds) {
  ScopedContext scope(impl_->ctx);
  soup_websocket_connection_set_keepalive_interval(impl_->conn, seconds);
}

void WebSocket::set_max_incoming_payload_size(uint64_t bytes) {
  soup_websocket_connection_set_max_incoming_payload_size(impl_->conn, bytes);
}

}  // namespace rtcmesh::sig
