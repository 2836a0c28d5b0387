// The SFU's subscriber connections (DESIGN §7): a JSON-RPC participant's
// (the server offers the slots RoomServer's SfuRoom chose) or a WHEP
// player's (it offers; WhepPlayers chooses). Each is a ForwardingPath known
// to the Router by the subscriber's key. Worker thread (the host's) unless said.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "gst/common/worker.h"
#include "gst/server/admission.h"
#include "gst/server/host.h"
#include "gst/server/ingest.h"
#include "gst/server/room_metrics.h"
#include "gst/sfu/router.h"
#include "signaling/http/resource_endpoint.h"
#include "signaling/rooms/rooms.h"

namespace rtcmesh::sfu {

struct Subscriber {
  std::string room, id;
  bool whep = false;
  uint64_t session = 0;  // JSON-RPC: the SfuOffer session the connection was made for
  std::unique_ptr<ForwardingPath> path;
  Timer connect_deadline;
  gint64 created_us = g_get_monotonic_time();
};

class Subscribers {
 public:
  struct Hooks {
    // Runs fn later on the worker, unless the element stopped meanwhile.
    std::function<void(std::function<void()> fn)> post;
    std::function<void(const Subscriber&, const std::string& why)> removed;
    // A message on a JSON-RPC subscriber's data channels (room, its id).
    std::function<void(const std::string& room, const std::string& from,
                       const peer::DataMessage& message)> data;
    // The path over a participant's own connection (its POST /rtc one, which
    // carries its signaling), or null for a connection of the PathFactory's.
    // Throws std::runtime_error when that connection cannot take it.
    std::function<std::unique_ptr<ForwardingPath>(const std::string& room, const std::string& id)>
        own_path;
  };
  Subscribers(GstElement* element, server::Ingest& ingest, server::RoomMetrics& metrics,
              Hooks hooks);
  Subscribers(const Subscribers&) = delete;
  Subscribers& operator=(const Subscribers&) = delete;

  // `paths` makes every subscriber connection (the forwarding path in use).
  void start(server::Host& host, PathFactory paths);
  void stop();  // every subscriber removed ("element stopping"), the room not told

  Router& router() { return router_; }

  // A new connection for subscriber `id` of `room`, in the Router under
  // `key` but not listed yet: add() lists it, discard() drops it.
  std::unique_ptr<Subscriber> make(const std::string& room, const std::string& id,
                                   const std::string& key, const std::string& name);
  Subscriber& add(const std::string& key, std::unique_ptr<Subscriber> subscriber);
  void discard(const std::string& key, std::unique_ptr<Subscriber> subscriber);
  void remove(const std::string& key, const std::string& why, bool tell_room);
  // Removes `key` (the room told) unless it connected within `ms`.
  Timer connect_deadline(const std::string& key, guint ms);
  Subscriber* find(const std::string& key);

  // JSON-RPC (sig::RoomMedia).
  void offer(const std::string& room, const sig::SfuOffer& offer,
             std::function<void(const std::string& sdp, const std::string& error)> done);
  void answer(const std::string& room, const std::string& peer, const std::string& sdp,
              std::function<void(const std::string& error)> done);
  void add_remote_candidate(const std::string& room, const std::string& peer, int mline,
                            const std::string& candidate);
  void unsubscribe(const std::string& room, const std::string& peer);
  // A room data message (signaling/rooms/room_data.h) from `from` to the
  // JSON-RPC subscribers of `room` ("" = of every room) but `from`: only to
  // `to` when it is not empty. Returns how many connections took it.
  size_t send_data(const std::string& room, const std::string& from, const std::string& to,
                   const std::string& payload, bool text, bool reliable);

  // WHEP resources: false when `resource` is no player's.
  bool trickle(const std::string& resource, const std::vector<sig::TrickleCandidate>& candidates);
  bool remove_resource(const std::string& resource, const std::string& why);

  void add_load(const std::string& room, server::Load& load);
  // Any thread: the subscriber whose connection posted `message` ("" = none).
  std::string key_of_sender(GstMessage* message);
  // Any thread: one "subscriber" structure each, into a GST_TYPE_LIST.
  void append_stats(GValue* list);
  size_t size();
  // Live subscribers' counters and rooms (for /metrics).
  void add_counters(server::RoomCountersByName& rooms);
  void add_rooms(std::set<std::string>& rooms);

 private:
  GstElement* element_;
  server::Ingest& ingest_;
  server::RoomMetrics& metrics_;
  Hooks hooks_;
  server::Host* host_ = nullptr;  // between start and stop
  PathFactory paths_;
  Router router_;
  // The table changes on the worker only; the mutex guards it against stats
  // readers and bus messages. Leaf.
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Subscriber>> subscribers_;  // session_key or WHEP id
};

}  // namespace rtcmesh::sfu
