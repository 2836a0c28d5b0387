// STUN/TURN server lists: parsing what users type, the RFC 9725 Link header
// carried by WHIP/WHEP, and the URI form webrtcbin wants.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rtcmesh::sig {

struct IceServer {
  std::string url;  // "stun:host:port" or "turn:host:port?transport=udp" (RFC 7064/7065)
  std::string username, credential;
  bool operator==(const IceServer&) const = default;
};

// Accepts "stun://host:port", "stun:host:port", "turn(s)://user:pass@host:port"
// (webrtcbin style, user/pass percent-decoded), "turn(s):host:port?transport=tcp"
// with "user:pass@". Port defaults to 3478 (5349 for turns). An empty
// stun_server means none. Throws std::invalid_argument with the reason.
std::vector<IceServer> parse_ice_servers(std::string_view stun_server,
                                         const std::vector<std::string>& turn_servers);

// RFC 9725 §4.6: `<stun:h:p>; rel="ice-server"` and for TURN
// `; username="u"; credential="c"; credential-type="password"`, comma-separated.
std::string link_header(const std::vector<IceServer>& servers);
// The ice-server entries of one or more Link header values; other rels ignored.
std::vector<IceServer> parse_link_header(std::string_view value);

// One link-value of a Link header: target and parameters (names lower-case,
// values unquoted).
struct Link {
  std::string target;
  std::map<std::string, std::string> params;
  bool has_rel(std::string_view rel) const;  // rel may list several, space-separated
};
std::vector<Link> parse_links(std::string_view value);

// "stun://h:p", "turn://user:pass@h:p" (user/pass percent-encoded),
// "turns://…", with "?transport=tcp" kept, for webrtcbin's properties.
std::string to_gst_uri(const IceServer& server);

}  // namespace rtcmesh::sig
