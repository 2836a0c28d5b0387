#include "signaling/http/resource_client.h"

#include <gst/gst.h>

#include <algorithm>

#include "signaling/glib_util.h"
#include "signaling/log.h"
#include "signaling/util.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

constexpr const char* kTrickleType = "application/trickle-ice-sdpfrag";

std::string resolve(const std::string& base, const std::string& ref) {
  GError* err = nullptr;
  char* out = g_uri_resolve_relative(base.c_str(), ref.c_str(), G_URI_FLAGS_NONE, &err);
  if (!out) {
    GST_WARNING("cannot resolve Location '%s' against %s: %s", ref.c_str(), base.c_str(),
                err ? err->message : "?");
    g_clear_error(&err);
    return ref;
  }
  std::string r = out;
  g_free(out);
  return r;
}

// The server's reason: the first line of a short text body, else the phrase.
std::string reason_of(const HttpClient::Result& r) {
  if (r.status == 0) return r.error;
  std::string_view body = trim(r.body);
  auto ct = r.headers.get("Content-Type");
  bool texty = !ct || media_type(*ct).rfind("text/", 0) == 0 || media_type(*ct).empty();
  if (texty && !body.empty()) {
    std::string_view line = body.substr(0, body.find('\n'));
    return std::string(trim(line.substr(0, 300)));
  }
  return r.reason.empty() ? status_phrase(r.status) : r.reason;
}

std::vector<IceServer> links_of(const Headers& h) {
  std::vector<IceServer> out;
  for (const std::string& v : h.get_all("Link"))
    for (IceServer& s : parse_link_header(v)) out.push_back(std::move(s));
  return out;
}

}  // namespace

bool ResourceClient::Created::retryable() const {
  return status == 0 || status >= 500 || status == 408 || status == 429;
}

struct ResourceClient::Impl {
  enum class State { kIdle, kCreating, kCreated, kDestroying, kDestroyed };

  Impl(GMainContext* c, Options o)
      : ctx(g_main_context_ref(c)), opts(std::move(o)), http(c, opts.http) {}
  ~Impl() { g_main_context_unref(ctx); }

  GMainContext* ctx;
  Options opts;
  HttpClient http;
  State state = State::kIdle;

  std::string ufrag, pwd;
  std::vector<std::string> mids;
  std::string location, etag;

  std::vector<TrickleCandidate> queued;
  bool queued_end = false;
  bool end_sent = false;
  bool patch_in_flight = false;
  SourceHandle flush_timer;

  std::function<void()> destroy_done;
  SourceHandle destroy_timer;
  SourceHandle idle;

  Headers auth_headers() const {
    Headers h;
    if (!opts.token.empty()) h.add("Authorization", "Bearer " + opts.token);
    return h;
  }

  void learn_offer(const std::string& sdp) {
    ufrag.clear();
    pwd.clear();
    mids.clear();
    try {
      SdpSummary s = validate_offer(sdp);
      ufrag = s.ice_ufrag;
      pwd = s.ice_pwd;
      for (const auto& m : s.media) mids.push_back(m.mid);
      return;
    } catch (const SdpError& e) {
      GST_WARNING("our own offer does not validate (%s); trickle uses what it can find", e.what());
    }
    for (std::string_view line : split_lines(sdp)) {
      if (line.rfind("a=ice-ufrag:", 0) == 0 && ufrag.empty()) ufrag = trim(line.substr(12));
      if (line.rfind("a=ice-pwd:", 0) == 0 && pwd.empty()) pwd = trim(line.substr(10));
      if (line.rfind("a=mid:", 0) == 0) mids.emplace_back(trim(line.substr(6)));
    }
  }

  void schedule_flush() {
    if (state != State::kCreated || location.empty() || patch_in_flight || flush_timer) return;
    if (queued.empty() && !(queued_end && !end_sent)) return;
    flush_timer = add_timer(ctx, opts.trickle_batch_ms, [this] {
      flush_timer.reset();
      flush();
    });
  }

