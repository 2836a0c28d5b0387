#include "tools/bench/latency.h"

#include <gst/rtp/rtp.h>

#include <algorithm>
#include <cstring>
#include <functional>

namespace bench {

namespace {

constexpr gint64 kForgetAfterUs = 10 * G_USEC_PER_SEC;

// The key of a packet: its payload's size and first 64 bytes (FNV-1a). H.264
// fragments start with compressed data, so two differ within a few bytes; the
// SPS/PPS aggregate repeats at every keyframe, and then the latest send wins.
bool payload_key(GstBuffer* buffer, guint64* key, guint8* pt) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp)) return false;
  const auto* data = static_cast<const guint8*>(gst_rtp_buffer_get_payload(&rtp));
  guint size = gst_rtp_buffer_get_payload_len(&rtp);
  *pt = gst_rtp_buffer_get_payload_type(&rtp);
  guint64 h = 1469598103934665603ull ^ size;
  for (guint i = 0; i < std::min(size, 64u); i++) h = (h ^ data[i]) * 1099511628211ull;
  gst_rtp_buffer_unmap(&rtp);
  *key = h;
  return true;
}

// Calls `found` for every element made by `factory` that appears inside
// `pipeline` from now on, also those already inside a bin added later (a
// webrtcbin builds its rtpbin before it joins the pipeline).
struct ElementWatch {
  std::string factory;
  std::function<void(GstElement*)> found;
  std::string mark = "bench-watched";  // one per clock: two clocks may watch one element
};

void visit(GstElement* e, ElementWatch* w) {
  GstElementFactory* f = gst_element_get_factory(e);
  if (f && w->factory == GST_OBJECT_NAME(f) && !g_object_get_data(G_OBJECT(e), w->mark.c_str())) {
    g_object_set_data(G_OBJECT(e), w->mark.c_str(), GINT_TO_POINTER(1));
    w->found(e);
  }
  if (!GST_IS_BIN(e)) return;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(e));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    visit(GST_ELEMENT(g_value_get_object(&v)), w);
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
}

void watch_elements(GstElement* pipeline, ElementWatch* w) {
  g_signal_connect_data(
      pipeline, "deep-element-added",
      G_CALLBACK(+[](GstBin*, GstBin*, GstElement* e, gpointer data) {
        visit(e, static_cast<ElementWatch*>(data));
      }),
      w, [](gpointer data, GClosure*) { delete static_cast<ElementWatch*>(data); },
      GConnectFlags(0));
}

constexpr auto kDataProbe = GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST);

}  // namespace

void PacketClock::watch_publisher(GstElement* pipeline) {
  auto probe_send_pad = [this](GstPad* pad) {
    if (g_str_has_prefix(GST_PAD_NAME(pad), "send_rtp_src_"))
      gst_pad_add_probe(pad, kDataProbe, on_send, this, nullptr);
  };
  watch_elements(pipeline, new ElementWatch{"rtpbin", [this, probe_send_pad](GstElement* rtpbin) {
    g_signal_connect(rtpbin, "pad-added", G_CALLBACK(+[](GstElement*, GstPad* pad, gpointer self) {
                       if (g_str_has_prefix(GST_PAD_NAME(pad), "send_rtp_src_"))
                         gst_pad_add_probe(pad, kDataProbe, on_send, self, nullptr);
                     }),
                     this);
    GstIterator* it = gst_element_iterate_src_pads(rtpbin);
    GValue v = G_VALUE_INIT;
    while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
      probe_send_pad(GST_PAD(g_value_get_object(&v)));
      g_value_reset(&v);
    }
    g_value_unset(&v);
    gst_iterator_free(it);
  }, "bench-watched-" + std::to_string(reinterpret_cast<uintptr_t>(this))});
}

void PacketClock::watch_subscriber(GstElement* pipeline) {
  watch_elements(pipeline, new ElementWatch{"rtpssrcdemux", [this](GstElement* demux) {
    GstPad* sink = gst_element_get_static_pad(demux, "sink");
    gst_pad_add_probe(sink, kDataProbe, on_receive, this, nullptr);
    gst_object_unref(sink);
  }});
}

GstPadProbeReturn PacketClock::on_send(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* self = static_cast<PacketClock*>(data);
  gint64 now = g_get_monotonic_time();
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    return self->stamp(GST_PAD_PROBE_INFO_BUFFER(info), now) ? GST_PAD_PROBE_OK
                                                             : GST_PAD_PROBE_DROP;
  GstBufferList* list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
  std::vector<guint> drop;
  for (guint i = 0; i < gst_buffer_list_length(list); i++)
    if (!self->stamp(gst_buffer_list_get(list, i), now)) drop.push_back(i);
  if (drop.empty()) return GST_PAD_PROBE_OK;
  list = gst_buffer_list_make_writable(list);
  for (auto i = drop.rbegin(); i != drop.rend(); ++i) gst_buffer_list_remove(list, *i, 1);
  GST_PAD_PROBE_INFO_DATA(info) = list;
  return gst_buffer_list_length(list) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

GstPadProbeReturn PacketClock::on_receive(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* self = static_cast<PacketClock*>(data);
  gint64 now = g_get_monotonic_time();
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    self->arrive(GST_PAD_PROBE_INFO_BUFFER(info), now, pad);
  } else {
    GstBufferList* list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    for (guint i = 0; i < gst_buffer_list_length(list); i++)
      self->arrive(gst_buffer_list_get(list, i), now, pad);
  }
  return GST_PAD_PROBE_OK;
}

bool PacketClock::stamp(GstBuffer* buffer, gint64 now) {
  guint64 k = 0;
  guint8 pt = 0;
  if (!payload_key(buffer, &k, &pt)) return true;
  int expected = -1;
  media_pt_.compare_exchange_strong(expected, pt);
  if (pt != media_pt_) return true;  // a retransmission (RTX payload type)
  std::lock_guard lock(mutex_);
  bool dropped = drop_ > 0 && g_rand_double(rand_) < drop_;
  sent_[k] = {now, dropped, {}};
  order_.emplace_back(now, k);
  while (!order_.empty() && now - order_.front().first > kForgetAfterUs) {
    auto it = sent_.find(order_.front().second);
    if (it != sent_.end() && it->second.at_us == order_.front().first) sent_.erase(it);
    order_.pop_front();
  }
  window_.sent++;
  sent_total_++;
  if (dropped) window_.dropped++;
  return !dropped;
}

void PacketClock::arrive(GstBuffer* buffer, gint64 now, const void* subscriber) {
  guint64 k = 0;
  guint8 pt = 0;
  if (!payload_key(buffer, &k, &pt)) return;
  std::lock_guard lock(mutex_);
  auto it = sent_.find(k);
  if (it == sent_.end()) {
    window_.unmatched++;
    return;
  }
  double ms = double(now - it->second.at_us) / 1000.0;
  if (!it->second.dropped) return window_.latency_ms.push_back(ms);
  auto& got = it->second.got;
  if (std::find(got.begin(), got.end(), subscriber) != got.end()) {
    window_.duplicates++;
    return;
  }
  got.push_back(subscriber);
  window_.recovered_ms.push_back(ms);
}

PacketClock::Window PacketClock::take() {
  std::lock_guard lock(mutex_);
  Window w = std::move(window_);
  window_ = Window();
  return w;
}

}  // namespace bench
