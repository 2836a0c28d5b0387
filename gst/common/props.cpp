#include "gst/common/props.h"

#include <gio/gio.h>
#include <gst/gst.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>

namespace rtcmesh {

GParamFlags rw_flags(bool playing) {
  return GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                     (playing ? GST_PARAM_MUTABLE_PLAYING : GST_PARAM_MUTABLE_READY));
}

GParamFlags ro_flags() { return GParamFlags(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS); }

void install_string(GObjectClass* klass, guint id, const char* name, const char* blurb,
                    const char* def) {
  g_object_class_install_property(klass, id,
                                  g_param_spec_string(name, name, blurb, def, rw_flags()));
}

void install_uint(GObjectClass* klass, guint id, const char* name, const char* blurb, guint min,
                  guint max, guint def) {
  g_object_class_install_property(klass, id,
                                  g_param_spec_uint(name, name, blurb, min, max, def, rw_flags()));
}

void install_bool(GObjectClass* klass, guint id, const char* name, const char* blurb,
                  gboolean def) {
  g_object_class_install_property(klass, id,
                                  g_param_spec_boolean(name, name, blurb, def, rw_flags()));
}

void install_eos_on_leave(GObjectClass* klass, guint id) {
  g_object_class_install_property(
      klass, id,
      g_param_spec_boolean(
          "eos-on-leave", "eos-on-leave",
          "A publisher that leaves: false = its linked src pads stay (no EOS; the stream "
          "pauses) and the next session under the same name continues on them (unlinked ones "
          "go); true = EOS out of its pads, then they are removed (muxers finish; a gst-launch pipeline whose only sink "
          "it fed ends). EOS sent to the element (gst-launch -e) ends every pad either way",
          FALSE, rw_flags(true)));
}

