// rtcwhipsrc: a WHIP server (RFC 9725). Every publisher that POSTs an offer
// gets its own connection; its tracks appear as video_%u / audio_%u src pads.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_WHIP_SRC (rtc_whip_src_get_type())
G_DECLARE_FINAL_TYPE(RtcWhipSrc, rtc_whip_src, RTC, WHIP_SRC, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcwhipsrc);
G_END_DECLS
