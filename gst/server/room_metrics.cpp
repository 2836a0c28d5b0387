#include "gst/server/room_metrics.h"

#include "gst/common/element_util.h"

namespace rtcmesh::server {

namespace {

guint64 get(const GstStructure* s, const char* field) {
  guint64 u64 = 0;
  guint u = 0;
  if (gst_structure_get_uint64(s, field, &u64)) return u64;
  if (gst_structure_get_uint(s, field, &u)) return u;
  return 0;
}

}  // namespace

void RoomCounters::add_publisher(const GstStructure* totals) {
  packets_in += get(totals, "packets-received");
  bytes_in += get(totals, "bytes-received");
  nacks_sent += get(totals, "nack-count");
}

void RoomCounters::add_subscriber(const GstStructure* totals, guint64 retransmitted) {
  packets_out += get(totals, "packets-sent");
  bytes_out += get(totals, "bytes-sent");
  nacks_received += get(totals, "nack-count");
  plis_received += get(totals, "pli-count") + get(totals, "fir-count");
  retransmissions += retransmitted;
}

RoomMetrics::Change RoomMetrics::change(const std::string& room) {
  std::unique_lock lock(mutex_);
  RoomCounters& counters = rooms_[room];
  return Change(std::move(lock), counters);
}

guint64 RoomMetrics::failures() const {
  std::lock_guard lock(mutex_);
  guint64 n = 0;
  for (auto& [room, c] : rooms_) n += c.failures;
  return n;
}

RoomCountersByName RoomMetrics::keep_only(const std::set<std::string>& live) {
  std::lock_guard lock(mutex_);
  std::erase_if(rooms_, [&](const auto& c) { return !live.count(c.first); });
  return rooms_;
}

void write_room_metrics(sig::Metrics& m, const RoomCountersByName& rooms) {
  for (auto& [room, c] : rooms) {
    sig::Metrics::Labels l{{"room", room}};
    m.counter("rtcmesh_publishers_total", "Publishers that joined", l, c.publishers_total);
    m.counter("rtcmesh_subscribers_total", "Subscriber connections made (JSON-RPC, WHEP)", l,
              c.subscribers_total);
    m.counter("rtcmesh_packets_in_total", "RTP packets received from publishers", l, c.packets_in);
    m.counter("rtcmesh_bytes_in_total", "RTP bytes received from publishers", l, c.bytes_in);
    m.counter("rtcmesh_packets_out_total", "RTP packets sent to subscribers", l, c.packets_out);
    m.counter("rtcmesh_bytes_out_total", "RTP bytes sent to subscribers", l, c.bytes_out);
    m.counter("rtcmesh_nacks_received_total", "NACKs received from subscribers", l,
              c.nacks_received);
    m.counter("rtcmesh_nacks_sent_total", "NACKs sent to publishers (lost packets asked again)", l,
              c.nacks_sent);
    m.counter("rtcmesh_plis_received_total", "PLI and FIR received from subscribers", l,
              c.plis_received);
    m.counter("rtcmesh_keyframe_requests_total",
              "Keyframe requests (subscriber joins, PLI, FIR) before merging", l,
              c.keyframe_requests);
    m.counter("rtcmesh_keyframe_requests_upstream_total",
              "Keyframe requests sent to publishers after merging and rate limiting", l,
              c.keyframes_upstream);
    m.counter("rtcmesh_retransmissions_total", "Packets resent to subscribers (NACK answers)", l,
              c.retransmissions);
    m.counter("rtcmesh_connection_failures_total",
              "Connections lost to ICE/DTLS failure or peer-timeout", l, c.failures);
  }
}

StructurePtr rtp_totals(const GstStructure* connection_stats) {
  StructurePtr s(gst_structure_new_empty("totals"));
  add_rtp_totals(s.get(), connection_stats);
  return s;
}

}  // namespace rtcmesh::server
