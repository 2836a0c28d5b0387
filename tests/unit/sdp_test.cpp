// SDP offer validation and RFC 8840 trickle fragments (signaling/http/sdp.h).
#include "signaling/http/sdp.h"

#include <gtest/gtest.h>

#include "tests/unit/sdp_samples.h"

namespace rtcmesh::sig {
namespace {

using test::chromium_offer;
using test::webrtcbin_offer;

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

std::string remove_all(std::string s, const std::string& what) {
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what))
    s.erase(pos, what.size());
  return s;
}

// The reason of the SdpError validate_offer throws, or "" when it passes.
std::string offer_error(const std::string& sdp) {
  try {
    validate_offer(sdp);
  } catch (const SdpError& e) {
    return e.what();
  }
  return "";
}

TEST(ValidateOffer, ChromiumMaxBundleWithBundleOnlySecondLine) {
  SdpSummary s = validate_offer(chromium_offer());
  ASSERT_EQ(s.media.size(), 2u);
  EXPECT_EQ(s.ice_ufrag, "EsAw");
  EXPECT_EQ(s.ice_pwd, "bP+XJMM09aR8AiX1jdukzR6Y");

  const MediaSummary& a = s.media[0];
  EXPECT_EQ(a.kind, "audio");
  EXPECT_EQ(a.mid, "0");
  EXPECT_EQ(a.direction, "sendonly");
  EXPECT_FALSE(a.port_zero);
  EXPECT_FALSE(a.bundle_only);
  EXPECT_EQ(a.codecs, (std::vector<std::string>{"OPUS", "RED", "G722", "PCMU", "PCMA", "CN",
                                                "TELEPHONE-EVENT"}));

  const MediaSummary& v = s.media[1];
  EXPECT_EQ(v.kind, "video");
  EXPECT_EQ(v.mid, "1");
  EXPECT_TRUE(v.port_zero);
  EXPECT_TRUE(v.bundle_only);
  EXPECT_TRUE(v.active());
  EXPECT_EQ(v.codecs, (std::vector<std::string>{"VP8", "RTX", "H264"}));
  EXPECT_EQ(s.mline_index("1"), 1);
  EXPECT_EQ(s.mline_index("7"), -1);
}

TEST(ValidateOffer, WebrtcbinStyleWithLfEndingsAndCandidates) {
  SdpSummary s = validate_offer(webrtcbin_offer());
  ASSERT_EQ(s.media.size(), 2u);
  EXPECT_EQ(s.media[0].kind, "video");
  EXPECT_EQ(s.media[0].mid, "video0");
  EXPECT_EQ(s.media[0].codecs, std::vector<std::string>{"VP8"});
  EXPECT_EQ(s.media[0].direction, "sendrecv");
  EXPECT_EQ(s.media[1].mid, "audio1");
  EXPECT_EQ(s.media[1].codecs, std::vector<std::string>{"OPUS"});
  EXPECT_EQ(s.ice_ufrag, "Cq0hR9sVPjZ7bNkDPrH3cMZKMmuW0pmv");
}

TEST(ValidateOffer, RecvonlyOfferWithoutCandidates) {
  SdpSummary s = validate_offer(webrtcbin_offer("recvonly"));
  EXPECT_EQ(s.media[0].direction, "recvonly");
  EXPECT_EQ(s.media[1].direction, "recvonly");
}

TEST(ValidateOffer, SessionLevelIceAndFingerprintAreEnough) {
  std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
      "a=fingerprint:" +
      std::string(test::kFingerprint) +
      "\r\na=setup:actpass\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\r\na=rtpmap:96 H264/90000\r\n";
  SdpSummary s = validate_offer(sdp);
  EXPECT_EQ(s.ice_ufrag, "abcd");
  EXPECT_EQ(s.media[0].codecs, std::vector<std::string>{"H264"});
  EXPECT_EQ(s.media[0].direction, "sendrecv");
}

