// The native engine's data channels without sockets: DCEP messages, then two
// SctpAssociations (usrsctp, AF_CONN) back to back in memory, directly and
// through two DtlsTransports' application data, as the engine runs them:
// one owner thread that runs the deferred work and drives usrsctp's timers.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "gst/engine/dtls.h"
#include "gst/engine/sctp.h"
#include "gst/peer/dtls_certificate.h"

using namespace rtcmesh::engine;
using namespace std::chrono_literals;

TEST(Dcep, OpenRoundTripsAndTruncatedIsRejected) {
  DcepOpen open;
  open.channel_type = 0x81;
  open.priority = 256;
  open.reliability = 0;
  open.label = "rtcmesh-unreliable";
  open.protocol = "p";
  auto bytes = build_dcep_open(open);
  ASSERT_EQ(bytes.size(), 12 + open.label.size() + 1);
  EXPECT_EQ(bytes[0], kDcepOpen);
  DcepOpen back;
  ASSERT_TRUE(parse_dcep_open(bytes.data(), bytes.size(), &back));
  EXPECT_EQ(back.label, open.label);
  EXPECT_EQ(back.protocol, "p");
  EXPECT_EQ(back.priority, 256);
  EXPECT_FALSE(back.ordered());
  EXPECT_FALSE(back.reliable());
  EXPECT_FALSE(parse_dcep_open(bytes.data(), bytes.size() - 1, &back));
  EXPECT_FALSE(parse_dcep_open(bytes.data(), 11, &back));
  bytes[0] = kDcepAck;
  EXPECT_FALSE(parse_dcep_open(bytes.data(), bytes.size(), &back));
}

namespace {

std::vector<std::vector<rtcmesh::sig::DtlsFingerprint>> fingerprints_of(const DtlsContext& c) {
  std::string f = c.fingerprint();
  std::string hex = f.substr(f.find(' ') + 1);
  std::string digest;
  for (size_t i = 0; i + 1 < hex.size(); i += 3) digest += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return {{{"sha-256", digest}}};
}

const DtlsContext& context() {
  static DtlsContext c(rtcmesh::peer::dtls_certificate_pem());
  return c;
}

// One side: its association, what it heard, and (with DTLS) its transport.
struct Side {
  std::unique_ptr<DtlsTransport> dtls;
  std::unique_ptr<SctpAssociation> sctp;
  std::vector<std::string> opened, closed;
  std::vector<DataChannelMessage> messages;
  bool up = false;
};

// The owner thread's loop: deferred work, packets between the sides (in
// memory, or as DTLS records), usrsctp's timers.
struct Link {
  std::mutex lock;
  std::deque<std::function<void()>> tasks;
  std::deque<std::pair<int, std::string>> wire;  // (to side, bytes)
  Side side[2];
  bool dtls = false;
  int drop_percent = 0;  // of the packets on the wire, lost (pseudo-random)
  uint32_t rng = 12345;

  SctpAssociation::Defer defer() {
    return [this](std::function<void()> task) {
      std::lock_guard g(lock);
      tasks.push_back(std::move(task));
    };
  }

  void make(bool with_dtls) {
    dtls = with_dtls;
    for (int i = 0; i < 2; ++i) {
      bool client = i == 0;  // side 0 is the DTLS client (even streams)
      Side& s = side[i];
      if (dtls) {
        s.dtls = std::make_unique<DtlsTransport>(context(), client ? DtlsTransport::Role::kClient
                                                                   : DtlsTransport::Role::kServer,
                                                 fingerprints_of(context()), [this, i](const uint8_t* d, size_t n) {
                                                   wire.emplace_back(1 - i, std::string(d, d + n));
                                                 });
        s.dtls->set_receive([&s](const uint8_t* d, size_t n) { s.sctp->on_packet(d, n); });
      }
      SctpAssociation::Events e;
      e.send = [this, i, &s](const uint8_t* d, size_t n) {
        if (s.dtls) return void(s.dtls->send(d, n));
        wire.emplace_back(1 - i, std::string(d, d + n));
      };
      e.channel_open = [&s](const std::string& label) { s.opened.push_back(label); };
      e.channel_closed = [&s](const std::string& label) { s.closed.push_back(label); };
      e.message = [&s](const DataChannelMessage& m) { s.messages.push_back(m); };
      e.up = [&s] { s.up = true; };
      s.sctp = std::make_unique<SctpAssociation>(client, defer(), std::move(e));
    }
  }

