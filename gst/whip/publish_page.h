// The WHIP publish page (gst/whip/publish.html, embedded at build time):
// camera and microphone choice with a preview, codec choice, publish/stop,
// reconnection. rtcwhipsrc serves it at GET /, rtcmesh-server at
// GET /publish/<room>.
#pragma once

#include <string>
#include <vector>

namespace rtcmesh {

struct PublishPage {
  std::string endpoint;                  // the WHIP path the page POSTs to
  bool ask_room = false;                 // the page asks for <room> (appended to endpoint)
  bool ask_name = false;                 // and for <name> after it
  std::vector<std::string> video_codecs; // what the server takes, in its order (empty: all)
  std::vector<std::string> audio_codecs;
};

std::string whip_publish_page(const PublishPage& page);

}  // namespace rtcmesh
