#include "gst/peer/peer.h"

#include <gst/sdp/sdp.h>

#include <atomic>
#include <mutex>

#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/heap.h"
#include "gst/media/jitter_passthrough.h"
#include "gst/peer/dtls_certificate.h"
#include "signaling/http/dtls_fingerprint.h"
#include "signaling/http/sdp.h"

#define GST_CAT_DEFAULT rtcpeer_debug

namespace rtcmesh::peer {

// What webrtcbin's threads may touch. They hold a shared_ptr to it, never to
// the Peer: once `peer` is null the Peer is gone and late callbacks do nothing.
struct Peer::Life {
  Life(Worker& w, Peer* p) : worker(w), peer(p) {}
  Worker& worker;
  std::mutex mutex;  // guards `peer` against streaming-thread readers
  Peer* peer;
  std::atomic<gint64> last_activity_us{0};
  mutable std::mutex stats_mutex;
  StructurePtr stats;
  std::vector<SdpDone> gather_waiters;  // worker only
  Timer gather_timer;                   // worker only
  std::vector<std::pair<GPtr<GObject>, gulong>> handlers;  // worker only
  SenderReportFn sender_report;  // set before any RTCP arrives, then read only

  // DTLS (RFC 8122): the remote description's fingerprints and whether the
  // certificate the remote side presented matches them. Until it does, only
  // the handshake crosses (dtls_gate); a mismatch keeps the gate shut.
  enum Dtls { kUnverified, kVerified, kRefused };
  std::atomic<int> dtls{kUnverified};
  std::mutex fingerprints_mutex;
  std::vector<std::vector<sig::DtlsFingerprint>> remote_fingerprints;
  // Any thread: fails the Peer on the worker.
  static void refuse_dtls(const std::shared_ptr<Life>& life, const std::string& why);

  // Data channels' signal handlers, connected on whichever thread the channel
  // appeared (webrtcbin's for the remote's): a message may follow at once.
  std::mutex data_mutex;
  std::vector<std::pair<GPtr<GObject>, gulong>> data_handlers;
  static void watch_channel(GstWebRTCDataChannel* channel, const std::shared_ptr<Life>& life);
  static void deliver(const std::shared_ptr<Life>& life, DataMessage message);
};

namespace {

using LifePtr = std::shared_ptr<Peer::Life>;

// RTCP of a session that receives media (see the new-jitterbuffer handler):
// the regular interval, which also spaces early RTCP (NACKs), and an RTCP
// bandwidth that allows it (rtcp-fraction above 1 is absolute; rtpsession
// divides 8 × the average RTCP size by it: ~100-byte reports from ~5
// sources come out at ~40 ms).
constexpr guint64 kReceiverRtcpIntervalMs = 50;
constexpr gdouble kReceiverRtcpBandwidth = 100000.0;

// Signal handler data: a heap shared_ptr freed with the closure, so handlers
// running while we disconnect still see valid data.
LifePtr* hold(const LifePtr& life) { return new LifePtr(life); }
void release(gpointer data, GClosure*) { delete static_cast<LifePtr*>(data); }

template <typename Fn>
void connect(gpointer instance, const char* signal, Fn fn, const LifePtr& life) {
  gulong id = g_signal_connect_data(instance, signal, G_CALLBACK(+fn), hold(life), release,
                                    GConnectFlags(0));
  life->handlers.emplace_back(retain(G_OBJECT(instance)), id);
}

// Runs `fn(peer)` on the worker if the Peer still exists by then.
template <typename Fn>
void on_worker(const LifePtr& life, Fn fn) {
  life->worker.post([life, fn = std::move(fn)]() mutable {
    if (Peer* p = life->peer) guard(nullptr, "peer callback", [&] { fn(*p); });
  });
}

struct PromiseData {
  LifePtr life;
  std::function<void(Peer&, const GstStructure*)> fn;
};

// A promise whose reply is copied on webrtcbin's thread and handled on ours.
GstPromise* promise_to_worker(const LifePtr& life,
                              std::function<void(Peer&, const GstStructure*)> fn) {
  auto* data = new PromiseData{life, std::move(fn)};
  return gst_promise_new_with_change_func(
      [](GstPromise* promise, gpointer user) {
        auto* d = static_cast<PromiseData*>(user);
        const GstStructure* reply = gst_promise_get_reply(promise);
        std::shared_ptr<GstStructure> copy(reply ? gst_structure_copy(reply) : nullptr,
                                           [](GstStructure* s) {
                                             if (s) gst_structure_free(s);
                                           });
        on_worker(d->life, [fn = d->fn, copy](Peer& p) { fn(p, copy.get()); });
      },
      data, [](gpointer user) { delete static_cast<PromiseData*>(user); });
}

// set-*-description reply with no structure at all on success.
std::string reply_error(const GstStructure* reply) {
  if (!reply) return {};
  GError* err = nullptr;
  if (gst_structure_has_field(reply, "error")) {
    gst_structure_get(reply, "error", G_TYPE_ERROR, &err, nullptr);
    std::string msg = err ? err->message : "unknown error";
    g_clear_error(&err);
    return msg;
  }
  return {};
}

// NACK/RTX for video only: browsers do no audio RTX (Opus has in-band FEC),
// and Chromium refuses an offer whose audio m-line carries an RTX ssrc-group
// ("Failed to add remote stream ssrc").
gboolean is_video(const GstCaps* caps) {
  return caps && gst_caps_get_size(caps) > 0 &&
         g_strcmp0(gst_structure_get_string(gst_caps_get_structure(caps, 0), "media"), "video") == 0;
}

std::string mid_of(GstWebRTCRTPTransceiver* transceiver) {
  gchar* mid = nullptr;
  if (transceiver) g_object_get(transceiver, "mid", &mid, nullptr);
  std::string out = mid ? mid : "";
  g_free(mid);
  return out;
}

GPtr<GstElement> rtpbin_of(GstElement* webrtc) {
  GPtr<GstElement> rtpbin = adopt(gst_bin_get_by_name(GST_BIN(webrtc), "rtpbin"));
  if (!rtpbin) throw std::runtime_error(std::string(GST_OBJECT_NAME(webrtc)) + " has no rtpbin");
  return rtpbin;
}

std::atomic<uint64_t> dtls_refusal_count{0};

// What may not cross a connection before its remote certificate is verified
// (RFC 7983 demultiplexing by first byte): SRTP/SRTCP (128–191) and DTLS
// application data (content type 23: SCTP, i.e. data channels). The
// handshake itself (20–22) must.
bool held_back(GstBuffer* buffer) {
  guint8 first = 0;
  if (gst_buffer_extract(buffer, 0, &first, 1) != 1) return false;
  return first == 23 || (first >= 128 && first <= 191);
}

// On the DTLS element's outer pad (to or from the ICE transport): drops what
// held_back() names while the gate is shut, and goes away once verified, so
// a verified connection pays nothing per packet.
void add_dtls_gate(GstElement* element, const char* pad_name, const LifePtr& life) {
  GPtr<GstPad> pad = adopt(gst_element_get_static_pad(element, pad_name));
  if (!pad) return;
  gst_pad_add_probe(
      pad.get(), GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto& life = *static_cast<LifePtr*>(data);
        if (life->dtls == Peer::Life::kVerified) return GST_PAD_PROBE_REMOVE;
        if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER)
          return held_back(GST_PAD_PROBE_INFO_BUFFER(info)) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
        GstBufferList* list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
        GST_PAD_PROBE_INFO_DATA(info) = list;
        gst_buffer_list_foreach(
            list,
            [](GstBuffer** buffer, guint, gpointer) -> gboolean {
              if (held_back(*buffer)) gst_clear_buffer(buffer);
              return TRUE;
            },
            nullptr);
        return gst_buffer_list_length(list) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
      },
      new LifePtr(life), [](gpointer d) { delete static_cast<LifePtr*>(d); });
}

