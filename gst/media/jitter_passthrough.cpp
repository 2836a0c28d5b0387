#include "gst/media/jitter_passthrough.h"

#include <gst/rtp/rtp.h>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "gst/common/debug.h"
#include "gst/common/ptr.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

constexpr gint64 kGiveUpUs = G_USEC_PER_SEC;  // a missing packet is lost after this
constexpr size_t kMaxMissing = 1000;          // and past this many outstanding

struct Missing {
  gint64 since_us;
  gint64 requested_us;  // 0: not asked (do-retransmission off or over the rate)
};

// One SSRC's sequence numbers, extended past 16 bits so wraps need no care.
struct Source {
  guint64 highest = 0;
  std::map<guint64, Missing> missing;
};

}  // namespace

struct PassthroughPrivate {
  // Properties (any thread).
  std::atomic<guint> latency_ms{200};
  std::atomic<bool> do_retransmission{false};
  std::atomic<bool> drop_on_latency{false};
  std::atomic<bool> do_lost{false};
  std::atomic<guint> max_dropout_time{60000};
  std::atomic<guint> max_misorder_time{2000};
  std::atomic<guint> max_gap{100};
  std::atomic<guint> max_rtx_per_second{200};

  std::mutex mutex;  // everything below; never held while pushing
  std::map<guint32, Source> sources;
  GstSegment segment;
  gint64 last_arrival_us = 0;
  GstClockTime packet_spacing = 0;  // running average of in-order arrivals
  GstClockTime avg_rtt = 0;         // request to retransmission, running average
  gint64 rate_window_us = 0;
  guint rate_count = 0;
  PassthroughCounters counters;
};

}  // namespace rtcmesh::media

using rtcmesh::media::PassthroughPrivate;

struct RtcJitterPassthrough {
  GstElement parent;
  GstPad* sink;
  GstPad* src;
  PassthroughPrivate* priv;
};
struct RtcJitterPassthroughClass {
  GstElementClass parent_class;
};

G_DEFINE_TYPE(RtcJitterPassthrough, rtc_jitter_passthrough, GST_TYPE_ELEMENT)

namespace rtcmesh::media {
namespace {

enum {
  PROP_0,
  PROP_LATENCY,
  PROP_DO_RETRANSMISSION,
  PROP_DROP_ON_LATENCY,
  PROP_DO_LOST,
  PROP_MAX_DROPOUT_TIME,
  PROP_MAX_MISORDER_TIME,
  PROP_MAX_GAP,
  PROP_MAX_RTX_PER_SECOND,
  PROP_STATS,
};

// One retransmission request, with the fields rtpjitterbuffer sends
// (rtpsession reads seqnum, ssrc, delay, deadline and avg-rtt to schedule the
// NACK: it may wait deadline - delay - avg-rtt for an RTCP slot).
struct Request {
  guint32 ssrc;
  guint16 seq;
};

GstEvent* request_event(const Request& r, GstClockTime running_time, guint deadline_ms,
                        GstClockTime spacing, GstClockTime avg_rtt) {
  return gst_event_new_custom(
      GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new("GstRTPRetransmissionRequest", "seqnum", G_TYPE_UINT, guint(r.seq), "ssrc",
                        G_TYPE_UINT, r.ssrc, "running-time", G_TYPE_UINT64, running_time, "delay",
                        G_TYPE_UINT, 0u, "retry", G_TYPE_UINT, 0u, "deadline", G_TYPE_UINT,
                        deadline_ms, "packet-spacing", G_TYPE_UINT64, spacing, "avg-rtt",
                        G_TYPE_UINT, guint(GST_TIME_AS_MSECONDS(avg_rtt)), nullptr));
}

// Accounts for one arriving packet; appends the requests to send. Called
// with the mutex held.
void on_packet(PassthroughPrivate& p, guint32 ssrc, guint16 seq, gint64 now,
               std::vector<Request>& requests) {
  p.counters.packets++;
  auto [it, first] = p.sources.try_emplace(ssrc);
  Source& s = it->second;
  if (first) {
    s.highest = (guint64(1) << 32) + seq;  // room below for late packets
    return;
  }
  gint32 diff = gint16(guint16(seq - guint16(s.highest)));
  guint64 ext = s.highest + diff;
  if (diff == 0) {
    p.counters.duplicates++;
  } else if (diff < 0) {
    auto m = s.missing.find(ext);
    if (m == s.missing.end()) {
      p.counters.late++;
    } else {
      if (m->second.requested_us) {
        p.counters.recovered++;
        GstClockTime rtt = (now - m->second.requested_us) * GST_USECOND;
        p.avg_rtt = p.avg_rtt ? (p.avg_rtt * 7 + rtt) / 8 : rtt;
      } else {
        p.counters.late++;
      }
      s.missing.erase(m);
    }
  } else if (guint(diff) > p.max_gap) {
    // A restart of the sender, not a loss: nothing to ask for.
    p.counters.lost += s.missing.size();
    s.missing.clear();
    s.highest = ext;
  } else {
    if (diff == 1 && p.last_arrival_us) {
      GstClockTime spacing = (now - p.last_arrival_us) * GST_USECOND;
      p.packet_spacing = p.packet_spacing ? (p.packet_spacing * 15 + spacing) / 16 : spacing;
    }
    if (diff > 1) p.counters.gaps++;
    bool ask = p.do_retransmission;
    for (guint64 e = s.highest + 1; e < ext; e++) {
      Missing m{now, 0};
      if (ask && now - p.rate_window_us >= G_USEC_PER_SEC) {
        p.rate_window_us = now;
        p.rate_count = 0;
      }
      if (ask && p.rate_count < p.max_rtx_per_second) {
        p.rate_count++;
        p.counters.rtx_requests++;
        m.requested_us = now;
        requests.push_back({ssrc, guint16(e)});
      }
      s.missing.emplace(e, m);
    }
    s.highest = ext;
  }
  p.last_arrival_us = now;
  // Give up on what is too old or too much: counted lost.
  while (!s.missing.empty() && (now - s.missing.begin()->second.since_us > kGiveUpUs ||
                                s.missing.size() > kMaxMissing)) {
    s.missing.erase(s.missing.begin());
    p.counters.lost++;
  }
}

// What the bookkeeping needs of a packet, read before it is forwarded (the
// buffer is downstream's then; keeping a reference would make its writers copy).
struct Arrival {
  guint32 ssrc;
  guint16 seq;
  GstClockTime pts;
};

bool read_arrival(GstBuffer* buffer, Arrival* a) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp)) return false;
  a->ssrc = gst_rtp_buffer_get_ssrc(&rtp);
  a->seq = gst_rtp_buffer_get_seq(&rtp);
  a->pts = GST_BUFFER_PTS(buffer);
  gst_rtp_buffer_unmap(&rtp);
  return true;
}

