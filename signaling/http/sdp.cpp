#include "signaling/http/sdp.h"

#include <gst/sdp/sdp.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "signaling/util.h"

namespace rtcmesh::sig {

namespace {

constexpr size_t kMaxMedia = 64;

struct SdpMessageDeleter {
  void operator()(GstSDPMessage* m) const { gst_sdp_message_free(m); }
};
using SdpMessagePtr = std::unique_ptr<GstSDPMessage, SdpMessageDeleter>;

SdpMessagePtr parse_with_gst(std::string_view text) {
  GstSDPMessage* msg = nullptr;
  if (gst_sdp_message_new(&msg) != GST_SDP_OK) throw SdpError("cannot allocate an SDP message");
  SdpMessagePtr owned(msg);
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(text.data()),
                                   static_cast<guint>(text.size()), msg) != GST_SDP_OK)
    throw SdpError("SDP could not be parsed");
  return owned;
}

std::string shorten(std::string_view s, size_t n = 60) {
  std::string out(utf8_prefix(s, n));
  if (s.size() > n) out += "...";
  return out;
}

// Attribute lists of the session or of one media, read through one interface.
struct Attrs {
  const GstSDPMessage* msg = nullptr;
  const GstSDPMedia* media = nullptr;

  guint size() const {
    return media ? gst_sdp_media_attributes_len(media) : gst_sdp_message_attributes_len(msg);
  }
  const GstSDPAttribute* at(guint i) const {
    return media ? gst_sdp_media_get_attribute(media, i) : gst_sdp_message_get_attribute(msg, i);
  }
  bool has(std::string_view key) const {
    for (guint i = 0; i < size(); ++i)
      if (at(i)->key && key == at(i)->key) return true;
    return false;
  }
  // nullopt-like: returns false when absent; a flag attribute yields "".
  bool get(std::string_view key, std::string& out) const {
    for (guint i = 0; i < size(); ++i) {
      const GstSDPAttribute* a = at(i);
      if (a->key && key == a->key) {
        out = a->value ? std::string(trim(a->value)) : std::string();
        return true;
      }
    }
    return false;
  }
  std::vector<std::string> all(std::string_view key) const {
    std::vector<std::string> out;
    for (guint i = 0; i < size(); ++i) {
      const GstSDPAttribute* a = at(i);
      if (a->key && key == a->key) out.emplace_back(a->value ? trim(a->value) : "");
    }
    return out;
  }
  std::string direction() const {
    for (guint i = 0; i < size(); ++i) {
      const char* k = at(i)->key;
      if (!k) continue;
      std::string_view key(k);
      if (key == "sendrecv" || key == "sendonly" || key == "recvonly" || key == "inactive")
        return std::string(key);
    }
    return {};
  }
};

// Line-level structure GstSDPMessage does not check. Returns the non-empty
// lines.
std::vector<std::string_view> check_lines(std::string_view text, bool require_version) {
  std::vector<std::string_view> lines;
  size_t number = 0;
  for (std::string_view line : split_lines(text)) {
    ++number;
    if (trim(line).empty()) continue;  // tolerate blank lines
    if (require_version && lines.empty() && line != "v=0")
      throw SdpError("SDP must start with v=0");
    if (line.size() < 2 || line[1] != '=' || !std::islower(static_cast<unsigned char>(line[0])))
      throw SdpError("line " + std::to_string(number) + " is not of the form x=value: '" +
                     shorten(line) + "'");
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f)
        throw SdpError("line " + std::to_string(number) + " contains a control character");
    }
    lines.push_back(line);
  }
  return lines;
}

