#include "gst/engine/rtcp.h"

#include "gst/engine/packet.h"

namespace rtcmesh::engine::rtcp {

namespace {

bool fail(std::string* why, const std::string& reason) {
  if (why) *why = reason;
  return false;
}

bool parse_blocks(const uint8_t* p, size_t len, int count, std::vector<ReportBlock>* out) {
  if (len < size_t(count) * 24) return false;
  for (int i = 0; i < count; ++i, p += 24) {
    ReportBlock b;
    b.ssrc = load32(p);
    b.fraction_lost = p[4];
    int32_t lost = int32_t(uint32_t(p[5]) << 16 | uint32_t(p[6]) << 8 | p[7]);
    if (lost & 0x800000) lost -= 0x1000000;  // 24-bit signed
    b.cumulative_lost = lost;
    b.highest_sequence = load32(p + 8);
    b.jitter = load32(p + 12);
    b.last_sr = load32(p + 16);
    b.delay_since_sr = load32(p + 20);
    out->push_back(b);
  }
  return true;
}

// Header for a packet whose body (after the 4-byte header) is `body` bytes.
void header(std::vector<uint8_t>* out, uint8_t count_or_fmt, uint8_t type, size_t body) {
  out->push_back(uint8_t(0x80 | (count_or_fmt & 0x1F)));
  out->push_back(type);
  uint16_t words = uint16_t((body + 4) / 4 - 1);
  out->push_back(uint8_t(words >> 8));
  out->push_back(uint8_t(words));
}
void put32(std::vector<uint8_t>* out, uint32_t v) {
  uint8_t b[4];
  store32(b, v);
  out->insert(out->end(), b, b + 4);
}
void put_blocks(std::vector<uint8_t>* out, const std::vector<ReportBlock>& blocks) {
  for (const ReportBlock& b : blocks) {
    put32(out, b.ssrc);
    put32(out, uint32_t(b.fraction_lost) << 24 | (uint32_t(b.cumulative_lost) & 0xFFFFFF));
    put32(out, b.highest_sequence);
    put32(out, b.jitter);
    put32(out, b.last_sr);
    put32(out, b.delay_since_sr);
  }
}

}  // namespace

bool parse(const uint8_t* data, size_t size, Packets* out, std::string* why) {
  size_t pos = 0;
  if (size < 4) return fail(why, "shorter than an RTCP header");
  while (pos < size) {
    if (size - pos < 4) return fail(why, "truncated header");
    const uint8_t* p = data + pos;
    if ((p[0] >> 6) != 2) return fail(why, "not version 2");
    int count = p[0] & 0x1F;
    uint8_t type = p[1];
    size_t len = (size_t(load16(p + 2)) + 1) * 4;
    if (len > size - pos) return fail(why, "length past the datagram");
    size_t body_len = len - 4;
    if (p[0] & 0x20) {  // padding: the last octet counts it
      uint8_t pad = p[len - 1];
      if (pad == 0 || pad > body_len) return fail(why, "bad padding");
      body_len -= pad;
    }
    const uint8_t* body = p + 4;
    switch (type) {
      case kSr: {
        if (body_len < 24) return fail(why, "short SR");
        SenderReport sr;
        sr.ssrc = load32(body);
        sr.ntp = uint64_t(load32(body + 4)) << 32 | load32(body + 8);
        sr.rtp_timestamp = load32(body + 12);
        sr.packets = load32(body + 16);
        sr.octets = load32(body + 20);
        if (!parse_blocks(body + 24, body_len - 24, count, &sr.blocks)) return fail(why, "SR blocks past its length");
        out->sender_reports.push_back(std::move(sr));
        break;
      }
      case kRr: {
        if (body_len < 4) return fail(why, "short RR");
        ReceiverReport rr;
        rr.ssrc = load32(body);
        if (!parse_blocks(body + 4, body_len - 4, count, &rr.blocks)) return fail(why, "RR blocks past its length");
        out->receiver_reports.push_back(std::move(rr));
        break;
      }
      case kBye: {
        if (body_len < size_t(count) * 4) return fail(why, "BYE SSRCs past its length");
        Bye bye;
        for (int i = 0; i < count; ++i) bye.ssrcs.push_back(load32(body + 4 * i));
        out->byes.push_back(std::move(bye));
        break;
      }
      case kRtpfb:
      case kPsfb: {
        if (body_len < 8) return fail(why, "short feedback message");
        uint32_t sender = load32(body), media = load32(body + 4);
        const uint8_t* fci = body + 8;
        size_t fci_len = body_len - 8;
        if (type == kRtpfb && count == 1) {  // generic NACK
          if (fci_len == 0 || fci_len % 4) return fail(why, "bad NACK length");
          Nack nack{sender, media, {}};
          for (size_t i = 0; i < fci_len; i += 4) {
            uint16_t pid = load16(fci + i), blp = load16(fci + i + 2);
            nack.sequences.push_back(pid);
            for (int bit = 0; bit < 16; ++bit)
              if (blp & (1 << bit)) nack.sequences.push_back(uint16_t(pid + bit + 1));
          }
          out->nacks.push_back(std::move(nack));
        } else if (type == kRtpfb && count == 15) {
          ++out->transport_cc;
        } else if (type == kPsfb && count == 1) {
          out->plis.push_back({sender, media});
        } else if (type == kPsfb && count == 4) {
          if (fci_len == 0 || fci_len % 8) return fail(why, "bad FIR length");
          Fir fir{sender, {}};
          for (size_t i = 0; i < fci_len; i += 8) fir.entries.emplace_back(load32(fci + i), fci[i + 4]);
          out->firs.push_back(std::move(fir));
        } else if (type == kPsfb && count == 15 && fci_len >= 8 && fci[0] == 'R' && fci[1] == 'E' &&
                   fci[2] == 'M' && fci[3] == 'B') {
          size_t n = fci[4];
          if (fci_len < 8 + 4 * n) return fail(why, "REMB SSRCs past its length");
          Remb remb;
          remb.sender_ssrc = sender;
          int exponent = fci[5] >> 2;
          uint64_t mantissa = uint64_t(fci[5] & 3) << 16 | uint64_t(fci[6]) << 8 | fci[7];
          remb.bitrate = exponent > 46 ? UINT64_MAX : mantissa << exponent;
          for (size_t i = 0; i < n; ++i) remb.ssrcs.push_back(load32(fci + 8 + 4 * i));
          out->rembs.push_back(std::move(remb));
        } else {
          ++out->other;
        }
        break;
      }
      default:
        ++out->other;
    }
    pos += len;
  }
  return true;
}

void build_sr(std::vector<uint8_t>* out, const SenderReport& sr) {
  header(out, uint8_t(sr.blocks.size()), kSr, 24 + 24 * sr.blocks.size());
  put32(out, sr.ssrc);
  put32(out, uint32_t(sr.ntp >> 32));
  put32(out, uint32_t(sr.ntp));
  put32(out, sr.rtp_timestamp);
  put32(out, sr.packets);
  put32(out, sr.octets);
  put_blocks(out, sr.blocks);
}

void build_rr(std::vector<uint8_t>* out, const ReceiverReport& rr) {
  header(out, uint8_t(rr.blocks.size()), kRr, 4 + 24 * rr.blocks.size());
  put32(out, rr.ssrc);
  put_blocks(out, rr.blocks);
}

void build_nack(std::vector<uint8_t>* out, const Nack& nack) {
  // Pack into PID + bitmask of the 16 following sequence numbers.
  std::vector<std::pair<uint16_t, uint16_t>> items;
  for (uint16_t seq : nack.sequences) {
    if (!items.empty()) {
      uint16_t diff = uint16_t(seq - items.back().first);
      if (diff >= 1 && diff <= 16) {
        items.back().second |= uint16_t(1 << (diff - 1));
        continue;
      }
    }
    items.emplace_back(seq, 0);
  }
  header(out, 1, kRtpfb, 8 + 4 * items.size());
  put32(out, nack.sender_ssrc);
  put32(out, nack.media_ssrc);
  for (auto [pid, blp] : items) put32(out, uint32_t(pid) << 16 | blp);
}

void build_pli(std::vector<uint8_t>* out, const Pli& pli) {
  header(out, 1, kPsfb, 8);
  put32(out, pli.sender_ssrc);
  put32(out, pli.media_ssrc);
}

void build_fir(std::vector<uint8_t>* out, const Fir& fir) {
  header(out, 4, kPsfb, 8 + 8 * fir.entries.size());
  put32(out, fir.sender_ssrc);
  put32(out, 0);  // RFC 5104 §4.3.1.1: media source SSRC unused
  for (auto [ssrc, seq] : fir.entries) {
    put32(out, ssrc);
    put32(out, uint32_t(seq) << 24);
  }
}

void build_remb(std::vector<uint8_t>* out, const Remb& remb) {
  header(out, 15, kPsfb, 16 + 4 * remb.ssrcs.size());
  put32(out, remb.sender_ssrc);
  put32(out, 0);
  out->insert(out->end(), {'R', 'E', 'M', 'B'});
  uint64_t mantissa = remb.bitrate;
  int exponent = 0;
  while (mantissa > 0x3FFFF) {
    mantissa >>= 1;
    ++exponent;
  }
  out->push_back(uint8_t(remb.ssrcs.size()));
  out->push_back(uint8_t(exponent << 2 | (mantissa >> 16)));
  out->push_back(uint8_t(mantissa >> 8));
  out->push_back(uint8_t(mantissa));
  for (uint32_t ssrc : remb.ssrcs) put32(out, ssrc);
}

void build_bye(std::vector<uint8_t>* out, const Bye& bye) {
  header(out, uint8_t(bye.ssrcs.size()), kBye, 4 * bye.ssrcs.size());
  for (uint32_t ssrc : bye.ssrcs) put32(out, ssrc);
}

std::pair<uint64_t, uint32_t> map_clock(const ClockMapping& publisher, uint32_t ts_offset, uint32_t clock_rate,
                                        std::chrono::steady_clock::time_point now) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - publisher.arrival).count();
  if (us < 0) us = 0;
  uint64_t ntp = publisher.ntp + (uint64_t(us / 1000000) << 32) + (uint64_t(us % 1000000) << 32) / 1000000;
  uint32_t rtp = publisher.rtp_timestamp + ts_offset + uint32_t(uint64_t(us) * clock_rate / 1000000);
  return {ntp, rtp};
}

uint64_t ntp_time(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  uint64_t seconds = uint64_t(us / 1000000) + 2208988800ull;  // 1900 → 1970
  uint64_t fraction = (uint64_t(us % 1000000) << 32) / 1000000;
  return seconds << 32 | fraction;
}

}  // namespace rtcmesh::engine::rtcp
