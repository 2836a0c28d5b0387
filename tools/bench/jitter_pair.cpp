#include "tools/bench/jitter_pair.h"

#include <gst/rtp/rtp.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <mutex>
#include <set>
#include <vector>

#include "gst/common/ptr.h"
#include "gst/media/jitter_passthrough.h"
#include "gst/peer/peer.h"

namespace bench {
namespace {

using rtcmesh::adopt;
using rtcmesh::GPtr;

// Bytes 2-3 of the RTP header.
guint16 seq_of(GstBuffer* b) {
  guint8 seq[2] = {};
  gst_buffer_extract(b, 2, seq, sizeof seq);
  return GST_READ_UINT16_BE(seq);
}

class Pair {
 public:
  explicit Pair(bool passthrough);
  ~Pair();
  JitterFigures run();

 private:
  static void on_description(GstPromise* promise, Pair* p, bool offer);
  static void on_offer(GstPromise* promise, gpointer p) {
    on_description(promise, static_cast<Pair*>(p), true);
  }
  static void on_answer(GstPromise* promise, gpointer p) {
    on_description(promise, static_cast<Pair*>(p), false);
  }
  static void on_send_rtpbin_pad(GstElement*, GstPad* pad, gpointer data);
  static void on_recv_rtpbin_pad(GstElement*, GstPad* pad, gpointer data);
  static void on_recv_pad(GstElement* w, GstPad* pad, gpointer data);

