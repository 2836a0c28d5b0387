// rtcsfu: an SFU room host. Publishers (WHIP, JSON-RPC `publish`, the
// pipeline's own request sink pads) are forwarded without decoding to every
// subscriber (JSON-RPC `subscribe`, WHEP), and exposed as sometimes src pads
// so the pipeline can record or restream them.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_SFU (rtc_sfu_get_type())
G_DECLARE_FINAL_TYPE(RtcSfu, rtc_sfu, RTC, SFU, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcsfu);
G_END_DECLS
