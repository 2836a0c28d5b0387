#include "gst/server/ingest.h"

#include <gst/sdp/sdp.h>

#include <algorithm>
#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/track_pad.h"
#include "gst/media/received_tracks.h"
#include "signaling/http/sdp.h"

#define GST_CAT_DEFAULT rtcmesh_debug

namespace rtcmesh::server {

Ingest::Ingest(GstElement* element, std::string stream_prefix, media::SendInputs& inputs,
               RoomMetrics& metrics, Hooks hooks)
    : element_(element),
      stream_prefix_(std::move(stream_prefix)),
      inputs_(inputs),
      metrics_(metrics),
      hooks_(std::move(hooks)) {}

void Ingest::start(Host& host) {
  host_ = &host;
  worker_ = &host.worker();
}

void Ingest::stop() {
  std::vector<std::string> keys;
  for (auto& [k, p] : publishers_) keys.push_back(k);
  for (auto& k : keys) remove(k, "element stopping", false);
  std::vector<std::string> names;
  for (auto& [k, f] : feeds_) names.push_back(k);
  for (auto& k : names) end_pads(k, true);
  host_ = nullptr;
  worker_ = nullptr;
}

void Ingest::finish_pads() {
  for (auto& [k, feed] : feeds_)
    for (auto& f : feed) f.output->finish();
}

// EOS out of a publisher name's idle pads (muxers finish), then they go:
// every one (`all`), or those nobody linked (a server whose pads nobody uses,
// like rtcmesh-server's, keeps nothing per name that came and went).
void Ingest::end_pads(const std::string& key, bool all) {
  auto it = feeds_.find(key);
  if (it == feeds_.end()) return;
  std::vector<FeedPad> ended;
  auto& feed = it->second;
  for (auto p = feed.begin(); p != feed.end();) {
    if (!p->fed && (all || !gst_pad_is_linked(p->output->src_pad()))) {
      ended.push_back(std::move(*p));
      p = feed.erase(p);
    } else {
      ++p;
    }
  }
  if (feed.empty()) feeds_.erase(it);
  for (auto& f : ended) {
    f.output->finish();
    f.output->remove_from(element_);
  }
}

// --- remote publishers ---

Publisher* Ingest::start_remote(const std::string& room, const std::string& id,
                                const std::string& resource, const std::string& offer,
                                AnswerDone done) {
  const std::string key = session_key(room, id);
  auto pub = std::make_unique<Publisher>();
  pub->room = room;
  pub->id = id;
  pub->resource = resource;
  peer::PeerEvents events;
  events.remote_pad = [this, key](GstPad* pad, const std::string& mid) {
    return link_pad(key, pad, mid);
  };
  events.failed = [this, key, room](const std::string& why) {
    hooks_.post([this, key, room, why] {
      metrics_.count_failure(room);
      remove(key, why, true);
    });
  };
  events.connected = [this, key] {
    auto it = publishers_.find(key);
    if (it == publishers_.end()) return;
    it->second->connect_deadline.reset();
    GST_INFO_OBJECT(element_, "publisher %s connected after %.0f ms", key.c_str(),
                    (g_get_monotonic_time() - it->second->created_us) / 1000.0);
  };
  Settings settings = hooks_.settings();
  if (resource.empty() && hooks_.own_connection) pub->peer = hooks_.own_connection(room, id);
  // A publisher that comes back keeps its codecs when it offers them: its
  // pads continue with the same caps.
  std::vector<media::Codec> previous;
  if (auto f = feeds_.find(key); f != feeds_.end())
    for (auto& p : f->second) previous.push_back(p.codec);
  CapsPtr accepted = media::accepted_rtp_caps("vp8,vp9,h264", "opus", previous, offer);
  if (!pub->peer && hooks_.native_connection)
    pub->ingress = hooks_.native_connection(
        room, id, offer, accepted.get(), events,
        [this, key](const std::string& mid) { return wanted(key, mid); });
  if (pub->peer) {
    // Connected and prepared already; its events are its owner's, which
    // hands this publisher's remote pads to link_remote_pad. No codec
    // preference: transceivers made for the other m-lines of the offer
    // would come back as m-lines of their own in later offers.
    pub->shared = true;
  } else if (!pub->ingress) {
    pub->peer = std::make_shared<peer::Peer>(GST_BIN(element_), *worker_,
                                             "pub-" + room + "-" + id, settings.ice,
                                             settings.peer_timeout_ms * GST_MSECOND,
                                             std::move(events));
    pub->peer->set_accepted_codecs(std::move(accepted));
    if (hooks_.prepare) hooks_.prepare(*pub->peer);
  }
  if (!pub->shared) {
    pub->connect_deadline =
        worker_->timeout(std::max(settings.peer_timeout_ms, 10000u), [this, key] {
          remove(key, "ICE did not connect in time", true);
          return false;
        });
  }
  Publisher* raw = pub.get();
  {
    std::lock_guard lock(mutex_);
    publishers_[key] = std::move(pub);
  }
  metrics_.count_publisher(room);
  auto answered = [this, key, done](const std::string& sdp, const std::string& error) {
    auto it = publishers_.find(key);
    if (it == publishers_.end()) return done({}, {}, "publisher went away during negotiation");
    if (!error.empty()) {
      remove(key, error, false);
      return done({}, {}, error);
    }
    Publisher& p = *it->second;
    try {
      add_sources_and_pads(p, sdp);
      // Before anyone subscribes: a Source fed by the engine says so.
      if (p.ingress)
        for (auto& [mid, pad] : p.ingress->pads()) link_pad(key, pad, mid);
    } catch (const std::exception& e) {
      remove(key, e.what(), false);
      return done({}, {}, e.what());
    }
    std::vector<sig::SfuTrack> tracks;
    for (auto& s : p.sources)
      tracks.push_back({s->track(), media::kind_name(s->kind()), media::codec_info(s->codec()).name});
    done(sdp, std::move(tracks), "");
  };
  if (raw->ingress) raw->ingress->answer_offer(offer, std::move(answered));
  else raw->peer->answer_offer(offer, std::move(answered));
  return raw;
}

// Our answer says what the publisher sends: one Source per track, and a src
// pad for it.
void Ingest::add_sources_and_pads(Publisher& pub, const std::string& answer) {
  sig::SdpSummary summary = sig::validate_offer(answer);
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new_from_text(answer.c_str(), &sdp);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> hold(sdp, gst_sdp_message_free);
  std::vector<std::unique_ptr<Source>> sources;
  for (const auto& r : media::ReceivedTracks::receivable(summary, true)) {
    int index = summary.mline_index(r.mid);
    CapsPtr caps = index >= 0 ? media::offered_caps(gst_sdp_message_get_media(sdp, index), r.codec)
                              : nullptr;
    sources.push_back(
        std::make_unique<Source>(GST_BIN(element_), pub.room, pub.id, r.mid, r.codec, caps.get()));
  }
  if (sources.empty())
    throw std::runtime_error("the offer sends no audio or video in a codec we take");
  {
    std::lock_guard lock(mutex_);
    pub.sources = std::move(sources);
  }
  // Pads of this publisher name that a previous session left: each track
  // continues on the first idle one of its codec; the others get new pads.
  media::OutputMode mode = hooks_.settings().output;
  std::vector<FeedPad>& feed = feeds_[session_key(pub.room, pub.id)];
  for (auto& s : pub.sources) {
    FeedPad* pad = nullptr;
    bool fresh = false;
    for (auto& f : feed)
      if (!f.fed && f.codec == s->codec()) {
        pad = &f;
        break;
      }
    if (!pad) {
      bool video = s->kind() == media::Kind::kVideo;
      std::string name = std::string(video ? "src_video_" : "src_audio_") +
                         std::to_string(video ? next_src_video_++ : next_src_audio_++);
      GstPadTemplate* templ = gst_element_class_get_pad_template(
          GST_ELEMENT_GET_CLASS(element_), video ? "src_video_%u" : "src_audio_%u");
      auto out = std::make_unique<media::OutputBranch>(
          GST_BIN(element_), s->codec(), mode, name, templ,
          stream_prefix_ + "/" + pub.room + "/" + pub.id + "/" + s->track(), RTC_TYPE_TRACK_PAD);
      feed.push_back({std::move(out), s->codec()});
      pad = &feed.back();
      fresh = true;
    } else {
      // Video waits for a keyframe of the new session (and asks for one).
      pad->output->new_sender();
    }
    rtc_track_pad_set_info(RTC_TRACK_PAD(pad->output->src_pad()), pub.id.c_str(),
                           pub.room.c_str(), media::codec_info(s->codec()).name,
                           s->track().c_str());
    pad->fed = true;
    pub.output_branches.push_back(s->fanout().attach(pad->output->sink_pad()));
    pub.outputs.push_back(pad->output.get());
    if (fresh) {
      GstPad* src = pad->output->src_pad();
      gst_pad_set_active(src, TRUE);
      gst_element_add_pad(element_, src);
    }
  }
  // No no-more-pads: a room's publishers come and go, there is never a last
  // pad, and gst-launch fails every delayed link still waiting when it comes
  // (`sfu.src_video_1` of the second publisher would never link).
}

// webrtcbin's streaming thread: an unlinked pad would kill the transport.
bool Ingest::link_pad(const std::string& key, GstPad* pad, const std::string& wanted) {
  CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  std::optional<media::Codec> codec = media::codec_from_caps(caps.get());
  std::lock_guard lock(mutex_);
  auto it = publishers_.find(key);
  if (it == publishers_.end()) return false;
  // By mid when the codec agrees, else the first unlinked track of that codec
  // (1.22's bundled transceivers do not always carry the right mid).
  Source* match = nullptr;
  for (auto& s : it->second->sources) {
    if (codec && s->codec() != *codec) continue;
    if (s->track() == wanted && !s->linked()) {
      match = s.get();
      break;
    }
    if (!match && !s->linked()) match = s.get();
  }
  if (!match || !match->link_input(pad)) {
    GST_WARNING_OBJECT(element_, "publisher %s: no track for mid '%s' %" GST_PTR_FORMAT,
                       key.c_str(), wanted.c_str(), caps.get());
    return false;
  }
  return true;
}

bool Ingest::wanted(const std::string& key, const std::string& mid) {
  std::lock_guard lock(mutex_);
  auto it = publishers_.find(key);
  if (it == publishers_.end()) return false;
  Publisher& pub = *it->second;
  for (size_t i = 0; i < pub.sources.size(); i++) {
    if (pub.sources[i]->track() != mid) continue;
    size_t idle = i < pub.outputs.size() && !gst_pad_is_linked(pub.outputs[i]->src_pad());
    return pub.sources[i]->fanout().branch_count() > idle;
  }
  return false;
}

void Ingest::remove(const std::string& key, const std::string& why, bool tell_room) {
  std::unique_ptr<Publisher> pub;
  {
    std::lock_guard lock(mutex_);
    auto it = publishers_.find(key);
    if (it == publishers_.end()) return;
    pub = std::move(it->second);
    publishers_.erase(it);
  }
  GST_INFO_OBJECT(element_, "publisher %s removed: %s", key.c_str(), why.c_str());
  if (!pub->resource.empty() && host_) host_->remove_resource(pub->resource);
  if (tell_room && pub->in_room && host_) host_->rooms().remove_publisher(pub->room, pub->id, why);
  // Nothing may feed on its sources any more: subscribers' slots, src pads.
  hooks_.leaving(*pub);
  pub->connect_deadline.reset();
  if (pub->remote()) {
    StructurePtr totals = rtp_totals(pub->connection_stats().get());
    auto c = metrics_.change(pub->room);
    c->add_publisher(totals.get());
    for (auto& src : pub->sources) {
      c->keyframe_requests += src->fanout().keyframe_requests();
      c->keyframes_upstream += src->fanout().keyframes_sent();
    }
  }
  // A shared connection goes on: what it brings for these tracks is dropped.
  if (pub->shared)
    for (auto& src : pub->sources) src->park_input();
  pub->peer.reset();
  pub->ingress.reset();
  pub->feed.reset();
  // Its linked src pads stay for the next session of its name (idle
  // meanwhile: no EOS), unless eos-on-leave asks for the old way.
  for (size_t i = 0; i < pub->outputs.size(); i++)
    pub->sources[i]->fanout().detach(pub->output_branches[i]);
  pub->outputs.clear();
  if (auto f = feeds_.find(key); f != feeds_.end()) {
    for (auto& p : f->second) p.fed = false;
    end_pads(key, hooks_.settings().eos_on_leave);
  }
  pub->sources.clear();
  hooks_.removed(*pub, why);
}

void Ingest::whip_offer(const sig::ResourceEndpoint::Offer& offer,
                        std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  const std::string room = offer.room;
  if (room.empty()) return reply({404, "POST to /whip/<room>", {}});
  const std::string id = offer.publisher.empty() ? offer.id.substr(0, 16) : offer.publisher;
  if (!sig::valid_peer_id(id))
    return reply({400, "publisher name must be 1-64 characters of A-Z a-z 0-9 . _ ~ -", {}});
  if (publishers_.count(session_key(room, id)))
    return reply({409, "publisher '" + id + "' is already in room '" + room + "'", {}});
  if (std::string why = hooks_.refusal(room, id); !why.empty()) return reply({503, why, {}});
  try {
    start_remote(room, id, offer.id, offer.sdp,
                 [this, room, id, reply](const std::string& sdp, std::vector<sig::SfuTrack> tracks,
                                         const std::string& error) {
                   if (!error.empty()) return reply({422, error, {}});
                   std::string why;
                   if (!host_->rooms().add_publisher(room, id, tracks, &why)) {
                     remove(session_key(room, id), why, false);
                     return reply({503, why, {}});
                   }
                   Publisher* pub = find(room, id);
                   if (!pub) return reply({503, "publisher went away", {}});
                   pub->in_room = true;
                   reply({201, {}, sdp});
                   hooks_.ready(*pub);
                 });
  } catch (const std::exception& e) {
    reply({500, e.what(), {}});
  }
}

void Ingest::publish(const std::string& room, const std::string& peer, const std::string& sdp,
                     std::function<void(sig::RoomMedia::PublishResult)> done) {
  auto fail = [&](const std::string& why, int code = sig::rpc::kInvalidParams) {
    hooks_.post([done, why, code] { done({{}, {}, sig::rpc::Error{code, "publish: " + why, {}}}); });
  };
  if (publishers_.count(session_key(room, peer))) return fail("already publishing");
  // Glare on a POST /rtc connection: the server is the impolite side. Its
  // offer is out; the client answers it, then publishes again.
  if (hooks_.own_connection)
    if (auto shared = hooks_.own_connection(room, peer); shared && shared->offer_outstanding())
      return hooks_.post([done] {
        done({{}, {},
              sig::rpc::Error{sig::rpc::kInvalidParams,
                              "publish: glare: the server's offer on this connection is not "
                              "answered yet; answer it, then publish again",
                              sig::Json::object({{"glare", true}})}});
      });
  if (std::string why = hooks_.refusal(room, peer); !why.empty())
    return fail(why, sig::rpc::kRoomFull);
  try {
    start_remote(room, peer, "", sdp,
                 [this, room, peer, sdp, done](const std::string& answer,
                                               std::vector<sig::SfuTrack> tracks,
                                               const std::string& error) {
                   if (!error.empty()) {
                     if (error.find("codec") == std::string::npos)
                       return done({{}, {},
                                    sig::rpc::Error{sig::rpc::kInvalidParams, "publish: " + error,
                                                    {}}});
                     // -32007 names what was offered and what the room takes.
                     sig::Json offered = sig::Json::array();
                     for (const auto& m : sig::validate_offer(sdp).media)
                       for (const auto& c : m.codecs) offered.push(c);
                     sig::Json accepted = sig::Json::array();
                     for (const char* c : {"VP8", "VP9", "H264", "OPUS"}) accepted.push(c);
                     return done({{}, {},
                                  sig::rpc::Error{sig::rpc::kNoCommonCodec, "publish: " + error,
                                                  sig::Json::object(
                                                      {{"offered", std::move(offered)},
                                                       {"accepted", std::move(accepted)}})}});
                   }
                   Publisher* pub = find(room, peer);
                   if (pub) pub->in_room = true;
                   done({answer, std::move(tracks), std::nullopt});
                   if (pub) hooks_.ready(*pub);
                 });
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

void Ingest::unpublish(const std::string& room, const std::string& peer) {
  remove(session_key(room, peer), "unpublished", false);
}

void Ingest::add_remote_candidate(const std::string& room, const std::string& peer, int mline,
                                  const std::string& candidate) {
  if (Publisher* pub = find(room, peer); pub && pub->peer)
    pub->peer->add_remote_candidate(mline, candidate);
}

// --- the pipeline's own publisher ---

// The pipeline's own request pads publish as `local_id` into `local_room`:
// (re)announced whenever an input becomes ready.
std::pair<std::string, std::string> Ingest::local_publisher() {
  Settings s = hooks_.settings();
  return {s.local_room, s.local_id};
}

bool Ingest::local_publisher_pending(const std::string& room, const std::string& publisher) {
  return !find(room, publisher) && local_publisher() == std::pair(room, publisher) &&
         !inputs_.empty();
}

void Ingest::update_local_publisher() {
  Settings settings = hooks_.settings();
  const std::string room = settings.local_room, id = settings.local_id;
  if (!host_ || room.empty()) return;
  const std::string key = session_key(room, id);
  std::vector<media::SendInput*> ready = inputs_.ready();
  auto it = publishers_.find(key);
  if (settings.forward_local_only && !ready.empty() && update_local_in_place(settings, key, ready))
    return;
  if (it != publishers_.end() && it->second->sources.size() == ready.size()) return;
  remove(key, "tracks changed", true);
  if (ready.empty()) return;
  auto pub = std::make_unique<Publisher>();
  pub->room = room;
  pub->id = id;
  std::vector<sig::SfuTrack> tracks;
  for (media::SendInput* in : ready) {
    CapsPtr caps = in->offer_caps();
    pub->sources.push_back(
        std::make_unique<Source>(id, in->name(), *in->codec(), caps.get(), in->fanout()));
    tracks.push_back(local_track(settings, *in));
  }
  std::string why;
  if (!admit(std::move(pub), tracks, &why))
    GST_ELEMENT_WARNING(element_, RESOURCE, WRITE,
                        ("The pipeline cannot publish into room '%s': %s", room.c_str(),
                         why.c_str()),
                        (nullptr));
}

bool Ingest::admit(std::unique_ptr<Publisher> pub, const std::vector<sig::SfuTrack>& tracks,
                   std::string* why) {
  const std::string room = pub->room, id = pub->id, key = session_key(room, id);
  Publisher* raw = pub.get();
  {
    std::lock_guard lock(mutex_);
    publishers_[key] = std::move(pub);
  }
  metrics_.count_publisher(room);
  // A fed publisher (another node's) may be that node's participant of the
  // same id, which this node's room knows too.
  if (!host_->rooms().add_publisher(room, id, tracks, why, bool(raw->feed))) {
    remove(key, why ? *why : "refused", false);
    return false;
  }
  raw->in_room = true;
  hooks_.ready(*raw);
  return true;
}

bool Ingest::add_fed_publisher(const std::string& room, const std::string& id,
                               std::vector<std::unique_ptr<Source>> sources,
                               const std::vector<sig::SfuTrack>& tracks,
                               std::shared_ptr<void> feed, std::string* why) {
  if (!host_ || find(room, id)) {
    if (why) *why = host_ ? "the id is live here" : "not started";
    return false;
  }
  auto pub = std::make_unique<Publisher>();
  pub->room = room;
  pub->id = id;
  pub->sources = std::move(sources);
  pub->feed = std::move(feed);
  return admit(std::move(pub), tracks, why);
}

sig::SfuTrack Ingest::local_track(const Settings& settings, const media::SendInput& in) {
  auto audience = settings.track_audience.find(in.name());
  return {in.name(), media::kind_name(in.kind()), media::codec_info(*in.codec()).name,
          audience == settings.track_audience.end() ? "" : audience->second};
}

bool Ingest::update_local_in_place(const Settings& settings, const std::string& key,
                                   const std::vector<media::SendInput*>& ready) {
  auto it = publishers_.find(key);
  if (it == publishers_.end() || !it->second->in_room) return false;
  Publisher& pub = *it->second;
  std::vector<std::unique_ptr<Source>> kept, gone;
  std::vector<sig::SfuTrack> tracks;
  bool same = pub.sources.size() == ready.size();
  for (media::SendInput* in : ready) {
    auto old = std::find_if(pub.sources.begin(), pub.sources.end(), [&](const auto& s) {
      return s && s->track() == in->name() && &s->fanout() == in->fanout();
    });
    if (old != pub.sources.end()) {
      kept.push_back(std::move(*old));
    } else {
      same = false;
      CapsPtr caps = in->offer_caps();
      kept.push_back(std::make_unique<Source>(pub.id, in->name(), *in->codec(), caps.get(),
                                              in->fanout()));
    }
    tracks.push_back(local_track(settings, *in));
  }
  if (same) {  // nothing new: put them back
    std::lock_guard lock(mutex_);
    pub.sources = std::move(kept);
    return true;
  }
  std::vector<Source*> going;
  for (auto& s : pub.sources)
    if (s) {
      going.push_back(s.get());
      gone.push_back(std::move(s));
    }
  {
    std::lock_guard lock(mutex_);
    pub.sources = std::move(kept);
  }
  if (hooks_.changed) hooks_.changed(pub, going);
  gone.clear();
  host_->rooms().update_publisher(pub.room, pub.id, tracks);
  return true;
}

// --- lookups ---

bool Ingest::trickle(const std::string& resource,
                     const std::vector<sig::TrickleCandidate>& candidates) {
  peer::Peer* peer = nullptr;
  bool found = false;
  for (auto& [k, p] : publishers_)
    if (p->resource == resource) {
      peer = p->peer.get();
      found = true;
    }
  if (peer)
    for (const auto& c : candidates)
      if (c.mline_index >= 0) peer->add_remote_candidate(c.mline_index, c.candidate);
  return found;
}

bool Ingest::remove_resource(const std::string& resource, const std::string& why) {
  std::string key;
  for (auto& [k, p] : publishers_)
    if (p->resource == resource) key = k;
  if (key.empty()) return false;
  remove(key, why == "DELETE" ? "unpublished" : why, true);
  return true;
}

Publisher* Ingest::find(const std::string& room, const std::string& id) {
  auto it = publishers_.find(session_key(room, id));
  return it == publishers_.end() ? nullptr : it->second.get();
}

bool Ingest::is_whip(const std::string& room, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = publishers_.find(session_key(room, id));
  return it != publishers_.end() && !it->second->resource.empty();
}

Source* Ingest::find_source(const std::string& room, const std::string& publisher,
                            const std::string& track) {
  Publisher* pub = find(room, publisher);
  if (!pub) return nullptr;
  for (auto& s : pub->sources)
    if (s->track() == track) return s.get();
  return nullptr;
}

std::vector<sig::SfuPublisher> Ingest::tracks(const std::string& room) {
  std::vector<sig::SfuPublisher> out;
  Settings settings = hooks_.settings();
  for (auto& [k, p] : publishers_) {
    if (p->room != room) continue;
    if (settings.forward_local_only && p->remote()) continue;
    sig::SfuPublisher pub{p->id, {}};
    for (auto& s : p->sources)
      if (!settings.forward_local_only || !settings.track_audience.count(s->track()))
        pub.tracks.push_back(
            {s->track(), media::kind_name(s->kind()), media::codec_info(s->codec()).name});
    out.push_back(std::move(pub));
  }
  return out;
}

std::optional<sig::SfuPublisher> Ingest::tracks_for(const std::string& room,
                                                   const std::string& peer) {
  Settings settings = hooks_.settings();
  if (!settings.own_output) return std::nullopt;
  sig::SfuPublisher out{settings.local_id, {}};
  Publisher* local = find(room, settings.local_id);
  if (!local) return out;
  for (auto& s : local->sources) {
    auto it = settings.track_audience.find(s->track());
    if (it != settings.track_audience.end() && it->second == peer)
      out.tracks.push_back(
          {s->track(), media::kind_name(s->kind()), media::codec_info(s->codec()).name, peer});
  }
  return out;
}

bool Ingest::local_tracks_ready() {
  if (!inputs_.all_ready()) return false;
  auto [room, id] = local_publisher();
  Publisher* local = find(room, id);
  size_t inputs = 0;
  inputs_.for_each([&](media::SendInput&) { inputs++; });
  return local && local->sources.size() >= inputs;
}

void Ingest::add_load(const std::string& room, Load& load) {
  for (auto& [k, p] : publishers_) {
    load.sessions += p->remote();
    load.rooms_in_use.insert(p->room);
    if (p->room == room) {
      load.room_publishers++;
      load.participants.insert(p->id);
    }
  }
}

// --- stats, metrics ---

std::string Ingest::key_of_sender(GstMessage* message) {
  std::lock_guard lock(mutex_);
  std::string key;
  for (auto& [k, p] : publishers_)
    if (p->peer && p->peer->posted(message)) key = k;
  return key;
}

void Ingest::append_stats(GValue* list, guint64& keyframe_requests, guint64& keyframes_sent) {
  std::lock_guard lock(mutex_);
  for (auto& [k, p] : publishers_) {
    GstStructure* s = gst_structure_new(
        "publisher", "room", G_TYPE_STRING, p->room.c_str(), "id", G_TYPE_STRING, p->id.c_str(),
        "local", G_TYPE_BOOLEAN, !p->remote(), "tracks", G_TYPE_UINT, guint(p->sources.size()),
        "connected", G_TYPE_BOOLEAN, gboolean(p->connected()), nullptr);
    if (p->remote()) add_rtp_totals(s, p->connection_stats().get());
    for (auto& src : p->sources) {
      keyframe_requests += src->fanout().keyframe_requests();
      keyframes_sent += src->fanout().keyframes_sent();
    }
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&v, s);
    gst_value_list_append_and_take_value(list, &v);
  }
}

size_t Ingest::size() {
  std::lock_guard lock(mutex_);
  return publishers_.size();
}

void Ingest::add_counters(RoomCountersByName& rooms) {
  std::lock_guard lock(mutex_);
  for (auto& [k, p] : publishers_) {
    RoomCounters& c = rooms[p->room];
    if (p->remote()) c.add_publisher(rtp_totals(p->connection_stats().get()).get());
    for (auto& src : p->sources) {
      c.keyframe_requests += src->fanout().keyframe_requests();
      c.keyframes_upstream += src->fanout().keyframes_sent();
    }
  }
}

void Ingest::add_rooms(std::set<std::string>& rooms) {
  std::lock_guard lock(mutex_);
  for (auto& [k, p] : publishers_) rooms.insert(p->room);
}

}  // namespace rtcmesh::server
