#include "gst/media/normalizer.h"

#include <gst/rtp/rtp.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/media/util.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

// Byte 1 of an RTP header holds the marker bit and the payload type: one
// byte read tells whether anything needs rewriting at all.
bool has_pt(GstBuffer* buffer, guint8 pt) {
  guint8 byte1;
  return gst_buffer_extract(buffer, 1, &byte1, 1) == 1 && (byte1 & 0x7f) == pt;
}

// Sets the payload type of a writable buffer (copying the header memory if
// it is shared); false when it is not RTP.
bool set_pt(GstBuffer* buffer, guint8 pt) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READWRITE, &rtp)) return false;
  gst_rtp_buffer_set_payload_type(&rtp, pt);
  gst_rtp_buffer_unmap(&rtp);
  return true;
}

}  // namespace

// Forwarding mode: maps one source's sequence numbers and timestamps onto the
// slot's, so the subscriber sees one continuous stream whoever is behind it.
// Touched only by the streaming thread, but for the atomics.
struct ForwardState {
  guint32 ssrc;
  guint32 clock_rate;
  guint16 first_seq;
  guint32 first_ts;

  bool started = false;  // a packet went out
  guint32 source_ssrc = 0;
  guint16 seq_delta = 0;  // out = in + delta (mod 2^16 / 2^32)
  guint32 ts_delta = 0;
  guint16 highest_seq = 0;  // highest sent, in output numbering
  guint32 highest_ts = 0;
  gint64 last_sent_us = 0;  // monotonic, when highest_ts went out

  // Output seqnums sent at or below highest_seq: bit n = highest_seq - n.
  guint64 sent_window = 0;

  std::atomic<bool> switch_requested{false};
  std::atomic<guint64> packets{0}, bytes{0}, switches{0}, dropped{0};

  // Rebases the mapping when a new source starts; the first packet of a new
  // source continues from the last one sent: seq + 1 and the timestamp
  // advanced by the wall-clock time since (at least one tick).
  void map(guint32 in_ssrc, guint16 in_seq, guint32 in_ts) {
    bool switched = switch_requested.exchange(false);
    if (started && !switched && in_ssrc == source_ssrc) return;
    guint16 out_seq;
    guint32 out_ts;
    gint64 now = g_get_monotonic_time();
    if (!started) {
      out_seq = first_seq;
      out_ts = first_ts;
    } else {
      guint64 ticks = guint64(now - last_sent_us) * clock_rate / G_USEC_PER_SEC;
      out_seq = guint16(highest_seq + 1);
      out_ts = highest_ts + guint32(MAX(ticks, guint64(1)));
      switches++;
    }
    source_ssrc = in_ssrc;
    seq_delta = guint16(out_seq - in_seq);
    ts_delta = out_ts - in_ts;
    if (!started) {
      highest_seq = guint16(out_seq - 1);
      highest_ts = out_ts;
      last_sent_us = now;
    }
    started = true;
  }

  // The connection's SRTP sender refuses to protect one packet index twice or
  // one further back than its replay window (libsrtp: 128), and fails the
  // whole connection when asked: a publisher's retransmission that arrives
  // twice, or long after, is dropped here instead (the subscriber asks for
  // it again with its own NACK if it still wants it).
  bool admit(guint16 out_seq) {
    gint16 ahead = gint16(guint16(out_seq - highest_seq));
    if (ahead > 0) {
      sent_window = ahead >= 64 ? 0 : sent_window << ahead;
      sent_window |= 1;
      return true;
    }
    guint back = guint(-gint(ahead));
    if (back >= 64 || (sent_window & (guint64(1) << back))) return false;
    sent_window |= guint64(1) << back;
    return true;
  }

  void sent(guint16 out_seq, guint32 out_ts) {
    // Reordered and retransmitted packets keep their place; only newer ones
    // move the high-water marks the next source continues from.
    if (gint16(guint16(out_seq - highest_seq)) > 0) highest_seq = out_seq;
    if (gint32(out_ts - highest_ts) >= 0) {
      highest_ts = out_ts;
      last_sent_us = g_get_monotonic_time();
    }
  }
};

