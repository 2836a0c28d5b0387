#include "gst/engine/engine.h"

#include <linux/filter.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "gst/engine/ice_lite.h"
#include "gst/engine/packet.h"
#include "gst/engine/receiver.h"
#include "gst/engine/rewriter.h"
#include "gst/engine/rtcp.h"
#include "gst/engine/srtp.h"
#include "gst/engine/stun.h"

namespace rtcmesh::engine {

namespace {

constexpr size_t kBatch = 64;                // datagrams per sendmmsg/recvmmsg
constexpr unsigned kMaxWorkers = 64;         // a track's workers are a 64-bit mask
constexpr size_t kMaxGsoBytes = 60000;       // one UDP GSO message: under 64 KiB with headers
// Larger datagrams (above a path's MTU the kernel refuses GSO) go alone.
constexpr size_t kMaxGsoSegment = 1400;
constexpr size_t kMaxDatagram = 1500;
// Also how long RTCP may wait in its socket (see feedback_sockets).
constexpr auto kHousekeeping = std::chrono::milliseconds(20);
// A batch whose last packet never came (lost before us) is sent anyway after this.
constexpr auto kMaxHold = std::chrono::milliseconds(5);
constexpr auto kSenderReportInterval = std::chrono::seconds(1);

// A non-blocking UDP socket for `a`, with room for bursts; `shared`: in
// the SO_REUSEPORT group of the address's sockets.
int udp_socket(const Address& a, bool shared) {
  int fd = socket(a.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int size = 4 << 20, one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (shared) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (a.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  return fd;
}

// The second socket of `media` (bound to `local`) that receives its RTCP,
// or -1 (all goes to `media`). A classic BPF program of the reuseport
// group, run on each datagram's UDP payload, picks the socket by index
// (bind order): 1 for RTCP (RFC 5761 §4: first byte 128-191, packet type
// 192-223), else 0. Another process of our user binding the port joins
// the group at index 2 or more and is never picked.
int feedback_socket(int media, const Address& local) {
  int fd = udp_socket(local, true);
  if (fd < 0) return -1;
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),            // A = first byte
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 128, 0, 5),  // < 128: not RTP/RTCP
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 191, 4, 0),  // > 191: not RTP/RTCP
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 1),            // A = packet type (with the marker bit)
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 192, 0, 2),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 223, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, 1),                     // RTCP
      BPF_STMT(BPF_RET | BPF_K, 0),                     // the rest (and a datagram too short)
  };
  sock_fprog program{uint16_t(std::size(code)), code};
  if (bind(fd, local.sa(), local.length) != 0 ||
      setsockopt(media, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) != 0) {
    close(fd);  // without the program the kernel would share media between the two
    return -1;
  }
  return fd;
}

// Whether datagrams to `local` reach our sockets, `media` and (RTCP)
// `feedback`, rather than those of another reuseport group member bound
// earlier, whom the kernel would pick first.
bool ours_alone(int media, int feedback, const Address& local) {
  Address to = local;
  if (to.host() == "0.0.0.0") to = Address::parse("127.0.0.1", local.port());
  if (to.host() == "::") to = Address::parse("::1", local.port());
  int probe = socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  static std::atomic<uint32_t> counter{0};
  uint32_t token = uint32_t(getpid()) << 12 ^ counter++;
  auto arrives = [&](int fd, uint8_t first, uint8_t second) {
    uint8_t out[12] = {first, second, 0, 2};  // not ours to demultiplex: 0xFF; RTCP: 0x80 200
    store32(out + 4, token);
    store32(out + 8, uint32_t(fd));
    // Unsendable (no loopback of that family): not checked.
    if (sendto(probe, out, sizeof out, 0, to.sa(), to.length) != ssize_t(sizeof out)) return true;
    for (int tries = 0; tries < 8; ++tries) {  // something else may be on the way already
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 250) <= 0) return false;
      uint8_t in[64];
      if (recv(fd, in, sizeof in, 0) == ssize_t(sizeof out) && std::memcmp(in, out, sizeof out) == 0) return true;
    }
    return false;
  };
  bool alone = arrives(media, 0xFF, 0) && arrives(feedback, 0x80, 200);
  close(probe);
  return alone;
}

struct Slot {
  std::unique_ptr<RtpRewriter> rewriter;
  TrackId track = 0;
  std::shared_ptr<PacketHistory> history;
  uint32_t clock_rate = 90000;
  uint32_t packets = 0, octets = 0;
  uint32_t last_ts = 0;
  std::chrono::system_clock::time_point last_sent{};
  bool ended = false;  // BYE sent: no more SRs until it is fed again
  // RFC 4588, when negotiated: NACKs are answered on this stream.
  bool rtx = false;
  uint32_t rtx_ssrc = 0;
  uint8_t rtx_payload_type = 0;
  uint16_t rtx_sequence = 0;
  // The last two SRs: the middle of the NTP time they carried (a receiver's
  // LSR) and our clock's when sent (for RTT: the NTP carried may be the
  // publisher's clock).
  std::array<std::pair<uint32_t, uint64_t>, 2> reports{};
};

// One stream a publisher session sends us (add_ingress).
struct Ingress {
  IngressStream stream;
  uint32_t ssrc = 0;  // the media stream's, last seen (RTX is restored to it)
  ReceiveStream receiver;
};

struct Session {
  SessionId id = 0;
  std::string group;  // create_session's: its worker's
  uint32_t local_ssrc = 1;  // sender SSRC of our RTCP feedback and RRs (random)
  std::vector<Ingress> ingress;
  IceLite ice;
  Engine::RemoteParams remote;
  bool started = false, failed = false, connected = false;
  std::unique_ptr<DtlsTransport> dtls;
  std::unique_ptr<SctpAssociation> sctp;  // data channels, over dtls (gone before it)
  std::unique_ptr<SrtpSession> srtp;
  size_t socket = 0;  // index of the socket the selected tuple uses
  std::vector<Slot> slots;
  SessionStats stats;
  Clock::time_point last_alive{};
  Clock::time_point next_sr{};
  std::vector<Address> addresses;  // routed to this session
};

struct Item {
  enum Kind { kPacket, kDatagram, kCall } kind;
  TrackId track = 0;
  std::shared_ptr<const std::vector<PacketRef>> packets;  // kPacket: a batch of the track
  SessionId session = 0;
  Address from;
  size_t socket = 0;
  std::vector<uint8_t> data;
  std::function<void()> call;
};

}  // namespace

struct Engine::Impl {
  struct Worker {
    std::thread thread;
    int epoll = -1, wake = -1;
    std::mutex lock;
    std::vector<Item> inbox;
    std::unordered_map<SessionId, std::unique_ptr<Session>> sessions;
    // The send batch: one socket at a time.
    std::vector<std::array<uint8_t, kMaxDatagram + SrtpSession::kMaxTrailer>> buffers{kBatch};
    std::vector<Address> to{kBatch};
    std::vector<size_t> sizes = std::vector<size_t>(kBatch);
    size_t count = 0, socket = 0;
    uint64_t rng = 0;  // test loss: xorshift state
  };

