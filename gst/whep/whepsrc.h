// rtcwhepsrc: a WHEP client. Plays a WHEP stream: offers to receive as many
// tracks as the server advertises, exposes them as video_%u / audio_%u src
// pads and reconnects when the server goes away. Also the source for
// whep:// and wheps:// URIs (playbin, gst-play-1.0).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_WHEP_SRC (rtc_whep_src_get_type())
G_DECLARE_FINAL_TYPE(RtcWhepSrc, rtc_whep_src, RTC, WHEP_SRC, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcwhepsrc);
G_END_DECLS