// dtlsdec reports the remote certificate from OpenSSL's verify callback, on
// the DTLS thread, before the SRTP keys exist: the verdict is in before any
// media could be decrypted or sent.
void verify_remote_certificate(GstElement* dtlssrtpdec, const LifePtr& life) {
  gchar* raw = nullptr;
  g_object_get(dtlssrtpdec, "peer-pem", &raw, nullptr);
  GCharPtr pem(raw);
  std::string why;
  bool ok;
  {
    std::lock_guard lock(life->fingerprints_mutex);
    ok = pem && sig::certificate_matches(pem.get(), life->remote_fingerprints, &why);
    if (!pem) why = "no remote certificate";
  }
  int unverified = Peer::Life::kUnverified;
  if (ok && life->dtls.compare_exchange_strong(unverified, Peer::Life::kVerified)) return;
  if (ok || life->dtls.exchange(Peer::Life::kRefused) == Peer::Life::kRefused) return;
  ++dtls_refusal_count;
  Peer::Life::refuse_dtls(life, why);
}

// What we send: webrtcbin's local description with our certificate's
// fingerprint. Given a certificate, webrtcbin 1.22 hashes the whole PEM it
// was given (certificate and private key) for a=fingerprint, which then
// matches nothing. Host candidates carry the announced addresses.
std::string local_description(GstElement* webrtc, const std::vector<std::string>& announced) {
  GstWebRTCSessionDescription* desc = nullptr;
  g_object_get(webrtc, "local-description", &desc, nullptr);
  if (!desc) return {};
  static const std::string ours =
      "a=fingerprint:" + sig::to_string(sig::fingerprint_of(dtls_certificate_pem(), "sha-256"));
  GCharPtr text(gst_sdp_message_as_text(desc->sdp));
  gst_webrtc_session_description_free(desc);
  std::string sdp = text ? text.get() : "";
  for (size_t at = sdp.find("a=fingerprint:"); at != std::string::npos;
       at = sdp.find("a=fingerprint:", at + ours.size())) {
    size_t end = sdp.find_first_of("\r\n", at);
    sdp.replace(at, (end == std::string::npos ? sdp.size() : end) - at, ours);
  }
  return sig::announce_host_candidates(sdp, announced);
}

}  // namespace