  void start() {
    if (dtls) {
      side[0].dtls->start();
      side[1].dtls->start();
    } else {
      side[0].sctp->connect();
      side[1].sctp->connect();
    }
  }

  // Runs until `done` or `limit`.
  bool run(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      bool moved = false;
      std::deque<std::function<void()>> now;
      {
        std::lock_guard g(lock);
        now.swap(tasks);
      }
      for (auto& t : now) t(), moved = true;
      while (!wire.empty()) {
        auto [to, bytes] = std::move(wire.front());
        wire.pop_front();
        moved = true;
        rng = rng * 1103515245u + 12345u;
        if (drop_percent && int((rng >> 16) % 100) < drop_percent) continue;
        Side& s = side[to];
        auto* d = reinterpret_cast<const uint8_t*>(bytes.data());
        if (s.dtls) {
          auto before = s.dtls->state();
          s.dtls->on_datagram(d, bytes.size());
          if (before != DtlsTransport::State::kConnected && s.dtls->state() == DtlsTransport::State::kConnected)
            s.sctp->connect();
        } else {
          s.sctp->on_packet(d, bytes.size());
        }
      }
      for (Side& s : side)
        if (s.dtls) {
          auto due = s.dtls->next_timeout();
          if (due && *due <= std::chrono::steady_clock::now()) s.dtls->on_timeout();
        }
      SctpAssociation::handle_timers();
      if (done()) return true;
      if (!moved) std::this_thread::sleep_for(2ms);
    }
    return done();
  }
};