  void flush() {
    if (state != State::kCreated || location.empty() || patch_in_flight) return;
    bool end = queued_end && !end_sent;
    if (queued.empty() && !end) return;
    std::vector<TrickleCandidate> batch = std::move(queued);
    queued.clear();
    for (TrickleCandidate& c : batch) {
      if (c.mid.empty() && c.mline_index >= 0 && static_cast<size_t>(c.mline_index) < mids.size())
        c.mid = mids[c.mline_index];
    }
    std::string body =
        build_trickle_fragment(ufrag, pwd, batch, end, mids.empty() ? "0" : mids.front());
    if (end) end_sent = true;
    Headers h = auth_headers();
    if (!etag.empty()) h.add("If-Match", etag);
    patch_in_flight = true;
    GST_DEBUG("PATCH %s: %zu candidates%s", location.c_str(), batch.size(),
              end ? " + end-of-candidates" : "");
    http.request("PATCH", location, std::move(h), kTrickleType, std::move(body),
                 [this, n = batch.size()](HttpClient::Result r) {
                   patch_in_flight = false;
                   if (r.status < 200 || r.status > 299)
                     GST_WARNING("trickle PATCH of %zu candidates to %s failed: %d %s", n,
                                 location.c_str(), r.status, reason_of(r).c_str());
                   schedule_flush();
                 });
  }

  void send_delete() {
    GST_INFO("DELETE %s", location.c_str());
    http.request("DELETE", location, auth_headers(), "", "", [this](HttpClient::Result r) {
      if (r.status < 200 || r.status > 299)
        GST_WARNING("DELETE %s: %d %s", location.c_str(), r.status, reason_of(r).c_str());
      finish_destroy();
    });
  }

  void finish_destroy() {
    state = State::kDestroyed;
    destroy_timer.reset();
    auto done = std::move(destroy_done);
    destroy_done = nullptr;
    if (done) done();
  }

  void on_created(HttpClient::Result r, const std::function<void(Created)>& done) {
    Created c;
    c.status = r.status;
    bool success = r.status == 201 || r.status == 200;
    if (success) {
      auto ct = r.headers.get("Content-Type");
      std::string_view body = trim(r.body);
      bool sdp = (ct && media_type(*ct) == "application/sdp") || body.rfind("v=0", 0) == 0;
      if (sdp && !body.empty()) {
        c.answer_sdp = r.body;
      } else {
        c.reason = "the " + std::to_string(r.status) + " reply carries no SDP answer";
        success = false;
      }
      if (auto loc = r.headers.get("Location"); loc && !trim(*loc).empty())
        c.location = resolve(r.url, std::string(trim(*loc)));
      c.etag = r.headers.get("ETag").value_or("");
      c.ice_servers = links_of(r.headers);
    } else {
      c.reason = reason_of(r);
    }

    if (state == State::kDestroying) {
      // destroy() came first: remove what the server may have created.
      if (!c.location.empty() && (r.status == 201 || r.status == 200)) {
        location = c.location;
        send_delete();
      } else {
        finish_destroy();
      }
      return;
    }
    if (success) {
      state = State::kCreated;
      location = c.location;
      etag = c.etag;
      if (location.empty())
        GST_WARNING("%s answered without Location: no trickle, no DELETE", r.url.c_str());
      GST_INFO("session created at %s", location.c_str());
      schedule_flush();
    } else {
      state = State::kIdle;
      GST_WARNING("POST %s failed: %d %s", opts.endpoint.c_str(), c.status, c.reason.c_str());
    }
    if (done) done(std::move(c));
  }
};

