#include "gst/sfu/native_forwarding.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <ifaddrs.h>

#include <cstdio>
#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/peer/dtls_certificate.h"
#include "signaling/http/dtls_fingerprint.h"
#include "signaling/http/sdp.h"

namespace rtcmesh::sfu {

namespace {

const char* sdp_attribute(const GstSDPMessage* sdp, const GstSDPMedia* m, const char* key) {
  const char* v = m ? gst_sdp_media_get_attribute_val(m, key) : nullptr;
  return v ? v : gst_sdp_message_get_attribute_val(sdp, key);
}

GQuark track_quark() { return g_quark_from_static_string("rtcmesh-native-track"); }

}  // namespace

// RFC 4588: an rtx/ rtpmap whose fmtp says apt=pt.
int rtx_payload_for(const GstSDPMedia* m, int pt) {
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); i++) {
    const GstSDPAttribute* a = gst_sdp_media_get_attribute(m, i);
    int rtx = -1, apt = -1;
    if (g_strcmp0(a->key, "fmtp") != 0 || !a->value || sscanf(a->value, "%d apt=%d", &rtx, &apt) != 2 || apt != pt ||
        rtx < 96 || rtx > 127)
      continue;
    std::string rtpmap = std::to_string(rtx) + " rtx/";
    for (guint k = 0; k < gst_sdp_media_attributes_len(m); k++) {
      const GstSDPAttribute* r = gst_sdp_media_get_attribute(m, k);
      if (g_strcmp0(r->key, "rtpmap") == 0 && r->value && g_ascii_strncasecmp(r->value, rtpmap.c_str(), rtpmap.size()) == 0)
        return rtx;
    }
  }
  return -1;
}

struct NativeEgress::Tap {
  std::shared_ptr<Alive> alive;
  engine::TrackId track;
  bool video;  // a frame ends at the RTP marker bit: until then the engine holds the batch
};

GstPadProbeReturn NativeEgress::on_buffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* tap = static_cast<Tap*>(data);
  std::shared_lock hold(tap->alive->lock);
  NativeEgress* egress = tap->alive->egress;
  if (!egress) return GST_PAD_PROBE_OK;
  auto push = [&](GstBuffer* buffer, guint, gpointer) -> gboolean {
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      bool more = tap->video && map.size >= 2 && !(map.data[1] & 0x80);
      egress->engine().push(tap->track, map.data, map.size, more);
      gst_buffer_unmap(buffer, &map);
    }
    return TRUE;
  };
  // The INFO_ macros only cast: the probe's type says which one it is (an
  // MCU's payloaders push lists).
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER)
    push(GST_PAD_PROBE_INFO_BUFFER(info), 0, nullptr);
  else if (GstBufferList* l = GST_PAD_PROBE_INFO_BUFFER_LIST(info))
    for (guint i = 0; i < gst_buffer_list_length(l); i++) push(gst_buffer_list_get(l, i), i, nullptr);
  return GST_PAD_PROBE_OK;
}

