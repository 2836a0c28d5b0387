// The src pad type of every received track (DESIGN §5): a ghost pad whose
// read-only properties say whose track it is.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define RTC_TYPE_TRACK_PAD (rtc_track_pad_get_type())
G_DECLARE_FINAL_TYPE(RtcTrackPad, rtc_track_pad, RTC, TRACK_PAD, GstGhostPad)

// Sets the identity of a track pad before it is added to its element.
void rtc_track_pad_set_info(RtcTrackPad* pad, const gchar* peer_id, const gchar* room,
                            const gchar* codec, const gchar* mid);
G_END_DECLS
