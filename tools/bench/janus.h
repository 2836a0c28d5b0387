// Janus VideoRoom for `rtcmesh-bench sfu --compare janus` (issue 17): the
// same publisher and subscriber load against Debian's Janus 1.1.2, measured
// the same way as rtcmesh-server. Never used by the tests.
#pragma once

#include <gst/gst.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gst/common/worker.h"
#include "signaling/http/http_client.h"
#include "signaling/json.h"

namespace bench {

// /usr/bin/janus with a temporary configuration directory: only the HTTP
// transport (127.0.0.1, a free port) and the VideoRoom plugin, no STUN.
// Ended by its pid. Janus 1.1.2 never gathers loopback candidates (with
// ice_enforce_list=127.0.0.1 it gathers none and never answers), so its
// connections use this machine's own interface addresses: datagrams to a
// local address still go through the kernel's loopback path, never a wire.
class JanusProcess {
 public:
  JanusProcess();   // starts it and waits (≤ 10 s) until its HTTP API answers
  ~JanusProcess();  // SIGTERM, SIGKILL after 5 s; removes the directory
  JanusProcess(const JanusProcess&) = delete;
  JanusProcess& operator=(const JanusProcess&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }
  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT/janus

 private:
  pid_t pid_ = -1;
  std::string dir_, url_, error_;
};

// One Janus API session over HTTP (libsoup 3 through HttpClient) on `worker`:
// handles of janus.plugin.videoroom, their events by long poll (GET with
// maxev), a keepalive every 15 s. Every method and callback on the worker.
class JanusSession {
 public:
  using Json = rtcmesh::sig::Json;
  using Events = std::function<void(const Json& event)>;   // "event", "trickle", "webrtcup", …
  using Reply = std::function<void(const Json& reply, const std::string& error)>;

  JanusSession(rtcmesh::Worker& worker, std::string url);
  ~JanusSession();  // worker thread
  JanusSession(const JanusSession&) = delete;
  JanusSession& operator=(const JanusSession&) = delete;

  // Creates the session and starts polling; `done` gets "" or the error.
  void start(std::function<void(const std::string& error)> done);
  // Attaches a VideoRoom handle; its events go to `events` until detach.
  void attach(Events events, std::function<void(guint64 handle, const std::string& error)> done);
  void detach(guint64 handle);
  // A plugin message (with an SDP when `jsep` is an object); `done` gets the
  // synchronous reply ("success" with plugindata, or "ack": the answer comes
  // as an event).
  void message(guint64 handle, Json body, Json jsep, Reply done);

 private:
  void post(const std::string& path, Json request, Reply done);
  void poll();

  rtcmesh::Worker& worker_;
  std::string url_;
  rtcmesh::sig::HttpClient http_, poll_http_;
  guint64 session_ = 0;
  guint64 next_transaction_ = 1;
  std::map<guint64, Events> handles_;
  rtcmesh::Timer keepalive_;
};

}  // namespace bench
