// rtcmcu: the MCU room host element. Wiring only: an inner rtcsfu in mix mode
// (gst/sfu/mix_mode.h) hosts the room (WHIP, WHEP, JSON-RPC, admission,
// metrics) and exposes every remote publisher's track decoded; the Composer
// (gst/media/composer.h) lays the tracks out in a grid and mixes their audio;
// the composite and the mix go back into the rtcsfu's request pads, where
// they are encoded once and forwarded to every subscriber as the room's one
// publisher, and out of the always pads video_src / audio_src.
#include "gst/mcu/mcu.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gst/common/base_bin.h"
#include "gst/common/data_signals.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/media/codec.h"
#include "gst/media/composer.h"
#include "gst/media/minus_one.h"
#include "gst/media/util.h"
#include "gst/sfu/mix_mode.h"
#include "gst/sfu/sfu.h"

GST_DEBUG_CATEGORY_STATIC(rtcmcu_debug);
#define GST_CAT_DEFAULT rtcmcu_debug

using namespace rtcmesh;

namespace {

enum {
  PROP_0,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FRAMERATE,
  PROP_VIDEO_CODEC,
  PROP_VIDEO_CODECS,
  PROP_VIDEO_BITRATE,
  PROP_LAYOUT,
  PROP_PINNED,
  PROP_SPEAKER_HOLD,
  PROP_LABELS,
  PROP_VIDEO_PROCESS,
  PROP_AUDIO_PROCESS,
  PROP_STATS,
  PROP_ICE_FIRST,
  PROP_FORWARDED_FIRST = PROP_ICE_FIRST + IceProps::kCount,  // rtcsfu's, from here on
};

enum {
  SIGNAL_PUBLISHER_ADDED,
  SIGNAL_PUBLISHER_REMOVED,
  SIGNAL_SUBSCRIBER_ADDED,
  SIGNAL_SUBSCRIBER_REMOVED,
  N_SIGNALS
};
guint signals[N_SIGNALS];
guint data_received_signal;  // the inner rtcsfu's data-received, re-emitted
const char* const kSignalNames[N_SIGNALS] = {"publisher-added", "publisher-removed",
                                             "subscriber-added", "subscriber-removed"};

// rtcsfu's properties that rtcmcu sets itself or has no use for (ingress: its
// publishers are decoded, through webrtcbin's reordering jitterbuffer).
bool forwarded(const char* name) {
  for (const char* own : {"stats", "output", "publisher-id", "eos-on-leave", "ingress"})
    if (g_str_equal(name, own)) return false;
  return true;
}

GType layout_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {int(media::Layout::kGrid), "Every participant a tile of a grid that follows their number",
       "grid"},
      {int(media::Layout::kSpeaker),
       "The active speaker (loudest, held speaker-hold ms) large, the others in a strip",
       "speaker"},
      {int(media::Layout::kPinned), "The `pinned` participant large, the others in a strip",
       "pinned"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static("RtcMcuLayout", values));
  return type;
}

// A process fragment (gst-launch syntax, raw in, raw out) between converters,
// as a bin with one sink and one src pad; nullptr and the parser's message
// when it does not parse or has no free sink and src. Empty: as it came.
GstElement* parse_fragment(media::Kind kind, const std::string& fragment, std::string& error) {
  const char* name = kind == media::Kind::kVideo ? "video-process" : "audio-process";
  std::string body = fragment.empty() ? "identity" : fragment;
  std::string desc = kind == media::Kind::kVideo
                         ? "videoconvert ! " + body + " ! videoconvert"
                         : "audioconvert ! audioresample ! " + body +
                               " ! audioconvert ! audioresample";
  GError* err = nullptr;
  GstElement* bin = gst_parse_bin_from_description_full(desc.c_str(), TRUE, nullptr,
                                                       GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (err) {
    error = std::string(name) + " '" + fragment + "': " + err->message;
    g_error_free(err);
    if (bin) gst_object_unref(bin);
    return nullptr;
  }
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(bin, "sink"));
  GPtr<GstPad> src = adopt(gst_element_get_static_pad(bin, "src"));
  if (!sink || !src) {
    error = std::string(name) + " '" + fragment +
            "': the fragment must be one chain, raw in and raw out (no source or sink of its own)";
    gst_object_unref(bin);
    return nullptr;
  }
  return bin;
}

// The id the composite and the mix publish under in the room.
constexpr const char* kOutputPublisher = "mcu";

}  // namespace

struct RtcMcuPrivate {
  explicit RtcMcuPrivate(RtcMcu* s);
  RtcMcu* self;

  std::mutex props_mutex;
  guint width = 1280, height = 720, framerate = 30;
  media::EncoderSettings encoder;
  std::string video_codecs;  // the property: "" = video-codec only
  media::Layout layout = media::Layout::kGrid;
  std::string pinned, speaker;  // speaker: the loudest voice, held speaker_hold_ms
  gint64 speaker_since_us = 0;
  guint speaker_hold_ms = 2000;
  bool labels = true;
  // Processing room (either set): gst-launch fragments, raw in and raw out,
  // one instance per participant's track.
  std::string video_process, audio_process;
  bool processing() const { return !video_process.empty() || !audio_process.empty(); }
  IceProps ice;
  void apply_layout();
  void loudest(const std::string& peer);