GParamSpec* copy_param_spec(GParamSpec* spec) {
  const char* n = g_param_spec_get_name(spec);
  const char* nick = g_param_spec_get_nick(spec);
  const char* blurb = g_param_spec_get_blurb(spec);
  auto flags = GParamFlags(spec->flags | G_PARAM_STATIC_STRINGS);
  GType t = G_PARAM_SPEC_VALUE_TYPE(spec);
  if (G_IS_PARAM_SPEC_UINT(spec)) {
    auto* u = G_PARAM_SPEC_UINT(spec);
    return g_param_spec_uint(n, nick, blurb, u->minimum, u->maximum, u->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_INT(spec)) {
    auto* i = G_PARAM_SPEC_INT(spec);
    return g_param_spec_int(n, nick, blurb, i->minimum, i->maximum, i->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_UINT64(spec)) {
    auto* u = G_PARAM_SPEC_UINT64(spec);
    return g_param_spec_uint64(n, nick, blurb, u->minimum, u->maximum, u->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_DOUBLE(spec)) {
    auto* d = G_PARAM_SPEC_DOUBLE(spec);
    return g_param_spec_double(n, nick, blurb, d->minimum, d->maximum, d->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_BOOLEAN(spec))
    return g_param_spec_boolean(n, nick, blurb, G_PARAM_SPEC_BOOLEAN(spec)->default_value, flags);
  if (G_IS_PARAM_SPEC_STRING(spec))
    return g_param_spec_string(n, nick, blurb, G_PARAM_SPEC_STRING(spec)->default_value, flags);
  if (G_IS_PARAM_SPEC_ENUM(spec))
    return g_param_spec_enum(n, nick, blurb, t, G_PARAM_SPEC_ENUM(spec)->default_value, flags);
  if (G_IS_PARAM_SPEC_BOXED(spec)) return g_param_spec_boxed(n, nick, blurb, t, flags);
  return nullptr;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  gchar** parts = g_strsplit(s.c_str(), ",", -1);
  for (gchar** p = parts; *p; ++p) {
    g_strstrip(*p);
    if (**p) out.emplace_back(*p);
  }
  g_strfreev(parts);
  return out;
}

void IceProps::install(GObjectClass* klass, guint first) {
  install_string(klass, first + kStun, "stun-server",
                 "STUN server as stun://host:port (none by default: an unreachable one delays "
                 "every connection by seconds)");
  install_string(klass, first + kTurn, "turn-servers",
                 "Comma-separated TURN servers as turn(s)://user:password@host:port");
  g_object_class_install_property(
      klass, first + kPolicy,
      g_param_spec_string("ice-transport-policy", "ice-transport-policy",
                          "ICE transport policy: all or relay (TURN only)", "all", rw_flags()));
  install_string(klass, first + kLocalAddresses, "ice-local-addresses",
                 "Comma-separated local addresses to gather candidates on, instead of every "
                 "interface (loopback is skipped otherwise, unless the server's URL is on "
                 "loopback: then loopback and every interface); a server bound to one address "
                 "also gathers on it");
}

bool IceProps::set(guint first, guint id, const GValue* value) {
  if (id < first || id >= first + kCount) return false;
  const char* s = g_value_get_string(value);
  std::string v = s ? s : "";
  switch (id - first) {
    case kStun: stun_server = v; break;
    case kTurn: turn_servers = v; break;
    case kPolicy: relay_only = (v == "relay"); break;
    case kLocalAddresses: local_addresses = v; break;
  }
  return true;
}

bool IceProps::get(guint first, guint id, GValue* value) const {
  if (id < first || id >= first + kCount) return false;
  switch (id - first) {
    case kStun: g_value_set_string(value, stun_server.c_str()); break;
    case kTurn: g_value_set_string(value, turn_servers.c_str()); break;
    case kPolicy: g_value_set_string(value, relay_only ? "relay" : "all"); break;
    case kLocalAddresses: g_value_set_string(value, local_addresses.c_str()); break;
  }
  return true;
}

void AddressLimitProps::install(GObjectClass* klass, guint first) {
  const sig::AddressLimits::Config d;  // its comment says why these defaults
  g_object_class_install_property(
      klass, first + kRate,
      g_param_spec_double("rate-per-address", "rate-per-address",
                          "Session-creating requests (WHIP/WHEP POST, JSON-RPC join, WebSocket "
                          "connections) one client address may make per second after its burst "
                          "(0 = no limit); past it 429 with Retry-After, join -32008",
                          0, 1e6, d.rate, rw_flags()));
  install_uint(klass, first + kBurst, "burst-per-address",
               "Session-creating requests one client address may make at once after a quiet "
               "time (the token bucket of rate-per-address)",
               1, 1000000, d.burst);
  install_uint(klass, first + kMaxSessions, "max-sessions-per-address",
               "Sessions one client address may hold at once: WHIP publishers, WHEP players and "
               "JSON-RPC connections (0 = no limit); past it 429 with Retry-After, a WebSocket "
               "is closed 4029. An IPv6 client counts by its /64; loopback is not exempt",
               0, G_MAXUINT, d.max_sessions);
}

bool AddressLimitProps::set(guint first, guint id, const GValue* value) {
  if (id < first || id >= first + kCount) return false;
  switch (id - first) {
    case kRate: config.rate = g_value_get_double(value); break;
    case kBurst: config.burst = g_value_get_uint(value); break;
    case kMaxSessions: config.max_sessions = g_value_get_uint(value); break;
  }
  return true;
}

bool AddressLimitProps::get(guint first, guint id, GValue* value) const {
  if (id < first || id >= first + kCount) return false;
  switch (id - first) {
    case kRate: g_value_set_double(value, config.rate); break;
    case kBurst: g_value_set_uint(value, config.burst); break;
    case kMaxSessions: g_value_set_uint(value, config.max_sessions); break;
  }
  return true;
}

IceSettings IceProps::settings() const {
  IceSettings s;
  s.stun_server = stun_server;
  s.turn_servers = split_list(turn_servers);
  s.relay_only = relay_only;
  s.local_addresses = split_list(local_addresses);
  return s;
}

IceSettings IceProps::server_settings(const std::string& bound_address,
                                      const std::vector<std::string>& announced) const {
  IceSettings s = settings();
  s.announced_addresses = announced;
  GInetAddress* bound = g_inet_address_new_from_string(bound_address.c_str());
  if (bound && !g_inet_address_get_is_any(bound) &&
      std::find(s.local_addresses.begin(), s.local_addresses.end(), bound_address) ==
          s.local_addresses.end())
    s.local_addresses.push_back(bound_address);
  if (bound) g_object_unref(bound);
  return s;
}

namespace {

// The host of "scheme://[user@]host[:port]/...", brackets of an IPv6 literal
// removed. Plain parsing: no GLib types here (see client_settings).
std::string url_host(const std::string& url) {
  size_t at = url.find("://");
  if (at == std::string::npos) return "";
  std::string authority = url.substr(at + 3, url.find_first_of("/?#", at + 3) - (at + 3));
  if (size_t user = authority.rfind('@'); user != std::string::npos) authority.erase(0, user + 1);
  if (!authority.empty() && authority[0] == '[') return authority.substr(1, authority.find(']') - 1);
  return authority.substr(0, authority.find(':'));
}

bool is_loopback_host(const std::string& url) {
  const std::string host = url_host(url);
  if (host == "localhost") return true;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// What libnice gathers by default (interfaces that are up; no IPv6
// link-local), plus loopback.
std::vector<std::string> interface_addresses_and_loopback() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {"127.0.0.1"};
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
    char text[INET6_ADDRSTRLEN] = "";
    if (i->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(&a)) continue;
      inet_ntop(AF_INET6, &a, text, sizeof text);
    }
    if (*text && std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

IceSettings IceProps::client_settings(const std::string& server_url) const {
  IceSettings s = settings();
  if (s.local_addresses.empty() && is_loopback_host(server_url))
    s.local_addresses = interface_addresses_and_loopback();
  return s;
}

void use_link_servers(IceSettings& ice, const std::vector<sig::IceServer>& servers) {
  if (!ice.stun_server.empty() || !ice.turn_servers.empty()) return;
  for (const auto& server : servers) {
    if (g_str_has_prefix(server.url.c_str(), "stun")) {
      if (ice.stun_server.empty()) ice.stun_server = sig::to_gst_uri(server);
    } else {
      ice.turn_servers.push_back(sig::to_gst_uri(server));
    }
  }
}

}  // namespace rtcmesh
