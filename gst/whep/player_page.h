// The small player page rtcwhepsink serves at GET / and GET <path>/player:
// plain RTCPeerConnection + fetch, recvonly video and audio, same origin. It
// says when nothing is published yet (503: tries again after Retry-After) and
// plays anew, with backoff, when the stream is lost (pipeline or server
// restarted).
#pragma once

#include <string>

namespace rtcmesh {

// The page, playing the WHEP endpoint at `endpoint_path` (a ?token= in the
// page's own URL is sent as the Bearer token).
std::string whep_player_page(const std::string& endpoint_path);

}  // namespace rtcmesh