  GstElement* sfu = nullptr;  // child, owned by the bin
  std::unique_ptr<media::Composer> composer;
  std::unique_ptr<media::MinusOneMixes> minus_one;
  std::mutex mixes_mutex;  // leaf
  // Raw media going back into the sfu as a track for one participant: its
  // minus-one mix, or its own track through the process fragment.
  struct Return {
    GstPad* pad = nullptr;  // the sfu's request pad
    GstElement *proxy_sink = nullptr, *proxy_src = nullptr;
    GstElement* process = nullptr;  // the fragment's bin, if any
  };
  std::map<std::string, Return> mix_pads;  // by participant
  std::map<GstPad*, Return> processed;     // by the sfu's src pad of the track
  std::optional<Return> send_back(const std::string& peer, GstPad* src,
                                  std::optional<media::Kind> kind);
  void end_return(const Return& r);
  // Going down: the host's worker still adds tracks while the sfu's children
  // stop, and elements added then could miss NULL and keep their threads
  // running (hangs at exit seen in the mcu test); nothing is added then.
  bool stopping() {
    GST_OBJECT_LOCK(self);
    bool down = GST_STATE_TARGET(self) < GST_STATE_PAUSED;
    GST_OBJECT_UNLOCK(self);
    return down;
  }
  void mix_added(const std::string& peer, GstPad* src);
  void mix_removed(const std::string& peer, GstPad* src);
  void process_added(GstPad* track, const std::string& peer, media::Kind kind);
  bool process_removed(GstPad* track);
  GstElement *video_tee = nullptr, *audio_tee = nullptr;
  // The sfu's request pads, once started: the composite once per codec.
  std::map<std::string, media::Codec> sfu_videos;  // by pad name
  // Each codec's encoder gets the composite only while someone receives
  // that codec (and until it was encoded once, to be offered): a probe on
  // its branch of the composite's tee drops the frames otherwise.
  struct Gate {
    std::string codec;
    std::atomic<bool> open{true};
  };
  std::map<std::string, std::unique_ptr<Gate>> gates;  // by pad name; made once
  GstPad* sfu_audio = nullptr;
  std::string codec_names;  // of sfu_videos, for stats: "VP8,H264"

  bool start(std::string& error);
  void stop() {}
  void request_outputs(const std::vector<media::Codec>& codecs);
  void link_outputs();
  void demand(const std::string& track, bool wanted);
  std::string encoding() const;  // codecs whose encoder runs: "VP8,H264"
  GstStructure* stats();
};

struct _RtcMcu {
  RtcBaseBin parent;
  RtcMcuPrivate* priv;
};

G_DEFINE_TYPE(RtcMcu, rtc_mcu, RTC_TYPE_BASE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcmcu, "rtcmcu", GST_RANK_NONE, RTC_TYPE_MCU)

namespace {

GstElement* add_element(GstBin* bin, const char* factory, const char* name) {
  GstElement* e = media::make_element(factory, name);
  gst_bin_add(bin, e);
  return e;
}

// mixer output → tee (allow-not-linked: an unlinked always pad drops) → the
// always src pad `name`; the tee's second branch (made at start) goes into
// the sfu's request pad, whose send chain queues before its encoder.
GstElement* add_output(GstBin* bin, GstPad* mixer_src, const char* name) {
  GstElement* tee = add_element(bin, "tee", (std::string(name) + "-tee").c_str());
  g_object_set(tee, "allow-not-linked", TRUE, nullptr);
  GstPad* tee_sink = gst_element_get_static_pad(tee, "sink");
  gst_pad_link(mixer_src, tee_sink);
  gst_object_unref(tee_sink);
  GstPad* tee_src = gst_element_request_pad_simple(tee, "src_%u");
  GstPadTemplate* templ = gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(bin), name);
  GstPad* ghost = gst_ghost_pad_new_from_template(name, tee_src, templ);
  gst_object_unref(tee_src);
  gst_element_add_pad(GST_ELEMENT(bin), ghost);
  return tee;
}

// src → proxysink ~ proxysrc → the sfu's request pad `sink`: the sfu feeds
// the mixers, which feed the sfu, and a bin whose children link in a loop
// cannot order their state changes. Returns the two elements.
std::pair<GstElement*, GstElement*> link_into_sfu(GstBin* bin, GstPad* src, GstPad* sink) {
  GstElement* out = add_element(bin, "proxysink", nullptr);
  GstElement* in = add_element(bin, "proxysrc", nullptr);
  g_object_set(in, "proxysink", out, nullptr);
  GstPad* out_sink = gst_element_get_static_pad(out, "sink");
  GstPad* in_src = gst_element_get_static_pad(in, "src");
  gst_pad_link(src, out_sink);
  gst_pad_link(in_src, sink);
  gst_object_unref(out_sink);
  gst_object_unref(in_src);
  gst_element_sync_state_with_parent(in);
  gst_element_sync_state_with_parent(out);
  return {out, in};
}

