#include "signaling/http/http_server.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "signaling/glib_util.h"
#include "signaling/http/http_listener.h"
#include "signaling/log.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

// What Responders and per-message signal closures share with the server.
// `impl` is only read and written on the server's context thread; it is null
// once the server is gone, which turns late replies into no-ops.
struct Core {
  explicit Core(GMainContext* c) : ctx(g_main_context_ref(c)) {}
  ~Core() { g_main_context_unref(ctx); }
  GMainContext* ctx;
  std::atomic<HttpServer::Impl*> impl{nullptr};
};
using CorePtr = std::shared_ptr<Core>;

// Heap payload for g_signal_connect_data closures.
struct MsgData {
  CorePtr core;
  uint64_t id = 0;
};
void free_msg_data(gpointer data, GClosure*) {
  delete static_cast<MsgData*>(data);
}

// Drops a message reference from an idle callback: never inside one of the
// message's own signal emissions.
void unref_later(GMainContext* ctx, gpointer obj) {
  GSource* s = g_idle_source_new();
  g_source_set_callback(
      s, [](gpointer) { return G_SOURCE_REMOVE; }, obj, g_object_unref);
  g_source_attach(s, ctx);
  g_source_unref(s);
}

}  // namespace

struct HttpServer::Impl {
  struct Pending {
    SoupServerMessage* msg = nullptr;  // owned reference
    gulong finished_id = 0;
  };

  Impl(GMainContext* c, Options o) : core(std::make_shared<Core>(c)), opts(std::move(o)) {}

  struct WsEntry {
    Impl* impl;
    WebSocketHandler fn;
    std::string path;
  };

  CorePtr core;
  Options opts;
  SoupServer* server = nullptr;
  std::unique_ptr<HttpListener> listener;
  std::map<std::string, Handler> handlers;
  std::map<std::string, std::unique_ptr<WsEntry>> ws_handlers;
  std::unordered_map<uint64_t, Pending> pending;
  uint64_t next_id = 1;
  bool listening = false;
  unsigned bound_port = 0;

  void set_phase(SoupServerMessage* msg, HttpListener::Phase phase) {
    if (listener) listener->set_phase(soup_server_message_get_remote_address(msg), phase);
  }

  void apply(SoupServerMessage* msg, const HttpResponse& r) {
    SoupMessageHeaders* h = soup_server_message_get_response_headers(msg);
    for (const auto& [name, value] : r.headers.items())
      soup_message_headers_append(h, name.c_str(), value.c_str());
    for (const auto& [name, value] : opts.extra_headers.items())
      if (!r.headers.has(name)) soup_message_headers_append(h, name.c_str(), value.c_str());
    bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    // Ours replaces what libsoup wrote meanwhile (the 400 page of a failed
    // WebSocket handshake, for a plain request under a WebSocket path).
    soup_message_body_truncate(soup_server_message_get_response_body(msg));
    soup_message_headers_remove(h, "Content-Type");
    if (!no_body && (!r.body.empty() || !r.content_type.empty())) {
      soup_server_message_set_response(
          msg, r.content_type.empty() ? "application/octet-stream" : r.content_type.c_str(),
          SOUP_MEMORY_COPY, r.body.data(), r.body.size());
    }
    soup_server_message_set_status(msg, static_cast<guint>(r.status),
                                   r.reason.empty() ? nullptr : r.reason.c_str());
  }

  // 413 before the handler runs; the rest of the body is drained unstored and
  // the connection closed afterwards.
  void reject_too_large(SoupServerMessage* msg, size_t size, bool declared) {
    SoupMessageBody* body = soup_server_message_get_request_body(msg);
    soup_message_body_set_accumulate(body, FALSE);
    soup_message_body_truncate(body);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
    GST_INFO("rejecting %s %s: body of %s%zu bytes over the %zu byte limit",
             soup_server_message_get_method(msg), g_uri_get_path(soup_server_message_get_uri(msg)),
             declared ? "" : "at least ", size, opts.max_body);
    apply(msg, HttpResponse::error(413, "request body too large (limit " +
                                            std::to_string(opts.max_body) + " bytes)"));
  }

  const Handler* find_handler(std::string_view path) const {
    const Handler* best = nullptr;
    size_t best_len = 0;
    for (const auto& [prefix, fn] : handlers) {
      bool match = path.substr(0, prefix.size()) == prefix &&
                   (path.size() == prefix.size() || prefix.empty() || prefix.back() == '/' ||
                    path[prefix.size()] == '/');
      if (match && (best == nullptr || prefix.size() >= best_len)) {
        best = &fn;
        best_len = prefix.size();
      }
    }
    return best;
  }

