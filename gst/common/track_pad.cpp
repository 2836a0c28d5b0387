#include "gst/common/track_pad.h"

#include <string>

struct _RtcTrackPad {
  GstGhostPad parent;
  gchar* peer_id;
  gchar* room;
  gchar* codec;
  gchar* mid;
};

G_DEFINE_TYPE(RtcTrackPad, rtc_track_pad, GST_TYPE_GHOST_PAD)

enum { PROP_0, PROP_PEER_ID, PROP_ROOM, PROP_CODEC, PROP_MID };

static void rtc_track_pad_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = RTC_TRACK_PAD(object);
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_PEER_ID: g_value_set_string(value, self->peer_id); break;
    case PROP_ROOM: g_value_set_string(value, self->room); break;
    case PROP_CODEC: g_value_set_string(value, self->codec); break;
    case PROP_MID: g_value_set_string(value, self->mid); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  GST_OBJECT_UNLOCK(self);
}

static void rtc_track_pad_finalize(GObject* object) {
  auto* self = RTC_TRACK_PAD(object);
  g_free(self->peer_id);
  g_free(self->room);
  g_free(self->codec);
  g_free(self->mid);
  G_OBJECT_CLASS(rtc_track_pad_parent_class)->finalize(object);
}

static void rtc_track_pad_class_init(RtcTrackPadClass* klass) {
  auto* object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = rtc_track_pad_get_property;
  object_class->finalize = rtc_track_pad_finalize;
  auto flags = GParamFlags(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      object_class, PROP_PEER_ID,
      g_param_spec_string("peer-id", "Peer id",
                          "Who sends this track: the publisher (WHIP), the endpoint URL (WHEP) "
                          "or the participant id",
                          nullptr, flags));
  g_object_class_install_property(
      object_class, PROP_ROOM,
      g_param_spec_string("room", "Room", "The room the track belongs to (may be empty)", nullptr,
                          flags));
  g_object_class_install_property(
      object_class, PROP_CODEC,
      g_param_spec_string("codec", "Codec", "Negotiated codec (VP8, VP9, H264, OPUS)", nullptr,
                          flags));
  g_object_class_install_property(
      object_class, PROP_MID,
      g_param_spec_string("mid", "Media id", "The SDP mid of the track", nullptr, flags));
}

static void rtc_track_pad_init(RtcTrackPad*) {}

void rtc_track_pad_set_info(RtcTrackPad* pad, const gchar* peer_id, const gchar* room,
                            const gchar* codec, const gchar* mid) {
  GST_OBJECT_LOCK(pad);
  g_free(pad->peer_id);
  g_free(pad->room);
  g_free(pad->codec);
  g_free(pad->mid);
  pad->peer_id = g_strdup(peer_id);
  pad->room = g_strdup(room);
  pad->codec = g_strdup(codec);
  pad->mid = g_strdup(mid);
  GST_OBJECT_UNLOCK(pad);
}
