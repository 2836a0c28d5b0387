// Small pieces every rtcmesh bin needs: keeping one session's failure away
// from the pipeline, bin flags, and stats summaries.
#pragma once

#include <gst/gst.h>

#include <string>

#include "gst/common/ptr.h"

namespace rtcmesh {

// ERROR messages: what a failing connection posts.
bool is_session_failure(GstMessage* message);
// True when the message comes from `element` or anything inside it.
bool is_from(GstMessage* message, GstElement* element);
// The error/warning text of a message ("" for others).
std::string message_text(GstMessage* message);
// Takes (unrefs) EOS messages of children: our bins decide themselves when
// they are done (a webrtcbin's nicesink would otherwise hold up -e).
bool drop_internal_eos(GstBin* bin, GstMessage* message);
// A source bin whose children include sinks (webrtcbin has nicesink) must not
// be counted as a sink by its pipeline, or EOS would wait for it. GstBin sets
// the sink flag again on every sink child it adds: this clears it each time.
// GstBin also clears the source flag when its last source child goes (the
// last publisher's webrtcbin): this sets it again, or a pipeline's EOS (-e)
// would no longer reach the element and its idle pads.
void keep_source_flags(GstElement* bin);

// A string property of any GObject (a pad's peer-id, codec…); "" when unset.
std::string string_property(gpointer object, const char* name);

// Sums webrtcbin get-stats RTP counters into `out`: packets-sent, bytes-sent,
// packets-received, bytes-received, packets-lost, nack-count, pli-count, fir-count.
void add_rtp_totals(GstStructure* out, const GstStructure* webrtc_stats);

}  // namespace rtcmesh