Peer::Peer(GstBin* bin, Worker& worker, const std::string& name, const IceSettings& ice,
           GstClockTime peer_timeout, PeerEvents events)
    : worker_(worker),
      name_(name),
      bin_(bin),
      peer_timeout_(peer_timeout),
      gather_timeout_ms_(ice.gather_timeout_ms),
      announced_(ice.announced_addresses),
      events_(std::move(events)),
      life_(std::make_shared<Life>(worker, this)) {
  // The serial keeps two connections of one name (the same publisher in two
  // rooms, a rebuilt connection) apart in one bin. webrtcbin names its
  // threads "<element>:pc" and "<element>:ice", and Linux refuses thread
  // names over 15 characters (the thread then keeps its creator's name, and
  // crash reports blamed our worker): the element is "wrtc<serial>", and the
  // log says which connection that is.
  static std::atomic<uint64_t> serial{0};
  const std::string id = std::to_string(++serial);
  name_ = name + "-" + id;
  webrtc_ = gst_element_factory_make("webrtcbin", ("wrtc" + id).c_str());
  if (!webrtc_) throw std::runtime_error("webrtcbin is missing (install gstreamer1.0-plugins-bad)");
  GST_INFO("%s: webrtcbin %s", name_.c_str(), GST_OBJECT_NAME(webrtc_));
  prepare_freed_memory_release();
  static const bool logged = [] {
    GST_INFO("DTLS certificate %s",
             sig::to_string(sig::fingerprint_of(dtls_certificate_pem(), "sha-256")).c_str());
    return true;
  }();
  (void)logged;
  g_object_set(webrtc_, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, nullptr);
  if (!ice.stun_server.empty()) g_object_set(webrtc_, "stun-server", ice.stun_server.c_str(), nullptr);
  for (const auto& turn : ice.turn_servers) {
    gboolean ok = FALSE;
    g_signal_emit_by_name(webrtc_, "add-turn-server", turn.c_str(), &ok);
    if (!ok) GST_WARNING("%s: TURN server '%s' rejected", name_.c_str(), turn.c_str());
  }
  if (ice.relay_only)
    g_object_set(webrtc_, "ice-transport-policy", GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, nullptr);

  // UPnP discovery makes every gathering take ~200 ms; keepalive connchecks are
  // the backstop for a vanished peer (DESIGN §6).
  GstWebRTCICE* agent_owner = nullptr;
  g_object_get(webrtc_, "ice-agent", &agent_owner, nullptr);
  if (agent_owner) {
    GObject* agent = nullptr;
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(agent_owner), "agent"))
      g_object_get(agent_owner, "agent", &agent, nullptr);
    if (agent) {
      g_object_set(agent, "upnp", FALSE, "keepalive-conncheck", TRUE, nullptr);
      g_object_unref(agent);
    }
    for (const auto& addr : ice.local_addresses) {
      gboolean ok = FALSE;
      g_signal_emit_by_name(agent_owner, "add-local-ip-address", addr.c_str(), &ok);
    }
    gst_object_unref(agent_owner);
  }

  // The DTLS elements appear with each transport, before webrtcbin reads
  // their certificate for a description and before they start.
  connect(
      webrtc_, "deep-element-added",
      [](GstBin*, GstBin*, GstElement* element, gpointer data) {
        auto& life = *static_cast<LifePtr*>(data);
        GstElementFactory* factory = gst_element_get_factory(element);
        const char* kind = factory ? GST_OBJECT_NAME(factory) : "";
        if (g_strcmp0(kind, "dtlssrtpdec") == 0) {
          g_object_set(element, "pem", dtls_certificate_pem().c_str(), nullptr);
          g_signal_connect_data(element, "notify::peer-pem",
                                G_CALLBACK(+[](GstElement* dec, GParamSpec*, gpointer d) {
                                  verify_remote_certificate(dec, *static_cast<LifePtr*>(d));
                                }),
                                hold(life), release, GConnectFlags(0));
          add_dtls_gate(element, "sink", life);
        } else if (g_strcmp0(kind, "dtlssrtpenc") == 0) {
          add_dtls_gate(element, "src", life);
        }
      },
      life_);
  connect(
      webrtc_, "on-ice-candidate",
      [](GstElement*, guint mline, gchar* candidate, gpointer data) {
        on_worker(*static_cast<LifePtr*>(data), [mline, c = std::string(candidate)](Peer& p) {
          if (p.events_.local_candidate)
            p.events_.local_candidate(mline, sig::announce_host_candidates(c, p.announced_));
        });
      },
      life_);
  connect(
      webrtc_, "on-new-transceiver",
      [](GstElement*, GstWebRTCRTPTransceiver* trans, gpointer) {
        // Without do-nack the answer strips nack and RTX (1.22 default FALSE).
        g_object_set(trans, "do-nack", TRUE, nullptr);
      },
      life_);
  connect(
      webrtc_, "notify::ice-gathering-state",
      [](GstElement* webrtc, GParamSpec*, gpointer data) {
        GstWebRTCICEGatheringState state;
        g_object_get(webrtc, "ice-gathering-state", &state, nullptr);
        if (state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) return;
        on_worker(*static_cast<LifePtr*>(data), [](Peer& p) {
          auto waiters = std::move(p.life_->gather_waiters);
          p.life_->gather_waiters.clear();
          p.life_->gather_timer.reset();
          std::string sdp = local_description(p.webrtc_, p.announced_);
          for (auto& w : waiters) w(sdp, {});
        });
      },
      life_);
  connect(
      webrtc_, "notify::connection-state",
      [](GstElement* webrtc, GParamSpec*, gpointer data) {
        GstWebRTCPeerConnectionState state;
        g_object_get(webrtc, "connection-state", &state, nullptr);
        on_worker(*static_cast<LifePtr*>(data), [state](Peer& p) {
          GST_DEBUG("%s: connection state %d", p.name_.c_str(), state);
          if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED && !p.connected_) {
            p.connected_ = true;
            p.life_->last_activity_us = g_get_monotonic_time();
            GST_INFO("%s: connected in %.0f ms", p.name_.c_str(),
                     (g_get_monotonic_time() - p.connect_started_us_) / 1000.0);
            if (p.events_.connected) p.events_.connected();
          } else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
            p.fail("ICE/DTLS connection failed");
          }
        });
      },
      life_);
  connect(
      webrtc_, "pad-added",
      [](GstElement*, GstPad* pad, gpointer data) {
        if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
        auto& life = *static_cast<LifePtr*>(data);
        // Inbound RTP is proof of life for publishers.
        gst_pad_add_probe(
            pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
            [](GstPad*, GstPadProbeInfo*, gpointer d) {
              (*static_cast<LifePtr*>(d))->last_activity_us = g_get_monotonic_time();
              return GST_PAD_PROBE_OK;
            },
            new LifePtr(life), [](gpointer d) { delete static_cast<LifePtr*>(d); });
        GstWebRTCRTPTransceiver* trans = nullptr;
        g_object_get(pad, "transceiver", &trans, nullptr);
        bool linked = false;
        {
          std::lock_guard lock(life->mutex);
          if (Peer* p = life->peer; p && p->events_.remote_pad)
            linked = guard(nullptr, "pad-added",
                           [&] { return p->events_.remote_pad(pad, mid_of(trans)); });
        }
        if (trans) gst_object_unref(trans);
        if (!linked) {
          // Never leave a webrtcbin src pad unlinked: it would stop the transport.
          GstElement* bin = GST_ELEMENT(gst_element_get_parent(GST_PAD_PARENT(pad)));
          GstElement* sink = gst_element_factory_make("fakesink", nullptr);
          g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
          gst_bin_add(GST_BIN(bin), sink);
          gst_element_sync_state_with_parent(sink);
          GPtr<GstPad> sinkpad = adopt(gst_element_get_static_pad(sink, "sink"));
          gst_pad_link(pad, sinkpad.get());
          gst_object_unref(bin);
        }
      },
      life_);

  // RTCP from the remote side (SR or RR) is proof of life for both directions.
  GstElement* rtpbin = gst_bin_get_by_name(GST_BIN(webrtc_), "rtpbin");
  if (rtpbin) {
    connect(
        rtpbin, "on-ssrc-active",
        [](GstElement*, guint, guint, gpointer data) {
          (*static_cast<LifePtr*>(data))->last_activity_us = g_get_monotonic_time();
        },
        life_);
    connect(
        rtpbin, "on-bye-ssrc",
        [](GstElement*, guint, guint ssrc, gpointer data) {
          on_worker(*static_cast<LifePtr*>(data), [ssrc](Peer& p) {
            if (p.events_.remote_bye) p.events_.remote_bye(ssrc);
          });
        },
        life_);
    // RTCP every second rather than every 5 s: a receive-only remote's RTCP
    // is its only sign of life, and peer-timeout must be able to be short.
    g_signal_connect(rtpbin, "element-added", G_CALLBACK(+[](GstBin*, GstElement* e, gpointer) {
                       GstElementFactory* f = gst_element_get_factory(e);
                       if (f && g_strcmp0(GST_OBJECT_NAME(f), "rtpsession") == 0)
                         g_object_set(e, "rtcp-min-interval", guint64(GST_SECOND), nullptr);
                     }),
                     nullptr);
    // A session that receives media asks for lost packets by NACK, and
    // rtpsession sends one early (RFC 4585 3.5.2) only if no other early
    // RTCP went out within the last regular interval: with that interval at
    // 0.5-1.5 s (above), most NACKs waited for the next regular RTCP, came
    // after the jitterbuffer's 200 ms and the frame was lost (rtcwhepsrc and
    // rtcmeshbin froze 300-900 ms under 2 % loss, the sender answering in
    // under a millisecond). So a receiving session's regular interval is
    // ~50 ms (25-75 ms, and RTCP bandwidth enough for it: ~100 bytes every
    // 50 ms); sessions that only send keep 1 s.
    // And NACK only what a gap shows lost: rtpjitterbuffer's default also
    // asks for the next sequence number as soon as it is "late" by the
    // packet spacing it estimated, which for video sent a frame at a time
    // is every frame's first packet. Those requests reach the sender before
    // the packet exists (unanswerable) or just after it was sent (a
    // duplicate: for audio, without RTX, srtpdec drops it as replayed), and
    // each uses up the early-RTCP slot a real loss then waits for.
    g_signal_connect(rtpbin, "new-jitterbuffer",
                     G_CALLBACK(+[](GstElement* rtpbin, GstElement* jb, guint session_id, guint, gpointer) {
                       if (g_object_class_find_property(G_OBJECT_GET_CLASS(jb), "rtx-next-seqnum"))
                         g_object_set(jb, "rtx-next-seqnum", FALSE, nullptr);
                       GObject* session = nullptr;
                       g_signal_emit_by_name(rtpbin, "get-internal-session", session_id, &session);
                       if (!session) return;
                       g_object_set(session, "rtcp-min-interval", guint64(kReceiverRtcpIntervalMs * GST_MSECOND),
                                    "rtcp-fraction", kReceiverRtcpBandwidth, nullptr);
                       g_object_unref(session);
                     }),
                     nullptr);
    gst_object_unref(rtpbin);
  }

  gst_object_ref_sink(webrtc_);
  if (!gst_bin_add(bin_, webrtc_)) {
    gst_object_unref(webrtc_);
    throw std::runtime_error("cannot add " + name_ + " to " + GST_OBJECT_NAME(bin_));
  }
  connect_started_us_ = g_get_monotonic_time();
  gst_element_sync_state_with_parent(webrtc_);
  tick_ = worker_.timeout(500, [this] {
    on_tick();
    return true;
  });
}

