// Exceptions never cross a C callback: every callback body runs inside guard().
#pragma once

#include <gst/gst.h>

#include <exception>
#include <utility>

namespace rtcmesh {

void report_exception(GstElement* element, const char* where, const std::exception_ptr& e) noexcept;

// Runs fn(); an escaping exception becomes a GST_ELEMENT_ERROR on `element`
// (or a critical log when element is null) and the default value is returned.
template <typename Fn>
auto guard(GstElement* element, const char* where, Fn&& fn) noexcept -> decltype(fn()) {
  using R = decltype(fn());
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    report_exception(element, where, std::current_exception());
    if constexpr (!std::is_void_v<R>) return R{};
  }
}

}  // namespace rtcmesh
