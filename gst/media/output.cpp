#include "gst/media/output.h"

#include <gst/video/video.h>

#include <atomic>
#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/common/guard.h"
#include "gst/media/util.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

constexpr gint64 kKeyframeRetryUs = G_USEC_PER_SEC;

// ---------------------------------------------------------------------------
// The gate: the branch entry. A tiny element rather than probes on a stock one
// because it must own the flow returns it gives webrtcbin.

struct GatePrivate {
  std::atomic<bool> open{false};
  std::atomic<bool> finished{false};
  std::string stream_id;
  std::atomic<int> last_reported{GST_FLOW_OK};
};

struct RtcOutputGate {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;
  GatePrivate* priv;
};

struct RtcOutputGateClass {
  GstElementClass parent_class;
};

GstStaticPadTemplate gate_sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
GstStaticPadTemplate gate_src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType rtc_output_gate_get_type();
#define RTC_OUTPUT_GATE(obj) (reinterpret_cast<RtcOutputGate*>(obj))

G_DEFINE_TYPE(RtcOutputGate, rtc_output_gate, GST_TYPE_ELEMENT)

// Trouble downstream stays on this pad: an error, NOT_LINKED or EOS returned to
// webrtcbin would stop its whole transport (DESIGN §5). Only our own flushing
// (shutdown) goes upstream.
GstFlowReturn gate_filter(RtcOutputGate* self, GstFlowReturn ret) {
  if (ret == GST_FLOW_OK) {
    self->priv->last_reported = GST_FLOW_OK;
    return ret;
  }
  if (ret == GST_FLOW_FLUSHING && GST_PAD_IS_FLUSHING(self->sinkpad)) return ret;
  if (self->priv->last_reported.exchange(ret) != ret) {
    if (ret == GST_FLOW_NOT_NEGOTIATED) {
      GST_ELEMENT_WARNING(
          self, STREAM, FORMAT,
          ("output %s: downstream refused the stream format", GST_OBJECT_NAME(self)),
          ("not-negotiated; dropping this track's data"));
    } else if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED) {
      GST_WARNING_OBJECT(self, "downstream returned %s, dropping this track's data",
                         gst_flow_get_name(ret));
    } else {
      GST_DEBUG_OBJECT(self, "downstream returned %s, dropping", gst_flow_get_name(ret));
    }
  }
  return GST_FLOW_OK;
}

GstFlowReturn gate_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  auto* self = RTC_OUTPUT_GATE(parent);
  if (!self->priv->open.load(std::memory_order_acquire) || self->priv->finished.load()) {
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  return gate_filter(self, gst_pad_push(self->srcpad, buffer));
}

GstFlowReturn gate_chain_list(GstPad*, GstObject* parent, GstBufferList* list) {
  auto* self = RTC_OUTPUT_GATE(parent);
  if (!self->priv->open.load(std::memory_order_acquire) || self->priv->finished.load()) {
    gst_buffer_list_unref(list);
    return GST_FLOW_OK;
  }
  return gate_filter(self, gst_pad_push_list(self->srcpad, list));
}

GstEvent* restamp_stream_start(GstEvent* event, const std::string& stream_id) {
  GstStreamFlags flags = GST_STREAM_FLAG_NONE;
  guint group = 0;
  gst_event_parse_stream_flags(event, &flags);
  bool has_group = gst_event_parse_group_id(event, &group);
  GstEvent* out = gst_event_new_stream_start(stream_id.c_str());
  gst_event_set_stream_flags(out, flags);
  if (has_group) gst_event_set_group_id(out, group);
  gst_event_set_seqnum(out, gst_event_get_seqnum(event));
  gst_event_unref(event);
  return out;
}

