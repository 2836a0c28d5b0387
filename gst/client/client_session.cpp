#include "gst/client/client_session.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "gst/common/data_signals.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/props.h"
#include "signaling/http/sdp.h"

#define GST_CAT_DEFAULT rtcmesh_debug

namespace rtcmesh {

void ClientProps::install(GObjectClass* klass, guint first, const char* protocol) {
  // Param specs keep their blurbs (static strings): intern the formatted ones.
  GCharPtr endpoint(
      g_strdup_printf("%s endpoint URL to POST the offer to (http:// or https://)", protocol));
  install_string(klass, first + kEndpoint, "endpoint", g_intern_string(endpoint.get()));
  install_string(klass, first + kAuthToken, "auth-token",
                 "Bearer token sent with every request (empty = none)");
  install_uint(klass, first + kHttpTimeout, "http-timeout", "Seconds to wait for an HTTP reply", 1,
               600, 10);
  install_uint(klass, first + kConnectTimeout, "connect-timeout",
               "Seconds for ICE/DTLS to connect after the answer before trying again", 1, 600, 10);
  install_uint(klass, first + kPeerTimeout, "peer-timeout",
               "Milliseconds without RTP or RTCP from the server after which the session is "
               "considered lost",
               500, G_MAXUINT, 10000);
  install_bool(klass, first + kReconnect, "reconnect",
               "On 5xx, network loss, ICE failure or a vanished server, start a new session "
               "(backoff 0.5 s doubling to 30 s, a warning each time) while the pipeline keeps "
               "running; 4xx other than 408/429 is always an error",
               TRUE);
  install_string(klass, first + kTlsCaFile, "tls-ca-file",
                 "PEM file of CA certificates to trust for https endpoints");
  install_bool(klass, first + kTlsInsecure, "tls-insecure",
               "Accept any TLS certificate (testing only)", FALSE);
  install_uint(klass, first + kConnectAttempts, "connect-attempts",
               "Attempts to reach an endpoint that has not answered yet (connection refused, "
               "unknown host, no HTTP reply) before giving up with an error 'could not reach "
               "…' (0 = keep trying); once it has answered, reconnect decides",
               0, G_MAXUINT, 5);
  install_bool(klass, first + kDataChannels, "data-channels",
               "Offer data channels beside the media (send-string, send-data, data-received, to "
               "and from the server); off by default, since other servers may refuse them",
               false);
}

bool ClientProps::set(guint first, guint id, const GValue* value) {
  if (id < first || id >= first + kCount) return false;
  auto str = [&] {
    const char* s = g_value_get_string(value);
    return std::string(s ? s : "");
  };
  switch (id - first) {
    case kEndpoint: endpoint = str(); break;
    case kAuthToken: auth_token = str(); break;
    case kHttpTimeout: http_timeout_s = g_value_get_uint(value); break;
    case kConnectTimeout: connect_timeout_s = g_value_get_uint(value); break;
    case kPeerTimeout: peer_timeout_ms = g_value_get_uint(value); break;
    case kReconnect: reconnect = g_value_get_boolean(value); break;
    case kTlsCaFile: tls_ca_file = str(); break;
    case kTlsInsecure: tls_insecure = g_value_get_boolean(value); break;
    case kConnectAttempts: connect_attempts = g_value_get_uint(value); break;
    case kDataChannels: data_channels = g_value_get_boolean(value); break;
  }
  return true;
}

bool ClientProps::get(guint first, guint id, GValue* value) const {
  if (id < first || id >= first + kCount) return false;
  switch (id - first) {
    case kEndpoint: g_value_set_string(value, endpoint.c_str()); break;
    case kAuthToken: g_value_set_string(value, auth_token.c_str()); break;
    case kHttpTimeout: g_value_set_uint(value, http_timeout_s); break;
    case kConnectTimeout: g_value_set_uint(value, connect_timeout_s); break;
    case kPeerTimeout: g_value_set_uint(value, peer_timeout_ms); break;
    case kReconnect: g_value_set_boolean(value, reconnect); break;
    case kTlsCaFile: g_value_set_string(value, tls_ca_file.c_str()); break;
    case kTlsInsecure: g_value_set_boolean(value, tls_insecure); break;
    case kConnectAttempts: g_value_set_uint(value, connect_attempts); break;
    case kDataChannels: g_value_set_boolean(value, data_channels); break;
  }
  return true;
}

sig::ResourceClient::Options ClientProps::resource_options() const {
  sig::ResourceClient::Options opts;
  opts.endpoint = endpoint;
  opts.token = auth_token;
  opts.http.timeout_s = http_timeout_s;
  opts.http.connect_timeout_s = http_timeout_s;
  opts.http.tls_ca_file = tls_ca_file;
  opts.http.tls_insecure = tls_insecure;
  return opts;
}

std::string ClientProps::endpoint_problem(const char* protocol) const {
  if (g_str_has_prefix(endpoint.c_str(), "http://") ||
      g_str_has_prefix(endpoint.c_str(), "https://"))
    return {};
  return std::string("Set endpoint to the ") + protocol + " URL (http:// or https://), got '" +
         endpoint + "'";
}

bool SessionRetry::failed(Worker& worker, const std::string& why, int http_status, bool reconnect,
                          const std::string& endpoint, std::function<void()> start,
                          std::optional<Unreached> unreached) {
  cancel();
  std::string what = unreached ? "could not reach " + endpoint + ": " + why : why;
  bool last = unreached && unreached->limit && unreached->number >= unreached->limit;
  if (http_status != 0 || !reconnect || last) {
    if (last)
      what += " (gave up after " + std::to_string(unreached->number) +
              " attempts; connect-attempts=0 keeps trying)";
    gst_element_message_full(element_, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
                             unreached ? GST_RESOURCE_ERROR_NOT_FOUND : final_code_,
                             g_strdup_printf("%s failed: %s", what_.c_str(), what.c_str()),
                             g_strdup_printf("endpoint %s", endpoint.c_str()), __FILE__,
                             GST_FUNCTION, __LINE__);
    return false;
  }
  backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, kMaxMs) : kFirstMs;
  std::string attempt;
  if (unreached)
    attempt = " (attempt " + std::to_string(unreached->number) +
              (unreached->limit ? " of " + std::to_string(unreached->limit) : "") + ")";
  gst_element_message_full(
      element_, GST_MESSAGE_WARNING, GST_RESOURCE_ERROR, final_code_,
      g_strdup_printf("%s %s: %s; %s in %u ms%s", what_.c_str(),
                      unreached ? "not started" : "session lost", what.c_str(),
                      unreached ? "trying again" : "reconnecting", backoff_ms_, attempt.c_str()),
      g_strdup_printf("endpoint %s", endpoint.c_str()), __FILE__, GST_FUNCTION, __LINE__);
  timer_ = worker.timeout(backoff_ms_, [this, start = std::move(start)] {
    timer_.release();  // this source ends by returning false
    start();
    return false;
  });
  return true;
}

