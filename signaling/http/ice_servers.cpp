#include "signaling/http/ice_servers.h"

#include <glib.h>

#include <cctype>
#include <stdexcept>

#include "signaling/util.h"

namespace rtcmesh::sig {

namespace {

std::string unescape(std::string_view s, std::string_view what, std::string_view uri) {
  std::string in(s);
  char* out = g_uri_unescape_string(in.c_str(), nullptr);
  if (!out)
    throw std::invalid_argument("bad percent-encoding in the " + std::string(what) + " of '" +
                                std::string(uri) + "'");
  std::string r = out;
  g_free(out);
  return r;
}

std::string escape(std::string_view s) {
  std::string in(s);
  char* out = g_uri_escape_string(in.c_str(), nullptr, FALSE);
  std::string r = out;
  g_free(out);
  return r;
}

struct ParsedUri {
  std::string scheme;  // lower-case
  std::string user, pass;
  bool has_userinfo = false;
  std::string host;  // IPv6 kept in brackets
  unsigned port = 0;
  std::string transport;  // lower-case, may be empty
};

ParsedUri parse_uri(std::string_view text) {
  std::string_view t = trim(text);
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("invalid ICE server '" + std::string(t) + "': " + why);
  };
  auto colon = t.find(':');
  if (colon == std::string_view::npos || colon == 0) fail("expected scheme:host[:port]");
  ParsedUri u;
  u.scheme = to_lower(t.substr(0, colon));
  std::string_view rest = t.substr(colon + 1);
  if (rest.substr(0, 2) == "//") rest.remove_prefix(2);

  auto q = rest.find('?');
  if (q != std::string_view::npos) {
    for (std::string_view param : split(rest.substr(q + 1), '&')) {
      if (param.empty()) continue;
      auto eq = param.find('=');
      std::string name = to_lower(param.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : to_lower(param.substr(eq + 1));
      if (name != "transport") fail("unknown parameter '" + name + "'");
      if (value != "udp" && value != "tcp") fail("transport must be udp or tcp");
      u.transport = value;
    }
    rest = rest.substr(0, q);
  }
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto sep = userinfo.find(':');
    u.has_userinfo = true;
    u.user = unescape(userinfo.substr(0, sep), "user name", t);
    if (sep != std::string_view::npos) u.pass = unescape(userinfo.substr(sep + 1), "password", t);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view port_text;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) fail("unterminated [IPv6] address");
    u.host = std::string(rest.substr(0, close + 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("expected :port after the address");
      port_text = after.substr(1);
      has_port = true;
    }
    if (u.host.size() <= 2) fail("empty host");
    // Only what an IPv6 literal holds (hex, ':', '.', a zone "%eth0"):
    // anything else (<>;,", NUL) would end up as is in the Link header
    // and the webrtcbin URI written from it.
    for (char ch : std::string_view(u.host).substr(1, u.host.size() - 2))
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != ':' && ch != '.' && ch != '%' &&
          ch != '-' && ch != '_')
        fail("bad IPv6 address");
  } else {
    auto c = rest.find(':');
    if (c != std::string_view::npos && rest.find(':', c + 1) != std::string_view::npos)
      fail("IPv6 addresses need [brackets]");
    u.host = std::string(rest.substr(0, c));
    if (c != std::string_view::npos) {
      port_text = rest.substr(c + 1);
      has_port = true;
    }
    if (u.host.empty()) fail("empty host");
    for (char ch : u.host)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != '_')
        fail("bad host name");
  }
  if (has_port) {
    unsigned long long p = 0;
    if (!parse_uint(port_text, p) || p == 0 || p > 65535) fail("bad port");
    u.port = static_cast<unsigned>(p);
  }
  return u;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::vector<IceServer> parse_ice_servers(std::string_view stun_server,
                                         const std::vector<std::string>& turn_servers) {
  std::vector<IceServer> out;
  if (!trim(stun_server).empty()) {
    ParsedUri u = parse_uri(stun_server);
    if (u.scheme != "stun" && u.scheme != "stuns")
      throw std::invalid_argument("invalid STUN server '" + std::string(trim(stun_server)) +
                                  "': the scheme must be stun:");
    if (u.has_userinfo)
      throw std::invalid_argument("invalid STUN server '" + std::string(trim(stun_server)) +
                                  "': STUN servers take no credentials");
    unsigned port = u.port ? u.port : (u.scheme == "stuns" ? 5349 : 3478);
    out.push_back({u.scheme + ":" + u.host + ":" + std::to_string(port), "", ""});
  }
  for (const std::string& turn : turn_servers) {
    if (trim(turn).empty()) continue;
    ParsedUri u = parse_uri(turn);
    std::string shown(trim(turn));
    if (u.scheme != "turn" && u.scheme != "turns")
      throw std::invalid_argument("invalid TURN server '" + shown +
                                  "': the scheme must be turn: or turns:");
    if (!u.has_userinfo || u.user.empty())
      throw std::invalid_argument("invalid TURN server '" + shown +
                                  "': expected turn://user:password@host:port");
    // turns over UDP would be TURN over DTLS, which webrtcbin (libnice)
    // cannot use: its turns:// is TLS over TCP, so the URI we hand it would
    // silently say TCP while the Link header says UDP.
    if (u.scheme == "turns" && u.transport == "udp")
      throw std::invalid_argument("invalid TURN server '" + shown +
                                  "': turns: runs over TCP (TLS); transport=udp is not supported");
    unsigned port = u.port ? u.port : (u.scheme == "turns" ? 5349 : 3478);
    std::string transport =
        !u.transport.empty() ? u.transport : (u.scheme == "turns" ? "tcp" : "udp");
    out.push_back({u.scheme + ":" + u.host + ":" + std::to_string(port) + "?transport=" + transport,
                   u.user, u.pass});
  }
  return out;
}

