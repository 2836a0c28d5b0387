// RtcBaseBin: the abstract GstBin every rtcmesh element derives from. It owns
// what the elements do alike: the state changes (configuration check, start,
// NO_PREROLL when live, stop), keeping a failing session's ERROR away from the
// pipeline, EOS requested by send_event, the ICE properties, and the lifetime
// of the element's C++ state (a BaseBinState, deleted in finalize).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_BASE_BIN (rtc_base_bin_get_type())
G_DECLARE_DERIVABLE_TYPE(RtcBaseBin, rtc_base_bin, RTC, BASE_BIN, GstBin)
// No fields of its own: the element headers declare their classes with
// GstBinClass as parent (their C API predates this base), so the size must match.
struct _RtcBaseBinClass {
  GstBinClass parent_class;
};
G_END_DECLS

#ifdef __cplusplus

#include <mutex>
#include <string>

#include "gst/common/props.h"

namespace rtcmesh {

// The C++ state of an RtcBaseBin element. The element's _init creates it
// (the constructor attaches it to the element), the base bin deletes it in
// finalize and calls the hooks below from its GObject/GstElement methods.
class BaseBinState {
 public:
  struct Traits {
    // A live source: READY→PAUSED and PLAYING→PAUSED return NO_PREROLL.
    bool live = false;
    // Servers start before the children change state and a failed start
    // fails READY→PAUSED with "Cannot start <server>: <error>" (RESOURCE,
    // `start_error`); clients start after, and only report exceptions.
    bool start_before_children = false;
    const char* server = nullptr;
    GstResourceError start_error = GST_RESOURCE_ERROR_FAILED;
  };

  // `props_mutex` (the element's leaf lock of its properties) guards `ice`,
  // the ICE properties the base bin installs and sets.
  BaseBinState(GstElement* element, Traits traits, std::mutex& props_mutex, IceProps& ice);
  virtual ~BaseBinState() = default;
  BaseBinState(const BaseBinState&) = delete;
  BaseBinState& operator=(const BaseBinState&) = delete;

  // NULL→READY: what to fix in the configuration, or "" (the state change
  // then fails with a RESOURCE SETTINGS error saying it). Application thread.
  virtual std::string configuration_problem() { return {}; }
  // READY→PAUSED. Return false with `error` set when it failed (servers).
  virtual bool start(std::string& error) = 0;
  // PAUSED→READY: end every session, stop the worker.
  virtual void stop() = 0;
  // An ERROR posted inside the bin: true when it comes from one of the
  // element's connections, which the element then ends or replaces; the
  // message goes no further. Any thread (a bus handler): never waits for the
  // worker, only posts to it.
  virtual bool route_session_failure(GstMessage* message, const std::string& why) {
    (void)message;
    (void)why;
    return false;
  }
  // send_event(EOS) (gst-launch -e): end what the element sends out. True
  // when the event is consumed; false lets GstBin handle it too. Application
  // thread, with the element's state lock held.
  virtual bool end_of_stream() { return false; }
  // dispose: let go of what holds references into the bin (request pads).
  virtual void dispose() {}

  const Traits& traits() const { return traits_; }
  // Property access of the base bin (the ICE properties).
  bool set_ice_property(guint first, guint id, const GValue* value);
  bool get_ice_property(guint first, guint id, GValue* value);

 private:
  Traits traits_;
  std::mutex& props_mutex_;
  IceProps& ice_;
};

}  // namespace rtcmesh

#endif