Peer::~Peer() {
  tick_.reset();
  // webrtcbin 1.22 walks each rtpsession's source table for get-stats on its
  // own thread, and rtpsession's PAUSED→READY empties that table without the
  // session lock (fixed in 1.23.1): a GLib-CRITICAL, or a SIGSEGV when the
  // walk meets freed entries, seen under churn. So no stats may be in flight
  // when the webrtcbin stops: wait for the last request (a task on webrtcbin's
  // thread, which never waits for ours).
  if (stats_promise_) {
    gst_promise_wait(stats_promise_);
    gst_promise_unref(stats_promise_);
    stats_promise_ = nullptr;
  }
  life_->gather_timer.reset();
  {
    std::lock_guard lock(life_->mutex);
    life_->peer = nullptr;
  }
  for (auto& [instance, id] : life_->handlers) g_signal_handler_disconnect(instance.get(), id);
  life_->handlers.clear();
  {
    std::lock_guard lock(life_->data_mutex);
    for (auto& [instance, id] : life_->data_handlers) g_signal_handler_disconnect(instance.get(), id);
    life_->data_handlers.clear();
  }
  channels_.clear();
  gst_element_set_locked_state(webrtc_, TRUE);
  gst_element_set_state(webrtc_, GST_STATE_NULL);
  gst_bin_remove(bin_, webrtc_);
  gst_object_unref(webrtc_);
  GST_DEBUG("%s: torn down", name_.c_str());
  release_freed_memory_soon();
}

