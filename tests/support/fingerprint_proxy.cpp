#include "tests/support/fingerprint_proxy.h"

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

}  // namespace rtcmesh::test