void on_pad_added(GstElement* sfu, GstPad* pad, RtcMcuPrivate* p) {
  // A remote publisher's decoded track: a tile, or a voice of the mixes
  // (the sfu's sink pads are ours: the composite and the mixes going in).
  if (!GST_PAD_IS_SRC(pad) || p->stopping()) return;
  GST_INFO_OBJECT(p->self, "mixing %s of %s", GST_PAD_NAME(pad), string_property(pad, "peer-id").c_str());
  std::string peer = string_property(pad, "peer-id");
  bool video = g_str_has_prefix(GST_PAD_NAME(pad), "src_video");
  bool processing;
  {
    std::lock_guard lock(p->props_mutex);
    processing = p->processing();
  }
  if (processing)
    return p->process_added(pad, peer, video ? media::Kind::kVideo : media::Kind::kAudio);
  if (video) {
    p->composer->add(pad, media::Kind::kVideo, peer);
    return p->apply_layout();
  }
  // A WHIP publisher cannot subscribe as itself: only participants get their
  // own minus-one mix. Heard but not (yet) seen: a tile with their name.
  p->composer->add_placeholder(peer);
  p->apply_layout();
  bool own = !sfu::is_whip_publisher(sfu, string_property(pad, "room"), peer);
  p->minus_one->add_voice(pad, peer, own);
}

void on_pad_removed(GstElement*, GstPad* pad, RtcMcuPrivate* p) {
  if (!GST_PAD_IS_SRC(pad)) return;
  GST_INFO_OBJECT(p->self, "%s leaves the mix", GST_PAD_NAME(pad));
  if (p->process_removed(pad)) return;
  if (g_str_has_prefix(GST_PAD_NAME(pad), "src_video")) return p->composer->remove(pad);
  p->composer->remove_placeholder(string_property(pad, "peer-id"));
  p->minus_one->remove_voice(pad);
}

}  // namespace

RtcMcuPrivate::RtcMcuPrivate(RtcMcu* s) : self(s) {
  GstBin* bin = GST_BIN(s);
  sfu = gst_element_factory_make("rtcsfu", "sfu");
  if (!sfu) throw std::runtime_error("rtcsfu is not registered");
  gst_bin_add(bin, sfu);
  composer = std::make_unique<media::Composer>(bin, int(width), int(height), int(framerate));
  composer->set_labels(labels);
  minus_one = std::make_unique<media::MinusOneMixes>(
      bin, *composer,
      media::MinusOneMixes::Hooks{
          [this](const std::string& peer, GstPad* src) { mix_added(peer, src); },
          [this](const std::string& peer, GstPad* src) { mix_removed(peer, src); },
          [this](const std::string& peer) { loudest(peer); }});
  video_tee = add_output(bin, composer->video_src(), "video_src");
  audio_tee = add_output(bin, composer->audio_src(), "audio_src");
  g_signal_connect(sfu, "pad-added", G_CALLBACK(on_pad_added), this);
  g_signal_connect(sfu, "pad-removed", G_CALLBACK(on_pad_removed), this);
}

bool RtcMcuPrivate::start(std::string& error) {
  sfu::MixMode mode;
  mode.output_publisher = kOutputPublisher;
  // JSON-RPC `layout` (names checked by the room service) sets our properties.
  mode.layout = [this](const std::string& layout, const std::string& pin) {
    if (layout == "pinned") g_object_set(self, "pinned", pin.c_str(), nullptr);
    gst_util_set_object_arg(G_OBJECT(self), "layout", layout.c_str());
    return std::string();
  };
  bool process;
  std::vector<media::Codec> codecs;
  {
    std::lock_guard lock(props_mutex);
    process = mode.process = processing();
    for (auto [kind, fragment] : {std::pair{media::Kind::kVideo, video_process},
                                  std::pair{media::Kind::kAudio, audio_process}}) {
      if (fragment.empty()) continue;
      GstElement* bin = parse_fragment(kind, fragment, error);
      if (!bin) return false;
      gst_object_unref(bin);
    }
    mode.encoder = encoder;
    try {
      codecs = media::parse_codec_list(video_codecs, media::Kind::kVideo);
    } catch (const std::invalid_argument& e) {
      error = std::string("video-codecs: ") + e.what();
      return false;
    }
    if (codecs.empty()) codecs.push_back(encoder.video_codec);
    // A composite the encoder cannot take in time is dropped, not queued:
    // at most three frames wait (a second of them was seconds of delay).
    mode.encoder.video_queue_ns = 3 * GST_SECOND / std::max(1u, framerate);
    composer->set_format(int(width), int(height), int(framerate));
  }
  if (!process) request_outputs(codecs);
  mode.encoder.video_codec_of = sfu_videos;
  mode.demand = [this](const std::string& track, bool wanted) { demand(track, wanted); };
  sfu::set_mix_mode(sfu, mode);
  // The ICE properties live on this element (the base bin's): the sfu makes the connections.
  guint n = 0;
  GParamSpec** specs =
      g_object_class_list_properties(G_OBJECT_CLASS(g_type_class_peek(RTC_TYPE_BASE_BIN)), &n);
  for (guint i = 0; i < n; i++) {
    if (specs[i]->owner_type != RTC_TYPE_BASE_BIN) continue;
    GValue v = G_VALUE_INIT;
    g_value_init(&v, G_PARAM_SPEC_VALUE_TYPE(specs[i]));
    g_object_get_property(G_OBJECT(self), specs[i]->name, &v);
    g_object_set_property(G_OBJECT(sfu), specs[i]->name, &v);
    g_value_unset(&v);
  }
  g_free(specs);
  gchar* room = nullptr;
  g_object_get(sfu, "room", &room, nullptr);
  bool has_room = room && *room;
  g_free(room);
  if (!has_room) {
    error = "set room=NAME: rtcmcu composites one room";
    return false;
  }
  // A processing room sends each participant their own media, no composite.
  if (!process) link_outputs();
  return true;
}

