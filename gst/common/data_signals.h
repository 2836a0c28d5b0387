// The data-channel API every element shares (issue 16): action signals
// send-string (to, text, reliable) and send-data (to, GBytes, reliable),
// returning TRUE when the message was taken, and the signal data-received
// (from, label, GBytes, is-text), emitted on the element's worker thread.
// `to` NULL or "" means every connection that has data channels.
#pragma once

#include <gst/gst.h>

#include <string>

// For the elements' "signals" metadata (gst-inspect-1.0 names arguments arg0…).
#define RTCMESH_DATA_SIGNALS_DOC                                                             \
  "send-string (to, text, reliable): action, a text message on the data channels; to: a "   \
  "peer or publisher id, NULL for all; reliable: ordered and retransmitted, else neither; "  \
  "TRUE when taken. send-data (to, bytes, reliable): action, the same with a GBytes. "       \
  "data-received (from, label, bytes, is-text): a message came; from: the sender's id, "     \
  "label: its channel"

namespace rtcmesh {

// The largest data channel message (webrtcbin 1.22's a=max-message-size).
constexpr size_t kMaxDataMessage = 65535;

// How an element sends: called from the application's thread with the
// message already checked against the size limit.
using SendData = gboolean (*)(GstElement* element, const std::string& to, std::string data,
                              bool text, bool reliable);

// In class_init. Returns the data-received signal id.
guint install_data_signals(GObjectClass* klass, SendData send);
void emit_data_received(GstElement* element, guint signal, const std::string& from,
                        const std::string& label, const std::string& data, bool text);

// The request sink pad data_%u (caps ANY) of an element with the data
// signals: each buffer is one message to everyone on the reliable channel,
// text when the pad's caps are text/x-raw, else bytes, so that a
// gst-launch-1.0 line sends data (fdsrc fd=0 ! text/x-raw ! m.data_0). It is
// no track: events and queries stop at it. In class_init, after the class
// set its request_new_pad and release_pad (a source element may have none):
// adds the template and handles data_%u requests and releases, handing the
// others to the class's own.
void add_data_pads(GstElementClass* klass);

}  // namespace rtcmesh