std::string link_header(const std::vector<IceServer>& servers) {
  std::string out;
  for (const IceServer& s : servers) {
    if (!out.empty()) out += ", ";
    out += "<" + s.url + ">; rel=\"ice-server\"";
    if (!s.username.empty() || !s.credential.empty()) {
      out += "; username=" + quoted(s.username);
      out += "; credential=" + quoted(s.credential);
      out += "; credential-type=\"password\"";
    }
  }
  return out;
}

bool Link::has_rel(std::string_view rel) const {
  auto it = params.find("rel");
  if (it == params.end()) return false;
  for (std::string_view r : split_ws(it->second))
    if (iequals(r, rel)) return true;
  return false;
}

std::vector<Link> parse_links(std::string_view v) {
  std::vector<Link> links;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  };
  auto skip_to_next_link = [&] {
    bool in_quotes = false;
    for (; i < v.size(); ++i) {
      if (in_quotes && v[i] == '\\') {
        ++i;
      } else if (v[i] == '"') {
        in_quotes = !in_quotes;
      } else if (!in_quotes && v[i] == ',') {
        break;
      }
    }
  };
  while (i < v.size()) {
    skip_ws();
    if (i < v.size() && v[i] == ',') {
      ++i;
      continue;
    }
    if (i >= v.size()) break;
    if (v[i] != '<') {
      skip_to_next_link();
      continue;
    }
    size_t close = v.find('>', i);
    if (close == std::string_view::npos) break;
    Link link;
    link.target = std::string(trim(v.substr(i + 1, close - i - 1)));
    i = close + 1;
    while (true) {
      skip_ws();
      if (i >= v.size() || v[i] != ';') break;
      ++i;
      skip_ws();
      size_t start = i;
      while (i < v.size() && v[i] != '=' && v[i] != ';' && v[i] != ',' && v[i] != ' ' &&
             v[i] != '\t')
        ++i;
      std::string name = to_lower(v.substr(start, i - start));
      std::string value;
      skip_ws();
      if (i < v.size() && v[i] == '=') {
        ++i;
        skip_ws();
        if (i < v.size() && v[i] == '"') {
          ++i;
          while (i < v.size() && v[i] != '"') {
            if (v[i] == '\\' && i + 1 < v.size()) ++i;
            value += v[i++];
          }
          if (i < v.size()) ++i;  // closing quote
        } else {
          start = i;
          while (i < v.size() && v[i] != ';' && v[i] != ',' && v[i] != ' ' && v[i] != '\t') ++i;
          value = std::string(v.substr(start, i - start));
        }
      }
      if (!name.empty() && !link.params.count(name)) link.params[name] = value;
    }
    links.push_back(std::move(link));
    skip_to_next_link();
  }
  return links;
}

std::vector<IceServer> parse_link_header(std::string_view value) {
  std::vector<IceServer> out;
  for (const Link& l : parse_links(value)) {
    if (!l.has_rel("ice-server")) continue;
    std::string scheme = to_lower(l.target.substr(0, l.target.find(':')));
    if (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns") continue;
    IceServer s;
    s.url = l.target;
    if (auto it = l.params.find("username"); it != l.params.end()) s.username = it->second;
    if (auto it = l.params.find("credential"); it != l.params.end()) s.credential = it->second;
    out.push_back(std::move(s));
  }
  return out;
}

std::string to_gst_uri(const IceServer& server) {
  ParsedUri u = parse_uri(server.url);
  std::string out = u.scheme + "://";
  if (!server.username.empty() || !server.credential.empty())
    out += escape(server.username) + ":" + escape(server.credential) + "@";
  out += u.host;
  if (u.port) out += ":" + std::to_string(u.port);
  if (u.scheme == "turn" && u.transport == "tcp") out += "?transport=tcp";
  return out;
}

}  // namespace rtcmesh::sig
