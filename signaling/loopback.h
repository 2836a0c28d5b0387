// Loopback ports for programs that start servers of their own (the cluster
// tests and rtcmesh-bench cluster start redis-server and nats-server): a
// port free a moment ago, and waiting until something accepts on it.
#pragma once

#include <gio/gio.h>

namespace rtcmesh::sig {

// A TCP port that was free on 127.0.0.1 a moment ago (0 when none).
inline unsigned free_loopback_port() {
  GSocket* s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                            nullptr);
  if (!s) return 0;
  GInetAddress* lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress* any = g_inet_socket_address_new(lo, 0);
  unsigned port = 0;
  if (g_socket_bind(s, any, FALSE, nullptr)) {
    GSocketAddress* got = g_socket_get_local_address(s, nullptr);
    port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(got));
    g_object_unref(got);
  }
  g_object_unref(any);
  g_object_unref(lo);
  g_socket_close(s, nullptr);
  g_object_unref(s);
  return port;
}

// True once something accepts TCP connections on 127.0.0.1:port.
inline bool wait_listening(unsigned port, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + gint64(timeout_ms) * 1000;
  while (g_get_monotonic_time() < end) {
    GSocketClient* c = g_socket_client_new();
    GSocketConnection* conn =
        g_socket_client_connect_to_host(c, "127.0.0.1", guint16(port), nullptr, nullptr);
    g_object_unref(c);
    if (conn) {
      g_object_unref(conn);
      return true;
    }
    g_usleep(50000);
  }
  return false;
}

}  // namespace rtcmesh::sig