NativeEgress::NativeEgress(std::vector<std::string> addresses, guint port, std::vector<std::string> announced,
                           guint peer_timeout_ms)
    : announced_(std::move(announced)), alive_(std::make_shared<Alive>()) {
  alive_->egress = this;
  engine::EngineConfig config;
  config.addresses = std::move(addresses);
  config.port = guint16(port);
  config.peer_timeout = std::chrono::milliseconds(peer_timeout_ms);
  config.certificate_pem = peer::dtls_certificate_pem();
  // Tests only (docs/architecture.md): loss on the way to every subscriber.
  if (const char* loss = g_getenv("RTCMESH_TEST_EGRESS_LOSS")) {
    config.test_loss_percent = g_ascii_strtod(loss, nullptr);
    GST_CAT_WARNING(rtcmesh_debug, "RTCMESH_TEST_EGRESS_LOSS: %.2f %% of the RTP to subscribers is dropped on purpose",
                    config.test_loss_percent);
  }
  std::shared_ptr<Alive> alive = alive_;
  // Engine threads: copy, then hop to the element's worker.
  auto hop = [alive](engine::SessionId id, bool ok, std::string why) {
    std::shared_lock hold(alive->lock);
    NativeEgress* e = alive->egress;
    if (!e) return;
    std::optional<Listener> l = e->listener_of(id);
    if (!l) return;
    if (ok) l->connected->store(true);
    auto fn = ok ? [cb = l->events.connected] { if (cb) cb(); }
                 : std::function<void()>([cb = l->events.failed, why] { if (cb) cb(why); });
    e->worker_->post(std::move(fn));
  };
  engine::Engine::Events events;
  events.data = data_event(alive);
  events.connected = [hop](engine::SessionId id) { hop(id, true, ""); };
  events.failed = [hop](engine::SessionId id, const std::string& why) { hop(id, false, why); };
  events.keyframe_request = [alive](engine::TrackId track) {
    std::shared_lock hold(alive->lock);
    if (NativeEgress* e = alive->egress)
      // On the worker, which alone destroys Sources: a FanOut found there is alive.
      e->worker_->post([alive, track] {
        media::FanOut* fanout = nullptr;
        {
          std::shared_lock hold(alive->lock);
          NativeEgress* e = alive->egress;
          if (!e) return;
          std::lock_guard lock(e->mutex_);
          auto it = e->fanouts_.find(track);
          if (it != e->fanouts_.end()) fanout = it->second;
        }
        if (fanout) fanout->request_keyframe();  // merged, rate-limited with the others
      });
  };
  events.received = [alive](engine::TrackId track, const uint8_t* data, size_t size) {
    std::shared_lock hold(alive->lock);
    NativeEgress* e = alive->egress;
    if (!e) return;
    std::shared_lock lock(e->receivers_lock_);
    auto it = e->receivers_.find(track);
    if (it != e->receivers_.end()) it->second(data, size);
  };
  engine_ = std::make_unique<engine::Engine>(std::move(config), std::move(events));
  if (announced_.empty())
    for (const engine::Address& a : engine_->local_addresses()) {
      if (a.host() != "0.0.0.0") {
        announced_.push_back(a.host());
        continue;
      }
      // Bound to every interface: announce each IPv4 address it has.
      ifaddrs* list = nullptr;
      if (getifaddrs(&list) != 0) continue;
      for (ifaddrs* i = list; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
          announced_.push_back(engine::Address::from(i->ifa_addr, sizeof(sockaddr_in)).host());
      freeifaddrs(list);
    }
}

NativeEgress::~NativeEgress() {
  {
    std::unique_lock hold(alive_->lock);
    alive_->egress = nullptr;  // taps and events left behind do nothing from now on
  }
  engine_.reset();
}

engine::TrackId NativeEgress::track_for(Source* source) {
  if (!source) return 0;
  if (engine::TrackId own = source->engine_track()) {
    std::lock_guard lock(mutex_);
    fanouts_[own] = &source->fanout();  // for keyframe requests; stop_receiving forgets it
    return own;
  }
  GstElement* tee = source->fanout().tee();
  // The tap lives as long as the tee: a Source gone takes its track along.
  if (auto* existing = static_cast<engine::TrackId*>(g_object_get_qdata(G_OBJECT(tee), track_quark())))
    return *existing;
  engine::TrackId track = engine_->add_track();
  {
    std::lock_guard lock(mutex_);
    fanouts_[track] = &source->fanout();
  }
  g_object_set_qdata_full(G_OBJECT(tee), track_quark(), new engine::TrackId(track), [](gpointer p) {
    delete static_cast<engine::TrackId*>(p);
  });
  GstPad* sink = gst_element_get_static_pad(tee, "sink");
  gst_pad_add_probe(sink, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST), on_buffer,
                    new Tap{alive_, track, source->kind() == media::Kind::kVideo}, [](gpointer p) {
                      auto* tap = static_cast<Tap*>(p);
                      {
                        std::shared_lock hold(tap->alive->lock);
                        if (NativeEgress* e = tap->alive->egress) {
                          e->engine().remove_track(tap->track);
                          std::lock_guard lock(e->mutex_);
                          e->fanouts_.erase(tap->track);
                        }
                      }
                      delete tap;
                    });
  gst_object_unref(sink);
  return track;
}

std::function<void(guint32, guint64, guint32)> NativeEgress::sender_reports() {
  return [alive = alive_](guint32 ssrc, guint64 ntp, guint32 rtp_timestamp) {
    std::shared_lock hold(alive->lock);
    GST_CAT_LOG(rtcmesh_debug, "publisher SR of SSRC %u: NTP %" G_GUINT64_FORMAT " = RTP %u", ssrc, ntp,
                rtp_timestamp);
    if (NativeEgress* e = alive->egress) e->engine().sender_report(ssrc, ntp, rtp_timestamp);
  };
}

