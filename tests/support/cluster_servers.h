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

#include "signaling/loopback.h"
#include "tests/support/subprocess.h"

namespace rtcmesh::test {

using sig::free_loopback_port;

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
    ASSERT_TRUE(sig::wait_listening(port_, 10000)) << argv[0] << " on " << port_;
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