void check_m_line(std::string_view value, size_t index) {
  auto fail = [&](const std::string& why) {
    throw SdpError("m-line " + std::to_string(index) + " ('m=" + shorten(value) +
                   "') is malformed: " + why);
  };
  auto f = split_ws(value);
  if (f.size() < 4) fail("expected 'media port proto format...'");
  for (char c : f[0])
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      fail("bad media type");
  auto port_parts = split(f[1], '/');
  unsigned long long port = 0, nports = 0;
  if (port_parts.size() > 2 || !parse_uint(port_parts[0], port) || port > 65535 ||
      (port_parts.size() == 2 && !parse_uint(port_parts[1], nports)))
    fail("bad port '" + std::string(f[1]) + "'");
  bool rtp = f[2].find("RTP") != std::string_view::npos;
  for (size_t i = 3; i < f.size(); ++i) {
    unsigned long long pt = 0;
    if (rtp && (!parse_uint(f[i], pt) || pt > 127))
      fail("bad RTP payload type '" + std::string(f[i]) + "'");
  }
}

std::string static_codec(unsigned pt) {
  switch (pt) {
    case 0:
      return "PCMU";
    case 8:
      return "PCMA";
    case 9:
      return "G722";
    default:
      return {};
  }
}

bool valid_fingerprint(std::string_view v) {
  auto f = split_ws(v);
  if (f.size() != 2 || f[1].find(':') == std::string_view::npos) return false;
  return std::all_of(f[1].begin(), f[1].end(), [](char c) {
    return c == ':' || std::isxdigit(static_cast<unsigned char>(c));
  });
}

}  // namespace

int SdpSummary::mline_index(std::string_view mid) const {
  for (size_t i = 0; i < media.size(); ++i)
    if (media[i].mid == mid) return static_cast<int>(i);
  return -1;
}