GstPad* Peer::add_send_track(const GstCaps* rtp_caps, bool sendrecv) {
  GstPadTemplate* templ =
      gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(webrtc_), "sink_%u");
  GstPad* pad = gst_element_request_pad(webrtc_, templ, nullptr, rtp_caps);
  if (!pad) throw std::runtime_error("webrtcbin refused a sink pad for " + name_);
  GstWebRTCRTPTransceiver* trans = nullptr;
  g_object_get(pad, "transceiver", &trans, nullptr);
  if (trans) {
    g_object_set(trans, "direction",
                 sendrecv ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
                          : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
                 "codec-preferences", rtp_caps, "do-nack", is_video(rtp_caps), nullptr);
    gst_object_unref(trans);
  }
  gst_object_unref(pad);  // webrtcbin keeps its own reference while it exists
  return pad;
}

void Peer::set_send_track_active(GstPad* send_pad, bool active) {
  GstWebRTCRTPTransceiver* trans = nullptr;
  g_object_get(send_pad, "transceiver", &trans, nullptr);
  if (!trans) return;
  g_object_set(trans, "direction",
               active ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY
                      : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_INACTIVE,
               nullptr);
  gst_object_unref(trans);
}

void Peer::use_passthrough_jitterbuffer() {
  connect(
      rtpbin_of(webrtc_).get(), "request-jitterbuffer",
      [](GstElement*, guint, gpointer) -> GstElement* {
        return media::make_passthrough_jitterbuffer();
      },
      life_);
}

void Peer::force_retransmission() {
  connect(
      rtpbin_of(webrtc_).get(), "new-jitterbuffer",
      [](GstElement*, GstElement* jitterbuffer, guint, guint, gpointer) {
        g_object_set(jitterbuffer, "do-retransmission", TRUE, nullptr);
      },
      life_);
}

void Peer::on_sender_reports(SenderReportFn fn) {
  life_->sender_report = std::move(fn);
  // RTCP from an SSRC (SR or RR): its source's stats tell the last SR.
  connect(
      rtpbin_of(webrtc_).get(), "on-ssrc-active",
      [](GstElement* rtpbin, guint session_id, guint ssrc, gpointer data) {
        const LifePtr& life = *static_cast<LifePtr*>(data);
        GObject* session = nullptr;
        g_signal_emit_by_name(rtpbin, "get-internal-session", session_id, &session);
        if (!session) return;
        GObject* source = nullptr;
        g_signal_emit_by_name(session, "get-source-by-ssrc", ssrc, &source);
        g_object_unref(session);
        if (!source) return;
        GstStructure* stats = nullptr;
        g_object_get(source, "stats", &stats, nullptr);
        g_object_unref(source);
        if (!stats) return;
        gboolean have_sr = FALSE;
        guint64 ntp = 0;
        guint rtp = 0;
        if (gst_structure_get_boolean(stats, "have-sr", &have_sr) && have_sr &&
            gst_structure_get_uint64(stats, "sr-ntptime", &ntp) && gst_structure_get_uint(stats, "sr-rtptime", &rtp))
          life->sender_report(ssrc, ntp, rtp);
        gst_structure_free(stats);
      },
      life_);
}

bool Peer::posted(GstMessage* message) const { return is_from(message, webrtc_); }

bool Peer::posted_by_any(GstMessage* message) {
  for (GstObject* o = GST_MESSAGE_SRC(message); o; o = GST_OBJECT_PARENT(o))
    if (g_strcmp0(G_OBJECT_TYPE_NAME(o), "GstWebRTCBin") == 0) return true;
  return false;
}

guint64 Peer::retransmissions() const { return peer::retransmissions(webrtc_); }