void ResourceCloser::close(std::unique_ptr<sig::ResourceClient> client,
                           std::function<void()> done) {
  closing_.remove_if([](const auto& c) { return c->finished; });
  if (!client) {
    if (done) done();
    return;
  }
  auto& c = closing_.emplace_back(std::make_unique<Closing>());
  c->client = std::move(client);
  c->client->destroy([c = c.get(), done = std::move(done)] {
    c->finished = true;
    if (done) done();
  });
}

void stop_client_worker(std::unique_ptr<Worker>& worker, std::mutex& worker_mutex,
                        ResourceCloser& closer,
                        const std::function<void(std::function<void()>)>& end,
                        std::chrono::milliseconds max) {
  if (!worker) return;
  // Shared: `done` may still be called after a wait that timed out.
  struct Wait {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
  };
  auto wait = std::make_shared<Wait>();
  worker->call([&] {
    end([wait] {
      std::lock_guard lock(wait->m);
      wait->done = true;
      wait->cv.notify_one();
    });
  });
  {
    std::unique_lock lock(wait->m);
    if (!wait->cv.wait_for(lock, max, [&] { return wait->done; }))
      GST_WARNING("DELETE not answered within %lld ms, stopping anyway",
                  static_cast<long long>(max.count()));
  }
  {
    // The session's webrtcbin is gone (NULL, removed): no streaming thread
    // waits for this lock while the worker thread is joined.
    std::lock_guard lock(worker_mutex);
    worker.reset();
  }
  closer.clear();  // the worker thread is gone: no callback is running
}

}  // namespace rtcmesh

