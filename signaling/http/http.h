// HTTP value types shared by the server, the client and the WHIP/WHEP logic.
// Plain values: no libsoup types leak into the protocol code or its tests.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtcmesh::sig {

// Case-insensitive header list (order kept, duplicates allowed).
class Headers {
 public:
  using Item = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Item> items);

  void add(std::string name, std::string value);
  // Replaces every header of that name with one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  bool has(std::string_view name) const;
  // The first value of that name.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  const std::vector<Item>& items() const { return items_; }
  bool empty() const { return items_.empty(); }

 private:
  std::vector<Item> items_;
};

struct HttpRequest {
  std::string method, path, query;  // path as sent (percent-encoded), query without '?'
  Headers headers;
  std::string body;
  std::string remote_address;
};

struct HttpResponse {
  int status = 200;
  std::string reason;  // reason phrase; empty = the standard one for status
  Headers headers;
  std::string content_type;
  std::string body;

  // text/plain response whose body is `why` plus a newline.
  static HttpResponse error(int status, std::string why);
  // A read-only HTML page: 200 with `html` for GET and HEAD (no-cache, no
  // Referer: a token may sit in the page's query string), else 405 with
  // `Allow: GET, HEAD` and `why_read_only`.
  static HttpResponse page(const std::string& method, std::string html,
                           const std::string& why_read_only);
};

// The standard reason phrase ("Not Found") or "Unknown".
const char* status_phrase(int status);

// Replies to one request. Call exactly once, from any thread: the reply is
// marshalled to the server's context; a no-op once the server stopped or the
// client left. A Responder dropped without being called answers 500.
using Responder = std::function<void(HttpResponse)>;

}  // namespace rtcmesh::sig
