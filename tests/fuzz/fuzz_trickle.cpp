// libFuzzer target: RFC 8840 trickle fragments and single candidates
// (signaling/http/sdp.h parse_trickle_fragment, normalize_candidate): the
// bodies of WHIP/WHEP PATCH and the JSON-RPC `candidate` strings.
// Input: first byte even → a whole fragment; odd → one candidate line.
// A normalised candidate must normalise to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "signaling/http/sdp.h"

using namespace rtcmesh::sig;

namespace {
void check_idempotent(const std::string& normalized) {
  std::string again;
  try {
    again = normalize_candidate(normalized);
  } catch (const SdpError&) {
    __builtin_trap();  // what we produced, we must accept
  }
  if (again != normalized) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      TrickleFragment f = parse_trickle_fragment(text);
      for (const TrickleCandidate& c : f.candidates) check_idempotent(c.candidate);
    } else {
      check_idempotent(normalize_candidate(text));
    }
  } catch (const SdpError&) {
  }
  return 0;
}
