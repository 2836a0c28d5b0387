// libFuzzer target: the JSON-RPC front end and the room service behind it
// (signaling/rooms/rooms.h RoomServer), driven like a WebSocket transport
// with a few fake connections, in mesh rooms and, with a fake RoomMedia
// standing in for rtcsfu, in SFU rooms.
// Input (text):
//   line 1: flags: s SFU rooms (catch-all attachment), a the media answers
//           later (op r), e the media fails every call, t token "s3cret",
//           p small limits, k a persistent room "keep"
//   then one event a line: connection digit 0-3, op, payload:
//     m<frame>  a text frame       o open    O open authorized   c closed
//     a alive   t<seconds> tick    r run the media's deferred replies
//     P<room>   add_publisher(room, "ext")   R<room> remove_publisher(room, "ext")
//     F<room>   media_failed(room, peer of the connection, publish|subscribe)
//     X<room>   close_room
// Every frame the server sends must be JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/json.h"
#include "signaling/rooms/rooms.h"
#include "tests/fuzz/fuzz_input.h"

using namespace rtcmesh::sig;

namespace {

const SfuTrack kOpus{"0", "audio", "OPUS"};
const SfuTrack kVp8{"1", "video", "VP8"};

class FakeMedia : public RoomMedia {
 public:
  void publish(const std::string&, const std::string& peer, const std::string&,
               std::function<void(PublishResult)> done) override {
    PublishResult result{"answer-for-" + peer, {kOpus, kVp8}, std::nullopt};
    if (fail) result.error = rpc::Error{rpc::kNoCommonCodec, "no common codec", Json()};
    reply([done, result] { done(result); });
  }
  void unpublish(const std::string&, const std::string&) override {}
  void offer(const std::string&, const SfuOffer& offer,
             std::function<void(const std::string&, const std::string&)> done) override {
    std::string sdp = "offer-sdp-" + std::to_string(offer.negotiation);
    bool f = fail;
    reply([done, sdp, f] { f ? done("", "offer failed") : done(sdp, ""); });
  }
  void answer(const std::string&, const std::string&, uint64_t, const std::string&,
              std::function<void(const std::string&)> done) override {
    std::string error = fail ? "answer refused" : "";
    reply([done, error] { done(error); });
  }
  void candidate(const std::string&, const std::string&, const std::string&, int,
                 const std::string&, const std::string&) override {}
  void unsubscribe(const std::string&, const std::string&) override {}

  // Runs the deferred replies, and those they defer in turn (an answer
  // leads to the next offer), up to a bound.
  void run_later() {
    for (int n = 0; n < 64 && !later.empty(); ++n) {
      std::function<void()> f = std::move(later.front());
      later.pop_front();
      f();
    }
  }
  bool sync = true, fail = false;

 private:
  std::deque<std::function<void()>> later;
  void reply(std::function<void()> f) {
    if (!sync) return later.push_back(std::move(f));
    f();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  rtcmesh::fuzz::Flags has(input);

  RoomServer::Config cfg;
  if (has('t')) cfg.token = "s3cret";
  if (has('p')) {
    cfg.max_rooms = 2;
    cfg.max_peers_per_room = 3;
    cfg.max_candidates = 4;
    cfg.max_message = 4096;
    cfg.max_batch = 4;
  }
  cfg.peer_timeout = std::chrono::seconds(10);
  cfg.ice_servers = {{"stun:stun.example.org:3478", "", ""}};

  FakeMedia media;
  media.sync = !has('a');
  media.fail = has('e');
  RoomServer server(cfg, [&](ConnId, const std::string& text) {
    std::string error;
    if (!Json::parse(text, &error)) {
      fprintf(stderr, "frame sent is not JSON (%s): %s\n", error.c_str(), text.c_str());
      __builtin_trap();
    }
  });
  if (has('s')) {
    SfuRoom::Limits limits;
    if (has('p')) limits = {2, 2, 3};
    server.attach_sfu("", &media, limits);
  }
  if (has('k')) (void)server.create_room("keep", RoomMode::kMesh);

  RoomServer::Time now = RoomServer::Time{} + std::chrono::seconds(1000);
  while (!input.empty()) {
    std::string_view line = rtcmesh::fuzz::take_line(input);
    if (line.size() < 2) continue;
    ConnId conn = 1 + static_cast<unsigned char>(line[0]) % 4;
    std::string payload(line.substr(2));
    switch (line[1]) {
      case 'm':
        server.on_message(conn, payload, now);
        break;
      case 'o':
        server.on_open(conn, now);
        break;
      case 'O':
        server.on_open(conn, now, true);
        break;
      case 'c':
        server.on_closed(conn);
        break;
      case 'a':
        server.on_alive(conn, now);
        break;
      case 't': {
        unsigned seconds = 0;
        for (char c : payload)
          if (c >= '0' && c <= '9' && seconds < 100000) seconds = seconds * 10 + (c - '0');
        now += std::chrono::seconds(seconds);
        for (ConnId gone : server.tick(now)) server.on_closed(gone);
        break;
      }
      case 'r':
        media.run_later();
        break;
      case 'P':
        (void)server.add_publisher(payload, "ext", {kOpus, kVp8});
        break;
      case 'R':
        server.remove_publisher(payload, "ext", "gone");
        break;
      case 'F': {
        auto who = server.peer_of(conn);
        server.media_failed(payload, who ? who->second : "ext",
                            conn % 2 ? "publish" : "subscribe", "fuzzed failure");
        break;
      }
      case 'X':
        (void)server.close_room(payload, "fuzzed");
        break;
      default:
        break;
    }
    (void)server.rooms();
    (void)server.sfu_rooms();
  }
  media.run_later();
  return 0;
}
