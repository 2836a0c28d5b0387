// One request sink pad of a sending element (rtcwhipsink, rtcwhepsink, later
// rtcmeshbin): capsfilter ! queue, then, once the input caps are known, the
// send chain (encode raw input, pass encoded input through) and the FanOut
// that every connection attaches to. Encoded once, payloaded once.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "gst/common/ptr.h"
#include "gst/media/codec.h"
#include "gst/media/fanout.h"
#include "gst/media/send.h"

namespace rtcmesh::media {

class SendInput {
 public:
  struct Events {
    // The payloader's caps are known: the track can be offered. Streaming thread.
    std::function<void()> ready;
    // EOS arrived on the pad. Streaming thread.
    std::function<void()> eos;
  };
  // Creates the entry elements in `element` and the ghost sink pad `name`
  // (from `templ`), active but not yet added: the caller adds it.
  // Payload type `pt` is used for this track on every connection.
  SendInput(GstElement* element, GstPadTemplate* templ, const std::string& name, Kind kind, int pt,
            std::function<EncoderSettings()> settings, Events events);
  // Removes the fan-out, the chain and the entry elements (they must still be
  // in the element: call from release_pad or dispose).
  ~SendInput();
  SendInput(const SendInput&) = delete;
  SendInput& operator=(const SendInput&) = delete;

  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }
  GstPad* pad() const { return ghost_; }
  bool ended() const { return eos_; }
  // Null until ready.
  FanOut* fanout() const;
  // Codec preference for a transceiver sending this track: our caps for the
  // codec with the stream's own H.264 profile-level-id (webrtcbin refuses RTP
  // caps that differ from its codec preferences). Null until ready.
  CapsPtr offer_caps() const;
  std::optional<Codec> codec() const;

 private:
  static GstPadProbeReturn on_input_event(GstPad*, GstPadProbeInfo*, gpointer);
  static GstPadProbeReturn on_payloader_event(GstPad*, GstPadProbeInfo*, gpointer);
  void build(GstPad* queue_src, GstCaps* caps);

  GstElement* element_;
  std::string name_;
  Kind kind_;
  int pt_;
  std::function<EncoderSettings()> settings_;
  Events events_;
  GstPad* ghost_ = nullptr;
  GstElement* entry_ = nullptr;
  GstElement* queue_ = nullptr;
  mutable std::mutex mutex_;  // chain_, fanout_, sent_caps_
  std::optional<SendChain> chain_;
  std::unique_ptr<FanOut> fanout_;
  CapsPtr sent_caps_;
  std::atomic<bool> eos_{false};
};

}  // namespace rtcmesh::media
