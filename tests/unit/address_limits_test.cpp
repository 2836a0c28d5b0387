// AddressLimits (signaling/address_limits.h): the token bucket per address,
// the session cap, and the table that forgets idle addresses and stays under
// its cap. A fake clock.
#include "signaling/address_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace rtcmesh::sig {
namespace {

using namespace std::chrono_literals;
using Clock = AddressLimits::Clock;

struct FakeClock {
  Clock::time_point t = Clock::time_point() + 1000s;
  AddressLimits::Now fn() {
    return [this] { return t; };
  }
};

AddressLimits::Config config(double rate, unsigned burst, unsigned sessions = 0,
                             size_t addresses = 1000) {
  AddressLimits::Config c;
  c.rate = rate;
  c.burst = burst;
  c.max_sessions = sessions;
  c.max_addresses = addresses;
  return c;
}

TEST(AddressLimits, DefaultsLetAFullRoomBehindOneNatIn) {
  FakeClock clock;
  AddressLimits limits(AddressLimits::Config{}, clock.fn());
  // 16 browsers: a WebSocket and a join each, all at once.
  for (int i = 0; i < 32; i++) EXPECT_FALSE(limits.request("198.51.100.7")) << i;
  std::vector<AddressLimits::LeasePtr> held;
  for (int i = 0; i < 48; i++) {
    held.push_back(limits.session("198.51.100.7", nullptr));
    EXPECT_TRUE(held.back()) << i;
  }
}

TEST(AddressLimits, BurstThenRefusedWithRetryAfterThenAgainAtTheRate) {
  FakeClock clock;
  AddressLimits limits(config(2, 4), clock.fn());
  for (int i = 0; i < 4; i++) EXPECT_FALSE(limits.request("10.0.0.1")) << i;
  auto r = limits.request("10.0.0.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retry_after_s, 1u);  // half a second to the next token: rounded up
  EXPECT_EQ(r->limit, 4u);
  EXPECT_NE(r->reason.find("10.0.0.1"), std::string::npos) << r->reason;
  EXPECT_NE(r->reason.find("burst 4"), std::string::npos) << r->reason;
  // Another address has its own bucket.
  EXPECT_FALSE(limits.request("10.0.0.2"));
  clock.t += 499ms;
  EXPECT_TRUE(limits.request("10.0.0.1"));  // refused requests take nothing
  clock.t += 1ms;
  EXPECT_FALSE(limits.request("10.0.0.1"));
  EXPECT_TRUE(limits.request("10.0.0.1"));
  // A quiet time fills the bucket up to the burst, not beyond.
  clock.t += 60s;
  for (int i = 0; i < 4; i++) EXPECT_FALSE(limits.request("10.0.0.1")) << i;
  EXPECT_TRUE(limits.request("10.0.0.1"));
}

TEST(AddressLimits, RetryAfterIsTheWholeSecondsToTheNextToken) {
  FakeClock clock;
  AddressLimits limits(config(0.25, 1), clock.fn());
  EXPECT_FALSE(limits.request("10.0.0.1"));
  auto r = limits.request("10.0.0.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retry_after_s, 4u);
  clock.t += 1500ms;
  EXPECT_EQ(limits.request("10.0.0.1")->retry_after_s, 3u);
  clock.t += 2500ms;
  EXPECT_FALSE(limits.request("10.0.0.1"));
}

TEST(AddressLimits, ZeroMeansNoLimitAndEmptyAddressesAreNotCounted) {
  FakeClock clock;
  AddressLimits limits(config(0, 1, 0), clock.fn());
  for (int i = 0; i < 1000; i++) EXPECT_FALSE(limits.request("10.0.0.1"));
  std::vector<AddressLimits::LeasePtr> held;
  for (int i = 0; i < 1000; i++) held.push_back(limits.session("10.0.0.1", nullptr));
  EXPECT_TRUE(held.back());
  EXPECT_EQ(limits.tracked(), 0u);
  AddressLimits strict(config(1, 1, 1), clock.fn());
  for (int i = 0; i < 10; i++) {
    EXPECT_FALSE(strict.request(""));
    held.push_back(strict.session("", nullptr));
    EXPECT_TRUE(held.back());
  }
}

TEST(AddressLimits, SessionCapRefusesTheNextUntilOneEnds) {
  FakeClock clock;
  AddressLimits limits(config(0, 1, 2), clock.fn());
  auto a = limits.session("10.0.0.1", nullptr);
  auto b = limits.session("10.0.0.1", nullptr);
  ASSERT_TRUE(a && b);
  AddressLimits::Refusal why;
  EXPECT_FALSE(limits.session("10.0.0.1", &why));
  EXPECT_EQ(why.limit, 2u);
  EXPECT_GE(why.retry_after_s, 1u);
  EXPECT_NE(why.reason.find("too many sessions from 10.0.0.1 (limit 2)"), std::string::npos)
      << why.reason;
  EXPECT_TRUE(limits.session("10.0.0.9", nullptr));  // another address
  EXPECT_EQ(limits.sessions("10.0.0.1"), 2u);
  auto copy = a;  // copies share the session
  a.reset();
  EXPECT_EQ(limits.sessions("10.0.0.1"), 2u);
  copy.reset();
  EXPECT_EQ(limits.sessions("10.0.0.1"), 1u);
  EXPECT_TRUE(limits.session("10.0.0.1", nullptr));
}

TEST(AddressLimits, LeasesOutliveTheLimits) {
  FakeClock clock;
  AddressLimits::LeasePtr lease;
  {
    AddressLimits limits(config(1, 1, 1), clock.fn());
    lease = limits.session("10.0.0.1", nullptr);
  }
  lease.reset();  // no crash, nothing to count any more
}

TEST(AddressLimits, IdleAddressesAreForgottenOnceTheirBucketIsFull) {
  FakeClock clock;
  AddressLimits limits(config(10, 20, 5), clock.fn());
  for (int i = 0; i < 100; i++) limits.request("10.0.0." + std::to_string(i));
  EXPECT_EQ(limits.tracked(), 100u);
  auto held = limits.session("10.0.1.1", nullptr);
  clock.t += 1999ms;  // burst / rate = 2 s
  EXPECT_EQ(limits.tracked(), 101u);
  clock.t += 1ms;
  EXPECT_EQ(limits.tracked(), 1u);  // only the one with a session
  clock.t += 1h;
  EXPECT_EQ(limits.tracked(), 1u);
  held.reset();
  EXPECT_EQ(limits.tracked(), 1u);
  clock.t += 2s;
  EXPECT_EQ(limits.tracked(), 0u);
}

TEST(AddressLimits, ASprayOfAddressesStaysUnderTheCap) {
  FakeClock clock;
  AddressLimits limits(config(1, 5, 3, 64), clock.fn());
  std::vector<AddressLimits::LeasePtr> held;
  for (int i = 0; i < 3; i++) held.push_back(limits.session("192.0.2.1", nullptr));
  for (int i = 0; i < 100000; i++) {
    limits.request("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                   std::to_string(i % 256));
    ASSERT_LE(limits.tracked(), 64u);
  }
  // The address with sessions was never forgotten: still at its cap.
  EXPECT_EQ(limits.sessions("192.0.2.1"), 3u);
  EXPECT_FALSE(limits.session("192.0.2.1", nullptr));
  // A table full of addresses with sessions refuses new addresses.
  AddressLimits tiny(config(1, 5, 3, 2), clock.fn());
  auto x = tiny.session("10.0.0.1", nullptr);
  auto y = tiny.session("10.0.0.2", nullptr);
  AddressLimits::Refusal why;
  EXPECT_FALSE(tiny.session("10.0.0.3", &why));
  EXPECT_NE(why.reason.find("too many client addresses"), std::string::npos);
  EXPECT_TRUE(tiny.request("10.0.0.3"));
  y.reset();
  EXPECT_TRUE(tiny.session("10.0.0.3", nullptr));
}

TEST(AddressLimits, IPv6CountsPerSlash64AndMappedIPv4AsIPv4) {
  EXPECT_EQ(AddressLimits::key_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressLimits::key_of("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressLimits::key_of("::ffff:192.0.2.5"), "192.0.2.5");
  EXPECT_EQ(AddressLimits::key_of("192.0.2.5"), "192.0.2.5");
  EXPECT_EQ(AddressLimits::key_of("::1"), "::/64");
  EXPECT_EQ(AddressLimits::key_of("not an address"), "not an address");
  FakeClock clock;
  AddressLimits limits(config(1, 2, 1), clock.fn());
  EXPECT_FALSE(limits.request("2001:db8::1"));
  EXPECT_FALSE(limits.request("2001:db8::2"));
  EXPECT_TRUE(limits.request("2001:db8::3:4"));
  auto a = limits.session("::ffff:192.0.2.5", nullptr);
  EXPECT_TRUE(a);
  EXPECT_FALSE(limits.session("192.0.2.5", nullptr));
}

}  // namespace
}  // namespace rtcmesh::sig
