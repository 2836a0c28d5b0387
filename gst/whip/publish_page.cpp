#include "gst/whip/publish_page.h"

#include "gst/media/codec.h"

extern const char kRtcmeshPublishPage[];  // publish.html (scripts/embed_page.py)

namespace rtcmesh {

namespace {

// Our values go into HTML attributes: keep them inert.
std::string attribute(const std::string& value) {
  std::string out;
  for (char c : value) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// The names, or every codec of `kind` we take when there are none.
std::string joined(const std::vector<std::string>& names, media::Kind kind) {
  std::vector<std::string> all;
  for (auto c : media::codecs_of(kind)) all.push_back(media::codec_info(c).name);
  std::string out;
  for (const auto& name : names.empty() ? all : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

void fill(std::string& page, const std::string& key, const std::string& value) {
  page.replace(page.find(key), key.size(), attribute(value));
}

}  // namespace

std::string whip_publish_page(const PublishPage& p) {
  std::string page = kRtcmeshPublishPage;
  fill(page, "@ENDPOINT@", p.endpoint);
  fill(page, "@ASK@", std::string(p.ask_room ? "room," : "") + (p.ask_name ? "name" : ""));
  fill(page, "@VIDEO_CODECS@", joined(p.video_codecs, media::Kind::kVideo));
  fill(page, "@AUDIO_CODECS@", joined(p.audio_codecs, media::Kind::kAudio));
  return page;
}

}  // namespace rtcmesh
