// libFuzzer target: SDP offer validation (signaling/http/sdp.h validate_offer),
// what every WHIP/WHEP POST and JSON-RPC offer/publish body goes through.
// Input: the offer text. SdpError is the documented refusal; any other
// exception, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "signaling/http/sdp.h"

using namespace rtcmesh::sig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sdp(reinterpret_cast<const char*>(data), size);
  try {
    SdpSummary s = validate_offer(sdp);
    for (size_t i = 0; i < s.media.size(); ++i) {
      const MediaSummary& m = s.media[i];
      (void)m.active();
      // Mids are unique: each finds its own section.
      if (!m.mid.empty() && s.mline_index(m.mid) != static_cast<int>(i)) __builtin_trap();
    }
    (void)to_crlf(sdp);
  } catch (const SdpError&) {
  }
  return 0;
}
