#include "tests/support/fingerprint_proxy.h"

#include <libsoup/soup.h>

#include <regex>

namespace rtcmesh::test {

namespace {
// Headers the HTTP client and server set themselves.
bool own_header(const std::string& name) {
  for (const char* h : {"Host", "Content-Length", "Content-Type", "Connection"})
    if (g_ascii_strcasecmp(name.c_str(), h) == 0) return true;
  return false;
}
}  // namespace

FingerprintProxy::FingerprintProxy(std::string target, Lie lie)
    : target_(std::move(target)), lie_(lie) {
  worker_.call([this] {
    sig::HttpServer::Options options;
    options.address = "127.0.0.1";
    server_ = std::make_unique<sig::HttpServer>(worker_.context(), options);
    server_->add_handler("/", [this](const sig::HttpRequest& r, sig::Responder respond) {
      forward(r, std::move(respond));
    });
    server_->start();
    client_ = std::make_unique<sig::HttpClient>(worker_.context(), sig::HttpClient::Options{});
  });
}

FingerprintProxy::~FingerprintProxy() {
  worker_.call([this] {
    client_.reset();
    server_.reset();
  });
}

std::string FingerprintProxy::url(const std::string& path) const {
  return server_->base_url() + path;
}

std::string FingerprintProxy::lie_about(const std::string& sdp, int* count) {
  static const std::regex line("(a=fingerprint:\\S+ [0-9A-Fa-f:]*)([0-9A-Fa-f])(\r?\n)");
  std::string out;
  int n = 0;
  auto begin = std::sregex_iterator(sdp.begin(), sdp.end(), line);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it, ++n) {
    const std::smatch& m = *it;
    out.append(sdp, last, m.position(0) - last);
    out += m[1].str() + (m[2].str() == "0" ? "1" : "0") + m[3].str();
    last = m.position(0) + m.length(0);
  }
  out.append(sdp, last, std::string::npos);
  if (count) *count = n;
  return out;
}

void FingerprintProxy::forward(const sig::HttpRequest& request, sig::Responder respond) {
  sig::Headers headers;
  for (const auto& [name, value] : request.headers.items())
    if (!own_header(name)) headers.add(name, value);
  std::string body = request.body;
  bool is_offer = request.method == "POST";
  if (is_offer && lie_ == Lie::kOffer) {
    int n = 0;
    body = lie_about(body, &n);
    if (n) ++rewritten_;
  }
  std::string type = request.headers.get("Content-Type").value_or("");
  std::string url = target_ + request.path + (request.query.empty() ? "" : "?" + request.query);
  client_->request(request.method, url, headers, type, body,
                   [this, is_offer, respond](sig::HttpClient::Result r) {
                     if (r.status == 0) return respond(sig::HttpResponse::error(502, r.error));
                     sig::HttpResponse out;
                     out.status = r.status;
                     out.body = r.body;
                     out.content_type = r.headers.get("Content-Type").value_or("");
                     for (const auto& [name, value] : r.headers.items())
                       if (!own_header(name)) out.headers.add(name, value);
                     if (is_offer && lie_ == Lie::kAnswer && r.status == 201) {
                       int n = 0;
                       out.body = lie_about(out.body, &n);
                       if (n) ++rewritten_;
                     }
                     respond(std::move(out));
                   });
}

struct FingerprintWsProxy::Link {
  std::unique_ptr<sig::WebSocket> client, upstream;
  std::vector<std::string> queued;  // the client's frames before upstream opened
  bool closed = false;
};

FingerprintWsProxy::FingerprintWsProxy(std::string target, Lie lie)
    : target_(std::move(target)), lie_(lie) {
  worker_.call([this] {
    sig::HttpServer::Options options;
    options.address = "127.0.0.1";
    server_ = std::make_unique<sig::HttpServer>(worker_.context(), options);
    server_->add_websocket_handler("/rtc", [this](std::unique_ptr<sig::WebSocket> ws,
                                                  const sig::HttpRequest&) { accept(std::move(ws)); });
    server_->start();
    session_ = soup_session_new();
  });
}

