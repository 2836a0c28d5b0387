// SDP checks for offers we receive and RFC 8840 trickle fragments. Parsing is
// GstSDPMessage's; on top of it we validate structure ourselves because
// GstSDPMessage accepts almost any text.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rtcmesh::sig {

// what() is the reason given to the client (HTTP 400 body).
class SdpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MediaSummary {
  std::string kind;                 // audio|video|application (as written)
  std::string mid;                  // empty when the offer has no a=mid
  std::vector<std::string> codecs;  // upper-case encoding names in offer order, unique
  std::string direction;            // sendrecv|sendonly|recvonly|inactive
  bool port_zero = false;
  bool bundle_only = false;
  // Will carry media: not disabled (port 0 without bundle-only) and not inactive.
  bool active() const { return (!port_zero || bundle_only) && direction != "inactive"; }
};

struct SdpSummary {
  std::vector<MediaSummary> media;
  std::string ice_ufrag, ice_pwd;  // session level, else the first media level
  // Index of the m-section with that mid, or -1.
  int mline_index(std::string_view mid) const;
};

// Throws SdpError on: empty, not starting with "v=0", lines not of the form
// "x=...", missing o=/s=/t=, no m= line, a malformed m= or a=rtpmap line,
// duplicate mids, BUNDLE naming an unknown mid, and a missing
// ice-ufrag/ice-pwd/fingerprint/setup for an m-section that is not disabled.
// Accepts CRLF and LF.
SdpSummary validate_offer(std::string_view sdp);

struct TrickleCandidate {
  std::string mid;
  int mline_index = -1;
  std::string candidate;  // "candidate:..." without "a="
};

struct TrickleFragment {
  std::string ice_ufrag, ice_pwd;
  std::vector<TrickleCandidate> candidates;
  bool end_of_candidates = false;
};

// Parses application/trickle-ice-sdpfrag (RFC 8840). Candidates belong to the
// a=mid of their section, never to the m= line's kind (some clients write
// "m=audio 9 RTP/AVP 0" for every mid); a section without a=mid leaves mid
// empty and sets mline_index to its position; candidates before any m= line
// take a session-level a=mid if there is one. Sloppy input is normalised:
// component 0 becomes 1 and "[v6addr]" becomes "v6addr". Throws SdpError with
// a reason for what cannot be understood.
TrickleFragment parse_trickle_fragment(std::string_view body);

// Normalises one candidate ("candidate:..." with or without "a=" prefix).
// Throws SdpError.
std::string normalize_candidate(std::string_view candidate);

// Writes `announced` addresses into host candidates (1:1 NAT, containers):
// the address of every "candidate:... typ host" line of `sdp` (an SDP, or
// one candidate with or without "a=") becomes the first announced address
// of its family (IPv4 or IPv6); candidates of a family with none announced,
// and other types, are kept. Line endings are kept.
std::string announce_host_candidates(std::string_view sdp, const std::vector<std::string>& announced);

// Converts LF line endings to CRLF, ensuring a final CRLF.
std::string to_crlf(std::string_view sdp);

}  // namespace rtcmesh::sig
