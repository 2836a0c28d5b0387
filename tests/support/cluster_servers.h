// The servers a cluster test needs, started by the test itself on free
// loopback ports (never the system's services or default ports) and stopped
// by PID: redis-server (no persistence) and nats-server. Either can be
// stopped and started again on the same port (the restart tests).
#pragma once

#include <gio/gio.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"

namespace rtcmesh::test {

// A TCP port that was free on 127.0.0.1 a moment ago.
inline unsigned free_loopback_port() {
  GSocket* s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                            nullptr);
  GInetAddress* lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress* any = g_inet_socket_address_new(lo, 0);
  g_socket_bind(s, any, FALSE, nullptr);
  GSocketAddress* got = g_socket_get_local_address(s, nullptr);
  unsigned port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(got));
  g_object_unref(got);
  g_object_unref(any);
  g_object_unref(lo);
  g_socket_close(s, nullptr);
  g_object_unref(s);
  return port;
}

// True once something accepts TCP connections on 127.0.0.1:port.
inline bool wait_listening(unsigned port, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    GSocketClient* c = g_socket_client_new();
    GSocketConnection* conn =
        g_socket_client_connect_to_host(c, "127.0.0.1", static_cast<guint16>(port), nullptr, nullptr);
    g_object_unref(c);
    if (conn) {
      g_object_unref(conn);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class ClusterServer {
 public:
  enum class Kind { kRedis, kNats };
  explicit ClusterServer(Kind kind) : kind_(kind), port_(free_loopback_port()) { start(); }
  ~ClusterServer() { stop(); }

  void start() {
    std::vector<std::string> argv;
    std::string p = std::to_string(port_);
    if (kind_ == Kind::kRedis)
      argv = {"redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly",
              "no", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"};
    else
      argv = {"nats-server", "-a", "127.0.0.1", "-p", p, "-m", "0"};
    Subprocess::Options o;
    o.echo_prefix = kind_ == Kind::kRedis ? "[redis]" : "[nats]";
    std::string error;
    proc_ = Subprocess::spawn(argv, o, &error);
    ASSERT_TRUE(proc_) << argv[0] << ": " << error;
    ASSERT_TRUE(wait_listening(port_, std::chrono::seconds(10))) << argv[0] << " on " << port_;
  }
  // SIGKILL by PID (what a crash or an operator's restart does).
  void stop() {
    if (!proc_) return;
    proc_->send_signal(SIGKILL);
    proc_->wait(std::chrono::seconds(5));
    proc_.reset();
  }
  unsigned port() const { return port_; }
  std::string url() const {
    return std::string(kind_ == Kind::kRedis ? "redis" : "nats") + "://127.0.0.1:" +
           std::to_string(port_);
  }

 private:
  Kind kind_;
  unsigned port_;
  std::unique_ptr<Subprocess> proc_;
};

}  // namespace rtcmesh::test
