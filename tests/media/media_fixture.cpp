#include "tests/media/media_fixture.h"

#include <thread>

#include "gst/media/codec.h"

namespace rtcmesh::media::test {

CountingSink::CountingSink(const std::string& caps, const char* name) {
  sink_ = gst_element_factory_make("appsink", name);
  gst_object_ref_sink(sink_);
  g_object_set(sink_, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  if (!caps.empty()) {
    CapsPtr c = adopt(gst_caps_from_string(caps.c_str()));
    g_object_set(sink_, "caps", c.get(), nullptr);
  }
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &CountingSink::on_sample;
  callbacks.eos = &CountingSink::on_eos;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink_), &callbacks, this, nullptr);
}

CountingSink::~CountingSink() {
  GstAppSinkCallbacks none{};
  gst_app_sink_set_callbacks(GST_APP_SINK(sink_), &none, nullptr, nullptr);
  gst_object_unref(sink_);
}

GstPad* CountingSink::pad() const {
  GstPad* p = gst_element_get_static_pad(sink_, "sink");
  gst_object_unref(p);  // the element keeps it
  return p;
}

GstFlowReturn CountingSink::on_sample(GstAppSink* sink, gpointer data) {
  auto* self = static_cast<CountingSink*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_OK;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  bool key = buffer && !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  int expected = -1;
  self->first_keyframe_.compare_exchange_strong(expected, key ? 1 : 0);
  if (key) ++self->keyframes_;
  // Several buffers (RTP packets, NAL units) can carry one frame.
  if (buffer && GST_BUFFER_PTS(buffer) != self->last_pts_.exchange(GST_BUFFER_PTS(buffer)))
    ++self->frames_;
  {
    std::lock_guard lock(self->mutex_);
    self->caps_ = retain(gst_sample_get_caps(sample));
  }
  ++self->samples_;
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

void CountingSink::on_eos(GstAppSink*, gpointer data) {
  static_cast<CountingSink*>(data)->eos_ = true;
}

CapsPtr CountingSink::caps() const {
  std::lock_guard lock(mutex_);
  return caps_ ? retain(caps_.get()) : nullptr;
}

std::string CountingSink::caps_string() const {
  CapsPtr c = caps();
  if (!c) return "(none)";
  GCharPtr s(gst_caps_to_string(c.get()));
  return s.get();
}

namespace {
const char* const kLogDomains[] = {"GStreamer", "GLib-GObject", "GLib"};
}

void MediaTest::SetUp() {
  for (const char* domain : kLogDomains) {
    log_handlers_.push_back(g_log_set_handler(
        domain, static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL),
        [](const gchar* d, GLogLevelFlags, const gchar* message, gpointer data) {
          ++static_cast<MediaTest*>(data)->glib_warnings_;
          ADD_FAILURE() << d << ": " << message;
        },
        this));
  }
  pipeline_ = gst_pipeline_new(nullptr);
  bin_ = GST_BIN(gst_bin_new("rtc"));
  gst_bin_add(GST_BIN(pipeline_), GST_ELEMENT(bin_));
}

void MediaTest::TearDown() {
  stop();
  gst_object_unref(pipeline_);
  for (size_t i = 0; i < log_handlers_.size(); ++i)
    g_log_remove_handler(kLogDomains[i], log_handlers_[i]);
  log_handlers_.clear();
}

void MediaTest::play() {
  ASSERT_NE(gst_element_set_state(pipeline_, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
}

void MediaTest::stop() {
  if (pipeline_) gst_element_set_state(pipeline_, GST_STATE_NULL);
}

bool MediaTest::run_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  GPtr<GstBus> bus = adopt(gst_element_get_bus(pipeline_));
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    GstMessage* msg = gst_bus_timed_pop(bus.get(), 20 * GST_MSECOND);
    if (!msg) continue;
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ERROR:
      case GST_MESSAGE_WARNING: {
        GError* err = nullptr;
        gchar* dbg = nullptr;
        if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
          gst_message_parse_error(msg, &err, &dbg);
        else
          gst_message_parse_warning(msg, &err, &dbg);
        std::string text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " +
                           err->message + " (" + (dbg ? dbg : "") + ")";
        (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR ? errors_ : warnings_).push_back(text);
        g_error_free(err);
        g_free(dbg);
        break;
      }
      case GST_MESSAGE_EOS:
        eos_ = true;
        break;
      default:
        break;
    }
    gst_message_unref(msg);
  }
  return true;
}

std::string MediaTest::errors_text() const {
  std::string out;
  for (const auto& e : errors_) out += "ERROR " + e + "\n";
  for (const auto& w : warnings_) out += "WARNING " + w + "\n";
  return out;
}

GstPad* MediaTest::add_after(GstPad* upstream, const char* factory,
                             const std::vector<std::string>& props) {
  GstElement* e = gst_element_factory_make(factory, nullptr);
  EXPECT_NE(e, nullptr) << factory;
  for (const auto& p : props) {
    auto eq = p.find('=');
    gst_util_set_object_arg(G_OBJECT(e), p.substr(0, eq).c_str(), p.substr(eq + 1).c_str());
  }
  gst_bin_add(bin_, e);
  if (upstream) {
    GPtr<GstPad> sink = adopt(gst_element_get_static_pad(e, "sink"));
    EXPECT_EQ(gst_pad_link(upstream, sink.get()), GST_PAD_LINK_OK);
  }
  gst_element_sync_state_with_parent(e);
  GstPad* src = gst_element_get_static_pad(e, "src");
  gst_object_unref(src);
  return src;
}

GstPad* MediaTest::add_video_source(int num_buffers) {
  GstPad* src = add_after(nullptr, "videotestsrc",
                          {"is-live=true", "num-buffers=" + std::to_string(num_buffers)});
  return add_after(src, "capsfilter", {"caps=video/x-raw,width=320,height=240,framerate=15/1"});
}

GstPad* MediaTest::add_audio_source(int num_buffers) {
  GstPad* src = add_after(nullptr, "audiotestsrc",
                          {"is-live=true", "num-buffers=" + std::to_string(num_buffers)});
  return add_after(src, "capsfilter", {"caps=audio/x-raw,rate=48000,channels=2"});
}

int MediaTest::count_in_bin(const char* klass) const {
  int n = 0;
  GstIterator* it = gst_bin_iterate_recurse(bin_);
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(e);
    const char* k = f ? gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS) : nullptr;
    if (k && strstr(k, klass)) ++n;
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return n;
}

GstPadTemplate* src_template(const char* name_template, bool video) {
  CapsPtr caps = src_template_caps(video ? Kind::kVideo : Kind::kAudio);
  GstPadTemplate* t =
      gst_pad_template_new(name_template, GST_PAD_SRC, GST_PAD_SOMETIMES, caps.get());
  gst_object_ref_sink(t);
  return t;
}

}  // namespace rtcmesh::media::test