void exchange(Link& link) {
  Side& client = link.side[0];
  Side& server = link.side[1];
  // The server (the SFU's offerer) opens both channels; messages sent
  // before the association is up wait for it.
  server.sctp->open_channel("rtcmesh", true);
  server.sctp->open_channel("rtcmesh-unreliable", false);
  EXPECT_TRUE(server.sctp->send("rtcmesh", "early", true));
  EXPECT_FALSE(server.sctp->send("nope", "x", true));
  EXPECT_FALSE(server.sctp->send("rtcmesh", std::string(SctpAssociation::kMaxMessageSize + 1, 'x'), false));
  link.start();
  ASSERT_TRUE(link.run([&] { return client.opened.size() == 2 && server.opened.size() == 2; }))
      << "client heard " << client.opened.size() << " opens, server " << server.opened.size() << " acks";
  EXPECT_TRUE(client.up && server.up);
  EXPECT_EQ(client.opened[0], "rtcmesh");
  EXPECT_EQ(client.opened[1], "rtcmesh-unreliable");

  // 1000 reliable messages in order, then text/binary/empty/large, both ways.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(server.sctp->send("rtcmesh", "m" + std::to_string(i), true));
  ASSERT_TRUE(link.run([&] { return client.messages.size() == 1001; }, 10s)) << client.messages.size();
  EXPECT_EQ(client.messages[0].data, "early");
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(client.messages[size_t(i) + 1].data, "m" + std::to_string(i));
  client.messages.clear();

  std::string big(100000, 'b');
  ASSERT_TRUE(client.sctp->send("rtcmesh", "hello", true));
  ASSERT_TRUE(client.sctp->send("rtcmesh", std::string("\0\1\2", 3), false));
  ASSERT_TRUE(client.sctp->send("rtcmesh", "", true));
  ASSERT_TRUE(client.sctp->send("rtcmesh", "", false));
  ASSERT_TRUE(client.sctp->send("rtcmesh-unreliable", "fast", true));
  ASSERT_TRUE(client.sctp->send("rtcmesh", big, false));
  ASSERT_TRUE(link.run([&] { return server.messages.size() == 6; })) << server.messages.size();
  auto find = [&](const std::string& label, const std::string& data) -> const DataChannelMessage* {
    for (const auto& m : server.messages)
      if (m.label == label && m.data == data) return &m;
    return nullptr;
  };
  ASSERT_TRUE(find("rtcmesh", "hello"));
  EXPECT_TRUE(find("rtcmesh", "hello")->text);
  ASSERT_TRUE(find("rtcmesh", std::string("\0\1\2", 3)));
  EXPECT_FALSE(find("rtcmesh", std::string("\0\1\2", 3))->text);
  ASSERT_TRUE(find("rtcmesh-unreliable", "fast"));
  ASSERT_TRUE(find("rtcmesh", big));
  int empties = 0;
  for (const auto& m : server.messages)
    if (m.data.empty()) empties += m.text ? 1 : 10;
  EXPECT_EQ(empties, 11);  // one empty string, one empty binary

  // The client opens its own channel (even stream): the server takes it.
  client.sctp->open_channel("mine", true);
  ASSERT_TRUE(link.run([&] { return server.opened.size() == 3 && client.opened.size() == 3; }));
  EXPECT_EQ(server.opened[2], "mine");
  ASSERT_TRUE(server.sctp->send("mine", "back", true));
  ASSERT_TRUE(link.run([&] { return !client.messages.empty(); }));
  EXPECT_EQ(client.messages[0].label, "mine");
  EXPECT_EQ(client.messages[0].data, "back");

  // Closing (stream resets, RFC 8831 §6.7): the client closes its own
  // channel and one the server opened; both sides see both go, the rest stays.
  client.sctp->close_channel("mine");
  client.sctp->close_channel("rtcmesh-unreliable");
  EXPECT_FALSE(client.sctp->send("mine", "late", true));
  ASSERT_TRUE(link.run([&] { return server.closed.size() == 2 && client.closed.size() == 2; }))
      << server.closed.size() << " " << client.closed.size();
  for (Side* s : {&client, &server}) {
    EXPECT_FALSE(s->sctp->has_channel("mine"));
    EXPECT_FALSE(s->sctp->has_channel("rtcmesh-unreliable"));
    EXPECT_TRUE(s->sctp->has_channel("rtcmesh"));
  }
  EXPECT_FALSE(server.sctp->send("rtcmesh-unreliable", "x", true));
  client.messages.clear();
  ASSERT_TRUE(server.sctp->send("rtcmesh", "still here", true));
  ASSERT_TRUE(link.run([&] { return !client.messages.empty(); }));
  EXPECT_EQ(client.messages[0].data, "still here");
}

}  // namespace

TEST(Sctp, ChannelsOpenAndCarryMessagesBackToBack) {
  Link link;
  link.make(false);
  exchange(link);
}

TEST(Sctp, ChannelsRideDtlsApplicationData) {
  Link link;
  link.make(true);
  exchange(link);
  EXPECT_EQ(link.side[0].dtls->state(), DtlsTransport::State::kConnected);
}

TEST(Sctp, ReliableMessagesSurviveLoss) {
  Link link;
  link.make(false);
  Side& client = link.side[0];
  Side& server = link.side[1];
  server.sctp->open_channel("rtcmesh", true);
  link.start();
  ASSERT_TRUE(link.run([&] { return client.opened.size() == 1; }));
  // A tenth of the packets lost both ways (SACKs too): the retransmission
  // timers (handle_timers) and SACK gaps bring every message, in order.
  link.drop_percent = 10;
  auto message = [](int i) { return std::to_string(i) + std::string(500, 'x'); };
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(server.sctp->send("rtcmesh", message(i), true));
  ASSERT_TRUE(link.run([&] { return client.messages.size() == 200; }, 30s)) << client.messages.size();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(client.messages[size_t(i)].data, message(i));
}