// Accounts for packets already forwarded and sends the requests.
void account(RtcJitterPassthrough* self, const Arrival* arrivals, size_t n) {
  PassthroughPrivate& p = *self->priv;
  std::vector<Request> requests;
  GstClockTime running_time = GST_CLOCK_TIME_NONE, spacing, avg_rtt;
  gint64 now = g_get_monotonic_time();
  {
    std::lock_guard lock(p.mutex);
    for (size_t i = 0; i < n; i++) {
      size_t before = requests.size();
      on_packet(p, arrivals[i].ssrc, arrivals[i].seq, now, requests);
      if (requests.size() > before && p.segment.format == GST_FORMAT_TIME)
        running_time = gst_segment_to_running_time(&p.segment, GST_FORMAT_TIME, arrivals[i].pts);
    }
    spacing = p.packet_spacing;
    avg_rtt = p.avg_rtt;
  }
  for (const auto& r : requests) {
    GST_LOG_OBJECT(self, "asking for %08x #%u", r.ssrc, r.seq);
    gst_pad_push_event(self->sink, request_event(r, running_time, p.latency_ms, spacing, avg_rtt));
  }
}

// Forwarded first: bookkeeping never delays a packet.
GstFlowReturn passthrough_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  auto* self = reinterpret_cast<RtcJitterPassthrough*>(parent);
  Arrival a;
  bool rtp = read_arrival(buffer, &a);
  GstFlowReturn ret = gst_pad_push(self->src, buffer);
  if (rtp) account(self, &a, 1);
  return ret;
}

GstFlowReturn passthrough_chain_list(GstPad*, GstObject* parent, GstBufferList* list) {
  auto* self = reinterpret_cast<RtcJitterPassthrough*>(parent);
  std::vector<Arrival> arrivals;
  arrivals.reserve(gst_buffer_list_length(list));
  for (guint i = 0; i < gst_buffer_list_length(list); i++) {
    Arrival a;
    if (read_arrival(gst_buffer_list_get(list, i), &a)) arrivals.push_back(a);
  }
  GstFlowReturn ret = gst_pad_push_list(self->src, list);
  account(self, arrivals.data(), arrivals.size());
  return ret;
}

