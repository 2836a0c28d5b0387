#include "signaling/http/resource_endpoint.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "signaling/log.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

constexpr const char* kAllowMethods = "POST, PATCH, DELETE, OPTIONS";
constexpr const char* kAllowHeaders = "Content-Type, Authorization, If-Match, ETag";
constexpr const char* kExposeHeaders =
    "Location, ETag, Link, Accept-Patch, Access-Control-Allow-Methods";
constexpr const char* kTrickleType = "application/trickle-ice-sdpfrag";

bool valid_segment(std::string_view s) {
  if (s.empty() || s.size() > 64 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '~' ||
           c == '-';
  });
}

std::string strip_trailing_slashes(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  return std::string(p);
}

// Not real codecs: an m-line offering only these carries no media.
bool auxiliary_codec(const std::string& c) {
  return c == "RTX" || c == "RED" || c == "ULPFEC" || c == "FLEXFEC-03" || c == "CN" ||
         c == "TELEPHONE-EVENT";
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// If-Match / ETag request header against our ETag: a list, "*", weak
// validators and missing quotes are all tolerated.
bool etag_matches(std::string_view header, std::string_view etag) {
  std::string_view bare = etag;
  if (bare.size() >= 2 && bare.front() == '"') bare = bare.substr(1, bare.size() - 2);
  for (std::string_view item : split(header, ',')) {
    item = trim(item);
    if (item == "*") return true;
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item.size() >= 2 && item.front() == '"' && item.back() == '"')
      item = item.substr(1, item.size() - 2);
    if (constant_time_equal(item, bare)) return true;
  }
  return false;
}

}  // namespace

struct ResourceEndpoint::Impl {
  struct Session {
    std::string id, location, etag;
    std::string room, publisher;
    std::string ufrag, pwd;
    std::vector<std::string> mids;
    AddressLimits::LeasePtr lease;  // counts the session against its client's address
  };

  Impl(Config c, Handler& h)
      : cfg(std::move(c)),
        tokens(TokenKeys{cfg.token, cfg.token_secret, cfg.token_public_key}),
        handler(&h) {
    if (cfg.path.empty() || cfg.path.front() != '/') cfg.path = "/" + cfg.path;
    base = strip_trailing_slashes(cfg.path);
    for (auto& c : cfg.video_codecs) c = to_upper(c);
    for (auto& c : cfg.audio_codecs) c = to_upper(c);
  }

  Config cfg;
  TokenVerifier tokens;
  std::string base;  // cfg.path without trailing '/'
  Handler* handler;
  mutable std::mutex mu;
  std::unordered_map<std::string, Session> sessions;
  size_t pending_offers = 0;
};

