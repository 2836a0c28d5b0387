// What the WHIP and WHEP client elements (rtcwhipsink, rtcwhepsrc) share
// around their sessions (DESIGN §7): the client properties, retries with a
// capped backoff and a warning each time, an element error for final (4xx)
// failures, DELETEs that run to their reply, and a stop that waits a bounded
// time for the last DELETE.
#pragma once

#include <gst/gst.h>

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "gst/common/worker.h"
#include "signaling/http/resource_client.h"

namespace rtcmesh {

// endpoint, auth-token, http-timeout, connect-timeout, peer-timeout,
// reconnect, tls-ca-file, tls-insecure: install with ids first..first+7 and
// route get/set by id (like IceProps).
struct ClientProps {
  enum : guint {
    kEndpoint = 0,
    kAuthToken,
    kHttpTimeout,
    kConnectTimeout,
    kPeerTimeout,
    kReconnect,
    kTlsCaFile,
    kTlsInsecure,
    kCount
  };
  std::string endpoint, auth_token;
  guint http_timeout_s = 10, connect_timeout_s = 10, peer_timeout_ms = 10000;
  bool reconnect = true;
  std::string tls_ca_file;
  bool tls_insecure = false;

  // `protocol` ("WHIP", "WHEP") goes in the blurbs.
  static void install(GObjectClass* klass, guint first, const char* protocol);
  bool set(guint first, guint id, const GValue* value);
  bool get(guint first, guint id, GValue* value) const;
  // Endpoint, token, HTTP timeouts and TLS for a ResourceClient.
  sig::ResourceClient::Options resource_options() const;
  // Milliseconds a session may take from its start to ICE/DTLS connected.
  guint connect_deadline_ms() const { return (connect_timeout_s + http_timeout_s) * 1000; }
  // Empty when endpoint is an http(s) URL, else what to fix.
  std::string endpoint_problem(const char* protocol) const;
};

// The retry side of a client's session loop. Worker thread only.
class SessionRetry {
 public:
  // `what` names the activity in messages: "WHIP publishing", "WHEP playback".
  SessionRetry(GstElement* element, std::string what, GstResourceError final_code)
      : element_(element), what_(std::move(what)), final_code_(final_code) {}

  // After a failed session. A final failure (http_status != 0: a 4xx other
  // than 408/429, or `reconnect` off) posts an element error quoting `why`
  // and returns false. Otherwise posts a warning and runs `start` after the
  // backoff (0.5 s doubling to 30 s); returns true.
  bool failed(Worker& worker, const std::string& why, int http_status, bool reconnect,
              const std::string& endpoint, std::function<void()> start);
  void connected() { backoff_ms_ = 0; }  // the next failure waits 0.5 s again
  void cancel() { timer_.reset(); }
  void reset() {
    cancel();
    backoff_ms_ = 0;
  }
  bool pending() const { return bool(timer_); }

  static constexpr guint kFirstMs = 500, kMaxMs = 30000;

 private:
  GstElement* element_;
  std::string what_;
  GstResourceError final_code_;
  Timer timer_;
  guint backoff_ms_ = 0;
};

// Resource clients whose DELETE is under way: each lives until its reply (or
// its destroy timeout) and is never freed from inside its own callback.
class ResourceCloser {
 public:
  // Worker thread only. DELETEs the client's resource; `done` runs after.
  void close(std::unique_ptr<sig::ResourceClient> client, std::function<void()> done = {});
  // Once the worker thread is gone: nothing of theirs runs any more.
  void clear() { closing_.clear(); }

 private:
  struct Closing {
    std::unique_ptr<sig::ResourceClient> client;
    bool finished = false;
  };
  std::list<std::unique_ptr<Closing>> closing_;
};

// The stop of a client element, from the application thread: runs
// `end(done)` on the worker (end the session, DELETE it), waits up to `max`
// for `done`, then destroys the worker (closures still queued are dropped)
// under `worker_mutex` (what other threads post under), then the closer's
// clients.
void stop_client_worker(std::unique_ptr<Worker>& worker, std::mutex& worker_mutex,
                        ResourceCloser& closer,
                        const std::function<void(std::function<void()> done)>& end,
                        std::chrono::milliseconds max = std::chrono::milliseconds(2500));

}  // namespace rtcmesh
