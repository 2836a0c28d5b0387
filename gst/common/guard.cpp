#include "gst/common/guard.h"

#include <stdexcept>

#include "gst/common/debug.h"

#define GST_CAT_DEFAULT rtcmesh_debug

namespace rtcmesh {

void report_exception(GstElement* element, const char* where, const std::exception_ptr& e) noexcept {
  const char* what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
    if (element) {
      GST_ELEMENT_ERROR(element, LIBRARY, FAILED, ("%s", ex.what()), ("in %s", where));
      return;
    }
  } catch (...) {
    if (element) {
      GST_ELEMENT_ERROR(element, LIBRARY, FAILED, ("unknown exception"), ("in %s", where));
      return;
    }
  }
  GST_ERROR("%s: %s", where, what);
}

}  // namespace rtcmesh