namespace {

// The forwarded packet: a fresh header (base header and CSRCs, no extension)
// with the connection's payload type, SSRC, sequence number and timestamp,
// followed by the original payload shared, not copied. Null when not RTP, or
// a duplicate or too old for the connection's SRTP sender (admit).
GstBuffer* forward_packet(ForwardState& state, guint8 pt, GstBuffer* in) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(in, GST_MAP_READ, &rtp)) return nullptr;
  guint32 in_ssrc = gst_rtp_buffer_get_ssrc(&rtp);
  guint16 in_seq = gst_rtp_buffer_get_seq(&rtp);
  guint32 in_ts = gst_rtp_buffer_get_timestamp(&rtp);
  gsize base = 12 + 4 * gst_rtp_buffer_get_csrc_count(&rtp);
  gsize header = gst_rtp_buffer_get_header_len(&rtp);  // with the extension
  guint8 fixed[12 + 4 * 15];
  memcpy(fixed, rtp.data[0], base);
  gst_rtp_buffer_unmap(&rtp);

  state.map(in_ssrc, in_seq, in_ts);
  guint16 seq = guint16(in_seq + state.seq_delta);
  guint32 ts = in_ts + state.ts_delta;
  if (!state.admit(seq)) {
    state.dropped++;
    return nullptr;
  }
  fixed[0] &= ~0x10;  // X: no extension
  fixed[1] = guint8((fixed[1] & 0x80) | pt);
  GST_WRITE_UINT16_BE(fixed + 2, seq);
  GST_WRITE_UINT32_BE(fixed + 4, ts);
  GST_WRITE_UINT32_BE(fixed + 8, state.ssrc);

  gsize size = gst_buffer_get_size(in);
  GstBuffer* out = gst_buffer_copy_region(
      in, GstBufferCopyFlags(GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_META | GST_BUFFER_COPY_MEMORY),
      header, size - header);
  GST_BUFFER_PTS(out) = GST_BUFFER_PTS(in);
  GST_BUFFER_DTS(out) = GST_BUFFER_DTS(in);
  GST_BUFFER_DURATION(out) = GST_BUFFER_DURATION(in);
  gpointer copy = g_memdup2(fixed, base);
  gst_buffer_prepend_memory(
      out, gst_memory_new_wrapped(GstMemoryFlags(0), copy, base, 0, base, copy, g_free));
  state.sent(seq, ts);
  state.packets++;
  state.bytes += gst_buffer_get_size(out);
  return out;
}

}  // namespace

// A two-pad element rather than a probe on a stock one: caps must be replaced
// before anything downstream sees them (basetransform elements would
// negotiate the stream's own caps first), and a connection's flow errors must
// stop here instead of travelling up the fan-out queue into the shared tee.
struct RtcNormalizer {
  GstElement parent;
  GstPad* sink;
  GstPad* src;
  GstCaps* caps;  // negotiated, fixed
  guint8 pt;
  std::atomic<bool> warned;
  ForwardState* forward;  // forwarding mode when set
};
struct RtcNormalizerClass {
  GstElementClass parent_class;
};

G_DEFINE_TYPE(RtcNormalizer, rtc_normalizer, GST_TYPE_ELEMENT)

// What the connection's refusal means for the shared stream: nothing.
static GstFlowReturn shield(RtcNormalizer* self, GstFlowReturn ret) {
  if (ret >= GST_FLOW_OK) return ret;
  // FLUSHING too stays here: it is the connection going to NULL while its
  // branch still holds data. Passed up, it would pause the branch queue, whose
  // sink then answers the shared tee FLUSHING, and the tee stops the stream
  // for every connection (seen with 50 viewers when one left). Upstream
  // flushes are handled by that queue itself.
  if (ret != GST_FLOW_FLUSHING && !self->warned.exchange(true))
    GST_WARNING_OBJECT(self, "connection refused data (%s); dropping its packets",
                       gst_flow_get_name(ret));
  return GST_FLOW_OK;
}

static GstFlowReturn normalizer_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  if (self->forward) {
    GstBuffer* out = forward_packet(*self->forward, self->pt, buffer);
    gst_buffer_unref(buffer);
    return out ? shield(self, gst_pad_push(self->src, out)) : GST_FLOW_OK;
  }
  if (!has_pt(buffer, self->pt)) {
    buffer = gst_buffer_make_writable(buffer);
    if (!set_pt(buffer, self->pt)) {
      gst_buffer_unref(buffer);
      return GST_FLOW_OK;
    }
  }
  return shield(self, gst_pad_push(self->src, buffer));
}