  static HttpRequest to_request(SoupServerMessage* msg) {
    HttpRequest req;
    req.method = soup_server_message_get_method(msg);
    GUri* uri = soup_server_message_get_uri(msg);
    req.path = g_uri_get_path(uri);
    if (const char* q = g_uri_get_query(uri)) req.query = q;
    soup_message_headers_foreach(
        soup_server_message_get_request_headers(msg),
        [](const char* name, const char* value, gpointer data) {
          static_cast<Headers*>(data)->add(name, value);
        },
        &req.headers);
    SoupMessageBody* body = soup_server_message_get_request_body(msg);
    if (body && body->length > 0) {
      GBytes* bytes = soup_message_body_flatten(body);
      gsize len = 0;
      const auto* data = static_cast<const char*>(g_bytes_get_data(bytes, &len));
      req.body.assign(data, len);
      g_bytes_unref(bytes);
    }
    if (const char* host = soup_server_message_get_remote_host(msg)) req.remote_address = host;
    return req;
  }

  void handle(SoupServerMessage* msg) {
    HttpRequest req = to_request(msg);
    GST_DEBUG("%s %s from %s", req.method.c_str(), req.path.c_str(), req.remote_address.c_str());
    const Handler* fn = find_handler(req.path);
    if (!fn) {
      apply(msg, HttpResponse::error(404, "nothing is served at " + req.path));
      return;
    }
    uint64_t id = next_id++;
    soup_server_message_pause(msg);
    Pending p;
    p.msg = SOUP_SERVER_MESSAGE(g_object_ref(msg));
    p.finished_id =
        g_signal_connect_data(msg, "finished", G_CALLBACK(+[](SoupServerMessage*, gpointer data) {
                                auto* d = static_cast<MsgData*>(data);
                                if (auto* impl = d->core->impl.load()) impl->forget(d->id);
                              }),
                              new MsgData{core, id}, free_msg_data, GConnectFlags(0));
    pending.emplace(id, p);
    Responder responder = make_responder(id);
    try {
      (*fn)(req, responder);
    } catch (const std::exception& e) {
      GST_ERROR("handler for %s %s threw: %s", req.method.c_str(), req.path.c_str(), e.what());
      responder(HttpResponse::error(500, std::string("internal error: ") + e.what()));
    } catch (...) {
      GST_ERROR("handler for %s %s threw", req.method.c_str(), req.path.c_str());
      responder(HttpResponse::error(500, "internal error"));
    }
  }

  // A Responder that is dropped without a reply answers 500 so the client is
  // not left hanging.
  Responder make_responder(uint64_t id) {
    struct Slot {
      CorePtr core;
      uint64_t id;
      std::atomic<bool> used{false};
      void send(HttpResponse r) {
        if (used.exchange(true)) {
          GST_WARNING("request %" G_GUINT64_FORMAT " answered twice; ignoring the second", id);
          return;
        }
        post_to_context(core->ctx, [core = core, id = id, r = std::move(r)]() mutable {
          if (auto* impl = core->impl.load()) impl->reply(id, r);
        });
      }
      ~Slot() {
        if (!used.load()) send(HttpResponse::error(500, "the request was dropped unanswered"));
      }
    };
    auto slot = std::make_shared<Slot>();
    slot->core = core;
    slot->id = id;
    return [slot](HttpResponse r) { slot->send(std::move(r)); };
  }

  void reply(uint64_t id, const HttpResponse& r) {
    auto it = pending.find(id);
    if (it == pending.end()) {
      GST_DEBUG("reply to request %" G_GUINT64_FORMAT " dropped: client gone or server stopped",
                id);
      return;
    }
    Pending p = it->second;
    pending.erase(it);
    g_signal_handler_disconnect(p.msg, p.finished_id);
    apply(p.msg, r);
    soup_server_message_unpause(p.msg);
    g_object_unref(p.msg);
  }

  void forget(uint64_t id) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    GST_DEBUG("request %" G_GUINT64_FORMAT " finished before its reply", id);
    Pending p = it->second;
    pending.erase(it);
    g_signal_handler_disconnect(p.msg, p.finished_id);
    unref_later(core->ctx, p.msg);
  }

  void drop_pending() {
    auto all = std::move(pending);
    pending.clear();
    for (auto& [id, p] : all) {
      g_signal_handler_disconnect(p.msg, p.finished_id);
      unref_later(core->ctx, p.msg);
    }
  }
};