namespace {

using Impl = ResourceEndpoint::Impl;

// Sends a response with CORS headers added.
struct Reply {
  Responder respond;
  std::string origin;
  void operator()(HttpResponse r) const {
    // Every 503 is temporary (a limit, a source not yet encoding): say when
    // to come back.
    if (r.status == 503 && !r.headers.has("Retry-After")) r.headers.add("Retry-After", "2");
    Headers cors = ResourceEndpoint::cors_headers(origin);
    for (const auto& [name, value] : cors.items())
      if (!r.headers.has(name)) r.headers.add(name, value);
    respond(std::move(r));
  }
  void error(int status, std::string why) const {
    GST_INFO("answering %d: %s", status, why.c_str());
    (*this)(HttpResponse::error(status, std::move(why)));
  }
  void error(int status, std::string why, Headers extra) const {
    GST_INFO("answering %d: %s", status, why.c_str());
    HttpResponse r = HttpResponse::error(status, std::move(why));
    for (const auto& [n, v] : extra.items()) r.headers.add(n, v);
    (*this)(std::move(r));
  }
};

// The token of an Authorization value: some players send it exactly as
// configured, without "Bearer ".
std::string_view token_text(std::string_view v) {
  return starts_with_icase(v, "bearer ") ? trim(v.substr(7)) : v;
}

// The claims of the request's token; nullopt (after answering 401) when it
// is missing or refused. An open endpoint allows everything.
std::optional<TokenClaims> authorized(const Impl& impl, const HttpRequest& req, const Reply& reply,
                                      bool check_times = true) {
  if (impl.tokens.open()) return TokenClaims::all();
  Headers challenge{{"WWW-Authenticate", "Bearer"}};
  auto auth = req.headers.get("Authorization");
  if (!auth || trim(*auth).empty()) {
    reply.error(401, "missing Authorization: Bearer <token>", challenge);
    return std::nullopt;
  }
  std::string_view v = trim(*auth);
  std::string_view tok = token_text(v);
  auto verdict = impl.tokens.verify(tok, TokenVerifier::wall_clock(), check_times);
  if (std::holds_alternative<TokenRefusal>(verdict) && tok != v) {
    // A static token that itself starts with "Bearer ", sent bare.
    auto whole = impl.tokens.verify(v, TokenVerifier::wall_clock(), check_times);
    if (std::holds_alternative<TokenClaims>(whole)) verdict = std::move(whole);
  }
  if (auto* refused = std::get_if<TokenRefusal>(&verdict)) {
    reply.error(refused->status, refused->reason, challenge);
    return std::nullopt;
  }
  return std::get<TokenClaims>(verdict);
}

// A session's PATCH and DELETE: a token that was good for its room (its
// expiry is not checked: the session outlives it).
bool authorized_for(const Impl& impl, const HttpRequest& req, const Impl::Session& s,
                    const Reply& reply) {
  auto claims = authorized(impl, req, reply, /*check_times=*/false);
  if (!claims) return false;
  if (auto refused = TokenVerifier::check(*claims, s.room, "", 0)) {
    reply.error(refused->status, refused->reason);
    return false;
  }
  return true;
}

void add_links(const Impl& impl, Headers& h) {
  if (!impl.cfg.ice_servers.empty()) h.add("Link", link_header(impl.cfg.ice_servers));
}

// An empty string when some m-line can be used, else the 422 reason.
std::string usable_media_problem(const Impl& impl, const SdpSummary& s) {
  const ResourceEndpoint::Config& cfg = impl.cfg;
  if (cfg.data_channel) {
    for (const MediaSummary& m : s.media)
      if (m.kind == "application" && m.active()) return {};
    return "no data channel: the offer must open one (an m=application webrtc-datachannel "
           "line, channel label 'rtcmesh') to carry the room protocol";
  }
  bool any_av = false, codec_ok_somewhere = false;
  std::vector<std::string> offered_dirs;
  std::vector<std::string> offered;
  for (const MediaSummary& m : s.media) {
    if (!m.active() || (m.kind != "audio" && m.kind != "video")) continue;
    any_av = true;
    const auto& accepted = m.kind == "video" ? cfg.video_codecs : cfg.audio_codecs;
    bool codec_ok = false;
    std::vector<std::string> real;
    for (const auto& c : m.codecs) {
      if (auxiliary_codec(c)) continue;
      real.push_back(c);
      if (accepted.empty() || std::find(accepted.begin(), accepted.end(), c) != accepted.end())
        codec_ok = true;
    }
    offered.push_back(m.kind + " " + (real.empty() ? std::string("(no codec)") : join(real, "/")));
    bool dir_ok = cfg.accepted_direction.empty() || m.direction == cfg.accepted_direction ||
                  m.direction == "sendrecv";
    if (codec_ok && dir_ok) return {};
    if (codec_ok) {
      codec_ok_somewhere = true;
      offered_dirs.push_back(m.direction);
    }
  }
  if (!any_av) return "no usable media: the offer has no active audio or video m-line";
  if (codec_ok_somewhere) {
    std::string what = cfg.accepted_direction == "sendonly"
                           ? "this endpoint receives media: it needs sendonly or sendrecv m-lines"
                           : "this endpoint sends media: it needs recvonly or sendrecv m-lines";
    return "no usable media: " + what + ", the offer has " + join(offered_dirs);
  }
  auto list = [](const std::vector<std::string>& v) { return v.empty() ? "any" : join(v, "/"); };
  return "no usable media: the offer has " + join(offered) + "; accepted are video " +
         list(cfg.video_codecs) + ", audio " + list(cfg.audio_codecs);
}

// on_offer's reply, callable once from any thread; dropping it unused
// answers 500 and frees the pending slot.
struct OfferReply {
  std::weak_ptr<Impl> impl;
  Reply reply;
  ResourceEndpoint::Offer offer;
  std::string location;
  AddressLimits::LeasePtr lease;  // goes to the session on 201
  std::atomic<bool> used{false};

