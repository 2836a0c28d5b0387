#include "gst/common/base_bin.h"

#include "gst/common/element_util.h"
#include "gst/common/guard.h"

using namespace rtcmesh;

namespace {

enum { PROP_0, PROP_ICE_FIRST };

struct RtcBaseBinPrivate {
  BaseBinState* state;
};

}  // namespace

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(RtcBaseBin, rtc_base_bin, GST_TYPE_BIN)

static RtcBaseBinPrivate* private_of(gpointer self) {
  return static_cast<RtcBaseBinPrivate*>(rtc_base_bin_get_instance_private(RTC_BASE_BIN(self)));
}

static BaseBinState* state_of(gpointer self) {
  return private_of(self)->state;
}

namespace rtcmesh {

BaseBinState::BaseBinState(GstElement* element, Traits traits, std::mutex& props_mutex,
                           IceProps& ice)
    : traits_(traits), props_mutex_(props_mutex), ice_(ice) {
  private_of(element)->state = this;
}

bool BaseBinState::set_ice_property(guint first, guint id, const GValue* value) {
  std::lock_guard lock(props_mutex_);
  return ice_.set(first, id, value);
}

bool BaseBinState::get_ice_property(guint first, guint id, GValue* value) {
  std::lock_guard lock(props_mutex_);
  return ice_.get(first, id, value);
}

}  // namespace rtcmesh

static void rtc_base_bin_set_property(GObject* object, guint id, const GValue* value,
                                      GParamSpec* pspec) {
  if (!state_of(object)->set_ice_property(PROP_ICE_FIRST, id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void rtc_base_bin_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  if (!state_of(object)->get_ice_property(PROP_ICE_FIRST, id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static GstStateChangeReturn rtc_base_bin_change_state(GstElement* element,
                                                      GstStateChange transition) {
  BaseBinState* s = state_of(element);
  const BaseBinState::Traits& traits = s->traits();
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    std::string problem =
        guard(element, "configuration", [&] { return s->configuration_problem(); });
    if (!problem.empty()) {
      GST_ELEMENT_ERROR(element, RESOURCE, SETTINGS, ("%s", problem.c_str()), (nullptr));
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && traits.start_before_children) {
    std::string error;
    if (!guard(element, "start", [&] { return s->start(error); })) {
      gst_element_message_full(element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR, traits.start_error,
                               g_strdup_printf("Cannot start %s: %s", traits.server, error.c_str()),
                               nullptr, __FILE__, GST_FUNCTION, __LINE__);
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(rtc_base_bin_parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!traits.start_before_children) {
        std::string error;
        guard(element, "start", [&] { return s->start(error); });
      }
      if (traits.live) ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      if (traits.live) ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      guard(element, "stop", [&] { s->stop(); });
      break;
    default:
      break;
  }
  return ret;
}

static gboolean rtc_base_bin_send_event(GstElement* element, GstEvent* event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS &&
      guard(element, "EOS", [&] { return state_of(element)->end_of_stream(); })) {
    gst_event_unref(event);
    return TRUE;
  }
  return GST_ELEMENT_CLASS(rtc_base_bin_parent_class)->send_event(element, event);
}

// A failing connection is that session's problem, not the pipeline's.
static void rtc_base_bin_handle_message(GstBin* bin, GstMessage* message) {
  if (is_session_failure(message)) {
    std::string why = message_text(message);
    if (guard(GST_ELEMENT(bin), "session failure",
              [&] { return state_of(bin)->route_session_failure(message, why); })) {
      gst_message_unref(message);
      return;
    }
  }
  if (drop_internal_eos(bin, message)) return;
  GST_BIN_CLASS(rtc_base_bin_parent_class)->handle_message(bin, message);
}

static void rtc_base_bin_dispose(GObject* object) {
  if (BaseBinState* s = state_of(object)) s->dispose();
  G_OBJECT_CLASS(rtc_base_bin_parent_class)->dispose(object);
}

static void rtc_base_bin_finalize(GObject* object) {
  delete state_of(object);
  G_OBJECT_CLASS(rtc_base_bin_parent_class)->finalize(object);
}

static void rtc_base_bin_class_init(RtcBaseBinClass* klass) {
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_base_bin_set_property;
  object_class->get_property = rtc_base_bin_get_property;
  object_class->dispose = rtc_base_bin_dispose;
  object_class->finalize = rtc_base_bin_finalize;
  element_class->change_state = rtc_base_bin_change_state;
  element_class->send_event = rtc_base_bin_send_event;
  GST_BIN_CLASS(klass)->handle_message = rtc_base_bin_handle_message;
  IceProps::install(object_class, PROP_ICE_FIRST);
}

static void rtc_base_bin_init(RtcBaseBin*) {}