gboolean gate_sink_event(GstPad*, GstObject* parent, GstEvent* event) {
  auto* self = RTC_OUTPUT_GATE(parent);
  GstEventType type = GST_EVENT_TYPE(event);
  if (self->priv->finished.load() && type != GST_EVENT_FLUSH_START &&
      type != GST_EVENT_FLUSH_STOP) {
    gst_event_unref(event);
    return TRUE;
  }
  if (type == GST_EVENT_STREAM_START && !self->priv->stream_id.empty())
    event = restamp_stream_start(event, self->priv->stream_id);
  // Sticky events stay on our src pad and reach a chain built later; an
  // unlinked or rebuilding branch is never reported upstream as a failure.
  gst_pad_push_event(self->srcpad, event);
  return TRUE;
}

void rtc_output_gate_finalize(GObject* object) {
  delete RTC_OUTPUT_GATE(object)->priv;
  G_OBJECT_CLASS(rtc_output_gate_parent_class)->finalize(object);
}

void rtc_output_gate_class_init(RtcOutputGateClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = rtc_output_gate_finalize;
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(element_class, &gate_sink_template);
  gst_element_class_add_static_pad_template(element_class, &gate_src_template);
  gst_element_class_set_static_metadata(
      element_class, "rtcmesh output gate", "Generic",
      "Drops data while its output is unlinked and keeps downstream errors off webrtcbin",
      "rtcmesh");
}

void rtc_output_gate_init(RtcOutputGate* self) {
  self->priv = new GatePrivate();
  self->sinkpad = gst_pad_new_from_static_template(&gate_sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, gate_chain);
  gst_pad_set_chain_list_function(self->sinkpad, gate_chain_list);
  gst_pad_set_event_function(self->sinkpad, gate_sink_event);
  self->srcpad = gst_pad_new_from_static_template(&gate_src_template, "src");
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
}

GstPad* static_pad(GstElement* e, const char* name) {
  // Borrowed: the element keeps its always pads.
  GstPad* pad = gst_element_get_static_pad(e, name);
  if (pad) gst_object_unref(pad);
  return pad;
}

bool is_delta(GstBuffer* b) {
  return GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
}

}  // namespace

// ---------------------------------------------------------------------------

struct OutputBranch::Shared {
  std::string name;
  std::atomic<bool> waiting_keyframe{false};
  std::atomic<gint64> last_request_us{0};
  std::atomic<guint> count{0};

  GstEvent* keyframe_event() {
    last_request_us = g_get_monotonic_time();
    return gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, ++count);
  }

  // On the depayloader's src pad: decoders and muxers start on a keyframe; ask
  // again every second until one comes (the first ask may have gone out before
  // the sender was connected).
  static GstPadProbeReturn wait_probe(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
    auto& self = **static_cast<std::shared_ptr<Shared>*>(data);
    if (!self.waiting_keyframe.load(std::memory_order_relaxed)) return GST_PAD_PROBE_OK;
    return guard(nullptr, "output keyframe probe", [&] {
      bool found = false;
      if (GstBuffer* b = GST_PAD_PROBE_INFO_BUFFER(info);
          b && (info->type & GST_PAD_PROBE_TYPE_BUFFER)) {
        found = !is_delta(b);
      } else if (GstBufferList* list = GST_PAD_PROBE_INFO_BUFFER_LIST(info)) {
        guint n = gst_buffer_list_length(list);
        for (guint i = 0; i < n && !found; ++i) {
          if (!is_delta(gst_buffer_list_get(list, i))) {
            found = true;
            if (i > 0) {
              list = gst_buffer_list_make_writable(list);
              gst_buffer_list_remove(list, 0, i);
              GST_PAD_PROBE_INFO_DATA(info) = list;
            }
          }
        }
      }
      if (found) {
        self.waiting_keyframe = false;
        GST_DEBUG("%s: keyframe arrived", self.name.c_str());
        return GST_PAD_PROBE_OK;
      }
      if (g_get_monotonic_time() - self.last_request_us.load() >= kKeyframeRetryUs) {
        GST_DEBUG("%s: still waiting for a keyframe, asking again", self.name.c_str());
        gst_pad_send_event(pad, self.keyframe_event());
      }
      return GST_PAD_PROBE_DROP;
    });
  }

  static void free_ref(gpointer data) { delete static_cast<std::shared_ptr<Shared>*>(data); }
};