SdpSummary validate_offer(std::string_view sdp) {
  if (trim(sdp).empty()) throw SdpError("empty SDP");
  auto lines = check_lines(sdp, true);
  bool has_o = false, has_s = false, has_t = false;
  size_t m_count = 0;
  for (std::string_view line : lines) {
    char type = line[0];
    if (type == 'm') {
      check_m_line(line.substr(2), m_count);
      ++m_count;
    } else if (m_count == 0) {
      has_o |= type == 'o';
      has_s |= type == 's';
      has_t |= type == 't';
    }
  }
  if (!has_o) throw SdpError("missing o= line");
  if (!has_s) throw SdpError("missing s= line");
  if (!has_t) throw SdpError("missing t= line");
  if (m_count == 0) throw SdpError("no m= line");
  if (m_count > kMaxMedia)
    throw SdpError("too many m= lines (" + std::to_string(m_count) + ", limit " +
                   std::to_string(kMaxMedia) + ")");

  SdpMessagePtr msg = parse_with_gst(sdp);
  if (gst_sdp_message_medias_len(msg.get()) != m_count) throw SdpError("SDP could not be parsed");
  Attrs session{msg.get(), nullptr};

  SdpSummary summary;
  session.get("ice-ufrag", summary.ice_ufrag);
  session.get("ice-pwd", summary.ice_pwd);
  std::string session_dir = session.direction();
  std::string session_fp, session_setup;
  bool has_session_fp = session.get("fingerprint", session_fp);
  bool has_session_setup = session.get("setup", session_setup);
  if (has_session_fp && !valid_fingerprint(session_fp))
    throw SdpError("malformed a=fingerprint: '" + shorten(session_fp) + "'");

  std::set<std::string> mids;
  for (guint i = 0; i < m_count; ++i) {
    const GstSDPMedia* media = gst_sdp_message_get_media(msg.get(), i);
    Attrs attrs{nullptr, media};
    MediaSummary m;
    m.kind = gst_sdp_media_get_media(media) ? gst_sdp_media_get_media(media) : "";
    attrs.get("mid", m.mid);
    std::string label =
        "m-line " + std::to_string(i) + (m.mid.empty() ? std::string() : " (mid " + m.mid + ")");
    if (!m.mid.empty() && !mids.insert(m.mid).second) throw SdpError("duplicate a=mid:" + m.mid);
    m.port_zero = gst_sdp_media_get_port(media) == 0;
    m.bundle_only = attrs.has("bundle-only");
    m.direction = attrs.direction();
    if (m.direction.empty()) m.direction = session_dir.empty() ? "sendrecv" : session_dir;

    auto rtpmaps = attrs.all("rtpmap");
    for (guint f = 0; f < gst_sdp_media_formats_len(media); ++f) {
      std::string_view fmt = gst_sdp_media_get_format(media, f);
      unsigned long long pt = 0;
      if (!parse_uint(fmt, pt)) continue;  // application m-lines: "webrtc-datachannel"
      std::string name;
      for (const std::string& r : rtpmaps) {
        auto sp = r.find_first_of(" \t");
        if (sp == std::string::npos || r.substr(0, sp) != fmt) continue;
        std::string_view enc = trim(std::string_view(r).substr(sp + 1));
        auto slash = enc.find('/');
        if (slash == std::string_view::npos || slash == 0)
          throw SdpError(label + ": malformed a=rtpmap:" + shorten(r));
        name = to_upper(enc.substr(0, slash));
        break;
      }
      if (name.empty()) name = static_codec(static_cast<unsigned>(pt));
      if (!name.empty() && std::find(m.codecs.begin(), m.codecs.end(), name) == m.codecs.end())
        m.codecs.push_back(name);
    }

    std::string ufrag, pwd, fp, setup;
    attrs.get("ice-ufrag", ufrag);
    attrs.get("ice-pwd", pwd);
    bool has_fp = attrs.get("fingerprint", fp);
    bool has_setup = attrs.get("setup", setup);
    if (has_fp && !valid_fingerprint(fp))
      throw SdpError(label + ": malformed a=fingerprint: '" + shorten(fp) + "'");
    if (has_setup && setup != "actpass" && setup != "active" && setup != "passive" &&
        setup != "holdconn")
      throw SdpError(label + ": bad a=setup:" + shorten(setup));
    if (summary.ice_ufrag.empty() && !ufrag.empty()) summary.ice_ufrag = ufrag;
    if (summary.ice_pwd.empty() && !pwd.empty()) summary.ice_pwd = pwd;

    // A disabled or bundle-only section takes its transport from elsewhere.
    if (!m.port_zero && !m.bundle_only) {
      if (ufrag.empty() && summary.ice_ufrag.empty())
        throw SdpError(label + ": missing a=ice-ufrag");
      if (pwd.empty() && summary.ice_pwd.empty()) throw SdpError(label + ": missing a=ice-pwd");
      if (!has_fp && !has_session_fp)
        throw SdpError(label + ": missing a=fingerprint (DTLS is required)");
      if (!has_setup && !has_session_setup) throw SdpError(label + ": missing a=setup");
    }
    summary.media.push_back(std::move(m));
  }

  for (const std::string& group : session.all("group")) {
    auto f = split_ws(group);
    if (f.empty() || f[0] != "BUNDLE") continue;
    for (size_t i = 1; i < f.size(); ++i)
      if (!mids.count(std::string(f[i])))
        throw SdpError("a=group:BUNDLE names mid '" + std::string(f[i]) + "' that no m-line has");
  }
  return summary;
}

std::string normalize_candidate(std::string_view candidate) {
  std::string_view c = trim(candidate);
  if (starts_with_icase(c, "a=")) c.remove_prefix(2);
  if (!starts_with_icase(c, "candidate:")) throw SdpError("not a candidate: '" + shorten(c) + "'");
  std::string_view value = c.substr(10);
  auto f = split_ws(value);
  auto fail = [&](const std::string& why) {
    throw SdpError("bad candidate '" + shorten(c, 100) + "': " + why);
  };
  if (f.size() < 8)
    fail("expected 'foundation component transport priority address port typ type'");
  unsigned long long component = 0, priority = 0, port = 0;
  if (!parse_uint(f[1], component) || component > 256) fail("bad component");
  if (!parse_uint(f[3], priority) || priority > 0xffffffffULL) fail("bad priority");
  if (!parse_uint(f[5], port) || port > 65535) fail("bad port");
  if (!iequals(f[6], "typ")) fail("expected 'typ' after the port");
  std::string type = to_lower(f[7]);
  if (type != "host" && type != "srflx" && type != "prflx" && type != "relay")
    fail("unknown candidate type '" + std::string(f[7]) + "'");
  std::string_view addr = f[4];
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);  // sloppy clients bracket IPv6
  if (addr.empty() || addr.find_first_of("[]") != std::string_view::npos) fail("bad address");

  std::string out = "candidate:";
  out.append(f[0]);
  out += ' ';
  out += component == 0 ? "1" : std::to_string(component);  // sloppy clients send 0
  out += ' ';
  out.append(f[2]);
  out += ' ';
  out += std::to_string(priority);
  out += ' ';
  out.append(addr);
  out += ' ';
  out += std::to_string(port);
  out += " typ ";
  out += type;
  for (size_t i = 8; i < f.size(); ++i) {
    out += ' ';
    out.append(f[i]);
  }
  return out;
}