FingerprintWsProxy::~FingerprintWsProxy() {
  worker_.call([this] {
    for (auto& link : links_) link->closed = true;
    links_.clear();
    server_.reset();
    g_clear_object(&session_);
  });
}

std::string FingerprintWsProxy::url() const {
  return "ws://127.0.0.1:" + std::to_string(server_->port()) + "/rtc";
}

std::string FingerprintWsProxy::lie_in_frame(const std::string& text, int* count) {
  int n = 0;
  std::optional<sig::Json> frame = sig::Json::parse(text);
  std::function<void(sig::Json&)> walk = [&](sig::Json& j) {
    if (j.is_array())
      for (auto& e : j.as_array()) walk(e);
    if (!j.is_object()) return;
    for (auto& [key, value] : j.as_object()) {
      if (key == "sdp" && value.is_string()) {
        int lies = 0;
        value = FingerprintProxy::lie_about(value.as_string(), &lies);
        n += lies;
      } else {
        walk(value);
      }
    }
  };
  if (frame) walk(*frame);
  if (count) *count = n;
  return n ? frame->dump() : text;
}

void FingerprintWsProxy::forward(Link& link, bool upstream, std::string_view text) {
  std::string out(text);
  if ((upstream && lie_ == Lie::kOffer) || (!upstream && lie_ == Lie::kAnswer)) {
    int n = 0;
    out = lie_in_frame(out, &n);
    if (n) ++rewritten_;
  }
  if (!upstream)
    link.client->send_text(out);
  else if (link.upstream)
    link.upstream->send_text(out);
  else
    link.queued.push_back(std::move(out));
}

void FingerprintWsProxy::accept(std::unique_ptr<sig::WebSocket> client) {
  auto link = std::make_shared<Link>();
  link->client = std::move(client);
  links_.push_back(link);
  // Either side closing closes the other and forgets the pair (later, not
  // from inside the socket's own callback).
  auto end = [this, weak = std::weak_ptr<Link>(link)](int code, const std::string& reason) {
    auto l = weak.lock();
    if (!l || l->closed) return;
    l->closed = true;
    if (l->client->open()) l->client->close(code == 1006 ? 1001 : code, reason);
    if (l->upstream && l->upstream->open()) l->upstream->close(1001, reason);
    worker_.post([this, l] { links_.remove(l); });
  };
  Link* raw = link.get();
  link->client->set_callbacks({.on_text = [this, raw](std::string_view t) { forward(*raw, true, t); },
                               .on_closed = end});
  struct Connect {
    FingerprintWsProxy* self;
    std::weak_ptr<Link> link;
    std::function<void(int, const std::string&)> end;
  };
  SoupMessage* msg = soup_message_new("GET", target_.c_str());
  soup_session_websocket_connect_async(
      session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
      +[](GObject* source, GAsyncResult* res, gpointer data) {
        std::unique_ptr<Connect> c(static_cast<Connect*>(data));
        GError* err = nullptr;
        SoupWebsocketConnection* conn =
            soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &err);
        auto l = c->link.lock();
        if (!conn) {
          std::string why = err ? err->message : "upstream refused";
          g_clear_error(&err);
          if (l) c->end(1011, why);
          return;
        }
        if (!l || l->closed) {
          g_object_unref(conn);
          return;
        }
        l->upstream = std::make_unique<sig::WebSocket>(c->self->worker_.context(), conn);
        g_object_unref(conn);
        Link* raw = l.get();
        FingerprintWsProxy* self = c->self;
        l->upstream->set_callbacks(
            {.on_text = [self, raw](std::string_view t) { self->forward(*raw, false, t); },
             .on_closed = c->end});
        for (auto& text : l->queued) l->upstream->send_text(text);
        l->queued.clear();
      },
      new Connect{this, link, end});
  g_object_unref(msg);
}

}  // namespace rtcmesh::test
