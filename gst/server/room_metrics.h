// Room metrics of a room host (rtcsfu; an MCU the same): counters per room
// for `stats` and GET /metrics. What a room's ended connections did is kept
// here, summed; the live connections add theirs when read, so the counters of
// /metrics never go down.
#pragma once

#include <gst/gst.h>

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "gst/common/ptr.h"
#include "signaling/metrics.h"

namespace rtcmesh::server {

struct RoomCounters {
  guint64 publishers_total = 0, subscribers_total = 0, failures = 0;
  guint64 packets_in = 0, bytes_in = 0, packets_out = 0, bytes_out = 0;
  guint64 nacks_received = 0, nacks_sent = 0, plis_received = 0, retransmissions = 0;
  guint64 keyframe_requests = 0, keyframes_upstream = 0;

  // `totals`: rtp_totals() of a publisher's / subscriber's connection.
  void add_publisher(const GstStructure* totals);
  void add_subscriber(const GstStructure* totals, guint64 retransmitted);
};

using RoomCountersByName = std::map<std::string, RoomCounters>;

class RoomMetrics {
 public:
  // Changes to a room's counters (worker thread; any thread may read).
  void count_publisher(const std::string& room) { change(room)->publishers_total++; }
  void count_subscriber(const std::string& room) { change(room)->subscribers_total++; }
  void count_failure(const std::string& room) { change(room)->failures++; }
  // The room's counters under the lock, for a departing connection's totals.
  struct Change {
    Change(std::unique_lock<std::mutex> l, RoomCounters& c) : lock(std::move(l)), counters(c) {}
    RoomCounters* operator->() { return &counters; }
    std::unique_lock<std::mutex> lock;
    RoomCounters& counters;
  };
  Change change(const std::string& room);

  guint64 failures() const;  // every room's
  // The counters of the rooms in `live`; the others are forgotten (a room
  // that is gone takes its series with it, else /metrics grows with every
  // room ever made).
  RoomCountersByName keep_only(const std::set<std::string>& live);

 private:
  mutable std::mutex mutex_;  // leaf
  RoomCountersByName rooms_;
};

// The Prometheus series of every room (rtcmesh_*_total{room=…}).
void write_room_metrics(sig::Metrics& metrics, const RoomCountersByName& rooms);

// A connection's RTP totals (packets/bytes, NACK, PLI, FIR) from its latest
// stats (Peer::stats(); may be null).
StructurePtr rtp_totals(const GstStructure* connection_stats);

}  // namespace rtcmesh::server
