// SDP offers as real clients write them, for the signaling unit tests.
#pragma once

#include <string>

namespace rtcmesh::test {

constexpr const char* kFingerprint =
    "sha-256 DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09:DA:39:A3:EE:5E:6B:4B:0D:"
    "32:55:BF:EF";

// Chromium WHIP publisher: max-bundle, video bundle-only on port 0, trickle
// (no candidates), CRLF.
inline std::string chromium_offer(const std::string& dir = "sendonly") {
  std::string s =
      "v=0\r\n"
      "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"
      "s=-\r\n"
      "t=0 0\r\n"
      "a=group:BUNDLE 0 1\r\n"
      "a=extmap-allow-mixed\r\n"
      "a=msid-semantic: WMS\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
      "c=IN IP4 0.0.0.0\r\n"
      "a=rtcp:9 IN IP4 0.0.0.0\r\n"
      "a=ice-ufrag:EsAw\r\n"
      "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n"
      "a=ice-options:trickle\r\n"
      "a=fingerprint:" +
      std::string(kFingerprint) +
      "\r\n"
      "a=setup:actpass\r\n"
      "a=mid:0\r\n"
      "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
      "a=" +
      dir +
      "\r\n"
      "a=msid:- d46fb922-d52a-4e9c-aa87-444eadc1521b\r\n"
      "a=rtcp-mux\r\n"
      "a=rtpmap:111 opus/48000/2\r\n"
      "a=rtcp-fb:111 transport-cc\r\n"
      "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
      "a=rtpmap:63 red/48000/2\r\n"
      "a=fmtp:63 111/111\r\n"
      "a=rtpmap:9 G722/8000\r\n"
      "a=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:13 CN/8000\r\n"
      "a=rtpmap:110 telephone-event/48000\r\n"
      "a=rtpmap:126 telephone-event/8000\r\n"
      "a=ssrc:3485940486 cname:Xq3lvlDXUFtvn6Ya\r\n"
      "m=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103\r\n"
      "c=IN IP4 0.0.0.0\r\n"
      "a=rtcp:9 IN IP4 0.0.0.0\r\n"
      "a=ice-ufrag:EsAw\r\n"
      "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n"
      "a=ice-options:trickle\r\n"
      "a=fingerprint:" +
      std::string(kFingerprint) +
      "\r\n"
      "a=setup:actpass\r\n"
      "a=mid:1\r\n"
      "a=bundle-only\r\n"
      "a=" +
      dir +
      "\r\n"
      "a=rtcp-mux\r\n"
      "a=rtcp-rsize\r\n"
      "a=rtpmap:96 VP8/90000\r\n"
      "a=rtcp-fb:96 nack\r\n"
      "a=rtcp-fb:96 nack pli\r\n"
      "a=rtpmap:97 rtx/90000\r\n"
      "a=fmtp:97 apt=96\r\n"
      "a=rtpmap:102 H264/90000\r\n"
      "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
      "a=rtpmap:103 rtx/90000\r\n"
      "a=fmtp:103 apt=102\r\n";
  return s;
}

// webrtcbin 1.22: video first, mids video0/audio1, host candidate and
// end-of-candidates inside the offer, fingerprint after the mid. LF only
// (as some tools store it) to check both line endings.
inline std::string webrtcbin_offer(const std::string& dir = "sendrecv") {
  return std::string(
             "v=0\n"
             "o=- 3317924369386483443 0 IN IP4 0.0.0.0\n"
             "s=-\n"
             "t=0 0\n"
             "a=ice-options:trickle\n"
             "a=group:BUNDLE video0 audio1\n"
             "m=video 9 UDP/TLS/RTP/SAVPF 96\n"
             "c=IN IP4 0.0.0.0\n"
             "a=setup:actpass\n"
             "a=ice-ufrag:Cq0hR9sVPjZ7bNkDPrH3cMZKMmuW0pmv\n"
             "a=ice-pwd:1ZpQk5ZsJrB3cH7rtQN8K2GT8QqZ7aWg\n"
             "a=rtcp-mux\n"
             "a=rtcp-rsize\n"
             "a=") +
         dir +
         "\n"
         "a=rtpmap:96 VP8/90000\n"
         "a=rtcp-fb:96 nack pli\n"
         "a=framerate:30\n"
         "a=ssrc:1949425012 cname:user3427408473@host-1e3f3c5d\n"
         "a=mid:video0\n"
         "a=fingerprint:" +
         kFingerprint +
         "\n"
         "a=candidate:1 1 UDP 2015363327 127.0.0.1 54400 typ host\n"
         "a=end-of-candidates\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 97\n"
         "c=IN IP4 0.0.0.0\n"
         "a=setup:actpass\n"
         "a=ice-ufrag:Cq0hR9sVPjZ7bNkDPrH3cMZKMmuW0pmv\n"
         "a=ice-pwd:1ZpQk5ZsJrB3cH7rtQN8K2GT8QqZ7aWg\n"
         "a=rtcp-mux\n"
         "a=rtcp-rsize\n"
         "a=" +
         dir +
         "\n"
         "a=rtpmap:97 OPUS/48000/2\n"
         "a=fmtp:97 sprop-maxcapturerate=48000;sprop-stereo=0\n"
         "a=mid:audio1\n"
         "a=fingerprint:" +
         kFingerprint + "\n";
}

// A minimal answer as a handler would produce (LF endings on purpose: the
// endpoint must send CRLF).
inline std::string answer_sdp() {
  return "v=0\n"
         "o=- 1 0 IN IP4 0.0.0.0\n"
         "s=-\n"
         "t=0 0\n"
         "a=group:BUNDLE 0 1\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111\n"
         "c=IN IP4 0.0.0.0\n"
         "a=mid:0\n"
         "a=recvonly\n"
         "a=rtpmap:111 OPUS/48000/2\n"
         "a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host\n"
         "a=end-of-candidates\n";
}

}  // namespace rtcmesh::test