TrickleFragment parse_trickle_fragment(std::string_view body) {
  if (trim(body).empty()) throw SdpError("empty trickle fragment");
  check_lines(body, false);
  SdpMessagePtr msg = parse_with_gst(body);
  TrickleFragment frag;
  Attrs session{msg.get(), nullptr};
  session.get("ice-ufrag", frag.ice_ufrag);
  session.get("ice-pwd", frag.ice_pwd);
  frag.end_of_candidates = session.has("end-of-candidates");

  std::string session_mid;
  session.get("mid", session_mid);
  for (const std::string& value : session.all("candidate"))
    frag.candidates.push_back({session_mid, -1, normalize_candidate("candidate:" + value)});

  for (guint i = 0; i < gst_sdp_message_medias_len(msg.get()); ++i) {
    Attrs attrs{nullptr, gst_sdp_message_get_media(msg.get(), i)};
    std::string mid, ufrag, pwd;
    attrs.get("mid", mid);
    if (frag.ice_ufrag.empty() && attrs.get("ice-ufrag", ufrag)) frag.ice_ufrag = ufrag;
    if (frag.ice_pwd.empty() && attrs.get("ice-pwd", pwd)) frag.ice_pwd = pwd;
    frag.end_of_candidates |= attrs.has("end-of-candidates");
    for (const std::string& value : attrs.all("candidate")) {
      frag.candidates.push_back(
          {mid, mid.empty() ? static_cast<int>(i) : -1, normalize_candidate("candidate:" + value)});
    }
  }
  return frag;
}

std::string announce_host_candidates(std::string_view sdp, const std::vector<std::string>& announced) {
  if (announced.empty()) return std::string(sdp);
  auto is_v6 = [](std::string_view a) { return a.find(':') != std::string_view::npos; };
  auto announced_for = [&](std::string_view addr) -> const std::string* {
    for (const std::string& a : announced)
      if (is_v6(a) == is_v6(addr)) return &a;
    return nullptr;
  };
  std::string out;
  out.reserve(sdp.size());
  while (!sdp.empty()) {
    size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol == std::string_view::npos ? sdp.size() : eol + 1);
    sdp.remove_prefix(line.size());
    std::string_view value = trim(line);
    if (starts_with_icase(value, "a=")) value.remove_prefix(2);
    auto f = split_ws(value);
    // foundation component transport priority address port typ host
    const std::string* to = f.size() >= 8 && starts_with_icase(f[0], "candidate:") &&
                                    iequals(f[6], "typ") && iequals(f[7], "host")
                                ? announced_for(f[4])
                                : nullptr;
    if (!to) {
      out.append(line);
      continue;
    }
    size_t at = static_cast<size_t>(f[4].data() - line.data());
    out.append(line.substr(0, at)).append(*to).append(line.substr(at + f[4].size()));
  }
  return out;
}

std::string to_crlf(std::string_view sdp) {
  std::string out;
  out.reserve(sdp.size() + 64);
  for (std::string_view line : split_lines(sdp)) {
    out.append(line);
    out += "\r\n";
  }
  // split_lines yields an empty last line for text ending in a newline.
  while (out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0)
    out.resize(out.size() - 2);
  return out;
}

}  // namespace rtcmesh::sig
