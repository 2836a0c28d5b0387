#include "gst/media/util.h"

#include <stdexcept>
#include <string_view>

#include "gst/common/debug.h"
#include "gst/common/ptr.h"

#define GST_CAT_DEFAULT rtcmedia_debug

namespace rtcmesh::media {

namespace {

// Which Debian package ships an element, for error messages that say what to fix.
const char* package_of(std::string_view factory) {
  if (factory == "x264enc") return "gstreamer1.0-plugins-ugly";
  if (factory.starts_with("av")) return "gstreamer1.0-libav";
  if (factory == "h264parse" || factory == "vp9parse") return "gstreamer1.0-plugins-bad";
  if (factory.starts_with("rtp") || factory.starts_with("vp8") || factory.starts_with("vp9") ||
      factory == "queue")
    return "gstreamer1.0-plugins-good";
  return "gstreamer1.0-plugins-base";
}

}  // namespace

GstElement* make_element(const char* factory, const char* name) {
  GstElement* e = gst_element_factory_make(factory, name);
  if (!e) {
    throw std::runtime_error(std::string("missing GStreamer element '") + factory + "' (install " +
                             package_of(factory) + ")");
  }
  return e;
}

bool has_property(GstElement* element, const char* property) {
  return g_object_class_find_property(G_OBJECT_GET_CLASS(element), property) != nullptr;
}

bool set_property_string(GstElement* element, const char* property, const char* value) {
  if (!has_property(element, property)) {
    GST_DEBUG_OBJECT(element, "no property %s, not setting it to %s", property, value);
    return false;
  }
  gst_util_set_object_arg(G_OBJECT(element), property, value);
  return true;
}

void add_and_link(GstBin* bin, const std::vector<GstElement*>& elements) {
  // Our own reference on each, so that failure paths free them whatever
  // gst_bin_add does with a floating reference it refuses.
  std::vector<GPtr<GstElement>> owned;
  for (GstElement* e : elements) owned.push_back(adopt_sink(e));
  std::vector<GstElement*> added;
  try {
    for (GstElement* e : elements) {
      if (!gst_bin_add(bin, e)) {
        throw std::runtime_error(std::string("could not add ") + GST_OBJECT_NAME(e) + " to " +
                                 GST_OBJECT_NAME(bin));
      }
      added.push_back(e);
    }
    for (size_t i = 1; i < elements.size(); ++i) {
      if (!gst_element_link(elements[i - 1], elements[i])) {
        throw std::runtime_error(std::string("cannot link ") + GST_OBJECT_NAME(elements[i - 1]) +
                                 " to " + GST_OBJECT_NAME(elements[i]) + " (no common caps)");
      }
    }
  } catch (...) {
    remove_elements(bin, added);
    throw;
  }
}

void sync_with_parent(const std::vector<GstElement*>& elements) {
  for (auto it = elements.rbegin(); it != elements.rend(); ++it) {
    if (!gst_element_sync_state_with_parent(*it)) {
      throw std::runtime_error(std::string("element ") + GST_OBJECT_NAME(*it) +
                               " failed to change state");
    }
  }
}

void remove_elements(GstBin* bin, const std::vector<GstElement*>& elements) {
  for (GstElement* e : elements) {
    // Locked before NULL (see the header); kept alive across remove.
    GPtr<GstElement> ref = retain(e);
    gst_element_set_locked_state(e, TRUE);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_bin_remove(bin, e);
  }
}

FloatingElements::~FloatingElements() {
  for (GstElement* e : elements_) gst_object_unref(gst_object_ref_sink(e));
}

std::string pad_name(GstPad* pad) {
  if (!pad) return "(no pad)";
  GPtr<GstObject> parent = adopt(gst_object_get_parent(GST_OBJECT(pad)));
  return std::string(parent ? GST_OBJECT_NAME(parent.get()) : "") + ":" + GST_OBJECT_NAME(pad);
}

std::string caps_to_string(const GstCaps* caps) {
  if (!caps) return "(no caps)";
  GCharPtr s(gst_caps_to_string(caps));
  return s.get();
}

}  // namespace rtcmesh::media
