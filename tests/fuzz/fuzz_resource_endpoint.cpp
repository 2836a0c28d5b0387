// libFuzzer target: the WHIP/WHEP resource endpoint
// (signaling/http/resource_endpoint.h): method, path, headers and body of a
// sequence of requests against one endpoint, with a handler that answers,
// refuses or defers offers.
// Input (text):
//   line 1: flags: t token "s3cret", l max 2 sessions, c VP8/OPUS only,
//           s sendonly offers only, r recvonly only, k track count 2,
//           e handler answers 503, d handler defers (answers at FLUSH or the end),
//           x deferred answers come after the endpoint is gone (an element
//           torn down while webrtcbin still works), w path /whep
//   then requests separated by a line "%%": "METHOD PATH[?QUERY]", header
//   lines "Name: value", an empty line, the body. In PATH, "$0".."$9" stand
//   for a live session id (so PATCH/DELETE reach real resources); the method
//   FLUSH answers the deferred offers.
// Every request is answered at most once, with a status of 100..599.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/http/resource_endpoint.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/unit/sdp_samples.h"

using namespace rtcmesh::sig;
using rtcmesh::fuzz::split;
using rtcmesh::fuzz::take_line;
namespace test = rtcmesh::test;

namespace {

struct Handler : ResourceEndpoint::Handler {
  bool error = false, defer = false;
  std::vector<std::function<void(ResourceEndpoint::Answer)>> deferred;
  void on_offer(const ResourceEndpoint::Offer& offer,
                std::function<void(ResourceEndpoint::Answer)> reply) override {
    if (offer.id.size() != 32) __builtin_trap();
    if (defer)
      deferred.push_back(std::move(reply));
    else if (error)
      reply({503, "no encoder available", ""});
    else
      reply({201, "", test::answer_sdp()});
  }
  void on_trickle(const std::string&, const std::vector<TrickleCandidate>&, bool) override {}
  void on_delete(const std::string&) override {}
  void flush() {
    auto now = std::move(deferred);
    deferred.clear();
    for (auto& reply : now) reply({201, "", test::answer_sdp()});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  rtcmesh::fuzz::Flags has(input);

  ResourceEndpoint::Config cfg;
  if (has('w')) cfg.path = "/whep";
  if (has('t')) cfg.token = "s3cret";
  if (has('l')) cfg.max_sessions = 2;
  if (has('c')) cfg.video_codecs = {"VP8"}, cfg.audio_codecs = {"OPUS"};
  if (has('s')) cfg.accepted_direction = "sendonly";
  if (has('r')) cfg.accepted_direction = "recvonly";
  if (has('k')) cfg.track_count = 2;
  cfg.max_sdp = 16 * 1024;
  cfg.ice_servers = {{"stun:stun.example.org:3478", "", ""},
                     {"turn:turn.example.org:3478?transport=udp", "user", "pass"}};
  Handler handler;
  handler.error = has('e');
  handler.defer = has('d');

  auto answered = std::make_shared<std::vector<int>>();  // responses per request
  {
    ResourceEndpoint ep(cfg, handler);
    for (std::string_view chunk : split(input, "\n%%\n")) {
      std::string_view request_line = take_line(chunk);
      size_t sp = request_line.find(' ');
      HttpRequest req;
      req.method = std::string(request_line.substr(0, sp));
      std::string target(sp == std::string_view::npos ? "" : request_line.substr(sp + 1));
      if (req.method == "FLUSH") {
        handler.flush();
        continue;
      }
      std::vector<std::string> ids = ep.session_ids();
      for (size_t at; (at = target.find('$')) != std::string::npos && at + 1 < target.size();) {
        char d = target[at + 1];
        std::string id = ids.empty() || d < '0' || d > '9' ? "" : ids[(d - '0') % ids.size()];
        target.replace(at, 2, id);
      }
      size_t q = target.find('?');
      req.path = target.substr(0, q);
      if (q != std::string::npos) req.query = target.substr(q + 1);
      for (std::string_view line; !chunk.empty() && !(line = take_line(chunk)).empty();) {
        size_t colon = line.find(':');
        std::string_view value =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        req.headers.add(std::string(line.substr(0, colon)), std::string(value));
      }
      req.body = std::string(chunk);
      req.remote_address = "192.0.2.1";
      size_t index = answered->size();
      answered->push_back(0);
      ep.handle(req, [answered, index](HttpResponse r) {
        if (r.status < 100 || r.status > 599) __builtin_trap();
        ++(*answered)[index];
      });
    }
    if (!has('x')) handler.flush();
    (void)ep.session_count();
  }
  handler.flush();
  for (int n : *answered)
    if (n > 1) __builtin_trap();
  return 0;
}
