// A man in the middle of WHIP/WHEP signaling: an HTTP proxy in front of an
// endpoint that rewrites the a=fingerprint lines of the offers it forwards
// (Lie::kOffer: the server is told of a certificate the client does not
// have) or of the answers it returns (Lie::kAnswer: the other way round).
// With the UDP flow left alone, each side then meets a certificate that does
// not match what it was told: what an attacker who can also redirect the
// media would exploit, and what Peer must refuse.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <string>

#include "gst/common/worker.h"
#include "signaling/http/http_client.h"
#include "signaling/http/http_server.h"
#include "signaling/json.h"

typedef struct _SoupSession SoupSession;

namespace rtcmesh::test {

class FingerprintProxy {
 public:
  enum class Lie { kNone, kOffer, kAnswer };
  // `target`: the endpoint's base URL ("http://127.0.0.1:PORT").
  FingerprintProxy(std::string target, Lie lie);
  ~FingerprintProxy();
  std::string url(const std::string& path) const;  // "http://127.0.0.1:PROXYPORT" + path
  int rewritten() const { return rewritten_; }      // SDP bodies changed so far

  // "a=fingerprint:sha-256 AB:…:CD" → the same with the last digit changed:
  // the fingerprint of another certificate.
  static std::string lie_about(const std::string& sdp, int* count = nullptr);

 private:
  void forward(const sig::HttpRequest& request, sig::Responder respond);

  std::string target_;
  Lie lie_;
  std::atomic<int> rewritten_{0};
  Worker worker_{"fp-proxy"};
  std::unique_ptr<sig::HttpServer> server_;
  std::unique_ptr<sig::HttpClient> client_;
};

// The same man in the middle for the JSON-RPC room protocol: a WebSocket
// proxy in front of a room server that rewrites the a=fingerprint of every
// "sdp" its client sends (Lie::kOffer: the client's offers and answers, so
// the room is told of a certificate the client does not have) or receives
// (Lie::kAnswer: the client is lied to about the other participants).
class FingerprintWsProxy {
 public:
  using Lie = FingerprintProxy::Lie;
  // `target`: the room's WebSocket URL ("ws://127.0.0.1:PORT/rtc").
  FingerprintWsProxy(std::string target, Lie lie);
  ~FingerprintWsProxy();
  std::string url() const;                      // "ws://127.0.0.1:PROXYPORT/rtc"
  int rewritten() const { return rewritten_; }  // frames changed so far

  // A JSON-RPC frame with every "sdp" string member lied about (other
  // frames as they were).
  static std::string lie_in_frame(const std::string& text, int* count = nullptr);

 private:
  struct Link;  // one client's socket and its upstream socket
  void accept(std::unique_ptr<sig::WebSocket> client);
  void forward(Link& link, bool upstream, std::string_view text);

  std::string target_;
  Lie lie_;
  std::atomic<int> rewritten_{0};
  Worker worker_{"fp-ws-proxy"};
  std::unique_ptr<sig::HttpServer> server_;
  SoupSession* session_ = nullptr;
  std::list<std::shared_ptr<Link>> links_;  // worker thread only
};

}  // namespace rtcmesh::test