namespace rtcmesh {

ClientLoop::ClientLoop(GstElement* element, GstDebugCategory* category, std::string activity,
                       GstResourceError final_code, std::mutex& props_mutex,
                       const ClientProps& props, std::function<void()> start_session)
    : retry(element, std::move(activity), final_code),
      element_(element),
      category_(category),
      props_mutex_(props_mutex),
      props_(props),
      start_session_(std::move(start_session)) {}

void ClientLoop::start(const char* thread_name, const std::function<void()>& first) {
  {
    std::lock_guard lock(worker_mutex_);
    worker_ = std::make_unique<Worker>(thread_name);
  }
  worker_->call([&] {
    running = true;
    finished = false;
    reached_ = false;
    unreached_attempts_ = 0;
    retry.reset();
    first();
  });
}

void ClientLoop::stop() {
  // DELETE the resource, waiting a bounded time for the reply.
  stop_client_worker(worker_, worker_mutex_, closing_, [this](std::function<void()> done) {
    running = false;
    retry.reset();
    end(std::move(done));
  });
}

bool ClientLoop::post(std::function<void()> fn) {
  std::lock_guard lock(worker_mutex_);
  if (worker_) worker_->post(std::move(fn));
  return bool(worker_);
}

bool ClientLoop::route_failure(GstMessage* message, const std::string& why) {
  GstElement* webrtc = current_webrtc_;
  if (!webrtc || !is_from(message, webrtc)) return false;
  // Never wait for the worker here: it may be stopping this very thread.
  post([this, webrtc, why] {
    if (current_webrtc_ == webrtc) failed(why);
  });
  return true;
}

ClientSession* ClientLoop::begin(guint deadline_ms) {
  sig::ResourceClient::Options opts;
  {
    std::lock_guard lock(props_mutex_);
    opts = props_.resource_options();
  }
  sessions_started_++;
  auto s = std::make_unique<ClientSession>();
  try {
    s->client = std::make_unique<sig::ResourceClient>(worker_->context(), opts);
  } catch (const std::exception& e) {
    failed(std::string("cannot set up HTTP: ") + e.what(), -1);
    return nullptr;
  }
  ClientSession* raw = s.get();
  s->deadline = worker_->timeout(deadline_ms, [this, raw] {
    if (current(raw)) failed("not connected in time");
    return false;
  });
  session_ = std::move(s);
  return raw;
}

peer::PeerEvents ClientLoop::events(ClientSession* raw, const char* activity,
                                    std::function<void()> connected) {
  peer::PeerEvents events;
  events.data = [this](const peer::DataMessage& m) {
    emit_data_received(element_, g_signal_lookup("data-received", G_OBJECT_TYPE(element_)),
                       "server", m.label, m.data, m.text);
  };
  events.local_candidate = [this, raw](guint mline, const std::string& candidate) {
    // Candidates found after the offer went out are trickled by PATCH; the
    // ones before are in it.
    if (!current(raw) || mline >= raw->mids.size()) return;
    raw->client->trickle({{raw->mids[mline], int(mline), candidate}}, false);
  };
  events.connected = [this, raw, activity, connected = std::move(connected)] {
    if (!current(raw)) return;
    raw->connected = true;
    raw->deadline.reset();
    retry.connected();
    GST_CAT_INFO_OBJECT(category_, element_, "%s: connected %.0f ms after start", activity,
                    (g_get_monotonic_time() - raw->started_us) / 1000.0);
    if (connected) connected();
  };
  events.failed = [this, raw](const std::string& why) {
    // Not from inside the Peer's own callback: it is about to be destroyed.
    worker_->post([this, raw, why] {
      if (current(raw)) failed(why);
    });
  };
  return events;
}

void ClientLoop::attach(ClientSession* s) {
  current_webrtc_ = s->peer->webrtcbin();
  bool data;
  {
    std::lock_guard lock(props_mutex_);
    data = props_.data_channels;
  }
  if (data) s->peer->enable_data_channels();
}

gboolean ClientLoop::send_data(std::string data, bool text, bool reliable) {
  return post([this, data = std::move(data), text, reliable] {
    if (!session_ || !session_->peer || !session_->peer->send_data(data, text, reliable))
      GST_CAT_DEBUG_OBJECT(category_, element_, "data message dropped: no session with data channels");
  });
}

void ClientLoop::offer(ClientSession* raw,
                       std::function<void(sig::ResourceClient::Created)> created) {
  raw->peer->make_offer([this, raw, created = std::move(created)](const std::string& offer,
                                                                  const std::string& error) {
    if (!current(raw)) return;
    if (!error.empty()) return failed(error);
    try {
      for (const auto& m : sig::validate_offer(offer).media) raw->mids.push_back(m.mid);
    } catch (const std::exception& e) {
      return failed(std::string("our own offer is invalid: ") + e.what());
    }
    GST_CAT_DEBUG_OBJECT(category_, element_, "offer:\n%s", offer.c_str());
    raw->client->create(offer, [this, raw, created](sig::ResourceClient::Created reply) {
      if (reply.status != 0) reached_ = true;
      if (current(raw)) created(std::move(reply));
    });
  });
}

void ClientLoop::failed(const std::string& why, int http_status) {
  GST_CAT_WARNING_OBJECT(category_, element_, "session failed: %s (HTTP status %d)", why.c_str(), http_status);
  sessions_failed_++;
  last_error_ = why;
  end();
  bool reconnect;
  std::string endpoint;
  std::optional<SessionRetry::Unreached> unreached;
  {
    std::lock_guard lock(props_mutex_);
    reconnect = props_.reconnect;
    endpoint = props_.endpoint;
    // Nothing answered yet: not a lost session but an endpoint out of reach
    // (a wrong host or port must end in an error, not wait for ever).
    if (!reached_ && http_status == 0)
      unreached = SessionRetry::Unreached{++unreached_attempts_, props_.connect_attempts};
  }
  if (finished) return;  // the element is done (EOS): no new session
  if (!retry.failed(
          *worker_, why, http_status, reconnect, endpoint,
          [this] {
            if (running && !finished && !session_) start_session_();
          },
          unreached))
    finished = true;
}

void ClientLoop::end(std::function<void()> done) {
  if (!session_) {
    if (done) done();
    return;
  }
  std::unique_ptr<ClientSession> s = std::move(session_);
  current_webrtc_ = nullptr;
  s->deadline.reset();
  // Stop the connection first: its NULL state unblocks any branch thread
  // waiting inside webrtcbin, so a fan-out detach cannot hang.
  s->peer.reset();
  s->sent.reset();
  // The client lives on until its DELETE was answered.
  closing_.close(std::move(s->client), std::move(done));
}

void ClientLoop::fill_stats(GstStructure* s, const std::function<void(GstStructure*)>& more) {
  auto fill = [&] {
    gst_structure_set(s, "connected", G_TYPE_BOOLEAN, session_ && session_->connected,
                      "sessions-started", G_TYPE_UINT64, sessions_started_, "sessions-failed",
                      G_TYPE_UINT64, sessions_failed_, "last-error", G_TYPE_STRING,
                      last_error_.c_str(), nullptr);
    if (more) more(s);
    add_rtp_totals(s, session_ && session_->peer ? session_->peer->stats().get() : nullptr);
  };
  if (worker_) worker_->call(fill);
  else fill();
}

}  // namespace rtcmesh
