#include "gst/engine/sctp.h"

#include <arpa/inet.h>
#include <usrsctp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace rtcmesh::engine {

std::vector<uint8_t> build_dcep_open(const DcepOpen& open) {
  std::vector<uint8_t> out(12);
  out[0] = kDcepOpen;
  out[1] = open.channel_type;
  out[2] = uint8_t(open.priority >> 8);
  out[3] = uint8_t(open.priority);
  for (int i = 0; i < 4; ++i) out[4 + i] = uint8_t(open.reliability >> (24 - 8 * i));
  out[8] = uint8_t(open.label.size() >> 8);
  out[9] = uint8_t(open.label.size());
  out[10] = uint8_t(open.protocol.size() >> 8);
  out[11] = uint8_t(open.protocol.size());
  out.insert(out.end(), open.label.begin(), open.label.end());
  out.insert(out.end(), open.protocol.begin(), open.protocol.end());
  return out;
}

bool parse_dcep_open(const uint8_t* d, size_t size, DcepOpen* out) {
  if (size < 12 || d[0] != kDcepOpen) return false;
  size_t label = size_t(d[8]) << 8 | d[9], protocol = size_t(d[10]) << 8 | d[11];
  if (12 + label + protocol > size) return false;
  out->channel_type = d[1];
  out->priority = uint16_t(d[2] << 8 | d[3]);
  out->reliability = uint32_t(d[4]) << 24 | uint32_t(d[5]) << 16 | uint32_t(d[6]) << 8 | d[7];
  out->label.assign(reinterpret_cast<const char*>(d + 12), label);
  out->protocol.assign(reinterpret_cast<const char*>(d + 12 + label), protocol);
  return true;
}

namespace {

struct Channel {
  std::string label;
  bool reliable = true;  // retransmitted until delivered (else max-retransmits 0)
  bool ordered = true;
  bool ours = false;
  bool acked = false;  // ours: DATA_CHANNEL_ACK came (until then messages go ordered)
  bool opened = false;  // ours: DATA_CHANNEL_OPEN sent
  bool closing = false;  // we reset our outgoing stream: the remote's reset ends it
};

struct Outgoing {
  uint16_t stream;
  uint32_t ppid;
  std::string data;
  bool ordered, reliable;
};

}  // namespace

struct SctpAssociation::Inner {
  uintptr_t id = 0;
  struct socket* sock = nullptr;
  bool client = false;
  uint16_t local_port = 5000, remote_port = 5000;
  Events events;
  bool up = false, down = false, connecting = false;
  std::map<uint16_t, Channel> channels;  // by stream id
  uint16_t next_stream = 0;
  std::deque<Outgoing> queue;  // before the association is up, or while usrsctp's buffer is full
  std::unordered_map<uint16_t, std::string> partial;  // message parts until MSG_EOR
  std::vector<std::string> early;  // packets before connect()

  Channel* by_label(const std::string& label, uint16_t* stream) {
    Channel* found = nullptr;
    for (auto& [sid, c] : channels)
      if (c.label == label && (!found || c.ours)) {
        found = &c;
        *stream = sid;
      }
    return found;
  }

  // Sends what is queued, in order, until usrsctp's buffer is full.
  void flush() {
    while (up && !queue.empty()) {
      Outgoing& o = queue.front();
      auto it = channels.find(o.stream);
      if (it != channels.end() && it->second.ours && !it->second.acked) o.ordered = true;  // RFC 8832 §6.6
      sctp_sendv_spa spa{};
      spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
      spa.sendv_sndinfo.snd_sid = o.stream;
      spa.sendv_sndinfo.snd_ppid = htonl(o.ppid);
      spa.sendv_sndinfo.snd_flags = SCTP_EOR | (o.ordered ? 0 : SCTP_UNORDERED);
      if (!o.reliable) {
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
        spa.sendv_prinfo.pr_value = 0;
      }
      // An empty message goes as one zero byte with PPID 56/57 (RFC 8831 §6.6).
      static const char zero = 0;
      const void* data = o.data.empty() ? &zero : o.data.data();
      size_t size = o.data.empty() ? 1 : o.data.size();
      ssize_t n = usrsctp_sendv(sock, data, size, nullptr, 0, &spa, sizeof spa, SCTP_SENDV_SPA, 0);
      if (n < 0 && (errno == EWOULDBLOCK || errno == EAGAIN || errno == ENOBUFS)) return;  // later
      queue.pop_front();  // sent, or refused for good
    }
  }