// The composite (once per codec: a shared track each, which a subscriber
// gets when it takes that codec; keyframe requests reach that codec's
// encoder) and the mix publish into the room through the sfu's request pads
// (encoded there), from the first start on.
void RtcMcuPrivate::request_outputs(const std::vector<media::Codec>& codecs) {
  if (sfu_audio) return;
  for (media::Codec codec : codecs) {
    GstPad* pad = gst_element_request_pad_simple(sfu, "video_%u");
    if (!pad) throw std::runtime_error("rtcsfu refused the composite's pads");
    sfu_videos[GST_PAD_NAME(pad)] = codec;
    gates[GST_PAD_NAME(pad)] = std::make_unique<Gate>();
    gates[GST_PAD_NAME(pad)]->codec = media::codec_info(codec).name;
    codec_names += std::string(codec_names.empty() ? "" : ",") + media::codec_info(codec).name;
  }
  sfu_audio = gst_element_request_pad_simple(sfu, "audio_%u");
  if (!sfu_audio) throw std::runtime_error("rtcsfu refused the composite's pads");
}

void RtcMcuPrivate::link_outputs() {
  std::vector<std::tuple<GstElement*, GstPad*, Gate*>> links{{audio_tee, sfu_audio, nullptr}};
  for (const auto& [name, codec] : sfu_videos) {
    GPtr<GstPad> pad = adopt(gst_element_get_static_pad(sfu, name.c_str()));
    Gate* gate = gates.at(name).get();
    gate->open = true;  // until encoded once
    links.emplace_back(video_tee, pad.get(), gate);
  }
  for (auto [tee, pad, gate] : links) {
    if (gst_pad_is_linked(pad)) continue;  // a start after a stop: still linked
    GstPad* tee_src = gst_element_request_pad_simple(tee, "src_%u");
    if (gate)
      gst_pad_add_probe(
          tee_src, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
          [](GstPad*, GstPadProbeInfo*, gpointer g) {
            return static_cast<Gate*>(g)->open ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
          },
          gate, nullptr);
    link_into_sfu(GST_BIN(self), tee_src, pad);
    gst_object_unref(tee_src);
  }
}

// The sfu says whether anyone receives a codec of the composite (worker).
void RtcMcuPrivate::demand(const std::string& track, bool wanted) {
  auto it = gates.find(track);
  if (it == gates.end() || it->second->open == wanted) return;
  it->second->open = wanted;
  GST_INFO_OBJECT(self, "%s encoder of the composite %s", it->second->codec.c_str(),
                  wanted ? "starts: a subscriber takes it" : "stops: nobody takes it");
}

std::string RtcMcuPrivate::encoding() const {
  std::string out;
  for (const auto& [name, gate] : gates)
    if (gate->open) out += (out.empty() ? "" : ",") + gate->codec;
  return out;
}

void RtcMcuPrivate::apply_layout() {
  media::Layout l;
  std::string focus;
  {
    std::lock_guard lock(props_mutex);
    l = layout;
    focus = l == media::Layout::kPinned ? pinned : l == media::Layout::kSpeaker ? speaker : "";
  }
  if (!composer) return;
  composer->set_layout(l);
  composer->set_focus(focus);
}

// The loudest voice becomes the speaker once the current one held the large
// tile for speaker-hold (no flapping between two who talk at once).
void RtcMcuPrivate::loudest(const std::string& peer) {
  {
    std::lock_guard lock(props_mutex);
    gint64 now = g_get_monotonic_time();
    if (peer.empty() || peer == speaker) return;
    if (!speaker.empty() && now - speaker_since_us < gint64(speaker_hold_ms) * 1000) return;
    speaker = peer;
    speaker_since_us = now;
    if (layout != media::Layout::kSpeaker) return;
  }
  GST_DEBUG_OBJECT(self, "speaker: %s", peer.c_str());
  apply_layout();
}