void NativeEgress::receive(engine::TrackId track, std::function<void(const uint8_t*, size_t)> fn) {
  std::unique_lock lock(receivers_lock_);
  receivers_[track] = std::move(fn);
}

void NativeEgress::stop_receiving(engine::TrackId track) {
  {
    std::unique_lock lock(receivers_lock_);
    receivers_.erase(track);
  }
  std::lock_guard lock(mutex_);
  fanouts_.erase(track);
}

std::function<void(engine::TrackId)> NativeEgress::keyframe_requester() {
  return [alive = alive_](engine::TrackId track) {
    std::shared_lock hold(alive->lock);
    if (NativeEgress* e = alive->egress) e->engine().request_keyframe(track);
  };
}

void NativeEgress::listen(engine::SessionId id, ForwardingPath::Events events, std::atomic<bool>* connected) {
  std::lock_guard lock(mutex_);
  listeners_[id] = {std::move(events), connected};
}

std::optional<NativeEgress::Listener> NativeEgress::listener_of(engine::SessionId id) {
  std::lock_guard lock(mutex_);
  auto it = listeners_.find(id);
  if (it == listeners_.end()) return std::nullopt;
  return it->second;
}

void NativeEgress::forget(engine::SessionId id) {
  std::lock_guard lock(mutex_);
  listeners_.erase(id);
}

NativeForwardingPath::NativeForwardingPath(NativeEgress& egress, const std::string& room, std::string name,
                                           Events events)
    : egress_(egress), name_(std::move(name)), local_(egress.engine().create_session(room)),
      session_id_(std::to_string(g_random_int())) {
  egress_.listen(local_.id, std::move(events), &connected_);
}

NativeForwardingPath::~NativeForwardingPath() {
  egress_.forget(local_.id);
  egress_.engine().remove_session(local_.id);
}

void NativeForwardingPath::add_slot(media::Codec codec, Source* source, const GstCaps* caps) {
  Slot slot;
  slot.codec = codec;
  slot.ssrc = g_random_int();
  slot.caps = caps ? CapsPtr(gst_caps_copy(caps))
              : source ? source->slot_caps(payload_type(codec))
                       : media::rtp_caps(codec, payload_type(codec));
  int pt = payload_type(codec);
  gst_structure_get_int(gst_caps_get_structure(slot.caps.get(), 0), "payload", &pt);
  slot.pt = pt;
  // Offered (room subscribers) for video at pt + 1, which none of our
  // payload types uses (96, 98, 102, 111); a player's offer decides its own.
  if (!caps && media::codec_info(codec).kind == media::Kind::kVideo && pt < 127) {
    slot.rtx_pt = pt + 1;
    slot.rtx_ssrc = g_random_int();
  }
  egress_.engine().add_slot(local_.id, slot.ssrc, guint8(pt), guint32(media::codec_info(codec).clock_rate));
  slots_.push_back(std::move(slot));
  if (source) feed(slots_.size() - 1, source);
}

void NativeForwardingPath::feed(size_t index, Source* source) {
  Slot& slot = slots_.at(index);
  slot.track = egress_.track_for(source);
  egress_.engine().feed(local_.id, index, slot.sending ? slot.track : 0);
}

void NativeForwardingPath::set_sending(size_t index, bool sending) {
  Slot& slot = slots_.at(index);
  slot.sending = sending;
  egress_.engine().feed(local_.id, index, sending ? slot.track : 0);
}

void NativeForwardingPath::use_rtx(size_t index, int rtx_pt) {
  Slot& slot = slots_.at(index);
  if (slot.rtx_on) return;
  slot.rtx_pt = rtx_pt;
  if (!slot.rtx_ssrc) slot.rtx_ssrc = g_random_int();
  slot.rtx_on = true;
  GST_CAT_DEBUG(rtcmesh_debug, "%s: slot %zu answers NACKs on RTX (payload type %d, SSRC %u)", name_.c_str(), index,
                rtx_pt, slot.rtx_ssrc);
  egress_.engine().enable_rtx(local_.id, index, slot.rtx_ssrc, guint8(rtx_pt));
}