namespace {

void on_request(SoupServer*, SoupServerMessage* msg, const char*, GHashTable*, gpointer data) {
  auto* impl = static_cast<HttpServer::Impl*>(data);
  try {
    impl->handle(msg);
  } catch (const std::exception& e) {
    GST_ERROR("request failed: %s", e.what());
    soup_server_message_set_status(msg, 500, nullptr);
  } catch (...) {
    soup_server_message_set_status(msg, 500, nullptr);
  }
}

// Plain requests under a WebSocket path (POST /rtc/<room>): libsoup picks
// the path's handler before the default one, so they are passed on here
// when a plain handler was added at or under that path; upgrades, and
// requests nothing else takes, are left to libsoup's WebSocket handshake
// (400 for a plain request).
void on_request_beside_ws(SoupServer* server, SoupServerMessage* msg, const char* path,
                          GHashTable* query, gpointer data) {
  auto* entry = static_cast<HttpServer::Impl::WsEntry*>(data);
  const char* upgrade =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Upgrade");
  if (upgrade && g_ascii_strcasecmp(upgrade, "websocket") == 0) return;
  bool served = false;
  for (const auto& [prefix, fn] : entry->impl->handlers)
    served |= prefix.rfind(entry->path, 0) == 0 && std::string_view(path).rfind(prefix, 0) == 0;
  // libsoup then answers it as a failed handshake (a 400 page); ours
  // replaces that (apply).
  if (served) on_request(server, msg, path, query, entry->impl);
}

void on_websocket(SoupServer*, SoupServerMessage* msg, const char*, SoupWebsocketConnection* conn,
                  gpointer data) {
  auto* entry = static_cast<HttpServer::Impl::WsEntry*>(data);
  guarded("WebSocket handler", [&] {
    HttpRequest req = HttpServer::Impl::to_request(msg);
    GST_DEBUG("WebSocket %s from %s", req.path.c_str(), req.remote_address.c_str());
    entry->impl->set_phase(msg, HttpListener::Phase::kUpgraded);
    // Each complete message (or pong) restarts its byte budget.
    struct Upgraded {
      CorePtr core;
      GSocketAddress* remote;
      void done() const {
        if (auto* impl = core->impl.load(); impl && impl->listener)
          impl->listener->set_phase(remote, HttpListener::Phase::kUpgraded);
      }
      static void on_message(SoupWebsocketConnection*, gint, GBytes*, gpointer data) {
        static_cast<Upgraded*>(data)->done();
      }
      static void on_pong(SoupWebsocketConnection*, GBytes*, gpointer data) {
        static_cast<Upgraded*>(data)->done();
      }
    };
    auto* u = new Upgraded{entry->impl->core, G_SOCKET_ADDRESS(g_object_ref(
                                                  soup_server_message_get_remote_address(msg)))};
    auto free_upgraded = [](gpointer data, GClosure*) {
      auto* u = static_cast<Upgraded*>(data);
      g_object_unref(u->remote);
      delete u;
    };
    g_signal_connect_data(conn, "message", G_CALLBACK(Upgraded::on_message), u, nullptr,
                          GConnectFlags(G_CONNECT_AFTER));
    g_signal_connect_data(conn, "pong", G_CALLBACK(Upgraded::on_pong), u, free_upgraded,
                          GConnectFlags(G_CONNECT_AFTER));
    auto ws = std::make_unique<WebSocket>(entry->impl->core->ctx, conn);
    entry->fn(std::move(ws), req);
  });
}

void on_early(SoupServer*, SoupServerMessage* msg, const char*, GHashTable*, gpointer data) {
  auto* impl = static_cast<HttpServer::Impl*>(data);
  SoupMessageHeaders* h = soup_server_message_get_request_headers(msg);
  if (soup_message_headers_get_encoding(h) != SOUP_ENCODING_CONTENT_LENGTH) return;
  goffset len = soup_message_headers_get_content_length(h);
  if (len > 0 && static_cast<guint64>(len) > impl->opts.max_body)
    impl->reject_too_large(msg, static_cast<size_t>(len), true);
}

void on_got_chunk(SoupServerMessage* msg, GBytes*, gpointer data) {
  auto* d = static_cast<MsgData*>(data);
  auto* impl = d->core->impl.load();
  if (!impl || soup_server_message_get_status(msg) != 0) return;
  SoupMessageBody* body = soup_server_message_get_request_body(msg);
  if (body && static_cast<size_t>(body->length) > impl->opts.max_body)
    impl->reject_too_large(msg, static_cast<size_t>(body->length), false);
}

// Two different Content-Length values: libsoup would wait for the last one's
// bytes (request smuggling territory, RFC 9112 6.3): 400 at once.
void refuse_conflicting_lengths(HttpServer::Impl& impl, SoupServerMessage* msg) {
  std::vector<std::string> lengths;
  soup_message_headers_foreach(
      soup_server_message_get_request_headers(msg),
      [](const char* name, const char* value, gpointer data) {
        if (g_ascii_strcasecmp(name, "Content-Length") == 0)
          static_cast<std::vector<std::string>*>(data)->push_back(value);
      },
      &lengths);
  if (!impl.listener ||
      std::adjacent_find(lengths.begin(), lengths.end(), std::not_equal_to<>()) == lengths.end())
    return;
  GST_INFO("refusing a request with conflicting Content-Length headers");
  std::string body = "conflicting Content-Length headers\n";
  std::string head = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n";
  for (const auto& [name, value] : impl.opts.extra_headers.items())
    head += name + ": " + value + "\r\n";
  impl.listener->refuse(soup_server_message_get_remote_address(msg),
                        head + "Content-Type: text/plain\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body);
}

// A connection's phases, for its timeouts (HttpListener).
void on_got_headers(SoupServerMessage* msg, gpointer data) {
  auto* impl = static_cast<MsgData*>(data)->core->impl.load();
  if (!impl) return;
  // One request per connection, except WebSocket upgrades: libsoup 3.2 never
  // closes a keep-alive connection that the client closes while it is idle.
  if (!soup_message_headers_header_contains(soup_server_message_get_request_headers(msg),
                                            "Connection", "upgrade"))
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
  impl->set_phase(msg, HttpListener::Phase::kBody);
  refuse_conflicting_lengths(*impl, msg);
}

void on_got_body(SoupServerMessage* msg, gpointer data) {
  if (auto* impl = static_cast<MsgData*>(data)->core->impl.load())
    impl->set_phase(msg, HttpListener::Phase::kHandling);
}

void on_wrote_headers(SoupServerMessage* msg, gpointer data) {
  if (auto* impl = static_cast<MsgData*>(data)->core->impl.load())
    impl->set_phase(msg, HttpListener::Phase::kWriting);
}

void on_finished(SoupServerMessage* msg, gpointer data) {
  if (auto* impl = static_cast<MsgData*>(data)->core->impl.load())
    impl->set_phase(msg, HttpListener::Phase::kIdle);
}

void on_request_started(SoupServer*, SoupServerMessage* msg, gpointer data) {
  auto* impl = static_cast<HttpServer::Impl*>(data);
  auto connect = [&](const char* signal, GCallback fn) {
    g_signal_connect_data(msg, signal, fn, new MsgData{impl->core, 0}, free_msg_data,
                          GConnectFlags(0));
  };
  // Chunked bodies have no Content-Length: count while they arrive.
  connect("got-chunk", G_CALLBACK(on_got_chunk));
  connect("got-headers", G_CALLBACK(on_got_headers));
  connect("got-body", G_CALLBACK(on_got_body));
  connect("wrote-headers", G_CALLBACK(on_wrote_headers));
  connect("finished", G_CALLBACK(on_finished));
}

}  // namespace

HttpServer::HttpServer(GMainContext* ctx, Options options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {
  init_debug();
  ScopedContext scope(ctx);
  impl_->server = soup_server_new("server-header", "rtcmesh ", nullptr);
  impl_->core->impl = impl_.get();
  soup_server_add_handler(impl_->server, nullptr, on_request, impl_.get(), nullptr);
  soup_server_add_early_handler(impl_->server, nullptr, on_early, impl_.get(), nullptr);
  g_signal_connect(impl_->server, "request-started", G_CALLBACK(on_request_started), impl_.get());
  soup_server_remove_websocket_extension(impl_->server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
}

HttpServer::~HttpServer() {
  ScopedContext scope(impl_->core->ctx);
  stop();
  impl_->core->impl = nullptr;
  g_signal_handlers_disconnect_by_data(impl_->server, impl_.get());
  soup_server_remove_handler(impl_->server, nullptr);
  for (const auto& [path, entry] : impl_->ws_handlers)
    soup_server_remove_handler(impl_->server, path.c_str());
  impl_->ws_handlers.clear();
  g_object_unref(impl_->server);
}

void HttpServer::add_handler(std::string path_prefix, Handler fn) {
  impl_->handlers[std::move(path_prefix)] = std::move(fn);
}

void HttpServer::add_websocket_handler(std::string path, WebSocketHandler fn) {
  remove_websocket_handler(path);
  auto entry = std::make_unique<Impl::WsEntry>(Impl::WsEntry{impl_.get(), std::move(fn), path});
  soup_server_add_websocket_handler(impl_->server, path.c_str(), nullptr, nullptr, on_websocket,
                                    entry.get(), nullptr);
  soup_server_add_handler(impl_->server, path.c_str(), on_request_beside_ws, entry.get(), nullptr);
  impl_->ws_handlers[std::move(path)] = std::move(entry);
}

void HttpServer::remove_websocket_handler(const std::string& path) {
  auto it = impl_->ws_handlers.find(path);
  if (it == impl_->ws_handlers.end()) return;
  soup_server_remove_handler(impl_->server, path.c_str());
  impl_->ws_handlers.erase(it);
}

void HttpServer::start() {
  if (impl_->listening) return;
  ScopedContext scope(impl_->core->ctx);
  const Options& o = impl_->opts;
  std::string where = (o.address.empty() ? "0.0.0.0" : o.address) + ":" + std::to_string(o.port);
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("cannot listen on " + where + ": " + why);
  };
  if (o.port > 65535) fail("port out of range");
  bool tls = !o.tls_certificate.empty() || !o.tls_key.empty();
  GTlsCertificate* cert = nullptr;
  if (tls) {
    if (o.tls_certificate.empty() || o.tls_key.empty())
      fail("TLS needs both a certificate and a key file");
    GError* err = nullptr;
    cert = g_tls_certificate_new_from_files(o.tls_certificate.c_str(), o.tls_key.c_str(), &err);
    if (!cert) {
      std::string why = std::string("cannot load TLS certificate ") + o.tls_certificate +
                        " / key " + o.tls_key + ": " + err->message;
      g_error_free(err);
      fail(why);
    }
  }
  std::string addr = o.address.empty() ? "0.0.0.0" : o.address;
  if (addr == "localhost") addr = "127.0.0.1";
  GInetAddress* inet = g_inet_address_new_from_string(addr.c_str());
  if (!inet) {
    g_clear_object(&cert);
    fail("not an IP address");
  }
  GSocketAddress* sa = g_inet_socket_address_new(inet, static_cast<guint16>(o.port));
  g_object_unref(inet);
  raise_fd_limit();
  // Our own accept loop (HttpListener says why); libsoup serves each connection.
  auto listener = std::make_unique<HttpListener>(
      impl_->core->ctx, o.limits, cert,
      [server = impl_->server](GIOStream* stream, GSocketAddress* local, GSocketAddress* remote) {
        soup_server_accept_iostream(server, stream, local, remote, nullptr);
      });
  g_clear_object(&cert);
  try {
    listener->listen(sa);
  } catch (const std::exception& e) {
    g_object_unref(sa);
    fail(e.what());
  }
  g_object_unref(sa);
  impl_->listener = std::move(listener);
  impl_->listening = true;
  impl_->bound_port = impl_->listener->port();
  GST_INFO("listening on %s", base_url().c_str());
}

unsigned HttpServer::port() const {
  return impl_->bound_port;
}

std::string HttpServer::base_url() const {
  const std::string& a = impl_->opts.address;
  std::string host;
  if (a.empty() || a == "0.0.0.0" || a == "localhost")
    host = "127.0.0.1";
  else if (a == "::")
    host = "[::1]";
  else if (a.find(':') != std::string::npos)
    host = "[" + a + "]";
  else
    host = a;
  bool tls = !impl_->opts.tls_certificate.empty();
  return std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(port());
}

void HttpServer::stop() {
  ScopedContext scope(impl_->core->ctx);
  if (impl_->listening) GST_INFO("stopping %s", base_url().c_str());
  impl_->listening = false;
  // Forget pending requests first: their Responders become no-ops and no
  // paused message is unpaused on a closed connection.
  impl_->drop_pending();
  impl_->listener.reset();
  soup_server_disconnect(impl_->server);
}

bool HttpServer::running() const {
  return impl_->listening;
}

size_t HttpServer::pending_count() const {
  return impl_->pending.size();
}

size_t HttpServer::connection_count() const {
  return impl_->listener ? impl_->listener->connections() : 0;
}

}  // namespace rtcmesh::sig