ResourceClient::ResourceClient(GMainContext* ctx, Options options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {
  init_debug();
}

ResourceClient::~ResourceClient() {
  impl_->flush_timer.reset();
  impl_->destroy_timer.reset();
  impl_->idle.reset();
  impl_->http.cancel_all();
}

const std::string& ResourceClient::location() const {
  return impl_->location;
}
const std::string& ResourceClient::etag() const {
  return impl_->etag;
}

void ResourceClient::options(OptionsDone done) {
  impl_->http.request("OPTIONS", impl_->opts.endpoint, impl_->auth_headers(), "", "",
                      [done = std::move(done)](HttpClient::Result r) {
                        int tracks = -1;
                        for (const std::string& v : r.headers.get_all("Link")) {
                          for (const Link& l : parse_links(v)) {
                            if (!l.has_rel("urn:rtcmesh:tracks")) continue;
                            unsigned long long n = 0;
                            auto it = l.params.find("count");
                            if (it != l.params.end() && parse_uint(it->second, n) && n < 1000)
                              tracks = static_cast<int>(n);
                          }
                        }
                        if (done) done(r.status, links_of(r.headers), tracks);
                      });
}

void ResourceClient::create(std::string offer_sdp, std::function<void(Created)> done) {
  Impl& impl = *impl_;
  if (impl.state != Impl::State::kIdle) {
    GST_ERROR("create() called twice on one ResourceClient");
    impl.idle = add_timer(impl.ctx, 0, [this, done = std::move(done)] {
      impl_->idle.reset();
      Created c;
      c.reason = "this client already has a session";
      if (done) done(std::move(c));
    });
    return;
  }
  impl.state = Impl::State::kCreating;
  impl.learn_offer(offer_sdp);
  Headers h = impl.auth_headers();
  h.add("Accept", "application/sdp");
  GST_INFO("POST %s", impl.opts.endpoint.c_str());
  impl.http.request("POST", impl.opts.endpoint, std::move(h), "application/sdp",
                    std::move(offer_sdp), [this, done = std::move(done)](HttpClient::Result r) {
                      impl_->on_created(std::move(r), done);
                    });
}

void ResourceClient::trickle(std::vector<TrickleCandidate> candidates, bool end_of_candidates) {
  Impl& impl = *impl_;
  if (impl.state == Impl::State::kDestroying || impl.state == Impl::State::kDestroyed) return;
  if (impl.end_sent) {
    GST_DEBUG("dropping %zu candidates after end-of-candidates", candidates.size());
    return;
  }
  for (auto& c : candidates) impl.queued.push_back(std::move(c));
  impl.queued_end |= end_of_candidates;
  impl.schedule_flush();
}

void ResourceClient::destroy(std::function<void()> done) {
  Impl& impl = *impl_;
  impl.flush_timer.reset();
  impl.queued.clear();
  if (impl.state == Impl::State::kDestroying) {
    // Already on its way: chain the callbacks.
    auto prev = std::move(impl.destroy_done);
    impl.destroy_done = [prev = std::move(prev), done = std::move(done)] {
      if (prev) prev();
      if (done) done();
    };
    return;
  }
  Impl::State was = impl.state;
  impl.destroy_done = std::move(done);
  impl.state = Impl::State::kDestroying;
  impl.destroy_timer = add_timer(impl.ctx, impl.opts.destroy_timeout_ms, [this] {
    GST_WARNING("DELETE %s: no reply in time", impl_->location.c_str());
    impl_->finish_destroy();
  });
  if (was == Impl::State::kCreating) return;  // on_created sends the DELETE
  if (was == Impl::State::kCreated && !impl.location.empty()) {
    impl.send_delete();
    return;
  }
  // Nothing on the server: complete asynchronously like every other path.
  impl.destroy_timer = add_timer(impl.ctx, 0, [this] { impl_->finish_destroy(); });
}

std::string build_trickle_fragment(std::string_view ufrag, std::string_view pwd,
                                   const std::vector<TrickleCandidate>& candidates, bool end,
                                   std::string_view default_mid) {
  std::vector<std::pair<std::string, std::vector<const TrickleCandidate*>>> groups;
  for (const TrickleCandidate& c : candidates) {
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == c.mid; });
    if (it == groups.end()) {
      groups.push_back({c.mid, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(&c);
  }
  if (groups.empty() && end) groups.push_back({std::string(default_mid), {}});
  std::string out;
  for (size_t i = 0; i < groups.size(); ++i) {
    out += "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n";
    if (!groups[i].first.empty()) out += "a=mid:" + groups[i].first + "\r\n";
    if (!ufrag.empty()) out += "a=ice-ufrag:" + std::string(ufrag) + "\r\n";
    if (!pwd.empty()) out += "a=ice-pwd:" + std::string(pwd) + "\r\n";
    for (const TrickleCandidate* c : groups[i].second) {
      std::string_view cand = trim(c->candidate);
      if (cand.rfind("a=", 0) == 0) cand.remove_prefix(2);
      out += "a=";
      out.append(cand);
      out += "\r\n";
    }
    if (end && i + 1 == groups.size()) out += "a=end-of-candidates\r\n";
  }
  return out;
}

}  // namespace rtcmesh::sig