bool NativeForwardingPath::end_stream() {
  for (Slot& slot : slots_) slot.track = 0;
  egress_.engine().end_streams(local_.id);
  return true;
}

static std::string read_remote_params(const std::string& text, const GstSDPMessage* sdp, bool offer,
                                      engine::Engine::RemoteParams* remote) {
  try {
    remote->fingerprints = sig::dtls_fingerprints(text);
  } catch (const sig::SdpError& e) {
    return e.what();
  }
  const GstSDPMedia* first = gst_sdp_message_medias_len(sdp) ? gst_sdp_message_get_media(sdp, 0) : nullptr;
  const char* ufrag = sdp_attribute(sdp, first, "ice-ufrag");
  const char* pwd = sdp_attribute(sdp, first, "ice-pwd");
  const char* setup = sdp_attribute(sdp, first, "setup");
  if (!ufrag || !pwd) return "no ice-ufrag/ice-pwd";
  remote->ufrag = ufrag;
  remote->pwd = pwd;
  // Their offer: actpass or active makes them the DTLS client. Their answer
  // to our actpass: active (client) or passive (we are the client).
  bool we_client = setup && g_str_equal(setup, "passive");
  if (!offer && !(setup && (g_str_equal(setup, "active") || g_str_equal(setup, "passive"))))
    return "the answer's a=setup must be active or passive";
  remote->role = we_client ? engine::DtlsTransport::Role::kClient : engine::DtlsTransport::Role::kServer;
  return "";
}

SdpMessagePtr read_remote_description(const std::string& text, bool offer, engine::Engine::RemoteParams* remote,
                                      std::string* why) {
  GstSDPMessage* parsed = nullptr;
  bool ok = gst_sdp_message_new_from_text(text.c_str(), &parsed) == GST_SDP_OK;
  SdpMessagePtr sdp(parsed, gst_sdp_message_free);  // freed also when the parse failed
  if (!ok) sdp.reset();
  *why = !sdp ? std::string(offer ? "offer" : "answer") + " is not SDP"
              : read_remote_params(text, sdp.get(), offer, remote);
  if (!why->empty()) sdp.reset();
  return sdp;
}

GstSDPMessage* native_description(const std::string& session_id, unsigned version) {
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new(&sdp);
  gst_sdp_message_set_version(sdp, "0");
  gst_sdp_message_set_origin(sdp, "-", session_id.c_str(), std::to_string(version).c_str(), "IN", "IP4",
                             "127.0.0.1");
  gst_sdp_message_set_session_name(sdp, "-");
  gst_sdp_message_add_time(sdp, "0", "0", nullptr);
  gst_sdp_message_add_attribute(sdp, "ice-lite", nullptr);
  return sdp;
}

// One m-line: `slot`'s codec and direction (null: inactive with `format`),
// our transport attributes and host candidates on the shared port.
GstSDPMedia* native_media(const char* kind, const char* proto) {
  GstSDPMedia* m = nullptr;
  gst_sdp_media_new(&m);
  gst_sdp_media_set_media(m, kind);
  gst_sdp_media_set_port_info(m, 9, 1);
  gst_sdp_media_set_proto(m, proto);
  gst_sdp_media_add_connection(m, "IN", "IP4", "0.0.0.0", 0, 0);
  return m;
}

void set_media_caps(GstSDPMedia* m, const GstCaps* caps, int pt, int rtx_pt) {
  CapsPtr copy(gst_caps_copy(caps));
  gst_sdp_media_set_media_from_caps(copy.get(), m);
  if (rtx_pt < 0) return;
  std::string rtx = std::to_string(rtx_pt);
  gst_sdp_media_add_format(m, rtx.c_str());
  gst_sdp_media_add_attribute(m, "rtpmap", (rtx + " rtx/90000").c_str());
  gst_sdp_media_add_attribute(m, "fmtp", (rtx + " apt=" + std::to_string(pt)).c_str());
}

void set_media_inactive(GstSDPMedia* m, const char* format) {
  // Never port 0 toward a webrtcbin peer (it stalls the bundle).
  gst_sdp_media_add_format(m, format);
  gst_sdp_media_add_attribute(m, "inactive", nullptr);
}

