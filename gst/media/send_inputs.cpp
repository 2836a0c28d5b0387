#include "gst/media/send_inputs.h"

#include "gst/common/debug.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

GstPad* SendInputs::add(GstPadTemplate* templ, const gchar* asked_name) {
  bool video = g_str_has_prefix(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "video");
  std::string name;
  int pt;
  {
    std::lock_guard lock(mutex_);
    guint index = video ? next_video_++ : next_audio_++;
    name = (video ? "video_" : "audio_") + std::to_string(index);
    pt = (video ? 96 : 111) + int(index) * 2;  // each connection rewrites it anyway
  }
  if (asked_name && name != asked_name)
    GST_WARNING_OBJECT(element_, "pad %s requested; naming it %s", asked_name, name.c_str());
  auto in = std::make_unique<SendInput>(element_, templ, name, video ? Kind::kVideo : Kind::kAudio,
                                        pt, settings_, events_);
  GstPad* pad = in->pad();
  {
    std::lock_guard lock(mutex_);
    inputs_.push_back(std::move(in));
  }
  gst_element_add_pad(element_, pad);
  return pad;
}

std::unique_ptr<SendInput> SendInputs::take(GstPad* pad) {
  std::lock_guard lock(mutex_);
  for (auto it = inputs_.begin(); it != inputs_.end(); ++it)
    if ((*it)->pad() == pad) {
      std::unique_ptr<SendInput> in = std::move(*it);
      inputs_.erase(it);
      return in;
    }
  return nullptr;
}

void SendInputs::clear() {
  std::vector<std::unique_ptr<SendInput>> gone;
  {
    std::lock_guard lock(mutex_);
    gone.swap(inputs_);
  }
}

std::vector<SendInput*> SendInputs::ready() const {
  std::vector<SendInput*> out;
  std::lock_guard lock(mutex_);
  for (auto& in : inputs_)
    if (in->fanout()) out.push_back(in.get());
  return out;
}

bool SendInputs::all_ready() const {
  std::lock_guard lock(mutex_);
  for (auto& in : inputs_)
    if (!in->fanout()) return false;
  return true;
}

bool SendInputs::all_ended() const {
  std::lock_guard lock(mutex_);
  for (auto& in : inputs_)
    if (!in->ended()) return false;
  return true;
}

bool SendInputs::empty() const {
  std::lock_guard lock(mutex_);
  return inputs_.empty();
}

void SendInputs::for_each(const std::function<void(SendInput&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (auto& in : inputs_) fn(*in);
}

}  // namespace rtcmesh::media