  void reset_outgoing(uint16_t stream) {
    if (!up) return;
    std::vector<uint8_t> buf(sizeof(sctp_reset_streams) + sizeof(uint16_t));
    auto* r = reinterpret_cast<sctp_reset_streams*>(buf.data());
    r->srs_assoc_id = SCTP_ALL_ASSOC;
    r->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    r->srs_number_streams = 1;
    r->srs_stream_list[0] = stream;
    usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, r, socklen_t(buf.size()));
  }

  void send_open(uint16_t stream, Channel& c) {
    DcepOpen open;
    open.channel_type = c.reliable ? 0x00 : 0x81;  // unreliable: unordered, max-retransmits 0
    open.label = c.label;
    auto bytes = build_dcep_open(open);
    queue.push_front({stream, kPpidDcep, std::string(bytes.begin(), bytes.end()), true, true});
    c.opened = true;
  }

  void on_up() {
    if (up) return;
    up = true;
    // Our channels' OPENs go before any message of theirs.
    for (auto it = channels.rbegin(); it != channels.rend(); ++it)
      if (it->second.ours && !it->second.opened) send_open(it->first, it->second);
    flush();
    if (events.up) events.up();
  }

  void on_down(const std::string& why) {
    if (down) return;
    up = false;
    down = true;
    queue.clear();
    if (events.down) events.down(why);
  }

  void on_notification(const std::string& bytes) {
    if (bytes.size() < sizeof(sctp_notification::sctp_tlv)) return;
    const auto* n = reinterpret_cast<const sctp_notification*>(bytes.data());
    switch (n->sn_header.sn_type) {
      case SCTP_ASSOC_CHANGE:
        if (bytes.size() < sizeof(sctp_assoc_change)) return;
        switch (n->sn_assoc_change.sac_state) {
          case SCTP_COMM_UP: on_up(); break;
          case SCTP_COMM_LOST: on_down("SCTP association lost"); break;
          case SCTP_SHUTDOWN_COMP: on_down("SCTP association shut down"); break;
          case SCTP_CANT_STR_ASSOC: on_down("SCTP association could not start"); break;
          default: break;
        }
        break;
      case SCTP_STREAM_RESET_EVENT: {
        // The remote closed channels: their streams are free again.
        if (bytes.size() < sizeof(sctp_stream_reset_event)) return;
        const sctp_stream_reset_event& e = n->sn_strreset_event;
        if (!(e.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN)) break;
        size_t length = std::min<size_t>(e.strreset_length, bytes.size());
        size_t count = (length - sizeof(sctp_stream_reset_event)) / sizeof(uint16_t);
        for (size_t i = 0; i < count; ++i) {
          uint16_t stream = e.strreset_stream_list[i];
          auto it = channels.find(stream);
          if (it == channels.end()) continue;
          std::string label = it->second.label;
          bool closing = it->second.closing;  // we reset first: this is the reply
          channels.erase(it);
          partial.erase(stream);
          if (!closing) reset_outgoing(stream);
          if (events.channel_closed) events.channel_closed(label);
        }
        break;
      }
      case SCTP_SENDER_DRY_EVENT: flush(); break;
      default: break;
    }
  }

  void on_message(uint16_t stream, uint32_t ppid, std::string bytes) {
    if (ppid == kPpidDcep) {
      if (bytes.empty()) return;
      if (uint8_t(bytes[0]) == kDcepAck) {
        auto it = channels.find(stream);
        if (it != channels.end() && it->second.ours && !it->second.acked) {
          it->second.acked = true;
          if (events.channel_open) events.channel_open(it->second.label);
        }
        return;
      }
      DcepOpen open;
      if (!parse_dcep_open(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &open)) return;
      Channel c;
      c.label = open.label;
      c.reliable = open.reliable();
      c.ordered = open.ordered();
      c.acked = true;
      channels[stream] = c;
      queue.push_back({stream, kPpidDcep, std::string(1, char(kDcepAck)), true, true});
      flush();
      if (events.channel_open) events.channel_open(open.label);
      return;
    }
    auto it = channels.find(stream);
    if (it == channels.end()) return;  // no channel opened on that stream
    DataChannelMessage m;
    m.label = it->second.label;
    switch (ppid) {
      case kPpidString:
      case kPpidStringPartial: m.text = true; m.data = std::move(bytes); break;
      case kPpidBinary:
      case kPpidBinaryPartial: m.data = std::move(bytes); break;
      case kPpidStringEmpty: m.text = true; break;
      case kPpidBinaryEmpty: break;
      default: return;
    }
    if (events.message) events.message(m);
  }

  void on_receive(std::string bytes, uint16_t stream, uint32_t ppid, int flags) {
    if (flags & MSG_NOTIFICATION) return on_notification(bytes);
    std::string& part = partial[stream];
    if (part.size() + bytes.size() > kMaxMessageSize + 1) {
      part.clear();  // over our a=max-message-size: dropped
      return;
    }
    part += bytes;
    if (!(flags & MSG_EOR)) return;
    std::string message = std::move(part);
    partial.erase(stream);
    on_message(stream, ppid, std::move(message));
  }
};