TEST(ValidateOffer, DisabledLineNeedsNoTransport) {
  // Port 0 without bundle-only = a rejected/disabled section: no ICE needed.
  std::string sdp = webrtcbin_offer() + "m=video 0 UDP/TLS/RTP/SAVPF 98\na=mid:off\na=inactive\n";
  SdpSummary s = validate_offer(sdp);
  ASSERT_EQ(s.media.size(), 3u);
  EXPECT_TRUE(s.media[2].port_zero);
  EXPECT_FALSE(s.media[2].active());
}

TEST(ValidateOffer, MalformedCasesGiveTheirReason) {
  const std::string good = chromium_offer();
  struct Case {
    std::string sdp;
    std::string reason;
  } cases[] = {
      {"", "empty SDP"},
      {"  \r\n\r\n", "empty SDP"},
      {"hello world", "must start with v=0"},
      {"v=1\r\n" + good.substr(5), "must start with v=0"},
      {replace(good, "s=-\r\n", "s=-\r\nthis is not sdp\r\n"), "line 4 is not of the form x=value"},
      {replace(good, "s=-\r\n", "S=-\r\n"), "line 3 is not of the form x=value"},
      {replace(good, "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n", ""), "missing o= line"},
      {replace(good, "s=-\r\n", ""), "missing s= line"},
      {replace(good, "t=0 0\r\n", ""), "missing t= line"},
      {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no m= line"},
      {replace(good, "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=audio 9"),
       "m-line 0 ('m=audio 9') is malformed"},
      {replace(good, "m=audio 9 UDP", "m=audio x9 UDP"), "bad port 'x9'"},
      {replace(good, "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=audio 9 UDP/TLS/RTP/SAVPF opus"),
       "bad RTP payload type 'opus'"},
      {replace(good, "SAVPF 96 97", "SAVPF 300 97"), "bad RTP payload type '300'"},
      {remove_all(good, "a=ice-ufrag:EsAw\r\n"), "m-line 0 (mid 0): missing a=ice-ufrag"},
      {remove_all(good, "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n"), "missing a=ice-pwd"},
      {remove_all(good, "a=fingerprint:" + std::string(test::kFingerprint) + "\r\n"),
       "missing a=fingerprint"},
      {remove_all(good, "a=setup:actpass\r\n"), "m-line 0 (mid 0): missing a=setup"},
      {replace(good, "a=setup:actpass", "a=setup:sideways"), "bad a=setup:sideways"},
      {replace(good, "a=fingerprint:sha-256 DA", "a=fingerprint:sha-256 ZZ"),
       "malformed a=fingerprint"},
      {replace(good, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus"), "malformed a=rtpmap"},
      {replace(good, "a=mid:1", "a=mid:0"), "duplicate a=mid:0"},
      {replace(good, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2"), "a=group:BUNDLE names mid '2'"},
      {replace(good, "s=-\r\n", "s=-\x01\r\n"), "control character"},
  };
  for (const Case& c : cases) {
    std::string why = offer_error(c.sdp);
    EXPECT_NE(why.find(c.reason), std::string::npos)
        << "expected '" << c.reason << "', got '" << why << "' for:\n"
        << c.sdp.substr(0, 200);
  }
}

TEST(ValidateOffer, SecondLineNotBundleOnlyNeedsItsOwnTransport) {
  // Without bundle-only and with a real port the second section needs ICE
  // and DTLS; session level or the first section's ufrag count.
  std::string sdp = remove_all(chromium_offer(), "a=bundle-only\r\n");
  sdp = replace(sdp, "m=video 0 ", "m=video 9 ");
  EXPECT_EQ(offer_error(sdp), "");
  sdp = replace(sdp, "a=setup:actpass\r\na=mid:1", "a=mid:1");
  EXPECT_EQ(offer_error(sdp), "m-line 1 (mid 1): missing a=setup");
}

TEST(ValidateOffer, TooManyMediaSections) {
  std::string sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  for (int i = 0; i < 70; ++i) sdp += "m=audio 0 RTP/AVP 0\r\n";
  EXPECT_NE(offer_error(sdp).find("too many m= lines"), std::string::npos);
}

TEST(TrickleFragment, Rfc9725Example) {
  const char* body =
      "a=ice-options:trickle ice2\r\n"
      "a=group:BUNDLE 0 1\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
      "a=mid:0\r\n"
      "a=ice-ufrag:EsAw\r\n"
      "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
      "a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag "
      "EsAw network-id 1\r\n"
      "a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0\r\n"
      "a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active\r\n"
      "a=end-of-candidates\r\n";
  TrickleFragment f = parse_trickle_fragment(body);
  EXPECT_EQ(f.ice_ufrag, "EsAw");
  EXPECT_EQ(f.ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
  EXPECT_TRUE(f.end_of_candidates);
  ASSERT_EQ(f.candidates.size(), 3u);
  EXPECT_EQ(f.candidates[0].mid, "0");
  EXPECT_EQ(f.candidates[0].mline_index, -1);  // resolved against the offer by the endpoint
  EXPECT_EQ(f.candidates[0].candidate,
            "candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag "
            "EsAw network-id 1");
  EXPECT_EQ(f.candidates[2].candidate,
            "candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active");
}

TEST(TrickleFragment, MatchesByMidNotByMLineKind) {
  // One client writes "m=audio 9 RTP/AVP 0" for every section, video included.
  const char* body =
      "a=ice-ufrag:EsAw\n"
      "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\n"
      "m=audio 9 RTP/AVP 0\n"
      "a=mid:video0\n"
      "a=candidate:1 1 UDP 2015363327 10.0.0.5 50000 typ host\n"
      "m=audio 9 RTP/AVP 0\n"
      "a=mid:audio1\n"
      "a=candidate:2 1 UDP 2015363327 10.0.0.5 50002 typ host\n";
  TrickleFragment f = parse_trickle_fragment(body);
  ASSERT_EQ(f.candidates.size(), 2u);
  EXPECT_EQ(f.candidates[0].mid, "video0");
  EXPECT_EQ(f.candidates[1].mid, "audio1");
  EXPECT_FALSE(f.end_of_candidates);
  EXPECT_EQ(f.ice_ufrag, "EsAw");
}

TEST(TrickleFragment, SloppyBrowserSdkInputIsNormalised) {
  // Only a=mid (no ufrag), component 0, bracketed IPv6, mDNS, srflx with raddr.
  const char* body =
      "m=audio 9 RTP/AVP 0\r\n"
      "a=mid:0\r\n"
      "a=candidate:842163049 0 udp 1677729535 [2001:db8::7] 54321 typ srflx raddr [fe80::1] "
      "rport 9\r\n"
      "a=candidate:1 1 udp 2122260223 5f0c8b4a-4a3e-4f6e-9d2e-1c1d1e1f2a2b.local 61764 typ "
      "host\r\n"
      "a=end-of-candidates\r\n";
  TrickleFragment f = parse_trickle_fragment(body);
  EXPECT_TRUE(f.ice_ufrag.empty());
  ASSERT_EQ(f.candidates.size(), 2u);
  EXPECT_EQ(f.candidates[0].candidate,
            "candidate:842163049 1 udp 1677729535 2001:db8::7 54321 typ srflx raddr [fe80::1] "
            "rport 9");
  EXPECT_NE(f.candidates[1].candidate.find(".local 61764 typ host"), std::string::npos);
  EXPECT_TRUE(f.end_of_candidates);
}

TEST(TrickleFragment, CandidatesWithoutSection) {
  // Session-level a=mid + candidates, and bare candidates with no mid at all.
  TrickleFragment f =
      parse_trickle_fragment("a=mid:1\na=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\n");
  ASSERT_EQ(f.candidates.size(), 1u);
  EXPECT_EQ(f.candidates[0].mid, "1");
  f = parse_trickle_fragment("a=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\n");
  ASSERT_EQ(f.candidates.size(), 1u);
  EXPECT_EQ(f.candidates[0].mid, "");
  EXPECT_EQ(f.candidates[0].mline_index, -1);
  // A section without a=mid is known by its position.
  f = parse_trickle_fragment(
      "m=audio 9 RTP/AVP 0\na=mid:0\nm=audio 9 RTP/AVP 0\n"
      "a=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\n");
  ASSERT_EQ(f.candidates.size(), 1u);
  EXPECT_EQ(f.candidates[0].mid, "");
  EXPECT_EQ(f.candidates[0].mline_index, 1);
}

TEST(TrickleFragment, EndOfCandidatesOnly) {
  TrickleFragment f = parse_trickle_fragment("a=end-of-candidates\r\n");
  EXPECT_TRUE(f.end_of_candidates);
  EXPECT_TRUE(f.candidates.empty());
}

TEST(TrickleFragment, WhatCannotBeUnderstoodIsRejectedWithAReason) {
  struct Case {
    std::string body, reason;
  } cases[] = {
      {"", "empty trickle fragment"},
      {"candidate:1 1 udp 1 1.2.3.4 5 typ host\n", "not of the form x=value"},
      {"a=mid:0\na=candidate:1 1 udp\n", "expected 'foundation component"},
      {"a=candidate:1 x udp 1 1.2.3.4 5 typ host\n", "bad component"},
      {"a=candidate:1 1 udp -5 1.2.3.4 5 typ host\n", "bad priority"},
      {"a=candidate:1 1 udp 1 1.2.3.4 99999 typ host\n", "bad port"},
      {"a=candidate:1 1 udp 1 1.2.3.4 5 type host\n", "expected 'typ'"},
      {"a=candidate:1 1 udp 1 1.2.3.4 5 typ bogus\n", "unknown candidate type 'bogus'"},
      {"a=candidate:1 1 udp 1 [::1 5 typ host\n", "bad address"},
  };
  for (const Case& c : cases) {
    std::string why;
    try {
      parse_trickle_fragment(c.body);
    } catch (const SdpError& e) {
      why = e.what();
    }
    EXPECT_NE(why.find(c.reason), std::string::npos)
        << "expected '" << c.reason << "', got '" << why << "' for " << c.body;
  }
}

TEST(Sdp, AnnouncedAddressesReplaceHostCandidatesOfTheirFamily) {
  const std::string sdp =
      "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
      "a=candidate:1 1 UDP 2015363327 10.0.0.5 40000 typ host\r\n"
      "a=candidate:2 1 UDP 2015363327 fd00::5 40002 typ host\r\n"
      "a=candidate:3 1 UDP 1679819007 198.51.100.1 40004 typ srflx raddr 10.0.0.5 rport 40000\r\n"
      "a=mid:0\r\n";
  const std::string v4 = announce_host_candidates(sdp, {"203.0.113.7"});
  EXPECT_NE(v4.find("a=candidate:1 1 UDP 2015363327 203.0.113.7 40000 typ host\r\n"), std::string::npos);
  EXPECT_NE(v4.find("fd00::5 40002 typ host"), std::string::npos);  // no IPv6 announced
  EXPECT_NE(v4.find("198.51.100.1 40004 typ srflx raddr 10.0.0.5"), std::string::npos);
  EXPECT_EQ(v4.find("10.0.0.5 40000 typ host"), std::string::npos);
  const std::string both = announce_host_candidates(sdp, {"2001:db8::9", "203.0.113.7"});
  EXPECT_NE(both.find("2001:db8::9 40002 typ host"), std::string::npos);
  EXPECT_NE(both.find("203.0.113.7 40000 typ host"), std::string::npos);
  EXPECT_EQ(announce_host_candidates(sdp, {}), sdp);
  // One trickled candidate, as webrtcbin's on-ice-candidate gives it.
  EXPECT_EQ(announce_host_candidates("candidate:1 1 UDP 2015363327 10.0.0.5 40000 typ host", {"192.0.2.1"}),
            "candidate:1 1 UDP 2015363327 192.0.2.1 40000 typ host");
}

TEST(Sdp, ToCrlf) {
  EXPECT_EQ(to_crlf("v=0\no=x\n"), "v=0\r\no=x\r\n");
  EXPECT_EQ(to_crlf("v=0\r\no=x"), "v=0\r\no=x\r\n");
  EXPECT_EQ(to_crlf("v=0\r\n\r\n\n"), "v=0\r\n");
  EXPECT_EQ(normalize_candidate("a=candidate:1 0 UDP 5 [::1] 9 typ HOST"),
            "candidate:1 1 UDP 5 ::1 9 typ host");
}

}  // namespace
}  // namespace rtcmesh::sig