// The payloader's lists (the packets of one NAL unit) stay lists: webrtcbin's
// send path (rtpsession, rtprtxsend, rtpfunnel, srtpenc, nicesink) takes
// them whole, one pass per element for all the packets instead of one per
// packet.
static GstFlowReturn normalizer_chain_list(GstPad*, GstObject* parent, GstBufferList* list) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  guint n = gst_buffer_list_length(list);
  if (self->forward) {
    GstBufferList* out = gst_buffer_list_new_sized(n);
    for (guint i = 0; i < n; i++)
      if (GstBuffer* b = forward_packet(*self->forward, self->pt, gst_buffer_list_get(list, i)))
        gst_buffer_list_add(out, b);
    gst_buffer_list_unref(list);
    if (gst_buffer_list_length(out) == 0) {
      gst_buffer_list_unref(out);
      return GST_FLOW_OK;
    }
    return shield(self, gst_pad_push_list(self->src, out));
  }
  guint i = 0;
  while (i < n && has_pt(gst_buffer_list_get(list, i), self->pt)) i++;
  if (i < n) {
    // Another payload type (or not RTP at all): copy the headers from here on.
    list = gst_buffer_list_make_writable(list);
    while (i < n) {
      if (set_pt(gst_buffer_list_get_writable(list, i), self->pt)) {
        i++;
      } else {
        gst_buffer_list_remove(list, i, 1);
        n--;
      }
    }
    if (n == 0) {
      gst_buffer_list_unref(list);
      return GST_FLOW_OK;
    }
  }
  return shield(self, gst_pad_push_list(self->src, list));
}

static gboolean normalizer_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
    // Our caps, keeping the stream's own ssrc and offsets.
    GstCaps* theirs;
    gst_event_parse_caps(event, &theirs);
    GstCaps* caps = gst_caps_copy(self->caps);
    GstStructure* to = gst_caps_get_structure(caps, 0);
    const GstStructure* from = gst_caps_get_structure(theirs, 0);
    // Forwarding: the slot's ssrc is in self->caps already and the source's
    // offsets mean nothing after the rewrite.
    if (!self->forward)
      for (const char* field : {"ssrc", "timestamp-offset", "seqnum-offset"})
        if (const GValue* v = gst_structure_get_value(from, field))
          gst_structure_set_value(to, field, v);
    gst_event_unref(event);
    event = gst_event_new_caps(caps);
    gst_caps_unref(caps);
  }
  gst_pad_push_event(self->src, event);
  return TRUE;  // a connection refusing an event is its own problem
}

static gboolean normalizer_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  // Whatever the shared stream's caps, we turn them into the negotiated ones.
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    gst_query_set_accept_caps_result(query, TRUE);
    return TRUE;
  }
  if (GST_QUERY_TYPE(query) == GST_QUERY_CAPS) {
    GstCaps* filter;
    gst_query_parse_caps(query, &filter);
    GstCaps* any = gst_caps_new_empty_simple("application/x-rtp");
    gst_query_set_caps_result(query, any);
    gst_caps_unref(any);
    return TRUE;
  }
  return gst_pad_query_default(pad, parent, query);
}

// Forwarding: webrtcbin asks its sink pad's peer for caps when it creates an
// offer before any packet went through; answering with ours puts the slot's
// SSRC in that offer.
static gboolean normalizer_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  auto* self = reinterpret_cast<RtcNormalizer*>(parent);
  if (self->forward && GST_QUERY_TYPE(query) == GST_QUERY_CAPS) {
    GstCaps* filter;
    gst_query_parse_caps(query, &filter);
    GstCaps* caps = filter ? gst_caps_intersect_full(filter, self->caps, GST_CAPS_INTERSECT_FIRST)
                           : gst_caps_ref(self->caps);
    gst_query_set_caps_result(query, caps);
    gst_caps_unref(caps);
    return TRUE;
  }
  return gst_pad_query_default(pad, parent, query);
}

static void rtc_normalizer_finalize(GObject* object) {
  auto* self = reinterpret_cast<RtcNormalizer*>(object);
  delete self->forward;
  gst_caps_replace(&self->caps, nullptr);
  G_OBJECT_CLASS(rtc_normalizer_parent_class)->finalize(object);
}

static GstStaticPadTemplate normalizer_sink = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("application/x-rtp"));
static GstStaticPadTemplate normalizer_src = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("application/x-rtp"));