namespace {

using Task = std::function<void(SctpAssociation::Inner&)>;

struct Registry {
  std::mutex lock;  // leaf: only Defer (a post) is called under it
  uintptr_t next = 1;
  struct Entry {
    SctpAssociation::Defer defer;
    std::weak_ptr<SctpAssociation::Inner> inner;
  };
  std::unordered_map<uintptr_t, Entry> entries;
  std::mutex timer_lock;
  std::chrono::steady_clock::time_point last_tick = std::chrono::steady_clock::now();
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: usrsctp may call back at exit
  return *r;
}

// From any thread usrsctp runs on: hands `task` to the association's owner.
void post(uintptr_t id, Task task) {
  Registry& r = registry();
  std::lock_guard g(r.lock);
  auto it = r.entries.find(id);
  if (it == r.entries.end()) return;
  std::weak_ptr<SctpAssociation::Inner> weak = it->second.inner;
  it->second.defer([weak, task = std::move(task)] {
    if (auto inner = weak.lock()) task(*inner);
  });
}

int conn_output(void* addr, void* buffer, size_t length, uint8_t, uint8_t) {
  std::string packet(static_cast<const char*>(buffer), length);
  post(reinterpret_cast<uintptr_t>(addr), [packet = std::move(packet)](SctpAssociation::Inner& in) {
    if (!in.down && in.events.send) in.events.send(reinterpret_cast<const uint8_t*>(packet.data()), packet.size());
  });
  return 0;
}

int on_receive(struct socket*, union sctp_sockstore, void* data, size_t size, struct sctp_rcvinfo rcv, int flags,
               void* ulp_info) {
  auto id = reinterpret_cast<uintptr_t>(ulp_info);
  if (!data) {
    post(id, [](SctpAssociation::Inner& in) { in.on_down("SCTP association closed"); });
    return 1;
  }
  std::string bytes(static_cast<const char*>(data), size);
  free(data);  // usrsctp's, malloc'ed for us
  uint16_t stream = rcv.rcv_sid;
  uint32_t ppid = ntohl(rcv.rcv_ppid);
  post(id, [bytes = std::move(bytes), stream, ppid, flags](SctpAssociation::Inner& in) mutable {
    in.on_receive(std::move(bytes), stream, ppid, flags);
  });
  return 1;
}

std::atomic<bool> initialised{false};

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No thread of its own: handle_timers() drives its timers.
    usrsctp_init_nothreads(0, conn_output, nullptr);
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_pr_enable(1);
    usrsctp_sysctl_set_sctp_reconfig_enable(1);
    usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
    initialised = true;
  });
}

