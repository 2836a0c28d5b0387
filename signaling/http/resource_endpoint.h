// The server side of WHIP and WHEP (DESIGN §7): HTTP semantics of the
// endpoint and its session resources, independent of sockets and pipelines.
// An element feeds it HttpRequests (from HttpServer) and implements Handler.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "signaling/auth/tokens.h"
#include "signaling/address_limits.h"
#include "signaling/http/http.h"
#include "signaling/http/ice_servers.h"
#include "signaling/http/sdp.h"

namespace rtcmesh::sig {

class ResourceEndpoint {
 public:
  struct Config {
    std::string path = "/whip";          // POST at <path>, <path>/<room>, <path>/<room>/<publisher>
    std::string token;                   // static Bearer token; all three empty = open
    // Signed tokens (signaling/auth/tokens.h): the HS256 secret, the ES256
    // public key (PEM). A JWT must be for the room and grant `grant`; a
    // publisher name in the path must be its `sub` (WHIP).
    std::string token_secret, token_public_key;
    unsigned grant = 0;                  // kGrantPublish (WHIP) or kGrantSubscribe (WHEP)
    unsigned max_sessions = 0;           // 0 = unlimited; over → 503
    size_t max_sdp = 64 * 1024;          // offer / fragment size limit → 413
    std::vector<IceServer> ice_servers;  // Link on OPTIONS and on 201
    // Accepted encoding names (upper-case); empty = any. An offer without an
    // active m-line carrying one → 422 naming what was offered and accepted.
    std::vector<std::string> video_codecs, audio_codecs;
    int track_count = -1;  // >= 0: OPTIONS adds Link: <path>; rel="urn:rtcmesh:tracks"; count=K
    // "" any; "sendonly": the offer must send (WHIP server); "recvonly": it
    // must receive (WHEP server). sendrecv m-lines are always accepted.
    std::string accepted_direction;
    // Per client address (shared with the server's other endpoints): a POST
    // past the rate, or a session past the address's cap, gets 429 with
    // Retry-After and the reason. Null = no per-address limits.
    std::shared_ptr<AddressLimits> address_limits;
    // POST /rtc (signaling over a data channel): the offer must open a data
    // channel (an active application m-line) and needs no audio or video;
    // one without → 422.
    bool data_channel = false;
  };
  struct Offer {
    std::string id;  // 128-bit random, 32 hex chars
    std::string room, publisher;
    std::string sdp;
    SdpSummary summary;
    std::string remote_address;
    std::string bearer;  // the Authorization token as sent ("Bearer " removed), or ""
  };
  struct Answer {
    int status = 201;    // anything else: an error reply with that status (4xx/5xx)
    std::string reason;  // error reason for the client
    std::string sdp;     // the answer on 201
  };
  struct Handler {
    virtual ~Handler() = default;
    // Reply exactly once, from any thread. Not called with the endpoint's
    // lock held; a reply from inside on_offer is fine.
    virtual void on_offer(const Offer& offer, std::function<void(Answer)> reply) = 0;
    virtual void on_trickle(const std::string& id, const std::vector<TrickleCandidate>& candidates,
                            bool end_of_candidates) = 0;
    virtual void on_delete(const std::string& id) = 0;
  };

  // `handler` must outlive the endpoint. Throws std::invalid_argument when
  // the token keys are unusable.
  ResourceEndpoint(Config config, Handler& handler);
  ~ResourceEndpoint();
  ResourceEndpoint(const ResourceEndpoint&) = delete;
  ResourceEndpoint& operator=(const ResourceEndpoint&) = delete;

  // All HTTP semantics; responds exactly once (maybe later, from the thread
  // that replies to on_offer).
  void handle(const HttpRequest& request, Responder respond);
  // The element ended a session itself (timeout, failure): later PATCH and
  // DELETE get 404. Thread-safe.
  void remove(const std::string& id);
  size_t session_count() const;  // thread-safe
  std::vector<std::string> session_ids() const;
  const Config& config() const;

  // The CORS headers every response carries; for HttpServer::Options::
  // extra_headers so the server's own errors (413, 404) carry them too.
  static Headers cors_headers(std::string_view origin = {});

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rtcmesh::sig
