// rtcmesh-server's room page in headless Chromium, driven by
// tests/integration/browser/run.mjs --mode room: what it last reported.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signaling/json.h"
#include "tests/support/subprocess.h"

namespace rtcmesh::test {

// The next "stats" line of a run.mjs driver for which `pred` holds, within
// `within`; each stats line read is left in *last (for the failure message).
inline std::optional<std::string> next_stats(Subprocess& driver, std::string* last,
                                             const std::function<bool(const std::string&)>& pred,
                                             std::chrono::milliseconds within) {
  return driver.wait_for_line(
      [&](const std::string& l) {
        if (l.find("\"event\":\"stats\"") == std::string::npos) return false;
        *last = l;
        return pred(l);
      },
      within);
}

struct RoomPage {
  // Why a browser test cannot run here ("" when it can): Debian's chromium
  // and playwright-core next to `browser_dir` (RTCMESH_BROWSER_DIR).
  static std::string missing(const std::string& browser_dir) {
    namespace fs = std::filesystem;
    if (!fs::exists("/usr/bin/chromium")) return "/usr/bin/chromium is missing";
    if (!fs::exists(fs::path(browser_dir).parent_path() / "node_modules" / "playwright-core"))
      return "playwright-core is missing (scripts/install-deps runs npm ci)";
    return "";
  }
  // Opens `url` (http://…/room/NAME?peer=ID); `name` prefixes its output.
  // `extra`: more run.mjs options ({"--screenshot", "F.png"}).
  static std::unique_ptr<RoomPage> open(const std::string& browser_dir, const std::string& url,
                                        const std::string& name, int duration_s,
                                        std::string* error = nullptr,
                                        const std::vector<std::string>& extra = {}) {
    auto page = std::make_unique<RoomPage>();
    page->name = name;
    Subprocess::Options o;
    o.echo_prefix = "[" + name + "]";
    std::vector<std::string> argv{"node", browser_dir + "/run.mjs", "--mode", "room", "--url",
                                  url, "--duration", std::to_string(duration_s)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    page->proc = Subprocess::spawn(argv, o, error);
    return page->proc ? std::move(page) : nullptr;
  }

  std::string name;
  std::unique_ptr<Subprocess> proc;
  std::optional<std::string> joined_as;
  sig::Json stats;         // the last "stats" event: {peers, stats: {<peer>: {…}}}
  std::string last_error;  // an "error" event
  bool done = false;

  // Reads what the driver printed since the last call.
  void poll() {
    while (auto line = proc->read_line(std::chrono::milliseconds(0))) {
      auto j = sig::Json::parse(*line);
      if (!j || !j->is_object()) continue;
      auto event = j->get_string("event").value_or("");
      if (event == "joined") joined_as = j->get_string("peer");
      if (event == "stats") stats = *j;
      if (event == "error") last_error = j->get_string("message").value_or("?");
      if (event == "done") done = true;
    }
  }
  // The remote participants (SFU: publishers) the page shows now.
  std::vector<std::string> peers() {
    poll();
    std::vector<std::string> out;
    if (const sig::Json* p = stats.find("peers"); p && p->is_array())
      for (const sig::Json& id : p->as_array()) out.push_back(id.is_string() ? id.as_string() : "?");
    return out;
  }
  bool shows(const std::string& peer) {
    for (const auto& p : peers())
      if (p == peer) return true;
    return false;
  }
  // A counter of what the page decodes from `peer` (videoFramesDecoded,
  // audioSamples); -1 if it shows no such peer.
  int64_t stat(const std::string& peer, const char* field) {
    poll();
    const sig::Json* s = stats.find("stats");
    const sig::Json* p = s ? s->find(peer) : nullptr;
    const sig::Json* v = p ? p->find(field) : nullptr;
    return v && v->is_number() ? static_cast<int64_t>(v->as_double()) : -1;
  }
  std::string describe() const { return name + ": " + stats.dump() + " " + last_error; }

  // Mesh rooms: the page's chat sends `text` to every participant (at its
  // next poll, twice a second).
  bool send(const std::string& text) { return proc->write_stdin("send " + text + "\n"); }
  // Data to `to` ("" = everyone): a string as text, else `bytes` as binary.
  bool send(const std::string& to, const sig::Json& data, bool reliable) {
    sig::Json o = sig::Json::object({{"data", data}, {"to", to}, {"reliable", reliable}});
    return proc->write_stdin("sendjson " + o.dump() + "\n");
  }
  // Chat messages the page received from `peer` so far (their text).
  std::vector<std::string> messages_from(const std::string& peer) {
    std::vector<std::string> out;
    for (const sig::Json& msg : received_from(peer)) out.push_back(msg.get_string("data").value_or(""));
    return out;
  }
  // The same as the page reported them: {from, label, data, text, bytes}.
  std::vector<sig::Json> received_from(const std::string& peer) {
    poll();
    std::vector<sig::Json> out;
    if (const sig::Json* m = stats.find("messages"); m && m->is_array())
      for (const sig::Json& msg : m->as_array())
        if (msg.get_string("from").value_or("") == peer) out.push_back(msg);
    return out;
  }
};

}  // namespace rtcmesh::test
