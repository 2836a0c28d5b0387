// The forwarding-path interface (DESIGN §9, "Router"): one subscriber
// connection as the SFU drives it, whatever carries the packets. Its sending
// m-lines are slots, each fed by at most one publisher track (Source) at a
// time, with the slot's own RTP identity (payload type, SSRC, sequence and
// timestamps) whoever feeds it. Today's implementation is TeeForwardingPath
// (a branch of the Source's tee → leaky queue → forwarding Normalizer →
// webrtcbin); a native egress engine can take its place without the Router or
// the sessions changing. Worker thread unless said.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <string>

#include "gst/common/ptr.h"
#include "gst/media/codec.h"
#include "gst/peer/peer.h"
#include "gst/server/source.h"

namespace rtcmesh::sfu {

using server::Source;

class ForwardingPath {
 public:
  using SdpDone = std::function<void(const std::string& sdp, const std::string& error)>;
  struct Events {  // worker thread
    std::function<void()> connected;  // DTLS up: media can flow
    // ICE/DTLS failure or no RTCP from the subscriber for peer-timeout.
    std::function<void(const std::string& why)> failed;
    // A message on the connection's data channels (after enable_data_channels).
    std::function<void(const peer::DataMessage& message)> data;
  };
  // Stops the connection first (nothing is pushed into it any more), then
  // its slots stop being fed.
  virtual ~ForwardingPath() = default;

  // --- slots ---
  virtual size_t slot_count() const = 0;
  // Appends an m-line sending `codec`, its RTP caps `caps` when given (a
  // player's offer), else `source`'s, else ours; fed by `source` when not
  // null. Throws std::runtime_error.
  virtual void add_slot(media::Codec codec, Source* source, const GstCaps* caps) = 0;
  // Slot `index` is fed by `source` from now on (nullptr: by nothing). A new
  // source continues the slot's sequence numbers and timestamps.
  virtual void feed(size_t index, Source* source) = 0;
  // sendonly, or inactive in the next offer.
  virtual void set_sending(size_t index, bool sending) = 0;
  // The stream is over (a player's publisher left): the slots stop being
  // fed and the subscriber is told with RTCP BYE. False when this path
  // cannot tell it (the caller then ends the connection).
  virtual bool end_stream() { return false; }

  // --- the connection ---
  virtual const std::string& name() const = 0;
  virtual void make_offer(SdpDone done) = 0;
  virtual void accept_answer(const std::string& sdp,
                             std::function<void(const std::string& error)> done) = 0;
  virtual void answer_offer(const std::string& offer, SdpDone done) = 0;
  virtual void add_remote_candidate(guint mline, const std::string& candidate) = 0;
  virtual bool is_connected() const = 0;  // any thread

  // --- data channels (a JSON-RPC subscriber's: the room's data relay) ---
  // Before the first offer: the offer opens the reliable and unreliable channels.
  virtual void enable_data_channels() = 0;
  // As peer::Peer::send_data (queued until open; false when refused).
  virtual bool send_data(std::string data, bool text, bool reliable) = 0;

  // --- counters ---
  // Latest connection stats (webrtcbin's stats structure; may be null). Any thread.
  virtual StructurePtr stats() const = 0;
  // Packets resent to answer NACKs. Worker thread, not under a lock that a
  // streaming thread of the connection may wait for.
  virtual guint64 retransmissions() = 0;
  // Whether a bus message comes from this connection (any thread).
  virtual bool posted(GstMessage* message) const = 0;
};

// A subscriber's connection in `room` (the native engine keeps a room's
// sessions on one thread), named `name` for logs.
using PathFactory = std::function<std::unique_ptr<ForwardingPath>(
    const std::string& room, const std::string& name, ForwardingPath::Events events)>;

// The payload type every connection uses for a codec (one per codec, so
// bundled m-lines of one codec agree).
int payload_type(media::Codec codec);

}  // namespace rtcmesh::sfu
