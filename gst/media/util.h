// Small helpers shared by the media chains (internal to gst/media).
#pragma once

#include <gst/gst.h>

#include <string>
#include <utility>
#include <vector>

namespace rtcmesh::media {

// gst_element_factory_make that throws std::runtime_error naming the missing
// element and the package that ships it. The element is floating.
GstElement* make_element(const char* factory, const char* name = nullptr);

// Sets a property from its string form (enums by nick, flags "a+b") when the
// element has it; false when it does not (optional tuning across versions).
bool set_property_string(GstElement* element, const char* property, const char* value);
bool has_property(GstElement* element, const char* property);

// Adds new (floating) `elements` to `bin` and links them in order. On failure
// removes and frees them and throws std::runtime_error saying which link failed.
void add_and_link(GstBin* bin, const std::vector<GstElement*>& elements);
// Syncs the elements' states with their parent, last (most downstream) first
// so that nothing pushes into an element that is not running yet. Throws when
// an element fails its state change.
void sync_with_parent(const std::vector<GstElement*>& elements);
// Sets the elements to NULL and removes them from `bin` (first to last),
// their state locked first: a state change of `bin` in flight on another
// thread may hold one from its iterator and would otherwise set it back to
// PAUSED after our NULL (a bin child always gets the call), leaving a
// streaming thread running in an element no bin owns any more.
void remove_elements(GstBin* bin, const std::vector<GstElement*>& elements);

// Owns new floating elements until they are handed over (release()); frees
// them if building throws first.
class FloatingElements {
 public:
  FloatingElements() = default;
  FloatingElements(const FloatingElements&) = delete;
  FloatingElements& operator=(const FloatingElements&) = delete;
  ~FloatingElements();
  GstElement* add(GstElement* e) {
    elements_.push_back(e);
    return e;
  }
  std::vector<GstElement*> release() { return std::exchange(elements_, {}); }

 private:
  std::vector<GstElement*> elements_;
};

std::string caps_to_string(const GstCaps* caps);
std::string pad_name(GstPad* pad);  // "element:pad"

}  // namespace rtcmesh::media