guint64 retransmissions(GstElement* webrtcbin) {
  guint64 total = 0;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(webrtcbin));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&v));
    GstElementFactory* f = gst_element_get_factory(e);
    if (f && g_strcmp0(GST_OBJECT_NAME(f), "rtprtxsend") == 0) {
      guint n = 0;
      g_object_get(e, "num-rtx-packets", &n, nullptr);
      total += n;
    }
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return total;
}

namespace {
std::string label_of(GstWebRTCDataChannel* channel) {
  gchar* label = nullptr;
  g_object_get(channel, "label", &label, nullptr);
  std::string out = label ? label : "";
  g_free(label);
  return out;
}
}  // namespace

void Peer::Life::deliver(const LifePtr& life, DataMessage message) {
  // Data is proof of life too: a connection may carry nothing else (POST /rtc).
  life->last_activity_us = g_get_monotonic_time();
  on_worker(life, [m = std::move(message)](Peer& p) {
    if (p.events_.data) p.events_.data(m);
  });
}

void Peer::Life::watch_channel(GstWebRTCDataChannel* channel, const LifePtr& life) {
  auto add = [&](const char* signal, GCallback callback) {
    gulong id = g_signal_connect_data(channel, signal, callback, hold(life), release,
                                      GConnectFlags(0));
    std::lock_guard lock(life->data_mutex);
    life->data_handlers.emplace_back(retain(G_OBJECT(channel)), id);
  };
  add("on-open", G_CALLBACK(+[](GstWebRTCDataChannel* c, gpointer d) {
        on_worker(*static_cast<LifePtr*>(d), [label = label_of(c)](Peer& p) { p.channel_opened(label); });
      }));
  add("on-close", G_CALLBACK(+[](GstWebRTCDataChannel* c, gpointer d) {
        on_worker(*static_cast<LifePtr*>(d), [label = label_of(c)](Peer& p) { p.channel_closed(label); });
      }));
  add("on-message-string", G_CALLBACK(+[](GstWebRTCDataChannel* c, gchar* text, gpointer d) {
        deliver(*static_cast<LifePtr*>(d), DataMessage{label_of(c), text ? text : "", true});
      }));
  add("on-message-data", G_CALLBACK(+[](GstWebRTCDataChannel* c, GBytes* bytes, gpointer d) {
        gsize size = 0;
        const char* data = bytes ? static_cast<const char*>(g_bytes_get_data(bytes, &size)) : nullptr;
        deliver(*static_cast<LifePtr*>(d), DataMessage{label_of(c), std::string(data ? data : "", size), false});
      }));
}

void Peer::enable_data_channels(bool room_data_channel) {
  room_data_channel_ |= room_data_channel;
  if (data_enabled_) return;
  data_enabled_ = true;
  // The remote's channels (we answer): watched on webrtcbin's thread before
  // their first message can come, kept on ours.
  connect(
      webrtc_, "on-data-channel",
      [](GstElement*, GstWebRTCDataChannel* channel, gpointer data) {
        auto& life = *static_cast<LifePtr*>(data);
        Life::watch_channel(channel, life);
        GPtr<GstWebRTCDataChannel> ref = retain(channel);
        on_worker(life, [c = std::shared_ptr<GstWebRTCDataChannel>(
                             ref.release(), [](GstWebRTCDataChannel* x) { gst_object_unref(x); })](
                            Peer& p) { p.adopt_channel(c.get()); });
      },
      life_);
}

void Peer::adopt_channel(GstWebRTCDataChannel* channel) {
  std::string label = label_of(channel);
  Channel& c = channels_[label];
  c.channel = retain(channel);
  GstWebRTCDataChannelState state;
  g_object_get(channel, "ready-state", &state, nullptr);
  if (state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) channel_opened(label);
}

void Peer::channel_opened(const std::string& label) {
  auto it = channels_.find(label);
  if (it == channels_.end() || it->second.open) return;
  Channel& c = it->second;
  c.open = true;
  GST_DEBUG("%s: data channel %s open, %zu queued", name_.c_str(), label.c_str(), c.queued.size());
  for (auto& [data, text] : c.queued) send_now(c.channel.get(), data, text);
  c.queued.clear();
}

void Peer::channel_closed(const std::string& label) {
  GST_DEBUG("%s: data channel %s closed", name_.c_str(), label.c_str());
  Channel& c = channels_[label];
  bool was_open = c.open;
  c.closed = true;
  c.open = false;
  c.queued.clear();
  if (was_open && events_.channel_closed) events_.channel_closed(label);
}

void Peer::send_now(GstWebRTCDataChannel* channel, const std::string& data, bool text) {
  if (text) {
    g_signal_emit_by_name(channel, "send-string", data.c_str());
  } else {
    GBytes* bytes = g_bytes_new(data.data(), data.size());
    g_signal_emit_by_name(channel, "send-data", bytes);
    g_bytes_unref(bytes);
  }
}

bool Peer::send_data(std::string data, bool text, bool reliable) {
  return send_data_on(reliable ? kReliableLabel : kUnreliableLabel, std::move(data), text);
}

bool Peer::send_data_on(const std::string& label, std::string data, bool text) {
  if (!data_enabled_ || failed_ || data.size() > kMaxDataMessage) return false;
  // A channel the remote has not opened yet (we answered) is queued for too.
  Channel& c = channels_[label];
  if (c.closed) return false;
  if (c.open) {
    send_now(c.channel.get(), data, text);
    return true;
  }
  if (c.queued.size() >= kMaxQueuedMessages) return false;
  c.queued.emplace_back(std::move(data), text);
  return true;
}