  ~OfferReply() {
    if (!used.load()) {
      GST_WARNING("session %s: the offer handler dropped its reply", offer.id.c_str());
      deliver({500, "the offer was dropped unanswered", ""});
    }
  }

  void deliver(ResourceEndpoint::Answer a) {
    if (used.exchange(true)) {
      GST_WARNING("session %s: offer answered twice; ignoring the second", offer.id.c_str());
      return;
    }
    auto self = impl.lock();
    if (!self) {
      reply.error(503, "the endpoint stopped");
      return;
    }
    if (a.status == 201) {
      std::string sdp = to_crlf(trim(a.sdp));
      if (sdp.rfind("v=0\r\n", 0) != 0) {
        {
          std::lock_guard lock(self->mu);
          self->pending_offers--;
        }
        GST_ERROR("session %s: the handler's answer is not an SDP", offer.id.c_str());
        reply.error(500, "internal error: no SDP answer");
        // The handler believes the session exists: tell it that it does not.
        self->handler->on_delete(offer.id);
        return;
      }
      Impl::Session s;
      s.id = offer.id;
      s.location = location;
      s.etag = "\"" + random_hex(8) + "\"";
      s.room = offer.room;
      s.publisher = offer.publisher;
      s.ufrag = offer.summary.ice_ufrag;
      s.pwd = offer.summary.ice_pwd;
      for (const auto& m : offer.summary.media) s.mids.push_back(m.mid);
      s.lease = std::move(lease);
      HttpResponse r;
      r.status = 201;
      r.headers.add("Location", s.location);
      r.headers.add("ETag", s.etag);
      r.headers.add("Accept-Patch", kTrickleType);
      add_links(*self, r.headers);
      r.content_type = "application/sdp";
      r.body = std::move(sdp);
      {
        std::lock_guard lock(self->mu);
        self->pending_offers--;
        self->sessions.emplace(s.id, std::move(s));
      }
      GST_INFO("session %s created at %s", offer.id.c_str(), location.c_str());
      reply(std::move(r));
      return;
    }
    {
      std::lock_guard lock(self->mu);
      self->pending_offers--;
    }
    int status = a.status >= 400 && a.status <= 599 ? a.status : 500;
    std::string why = !a.reason.empty() ? a.reason : status_phrase(status);
    if (status != a.status) why = "handler answered status " + std::to_string(a.status);
    reply.error(status, why);
  }
};

// 429 with Retry-After: a per-address limit (rate or sessions).
void too_many_requests(const Reply& reply, const AddressLimits::Refusal& why) {
  reply.error(429, why.reason, Headers{{"Retry-After", std::to_string(why.retry_after_s)}});
}

void do_post(const std::shared_ptr<Impl>& self, const HttpRequest& req,
             const std::vector<std::string_view>& segs, const Reply& reply) {
  Impl& impl = *self;
  // Before anything else (the token too: guessing it is throttled as well).
  if (impl.cfg.address_limits)
    if (auto refused = impl.cfg.address_limits->request(req.remote_address))
      return too_many_requests(reply, *refused);
  for (std::string_view s : segs)
    if (!valid_segment(s))
      return reply.error(400, "invalid room or publisher name '" + std::string(s) +
                                  "': use 1-64 of A-Z a-z 0-9 . _ ~ -");
  auto claims = authorized(impl, req, reply);
  if (!claims) return;
  // A token for one room names the room a bare POST <path> is for; a WHIP
  // publisher is the token's participant.
  std::string room = segs.size() >= 1 ? std::string(segs[0]) : std::string();
  std::string publisher = segs.size() >= 2 ? std::string(segs[1]) : std::string();
  if (room.empty() && claims->room != "*") room = claims->room;
  bool publishing = impl.cfg.grant & kGrantPublish;
  if (publishing && publisher.empty()) publisher = claims->sub;
  if (auto refused = TokenVerifier::check(*claims, room, publishing ? publisher : "",
                                          impl.cfg.grant))
    return reply.error(refused->status, refused->reason);
  auto ct = req.headers.get("Content-Type");
  if (!ct || media_type(*ct) != "application/sdp")
    return reply.error(415, "expected Content-Type: application/sdp, got " +
                                (ct ? "'" + *ct + "'" : std::string("none")));
  if (req.body.size() > impl.cfg.max_sdp)
    return reply.error(413, "SDP offer too large (" + std::to_string(req.body.size()) +
                                " bytes, limit " + std::to_string(impl.cfg.max_sdp) + ")");
  auto too_many = [&] {
    reply.error(503, "too many sessions (limit " + std::to_string(impl.cfg.max_sessions) + ")");
  };
  // The request's own faults are reported before the server's capacity.
  SdpSummary summary;
  try {
    summary = validate_offer(req.body);
  } catch (const SdpError& e) {
    return reply.error(400, std::string("malformed SDP offer: ") + e.what());
  }
  if (std::string problem = usable_media_problem(impl, summary); !problem.empty())
    return reply.error(422, problem);

  auto state = std::make_shared<OfferReply>();
  state->impl = self;
  state->reply = reply;
  ResourceEndpoint::Offer& offer = state->offer;
  offer.id = random_hex(16);
  offer.room = room;
  offer.publisher = publisher;
  offer.sdp = req.body;
  offer.summary = std::move(summary);
  offer.remote_address = req.remote_address;
  if (auto auth = req.headers.get("Authorization")) offer.bearer = token_text(trim(*auth));
  state->location = impl.base;
  for (std::string_view s : segs) state->location += "/" + std::string(s);
  state->location += "/" + offer.id;
  // The address's own cap first: a client holding too many sessions is told
  // so (429), not that the server is full.
  if (impl.cfg.address_limits) {
    AddressLimits::Refusal why;
    state->lease = impl.cfg.address_limits->session(req.remote_address, &why);
    if (!state->lease) {
      state->used = true;
      return too_many_requests(reply, why);
    }
  }
  bool admitted = false;
  {
    // Checked again and counted in one step so concurrent offers cannot overshoot.
    std::lock_guard lock(impl.mu);
    if (!impl.cfg.max_sessions ||
        impl.sessions.size() + impl.pending_offers < impl.cfg.max_sessions) {
      impl.pending_offers++;
      admitted = true;
    }
  }
  if (!admitted) {
    state->used = true;
    return too_many();
  }
  GST_INFO("offer %s from %s for room '%s' publisher '%s'", offer.id.c_str(),
           req.remote_address.c_str(), offer.room.c_str(), offer.publisher.c_str());
  try {
    impl.handler->on_offer(offer,
                           [state](ResourceEndpoint::Answer a) { state->deliver(std::move(a)); });
  } catch (const std::exception& e) {
    GST_ERROR("offer handler threw: %s", e.what());
    state->deliver({500, std::string("internal error: ") + e.what(), ""});
  } catch (...) {
    state->deliver({500, "internal error", ""});
  }
}

// Session resource ids are random_hex(16): 32 lower-case hex digits.
bool looks_like_id(std::string_view seg) {
  return seg.size() == 32 && std::all_of(seg.begin(), seg.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void do_patch(Impl& impl, const HttpRequest& req, const Impl::Session& s, const Reply& reply) {
  if (!authorized_for(impl, req, s, reply)) return;
  // Sloppy clients send the ETag back in an ETag header instead of If-Match.
  auto match = req.headers.get("If-Match");
  if (!match) match = req.headers.get("ETag");
  if (!match)
    return reply.error(428, "PATCH needs If-Match with the session's ETag (RFC 9725 4.3.1)");
  if (!etag_matches(*match, s.etag))
    return reply.error(412, "If-Match " + *match + " does not match the session's ETag");
  auto ct = req.headers.get("Content-Type");
  if (!ct || media_type(*ct) != kTrickleType)
    return reply.error(415, std::string("expected Content-Type: ") + kTrickleType + ", got " +
                                (ct ? "'" + *ct + "'" : std::string("none")));
  if (req.body.size() > impl.cfg.max_sdp)
    return reply.error(413, "trickle fragment too large (" + std::to_string(req.body.size()) +
                                " bytes, limit " + std::to_string(impl.cfg.max_sdp) + ")");
  TrickleFragment frag;
  try {
    frag = parse_trickle_fragment(req.body);
  } catch (const SdpError& e) {
    return reply.error(400, std::string("malformed trickle fragment: ") + e.what());
  }
  if (!frag.ice_ufrag.empty() && !s.ufrag.empty() && frag.ice_ufrag != s.ufrag)
    return reply.error(422, "ICE restart is not supported");
  for (TrickleCandidate& c : frag.candidates) {
    if (!c.mid.empty()) {
      auto it = std::find(s.mids.begin(), s.mids.end(), c.mid);
      if (it == s.mids.end())
        return reply.error(400,
                           "malformed trickle fragment: mid '" + c.mid + "' is not in the offer");
      c.mline_index = static_cast<int>(it - s.mids.begin());
    } else if (c.mline_index >= 0) {
      if (static_cast<size_t>(c.mline_index) >= s.mids.size())
        return reply.error(400, "malformed trickle fragment: m-section " +
                                    std::to_string(c.mline_index) + " is not in the offer");
      c.mid = s.mids[c.mline_index];
    } else {
      // No section at all: with BUNDLE every candidate is the first one's.
      c.mline_index = 0;
      c.mid = s.mids.empty() ? "" : s.mids[0];
    }
  }
  GST_DEBUG("session %s: %zu candidates%s", s.id.c_str(), frag.candidates.size(),
            frag.end_of_candidates ? ", end of candidates" : "");
  if (!frag.candidates.empty() || frag.end_of_candidates) {
    try {
      impl.handler->on_trickle(s.id, frag.candidates, frag.end_of_candidates);
    } catch (const std::exception& e) {
      GST_ERROR("trickle handler threw: %s", e.what());
      return reply.error(500, std::string("internal error: ") + e.what());
    }
  }
  HttpResponse r;
  r.status = 204;  // no ETag: a trickle PATCH does not change the session (RFC 9725 4.3.1)
  reply(std::move(r));
}

void do_delete(Impl& impl, const HttpRequest& req, const Impl::Session& s, const Reply& reply) {
  if (!authorized_for(impl, req, s, reply)) return;
  {
    std::lock_guard lock(impl.mu);
    if (!impl.sessions.erase(s.id)) return reply.error(404, "unknown session resource");
  }
  GST_INFO("session %s deleted by the client", s.id.c_str());
  HttpResponse r;
  r.status = 200;
  reply(std::move(r));
  try {
    impl.handler->on_delete(s.id);
  } catch (const std::exception& e) {
    GST_ERROR("delete handler threw: %s", e.what());
  }
}

}  // namespace

ResourceEndpoint::ResourceEndpoint(Config config, Handler& handler)
    : impl_(std::make_shared<Impl>(std::move(config), handler)) {
  init_debug();
}

ResourceEndpoint::~ResourceEndpoint() = default;

const ResourceEndpoint::Config& ResourceEndpoint::config() const {
  return impl_->cfg;
}

Headers ResourceEndpoint::cors_headers(std::string_view origin) {
  Headers h;
  h.add("Access-Control-Allow-Origin", origin.empty() ? "*" : std::string(origin));
  if (!origin.empty()) h.add("Vary", "Origin");
  h.add("Access-Control-Allow-Methods", kAllowMethods);
  h.add("Access-Control-Allow-Headers", kAllowHeaders);
  h.add("Access-Control-Expose-Headers", kExposeHeaders);
  return h;
}

void ResourceEndpoint::remove(const std::string& id) {
  std::lock_guard lock(impl_->mu);
  if (impl_->sessions.erase(id)) GST_INFO("session %s removed", id.c_str());
}

size_t ResourceEndpoint::session_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sessions.size();
}

std::vector<std::string> ResourceEndpoint::session_ids() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> ids;
  for (const auto& [id, s] : impl_->sessions) ids.push_back(id);
  return ids;
}