std::optional<OutputMode> output_mode_from_name(std::string_view name) {
  for (OutputMode m : {OutputMode::kAuto, OutputMode::kRaw, OutputMode::kEncoded, OutputMode::kRtp})
    if (g_ascii_strncasecmp(name.data(), output_mode_name(m), name.size()) == 0 &&
        name.size() == strlen(output_mode_name(m)))
      return m;
  return std::nullopt;
}

const char* output_mode_name(OutputMode m) {
  switch (m) {
    case OutputMode::kAuto:
      return "auto";
    case OutputMode::kRaw:
      return "raw";
    case OutputMode::kEncoded:
      return "encoded";
    case OutputMode::kRtp:
      return "rtp";
  }
  return "auto";
}

GType output_mode_get_type() {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(OutputMode::kAuto), "From the linked peer's caps: RTP, encoded or raw",
       "auto"},
      {static_cast<gint>(OutputMode::kRaw), "Decoded audio/video", "raw"},
      {static_cast<gint>(OutputMode::kEncoded), "Depayloaded and parsed, not decoded", "encoded"},
      {static_cast<gint>(OutputMode::kRtp), "RTP as received", "rtp"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("RtcOutputMode", values));
  return type;
}

OutputBranch::OutputBranch(GstBin* element, Codec codec, OutputMode mode,
                           const std::string& pad_name, GstPadTemplate* templ,
                           const std::string& stream_id, GType pad_type)
    : element_(element),
      codec_(codec),
      mode_(mode),
      pad_name_(pad_name),
      shared_(std::make_shared<Shared>()) {
  shared_->name = std::string(GST_OBJECT_NAME(element)) + ":" + pad_name;
  GPtr<GstElement> gate = adopt_sink(GST_ELEMENT(
      g_object_new(rtc_output_gate_get_type(), "name", (pad_name + "-gate").c_str(), nullptr)));
  RTC_OUTPUT_GATE(gate.get())->priv->stream_id = stream_id;
  if (!gst_bin_add(element_, gate.get()))
    throw std::runtime_error("output " + shared_->name + ": cannot add its gate");
  gate_ = gate.get();
  try {
    if (!gst_element_sync_state_with_parent(gate_))
      throw std::runtime_error("output " + shared_->name + ": gate failed to start");
    if (!g_type_is_a(pad_type, GST_TYPE_GHOST_PAD))
      throw std::runtime_error("output " + shared_->name + ": pad type is not a ghost pad");
    ghost_ = adopt_sink(GST_PAD(g_object_new(pad_type, "name", pad_name.c_str(), "direction",
                                             GST_PAD_SRC, "template", templ, nullptr)));
    if (!ghost_) throw std::runtime_error("output " + shared_->name + ": cannot create its pad");
    // gst_element_add_pad warns about inactive pads added to a running element.
    if (GST_STATE(element_) > GST_STATE_READY || GST_STATE_NEXT(element_) == GST_STATE_PAUSED)
      gst_pad_set_active(ghost_.get(), TRUE);
  } catch (...) {
    remove_elements(element_, {gate_});
    throw;
  }
  g_signal_connect(ghost_.get(), "linked", G_CALLBACK(+[](GstPad*, GstPad* peer, gpointer data) {
                     auto* self = static_cast<OutputBranch*>(data);
                     guard(GST_ELEMENT(self->element_), "output pad linked",
                           [&] { self->on_linked(peer); });
                   }),
                   this);
  g_signal_connect(ghost_.get(), "unlinked", G_CALLBACK(+[](GstPad*, GstPad*, gpointer data) {
                     auto* self = static_cast<OutputBranch*>(data);
                     guard(GST_ELEMENT(self->element_), "output pad unlinked",
                           [&] { self->on_unlinked(); });
                   }),
                   this);
}

