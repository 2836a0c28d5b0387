// WebRTC data channels of the native egress engine: SCTP (usrsctp, in
// AF_CONN mode: no socket of its own, packets in and out through the DTLS
// association as application data) and DCEP (RFC 8832) on top of it.
//
// Threads: usrsctp is initialised once per process with
// usrsctp_init_nothreads (no timer or receive thread of its own);
// SctpAssociation::handle_timers(), called by every engine's worker 0 about
// every 20 ms, advances its timers (retransmissions, delayed SACKs). An
// association is driven by one owner thread (the engine worker owning the
// session): every public call there. What usrsctp produces (packets to send,
// received messages, association events) may come from whichever thread made
// usrsctp work, so it is copied and handed to the owner through `Defer`;
// nothing of the association is touched elsewhere. Callbacks after the
// association is gone are dropped (a registry of live associations by id).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rtcmesh::engine {

// DCEP and data PPIDs (RFC 8831 §8, RFC 8832 §8.1).
enum Ppid : uint32_t {
  kPpidDcep = 50,
  kPpidString = 51,
  kPpidBinaryPartial = 52,  // deprecated
  kPpidBinary = 53,
  kPpidStringPartial = 54,  // deprecated
  kPpidStringEmpty = 56,
  kPpidBinaryEmpty = 57,
};

struct DataChannelMessage {
  std::string label;  // the channel's
  std::string data;
  bool text = false;  // PPID 51/56 rather than 53/57
};

// DCEP DATA_CHANNEL_OPEN (RFC 8832 §5.1), parsed or to build.
struct DcepOpen {
  uint8_t channel_type = 0;  // 0x00 reliable, 0x80 reliable unordered, 0x01/0x81 partial rexmit, 0x02/0x82 timed
  uint16_t priority = 0;
  uint32_t reliability = 0;  // retransmissions or lifetime (ms) by type
  std::string label, protocol;
  bool ordered() const { return !(channel_type & 0x80); }
  bool reliable() const { return (channel_type & 0x7f) == 0; }
};
std::vector<uint8_t> build_dcep_open(const DcepOpen& open);
bool parse_dcep_open(const uint8_t* data, size_t size, DcepOpen* out);
constexpr uint8_t kDcepOpen = 0x03, kDcepAck = 0x02;

class SctpAssociation {
 public:
  // Runs `task` on the owner thread soon; callable from any thread.
  using Defer = std::function<void(std::function<void()> task)>;
  struct Events {  // owner thread
    // An SCTP packet to send as DTLS application data.
    std::function<void(const uint8_t* data, size_t size)> send;
    // A channel can carry messages (ours acknowledged or the remote's opened).
    std::function<void(const std::string& label)> channel_open;
    std::function<void(const std::string& label)> channel_closed;
    std::function<void(const DataChannelMessage& message)> message;
    // The association is up, or it ended (why).
    std::function<void()> up;
    std::function<void(const std::string& why)> down;
  };
  // `dtls_client`: our DTLS role, which decides our stream ids (client even,
  // server odd, RFC 8832 §6). Ports as in a=sctp-port (5000 by default).
  // Throws std::runtime_error.
  SctpAssociation(bool dtls_client, Defer defer, Events events, uint16_t local_port = 5000,
                  uint16_t remote_port = 5000);
  ~SctpAssociation();  // aborts the association
  SctpAssociation(const SctpAssociation&) = delete;
  SctpAssociation& operator=(const SctpAssociation&) = delete;

  // Once DTLS is connected: both sides connect (SCTP simultaneous open is
  // fine; the DTLS client's INIT usually wins).
  void connect();
  // An SCTP packet that arrived as DTLS application data.
  void on_packet(const uint8_t* data, size_t size);
  // A channel of ours (DATA_CHANNEL_OPEN once the association is up):
  // reliable = ordered, retransmitted until delivered; else unordered with
  // max-retransmits 0.
  void open_channel(const std::string& label, bool reliable);
  // Closes a channel (RFC 8831 §6.7): our outgoing stream is reset, the
  // remote resets its own in reply. A remote's reset closes the channel
  // here the same way (channel_closed, and our stream is reset in reply).
  void close_channel(const std::string& label);
  // Queued until the association is up (at most kMaxQueued messages). False,
  // nothing sent, when there is no such channel, the message is over
  // kMaxMessageSize, the queue is full or the association is down.
  bool send(const std::string& label, std::string data, bool text);
  bool is_up() const;
  bool has_channel(const std::string& label) const;

  // Any thread: advances usrsctp's timers by the time since the last call.
  static void handle_timers();

  static constexpr size_t kMaxMessageSize = 262144;  // our a=max-message-size
  static constexpr size_t kMaxQueued = 256;
  static constexpr uint16_t kMtu = 1191;  // SCTP packets fit a DTLS record in a 1280-byte path

  struct Inner;

 private:
  std::shared_ptr<Inner> inner_;
};

}  // namespace rtcmesh::engine
