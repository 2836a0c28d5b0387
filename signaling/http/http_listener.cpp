#include "signaling/http/http_listener.h"

#include <netinet/in.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_received (glibc's has none)
#include <sys/resource.h>

#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "signaling/glib_util.h"
#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

constexpr unsigned kSweepMs = 250;
constexpr unsigned kAcceptRetryMs = 250;  // while out of file descriptors
constexpr gint64 kForceCloseUs = 2 * G_USEC_PER_SEC;
constexpr int kBacklog = 1024;

gint64 now_us() {
  return g_get_monotonic_time();
}

const char* phase_name(HttpListener::Phase p) {
  switch (p) {
    case HttpListener::Phase::kRequest: return "request";
    case HttpListener::Phase::kBody: return "body";
    case HttpListener::Phase::kHandling: return "handling";
    case HttpListener::Phase::kWriting: return "writing";
    case HttpListener::Phase::kIdle: return "idle";
    case HttpListener::Phase::kUpgraded: return "upgraded";
  }
  return "?";
}

bool out_of_fds(const GError* e) {
  return g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
         g_error_matches(e, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
}

}  // namespace

struct HttpListener::Impl {
  struct Connection {
    GSocketConnection* tcp = nullptr;  // owned
    GIOStream* stream = nullptr;       // owned: tcp, or the TLS connection over it
    GSocketAddress* remote = nullptr;  // owned; the key
    Phase phase = Phase::kRequest;
    gint64 deadline_us = 0;   // 0 = none
    gint64 shut_down_us = 0;  // when we shut it down; closed for good kForceCloseUs later
    uint64_t upgraded_base = 0;  // bytes received when the last message completed
  };

  Impl(GMainContext* c, Limits l, GTlsCertificate* cert, Accept a)
      : ctx(g_main_context_ref(c)),
        limits(l),
        tls(cert ? G_TLS_CERTIFICATE(g_object_ref(cert)) : nullptr),
        accept(std::move(a)) {}

  ~Impl() {
    stop_watching();
    sweep.reset();
    if (socket) {
      g_socket_close(socket, nullptr);
      g_object_unref(socket);
    }
    for (auto& [key, c] : conns) release(c);
    if (tls) g_object_unref(tls);
    g_main_context_unref(ctx);
  }

  GMainContext* ctx;
  Limits limits;
  GTlsCertificate* tls;
  Accept accept;
  GSocket* socket = nullptr;
  SourceHandle watch;  // readable listening socket
  SourceHandle retry;  // accept again after running out of fds
  SourceHandle sweep;  // deadlines, every kSweepMs
  bool starved = false;  // out of fds, logged once per episode
  unsigned port = 0;
  std::unordered_map<GSocketAddress*, Connection> conns;

  static uint64_t bytes_received(const Connection& c) {
    struct tcp_info info {};
    socklen_t len = sizeof info;
    int fd = g_socket_get_fd(g_socket_connection_get_socket(c.tcp));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
      return 0;
    return info.tcpi_bytes_received;
  }

  static void release(Connection& c) {
    g_object_unref(c.stream);
    g_object_unref(c.tcp);
    g_object_unref(c.remote);
  }

  gint64 timeout_us(Phase p) const {
    unsigned ms = 0;
    switch (p) {
      case Phase::kRequest: ms = limits.request_ms; break;
      case Phase::kBody: ms = limits.body_ms; break;
      case Phase::kWriting: ms = limits.write_ms; break;
      case Phase::kIdle: ms = limits.idle_ms; break;
      case Phase::kHandling:  // the handler answers (or its Responder answers 500)
      case Phase::kUpgraded:  // WebSockets have their own pings
        return 0;
    }
    return ms ? gint64(ms) * 1000 : 0;
  }

  void set_phase(Connection& c, Phase p) {
    c.phase = p;
    if (p == Phase::kUpgraded) c.upgraded_base = bytes_received(c);
    gint64 t = timeout_us(p);
    c.deadline_us = t ? now_us() + t : 0;
  }