// Raw `src` goes back into the sfu through one more of its request pads, a
// track of the room's output for `peer` only; with `kind`, through a new
// instance of that kind's process fragment first.
std::optional<RtcMcuPrivate::Return> RtcMcuPrivate::send_back(const std::string& peer,
                                                              GstPad* src,
                                                              std::optional<media::Kind> kind) {
  if (stopping()) return std::nullopt;
  Return r;
  GstPad* from = src;
  GPtr<GstPad> process_src;
  if (kind) {
    std::string fragment;
    {
      std::lock_guard lock(props_mutex);
      fragment = *kind == media::Kind::kVideo ? video_process : audio_process;
    }
    std::string error;
    r.process = parse_fragment(*kind, fragment, error);
    if (!r.process) {
      GST_WARNING_OBJECT(self, "%s's process fragment: %s", peer.c_str(), error.c_str());
      return std::nullopt;
    }
    gst_bin_add(GST_BIN(self), r.process);
    GPtr<GstPad> sink = adopt(gst_element_get_static_pad(r.process, "sink"));
    gst_pad_link(src, sink.get());
    process_src = adopt(gst_element_get_static_pad(r.process, "src"));
    from = process_src.get();
  }
  r.pad = gst_element_request_pad_simple(sfu, kind == media::Kind::kVideo ? "video_%u" : "audio_%u");
  if (!r.pad) {
    GST_WARNING_OBJECT(self, "no pad for %s's own track", peer.c_str());
    if (r.process) media::remove_elements(GST_BIN(self), {r.process});
    return std::nullopt;
  }
  sfu::set_track_audience(sfu, GST_PAD_NAME(r.pad), peer);
  std::tie(r.proxy_sink, r.proxy_src) = link_into_sfu(GST_BIN(self), from, r.pad);
  if (r.process) gst_element_sync_state_with_parent(r.process);
  return r;
}

void RtcMcuPrivate::end_return(const Return& r) {
  std::string name = GST_PAD_NAME(r.pad);
  // Upstream first: once the proxysink is down no push is in flight into
  // the proxysrc's queue while it stops.
  std::vector<GstElement*> gone{r.proxy_sink, r.proxy_src};
  if (r.process) gone.insert(gone.begin(), r.process);
  media::remove_elements(GST_BIN(self), gone);
  gst_element_release_request_pad(sfu, r.pad);
  sfu::set_track_audience(sfu, name, "");
}

// A participant's minus-one mix is encoded once (Opus) in one more of the
// sfu's request pads, a track of the room's output for that participant only.
void RtcMcuPrivate::mix_added(const std::string& peer, GstPad* src) {
  auto r = send_back(peer, src, std::nullopt);
  if (!r) return;
  std::lock_guard lock(mixes_mutex);
  mix_pads[peer] = *r;
}

void RtcMcuPrivate::mix_removed(const std::string& peer, GstPad*) {
  Return r;
  {
    std::lock_guard lock(mixes_mutex);
    auto it = mix_pads.find(peer);
    if (it == mix_pads.end()) return;
    r = it->second;
    mix_pads.erase(it);
  }
  end_return(r);  // the mix's src goes with its mixer
}

// A processing room: the participant's track through its own fragment and
// back to them (the leaving publisher's EOS stops at the fragment's end: the
// sfu's request pad is ours until we release it).
void RtcMcuPrivate::process_added(GstPad* track, const std::string& peer, media::Kind kind) {
  auto r = send_back(peer, track, kind);
  if (!r) return;
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(r->proxy_sink, "sink"));
  gst_pad_add_probe(
      sink.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      [](GstPad*, GstPadProbeInfo* info, gpointer) {
        return GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_EOS
                   ? GST_PAD_PROBE_DROP
                   : GST_PAD_PROBE_OK;
      },
      nullptr, nullptr);
  std::lock_guard lock(mixes_mutex);
  processed[track] = *r;
}

bool RtcMcuPrivate::process_removed(GstPad* track) {
  Return r;
  {
    std::lock_guard lock(mixes_mutex);
    auto it = processed.find(track);
    if (it == processed.end()) return false;
    r = it->second;
    processed.erase(it);
  }
  end_return(r);
  return true;
}

GstStructure* RtcMcuPrivate::stats() {
  GstStructure* inner = nullptr;
  g_object_get(sfu, "stats", &inner, nullptr);
  GstStructure* s = inner ? inner : gst_structure_new_empty("rtcmcu");
  gst_structure_set_name(s, "rtcmcu");
  std::lock_guard lock(props_mutex);
  if (!composer) return s;
  gst_structure_set(s, "speaker", G_TYPE_STRING, speaker.c_str(), "focus", G_TYPE_STRING,
                    composer->focus().c_str(), nullptr);
  gst_structure_set(s, "tiles", G_TYPE_UINT, guint(composer->tiles()), "minus-one-mixes",
                    G_TYPE_UINT, guint(minus_one->mixes()), "width", G_TYPE_UINT, width,
                    "height", G_TYPE_UINT, height, "framerate", G_TYPE_UINT, framerate,
                    "video-codec", G_TYPE_STRING,
                    media::codec_info(encoder.video_codec).name, "video-codecs", G_TYPE_STRING,
                    codec_names.c_str(), nullptr);
  std::string running = encoding();
  guint encoders = running.empty() ? 0 : 1 + guint(std::count(running.begin(), running.end(), ','));
  gst_structure_set(s, "video-encoding", G_TYPE_STRING, running.c_str(), "video-encoders",
                    G_TYPE_UINT, encoders, nullptr);
  return s;
}

