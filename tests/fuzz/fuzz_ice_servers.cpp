// libFuzzer target: ICE server URIs and RFC 9725 Link headers
// (signaling/http/ice_servers.h): what users type in properties and options,
// and the Link header a WHIP/WHEP client reads from a server.
// Input: first byte even → a Link header value (parse_links,
// parse_link_header); odd → lines: the STUN server, then TURN servers.
// Round trips must hold: what we parse, written as a Link header or a
// webrtcbin URI, parses back to the same servers.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/http/ice_servers.h"

using namespace rtcmesh::sig;

namespace {
void check_round_trips(const std::vector<IceServer>& servers) {
  if (servers.empty()) return;
  if (parse_link_header(link_header(servers)) != servers) __builtin_trap();
  for (const IceServer& s : servers) {
    std::string uri = to_gst_uri(s);
    std::vector<IceServer> back;
    try {
      back = s.url.starts_with("stun") ? parse_ice_servers(uri, {}) : parse_ice_servers("", {uri});
    } catch (const std::invalid_argument&) {
      __builtin_trap();  // a URI we wrote, we must read
    }
    if (back.size() != 1 || back[0] != s) {
      fprintf(stderr, "round trip through '%s' changed {%s, %s, %s}\n", uri.c_str(), s.url.c_str(),
              s.username.c_str(), s.credential.c_str());
      __builtin_trap();
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    for (const Link& l : parse_links(text)) (void)l.has_rel("ice-server");
    // Servers from a peer's header are only passed on, not re-validated, but
    // what we write from them must read back the same.
    std::vector<IceServer> servers = parse_link_header(text);
    (void)link_header(servers);
  } else {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i == text.size() || text[i] == '\n') {
        lines.emplace_back(text.substr(start, i - start));
        start = i + 1;
      }
    }
    std::string stun = lines.front();
    lines.erase(lines.begin());
    try {
      check_round_trips(parse_ice_servers(stun, lines));
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
