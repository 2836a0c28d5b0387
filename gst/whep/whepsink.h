// rtcwhepsink: a WHEP server. The pipeline's request pads are encoded once and
// payloaded once; every viewer that POSTs a recvonly offer gets its own
// connection fed from that one stream (fan-out, per-viewer normalizer).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_WHEP_SINK (rtc_whep_sink_get_type())
G_DECLARE_FINAL_TYPE(RtcWhepSink, rtc_whep_sink, RTC, WHEP_SINK, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcwhepsink);
G_END_DECLS