static void rtc_normalizer_class_init(RtcNormalizerClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = rtc_normalizer_finalize;
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(element_class, &normalizer_sink);
  gst_element_class_add_static_pad_template(element_class, &normalizer_src);
  gst_element_class_set_static_metadata(
      element_class, "RTP normalizer (internal)", "Filter/Network/RTP",
      "Rewrites one connection's payload type and caps", "rtcmesh");
}

static void rtc_normalizer_init(RtcNormalizer* self) {
  self->sink = gst_pad_new_from_static_template(&normalizer_sink, "sink");
  gst_pad_set_chain_function(self->sink, normalizer_chain);
  gst_pad_set_chain_list_function(self->sink, normalizer_chain_list);
  gst_pad_set_event_function(self->sink, normalizer_event);
  gst_pad_set_query_function(self->sink, normalizer_query);
  GST_PAD_SET_PROXY_ALLOCATION(self->sink);
  gst_element_add_pad(GST_ELEMENT(self), self->sink);
  self->src = gst_pad_new_from_static_template(&normalizer_src, "src");
  gst_pad_set_query_function(self->src, normalizer_src_query);
  gst_element_add_pad(GST_ELEMENT(self), self->src);
  self->caps = nullptr;
  self->pt = 0;
  self->warned = false;
  self->forward = nullptr;
}

static ForwardState* forward_state(const GstCaps* negotiated,
                                   const Normalizer::Forwarding& forwarding) {
  const GstStructure* s = gst_caps_get_structure(negotiated, 0);
  gint clock_rate = 0, pt = -1;
  if (!gst_structure_get_int(s, "clock-rate", &clock_rate) || clock_rate <= 0)
    throw std::invalid_argument("forwarding normalizer: negotiated caps without clock-rate");
  if (!gst_structure_get_int(s, "payload", &pt) || pt < 0 || pt > 127)
    throw std::invalid_argument("forwarding normalizer: negotiated caps without a payload type");
  auto* state = new ForwardState;
  state->ssrc = forwarding.ssrc;
  state->clock_rate = guint32(clock_rate);
  state->first_seq = forwarding.first_seq.value_or(guint16(g_random_int()));
  state->first_ts = forwarding.first_timestamp.value_or(g_random_int());
  return state;
}

Normalizer::Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name)
    : Normalizer(bin, negotiated, name, static_cast<ForwardState*>(nullptr)) {}

Normalizer::Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name,
                       const Forwarding& forwarding)
    : Normalizer(bin, negotiated, name, forward_state(negotiated, forwarding)) {}

Normalizer::Normalizer(GstBin* bin, const GstCaps* negotiated, const std::string& name,
                       ForwardState* forward)
    : bin_(bin) {
  element_ = GST_ELEMENT(g_object_new(rtc_normalizer_get_type(), "name", name.c_str(), nullptr));
  auto* self = reinterpret_cast<RtcNormalizer*>(element_);
  self->forward = forward;
  self->caps = gst_caps_copy(negotiated);
  GstStructure* s = gst_caps_get_structure(self->caps, 0);
  if (forward) {
    gst_structure_set(s, "ssrc", G_TYPE_UINT, forward->ssrc, nullptr);
    gst_structure_remove_fields(s, "timestamp-offset", "seqnum-offset", nullptr);
  }
  gint pt = 0;
  gst_structure_get_int(s, "payload", &pt);
  self->pt = guint8(pt);
  if (!gst_bin_add(bin, element_)) {
    gst_object_unref(gst_object_ref_sink(element_));
    throw std::runtime_error("cannot add normalizer " + name + " (the name is taken)");
  }
  sink_ = retain(self->sink);
  src_ = retain(self->src);
  gst_element_sync_state_with_parent(element_);
}

void Normalizer::switch_source() {
  if (auto* state = reinterpret_cast<RtcNormalizer*>(element_)->forward)
    state->switch_requested = true;
}

Normalizer::Counters Normalizer::counters() const {
  Counters c;
  if (auto* state = reinterpret_cast<RtcNormalizer*>(element_)->forward) {
    c.packets = state->packets;
    c.bytes = state->bytes;
    c.source_switches = state->switches;
    c.dropped = state->dropped;
  }
  return c;
}

Normalizer::~Normalizer() {
  remove_elements(bin_, {element_});
}

}  // namespace rtcmesh::media