gboolean passthrough_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = reinterpret_cast<RtcJitterPassthrough*>(parent);
  PassthroughPrivate& p = *self->priv;
  if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
    std::lock_guard lock(p.mutex);
    gst_event_copy_segment(event, &p.segment);
  } else if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
    std::lock_guard lock(p.mutex);
    p.sources.clear();
  }
  return gst_pad_event_default(pad, parent, event);
}

GstStructure* stats_of(PassthroughPrivate& p) {
  std::lock_guard lock(p.mutex);
  const PassthroughCounters& c = p.counters;
  // The field names and types of rtpjitterbuffer's stats: webrtcbin reads
  // num-lost, num-duplicates, num-late and rtx-success-count.
  return gst_structure_new(
      "application/x-rtp-jitterbuffer-stats", "num-pushed", G_TYPE_UINT64, c.packets, "num-lost",
      G_TYPE_UINT64, c.lost, "num-late", G_TYPE_UINT64, c.late, "num-duplicates", G_TYPE_UINT64,
      c.duplicates, "avg-jitter", G_TYPE_UINT64, guint64(0), "rtx-count", G_TYPE_UINT64,
      c.rtx_requests, "rtx-success-count", G_TYPE_UINT64, c.recovered, "rtx-per-packet",
      G_TYPE_DOUBLE, c.rtx_requests ? 1.0 : 0.0, "rtx-rtt", G_TYPE_UINT64, guint64(p.avg_rtt),
      "num-gaps", G_TYPE_UINT64, c.gaps, nullptr);
}

}  // namespace
}  // namespace rtcmesh::media

using namespace rtcmesh::media;

