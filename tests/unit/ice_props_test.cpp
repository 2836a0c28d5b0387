// Where a connection's ICE agent gathers (IceProps, gst/common/props.h): a
// server bound to one address gathers there; a client of a server on
// loopback gathers loopback too (libnice skips it otherwise, and an ICE-lite
// server such as rtcsfu's native engine never checks toward the client).
#include <gtest/gtest.h>

#include <algorithm>

#include "gst/common/props.h"

namespace rtcmesh {
namespace {

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(IceProps, AClientOfALoopbackServerGathersLoopbackAndTheInterfaces) {
  IceProps props;
  for (const char* url : {"http://127.0.0.1:8080/whep/r", "ws://localhost:8443/rtc",
                          "ws://[::1]:8443/rtc", "grpc://127.0.0.2:50051", "http://user:pw@127.0.0.1",
                          "wss://[::1]/rtc?room=r"}) {
    std::vector<std::string> gathered = props.client_settings(url).local_addresses;
    EXPECT_TRUE(has(gathered, "127.0.0.1")) << url;
    // Not only loopback: the interfaces libnice would have gathered stay.
    for (const std::string& a : gathered) EXPECT_FALSE(a.rfind("fe80:", 0) == 0) << a;
  }
}

TEST(IceProps, AClientOfAnotherServerGathersAsLibniceWould) {
  IceProps props;
  for (const char* url : {"http://192.0.2.10:8080/whep/r", "https://example.com/whip", "http://127.0.0.1.example.com/",
                          "http://localhost.example/", "ws://[fd00::2]:80/rtc", "not a url", ""})
    EXPECT_TRUE(props.client_settings(url).local_addresses.empty()) << url;
}

TEST(IceProps, IceLocalAddressesWinOverTheLoopbackRule) {
  IceProps props;
  props.local_addresses = "10.0.0.1, 10.0.0.2";
  EXPECT_EQ(props.client_settings("http://127.0.0.1/whep").local_addresses,
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
}

TEST(IceProps, AServerBoundToOneAddressGathersThere) {
  IceProps props;
  EXPECT_EQ(props.server_settings("127.0.0.1").local_addresses, std::vector<std::string>{"127.0.0.1"});
  EXPECT_TRUE(props.server_settings("0.0.0.0").local_addresses.empty());
  EXPECT_TRUE(props.server_settings("::").local_addresses.empty());
  EXPECT_EQ(props.server_settings("127.0.0.1", {"203.0.113.7"}).announced_addresses,
            std::vector<std::string>{"203.0.113.7"});
}

}  // namespace
}  // namespace rtcmesh
