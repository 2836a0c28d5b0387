#include "gst/engine/address.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace rtcmesh::engine {

Address Address::parse(const std::string& host, uint16_t port) {
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  } else {
    throw std::invalid_argument("not a numeric IP address: " + host);
  }
  return a;
}

Address Address::from(const sockaddr* sa, socklen_t len) {
  Address a;
  if (sa && len > 0 && static_cast<size_t>(len) <= sizeof a.storage) {
    std::memcpy(&a.storage, sa, static_cast<size_t>(len));
    a.length = sa->sa_family == AF_INET ? sizeof(sockaddr_in)
             : sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : 0;
  }
  return a;
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string Address::to_string() const {
  if (family() == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
  return host() + ":" + std::to_string(port());
}

bool Address::operator==(const Address& o) const {
  if (family() != o.family()) return false;
  if (family() == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
    auto* b = reinterpret_cast<const sockaddr_in*>(&o.storage);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    auto* b = reinterpret_cast<const sockaddr_in6*>(&o.storage);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
  }
  return length == o.length;
}

size_t AddressHash::operator()(const Address& a) const {
  std::string_view bytes;
  if (a.family() == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.storage);
    return std::hash<uint64_t>()((uint64_t(v4->sin_addr.s_addr) << 16) | v4->sin_port);
  }
  if (a.family() == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    bytes = std::string_view(reinterpret_cast<const char*>(&v6->sin6_addr), sizeof v6->sin6_addr);
    return std::hash<std::string_view>()(bytes) ^ v6->sin6_port;
  }
  return 0;
}

}  // namespace rtcmesh::engine
