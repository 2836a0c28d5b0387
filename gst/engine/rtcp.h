// RTCP (RFC 3550, RFC 4585, RFC 5104) as an SFU's egress needs it: parse what
// subscribers send (receiver reports for loss/jitter/RTT, NACK, PLI, FIR,
// REMB and transport-cc, the last two only counted for now) from compound or
// reduced-size (RFC 5506) packets, and build what we send (SR, BYE, NACK,
// PLI, FIR, REMB). Parsing never trusts a length field.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rtcmesh::engine::rtcp {

enum PacketType : uint8_t { kSr = 200, kRr = 201, kSdes = 202, kBye = 203, kApp = 204, kRtpfb = 205, kPsfb = 206 };

struct ReportBlock {
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;
  uint32_t highest_sequence = 0;
  uint32_t jitter = 0;
  uint32_t last_sr = 0;        // middle 32 bits of the SR's NTP time
  uint32_t delay_since_sr = 0;  // 1/65536 s
  bool operator==(const ReportBlock&) const = default;
};
struct SenderReport {
  uint32_t ssrc = 0;
  uint64_t ntp = 0;
  uint32_t rtp_timestamp = 0, packets = 0, octets = 0;
  std::vector<ReportBlock> blocks;
};
struct ReceiverReport {
  uint32_t ssrc = 0;
  std::vector<ReportBlock> blocks;
};
struct Nack {
  uint32_t sender_ssrc = 0, media_ssrc = 0;
  std::vector<uint16_t> sequences;  // expanded from PID/BLP pairs
};
struct Pli {
  uint32_t sender_ssrc = 0, media_ssrc = 0;
};
struct Fir {
  uint32_t sender_ssrc = 0;
  std::vector<std::pair<uint32_t, uint8_t>> entries;  // media SSRC, command sequence
};
struct Remb {
  uint32_t sender_ssrc = 0;
  uint64_t bitrate = 0;  // bit/s
  std::vector<uint32_t> ssrcs;
};

struct Bye {
  std::vector<uint32_t> ssrcs;  // the streams that end
};

struct Packets {
  std::vector<SenderReport> sender_reports;
  std::vector<ReceiverReport> receiver_reports;
  std::vector<Nack> nacks;
  std::vector<Pli> plis;
  std::vector<Fir> firs;
  std::vector<Remb> rembs;
  std::vector<Bye> byes;
  uint32_t transport_cc = 0;  // counted only (bandwidth estimation: later)
  uint32_t other = 0;         // SDES, APP, unknown feedback
};

// Every packet of a compound (or single) RTCP datagram, decrypted. False
// with *why on the first malformed packet (what came before it is kept).
bool parse(const uint8_t* data, size_t size, Packets* out, std::string* why = nullptr);

// Builders append one packet to `out`.
void build_sr(std::vector<uint8_t>* out, const SenderReport& sr);
void build_rr(std::vector<uint8_t>* out, const ReceiverReport& rr);
void build_nack(std::vector<uint8_t>* out, const Nack& nack);
void build_pli(std::vector<uint8_t>* out, const Pli& pli);
void build_fir(std::vector<uint8_t>* out, const Fir& fir);
void build_remb(std::vector<uint8_t>* out, const Remb& remb);
// BYE (RFC 3550 §6.6) without a reason: after an SR in the same compound.
void build_bye(std::vector<uint8_t>* out, const Bye& bye);

// A publisher's NTP↔RTP mapping, from its last SR, and when the SR came.
struct ClockMapping {
  uint64_t ntp = 0;
  uint32_t rtp_timestamp = 0;
  std::chrono::steady_clock::time_point arrival{};
};
// The mapping a subscriber's SR carries for a stream made from that
// publisher's (timestamps shifted by `ts_offset`, the rewriter's): both
// sides moved on to `now` by the time elapsed since the SR arrived (in the
// publisher's NTP clock and in RTP ticks at `clock_rate`), so receivers
// align the publisher's audio and video as the publisher's own SRs would.
// Returns {ntp, rtp_timestamp}.
std::pair<uint64_t, uint32_t> map_clock(const ClockMapping& publisher, uint32_t ts_offset, uint32_t clock_rate,
                                        std::chrono::steady_clock::time_point now);

// NTP time (RFC 3550 §4) of a system-clock instant.
uint64_t ntp_time(std::chrono::system_clock::time_point t);

}  // namespace rtcmesh::engine::rtcp
