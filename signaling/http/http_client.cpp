#include "signaling/http/http_client.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <set>
#include <stdexcept>

#include "signaling/glib_util.h"
#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

constexpr GUriFlags kHttpUriFlags = static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS);

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

struct HttpClientRequest {
  HttpClient::Impl* owner = nullptr;  // not dereferenced once `cancelled`
  std::string method;
  GUri* uri = nullptr;
  Headers headers;
  std::string content_type, body;
  HttpClient::Done done;

  SoupMessage* msg = nullptr;
  GCancellable* cancellable = g_cancellable_new();
  SourceHandle deadline, connect_timer, idle;
  bool in_flight = false;  // a libsoup operation will call us back
  bool connected = false;
  bool cancelled = false;
  std::string abort_reason;  // why we cancelled it ourselves (timeouts)
  unsigned hops = 0;

  ~HttpClientRequest() {
    clear_message();
    if (uri) g_uri_unref(uri);
    g_object_unref(cancellable);
  }
  void clear_message() {
    if (!msg) return;
    g_signal_handlers_disconnect_by_data(msg, this);
    g_object_unref(msg);
    msg = nullptr;
  }
  std::string url() const {
    if (!uri) return {};
    char* s = g_uri_to_string(uri);
    std::string out = s;
    g_free(s);
    return out;
  }
};

struct HttpClient::Impl {
  GMainContext* ctx;
  Options opts;
  SoupSession* session = nullptr;
  std::set<HttpClientRequest*> requests;

  Impl(GMainContext* c, Options o) : ctx(g_main_context_ref(c)), opts(std::move(o)) {}
  ~Impl() {
    if (session) g_object_unref(session);
    g_main_context_unref(ctx);
  }

  void send(HttpClientRequest* r) {
    r->clear_message();
    r->connected = false;
    r->msg = soup_message_new_from_uri(r->method.c_str(), r->uri);
    soup_message_add_flags(r->msg, SOUP_MESSAGE_NO_REDIRECT);
    SoupMessageHeaders* h = soup_message_get_request_headers(r->msg);
    for (const auto& [name, value] : r->headers.items())
      soup_message_headers_append(h, name.c_str(), value.c_str());
    bool wants_body = r->method == "POST" || r->method == "PUT" || r->method == "PATCH";
    if (!r->body.empty() || wants_body) {
      GBytes* bytes = g_bytes_new(r->body.data(), r->body.size());
      soup_message_set_request_body_from_bytes(
          r->msg, r->content_type.empty() ? nullptr : r->content_type.c_str(), bytes);
      g_bytes_unref(bytes);
    }
    if (opts.tls_insecure) {
      g_signal_connect(r->msg, "accept-certificate",
                       G_CALLBACK(+[](SoupMessage*, GTlsCertificate*, GTlsCertificateFlags,
                                      gpointer) -> gboolean { return TRUE; }),
                       r);
    }
    // "Connected" = the request could be written (a reused connection emits
    // no network events, only wrote-headers).
    g_signal_connect(r->msg, "network-event",
                     G_CALLBACK(+[](SoupMessage*, GSocketClientEvent ev, GIOStream*, gpointer d) {
                       // COMPLETE: after the TLS handshake and any proxy.
                       if (ev == G_SOCKET_CLIENT_COMPLETE)
                         static_cast<HttpClientRequest*>(d)->connected = true;
                     }),
                     r);
    g_signal_connect(r->msg, "wrote-headers", G_CALLBACK(+[](SoupMessage*, gpointer d) {
                       static_cast<HttpClientRequest*>(d)->connected = true;
                     }),
                     r);
    if (opts.connect_timeout_s > 0) {
      r->connect_timer = add_timer(ctx, opts.connect_timeout_s * 1000, [r, this] {
        r->connect_timer.reset();
        if (r->connected) return;
        r->abort_reason = "could not connect within " + std::to_string(opts.connect_timeout_s) +
                          " s to " + r->url();
        g_cancellable_cancel(r->cancellable);
      });
    }
    GST_DEBUG("%s %s", r->method.c_str(), r->url().c_str());
    ScopedContext scope(ctx);
    r->in_flight = true;
    soup_session_send_and_read_async(session, r->msg, G_PRIORITY_DEFAULT, r->cancellable, on_done,
                                     r);
  }

