// rtcmcu: an MCU room host. Publishers (WHIP, JSON-RPC `publish`) are decoded
// and composited into one picture and one audio mix, encoded once and sent to
// every subscriber (JSON-RPC `subscribe`, WHEP); always src pads `video_src`
// and `audio_src` carry the composite and the mix for the pipeline.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_MCU (rtc_mcu_get_type())
G_DECLARE_FINAL_TYPE(RtcMcu, rtc_mcu, RTC, MCU, GstBin)
GST_ELEMENT_REGISTER_DECLARE(rtcmcu);
G_END_DECLS