// --- GObject / GstElement ---

struct RtcMcuState : BaseBinState {
  RtcMcuState(RtcMcu* self, RtcMcuPrivate* p)
      : BaseBinState(GST_ELEMENT(self),
                     {.live = true,
                      .start_before_children = true,
                      .server = "the MCU",
                      .start_error = GST_RESOURCE_ERROR_OPEN_READ_WRITE},
                     p->props_mutex, p->ice),
        p(p) {}
  ~RtcMcuState() override { delete p; }
  std::string configuration_problem() override {
    std::lock_guard lock(p->props_mutex);
    return p->encoder.codec_problem();
  }
  bool start(std::string& error) override { return p->start(error); }
  void stop() override { p->stop(); }
  // The mixers go while their elements are still in the bin; the sfu's pads
  // no longer reach them.
  void dispose() override {
    if (p->sfu) g_signal_handlers_disconnect_by_data(p->sfu, p);
    p->minus_one.reset();
    p->composer.reset();
  }
  RtcMcuPrivate* p;
};

// Room data: the pipeline speaks as the room's output publisher ("mcu")
// through the inner rtcsfu, which relays the participants' messages.
static gboolean rtc_mcu_send_data(GstElement* element, const std::string& to, std::string data,
                                  bool text, bool reliable) {
  GstElement* sfu = RTC_MCU(element)->priv->sfu;
  const gchar* dest = to.empty() ? nullptr : to.c_str();
  gboolean taken = FALSE;
  if (text) {
    g_signal_emit_by_name(sfu, "send-string", dest, data.c_str(), gboolean(reliable), &taken);
  } else {
    GBytes* bytes = g_bytes_new(data.data(), data.size());
    g_signal_emit_by_name(sfu, "send-data", dest, bytes, gboolean(reliable), &taken);
    g_bytes_unref(bytes);
  }
  return taken;
}

