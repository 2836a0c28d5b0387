// RAII for GLib/GStreamer references: a unique_ptr with an unref deleter, and
// explicit helpers that say what happens to the reference being wrapped.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <utility>

namespace rtcmesh {

template <auto Unref>
struct Unrefer {
  template <typename T>
  void operator()(T* p) const {
    if (p) Unref(p);
  }
};

// Wrappers with external linkage (the GStreamer ones are static inline).
inline void unref_object(gpointer p) { g_object_unref(p); }
inline void unref_caps(GstCaps* c) { gst_caps_unref(c); }
inline void free_structure(GstStructure* s) { gst_structure_free(s); }
inline void unref_promise(GstPromise* p) { gst_promise_unref(p); }
inline void free_gchar(gchar* p) { g_free(p); }
inline void unref_source(GSource* s) { g_source_unref(s); }

template <typename T>
using GPtr = std::unique_ptr<T, Unrefer<unref_object>>;
using CapsPtr = std::unique_ptr<GstCaps, Unrefer<unref_caps>>;
using StructurePtr = std::unique_ptr<GstStructure, Unrefer<free_structure>>;
using PromisePtr = std::unique_ptr<GstPromise, Unrefer<unref_promise>>;
using GCharPtr = std::unique_ptr<gchar, Unrefer<free_gchar>>;
using SourcePtr = std::unique_ptr<GSource, Unrefer<unref_source>>;

// Takes over a reference the caller owns (a "transfer full" return value).
template <typename T>
GPtr<T> adopt(T* p) {
  return GPtr<T>(p);
}
// Takes over a new object that may be floating (elements, pads): sinks it.
template <typename T>
GPtr<T> adopt_sink(T* p) {
  if (p) gst_object_ref_sink(p);
  return GPtr<T>(p);
}
// Adds a reference of our own to an object we borrow ("transfer none").
template <typename T>
GPtr<T> retain(T* p) {
  if (p) g_object_ref(p);
  return GPtr<T>(p);
}

inline CapsPtr adopt(GstCaps* c) { return CapsPtr(c); }
inline CapsPtr retain(GstCaps* c) { return CapsPtr(c ? gst_caps_ref(c) : nullptr); }

}  // namespace rtcmesh