  GstElement* pipeline_ = nullptr;
  GstElement* send_ = nullptr;
  GstElement* recv_ = nullptr;
  std::atomic<int> sent_media_{0};
  std::atomic<int> out_packets_{0};
  std::mutex mutex_;
  gint64 first_in_us_ = 0, first_out_us_ = 0;
  std::vector<guint16> dropped_;
  std::set<guint16> arrived_;
  std::vector<GstElement*> jitterbuffers_;
};

Pair::Pair(bool passthrough) {
  pipeline_ = gst_parse_launch(
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1 "
      "! vp8enc deadline=1 cpu-used=8 target-bitrate=1500000 keyframe-max-dist=30 "
      "! rtpvp8pay mtu=300 ! application/x-rtp,media=video,encoding-name=VP8,payload=96,"
      "clock-rate=90000 ! webrtcbin name=send bundle-policy=max-bundle "
      "webrtcbin name=recv bundle-policy=max-bundle",
      nullptr);
  if (!pipeline_) return;
  send_ = gst_bin_get_by_name(GST_BIN(pipeline_), "send");
  recv_ = gst_bin_get_by_name(GST_BIN(pipeline_), "recv");
  for (GstElement* w : {send_, recv_}) {
    GstElement* ice = nullptr;
    g_object_get(w, "ice-agent", &ice, nullptr);
    GObject* agent = nullptr;
    g_object_get(ice, "agent", &agent, nullptr);
    g_object_set(agent, "upnp", FALSE, nullptr);
    g_object_unref(agent);
    gst_object_unref(ice);
    g_signal_connect(w, "on-new-transceiver",
                     G_CALLBACK(+[](GstElement*, GstWebRTCRTPTransceiver* t, gpointer) {
                       g_object_set(t, "do-nack", TRUE, nullptr);
                     }),
                     nullptr);
    g_signal_connect(w, "on-ice-candidate",
                     G_CALLBACK(+[](GstElement* self, guint mline, gchar* c, gpointer data) {
                       auto* p = static_cast<Pair*>(data);
                       GstElement* other = self == p->send_ ? p->recv_ : p->send_;
                       g_signal_emit_by_name(other, "add-ice-candidate", mline, c);
                     }),
                     this);
  }
  // The sender's transceiver came with its linked sink pad, before our handler.
  GArray* transceivers = nullptr;
  g_signal_emit_by_name(send_, "get-transceivers", &transceivers);
  for (guint i = 0; transceivers && i < transceivers->len; i++)
    g_object_set(g_array_index(transceivers, GstWebRTCRTPTransceiver*, i), "do-nack", TRUE,
                 nullptr);
  if (transceivers) g_array_unref(transceivers);
  GPtr<GstElement> send_rtpbin = adopt(gst_bin_get_by_name(GST_BIN(send_), "rtpbin"));
  GPtr<GstElement> recv_rtpbin = adopt(gst_bin_get_by_name(GST_BIN(recv_), "rtpbin"));
  if (passthrough)
    g_signal_connect(recv_rtpbin.get(), "request-jitterbuffer",
                     G_CALLBACK(+[](GstElement*, guint, gpointer) -> GstElement* {
                       return rtcmesh::media::make_passthrough_jitterbuffer();
                     }),
                     nullptr);
  g_signal_connect(send_rtpbin.get(), "pad-added", G_CALLBACK(on_send_rtpbin_pad), this);
  g_signal_connect(recv_rtpbin.get(), "pad-added", G_CALLBACK(on_recv_rtpbin_pad), this);
  g_signal_connect(recv_rtpbin.get(), "new-jitterbuffer",
                   G_CALLBACK(+[](GstElement*, GstElement* jb, guint, guint, gpointer data) {
                     auto* p = static_cast<Pair*>(data);
                     std::lock_guard lock(p->mutex_);
                     p->jitterbuffers_.push_back(GST_ELEMENT(gst_object_ref(jb)));
                   }),
                   this);
  g_signal_connect(recv_, "pad-added", G_CALLBACK(on_recv_pad), this);
  g_signal_connect(send_, "on-negotiation-needed",
                   G_CALLBACK(+[](GstElement* w, gpointer data) {
                     g_signal_emit_by_name(
                         w, "create-offer", nullptr,
                         gst_promise_new_with_change_func(on_offer, data, nullptr));
                   }),
                   this);
}

Pair::~Pair() {
  if (pipeline_) gst_element_set_state(pipeline_, GST_STATE_NULL);
  for (GstElement* jb : jitterbuffers_) gst_object_unref(jb);
  if (send_) gst_object_unref(send_);
  if (recv_) gst_object_unref(recv_);
  if (pipeline_) gst_object_unref(pipeline_);
}

JitterFigures Pair::run() {
  JitterFigures f;
  if (!pipeline_) {
    f.errors = "the pipeline did not parse";
    return f;
  }
  gint64 started = g_get_monotonic_time();
  if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    f.errors = "the pipeline did not start; ";
  GPtr<GstBus> bus = adopt(gst_element_get_bus(pipeline_));
  const gint64 deadline = started + 30 * G_USEC_PER_SEC;
  while (out_packets_ < 600 && g_get_monotonic_time() < deadline) {
    GstMessage* msg = gst_bus_timed_pop_filtered(bus.get(), 20 * GST_MSECOND, GST_MESSAGE_ERROR);
    if (!msg) continue;
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    f.errors += std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " + err->message + "; ";
    g_error_free(err);
    gst_message_unref(msg);
  }
  f.completed = out_packets_ >= 600;
  f.packets_out = out_packets_;
  f.seconds = (g_get_monotonic_time() - started) / 1e6;
  {
    std::lock_guard lock(mutex_);
    if (first_in_us_ && first_out_us_) f.first_packet_ms = (first_out_us_ - first_in_us_) / 1000.0;
    f.dropped = dropped_.size();
    for (guint16 s : dropped_) f.dropped_arrived += arrived_.count(s);
    for (GstElement* jb : jitterbuffers_) {
      rtcmesh::media::PassthroughCounters c = rtcmesh::media::passthrough_counters(jb);
      f.rtx_requests += c.rtx_requests;
      f.recovered += c.recovered;
    }
  }
  f.rtx_packets = guint(rtcmesh::peer::retransmissions(send_));
  return f;
}

// The offer (sender → receiver, then the receiver answers) or the answer
// (receiver → sender).
void Pair::on_description(GstPromise* promise, Pair* p, bool offer) {
  GstWebRTCSessionDescription* desc = nullptr;
  gst_structure_get(gst_promise_get_reply(promise), offer ? "offer" : "answer",
                    GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
  gst_promise_unref(promise);
  if (!desc) return;
  GstElement* local = offer ? p->send_ : p->recv_;
  GstElement* remote = offer ? p->recv_ : p->send_;
  g_signal_emit_by_name(local, "set-local-description", desc, nullptr);
  g_signal_emit_by_name(remote, "set-remote-description", desc, nullptr);
  gst_webrtc_session_description_free(desc);
  if (offer)
    g_signal_emit_by_name(p->recv_, "create-answer", nullptr,
                          gst_promise_new_with_change_func(on_answer, p, nullptr));
}

// The sender's RTP after rtprtxsend and rtpsession, before SRTP: every 50th
// media packet (2%) is dropped; retransmissions (another PT) pass.
void Pair::on_send_rtpbin_pad(GstElement*, GstPad* pad, gpointer data) {
  if (!g_str_has_prefix(GST_PAD_NAME(pad), "send_rtp_src_")) return;
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* p = static_cast<Pair*>(data);
        auto drop = [p](GstBuffer* b) {
          GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
          if (!gst_rtp_buffer_map(b, GST_MAP_READ, &rtp)) return false;
          bool media = gst_rtp_buffer_get_payload_type(&rtp) == 96;
          guint16 seq = gst_rtp_buffer_get_seq(&rtp);
          gst_rtp_buffer_unmap(&rtp);
          // Not the first packets: ICE/DTLS are up, the receiver knows the stream.
          if (!media || ++p->sent_media_ % 50 != 0 || p->sent_media_ < 100) return false;
          std::lock_guard lock(p->mutex_);
          p->dropped_.push_back(seq);
          return true;
        };
        if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
          return drop(GST_PAD_PROBE_INFO_BUFFER(info)) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
        GstBufferList* list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
        for (guint i = 0; i < gst_buffer_list_length(list);)
          if (drop(gst_buffer_list_get(list, i)))
            gst_buffer_list_remove(list, i, 1);
          else
            i++;
        GST_PAD_PROBE_INFO_DATA(info) = list;
        return GST_PAD_PROBE_OK;
      },
      data, nullptr);
}

// Arrival at the receiver's rtpbin (still SRTP: only the time counts).
void Pair::on_recv_rtpbin_pad(GstElement*, GstPad* pad, gpointer data) {
  if (!g_str_has_prefix(GST_PAD_NAME(pad), "recv_rtp_sink_")) return;
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo*, gpointer data) {
        auto* p = static_cast<Pair*>(data);
        std::lock_guard lock(p->mutex_);
        if (!p->first_in_us_) p->first_in_us_ = g_get_monotonic_time();
        return GST_PAD_PROBE_OK;
      },
      data, nullptr);
}

void Pair::on_recv_pad(GstElement* w, GstPad* pad, gpointer data) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  GstBin* parent = GST_BIN(GST_ELEMENT_PARENT(w));
  gst_bin_add(parent, sink);
  gst_element_sync_state_with_parent(sink);
  GPtr<GstPad> sinkpad = adopt(gst_element_get_static_pad(sink, "sink"));
  gst_pad_add_probe(
      sinkpad.get(), GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* p = static_cast<Pair*>(data);
        guint16 seq = seq_of(GST_PAD_PROBE_INFO_BUFFER(info));
        std::lock_guard lock(p->mutex_);
        if (!p->first_out_us_) p->first_out_us_ = g_get_monotonic_time();
        p->arrived_.insert(seq);
        p->out_packets_++;
        return GST_PAD_PROBE_OK;
      },
      data, nullptr);
  gst_pad_link(pad, sinkpad.get());
}

}  // namespace

JitterFigures run_jitter_pair(bool passthrough) {
  Pair pair(passthrough);
  return pair.run();
}

}  // namespace bench