void NativeForwardingPath::add_media(GstSDPMessage* sdp, const char* kind, const char* proto, const std::string& mid,
                                     const Slot* slot, const char* format, const char* setup) const {
  GstSDPMedia* m = native_media(kind, proto);
  if (slot) {
    set_media_caps(m, slot->caps.get(), slot->pt, slot->rtx_pt);
    gst_sdp_media_add_attribute(m, slot->sending ? "sendonly" : "inactive", nullptr);
    if (slot->rtx_pt >= 0) {
      std::string group = "FID " + std::to_string(slot->ssrc) + " " + std::to_string(slot->rtx_ssrc);
      gst_sdp_media_add_attribute(m, "ssrc-group", group.c_str());
    }
    std::string ssrc = std::to_string(slot->ssrc) + " cname:rtcmesh";
    gst_sdp_media_add_attribute(m, "ssrc", ssrc.c_str());
    if (slot->rtx_pt >= 0)
      gst_sdp_media_add_attribute(m, "ssrc", (std::to_string(slot->rtx_ssrc) + " cname:rtcmesh").c_str());
  } else {
    set_media_inactive(m, format);
  }
  egress_.add_media(sdp, m, mid, local_, setup);
}

void NativeEgress::add_media(GstSDPMessage* sdp, GstSDPMedia* m, const std::string& mid,
                             const engine::Engine::LocalParams& local, const char* setup) const {
  gst_sdp_media_add_attribute(m, "mid", mid.c_str());
  gst_sdp_media_add_attribute(m, "ice-ufrag", local.ufrag.c_str());
  gst_sdp_media_add_attribute(m, "ice-pwd", local.pwd.c_str());
  gst_sdp_media_add_attribute(m, "fingerprint", engine_->fingerprint().c_str());
  gst_sdp_media_add_attribute(m, "setup", setup);
  gst_sdp_media_add_attribute(m, "rtcp-mux", nullptr);
  gst_sdp_media_add_attribute(m, "rtcp-rsize", nullptr);
  int foundation = 0;
  for (const std::string& host : announced_) {
    foundation++;
    std::string c = std::to_string(foundation) + " 1 UDP " + std::to_string(2130706432 - foundation) + " " +
                    host + " " + std::to_string(port()) + " typ host";
    gst_sdp_media_add_attribute(m, "candidate", c.c_str());
  }
  gst_sdp_media_add_attribute(m, "end-of-candidates", nullptr);
  gst_sdp_message_add_media(sdp, m);
  gst_sdp_media_free(m);
}

std::string finish_description(GstSDPMessage* sdp, const std::string& bundle) {
  gst_sdp_message_add_attribute(sdp, "group", bundle.c_str());
  gchar* text = gst_sdp_message_as_text(sdp);
  std::string out = text;
  g_free(text);
  gst_sdp_message_free(sdp);
  return out;
}

void NativeForwardingPath::make_offer(SdpDone done) {
  // Every slot an m-line, in order (m-lines only grow, as with webrtcbin).
  GstSDPMessage* offer = native_description(session_id_, ++version_);
  std::string bundle = "BUNDLE";
  // The application m-line goes after the slots of the first offer and
  // stays there (as webrtcbin places it).
  if (data_channels_ && data_mline_ < 0) data_mline_ = int(slots_.size());
  for (size_t i = 0; i <= slots_.size(); i++) {
    if (int(i) == data_mline_) add_data_media(offer, &bundle);
    if (i == slots_.size()) break;
    bool video = media::codec_info(slots_[i].codec).kind == media::Kind::kVideo;
    add_media(offer, video ? "video" : "audio", "UDP/TLS/RTP/SAVPF", std::to_string(i), &slots_[i], nullptr,
              "actpass");
    bundle += " " + std::to_string(i);
  }
  done(finish_description(offer, bundle), "");
}

void NativeForwardingPath::accept_answer(const std::string& text, std::function<void(const std::string& error)> done) {
  engine::Engine::RemoteParams remote;
  std::string why;
  SdpMessagePtr hold = read_remote_description(text, false, &remote, &why);
  if (!hold) return done(why);
  const GstSDPMessage* answer = hold.get();
  if (started_ && remote.ufrag != remote_ufrag_) return done("ICE restart is not supported");
  // RTX where the answer kept what we offered. Slot i is m-line i, or i + 1
  // past the application m-line (slots added by a renegotiation).
  for (size_t i = 0; i < slots_.size(); i++) {
    guint mline = guint(i) + (data_mline_ >= 0 && int(i) >= data_mline_ ? 1 : 0);
    if (mline >= gst_sdp_message_medias_len(answer)) break;
    Slot& slot = slots_[i];
    if (slot.rtx_pt >= 0 && !slot.rtx_on &&
        rtx_payload_for(gst_sdp_message_get_media(answer, mline), slot.pt) == slot.rtx_pt)
      use_rtx(i, slot.rtx_pt);
  }
  // Renegotiation: same transport (1.22 peers cannot restart ICE anyway).
  if (started_) return done("");
  remote_ufrag_ = remote.ufrag;
  started_ = true;
  read_data_answer(answer, &remote);
  egress_.engine().start_session(local_.id, std::move(remote));
  done("");
}

