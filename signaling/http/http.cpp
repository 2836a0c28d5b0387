#include "signaling/http/http.h"

#include <algorithm>

#include "signaling/util.h"

namespace rtcmesh::sig {

Headers::Headers(std::initializer_list<Item> items) : items_(items) {}

void Headers::add(std::string name, std::string value) {
  items_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(items_, [&](const Item& i) { return iequals(i.first, name); });
}

bool Headers::has(std::string_view name) const {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const Item& i) { return iequals(i.first, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : items_)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

std::vector<std::string> Headers::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : items_)
    if (iequals(n, name)) out.push_back(v);
  return out;
}

HttpResponse HttpResponse::error(int status, std::string why) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(why);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

HttpResponse HttpResponse::page(const std::string& method, std::string html,
                                const std::string& why_read_only) {
  if (method != "GET" && method != "HEAD") {
    HttpResponse r = error(405, method + " not allowed: " + why_read_only);
    r.headers.set("Allow", "GET, HEAD");
    return r;
  }
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(html);
  r.headers.set("Cache-Control", "no-cache");
  r.headers.set("Referrer-Policy", "no-referrer");
  r.headers.set("X-Content-Type-Options", "nosniff");
  return r;
}

const char* status_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace rtcmesh::sig