static void passthrough_set_property(GObject* object, guint id, const GValue* value,
                                     GParamSpec* pspec) {
  PassthroughPrivate& p = *reinterpret_cast<RtcJitterPassthrough*>(object)->priv;
  switch (id) {
    case PROP_LATENCY: p.latency_ms = g_value_get_uint(value); break;
    case PROP_DO_RETRANSMISSION: p.do_retransmission = g_value_get_boolean(value); break;
    case PROP_DROP_ON_LATENCY: p.drop_on_latency = g_value_get_boolean(value); break;
    case PROP_DO_LOST: p.do_lost = g_value_get_boolean(value); break;
    case PROP_MAX_DROPOUT_TIME: p.max_dropout_time = g_value_get_uint(value); break;
    case PROP_MAX_MISORDER_TIME: p.max_misorder_time = g_value_get_uint(value); break;
    case PROP_MAX_GAP: p.max_gap = g_value_get_uint(value); break;
    case PROP_MAX_RTX_PER_SECOND: p.max_rtx_per_second = g_value_get_uint(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void passthrough_get_property(GObject* object, guint id, GValue* value,
                                     GParamSpec* pspec) {
  PassthroughPrivate& p = *reinterpret_cast<RtcJitterPassthrough*>(object)->priv;
  switch (id) {
    case PROP_LATENCY: g_value_set_uint(value, p.latency_ms); break;
    case PROP_DO_RETRANSMISSION: g_value_set_boolean(value, p.do_retransmission); break;
    case PROP_DROP_ON_LATENCY: g_value_set_boolean(value, p.drop_on_latency); break;
    case PROP_DO_LOST: g_value_set_boolean(value, p.do_lost); break;
    case PROP_MAX_DROPOUT_TIME: g_value_set_uint(value, p.max_dropout_time); break;
    case PROP_MAX_MISORDER_TIME: g_value_set_uint(value, p.max_misorder_time); break;
    case PROP_MAX_GAP: g_value_set_uint(value, p.max_gap); break;
    case PROP_MAX_RTX_PER_SECOND: g_value_set_uint(value, p.max_rtx_per_second); break;
    case PROP_STATS: g_value_take_boxed(value, stats_of(p)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_jitter_passthrough_finalize(GObject* object) {
  delete reinterpret_cast<RtcJitterPassthrough*>(object)->priv;
  G_OBJECT_CLASS(rtc_jitter_passthrough_parent_class)->finalize(object);
}

static GstStaticPadTemplate passthrough_sink = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("application/x-rtp"));
static GstStaticPadTemplate passthrough_src = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("application/x-rtp"));

static void rtc_jitter_passthrough_class_init(RtcJitterPassthroughClass* klass) {
  auto* object_class = G_OBJECT_CLASS(klass);
  object_class->finalize = rtc_jitter_passthrough_finalize;
  object_class->set_property = passthrough_set_property;
  object_class->get_property = passthrough_get_property;
  auto rw = GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      object_class, PROP_LATENCY,
      g_param_spec_uint("latency", "Deadline (ms)",
                        "Not a delay: how long a missing packet stays worth asking for, sent "
                        "as the retransmission requests' deadline",
                        0, G_MAXUINT, 200, rw));
  g_object_class_install_property(
      object_class, PROP_DO_RETRANSMISSION,
      g_param_spec_boolean("do-retransmission", "Ask for missing packets",
                           "Send a retransmission request upstream for each missing packet",
                           FALSE, rw));
  g_object_class_install_property(
      object_class, PROP_DROP_ON_LATENCY,
      g_param_spec_boolean("drop-on-latency", "Drop on latency",
                           "Accepted for rtpbin; nothing is held, so nothing is dropped", FALSE,
                           rw));
  g_object_class_install_property(
      object_class, PROP_DO_LOST,
      g_param_spec_boolean("do-lost", "Lost events",
                           "Accepted for rtpbin; no packet-lost events are sent", FALSE, rw));
  g_object_class_install_property(
      object_class, PROP_MAX_DROPOUT_TIME,
      g_param_spec_uint("max-dropout-time", "Max dropout time",
                        "Accepted for rtpbin; max-gap decides what is a restart", 0, G_MAXUINT,
                        60000, rw));
  g_object_class_install_property(
      object_class, PROP_MAX_MISORDER_TIME,
      g_param_spec_uint("max-misorder-time", "Max misorder time",
                        "Accepted for rtpbin; late packets are always forwarded", 0, G_MAXUINT,
                        2000, rw));
  g_object_class_install_property(
      object_class, PROP_MAX_GAP,
      g_param_spec_uint("max-gap", "Max gap",
                        "A forward jump in sequence numbers up to this many packets is a loss "
                        "(asked for); a larger one is a restart of the sender",
                        2, 32767, 100, rw));
  g_object_class_install_property(
      object_class, PROP_MAX_RTX_PER_SECOND,
      g_param_spec_uint("max-rtx-per-second", "Max requests per second",
                        "At most this many retransmission requests per second", 0, G_MAXUINT, 200,
                        rw));
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "Statistics",
                         "rtpjitterbuffer's fields (num-pushed, num-lost, num-late, "
                         "num-duplicates, rtx-count, rtx-success-count, rtx-rtt) and num-gaps",
                         GST_TYPE_STRUCTURE,
                         GParamFlags(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(element_class, &passthrough_sink);
  gst_element_class_add_static_pad_template(element_class, &passthrough_src);
  gst_element_class_set_static_metadata(
      element_class, "Pass-through jitterbuffer (internal)", "Filter/Network/RTP",
      "Forwards RTP at once and asks for missing packets", "rtcmesh");
}

static void rtc_jitter_passthrough_init(RtcJitterPassthrough* self) {
  self->priv = new PassthroughPrivate;
  gst_segment_init(&self->priv->segment, GST_FORMAT_UNDEFINED);
  self->sink = gst_pad_new_from_static_template(&passthrough_sink, "sink");
  gst_pad_set_chain_function(self->sink, passthrough_chain);
  gst_pad_set_chain_list_function(self->sink, passthrough_chain_list);
  gst_pad_set_event_function(self->sink, passthrough_sink_event);
  // Queries (LATENCY included: we add none) and caps go straight through.
  GST_PAD_SET_PROXY_CAPS(self->sink);
  GST_PAD_SET_PROXY_ALLOCATION(self->sink);
  gst_element_add_pad(GST_ELEMENT(self), self->sink);
  self->src = gst_pad_new_from_static_template(&passthrough_src, "src");
  GST_PAD_SET_PROXY_CAPS(self->src);
  gst_element_add_pad(GST_ELEMENT(self), self->src);
}

namespace rtcmesh::media {

GstElement* make_passthrough_jitterbuffer() {
  rtcmesh::init_debug();
  return GST_ELEMENT(g_object_new(rtc_jitter_passthrough_get_type(), nullptr));
}

PassthroughCounters passthrough_counters(GstElement* jitterbuffer) {
  if (!G_TYPE_CHECK_INSTANCE_TYPE(jitterbuffer, rtc_jitter_passthrough_get_type())) return {};
  PassthroughPrivate& p = *reinterpret_cast<RtcJitterPassthrough*>(jitterbuffer)->priv;
  std::lock_guard lock(p.mutex);
  return p.counters;
}

}  // namespace rtcmesh::media