void NativeForwardingPath::answer_offer(const std::string& offer_text, SdpDone done) {
  engine::Engine::RemoteParams remote;
  std::string why;
  SdpMessagePtr hold = read_remote_description(offer_text, true, &remote, &why);
  if (!hold) return done("", why);
  const GstSDPMessage* offer = hold.get();
  bool we_client = remote.role == engine::DtlsTransport::Role::kClient;
  GstSDPMessage* answer = native_description(session_id_, ++version_);
  std::string bundle = "BUNDLE";
  std::vector<bool> used(slots_.size(), false);
  for (guint i = 0; i < gst_sdp_message_medias_len(offer); i++) {
    const GstSDPMedia* om = gst_sdp_message_get_media(offer, i);
    const char* kind = gst_sdp_media_get_media(om);
    // Slots are matched to the offer's m-lines in order, by kind.
    Slot* slot = nullptr;
    for (size_t k = 0; k < slots_.size() && !slot; k++) {
      bool video = media::codec_info(slots_[k].codec).kind == media::Kind::kVideo;
      if (!used[k] && kind && g_str_equal(kind, video ? "video" : "audio")) {
        used[k] = true;
        slot = &slots_[k];
        // RTX for video when the player offers it for our payload type;
        // else NACKs are answered with the packet again.
        if (int rtx = video ? rtx_payload_for(om, slot->pt) : -1; rtx >= 0) use_rtx(k, rtx);
        else if (!slot->rtx_on) slot->rtx_pt = -1;  // not offered: not in the answer
      }
    }
    const char* mid = gst_sdp_media_get_attribute_val(om, "mid");
    std::string mid_s = mid ? mid : std::to_string(i);
    add_media(answer, kind ? kind : "video", gst_sdp_media_get_proto(om), mid_s, slot,
              gst_sdp_media_formats_len(om) ? gst_sdp_media_get_format(om, 0) : "0",
              we_client ? "active" : "passive");
    bundle += " " + mid_s;
  }
  remote_ufrag_ = remote.ufrag;
  started_ = true;
  egress_.engine().start_session(local_.id, std::move(remote));
  done(finish_description(answer, bundle), "");
}

StructurePtr NativeForwardingPath::stats() const {
  engine::SessionStats s = egress_.engine().session_stats(local_.id);
  // The fields add_rtp_totals (stats, /metrics) reads from webrtcbin's.
  GstStructure* out = gst_structure_new(
      "outbound-rtp", "type", GST_TYPE_WEBRTC_STATS_TYPE, GST_WEBRTC_STATS_OUTBOUND_RTP, "packets-sent",
      G_TYPE_UINT64, guint64(s.packets_sent), "bytes-sent", G_TYPE_UINT64, guint64(s.bytes_sent), "nack-count",
      G_TYPE_UINT, guint(s.nacks), "pli-count", G_TYPE_UINT, guint(s.plis), "fir-count", G_TYPE_UINT,
      guint(s.firs), "round-trip-time", G_TYPE_DOUBLE, s.rtt_ms / 1000.0, nullptr);
  StructurePtr all(gst_structure_new("application/x-webrtc-stats", "native-outbound", GST_TYPE_STRUCTURE, out,
                                     nullptr));
  gst_structure_free(out);
  return all;
}

guint64 NativeForwardingPath::retransmissions() {
  return egress_.engine().session_stats(local_.id).retransmissions;
}

PathFactory native_forwarding(NativeEgress& egress) {
  return [&egress](const std::string& room, const std::string& name,
                   ForwardingPath::Events events) -> std::unique_ptr<ForwardingPath> {
    return std::make_unique<NativeForwardingPath>(egress, room, name, std::move(events));
  };
}

}  // namespace rtcmesh::sfu