  EngineConfig config;
  Engine::Events events;
  DtlsContext dtls;
  std::vector<int> sockets;
  // Per address, a second socket on the same port (SO_REUSEPORT) to which
  // the kernel steers RTCP (feedback_socket), or -1. It is not polled:
  // worker 0 reads it whenever it wakes anyway, for media or for its
  // housekeeping. Subscribers' receiver reports (our own players send one
  // every 50 ms) then stop waking it one by one: 500 wake-ups a second at
  // 25 subscribers, each costing more than the report. A NACK or PLI waits
  // at most kHousekeeping.
  std::vector<int> feedback_sockets;
  bool steering = true;  // false: the kernel refused the feedback socket
  std::vector<Address> locals;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stopping{false};
  std::atomic<bool> gso_works{true};  // false after the kernel refused UDP_SEGMENT
  std::atomic<uint64_t> next_id{1};

  mutable std::shared_mutex routes_lock;
  std::unordered_map<std::string, SessionId> by_ufrag;
  std::unordered_map<Address, SessionId, AddressHash> by_address;

  struct Track {
    std::shared_ptr<PacketHistory> history = std::make_shared<PacketHistory>();
    std::vector<PacketRef> pending;  // pushed with more, not handed to the workers yet
    Clock::time_point first{};       // arrival of pending's first packet
    uint32_t ssrc = 0;               // of the last packet pushed
    // Slots fed by the track, per worker: batches go only where one is.
    std::array<uint32_t, kMaxWorkers> fed{};
    uint64_t workers() const {
      uint64_t mask = 0;
      for (size_t i = 0; i < fed.size(); ++i)
        if (fed[i]) mask |= uint64_t(1) << i;
      return mask;
    }
  };
  mutable std::mutex tracks_lock;
  std::unordered_map<TrackId, Track> tracks;
  // Publishers' SR mappings by their SSRC (leaf lock).
  mutable std::mutex clocks_lock;
  std::unordered_map<uint32_t, rtcp::ClockMapping> clocks;
  // Native ingress: the publisher session feeding each track (add_ingress;
  // request_keyframe's way to it). Leaf lock.
  mutable std::mutex feeders_lock;
  std::unordered_map<TrackId, SessionId> feeders;

  // Where each group's sessions live, and how many sessions each worker
  // has (create_session's choice). Leaf lock.
  struct Group {
    size_t worker = 0, sessions = 0;
  };
  std::mutex groups_lock;
  std::unordered_map<std::string, Group> groups;
  std::vector<size_t> load;
  std::atomic<size_t> sessions{0};

  struct Counters {
    std::atomic<uint64_t> received{0}, feedback{0}, sent{0}, send_calls{0}, segmented{0}, unknown{0}, bad_stun{0},
        unknown_user{0}, unauthorized{0}, unknown_address{0}, dtls{0}, srtcp{0}, rtp{0}, test_lost{0};
  } counters;

  Impl(EngineConfig c, Engine::Events e) : config(std::move(c)), events(std::move(e)), dtls(config.certificate_pem) {}

  size_t owner_index(SessionId id) const { return id % workers.size(); }
  Worker& owner(SessionId id) { return *workers[owner_index(id)]; }

  // The worker of a new session of `group`.
  size_t place(const std::string& group) {
    std::lock_guard<std::mutex> g(groups_lock);
    auto [it, added] = groups.try_emplace(group);
    if (added) it->second.worker = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    it->second.sessions++;
    load[it->second.worker]++;
    sessions++;
    return it->second.worker;
  }

  void unplace(const std::string& group) {
    std::lock_guard<std::mutex> g(groups_lock);
    auto it = groups.find(group);
    if (it == groups.end()) return;
    load[it->second.worker]--;
    sessions--;
    if (--it->second.sessions == 0) groups.erase(it);
  }

  // A slot of a session on `worker` starts (+1) or stops (-1) being fed `track`.
  void count_feed(TrackId track, size_t worker, int delta) {
    if (!track) return;
    std::lock_guard<std::mutex> g(tracks_lock);
    auto it = tracks.find(track);
    if (it != tracks.end()) it->second.fed[worker] += uint32_t(delta);
  }

  void set_track(Slot& slot, SessionId id, TrackId track, std::shared_ptr<PacketHistory> history) {
    if (slot.track != track) {
      count_feed(slot.track, owner_index(id), -1);
      count_feed(track, owner_index(id), +1);
    }
    slot.track = track;
    slot.history = std::move(history);
  }