template <typename T>
void set_option(struct socket* sock, int level, int name, const T& value, const char* what) {
  if (usrsctp_setsockopt(sock, level, name, &value, socklen_t(sizeof value)) != 0)
    throw std::runtime_error(std::string("SCTP: ") + what + ": " + strerror(errno));
}

}  // namespace

SctpAssociation::SctpAssociation(bool dtls_client, Defer defer, Events events, uint16_t local_port,
                                 uint16_t remote_port)
    : inner_(std::make_shared<Inner>()) {
  init_library();
  Inner& in = *inner_;
  in.client = dtls_client;
  in.next_stream = dtls_client ? 0 : 1;
  in.local_port = local_port;
  in.remote_port = remote_port;
  in.events = std::move(events);
  {
    Registry& r = registry();
    std::lock_guard g(r.lock);
    in.id = r.next++;
    r.entries[in.id] = {std::move(defer), inner_};
  }
  auto* ulp = reinterpret_cast<void*>(in.id);
  usrsctp_register_address(ulp);
  in.sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, on_receive, nullptr, 0, ulp);
  try {
    if (!in.sock) throw std::runtime_error(std::string("SCTP: socket: ") + strerror(errno));
    if (usrsctp_set_non_blocking(in.sock, 1) != 0) throw std::runtime_error("SCTP: non-blocking");
    linger l{1, 0};  // close aborts
    set_option(in.sock, SOL_SOCKET, SO_LINGER, l, "SO_LINGER");
    int buffer = 1 << 20;
    set_option(in.sock, SOL_SOCKET, SO_SNDBUF, buffer, "SO_SNDBUF");
    set_option(in.sock, SOL_SOCKET, SO_RCVBUF, buffer, "SO_RCVBUF");
    int one = 1;
    set_option(in.sock, IPPROTO_SCTP, SCTP_NODELAY, one, "SCTP_NODELAY");
    sctp_assoc_value reset{};
    reset.assoc_id = SCTP_ALL_ASSOC;
    reset.assoc_value = SCTP_ENABLE_RESET_STREAM_REQ;
    set_option(in.sock, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, reset, "SCTP_ENABLE_STREAM_RESET");
    // Retransmission timeouts for a real-time session: 1 s first, 400 ms
    // to 3 s (usrsctp's 60 s ceiling would stall a channel for minutes).
    sctp_rtoinfo rto{};
    rto.srto_assoc_id = SCTP_ALL_ASSOC;
    rto.srto_initial = 1000;
    rto.srto_min = 400;
    rto.srto_max = 3000;
    set_option(in.sock, IPPROTO_SCTP, SCTP_RTOINFO, rto, "SCTP_RTOINFO");
    sctp_initmsg init{};
    init.sinit_num_ostreams = 1024;
    init.sinit_max_instreams = 1024;
    set_option(in.sock, IPPROTO_SCTP, SCTP_INITMSG, init, "SCTP_INITMSG");
    for (uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SENDER_DRY_EVENT}) {
      sctp_event event{};
      event.se_assoc_id = SCTP_ALL_ASSOC;
      event.se_type = type;
      event.se_on = 1;
      set_option(in.sock, IPPROTO_SCTP, SCTP_EVENT, event, "SCTP_EVENT");
    }
    sockaddr_conn local{};
    local.sconn_family = AF_CONN;
    local.sconn_port = htons(local_port);
    local.sconn_addr = ulp;
    if (usrsctp_bind(in.sock, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
      throw std::runtime_error(std::string("SCTP: bind: ") + strerror(errno));
  } catch (...) {
    if (in.sock) usrsctp_close(in.sock);
    in.sock = nullptr;
    usrsctp_deregister_address(ulp);
    Registry& r = registry();
    std::lock_guard g(r.lock);
    r.entries.erase(in.id);
    throw;
  }
}