  void watch_socket() {
    watch.reset(g_socket_create_source(socket, G_IO_IN, nullptr));
    g_source_set_callback(
        watch.get(), G_SOURCE_FUNC(+[](GSocket*, GIOCondition, gpointer self) {
          static_cast<Impl*>(self)->accept_ready();
          return G_SOURCE_CONTINUE;
        }),
        this, nullptr);
    g_source_attach(watch.get(), ctx);
  }

  void stop_watching() {
    watch.reset();
    retry.reset();
  }

  // Out of file descriptors: stop polling the listening socket (it stays
  // readable, so polling would spin) and try again shortly; clients wait in
  // the backlog meanwhile.
  void pause_accepting() {
    stop_watching();
    retry = add_timer(ctx, kAcceptRetryMs, [this] {
      watch_socket();
      accept_ready();
    });
  }

  void accept_ready() {
    // Bounded per wake-up so a connection flood cannot starve the loop.
    for (int i = 0; i < 64 && watch; i++) {
      GError* err = nullptr;
      GSocket* s = g_socket_accept(socket, nullptr, &err);
      if (!s) {
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
          g_error_free(err);
          return;
        }
        if (out_of_fds(err)) {
          if (!starved) {
            g_message("rtcmesh: HTTP server on port %u is out of file descriptors (%s) with %zu "
                      "connections open; new connections wait until some close",
                      port, err->message, conns.size());
            GST_ERROR("out of file descriptors with %zu connections open: %s", conns.size(),
                      err->message);
          }
          starved = true;
        } else {
          GST_WARNING("accept failed: %s", err->message);
        }
        g_error_free(err);
        pause_accepting();
        return;
      }
      if (starved) {
        g_message("rtcmesh: HTTP server on port %u accepts connections again", port);
        GST_WARNING("accepting again (%zu connections open)", conns.size());
        starved = false;
      }
      adopt(s);
    }
  }

  void adopt(GSocket* s) {
    g_socket_set_option(s, IPPROTO_TCP, TCP_NODELAY, TRUE, nullptr);
    GSocketAddress* local = g_socket_get_local_address(s, nullptr);
    GSocketAddress* remote = g_socket_get_remote_address(s, nullptr);
    GSocketConnection* tcp = g_socket_connection_factory_create_connection(s);
    g_object_unref(s);
    GIOStream* stream = G_IO_STREAM(g_object_ref(tcp));
    if (tls && local && remote) {
      GError* err = nullptr;
      GIOStream* secure = g_tls_server_connection_new(stream, tls, &err);
      g_object_unref(stream);
      stream = secure;
      if (secure) g_object_set(secure, "require-close-notify", FALSE, nullptr);
      if (err) {
        GST_WARNING("TLS refused a connection: %s", err->message);
        g_error_free(err);
      }
    }
    if (!local || !remote || !stream) {
      g_io_stream_close(G_IO_STREAM(tcp), nullptr, nullptr);
      g_object_unref(tcp);
      g_clear_object(&stream);
      g_clear_object(&local);
      g_clear_object(&remote);
      return;
    }
    Connection c;
    c.tcp = tcp;
    c.stream = stream;
    c.remote = remote;
    set_phase(c, Phase::kRequest);
    conns.emplace(remote, c);
    accept(stream, local, remote);
    g_object_unref(local);
  }

  // Why a live connection must go now, or "".
  std::string overdue(const Connection& c, gint64 now) const {
    if (c.phase == Phase::kUpgraded && limits.upgraded_pending_bytes) {
      uint64_t pending = bytes_received(c) - c.upgraded_base;
      if (pending > limits.upgraded_pending_bytes)
        return "a WebSocket sent " + std::to_string(pending) +
               " bytes without completing a message";
    }
    if (c.deadline_us && now > c.deadline_us)
      return std::string("past its ") + phase_name(c.phase) + " timeout";
    return "";
  }

  void on_sweep() {
    gint64 now = now_us();
    for (auto it = conns.begin(); it != conns.end();) {
      Connection& c = it->second;
      GSocket* s = g_socket_connection_get_socket(c.tcp);
      if (g_io_stream_is_closed(c.stream) && !g_socket_is_closed(s))
        g_io_stream_close(G_IO_STREAM(c.tcp), nullptr, nullptr);
      if (g_socket_is_closed(s)) {
        release(c);
        it = conns.erase(it);
        continue;
      }
      if (c.shut_down_us) {
        if (now - c.shut_down_us > kForceCloseUs) {
          // Shut down but never closed by its owner (libsoup 3.2's idle
          // keep-alive connection has no reader left): close it ourselves.
          GST_INFO("closing a connection its owner left open (%s)", phase_name(c.phase));
          g_io_stream_close(G_IO_STREAM(c.tcp), nullptr, nullptr);
        }
      } else if (std::string why = overdue(c, now); !why.empty()) {
        GST_INFO("shutting down a connection: %s", why.c_str());
        // The reader sees EOF and libsoup closes the connection itself.
        g_socket_shutdown(s, TRUE, TRUE, nullptr);
        c.shut_down_us = now;
      }
      ++it;
    }
  }
};