  void post(Worker& w, Item item) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> g(w.lock);
      was_empty = w.inbox.empty();
      w.inbox.push_back(std::move(item));
    }
    if (was_empty) {
      uint64_t one = 1;
      (void)!write(w.wake, &one, sizeof one);
    }
  }

  // Runs fn on the session's worker and waits (control calls: never from a worker).
  template <typename Fn>
  auto call(SessionId id, Fn fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto result = task->get_future();
    Item item{Item::kCall};
    item.call = [task] { (*task)(); };
    post(owner(id), std::move(item));
    return result.get();
  }

  Session* find(Worker& w, SessionId id) {
    auto it = w.sessions.find(id);
    return it == w.sessions.end() ? nullptr : it->second.get();
  }

  // --- sending ---
  void send_now(size_t socket, const Address& to, const uint8_t* data, size_t size) {
    if (to.empty()) return;
    if (sendto(sockets[socket], data, size, 0, to.sa(), to.length) >= 0) counters.sent++;
    counters.send_calls++;
  }

  // The batch in one sendmmsg. With UDP GSO (UDP_SEGMENT), datagrams in a
  // row to one address (a subscriber's packets of a frame) of one size, but
  // for a shorter last one, go as one message: the kernel's IP path is
  // walked once for them and the datagrams are cut where it is cheapest (by
  // the NIC, or at the end of the loopback).
  void flush(Worker& w) {
    if (!w.count) return;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    size_t first[kBatch + 1];  // msgs[m] sends datagrams first[m] .. first[m + 1] - 1
    union Control {
      cmsghdr header;
      char space[CMSG_SPACE(sizeof(uint16_t))];
    } control[kBatch];
    std::memset(msgs, 0, sizeof msgs);
    bool gso = gso_works;
    size_t m = 0;
    for (size_t i = 0; i < w.count; ++m) {
      size_t end = i + 1, bytes = w.sizes[i];
      while (gso && w.sizes[i] <= kMaxGsoSegment && end < w.count && w.sizes[end - 1] == w.sizes[i] &&
             w.sizes[end] <= w.sizes[i] && bytes + w.sizes[end] <= kMaxGsoBytes && w.to[end] == w.to[i])
        bytes += w.sizes[end++];
      for (size_t k = i; k < end; ++k) iov[k] = {w.buffers[k].data(), w.sizes[k]};
      msghdr& h = msgs[m].msg_hdr;
      h.msg_iov = &iov[i];
      h.msg_iovlen = end - i;
      h.msg_name = const_cast<sockaddr*>(w.to[i].sa());
      h.msg_namelen = w.to[i].length;
      if (end - i > 1) {
        h.msg_control = control[m].space;
        h.msg_controllen = sizeof control[m].space;
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = uint16_t(w.sizes[i]);
        std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
      }
      first[m] = i;
      i = end;
    }
    first[m] = w.count;
    size_t done = 0;
    while (done < m) {
      int n = sendmmsg(sockets[w.socket], msgs + done, unsigned(m - done), 0);
      counters.send_calls++;
      if (n > 0) {
        for (size_t k = done; k < done + size_t(n); ++k)
          if (msgs[k].msg_hdr.msg_iovlen > 1) counters.segmented += msgs[k].msg_hdr.msg_iovlen;
        counters.sent += first[done + size_t(n)] - first[done];
        done += size_t(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (msgs[done].msg_hdr.msg_iovlen > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
        // No GSO on this path (no checksum offload, an old kernel): one by one, and never again.
        gso_works = false;
        for (size_t k = first[done]; k < first[done + 1]; ++k)
          send_now(w.socket, w.to[k], w.buffers[k].data(), w.sizes[k]);
      }
      ++done;  // a full socket buffer drops this one, never stalls the worker
    }
    w.count = 0;
  }

  // Rewrites `packet` for the slot, protects it and queues it in the batch;
  // false when it could not (too big, not of the slot's source, SRTP).
  // `resend`: the answer to a NACK, on the slot's RTX stream when it has one.
  bool queue_rtp(Worker& w, Session& s, Slot& slot, const SharedPacket& packet, bool resend = false) {
    if (packet.data.size() > kMaxDatagram) return false;
    if (w.count && w.socket != s.socket) flush(w);
    w.socket = s.socket;
    auto& buf = w.buffers[w.count];
    std::memcpy(buf.data(), packet.data.data(), packet.data.size());
    size_t size = packet.data.size();
    if (!slot.rewriter->rewrite(buf.data(), size, packet.arrival)) return false;
    uint32_t ts = load32(buf.data() + 4);
    bool rtx = resend && slot.rtx;
    if (rtx) {
      size = make_rtx(buf.data(), size, kMaxDatagram, slot.rtx_payload_type, slot.rtx_sequence, slot.rtx_ssrc);
      if (!size) return false;
      slot.rtx_sequence++;
    }
    if (!s.srtp->protect_rtp(buf.data(), &size)) return false;
    if (config.test_loss_percent > 0 && test_lose(w)) {
      counters.test_lost++;  // protected (the SRTP index moved on) but never sent
    } else {
      w.sizes[w.count] = size;
      w.to[w.count] = s.ice.selected();
      if (++w.count == kBatch) flush(w);
    }
    s.stats.packets_sent++;
    s.stats.bytes_sent += size;
    if (rtx) {  // the RTX stream's: not in the media stream's SR
      s.stats.rtx_sent++;
      return true;
    }
    slot.packets++;
    slot.octets += uint32_t(packet.data.size() - 12);
    slot.last_ts = ts;
    slot.last_sent = std::chrono::system_clock::now();
    return true;
  }

  bool test_lose(Worker& w) {
    w.rng ^= w.rng << 13;
    w.rng ^= w.rng >> 7;
    w.rng ^= w.rng << 17;
    return double(w.rng % 1000000) < config.test_loss_percent * 10000.0;
  }

  // Subscriber by subscriber: one subscriber's datagrams of a frame leave
  // next to each other in the sendmmsg batch.
  void forward(Worker& w, TrackId track, const std::vector<PacketRef>& packets) {
    for (auto& [id, s] : w.sessions) {
      if (!s->connected || s->failed) continue;
      for (Slot& slot : s->slots)
        if (slot.track == track)
          for (const PacketRef& packet : packets) queue_rtp(w, *s, slot, *packet);
    }
  }

  // One item for the whole batch to each worker in `mask` (those with a
  // subscriber of the track): one wake-up each. `self`: the worker calling
  // (native ingress), which forwards the batch at once rather than posting
  // to itself, unless items wait in its inbox (they may hold an earlier
  // batch of the track: order first).
  void hand_over(TrackId track, std::vector<PacketRef> batch, uint64_t mask, Worker* self = nullptr) {
    if (!mask) return;
    auto shared = std::make_shared<const std::vector<PacketRef>>(std::move(batch));
    bool direct = false;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (!(mask & (uint64_t(1) << i))) continue;
      auto& w = workers[i];
      if (w.get() == self) {
        std::lock_guard<std::mutex> g(w->lock);
        if (w->inbox.empty()) {
          direct = true;
          continue;
        }
      }
      Item item{Item::kPacket};
      item.track = track;
      item.packets = shared;
      post(*w, std::move(item));
    }
    if (direct) forward(*self, track, *shared);
  }

  // The packet as received, for the history and every worker.
  static std::shared_ptr<SharedPacket> shared_packet(const uint8_t* data, size_t size, const RtpHeader& h,
                                                     Clock::time_point arrival) {
    auto packet = std::make_shared<SharedPacket>();
    packet->data.assign(data, data + size);
    packet->arrival = arrival;
    packet->sequence = h.sequence;
    packet->ssrc = h.ssrc;
    return packet;
  }

  // A publisher packet of `track` (push(), or native ingress from worker
  // `self`): stored in the track's history at once, handed to the workers
  // with its batch (a frame: `more` while packets of it follow). False
  // when the track is gone.
  bool feed_track(TrackId track, const std::shared_ptr<SharedPacket>& packet, bool more, Worker* self) {
    std::shared_ptr<PacketHistory> history;
    std::vector<PacketRef> batch;
    uint64_t mask = 0;
    {
      std::lock_guard<std::mutex> g(tracks_lock);
      auto it = tracks.find(track);
      if (it == tracks.end()) return false;
      Track& t = it->second;
      history = t.history;
      t.ssrc = packet->ssrc;
      if (t.pending.empty()) t.first = packet->arrival;
      t.pending.push_back(packet);
      if (!more || t.pending.size() >= kBatch || packet->arrival - t.first >= kMaxHold) {
        batch.swap(t.pending);
        mask = t.workers();
      }
    }
    history->store(packet);
    if (!batch.empty()) hand_over(track, std::move(batch), mask, self);
    return true;
  }

  // A publisher's SR mapping (Engine::sender_report, or its SR on a native
  // ingress session).
  void sender_report(uint32_t ssrc, uint64_t ntp, uint32_t rtp_timestamp) {
    std::lock_guard<std::mutex> g(clocks_lock);
    rtcp::ClockMapping& m = clocks[ssrc];
    if (m.ntp == ntp && m.rtp_timestamp == rtp_timestamp) return;
    m = {ntp, rtp_timestamp, Clock::now()};
  }

  // Worker 0's housekeeping: batches held longer than kMaxHold.
  void hand_over_stale(Clock::time_point now) {
    std::vector<std::tuple<TrackId, std::vector<PacketRef>, uint64_t>> stale;
    {
      std::lock_guard<std::mutex> g(tracks_lock);
      for (auto& [id, t] : tracks)
        if (!t.pending.empty() && now - t.first >= kMaxHold) {
          stale.emplace_back(id, std::move(t.pending), t.workers());
          t.pending.clear();
        }
    }
    for (auto& [id, batch, mask] : stale) hand_over(id, std::move(batch), mask);
  }

  // --- receiving ---
  void fail(Session& s, const std::string& why) {
    if (s.failed) return;
    s.failed = true;
    s.connected = false;
    s.stats.connected = false;
    if (events.failed) events.failed(s.id, why);
  }

  void route(Session& s, const Address& from) {
    for (const Address& a : s.addresses)
      if (a == from) return;
    s.addresses.push_back(from);
    std::unique_lock<std::shared_mutex> g(routes_lock);
    by_address[from] = s.id;
  }

  void on_datagram(Worker& w, Session& s, const Address& from, size_t socket, const uint8_t* data, size_t size) {
    auto now = Clock::now();
    switch (classify(data, size)) {
      case PacketKind::kStun: {
        auto m = stun::parse(data, size);
        if (!m) return void(counters.bad_stun++);
        auto out = s.ice.on_stun(data, size, *m, from, now);
        if (!out.response.empty()) send_now(socket, from, out.response.data(), out.response.size());
        if (out.verdict == IceLite::Verdict::kUnauthorized) counters.unauthorized++;
        if (out.verdict != IceLite::Verdict::kAccepted) return;
        route(s, from);
        if (out.selected_changed) {
          s.socket = socket;
          s.stats.selected = from.to_string();
        }
        if (s.ice.selected() == from) s.last_alive = now;
        if (s.started && s.dtls && s.dtls->state() == DtlsTransport::State::kNew) s.dtls->start();
        return;
      }
      case PacketKind::kDtls: {
        if (!s.dtls) return void(counters.dtls++);
        auto before = s.dtls->state();
        s.dtls->on_datagram(data, size);
        after_dtls(s, before);
        return;
      }
      case PacketKind::kRtcp: {
        if (!s.srtp) return void(counters.srtcp++);
        uint8_t buf[kMaxDatagram + SrtpSession::kMaxTrailer];
        if (size > sizeof buf) return void(counters.srtcp++);
        std::memcpy(buf, data, size);
        size_t n = size;
        if (!s.srtp->unprotect_rtcp(buf, &n)) return void(counters.srtcp++);
        rtcp::Packets packets;
        if (!rtcp::parse(buf, n, &packets) && packets.receiver_reports.empty() && packets.nacks.empty())
          return void(counters.srtcp++);
        s.last_alive = now;
        s.stats.rtcp_received++;
        on_rtcp(w, s, packets, now);
        return;
      }
      case PacketKind::kRtp: {
        // Only a publisher's (add_ingress) is taken, once SRTP is up.
        if (s.ingress.empty() || !s.srtp) return void(counters.rtp++);
        uint8_t buf[kMaxDatagram + SrtpSession::kMaxTrailer];
        if (size > sizeof buf) return void(counters.rtp++);
        std::memcpy(buf, data, size);
        size_t n = size;
        if (!s.srtp->unprotect_rtp(buf, &n)) return void(counters.srtcp++);
        s.last_alive = now;
        on_ingress_rtp(w, s, buf, n, now);
        return;
      }
      case PacketKind::kUnknown:
        counters.unknown++;
        return;
    }
  }

  void after_dtls(Session& s, DtlsTransport::State before) {
    auto state = s.dtls->state();
    if (state == before) return;
    if (state == DtlsTransport::State::kFailed) return fail(s, s.dtls->error());
    if (state == DtlsTransport::State::kConnected) {
      try {
        s.srtp = std::make_unique<SrtpSession>(s.dtls->keys());
      } catch (const std::exception& e) {
        return fail(s, e.what());
      }
      s.connected = true;
      s.stats.connected = true;
      if (s.sctp) s.sctp->connect();
      if (events.connected) events.connected(s.id);
    }
  }

  // Data channels over the session's DTLS: usrsctp's output and events come
  // back to this worker (sctp.h), where the session lives.
  void start_sctp(Session& s) {
    SessionId id = s.id;
    Session* sp = &s;
    SctpAssociation::Events e;
    e.send = [sp](const uint8_t* data, size_t size) { sp->dtls->send(data, size); };
    e.message = [this, id](const DataChannelMessage& m) {
      if (events.data) events.data(id, m);
    };
    auto defer = [this, id](std::function<void()> task) {
      Item item{Item::kCall};
      item.call = std::move(task);
      post(owner(id), std::move(item));
    };
    try {
      s.sctp = std::make_unique<SctpAssociation>(s.remote.role == DtlsTransport::Role::kClient, defer,
                                                 std::move(e), 5000, s.remote.sctp_port);
    } catch (const std::exception&) {
      return;  // media goes on without data channels
    }
    for (const auto& [label, reliable] : s.remote.channels) s.sctp->open_channel(label, reliable);
    s.dtls->set_receive([sp](const uint8_t* data, size_t size) {
      if (sp->sctp) sp->sctp->on_packet(data, size);
    });
  }

  Slot* slot_by_ssrc(Session& s, uint32_t ssrc) {
    for (Slot& slot : s.slots)
      if (slot.rewriter->ssrc() == ssrc) return &slot;
    return nullptr;
  }

  void on_rtcp(Worker& w, Session& s, const rtcp::Packets& p, Clock::time_point now) {
    for (const rtcp::Nack& nack : p.nacks) {
      Slot* slot = slot_by_ssrc(s, nack.media_ssrc);
      s.stats.nacks += nack.sequences.size();
      if (!slot || !slot->history) continue;
      for (uint16_t seq : nack.sequences) {
        auto source = slot->rewriter->source_sequence(seq);
        if (!source) continue;
        if (PacketRef packet = slot->history->find(*source, now))
          if (queue_rtp(w, s, *slot, *packet, true)) s.stats.retransmissions++;
      }
    }
    auto keyframe = [&](uint32_t ssrc) {
      Slot* slot = slot_by_ssrc(s, ssrc);
      if (slot && slot->track && events.keyframe_request) events.keyframe_request(slot->track);
    };
    for (const rtcp::Pli& pli : p.plis) {
      s.stats.plis++;
      keyframe(pli.media_ssrc);
    }
    for (const rtcp::Fir& fir : p.firs) {
      s.stats.firs++;
      for (auto [ssrc, seq] : fir.entries) keyframe(ssrc);
    }
    auto ntp_mid = uint32_t(rtcp::ntp_time(std::chrono::system_clock::now()) >> 16);
    auto blocks = [&](const std::vector<rtcp::ReportBlock>& bs) {
      for (const rtcp::ReportBlock& b : bs) {
        Slot* slot = slot_by_ssrc(s, b.ssrc);
        if (!slot) continue;
        s.stats.fraction_lost = b.fraction_lost;
        s.stats.jitter = b.jitter;
        if (!b.last_sr) continue;
        for (auto [sr_mid, sent] : slot->reports)
          if (sent && sr_mid == b.last_sr)
            s.stats.rtt_ms = double(uint32_t(ntp_mid - uint32_t(sent >> 16) - b.delay_since_sr)) * 1000.0 / 65536.0;
      }
    };
    for (const auto& rr : p.receiver_reports) blocks(rr.blocks);
    for (const auto& sr : p.sender_reports) blocks(sr.blocks);
    // A publisher's SR of an ingress stream: its clock for the subscribers'
    // SRs, and LSR/DLSR for our RRs.
    for (const auto& sr : p.sender_reports)
      for (Ingress& in : s.ingress)
        if (in.receiver.started() && in.ssrc == sr.ssrc) {
          in.receiver.on_sender_report(sr.ntp, now);
          sender_report(sr.ssrc, sr.ntp, sr.rtp_timestamp);
        }
    s.stats.remb += p.rembs.size();
    s.stats.transport_cc += p.transport_cc;
  }

  // --- native ingress ---
  void send_rtcp(Session& s, std::vector<uint8_t>& out) {
    if (out.empty() || !s.srtp) return;
    size_t n = out.size();
    out.resize(n + SrtpSession::kMaxTrailer);
    if (s.srtp->protect_rtcp(out.data(), &n)) send_now(s.socket, s.ice.selected(), out.data(), n);
  }

  // Feedback goes in a compound packet led by an (empty) RR, which every
  // receiver takes whether or not it negotiated reduced-size RTCP.
  void send_feedback(Session& s, const std::function<void(std::vector<uint8_t>*)>& build) {
    std::vector<uint8_t> out;
    rtcp::build_rr(&out, {s.local_ssrc, {}});
    build(&out);
    send_rtcp(s, out);
  }

  // What ReceiveStream said of a packet or of the time: counted, NACKed.
  void apply(Session& s, Ingress& in, const ReceiveStream::Outcome& out) {
    s.stats.lost += out.lost;
    if (out.recovered) s.stats.recovered++;
    send_nack(s, in, out.nack);
  }

  void send_nack(Session& s, Ingress& in, const std::vector<uint16_t>& sequences) {
    if (sequences.empty()) return;
    s.stats.nacks_sent += sequences.size();
    send_feedback(s, [&](std::vector<uint8_t>* out) {
      rtcp::build_nack(out, {s.local_ssrc, in.ssrc, sequences});
    });
  }

  // Housekeeping: NACK again what is still missing; give up on the old.
  void repeat_nacks(Session& s, Clock::time_point now) {
    for (Ingress& in : s.ingress) apply(s, in, in.receiver.due(now));
  }

  void on_ingress_rtp(Worker& w, Session& s, uint8_t* buf, size_t n, Clock::time_point now) {
    auto h = parse_rtp(buf, n);
    if (!h) return void(counters.rtp++);
    Ingress* in = nullptr;
    bool rtx = false;
    for (Ingress& i : s.ingress)  // by an announced SSRC
      if (h->ssrc && (h->ssrc == i.stream.ssrc || h->ssrc == i.stream.rtx_ssrc)) {
        in = &i;
        rtx = h->ssrc == i.stream.rtx_ssrc;
        break;
      }
    for (Ingress& i : s.ingress) {  // else by payload type, among the unannounced
      if (in) break;
      if (i.stream.ssrc) continue;
      if (i.stream.payload_type == h->payload_type) {
        in = &i;
      } else if (i.stream.rtx_payload_type == int(h->payload_type)) {
        in = &i;
        rtx = true;
      }
    }
    if (!in) return void(counters.rtp++);
    if (rtx) {
      // RFC 4588 §4: the original sequence number, then the original
      // payload; the padding (of the RTX packet) goes.
      size_t payload = n - h->header_size - h->padding;
      // Nothing to restore it to, or padding only.
      if (!in->receiver.started() || payload < 2) return void(counters.rtp++);
      uint16_t original = load16(buf + h->header_size);
      std::memmove(buf + h->header_size, buf + h->header_size + 2, payload - 2);
      n = h->header_size + payload - 2;
      buf[0] &= uint8_t(~0x20);
      write_rtp(buf, in->stream.payload_type, original, h->timestamp, in->ssrc);
      h->sequence = original;
      h->ssrc = in->ssrc;
      h->payload_type = in->stream.payload_type;
      h->padding = 0;
    } else if (in->ssrc != h->ssrc) {  // a new SSRC (or the first): its sequence starts anew
      s.stats.lost += in->receiver.reset();
      in->ssrc = h->ssrc;
    }
    auto outcome = in->receiver.receive(h->sequence, h->timestamp, rtx, now);
    apply(s, *in, outcome);
    if (!outcome.accepted) return;
    s.stats.packets_received++;
    s.stats.bytes_received += n;
    TrackId track = in->stream.track;
    bool more = in->stream.video && !h->marker;
    if (feed_track(track, shared_packet(buf, n, *h, now), more, &w) && events.received)
      events.received(track, buf, n);
  }

  // Once a second: an RR with a block for each ingress stream that sent.
  void send_receiver_reports(Session& s, Clock::time_point now) {
    rtcp::ReceiverReport rr{s.local_ssrc, {}};
    for (Ingress& in : s.ingress) {
      if (!in.receiver.started()) continue;
      rr.blocks.push_back(in.receiver.report(in.ssrc, now));
      if (rr.blocks.size() == 31) break;  // RC is 5 bits
    }
    if (rr.blocks.empty()) return;
    std::vector<uint8_t> out;
    rtcp::build_rr(&out, rr);
    send_rtcp(s, out);
  }

  std::optional<rtcp::ClockMapping> clock_of(uint32_t ssrc) {
    std::lock_guard<std::mutex> g(clocks_lock);
    auto it = clocks.find(ssrc);
    if (it == clocks.end()) return std::nullopt;
    return it->second;
  }

  // An SR for every slot that sent; with `bye`, then a BYE for those slots.
  void send_reports(Session& s, bool bye = false) {
    std::vector<uint8_t> out;
    rtcp::Bye ended;
    auto now = Clock::now();
    for (Slot& slot : s.slots) {
      if (!slot.packets || slot.ended) continue;
      slot.ended = bye;
      uint64_t ntp = rtcp::ntp_time(slot.last_sent);
      uint32_t ts = slot.last_ts;
      if (auto publisher = clock_of(slot.rewriter->source_ssrc()))
        std::tie(ntp, ts) = rtcp::map_clock(*publisher, slot.rewriter->timestamp_offset(), slot.clock_rate, now);
      rtcp::build_sr(&out, {slot.rewriter->ssrc(), ntp, ts, slot.packets, slot.octets, {}});
      slot.reports[1] = slot.reports[0];
      slot.reports[0] = {uint32_t(ntp >> 16), rtcp::ntp_time(std::chrono::system_clock::now())};
      ended.ssrcs.push_back(slot.rewriter->ssrc());
    }
    if (out.empty()) return;
    if (bye) rtcp::build_bye(&out, ended);
    send_rtcp(s, out);
  }

  void housekeeping(Worker& w) {
    auto now = Clock::now();
    for (auto& [id, s] : w.sessions) {
      if (!s->started || s->failed) continue;
      if (s->dtls) {
        auto due = s->dtls->next_timeout();
        if (due && *due <= now) {
          auto before = s->dtls->state();
          s->dtls->on_timeout();
          after_dtls(*s, before);
        }
      }
      if (now - s->last_alive > config.peer_timeout) {
        fail(*s, "no ICE consent or RTCP for peer-timeout");
        continue;
      }
      if (s->connected && !s->ingress.empty()) repeat_nacks(*s, now);
      if (s->connected && now >= s->next_sr) {
        s->next_sr = now + kSenderReportInterval;
        send_reports(*s);
        if (!s->ingress.empty()) send_receiver_reports(*s, now);
      }
    }
  }

  // Worker 0: every datagram waiting on `fd` (a socket of address
  // `socket`), demultiplexed.
  void receive(Worker& self, size_t socket, int fd) {
    static thread_local std::vector<std::array<uint8_t, 2048>> bufs(kBatch);
    static thread_local std::vector<sockaddr_storage> names(kBatch);
    for (int round = 0; round < 16; ++round) {  // then let the inbox run
      mmsghdr msgs[kBatch];
      iovec iov[kBatch];
      std::memset(msgs, 0, sizeof msgs);
      for (size_t i = 0; i < kBatch; ++i) {
        iov[i] = {bufs[i].data(), bufs[i].size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &names[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
      int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      if (fd != sockets[socket]) counters.feedback += uint64_t(n);
      for (int i = 0; i < n; ++i) {
        counters.received++;
        Address from = Address::from(reinterpret_cast<sockaddr*>(&names[i]), msgs[i].msg_hdr.msg_namelen);
        demux(self, socket, from, bufs[i].data(), msgs[i].msg_len);
      }
      if (size_t(n) < kBatch) return;
    }
  }

  void demux(Worker& self, size_t socket, const Address& from, const uint8_t* data, size_t size) {
    PacketKind kind = classify(data, size);
    SessionId id = 0;
    if (kind == PacketKind::kUnknown) return void(counters.unknown++);
    if (kind == PacketKind::kStun) {
      std::string why;
      auto m = stun::parse(data, size, &why);
      if (!m) return void(counters.bad_stun++);
      auto user = m->username();
      std::shared_lock<std::shared_mutex> g(routes_lock);
      auto it = user ? by_ufrag.find(std::string(IceLite::local_part(*user))) : by_ufrag.end();
      if (it != by_ufrag.end()) id = it->second;
      else {
        // Binding responses/indications from a known peer are harmless; the rest unknown.
        return void(counters.unknown_user++);
      }
    } else {
      std::shared_lock<std::shared_mutex> g(routes_lock);
      auto it = by_address.find(from);
      if (it == by_address.end()) return void(counters.unknown_address++);
      id = it->second;
    }
    Worker& w = owner(id);
    if (&w == &self) {
      if (Session* s = find(w, id)) on_datagram(w, *s, from, socket, data, size);
      return;
    }
    Item item{Item::kDatagram};
    item.session = id;
    item.from = from;
    item.socket = socket;
    item.data.assign(data, data + size);
    post(w, std::move(item));
  }

  void run(Worker& w, bool reader) {
    epoll_event evs[16];
    auto now = Clock::now();
    auto next_housekeeping = now;
    std::vector<Item> items;
    while (!stopping) {
      // Housekeeping only while there are sessions: the reader's (held
      // batches, SCTP timers, feedback) serves every worker's.
      bool idle = reader ? sessions == 0 : w.sessions.empty();
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_housekeeping - now).count();
      int n = epoll_wait(w.epoll, evs, 16, idle ? -1 : int(std::max<int64_t>(wait, 0)));
      for (int i = 0; i < n; ++i) {
        if (evs[i].data.u64 == UINT64_MAX) {
          uint64_t v;
          (void)!read(w.wake, &v, sizeof v);
        } else if (reader) {
          size_t socket = size_t(evs[i].data.u64);
          receive(w, socket, sockets[socket]);
        }
      }
      if (reader) {  // awake anyway: the feedback waiting, whatever woke us
        for (size_t socket = 0; socket < feedback_sockets.size(); ++socket)
          if (feedback_sockets[socket] >= 0) receive(w, socket, feedback_sockets[socket]);
      }
      {
        std::lock_guard<std::mutex> g(w.lock);
        items.swap(w.inbox);
      }
      for (Item& item : items) {
        switch (item.kind) {
          case Item::kPacket: forward(w, item.track, *item.packets); break;
          case Item::kDatagram:
            if (Session* s = find(w, item.session))
              on_datagram(w, *s, item.from, item.socket, item.data.data(), item.data.size());
            break;
          case Item::kCall: item.call(); break;
        }
      }
      items.clear();  // keeps its capacity: no allocation per wake-up
      flush(w);
      now = Clock::now();
      if (now >= next_housekeeping) {
        next_housekeeping = now + kHousekeeping;
        if (reader) {
          hand_over_stale(now);
          SctpAssociation::handle_timers();  // usrsctp has no thread of its own (sctp.h)
        }
        housekeeping(w);
        flush(w);
      }
    }
  }
};

Engine::Engine(EngineConfig config, Events events) : impl_(std::make_unique<Impl>(std::move(config), std::move(events))) {
  SrtpSession::init_library();
  Impl& d = *impl_;
  uint16_t port = d.config.port;
  auto cleanup = [&] {
    for (int fd : d.sockets) close(fd);
    for (int fd : d.feedback_sockets)
      if (fd >= 0) close(fd);
    d.sockets.clear();
    d.feedback_sockets.clear();
    d.locals.clear();
  };
  // A port-0 bind with SO_REUSEPORT may land on a port that sockets of our
  // user share (another engine's): then the port is tried again.
  for (int attempt = 0; d.sockets.size() < d.config.addresses.size(); ++attempt) {
    Address a = Address::parse(d.config.addresses[d.sockets.size()], port);
    // Shared with the feedback socket, unless the kernel refused that once.
    bool shared = d.steering;
    int fd = udp_socket(a, shared);
    if (fd < 0) {
      cleanup();
      throw std::runtime_error("engine: socket: " + std::string(strerror(errno)));
    }
    if (bind(fd, a.sa(), a.length) != 0) {
      std::string why = strerror(errno);
      close(fd);
      cleanup();
      throw std::runtime_error("engine: cannot bind " + a.to_string() + ": " + why);
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    Address local = Address::from(reinterpret_cast<sockaddr*>(&bound), len);
    int feedback = shared ? feedback_socket(fd, local) : -1;
    if (shared && feedback < 0) {
      // No steering: a port shared without it would split media between
      // its sockets. Bound again alone.
      close(fd);
      cleanup();
      d.steering = false;
      port = d.config.port;
      continue;
    }
    // Unshared, the port is ours by the kernel's rules: nothing to probe.
    if (shared && !ours_alone(fd, feedback, local)) {
      close(fd);
      close(feedback);
      cleanup();
      if (d.config.port || attempt == 8)
        throw std::runtime_error("engine: cannot bind " + a.to_string() + ": another socket of this user shares it");
      port = 0;
      continue;
    }
    port = local.port();  // the next addresses take the same port
    d.sockets.push_back(fd);
    d.feedback_sockets.push_back(feedback);
    d.locals.push_back(local);
  }
  if (d.sockets.empty()) throw std::runtime_error("engine: no address to listen on");
  port_ = port;
  unsigned n = d.config.threads ? d.config.threads : std::max(1u, std::thread::hardware_concurrency());
  n = std::min(n, kMaxWorkers);
  d.load.assign(n, 0);
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    w->epoll = epoll_create1(EPOLL_CLOEXEC);
    w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
    epoll_event ev{EPOLLIN, {}};
    ev.data.u64 = UINT64_MAX;
    epoll_ctl(w->epoll, EPOLL_CTL_ADD, w->wake, &ev);
    if (i == 0)
      for (size_t s = 0; s < d.sockets.size(); ++s) {
        ev.data.u64 = s;
        epoll_ctl(w->epoll, EPOLL_CTL_ADD, d.sockets[s], &ev);
      }
    d.workers.push_back(std::move(w));
  }
  for (unsigned i = 0; i < n; ++i) {
    Impl::Worker* w = d.workers[i].get();
    w->thread = std::thread([&d, w, i] {
      pthread_setname_np(pthread_self(), ("rtc-engine-" + std::to_string(i)).c_str());  // for top/perf
      d.run(*w, i == 0);
    });
  }
}

Engine::~Engine() {
  Impl& d = *impl_;
  d.stopping = true;
  for (auto& w : d.workers) {
    uint64_t one = 1;
    (void)!write(w->wake, &one, sizeof one);
  }
  for (auto& w : d.workers) {
    if (w->thread.joinable()) w->thread.join();
    w->sessions.clear();  // before the wake-up fd goes: SCTP callbacks post to it
    close(w->epoll);
    close(w->wake);
  }
  for (int fd : d.sockets) close(fd);
  for (int fd : d.feedback_sockets)
    if (fd >= 0) close(fd);
}

std::vector<Address> Engine::local_addresses() const { return impl_->locals; }
const std::string& Engine::fingerprint() const { return impl_->dtls.fingerprint(); }
unsigned Engine::threads() const { return unsigned(impl_->workers.size()); }

Engine::LocalParams Engine::create_session(const std::string& group) {
  Impl& d = *impl_;
  size_t worker = d.place(group);
  SessionId id = d.next_id++;
  while (d.owner_index(id) != worker) id = d.next_id++;
  auto s = std::make_unique<Session>();
  s->id = id;
  s->group = group;
  {
    static std::mutex random_lock;
    static std::random_device random;
    std::lock_guard<std::mutex> g(random_lock);
    do s->local_ssrc = random();
    while (!s->local_ssrc);
  }
  LocalParams local{id, s->ice.local_ufrag(), s->ice.local_pwd()};
  s->ice.set_consent_timeout(d.config.peer_timeout);
  {
    std::unique_lock<std::shared_mutex> g(d.routes_lock);
    d.by_ufrag[local.ufrag] = id;
  }
  Session* raw = s.release();
  d.call(id, [&d, id, raw] { d.owner(id).sessions[id].reset(raw); });
  return local;
}

void Engine::start_session(SessionId id, RemoteParams remote) {
  Impl& d = *impl_;
  d.call(id, [&d, id, remote = std::move(remote)]() mutable {
    Session* s = d.find(d.owner(id), id);
    if (!s || s->started) return;
    s->ice.set_remote(remote.ufrag, remote.pwd);
    s->remote = std::move(remote);
    Session* sp = s;
    s->dtls = std::make_unique<DtlsTransport>(d.dtls, s->remote.role, s->remote.fingerprints,
                                              [&d, sp](const uint8_t* data, size_t size) {
                                                d.send_now(sp->socket, sp->ice.selected(), data, size);
                                              });
    s->dtls->set_initial_timeout(std::chrono::milliseconds(100));
    if (s->remote.sctp_port) d.start_sctp(*s);
    s->started = true;
    s->last_alive = Clock::now();
    // The client speaks first, once a check told us where the peer is.
    if (s->ice.has_valid_check()) s->dtls->start();
  });
}

void Engine::remove_session(SessionId id) {
  Impl& d = *impl_;
  std::vector<Address> addresses;
  std::string ufrag;
  bool removed = false;
  std::string group;
  d.call(id, [&] {
    auto& sessions = d.owner(id).sessions;
    auto it = sessions.find(id);
    if (it == sessions.end()) return;
    Session& s = *it->second;
    if (s.dtls) s.dtls->close();
    for (Slot& slot : s.slots) d.set_track(slot, id, 0, nullptr);
    addresses = s.addresses;
    ufrag = s.ice.local_ufrag();
    group = s.group;
    removed = true;
    sessions.erase(it);
  });
  if (removed) d.unplace(group);
  {
    std::lock_guard<std::mutex> g(d.feeders_lock);
    std::erase_if(d.feeders, [id](const auto& f) { return f.second == id; });
  }
  std::unique_lock<std::shared_mutex> g(d.routes_lock);
  d.by_ufrag.erase(ufrag);
  for (const Address& a : addresses) {
    auto it = d.by_address.find(a);
    if (it != d.by_address.end() && it->second == id) d.by_address.erase(it);
  }
}

size_t Engine::add_slot(SessionId id, uint32_t ssrc, uint8_t payload_type, uint32_t clock_rate) {
  Impl& d = *impl_;
  return d.call(id, [&]() -> size_t {
    Session* s = d.find(d.owner(id), id);
    if (!s) throw std::runtime_error("engine: no session " + std::to_string(id));
    Slot slot;
    slot.rewriter = std::make_unique<RtpRewriter>(ssrc, payload_type, clock_rate);
    slot.clock_rate = clock_rate;
    s->slots.push_back(std::move(slot));
    return s->slots.size() - 1;
  });
}

void Engine::enable_rtx(SessionId id, size_t index, uint32_t rtx_ssrc, uint8_t rtx_payload_type) {
  Impl& d = *impl_;
  d.call(id, [&] {
    Session* s = d.find(d.owner(id), id);
    if (!s || index >= s->slots.size()) return;
    Slot& slot = s->slots[index];
    slot.rtx = true;
    slot.rtx_ssrc = rtx_ssrc;
    slot.rtx_payload_type = rtx_payload_type;
    slot.rtx_sequence = uint16_t(rtx_ssrc >> 7);  // random enough: the SSRC is
  });
}

void Engine::feed(SessionId id, size_t index, TrackId track) {
  Impl& d = *impl_;
  std::shared_ptr<PacketHistory> history;
  {
    std::lock_guard<std::mutex> g(d.tracks_lock);
    auto it = d.tracks.find(track);
    if (it != d.tracks.end()) history = it->second.history;
  }
  d.call(id, [&] {
    Session* s = d.find(d.owner(id), id);
    if (!s || index >= s->slots.size()) return;
    Slot& slot = s->slots[index];
    d.set_track(slot, id, history ? track : 0, history);
    if (history) slot.ended = false;
  });
}

void Engine::end_streams(SessionId id) {
  Impl& d = *impl_;
  d.call(id, [&] {
    Session* s = d.find(d.owner(id), id);
    if (!s) return;
    for (Slot& slot : s->slots) d.set_track(slot, id, 0, nullptr);
    if (s->connected && !s->failed) d.send_reports(*s, true);
  });
}

SessionStats Engine::session_stats(SessionId id) const {
  Impl& d = *impl_;
  return d.call(id, [&] {
    Session* s = d.find(d.owner(id), id);
    return s ? s->stats : SessionStats{};
  });
}

void Engine::send_data(SessionId id, const std::string& label, std::string data, bool text) {
  Impl& d = *impl_;
  Item item{Item::kCall};
  item.call = [&d, id, label, data = std::move(data), text]() mutable {
    Session* s = d.find(d.owner(id), id);
    if (s && s->sctp) s->sctp->send(label, std::move(data), text);
  };
  d.post(d.owner(id), std::move(item));
}

void Engine::add_ingress(SessionId id, IngressStream stream) {
  Impl& d = *impl_;
  bool added = d.call(id, [&] {
    Session* s = d.find(d.owner(id), id);
    if (!s) return false;
    ReceiveStream::Config config;
    config.clock_rate = stream.clock_rate;
    config.nack = stream.video;
    Ingress in{stream, 0, ReceiveStream(config)};
    for (Ingress& other : s->ingress)
      if (other.stream.payload_type == stream.payload_type && other.stream.ssrc == stream.ssrc) {
        other = std::move(in);  // the m-line again: its new track
        return true;
      }
    s->ingress.push_back(std::move(in));
    return true;
  });
  if (!added || !stream.track) return;
  std::lock_guard<std::mutex> g(d.feeders_lock);
  d.feeders[stream.track] = id;
}

bool Engine::request_keyframe(TrackId track) {
  Impl& d = *impl_;
  SessionId id = 0;
  {
    std::lock_guard<std::mutex> g(d.feeders_lock);
    auto it = d.feeders.find(track);
    if (it == d.feeders.end()) return false;
    id = it->second;
  }
  Item item{Item::kCall};
  item.call = [&d, id, track] {
    Session* s = d.find(d.owner(id), id);
    if (!s || !s->connected || s->failed) return;
    for (Ingress& in : s->ingress)
      if (in.stream.track == track && in.stream.video && in.receiver.started()) {
        s->stats.plis_sent++;
        d.send_feedback(*s, [&](std::vector<uint8_t>* out) { rtcp::build_pli(out, {s->local_ssrc, in.ssrc}); });
      }
  };
  d.post(d.owner(id), std::move(item));
  return true;
}

TrackId Engine::add_track() {
  Impl& d = *impl_;
  TrackId id = d.next_id++;
  std::lock_guard<std::mutex> g(d.tracks_lock);
  d.tracks[id] = Impl::Track{};
  return id;
}

void Engine::remove_track(TrackId track) {
  Impl& d = *impl_;
  uint32_t ssrc = 0;
  {
    std::lock_guard<std::mutex> g(d.tracks_lock);
    auto it = d.tracks.find(track);
    if (it == d.tracks.end()) return;
    ssrc = it->second.ssrc;
    d.tracks.erase(it);
  }
  {
    std::lock_guard<std::mutex> g(d.feeders_lock);
    d.feeders.erase(track);
  }
  std::lock_guard<std::mutex> g(d.clocks_lock);
  d.clocks.erase(ssrc);
}

void Engine::sender_report(uint32_t ssrc, uint64_t ntp, uint32_t rtp_timestamp) {
  impl_->sender_report(ssrc, ntp, rtp_timestamp);
}

void Engine::push(TrackId track, const uint8_t* data, size_t size, bool more) {
  auto h = parse_rtp(data, size);
  if (!h) return;
  impl_->feed_track(track, Impl::shared_packet(data, size, *h, Clock::now()), more, nullptr);
}

EngineStats Engine::stats() const {
  const auto& c = impl_->counters;
  EngineStats s;
  s.received = c.received;
  s.sent = c.sent;
  s.send_calls = c.send_calls;
  s.received_feedback = c.feedback;
  s.sent_segmented = c.segmented;
  s.dropped_unknown = c.unknown;
  s.dropped_bad_stun = c.bad_stun;
  s.dropped_unknown_user = c.unknown_user;
  s.dropped_unauthorized = c.unauthorized;
  s.dropped_unknown_address = c.unknown_address;
  s.dropped_dtls = c.dtls;
  s.dropped_srtcp = c.srtcp;
  s.dropped_rtp = c.rtp;
  s.test_lost = c.test_lost;
  return s;
}

}  // namespace rtcmesh::engine