OutputBranch::~OutputBranch() {
  guard(nullptr, "OutputBranch::~OutputBranch", [&] {
    g_signal_handlers_disconnect_by_data(ghost_.get(), this);
    RTC_OUTPUT_GATE(gate_)->priv->open = false;
    if (GST_OBJECT_PARENT(ghost_.get()) == GST_OBJECT(element_)) remove_from(GST_ELEMENT(element_));
    gst_ghost_pad_set_target(GST_GHOST_PAD(ghost_.get()), nullptr);
    std::lock_guard lock(mutex_);
    std::vector<GstElement*> all{gate_};
    all.insert(all.end(), chain_.begin(), chain_.end());
    remove_elements(element_, all);
    chain_.clear();
  });
}

GstPad* OutputBranch::sink_pad() const {
  return RTC_OUTPUT_GATE(gate_)->sinkpad;
}

std::optional<OutputMode> OutputBranch::form() const {
  std::lock_guard lock(mutex_);
  return form_;
}

OutputMode OutputBranch::choose(GstPad* peer) const {
  CapsPtr caps = adopt(gst_pad_query_caps(peer, nullptr));
  // ANY (fakesink, queue with nothing behind it, decodebin, filesink): the
  // encoded stream is what such peers handle best.
  if (!caps || gst_caps_is_any(caps.get())) return OutputMode::kEncoded;
  if (gst_caps_can_intersect(caps.get(), rtp_match_caps(codec_).get())) return OutputMode::kRtp;
  CapsPtr encoded = adopt(gst_caps_from_string(codec_info(codec_).encoded_caps));
  if (gst_caps_can_intersect(caps.get(), encoded.get())) return OutputMode::kEncoded;
  return OutputMode::kRaw;
}

std::vector<GstElement*> OutputBranch::make_chain(OutputMode form) const {
  const CodecInfo& info = codec_info(codec_);
  FloatingElements chain;
  if (form == OutputMode::kRtp) return {};
  GstElement* depay = chain.add(make_element(info.depayloader));
  if (info.kind == Kind::kVideo) {
    // After a loss: ask the sender (PLI) and hold back broken frames.
    set_property_string(depay, "request-keyframe", "true");
    set_property_string(depay, "wait-for-keyframe", "true");
  }
  if (info.parser) {
    GstElement* parser = chain.add(make_element(info.parser));
    if (codec_ == Codec::kH264) g_object_set(parser, "config-interval", -1, nullptr);
  }
  if (form == OutputMode::kRaw) {
    GstElement* decoder = chain.add(make_element(info.decoder));
    set_property_string(decoder, "automatic-request-sync-points", "true");
    if (codec_ == Codec::kOpus) set_property_string(decoder, "plc", "true");
    // Whatever raw format the peer wants (passthrough when it is the decoder's).
    if (info.kind == Kind::kVideo) {
      chain.add(make_element("videoconvert"));
    } else {
      chain.add(make_element("audioconvert"));
      chain.add(make_element("audioresample"));
    }
  }
  return chain.release();
}