void Peer::make_offer(SdpDone done) {
  // webrtcbin cannot offer while it answers the remote's offer
  // (have-remote-offer): a server offer on a connection whose remote offered
  // meanwhile (a POST /rtc participant's publish) goes once that is answered.
  if (answering_) {
    GST_INFO("%s: an offer waits for the answer in progress", name_.c_str());
    deferred_offers_.push_back(std::move(done));
    return;
  }
  // An offerer with data channels opens ours (once: a renegotiation keeps them).
  if (data_enabled_) {
    for (const char* label : {kReliableLabel, kUnreliableLabel, kRoomDataLabel}) {
      if (label == kRoomDataLabel && !room_data_channel_) continue;
      bool reliable = label != kUnreliableLabel;
      if (channels_[label].channel) continue;
      GstStructure* options =
          reliable ? gst_structure_new("options", "ordered", G_TYPE_BOOLEAN, TRUE, nullptr)
                   : gst_structure_new("options", "ordered", G_TYPE_BOOLEAN, FALSE,
                                       "max-retransmits", G_TYPE_INT, 0, nullptr);
      GstWebRTCDataChannel* channel = nullptr;
      g_signal_emit_by_name(webrtc_, "create-data-channel", label, options, &channel);
      gst_structure_free(options);
      if (!channel) {
        GST_WARNING("%s: webrtcbin refused data channel %s", name_.c_str(), label);
        continue;
      }
      Life::watch_channel(channel, life_);
      adopt_channel(channel);
      gst_object_unref(channel);
    }
  }
  offering_ = true;
  create_description(true, 0, [this, done](const std::string& sdp, const std::string& error) {
    if (!error.empty()) {
      offering_ = false;
      return done({}, error);
    }
    set_description(true, GST_WEBRTC_SDP_TYPE_OFFER, sdp, [this, done](const std::string& error) {
      if (!error.empty()) {
        offering_ = false;
        return done({}, error);
      }
      await_gathering(done);
    });
  });
}

void Peer::accept_answer(const std::string& sdp, std::function<void(const std::string&)> done) {
  set_description(false, GST_WEBRTC_SDP_TYPE_ANSWER, sdp,
                  [this, done = std::move(done)](const std::string& error) {
                    offering_ = false;
                    done(error);
                  });
}

bool Peer::offer_outstanding() const {
  if (offering_) return true;
  GstWebRTCSignalingState state = GST_WEBRTC_SIGNALING_STATE_STABLE;
  g_object_get(webrtc_, "signaling-state", &state, nullptr);
  return state == GST_WEBRTC_SIGNALING_STATE_HAVE_LOCAL_OFFER;
}

void Peer::answer_offer(const std::string& offer, SdpDone answered) {
  // Offers asked for meanwhile wait for the answer (make_offer), then go.
  answering_ = true;
  SdpDone done = [this, answered, life = std::weak_ptr<Life>(life_)](const std::string& sdp,
                                                                      const std::string& error) {
    answering_ = false;
    auto offers = std::move(deferred_offers_);
    deferred_offers_.clear();
    answered(sdp, error);  // may destroy this Peer
    bool alive = false;
    if (auto l = life.lock()) {
      std::lock_guard lock(l->mutex);
      alive = l->peer != nullptr;
    }
    if (alive)
      for (auto& o : offers) make_offer(std::move(o));
  };
  if (accepted_) add_recv_tracks(offer);
  set_description(false, GST_WEBRTC_SDP_TYPE_OFFER, offer, [this, done](const std::string& error) {
    if (!error.empty()) return done({}, "cannot apply the offer: " + error);
    create_description(false, 0, [this, done](const std::string& sdp, const std::string& error) {
      if (!error.empty()) return done({}, error);
      set_description(true, GST_WEBRTC_SDP_TYPE_ANSWER, sdp,
                      [this, done](const std::string& error) {
                        if (!error.empty()) return done({}, error);
                        await_gathering(done);
                      });
    });
  });
}

void Peer::add_recv_track(const GstCaps* caps) {
  GstWebRTCRTPTransceiver* trans = nullptr;
  g_signal_emit_by_name(webrtc_, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                        caps, &trans);
  if (!trans) throw std::runtime_error("webrtcbin refused a receiving transceiver");
  g_object_set(trans, "do-nack", is_video(caps), nullptr);
  gst_object_unref(trans);
}

// webrtcbin answers an m-line with a transceiver of the same kind that exists
// before set-remote-description, intersecting with its codec preferences;
// one it creates itself accepts whatever was offered.
void Peer::add_recv_tracks(const std::string& offer) {
  GstSDPMessage* msg = nullptr;
  gst_sdp_message_new(&msg);
  gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(offer.data()), offer.size(), msg);
  for (guint i = 0; i < gst_sdp_message_medias_len(msg); i++) {
    const char* kind = gst_sdp_media_get_media(gst_sdp_message_get_media(msg, i));
    CapsPtr caps(gst_caps_new_empty());
    for (guint j = 0; j < gst_caps_get_size(accepted_.get()); j++) {
      const GstStructure* s = gst_caps_get_structure(accepted_.get(), j);
      if (g_strcmp0(gst_structure_get_string(s, "media"), kind) == 0)
        gst_caps_append_structure(caps.get(), gst_structure_copy(s));
    }
    if (!gst_caps_is_empty(caps.get())) add_recv_track(caps.get());
  }
  gst_sdp_message_free(msg);
}

