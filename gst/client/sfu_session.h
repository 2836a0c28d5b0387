// rtcmeshbin's side of an SFU room (docs/protocol.md, "SFU rooms"): a
// publish connection that sends our inputs to the server, and a subscribe
// connection on which the server offers every other publisher's tracks. Each
// active remote track becomes its own src pad (or composed tile), named after
// its publisher; a slot's pad goes when its m-line turns inactive, its
// publisher leaves or another publisher takes the slot.
//
// Worker thread only, except where said otherwise.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gst/common/worker.h"
#include "gst/media/composer.h"
#include "gst/media/received_tracks.h"
#include "gst/media/send_input.h"
#include "gst/peer/peer.h"
#include "gst/peer/sent_tracks.h"
#include "signaling/json.h"
#include "signaling/room_client.h"

namespace rtcmesh::room {

class PostRoomClient;

class SfuSession {
 public:
  // What the session needs from its element.
  struct Host {
    GstBin* bin = nullptr;
    Worker* worker = nullptr;
    sig::RoomClient* ws = nullptr;  // outlives the session
    // One-POST rooms (url=http://…/rtc): the room connection also carries
    // the publication and the subscription (docs/protocol.md, "Signaling
    // over a data channel"); null: a connection of our own for each.
    PostRoomClient* post = nullptr;
    std::string room;
    peer::IceSettings ice;
    guint peer_timeout_ms = 10000;
    media::Composer* composer = nullptr;  // compose=true: tracks become tiles
    media::ReceivedTracks::PadNamer pad_name;
    // A publisher appeared in the room or left it (signals).
    std::function<void(const std::string& peer, bool joined)> publisher;
    // The publish connection failed: the element joins again.
    std::function<void(const std::string& why)> lost;
    // A room data message: `from` is the participant (or hosting pipeline)
    // that sent it.
    std::function<void(const std::string& from, const peer::DataMessage& message)> data;
  };

  // `publishers`: the join result's list (publisher-joined for each).
  SfuSession(Host host, const sig::Json* publishers);
  // Ends every received track (EOS, pads removed) and both connections.
  ~SfuSession();
  SfuSession(const SfuSession&) = delete;
  SfuSession& operator=(const SfuSession&) = delete;

  // Publishes `inputs` and subscribes. On a shared connection the publish
  // comes first and the subscribe after its answer, so the server never
  // offers while our own offer is out (no glare).
  void start(const std::vector<media::SendInput*>& inputs);
  bool shared() const { return host_.post != nullptr; }
  // Offers `inputs` sendonly on the publish connection (none: we only watch).
  void publish(const std::vector<media::SendInput*>& inputs);
  // Ends the publish connection (an input went away); publish() again after.
  void unpublish();
  // Asks the server for everyone else's tracks, in codecs we decode.
  void subscribe();
  // Handles the SFU notifications; false for the ones it leaves to the caller.
  bool on_notification(const std::string& method, const sig::Json& params);
  // A bus failure of one of our webrtcbins: that connection is rebuilt.
  void connection_failed(GstElement* webrtcbin, const std::string& why);
  void finish_tracks();  // EOS out of every track pad (-e)
  // A room data message to `to` ("" = everyone) on the subscribe connection's
  // channels (signaling/rooms/room_data.h); held (bounded) until the server
  // first offers one. False, with a warning, when refused.
  bool send_data(const std::string& to, const std::string& data, bool text, bool reliable);

  // Any thread.
  bool owns(GstMessage* message, GstElement** webrtcbin) const;
  // One structure per connection (connection=publish|subscribe) appended to
  // `list`; returns how many publishers we receive.
  guint append_stats(GValue* list) const;

 private:
  // One m-line of the subscribe connection and the publisher track in it.
  struct Slot {
    std::string mid, peer, track;
    std::unique_ptr<media::ReceivedTracks> received;
  };
  // A webrtcbin src pad of the subscribe connection: parked pads drop their
  // buffers (an unlinked webrtcbin pad would stop the whole transport).
  struct RemotePad {
    GPtr<GstPad> pad;
    std::shared_ptr<std::atomic<bool>> parked;
  };
  struct Offered {
    std::string peer, track;
  };

  void on_offer(const sig::Json& params);
  void on_answered(const std::string& answer, const std::map<std::string, Offered>& tracks);
  void new_subscriber(int64_t session);
  void drop_subscriber(const std::string& why);
  void resubscribe(const std::string& why);
  void remove_slots(const std::function<bool(const Slot&)>& which, const std::string& why);
  bool link_remote_pad(GstPad* pad, std::string mid);  // streaming thread
  void publish_failed(const std::string& why);
  void publish_on(std::shared_ptr<peer::Peer> p, const std::vector<media::SendInput*>& inputs);
  void subscribe_now_if_waiting();
  void room_data(const peer::DataMessage& m);  // `<sender>\n<payload>` from the server
  void send_candidate(const char* connection, guint mline, const std::string& candidate);

  Host host_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for ws replies

  // Connections: replaced on the worker under peers_mutex_ (stats and bus
  // messages read them), destroyed outside it.
  mutable std::mutex peers_mutex_;
  std::unique_ptr<peer::SentTracks> sent_;  // destroyed after publisher_
  // The same connection when shared(), else one each.
  std::shared_ptr<peer::Peer> publisher_;
  std::shared_ptr<peer::Peer> subscriber_;
  bool subscribe_after_publish_ = false;
  bool published_ = false;  // the server took our offer: trickle goes out
  std::vector<std::pair<guint, std::string>> early_candidates_;
  int64_t session_ = -1;  // the subscribe connection's `session`
  struct HeldData {
    std::string message;
    bool text, reliable;
  };
  std::vector<HeldData> held_data_;  // before the first subscribe connection

  // Tracks: changed on the worker under slots_mutex_, read by webrtcbin's
  // pad-added (streaming thread).
  mutable std::mutex slots_mutex_;
  std::map<std::string, Slot> slots_;                // by mid
  std::map<std::string, RemotePad> remote_pads_;      // latest webrtcbin pad by mid
  std::map<guint, std::string> ssrc_mids_;            // from the offer's a=ssrc lines
  std::set<std::string> publishers_;                  // signalled as joined
};

}  // namespace rtcmesh::room