  static void on_done(GObject* source, GAsyncResult* res, gpointer data) {
    auto* r = static_cast<HttpClientRequest*>(data);
    GError* err = nullptr;
    GBytes* bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &err);
    r->in_flight = false;
    if (r->cancelled) {
      if (bytes) g_bytes_unref(bytes);
      g_clear_error(&err);
      delete r;
      return;
    }
    Impl* self = r->owner;
    guarded("HttpClient completion", [&] { self->completed(r, bytes, err); });
    if (bytes) g_bytes_unref(bytes);
    g_clear_error(&err);
  }

  void completed(HttpClientRequest* r, GBytes* bytes, GError* err) {
    r->connect_timer.reset();
    Result result;
    result.url = r->url();
    if (err) {
      result.error = !r->abort_reason.empty() ? r->abort_reason : std::string(err->message);
      GST_INFO("%s %s failed: %s", r->method.c_str(), result.url.c_str(), result.error.c_str());
      finish(r, std::move(result));
      return;
    }
    result.status = static_cast<int>(soup_message_get_status(r->msg));
    if (const char* phrase = soup_message_get_reason_phrase(r->msg)) result.reason = phrase;
    soup_message_headers_foreach(
        soup_message_get_response_headers(r->msg),
        [](const char* name, const char* value, gpointer d) {
          static_cast<Headers*>(d)->add(name, value);
        },
        &result.headers);
    if (bytes) {
      gsize len = 0;
      const auto* p = static_cast<const char*>(g_bytes_get_data(bytes, &len));
      if (p) result.body.assign(p, len);
    }
    GST_DEBUG("%s %s -> %d", r->method.c_str(), result.url.c_str(), result.status);
    auto location = result.headers.get("Location");
    if (is_redirect(result.status) && location && !location->empty()) {
      if (r->hops >= opts.max_redirects) {
        result.error = "too many redirects (more than " + std::to_string(opts.max_redirects) + ")";
        finish(r, std::move(result));
        return;
      }
      GError* perr = nullptr;
      GUri* next = g_uri_parse_relative(r->uri, location->c_str(), kHttpUriFlags, &perr);
      const char* scheme = next ? g_uri_get_scheme(next) : nullptr;
      if (!next || !scheme ||
          (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0)) {
        result.error = "bad redirect Location '" + *location + "'" +
                       (perr ? std::string(": ") + perr->message : std::string());
        g_clear_error(&perr);
        if (next) g_uri_unref(next);
        finish(r, std::move(result));
        return;
      }
      GST_INFO("%s %s redirected (%d) to %s", r->method.c_str(), result.url.c_str(), result.status,
               location->c_str());
      g_uri_unref(r->uri);
      r->uri = next;
      r->hops++;
      send(r);
      return;
    }
    finish(r, std::move(result));
  }

  // Deletes r, then calls its done (which may destroy the client).
  void finish(HttpClientRequest* r, Result result) {
    requests.erase(r);
    Done done = std::move(r->done);
    delete r;
    if (!done) return;
    guarded("HttpClient done callback", [&] { done(std::move(result)); });
  }

  void cancel(HttpClientRequest* r) {
    r->cancelled = true;
    r->deadline.reset();
    r->connect_timer.reset();
    r->idle.reset();
    r->done = nullptr;
    if (r->in_flight)
      g_cancellable_cancel(r->cancellable);  // on_done deletes it
    else
      delete r;
  }
};

void use_tls_ca_file(SoupSession* session, const std::string& path) {
  GError* err = nullptr;
  GTlsDatabase* db = g_tls_file_database_new(path.c_str(), &err);
  if (!db) {
    std::string why = "cannot load tls-ca-file " + path + ": " + (err ? err->message : "unknown error");
    g_clear_error(&err);
    throw std::runtime_error(why);
  }
  soup_session_set_tls_database(session, db);
  g_object_unref(db);
}

HttpClient::HttpClient(GMainContext* ctx, Options options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {
  init_debug();
  ScopedContext scope(ctx);
  impl_->session = soup_session_new_with_options("timeout", impl_->opts.timeout_s, "idle-timeout",
                                                 60u, "user-agent", "rtcmesh/0.1 ", nullptr);
  if (!impl_->opts.tls_ca_file.empty()) use_tls_ca_file(impl_->session, impl_->opts.tls_ca_file);
}

HttpClient::~HttpClient() {
  cancel_all();
}

void HttpClient::request(std::string method, std::string url, Headers headers,
                         std::string content_type, std::string body, Done done) {
  auto* r = new HttpClientRequest;
  r->owner = impl_.get();
  r->method = std::move(method);
  r->headers = std::move(headers);
  r->content_type = std::move(content_type);
  r->body = std::move(body);
  r->done = std::move(done);
  impl_->requests.insert(r);
  Impl* impl = impl_.get();

  GError* err = nullptr;
  r->uri = g_uri_parse(url.c_str(), kHttpUriFlags, &err);
  const char* scheme = r->uri ? g_uri_get_scheme(r->uri) : nullptr;
  if (!r->uri || !scheme ||
      (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0)) {
    std::string why = "invalid URL '" + url + "'" + (err ? std::string(": ") + err->message : "");
    g_clear_error(&err);
    // Reported later, like every other outcome, never from inside request().
    r->idle = add_timer(impl->ctx, 0, [impl, r, why] {
      r->idle.reset();
      Result res;
      res.error = why;
      res.url = r->url();
      impl->finish(r, std::move(res));
    });
    return;
  }
  if (impl->opts.timeout_s > 0) {
    r->deadline = add_timer(impl->ctx, impl->opts.timeout_s * 1000, [impl, r] {
      r->deadline.reset();
      r->abort_reason =
          "timed out after " + std::to_string(impl->opts.timeout_s) + " s (" + r->url() + ")";
      g_cancellable_cancel(r->cancellable);
    });
  }
  impl->send(r);
}

void HttpClient::cancel_all() {
  auto all = std::move(impl_->requests);
  impl_->requests.clear();
  for (HttpClientRequest* r : all) impl_->cancel(r);
}

size_t HttpClient::pending_count() const {
  return impl_->requests.size();
}

}  // namespace rtcmesh::sig