static void rtc_mcu_set_property(GObject* object, guint id, const GValue* value,
                                 GParamSpec* pspec) {
  auto* p = RTC_MCU(object)->priv;
  if (id >= PROP_FORWARDED_FIRST) {
    g_object_set_property(G_OBJECT(p->sfu), pspec->name, value);
    return;
  }
  guard(GST_ELEMENT(object), "set_property", [&] {
    std::lock_guard lock(p->props_mutex);
    switch (id) {
      case PROP_WIDTH: p->width = g_value_get_uint(value); break;
      case PROP_HEIGHT: p->height = g_value_get_uint(value); break;
      case PROP_FRAMERATE: p->framerate = g_value_get_uint(value); break;
      case PROP_VIDEO_CODEC:
        p->encoder.set_codec("video-codec", g_value_get_string(value), media::Kind::kVideo);
        break;
      case PROP_VIDEO_CODECS: {
        const char* v = g_value_get_string(value);
        p->video_codecs = v ? v : "";
        break;
      }
      case PROP_VIDEO_BITRATE: p->encoder.video_bitrate_kbps = g_value_get_uint(value); break;
      case PROP_LAYOUT: p->layout = media::Layout(g_value_get_enum(value)); break;
      case PROP_PINNED: {
        const char* v = g_value_get_string(value);
        p->pinned = v ? v : "";
        break;
      }
      case PROP_SPEAKER_HOLD: p->speaker_hold_ms = g_value_get_uint(value); break;
      case PROP_LABELS: p->labels = g_value_get_boolean(value); break;
      case PROP_VIDEO_PROCESS:
      case PROP_AUDIO_PROCESS: {
        const char* v = g_value_get_string(value);
        (id == PROP_VIDEO_PROCESS ? p->video_process : p->audio_process) = v ? v : "";
        break;
      }
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
  });
  if (id == PROP_LAYOUT || id == PROP_PINNED) p->apply_layout();
  if (id == PROP_LABELS && p->composer) p->composer->set_labels(g_value_get_boolean(value));
}

static void rtc_mcu_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* p = RTC_MCU(object)->priv;
  if (id >= PROP_FORWARDED_FIRST) return g_object_get_property(G_OBJECT(p->sfu), pspec->name, value);
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  switch (id) {
    case PROP_WIDTH: g_value_set_uint(value, p->width); break;
    case PROP_HEIGHT: g_value_set_uint(value, p->height); break;
    case PROP_FRAMERATE: g_value_set_uint(value, p->framerate); break;
    case PROP_VIDEO_CODEC:
      g_value_set_string(value, media::codec_info(p->encoder.video_codec).name);
      break;
    case PROP_VIDEO_CODECS: g_value_set_string(value, p->video_codecs.c_str()); break;
    case PROP_VIDEO_BITRATE: g_value_set_uint(value, p->encoder.video_bitrate_kbps); break;
    case PROP_LAYOUT: g_value_set_enum(value, int(p->layout)); break;
    case PROP_PINNED: g_value_set_string(value, p->pinned.c_str()); break;
    case PROP_SPEAKER_HOLD: g_value_set_uint(value, p->speaker_hold_ms); break;
    case PROP_LABELS: g_value_set_boolean(value, p->labels); break;
    case PROP_VIDEO_PROCESS: g_value_set_string(value, p->video_process.c_str()); break;
    case PROP_AUDIO_PROCESS: g_value_set_string(value, p->audio_process.c_str()); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_mcu_class_init(RtcMcuClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcmcu_debug, "rtcmcu", 0, "MCU room host");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_mcu_set_property;
  object_class->get_property = rtc_mcu_get_property;

  install_uint(object_class, PROP_WIDTH, "width", "Width of the composite picture", 16, 7680,
               1280);
  install_uint(object_class, PROP_HEIGHT, "height", "Height of the composite picture", 16, 4320,
               720);
  install_uint(object_class, PROP_FRAMERATE, "framerate",
               "Frames per second of the composite picture", 1, 120, 30);
  install_string(object_class, PROP_VIDEO_CODEC, "video-codec",
                 "Codec the composite is encoded in, once for every subscriber (vp8, vp9, h264), "
                 "when video-codecs is empty",
                 "vp8");
  install_string(object_class, PROP_VIDEO_CODECS, "video-codecs",
                 "Codecs the composite is encoded in, once each (comma-separated: vp8, vp9, "
                 "h264); every subscriber gets the first one it decodes, shared with the other "
                 "subscribers of that codec; one that decodes none is refused (JSON-RPC -32007, "
                 "WHEP 422) naming them. A codec's encoder runs only while someone receives it "
                 "(and at start, until encoded once). Empty: video-codec only",
                 "");
  install_uint(object_class, PROP_VIDEO_BITRATE, "video-bitrate",
               "Target bitrate of the composite in kbit/s (0 = encoder default)", 0, 100000,
               2000);
  g_object_class_install_property(
      object_class, PROP_LAYOUT,
      g_param_spec_enum("layout", "layout",
                        "How the composite lays the participants out (changeable while playing)",
                        layout_get_type(), int(media::Layout::kGrid), rw_flags(true)));
  g_object_class_install_property(
      object_class, PROP_PINNED,
      g_param_spec_string("pinned", "pinned",
                          "The participant (publisher id) shown large by layout=pinned "
                          "(changeable while playing; absent: a grid)",
                          "", rw_flags(true)));
  install_uint(object_class, PROP_SPEAKER_HOLD, "speaker-hold",
               "layout=speaker: milliseconds the active speaker keeps the large tile before "
               "a louder participant takes it",
               0, 60000, 2000);
  g_object_class_install_property(
      object_class, PROP_LABELS,
      g_param_spec_boolean("labels", "labels",
                           "Name labels (the publisher id) on the composite's tiles "
                           "(changeable while playing); a participant with no video has a "
                           "black tile with their name either way",
                           TRUE, rw_flags(true)));
  for (auto [id, name, kind] :
       {std::tuple{PROP_VIDEO_PROCESS, "video-process", "video"},
        std::tuple{PROP_AUDIO_PROCESS, "audio-process", "audio"}}) {
    std::string blurb =
        std::string("A processing room when this or the other process property is set: each "
                    "participant's ") +
        kind + " goes through its own instance of this gst-launch fragment (raw " + kind +
        " in and out, e.g. '" +
        (id == PROP_VIDEO_PROCESS ? "videoflip video-direction=horiz"
                                  : "audioecho delay=200000000 intensity=0.5") +
        "') and back to that participant only (JSON-RPC subscribe, WHEP "
        "/whep/<room>/<participant>); no composite is sent. A fragment that does not parse "
        "fails the start with the parser's message. Empty: that kind comes back as it went";
    g_object_class_install_property(
        object_class, id,
        g_param_spec_string(name, name, g_intern_string(blurb.c_str()), "", rw_flags(false)));
  }
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "rtcsfu's stats of the room's connections (publishers, subscribers, "
                         "keyframe requests, failures) plus the composite: tiles, "
                         "speaker (the loudest participant), focus (who is large now), "
                         "minus-one-mixes (participants hearing everyone but themselves), "
                         "width, height, framerate, video-codec, video-codecs (each encoded once: \"VP8,H264\"), "
                         "video-encoding and video-encoders (the codecs whose encoder runs now, "
                         "and how many: one is encoded only while someone receives it)",
                         GST_TYPE_STRUCTURE, ro_flags()));

  // The room host's properties are rtcsfu's: the same names, meaning and defaults.
  auto* sfu_class = G_OBJECT_CLASS(g_type_class_ref(RTC_TYPE_SFU));
  guint n = 0;
  GParamSpec** specs = g_object_class_list_properties(sfu_class, &n);
  guint next = PROP_FORWARDED_FIRST;
  for (guint i = 0; i < n; i++) {
    if (specs[i]->owner_type != RTC_TYPE_SFU || !forwarded(specs[i]->name)) continue;
    // rtcmcu composites one room, which it needs.
    GParamSpec* copy = g_str_equal(specs[i]->name, "room")
                           ? g_param_spec_string("room", "room",
                                                 "The room this element hosts and composites "
                                                 "(required)",
                                                 "", GParamFlags(specs[i]->flags))
                           : copy_param_spec(specs[i]);
    if (copy) g_object_class_install_property(object_class, next++, copy);
  }
  g_free(specs);
  g_type_class_unref(sfu_class);

  for (int i = 0; i < N_SIGNALS; i++) {
    bool with_reason = i == SIGNAL_PUBLISHER_REMOVED || i == SIGNAL_SUBSCRIBER_REMOVED;
    signals[i] = with_reason
                     ? g_signal_new(kSignalNames[i], G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                    0, nullptr, nullptr, nullptr, G_TYPE_NONE, 3, G_TYPE_STRING,
                                    G_TYPE_STRING, G_TYPE_STRING)
                     : g_signal_new(kSignalNames[i], G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                    0, nullptr, nullptr, nullptr, G_TYPE_NONE, 2, G_TYPE_STRING,
                                    G_TYPE_STRING);
  }
  data_received_signal = install_data_signals(object_class, rtc_mcu_send_data);

  CapsPtr video = adopt(gst_caps_from_string("video/x-raw"));
  CapsPtr audio = adopt(gst_caps_from_string("audio/x-raw"));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_src", GST_PAD_SRC, GST_PAD_ALWAYS, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_src", GST_PAD_SRC, GST_PAD_ALWAYS, audio.get()));
  // Data pads only: the pipeline's own tracks do not publish into an MCU room.
  add_data_pads(element_class);
  gst_element_class_set_static_metadata(
      element_class, "MCU room host", "Source/Network/WebRTC",
      "Decodes every publisher of a room (WHIP, JSON-RPC), composites their video in a grid and "
      "mixes their audio, encodes the result once and sends it to every subscriber (JSON-RPC, "
      "WHEP); video_src and audio_src carry the composite and the mix",
      "rtcmesh");
  gst_element_class_add_static_metadata(
      element_class, "signals",
      "publisher-added (room, publisher): a participant's tracks are known and mixed in (WHIP "
      "or JSON-RPC publish; also the room's own output, publisher 'mcu'). publisher-removed "
      "(room, publisher, reason): it left, timed out or failed; its tile and voice are gone. "
      "subscriber-added (room, subscriber): a subscriber connection (JSON-RPC participant or "
      "WHEP player, by resource id) was answered. subscriber-removed (room, subscriber, "
      "reason): that connection ended. " RTCMESH_DATA_SIGNALS_DOC
      " (rtcmcu: as rtcsfu's, the room's participants over their subscribe connections; the "
      "pipeline sends and receives as 'mcu', the room's output publisher; messages between "
      "participants are relayed with the sender's id, see docs/protocol.md)");
}

