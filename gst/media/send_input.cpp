#include "gst/media/send_input.h"

#include "gst/common/debug.h"
#include "gst/media/util.h"
#include "gst/common/guard.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

SendInput::SendInput(GstElement* element, GstPadTemplate* templ, const std::string& name,
                     Kind kind, int pt, std::function<EncoderSettings()> settings, Events events)
    : element_(element),
      name_(name),
      kind_(kind),
      pt_(pt),
      settings_(std::move(settings)),
      events_(std::move(events)) {
  entry_ = gst_element_factory_make("capsfilter", (name + "-entry").c_str());
  queue_ = gst_element_factory_make("queue", (name + "-queue").c_str());
  CapsPtr caps = sink_template_caps(kind);
  g_object_set(entry_, "caps", caps.get(), nullptr);
  // Leaky, so a stalled encoder never blocks a live source.
  guint64 queue_ns = kind == Kind::kVideo ? settings_().video_queue_ns : GST_SECOND;
  g_object_set(queue_, "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time", queue_ns,
               "leaky", 2, nullptr);
  gst_bin_add_many(GST_BIN(element), entry_, queue_, nullptr);
  gst_element_link(entry_, queue_);
  GPtr<GstPad> entry_sink = adopt(gst_element_get_static_pad(entry_, "sink"));
  GPtr<GstPad> queue_src = adopt(gst_element_get_static_pad(queue_, "src"));
  // EOS is seen where it enters; caps decide raw (encode) or encoded (pass
  // through) where they leave the queue, on the thread that will encode.
  gst_pad_add_probe(entry_sink.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_input_event, this,
                    nullptr);
  gst_pad_add_probe(queue_src.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_input_event, this,
                    nullptr);
  ghost_ = gst_ghost_pad_new_from_template(name.c_str(), entry_sink.get(), templ);
  gst_element_sync_state_with_parent(entry_);
  gst_element_sync_state_with_parent(queue_);
  gst_pad_set_active(ghost_, TRUE);
}

SendInput::~SendInput() {
  std::unique_ptr<FanOut> fanout;
  std::optional<SendChain> chain;
  {
    std::lock_guard lock(mutex_);
    fanout = std::move(fanout_);
    chain = std::move(chain_);
  }
  fanout.reset();
  if (chain) remove_send_chain(GST_BIN(element_), *chain);
  remove_elements(GST_BIN(element_), {queue_, entry_});
}

FanOut* SendInput::fanout() const {
  std::lock_guard lock(mutex_);
  return sent_caps_ ? fanout_.get() : nullptr;
}

std::optional<Codec> SendInput::codec() const {
  std::lock_guard lock(mutex_);
  if (!chain_) return std::nullopt;
  return chain_->codec;
}

CapsPtr SendInput::offer_caps() const {
  std::lock_guard lock(mutex_);
  if (!sent_caps_ || !chain_) return nullptr;
  CapsPtr caps = rtp_caps(chain_->codec, pt_);
  const GstStructure* from = gst_caps_get_structure(sent_caps_.get(), 0);
  GstStructure* to = gst_caps_get_structure(caps.get(), 0);
  if (const char* profile = gst_structure_get_string(from, "profile-level-id"))
    gst_structure_set(to, "profile-level-id", G_TYPE_STRING, profile, nullptr);
  return caps;
}

GstPadProbeReturn SendInput::on_input_event(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* self = static_cast<SendInput*>(data);
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && GST_PAD_DIRECTION(pad) == GST_PAD_SINK) {
    self->eos_ = true;
    if (self->events_.eos) self->events_.eos();
  } else if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS && GST_PAD_DIRECTION(pad) == GST_PAD_SRC) {
    GstCaps* caps;
    gst_event_parse_caps(event, &caps);
    bool ok = guard(self->element_, "send chain", [&] {
      self->build(pad, caps);
      return true;
    });
    if (!ok) return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

void SendInput::build(GstPad* queue_src, GstCaps* caps) {
  std::lock_guard lock(mutex_);
  if (chain_) return;  // later caps changes are the chain's converters' business
  EncoderSettings settings = settings_();
  if (auto it = settings.video_codec_of.find(name_); it != settings.video_codec_of.end())
    settings.video_codec = it->second;
  SendChain chain = build_send_chain(GST_BIN(element_), caps, settings, pt_);
  if (gst_pad_link(queue_src, chain.sink) != GST_PAD_LINK_OK) {
    remove_send_chain(GST_BIN(element_), chain);
    throw std::runtime_error("cannot link " + name_ + " to its send chain");
  }
  fanout_ = std::make_unique<FanOut>(GST_BIN(element_), chain.src, name_);
  // The offer describes what the payloader really sends: wait for its caps.
  gst_pad_add_probe(chain.src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_payloader_event, this,
                    nullptr);
  GST_INFO_OBJECT(element_, "%s: %s input → %s", name_.c_str(),
                  chain.encoded_input ? "encoded" : "raw", codec_info(chain.codec).name);
  chain_ = std::move(chain);
}

GstPadProbeReturn SendInput::on_payloader_event(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* self = static_cast<SendInput*>(data);
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
  GstCaps* caps;
  gst_event_parse_caps(event, &caps);
  bool first;
  {
    std::lock_guard lock(self->mutex_);
    first = !self->sent_caps_;
    self->sent_caps_ = retain(caps);
  }
  if (first && self->events_.ready) self->events_.ready();
  return GST_PAD_PROBE_OK;
}

}  // namespace rtcmesh::media