HttpListener::HttpListener(GMainContext* ctx, Limits limits, GTlsCertificate* tls, Accept accept)
    : impl_(std::make_unique<Impl>(ctx, limits, tls, std::move(accept))) {
  init_debug();
}

HttpListener::~HttpListener() = default;

void HttpListener::listen(GSocketAddress* address) {
  GError* err = nullptr;
  GSocket* s = g_socket_new(g_socket_address_get_family(address), G_SOCKET_TYPE_STREAM,
                            G_SOCKET_PROTOCOL_TCP, &err);
  if (s) {
    g_socket_set_blocking(s, FALSE);
    g_socket_set_listen_backlog(s, kBacklog);
    if (!g_socket_bind(s, address, TRUE, &err) || !g_socket_listen(s, &err)) {
      g_object_unref(s);
      s = nullptr;
    }
  }
  if (!s) {
    std::string why = err ? err->message : "unknown error";
    g_clear_error(&err);
    throw std::runtime_error(why);
  }
  impl_->socket = s;
  impl_->watch_socket();
  impl_->sweep.reset(g_timeout_source_new(kSweepMs));
  g_source_set_callback(
      impl_->sweep.get(),
      +[](gpointer self) -> gboolean {
        static_cast<Impl*>(self)->on_sweep();
        return G_SOURCE_CONTINUE;
      },
      impl_.get(), nullptr);
  g_source_attach(impl_->sweep.get(), impl_->ctx);
  GSocketAddress* local = g_socket_get_local_address(s, nullptr);
  if (local && G_IS_INET_SOCKET_ADDRESS(local))
    impl_->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  if (local) g_object_unref(local);
}

unsigned HttpListener::port() const {
  return impl_->port;
}

void HttpListener::set_phase(GSocketAddress* remote, Phase phase) {
  auto it = impl_->conns.find(remote);
  if (it != impl_->conns.end() && !it->second.shut_down_us) impl_->set_phase(it->second, phase);
}

void HttpListener::refuse(GSocketAddress* remote, const std::string& response) {
  auto it = impl_->conns.find(remote);
  if (it == impl_->conns.end() || it->second.shut_down_us) return;
  Impl::Connection& c = it->second;
  GOutputStream* out = g_io_stream_get_output_stream(c.stream);
  if (!g_output_stream_write_all(out, response.data(), response.size(), nullptr, nullptr, nullptr))
    GST_INFO("could not write a refusal");
  g_socket_shutdown(g_socket_connection_get_socket(c.tcp), TRUE, TRUE, nullptr);
  c.shut_down_us = now_us();
}

size_t HttpListener::connections() const {
  return impl_->conns.size();
}

void raise_fd_limit() {
  static std::once_flag once;
  std::call_once(once, [] {
    init_debug();
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
      GST_INFO("file descriptor limit raised from %llu to %llu", (unsigned long long)old,
               (unsigned long long)rl.rlim_max);
  });
}

}  // namespace rtcmesh::sig
