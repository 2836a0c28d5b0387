// The client side of one WHIP/WHEP session over HttpClient: OPTIONS, the
// POST that creates the resource, batched trickle PATCHes and the DELETE.
// Lives on one GMainContext thread like HttpClient.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/http/http_client.h"
#include "signaling/http/ice_servers.h"
#include "signaling/http/sdp.h"

namespace rtcmesh::sig {

class ResourceClient {
 public:
  struct Options {
    std::string endpoint;  // http(s) URL of the WHIP/WHEP endpoint
    std::string token;     // sent as "Authorization: Bearer <token>" when set
    HttpClient::Options http;
    unsigned trickle_batch_ms = 50;      // candidates are collected this long per PATCH
    unsigned destroy_timeout_ms = 2000;  // destroy() gives up waiting after this
  };
  struct Created {
    int status = 0;      // 0 = network error
    std::string reason;  // error text (network error, or the server's reason)
    std::string answer_sdp;
    std::string location;  // absolute URL of the resource
    std::string etag;
    std::vector<IceServer> ice_servers;  // from Link
    bool ok() const { return (status == 201 || status == 200) && !answer_sdp.empty(); }
    // Network errors, 5xx, 408 and 429 are worth retrying; other 4xx are not.
    bool retryable() const;
  };
  using OptionsDone =
      std::function<void(int status, std::vector<IceServer> servers, int track_count)>;

  // Construct, use and destroy on the thread that runs ctx. Throws like
  // HttpClient when http.tls_ca_file cannot be loaded.
  ResourceClient(GMainContext* ctx, Options options);
  ~ResourceClient();  // cancels outstanding requests (call destroy() first to DELETE)
  ResourceClient(const ResourceClient&) = delete;
  ResourceClient& operator=(const ResourceClient&) = delete;

  // OPTIONS on the endpoint: Link ICE servers and the urn:rtcmesh:tracks
  // count (-1 when not advertised). status 0 = network error.
  void options(OptionsDone done);
  // POSTs the offer (application/sdp). 201 is required, 200 with an SDP body
  // is accepted; a relative Location is resolved against the final URL.
  void create(std::string offer_sdp, std::function<void(Created)> done);
  // Batched: candidates collected for trickle_batch_ms go in one PATCH
  // (If-Match: the ETag) with the offer's ice-ufrag/pwd and a=mid per
  // section; queued until the resource exists. Errors are only logged.
  void trickle(std::vector<TrickleCandidate> candidates, bool end_of_candidates);
  // DELETEs the resource if there is one (also when create() is still
  // running); `done` runs after the reply or destroy_timeout_ms.
  void destroy(std::function<void()> done = {});

  const std::string& location() const;
  const std::string& etag() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// An application/trickle-ice-sdpfrag body (RFC 8840, laid out like RFC 9725's
// example): one "m=audio 9 UDP/TLS/RTP/SAVPF 0" section per mid, in order of
// first appearance, each with a=mid, a=ice-ufrag, a=ice-pwd and its
// candidates; a=end-of-candidates closes the last section. With no
// candidates and `end`, one section for `default_mid` carries it.
std::string build_trickle_fragment(std::string_view ufrag, std::string_view pwd,
                                   const std::vector<TrickleCandidate>& candidates, bool end,
                                   std::string_view default_mid = {});

}  // namespace rtcmesh::sig