void OutputBranch::on_linked(GstPad* peer) {
  auto* gate = RTC_OUTPUT_GATE(gate_);
  {
    std::lock_guard lock(mutex_);
    OutputMode want = mode_ == OutputMode::kAuto ? choose(peer) : mode_;
    gate->priv->open = false;
    if (!form_ || *form_ != want) {
      if (!chain_.empty()) {
        if (GPtr<GstPad> old = adopt(gst_pad_get_peer(gate->srcpad)))
          gst_pad_unlink(gate->srcpad, old.get());
        remove_elements(element_, chain_);
        chain_.clear();
      }
      form_.reset();
      std::vector<GstElement*> elements = make_chain(want);
      if (!elements.empty()) {
        add_and_link(element_, elements);
        try {
          sync_with_parent(elements);
          GstPadLinkReturn r = gst_pad_link(gate->srcpad, static_pad(elements.front(), "sink"));
          if (GST_PAD_LINK_FAILED(r))
            throw std::runtime_error("output " + shared_->name + ": cannot link its chain (" +
                                     gst_pad_link_get_name(r) + ")");
        } catch (...) {
          remove_elements(element_, elements);
          throw;
        }
        if (codec_info(codec_).kind == Kind::kVideo) {
          gst_pad_add_probe(static_pad(elements.front(), "src"),
                            static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                         GST_PAD_PROBE_TYPE_BUFFER_LIST),
                            &Shared::wait_probe, new std::shared_ptr<Shared>(shared_),
                            &Shared::free_ref);
        }
        if (want == OutputMode::kEncoded) {
          // Muxers refuse buffers without PTS (mp4mux: "Buffer has no PTS");
          // around stream start the depayloader emits some (parameter sets
          // alone): drop them, the next access unit carries them again.
          gst_pad_add_probe(
              static_pad(elements.back(), "src"), GST_PAD_PROBE_TYPE_BUFFER,
              [](GstPad*, GstPadProbeInfo* info, gpointer) {
                return GST_BUFFER_PTS_IS_VALID(GST_PAD_PROBE_INFO_BUFFER(info))
                           ? GST_PAD_PROBE_OK
                           : GST_PAD_PROBE_DROP;
              },
              nullptr, nullptr);
        }
      }
      chain_ = std::move(elements);
      form_ = want;
    }
    GstPad* out = chain_.empty() ? gate->srcpad : static_pad(chain_.back(), "src");
    if (!gst_ghost_pad_set_target(GST_GHOST_PAD(ghost_.get()), out))
      throw std::runtime_error("output " + shared_->name + ": cannot target its chain");
    shared_->waiting_keyframe = want != OutputMode::kRtp && codec_info(codec_).kind == Kind::kVideo;
    gate->priv->open.store(true, std::memory_order_release);
    GST_INFO_OBJECT(element_, "output %s: %s %s to %s", pad_name_.c_str(), output_mode_name(want),
                    codec_info(codec_).name, pad_name(peer).c_str());
  }
  request_keyframe();
}

void OutputBranch::on_unlinked() {
  std::lock_guard lock(mutex_);
  RTC_OUTPUT_GATE(gate_)->priv->open = false;
  // A later link may want another form: the ghost must not keep advertising
  // this chain's caps.
  gst_ghost_pad_set_target(GST_GHOST_PAD(ghost_.get()), nullptr);
  GST_DEBUG_OBJECT(element_, "output %s unlinked, dropping", pad_name_.c_str());
}

void OutputBranch::request_keyframe() {
  gst_pad_push_event(sink_pad(), shared_->keyframe_event());
}

void OutputBranch::new_sender() {
  if (codec_info(codec_).kind != Kind::kVideo) return;
  // No event from here (webrtcbin's pad-added): the probe asks on the stream.
  shared_->last_request_us = 0;
  shared_->waiting_keyframe = true;
}

void OutputBranch::finish() {
  auto* gate = RTC_OUTPUT_GATE(gate_);
  if (gate->priv->finished.exchange(true)) return;
  GST_DEBUG_OBJECT(element_, "output %s: EOS", pad_name_.c_str());
  gst_pad_push_event(gate->srcpad, gst_event_new_eos());
}

void OutputBranch::remove_from(GstElement* element) {
  if (GST_OBJECT_PARENT(ghost_.get()) != GST_OBJECT(element)) return;
  gst_pad_set_active(ghost_.get(), FALSE);
  gst_element_remove_pad(element, ghost_.get());
}

}  // namespace rtcmesh::media
