// The request sink pads of a sending element (rtcwhipsink, rtcwhepsink,
// rtcmeshbin, rtcsfu): `video_%u` / `audio_%u` numbered per element, each a
// SendInput (encoded once, payloaded once, fanned out).
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "gst/media/send_input.h"

namespace rtcmesh::media {

class SendInputs {
 public:
  // `settings` and `events` are given to every input (events run on its
  // streaming thread).
  SendInputs(GstElement* element, std::function<EncoderSettings()> settings,
             SendInput::Events events)
      : element_(element), settings_(std::move(settings)), events_(std::move(events)) {}
  SendInputs(const SendInputs&) = delete;
  SendInputs& operator=(const SendInputs&) = delete;

  // request_new_pad: the next pad of the template's kind, added to the
  // element (another name asked for is logged and not used). Throws.
  GstPad* add(GstPadTemplate* templ, const gchar* asked_name);
  // release_pad: the input of `pad`, no longer listed (null when not ours).
  // The caller removes the pad once its connections let go of the input.
  std::unique_ptr<SendInput> take(GstPad* pad);
  // dispose: every input goes while its elements are still in the element.
  void clear();

  // Inputs whose caps are known (encoded and payloaded once), in pad order.
  std::vector<SendInput*> ready() const;
  bool all_ready() const;  // every input (true when there is none)
  bool all_ended() const;  // every input (true when there is none)
  bool empty() const;
  // Runs fn on every input under the list's lock (fn must not call back here).
  void for_each(const std::function<void(SendInput&)>& fn) const;

 private:
  GstElement* element_;
  std::function<EncoderSettings()> settings_;
  SendInput::Events events_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<SendInput>> inputs_;
  guint next_video_ = 0, next_audio_ = 0;
};

}  // namespace rtcmesh::media
