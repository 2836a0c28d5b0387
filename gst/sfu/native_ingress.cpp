#include "gst/sfu/native_ingress.h"

#include <gst/app/gstappsrc.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <cstdio>
#include <tuple>

#include "gst/common/debug.h"
#include "gst/media/util.h"

namespace rtcmesh::sfu {

namespace {

// The first of `accepted`'s codecs of `kind` that the m-line offers, with
// the offer's caps for it.
std::pair<std::optional<media::Codec>, CapsPtr> choose(const GstCaps* accepted, const GstSDPMedia* m,
                                                       const char* kind) {
  for (guint i = 0; i < gst_caps_get_size(accepted); i++) {
    const GstStructure* s = gst_caps_get_structure(accepted, i);
    if (g_strcmp0(gst_structure_get_string(s, "media"), kind) != 0) continue;
    std::optional<media::Codec> codec = media::codec_from_name(gst_structure_get_string(s, "encoding-name"));
    if (!codec) continue;
    if (CapsPtr caps = media::offered_caps(m, *codec)) {
      // No bandwidth feedback from us yet (issue 17 leaves estimation for
      // later): answering these would promise it.
      GstStructure* w = gst_caps_get_structure(caps.get(), 0);
      gst_structure_remove_fields(w, "rtcp-fb-transport-cc", "rtcp-fb-goog-remb", nullptr);
      return {codec, std::move(caps)};
    }
  }
  return {std::nullopt, nullptr};
}

// Port 0 rejects an m-line, unless it is bundled (webrtcbin offers its
// bundled m-lines after the first with port 0 and a=bundle-only).
// The m-line's media SSRC and its RTX SSRC (a=ssrc-group:FID, else the
// first a=ssrc), 0 when not announced.
std::pair<guint32, guint32> announced_ssrcs(const GstSDPMedia* m) {
  guint32 media = 0, rtx = 0;
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); i++) {
    const GstSDPAttribute* a = gst_sdp_media_get_attribute(m, i);
    if (!a->value) continue;
    unsigned long x = 0, y = 0;
    if (g_str_equal(a->key, "ssrc-group") && sscanf(a->value, "FID %lu %lu", &x, &y) == 2)
      return {guint32(x), guint32(y)};
    if (g_str_equal(a->key, "ssrc") && !media && sscanf(a->value, "%lu", &x) == 1) media = guint32(x);
  }
  return {media, rtx};
}

bool sends(const GstSDPMessage* sdp, const GstSDPMedia* m) {
  if (gst_sdp_media_get_attribute_val(m, "recvonly") || gst_sdp_media_get_attribute_val(m, "inactive"))
    return false;
  if (gst_sdp_media_get_port(m) != 0 || gst_sdp_media_get_attribute_val(m, "bundle-only")) return true;
  const char* mid = gst_sdp_media_get_attribute_val(m, "mid");
  const char* group = gst_sdp_message_get_attribute_val(sdp, "group");
  if (!mid || !group || !g_str_has_prefix(group, "BUNDLE ")) return false;
  std::string words = std::string(group).substr(6) + " ";
  return words.find(" " + std::string(mid) + " ") != std::string::npos;
}

}  // namespace

NativeIngress::NativeIngress(NativeEgress& egress, GstBin* bin, const std::string& room, std::string name,
                             const GstCaps* accepted, peer::PeerEvents events,
                             std::function<bool(const std::string&)> wanted)
    : egress_(egress), bin_(bin), name_(std::move(name)), accepted_(gst_caps_copy(accepted)),
      events_(std::move(events)), wanted_(std::move(wanted)), local_(egress.engine().create_session(room)),
      session_id_(std::to_string(g_random_int())) {
  ForwardingPath::Events e;
  e.connected = [this] {
    GST_CAT_INFO(rtcmesh_debug, "%s: connected (native ingress)", name_.c_str());
    if (events_.connected) events_.connected();
  };
  e.failed = [this](const std::string& why) {
    if (events_.failed) events_.failed(why);
  };
  egress_.listen(local_.id, std::move(e), &connected_);
}