void Peer::create_description(bool offer, int attempt, SdpDone done) {
  const char* what = offer ? "offer" : "answer";
  GstPromise* promise = promise_to_worker(
      life_, [offer, attempt, done, what](Peer& p, const GstStructure* reply) {
        GstWebRTCSessionDescription* desc = nullptr;
        std::string error = reply_error(reply);
        if (reply && error.empty())
          gst_structure_get(reply, what, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
        if (!desc) {
          // 1.22 occasionally replies without an SDP: retry once.
          if (attempt == 0) {
            GST_WARNING("%s: create-%s gave no SDP (%s), retrying", p.name_.c_str(), what,
                        error.c_str());
            return p.create_description(offer, 1, done);
          }
          return done({}, std::string("create-") + what + " failed: " +
                              (error.empty() ? "no SDP in the reply" : error));
        }
        GCharPtr text(gst_sdp_message_as_text(desc->sdp));
        gst_webrtc_session_description_free(desc);
        done(text.get(), {});
      });
  g_signal_emit_by_name(webrtc_, offer ? "create-offer" : "create-answer", nullptr, promise);
  gst_promise_unref(promise);
}

void Peer::set_description(bool local, GstWebRTCSDPType type, const std::string& sdp,
                           std::function<void(const std::string&)> done) {
  GstSDPMessage* msg = nullptr;
  gst_sdp_message_new(&msg);
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(sdp.data()), sdp.size(), msg) !=
      GST_SDP_OK) {
    gst_sdp_message_free(msg);
    return done("unparseable SDP");
  }
  if (!local) {
    // A remote description without fingerprints could never be verified.
    try {
      auto fingerprints = sig::dtls_fingerprints(sdp);
      std::lock_guard lock(life_->fingerprints_mutex);
      life_->remote_fingerprints = std::move(fingerprints);
    } catch (const sig::SdpError& e) {
      gst_sdp_message_free(msg);
      return done(e.what());
    }
  }
  GstWebRTCSessionDescription* desc = gst_webrtc_session_description_new(type, msg);
  GstPromise* promise = promise_to_worker(life_, [done](Peer&, const GstStructure* reply) {
    done(reply_error(reply));
  });
  g_signal_emit_by_name(webrtc_, local ? "set-local-description" : "set-remote-description", desc,
                        promise);
  gst_promise_unref(promise);
  gst_webrtc_session_description_free(desc);
}

void Peer::await_gathering(SdpDone done) {
  GstWebRTCICEGatheringState state;
  g_object_get(webrtc_, "ice-gathering-state", &state, nullptr);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    return done(local_description(webrtc_, announced_), {});
  life_->gather_waiters.push_back(std::move(done));
  if (!life_->gather_timer) {
    life_->gather_timer = worker_.timeout(gather_timeout_ms_, [this] {
      GST_INFO("%s: gathering not complete after %u ms, going on", name_.c_str(),
               gather_timeout_ms_);
      auto waiters = std::move(life_->gather_waiters);
      life_->gather_waiters.clear();
      std::string sdp = local_description(webrtc_, announced_);
      life_->gather_timer.release();  // this source ends by returning false
      for (auto& w : waiters) w(sdp, {});
      return false;
    });
  }
}

void Peer::add_remote_candidate(guint mline, const std::string& candidate) {
  // webrtcbin wants the attribute value without "a=".
  std::string c = candidate.rfind("a=", 0) == 0 ? candidate.substr(2) : candidate;
  g_signal_emit_by_name(webrtc_, "add-ice-candidate", mline, c.c_str());
}

StructurePtr Peer::stats() const {
  std::lock_guard lock(life_->stats_mutex);
  return StructurePtr(life_->stats ? gst_structure_copy(life_->stats.get()) : nullptr);
}

void Peer::on_tick() {
  if (failed_) return;
  // Stats every other tick (every second, as documented): one get-stats costs
  // webrtcbin about half a million instructions, which at two a second per
  // connection was ~4% of a WHEP server's instructions per forwarded packet.
  if (ticks_++ % 2 == 0) {
    GstPromise* promise = promise_to_worker(life_, [](Peer& p, const GstStructure* reply) {
      if (!reply) return;
      std::lock_guard lock(p.life_->stats_mutex);
      p.life_->stats.reset(gst_structure_copy(reply));
    });
    g_signal_emit_by_name(webrtc_, "get-stats", nullptr, promise);
    if (stats_promise_) gst_promise_unref(stats_promise_);
    stats_promise_ = promise;  // ~Peer waits for it
  }

  if (connected_ && peer_timeout_ != GST_CLOCK_TIME_NONE) {
    gint64 idle_us = g_get_monotonic_time() - life_->last_activity_us;
    if (GstClockTime(idle_us) * GST_USECOND > peer_timeout_)
      fail("no RTP or RTCP from the remote side for " + std::to_string(idle_us / 1000) + " ms");
  }
}

void Peer::Life::refuse_dtls(const std::shared_ptr<Life>& life, const std::string& why) {
  on_worker(life, [why](Peer& p) { p.fail("DTLS certificate refused: " + why); });
}

uint64_t Peer::dtls_refusals() { return dtls_refusal_count; }

void Peer::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  GST_WARNING("%s: %s", name_.c_str(), why.c_str());
  if (events_.failed) events_.failed(why);
}

}  // namespace rtcmesh::peer
