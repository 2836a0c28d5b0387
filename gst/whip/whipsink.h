// rtcwhipsink: a WHIP client (RFC 9725). Publishes its request pads to a WHIP
// endpoint over one connection, and reconnects (a new session) when it is lost.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_WHIP_SINK (rtc_whip_sink_get_type())
G_DECLARE_FINAL_TYPE(RtcWhipSink, rtc_whip_sink, RTC, WHIP_SINK, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcwhipsink);
G_END_DECLS