void ResourceEndpoint::handle(const HttpRequest& req, Responder respond) {
  Impl& impl = *impl_;
  Reply reply{std::move(respond), req.headers.get("Origin").value_or("")};
  std::string path = strip_trailing_slashes(req.path);
  if (path != impl.base && path.rfind(impl.base + "/", 0) != 0)
    return reply.error(404, "nothing is served at " + req.path);
  std::vector<std::string_view> segs;
  if (path.size() > impl.base.size()) {
    for (std::string_view s : split(std::string_view(path).substr(impl.base.size() + 1), '/')) {
      if (s.empty()) return reply.error(404, "nothing is served at " + req.path);
      segs.push_back(s);
    }
  }
  // Copy what we need under the lock; never call out while holding it.
  std::optional<Impl::Session> session;
  if (!segs.empty()) {
    std::lock_guard lock(impl.mu);
    auto it = impl.sessions.find(std::string(segs.back()));
    if (it != impl.sessions.end() && it->second.location == path) session = it->second;
  }
  const std::string& method = req.method;

  if (method == "OPTIONS") {
    HttpResponse r;
    r.status = 204;
    // ICE servers only to a real OPTIONS, not to a CORS preflight (RFC 9725 4.6).
    if (!req.headers.has("Access-Control-Request-Method")) add_links(impl, r.headers);
    if (impl.cfg.track_count >= 0)
      r.headers.add("Link", "<" + impl.base + ">; rel=\"urn:rtcmesh:tracks\"; count=" +
                                std::to_string(impl.cfg.track_count));
    r.headers.add("Accept-Post", "application/sdp");
    if (session) r.headers.add("Accept-Patch", kTrickleType);
    r.headers.add("Allow", session ? kAllowMethods : "POST, OPTIONS");
    r.headers.add("Access-Control-Max-Age", "86400");
    return reply(std::move(r));
  }
  if (segs.size() > 3) return reply.error(404, "nothing is served at " + req.path);

  if (session) {
    if (method == "PATCH") return do_patch(impl, req, *session, reply);
    if (method == "DELETE") return do_delete(impl, req, *session, reply);
    return reply.error(405, method + " is not allowed on a session resource",
                       Headers{{"Allow", "PATCH, DELETE, OPTIONS"}});
  }
  if (method == "POST") {
    if (segs.size() > 2) return reply.error(404, "nothing is served at " + req.path);
    return do_post(impl_, req, segs, reply);
  }
  // A path ending in a resource id is a session that is gone; any other is
  // an endpoint (/whip/ROOM/NAME), where only POST is allowed.
  if (!segs.empty() && (method == "PATCH" || method == "DELETE") && looks_like_id(segs.back()))
    return reply.error(404, "unknown session resource " + path);
  if (segs.size() > 2) return reply.error(404, "nothing is served at " + req.path);
  reply.error(405, method + " is not allowed here; POST an SDP offer",
              Headers{{"Allow", "POST, OPTIONS"}});
}
}  // namespace rtcmesh::sig
