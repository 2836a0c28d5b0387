// What the WHIP and WHEP client elements (rtcwhipsink, rtcwhepsrc) share
// around their sessions (DESIGN §7): the client properties, retries with a
// capped backoff and a warning each time, an element error for final (4xx)
// failures, DELETEs that run to their reply, a stop that waits a bounded
// time for the last DELETE, and the session loop built from them.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gst/common/worker.h"
#include "gst/peer/peer.h"
#include "gst/peer/sent_tracks.h"
#include "signaling/http/resource_client.h"

namespace rtcmesh {

// endpoint, auth-token, http-timeout, connect-timeout, peer-timeout,
// reconnect, tls-ca-file, tls-insecure, connect-attempts, data-channels:
// install with ids first..first+9 and route get/set by id (like IceProps).
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
    kConnectAttempts,
    kDataChannels,
    kCount
  };
  std::string endpoint, auth_token;
  guint http_timeout_s = 10, connect_timeout_s = 10, peer_timeout_ms = 10000;
  bool reconnect = true;
  std::string tls_ca_file;
  bool tls_insecure = false;
  // Attempts that get no HTTP reply at all before the first session gives
  // up ("could not reach …"); 0 = for ever. Once the endpoint has answered,
  // `reconnect` decides.
  guint connect_attempts = 5;
  // Data channels beside the media (the element's send-*/data-received).
  bool data_channels = false;

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

  // Attempt `number` of at most `limit` (0: no limit) to reach an endpoint
  // that has never answered (no HTTP reply: refused, unknown host, timeout).
  struct Unreached {
    guint number, limit;
  };
  // After a failed session. A final failure (http_status != 0: a 4xx other
  // than 408/429, or `reconnect` off, or the last attempt of `unreached`)
  // posts an element error quoting `why` and returns false. Otherwise posts
  // a warning and runs `start` after the backoff (0.5 s doubling to 30 s);
  // returns true. With `unreached` the messages say "could not reach".
  bool failed(Worker& worker, const std::string& why, int http_status, bool reconnect,
              const std::string& endpoint, std::function<void()> start,
              std::optional<Unreached> unreached = std::nullopt);
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

// One attempt of a client element: a connection and its WHIP/WHEP resource.
struct ClientSession {
  std::unique_ptr<sig::ResourceClient> client;
  std::unique_ptr<peer::SentTracks> sent;  // what a WHIP client sends; destroyed after the peer
  std::unique_ptr<peer::Peer> peer;
  std::vector<std::string> mids;  // of our offer, by m-line; set once it went out
  Timer deadline;
  gint64 started_us = g_get_monotonic_time();
  bool connected = false;
};

// The session loop of a client element, on its worker: one session at a
// time with a deadline, trickle by PATCH, offer → POST, a failure retried
// with backoff or final, the DELETE when a session ends. The element builds
// each session's connection and applies the answer.
class ClientLoop {
 public:
  // `activity` names what the element does in messages ("WHIP publishing");
  // the log goes to the element's `category`; `start_session` (worker)
  // begins a new session when the loop wants one. `props_mutex` guards `props`.
  ClientLoop(GstElement* element, GstDebugCategory* category, std::string activity,
             GstResourceError final_code, std::mutex& props_mutex, const ClientProps& props,
             std::function<void()> start_session);

  // Application thread (state changes). start() creates the worker and runs
  // `first` on it; stop() ends the session, waits ≤ 2.5 s for its DELETE and
  // destroys the worker.
  void start(const char* thread_name, const std::function<void()>& first);
  void stop();
  // Any thread: runs `fn` on the worker if there is one (returns false if not).
  bool post(std::function<void()> fn);
  // Application thread only, between start() and stop().
  Worker* worker() const { return worker_.get(); }

  // A bus ERROR: true when it comes from the current session's webrtcbin (a
  // new session follows). Any thread.
  bool route_failure(GstMessage* message, const std::string& why);

  // Worker thread.
  // A new session (its resource client and connect deadline), or null when
  // it could not be set up (then it failed already).
  ClientSession* begin(guint deadline_ms);
  ClientSession* session() const { return session_.get(); }
  // Data channels (data-channels=true): a new session's Peer offers them;
  // messages go to the server, data-received (the element's signal of that
  // name) names it "server". Any thread; FALSE when the element is stopped.
  gboolean send_data(std::string data, bool text, bool reliable);
  bool current(const ClientSession* s) const { return s && session_.get() == s; }
  guint64 sessions_started() const { return sessions_started_; }
  // The events every session's Peer has: trickle, connected (then
  // `connected`), failed. `activity` goes in the log ("publishing").
  peer::PeerEvents events(ClientSession* s, const char* activity,
                          std::function<void()> connected = {});
  // Once the session has its Peer: its webrtcbin's bus errors are ours.
  void attach(ClientSession* s);
  // The endpoint answered an HTTP request (any status): it is reachable, so
  // failures from now on are "session lost" and `reconnect` decides.
  void reached() { reached_ = true; }
  // make-offer, then POST it; `created` gets the reply while `s` is current.
  void offer(ClientSession* s, std::function<void(sig::ResourceClient::Created)> created);
  // 4xx (http_status, but 408/429) and configuration problems are final;
  // anything else is retried with a new session.
  void failed(const std::string& why, int http_status = 0);
  // Stops the connection, DELETEs the resource; `done` runs after its reply.
  void end(std::function<void()> done = {});
  // connected, sessions-started, sessions-failed, last-error, `more`, then
  // the RTP counters; on the worker when it runs.
  void fill_stats(GstStructure* s, const std::function<void(GstStructure*)>& more = {});

  bool running = false, finished = false;
  SessionRetry retry;

 private:
  GstElement* element_;
  GstDebugCategory* category_;
  std::mutex& props_mutex_;
  const ClientProps& props_;
  std::function<void()> start_session_;
  std::unique_ptr<Worker> worker_;
  std::mutex worker_mutex_;  // other threads post to the worker under it
  std::unique_ptr<ClientSession> session_;
  ResourceCloser closing_;  // sessions whose DELETE is under way
  // The session's webrtcbin, for telling its error messages apart on any thread.
  std::atomic<GstElement*> current_webrtc_{nullptr};
  guint64 sessions_started_ = 0, sessions_failed_ = 0;
  bool reached_ = false;          // an HTTP reply came since start()
  guint unreached_attempts_ = 0;  // failed sessions before that
  std::string last_error_;
};

}  // namespace rtcmesh
