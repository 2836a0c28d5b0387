// page.html's one-connection client in headless Chromium (run.mjs --mode
// rtcpost): a plain RTCPeerConnection POSTed to /rtc/<room> with only a data
// channel, the room protocol over that channel. What it last reported.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signaling/json.h"
#include "tests/support/room_page.h"
#include "tests/support/subprocess.h"

namespace rtcmesh::test {

struct PostPage {
  // `endpoint`: http://H:P/rtc/ROOM; the page joins ROOM as `peer`.
  static std::unique_ptr<PostPage> open(const std::string& browser_dir, const std::string& endpoint,
                                        const std::string& peer, int duration_s,
                                        std::string* error = nullptr) {
    auto page = std::make_unique<PostPage>();
    Subprocess::Options o;
    o.echo_prefix = "[" + peer + "]";
    page->proc =
        Subprocess::spawn({"node", browser_dir + "/run.mjs", "--mode", "rtcpost", "--endpoint",
                           endpoint, "--peer", peer, "--duration", std::to_string(duration_s)},
                          o, error);
    return page->proc ? std::move(page) : nullptr;
  }

  std::unique_ptr<Subprocess> proc;
  bool joined = false;
  sig::Json stats;                // the last "stats" event
  std::vector<sig::Json> called;  // "called" events: {name, result | error}
  std::string last_error;

  void poll() {
    while (auto line = proc->read_line(std::chrono::milliseconds(0))) {
      auto j = sig::Json::parse(*line);
      if (!j || !j->is_object()) continue;
      auto event = j->get_string("event").value_or("");
      if (event == "published") joined = true;
      if (event == "stats") stats = *j;
      if (event == "called") called.push_back(*j);
      if (event == "error") last_error = j->get_string("message").value_or("?");
    }
  }
  // Calls window.rtcmeshTest.<name>(arg) at the driver's next poll.
  bool call(const std::string& name, const sig::Json& arg = sig::Json()) {
    return proc->write_stdin("call " + name + " " + arg.dump() + "\n");
  }
  // The result of the last call of `name`, once it came.
  std::optional<sig::Json> result_of(const std::string& name) {
    poll();
    for (auto it = called.rbegin(); it != called.rend(); ++it)
      if (it->get_string("name").value_or("") == name) return *it;
    return std::nullopt;
  }
  // Video frames the page decoded from publisher `peer` (-1: no m-line carries it now).
  int64_t frames_from(const std::string& peer) {
    poll();
    const sig::Json* p = stats.find("publishers");
    const sig::Json* v = p ? p->find(peer) : nullptr;
    const sig::Json* f = v ? v->find("framesDecoded") : nullptr;
    return f && f->is_number() ? static_cast<int64_t>(f->as_double()) : -1;
  }
  // Mean [r, g, b] of what the page shows of `peer` (empty when none).
  std::vector<int> colour_of(const std::string& peer) {
    poll();
    std::vector<int> out;
    const sig::Json* p = stats.find("publishers");
    const sig::Json* v = p ? p->find(peer) : nullptr;
    const sig::Json* c = v ? v->find("colour") : nullptr;
    if (c && c->is_array())
      for (const sig::Json& x : c->as_array())
        out.push_back(x.is_number() ? int(x.as_double()) : -1);
    return out;
  }
  // JSON-RPC messages the page got that answered nothing it asked (raw()).
  std::vector<sig::Json> replies() {
    poll();
    std::vector<sig::Json> out;
    if (const sig::Json* r = stats.find("replies"); r && r->is_array())
      for (const sig::Json& x : r->as_array()) out.push_back(x);
    return out;
  }
  // Notifications (method) the page got.
  size_t notes(const std::string& method) {
    poll();
    size_t n = 0;
    if (const sig::Json* r = stats.find("notes"); r && r->is_array())
      for (const sig::Json& x : r->as_array()) n += x.get_string("method").value_or("") == method;
    return n;
  }
  std::string describe() const { return stats.dump() + " " + last_error; }
};

}  // namespace rtcmesh::test