NativeIngress::~NativeIngress() {
  wanted_timer_.reset();
  egress_.forget(local_.id);
  for (Stream& s : streams_) egress_.stop_receiving(s.track);  // no push into an appsrc after this
  egress_.engine().remove_session(local_.id);
  std::vector<GstElement*> appsrcs;
  for (Stream& s : streams_) {
    egress_.engine().remove_track(s.track);
    if (s.appsrc) appsrcs.push_back(s.appsrc);
  }
  media::remove_elements(bin_, appsrcs);
}

void NativeIngress::answer_offer(const std::string& offer_text, SdpDone done) {
  if (answered_) return done("", "renegotiation of a native ingress is not supported");
  GST_CAT_DEBUG(rtcmesh_debug, "%s: offer\n%s", name_.c_str(), offer_text.c_str());
  engine::Engine::RemoteParams remote;
  std::string why;
  SdpMessagePtr hold = read_remote_description(offer_text, true, &remote, &why);
  if (!hold) return done("", why);
  const GstSDPMessage* offer = hold.get();
  const char* setup = remote.role == engine::DtlsTransport::Role::kClient ? "active" : "passive";
  GstSDPMessage* answer = native_description(session_id_, 1);
  std::string bundle = "BUNDLE";
  for (guint i = 0; i < gst_sdp_message_medias_len(offer); i++) {
    const GstSDPMedia* om = gst_sdp_message_get_media(offer, i);
    const char* kind = gst_sdp_media_get_media(om);
    const char* mid = gst_sdp_media_get_attribute_val(om, "mid");
    std::string mid_s = mid ? mid : std::to_string(i);
    GstSDPMedia* m = native_media(kind ? kind : "video", gst_sdp_media_get_proto(om));
    auto [codec, caps] = kind && sends(offer, om) && (g_str_equal(kind, "audio") || g_str_equal(kind, "video"))
                             ? choose(accepted_.get(), om, kind)
                             : std::pair<std::optional<media::Codec>, CapsPtr>{};
    if (codec) {
      Stream s;
      s.mid = mid_s;
      s.codec = *codec;
      gst_structure_get_int(gst_caps_get_structure(caps.get(), 0), "payload", &s.pt);
      s.caps = std::move(caps);
      bool video = media::codec_info(s.codec).kind == media::Kind::kVideo;
      s.rtx_pt = video ? rtx_payload_for(om, s.pt) : -1;
      std::tie(s.ssrc, s.rtx_ssrc) = announced_ssrcs(om);
      set_media_caps(m, s.caps.get(), s.pt, s.rtx_pt);
      gst_sdp_media_add_attribute(m, "recvonly", nullptr);
      streams_.push_back(std::move(s));
    } else {
      set_media_inactive(m, gst_sdp_media_formats_len(om) ? gst_sdp_media_get_format(om, 0) : "0");
    }
    egress_.add_media(answer, m, mid_s, local_, setup);
    bundle += " " + mid_s;
  }
  std::string text = finish_description(answer, bundle);
  if (streams_.empty()) return done("", "the offer sends no audio or video in a codec we take");
  answered_ = true;
  for (Stream& s : streams_) {
    s.track = egress_.engine().add_track();
    engine::IngressStream in;
    in.payload_type = guint8(s.pt);
    in.clock_rate = guint32(media::codec_info(s.codec).clock_rate);
    in.video = media::codec_info(s.codec).kind == media::Kind::kVideo;
    in.rtx_payload_type = s.rtx_pt;
    in.track = s.track;
    in.ssrc = s.ssrc;
    in.rtx_ssrc = s.rtx_pt >= 0 ? s.rtx_ssrc : 0;
    egress_.engine().add_ingress(local_.id, in);
    add_appsrc(s);
  }
  egress_.engine().start_session(local_.id, std::move(remote));
  check_wanted();
  wanted_timer_ = egress_.worker().timeout(kWantedCheckMs, [this] { return check_wanted(); });
  GST_CAT_INFO(rtcmesh_debug, "%s: answered, %zu tracks through the engine", name_.c_str(), streams_.size());
  done(text, "");
}