static void rtc_mcu_init(RtcMcu* self) {
  self->priv = new RtcMcuPrivate(self);
  new RtcMcuState(self, self->priv);  // the base bin owns it
  auto* sfu = self->priv->sfu;
  // The inner rtcsfu's signals are ours.
  g_signal_connect_swapped(
      sfu, "publisher-added",
      G_CALLBACK(+[](RtcMcu* s, const char* room, const char* id) {
        g_signal_emit(s, signals[SIGNAL_PUBLISHER_ADDED], 0, room, id);
      }),
      self);
  g_signal_connect_swapped(
      sfu, "subscriber-added",
      G_CALLBACK(+[](RtcMcu* s, const char* room, const char* id) {
        g_signal_emit(s, signals[SIGNAL_SUBSCRIBER_ADDED], 0, room, id);
      }),
      self);
  g_signal_connect_swapped(
      sfu, "publisher-removed",
      G_CALLBACK(+[](RtcMcu* s, const char* room, const char* id, const char* why) {
        g_signal_emit(s, signals[SIGNAL_PUBLISHER_REMOVED], 0, room, id, why);
      }),
      self);
  g_signal_connect_swapped(
      sfu, "subscriber-removed",
      G_CALLBACK(+[](RtcMcu* s, const char* room, const char* id, const char* why) {
        g_signal_emit(s, signals[SIGNAL_SUBSCRIBER_REMOVED], 0, room, id, why);
      }),
      self);
  g_signal_connect_swapped(
      sfu, "data-received",
      G_CALLBACK(+[](RtcMcu* s, const char* from, const char* label, GBytes* bytes,
                     gboolean text) {
        g_signal_emit(s, data_received_signal, 0, from, label, bytes, text);
      }),
      self);
  keep_source_flags(GST_ELEMENT(self));
}