SctpAssociation::~SctpAssociation() {
  Inner& in = *inner_;
  {
    Registry& r = registry();
    std::lock_guard g(r.lock);
    r.entries.erase(in.id);  // what usrsctp still produces for it is dropped
  }
  if (in.sock) usrsctp_close(in.sock);
  usrsctp_deregister_address(reinterpret_cast<void*>(in.id));
}

void SctpAssociation::connect() {
  Inner& in = *inner_;
  if (in.connecting || in.down) return;
  in.connecting = true;
  sockaddr_conn remote{};
  remote.sconn_family = AF_CONN;
  remote.sconn_port = htons(in.remote_port);
  remote.sconn_addr = reinterpret_cast<void*>(in.id);
  int r = usrsctp_connect(in.sock, reinterpret_cast<sockaddr*>(&remote), sizeof remote);
  if (r != 0 && errno != EINPROGRESS) return in.on_down(std::string("SCTP: connect: ") + strerror(errno));
  // Our packets fit a DTLS record in a 1280-byte path; no path MTU discovery.
  sctp_paddrparams params{};
  std::memcpy(&params.spp_address, &remote, sizeof remote);
  params.spp_flags = SPP_PMTUD_DISABLE;
  params.spp_pathmtu = kMtu;
  usrsctp_setsockopt(in.sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &params, sizeof params);
  auto early = std::move(in.early);
  in.early.clear();
  for (const std::string& p : early) on_packet(reinterpret_cast<const uint8_t*>(p.data()), p.size());
}

void SctpAssociation::on_packet(const uint8_t* data, size_t size) {
  Inner& in = *inner_;
  if (in.down) return;
  if (!in.connecting) {  // before connect(): kept until then (a few at most)
    if (in.early.size() < 8) in.early.emplace_back(reinterpret_cast<const char*>(data), size);
    return;
  }
  usrsctp_conninput(reinterpret_cast<void*>(in.id), data, size, 0);
}

void SctpAssociation::open_channel(const std::string& label, bool reliable) {
  Inner& in = *inner_;
  uint16_t stream = 0;
  if (in.by_label(label, &stream)) return;
  while (in.channels.count(in.next_stream)) in.next_stream += 2;
  stream = in.next_stream;
  in.next_stream += 2;
  Channel& c = in.channels[stream];
  c.label = label;
  c.reliable = reliable;
  c.ordered = reliable;
  c.ours = true;
  if (in.up) {
    in.send_open(stream, c);
    in.flush();
  }
}

void SctpAssociation::close_channel(const std::string& label) {
  Inner& in = *inner_;
  uint16_t stream = 0;
  Channel* c = in.by_label(label, &stream);
  if (!c || c->closing) return;
  c->closing = true;
  if (!in.up) {  // never opened on the wire
    in.channels.erase(stream);
    return;
  }
  in.flush();  // what was sent before goes first
  in.reset_outgoing(stream);
}

bool SctpAssociation::send(const std::string& label, std::string data, bool text) {
  Inner& in = *inner_;
  if (in.down || data.size() > kMaxMessageSize || in.queue.size() >= kMaxQueued) return false;
  uint16_t stream = 0;
  Channel* c = in.by_label(label, &stream);
  if (!c || c->closing) return false;
  uint32_t ppid = text ? (data.empty() ? kPpidStringEmpty : kPpidString)
                       : (data.empty() ? kPpidBinaryEmpty : kPpidBinary);
  in.queue.push_back({stream, ppid, std::move(data), c->ordered, c->reliable});
  in.flush();
  return true;
}

bool SctpAssociation::is_up() const { return inner_->up; }

bool SctpAssociation::has_channel(const std::string& label) const {
  uint16_t stream;
  return inner_->by_label(label, &stream) != nullptr;
}

void SctpAssociation::handle_timers() {
  Registry& r = registry();
  std::lock_guard g(r.timer_lock);
  auto now = std::chrono::steady_clock::now();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - r.last_tick);
  if (elapsed.count() <= 0) return;
  r.last_tick += elapsed;
  if (!initialised.load()) return;  // no association yet in this process
  usrsctp_handle_timers(uint32_t(elapsed.count()));
}

}  // namespace rtcmesh::engine