void NativeIngress::add_appsrc(Stream& s) {
  GstElement* src = gst_element_factory_make("appsrc", nullptr);
  // Live RTP, stamped on arrival; never blocks the engine thread (a reader
  // that falls behind loses the oldest, as the fan-out's queues do).
  g_object_set(src, "caps", s.caps.get(), "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", TRUE,
               "block", FALSE, "max-bytes", guint64(2 << 20), nullptr);
  gst_util_set_object_arg(G_OBJECT(src), "leaky-type", "downstream");
  gst_bin_add(bin_, src);
  s.appsrc = src;
  GstPad* pad = gst_element_get_static_pad(src, "src");
  g_object_set_qdata_full(G_OBJECT(pad), server::Source::engine_track_quark(), new guint64(s.track),
                          [](gpointer p) { delete static_cast<guint64*>(p); });
  // A keyframe request (force-key-unit from the Source's fan-out, which
  // merges and rate-limits them) becomes the engine's PLI.
  struct Keyframes {
    std::function<void(engine::TrackId)> request;
    engine::TrackId track;
  };
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* k = static_cast<Keyframes*>(data);
        if (gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info))) k->request(k->track);
        return GST_PAD_PROBE_OK;
      },
      new Keyframes{egress_.keyframe_requester(), s.track}, [](gpointer p) { delete static_cast<Keyframes*>(p); });
  gst_object_unref(pad);
  egress_.receive(s.track, [src, wanted = s.wanted](const uint8_t* data, size_t size) {
    if (!wanted->load(std::memory_order_relaxed)) return;
    gst_app_src_push_buffer(GST_APP_SRC(src), gst_buffer_new_memdup(data, size));
  });
  gst_element_sync_state_with_parent(src);
}

bool NativeIngress::check_wanted() {
  for (Stream& s : streams_) {
    bool now = wanted_(s.mid);
    if (now != s.wanted->exchange(now))
      GST_CAT_DEBUG(rtcmesh_debug, "%s: track %s %s through GStreamer", name_.c_str(), s.mid.c_str(),
                    now ? "read" : "no longer read");
  }
  return true;
}

std::vector<std::pair<std::string, GstPad*>> NativeIngress::pads() const {
  std::vector<std::pair<std::string, GstPad*>> out;
  for (const Stream& s : streams_) {
    GstPad* pad = gst_element_get_static_pad(s.appsrc, "src");
    out.emplace_back(s.mid, pad);
    gst_object_unref(pad);  // the appsrc keeps it
  }
  return out;
}

StructurePtr NativeIngress::stats() const {
  engine::SessionStats s = egress_.engine().session_stats(local_.id);
  // The fields add_rtp_totals (stats, /metrics) reads from webrtcbin's.
  GstStructure* in = gst_structure_new(
      "inbound-rtp", "type", GST_TYPE_WEBRTC_STATS_TYPE, GST_WEBRTC_STATS_INBOUND_RTP, "packets-received",
      G_TYPE_UINT64, guint64(s.packets_received), "bytes-received", G_TYPE_UINT64, guint64(s.bytes_received),
      "packets-lost", G_TYPE_INT64, gint64(s.lost), "nack-count", G_TYPE_UINT, guint(s.nacks_sent), "pli-count",
      G_TYPE_UINT, guint(s.plis_sent), nullptr);
  StructurePtr all(
      gst_structure_new("application/x-webrtc-stats", "native-inbound", GST_TYPE_STRUCTURE, in, nullptr));
  gst_structure_free(in);
  return all;
}

}  // namespace rtcmesh::sfu
