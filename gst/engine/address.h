// A UDP transport address (IPv4 or IPv6) usable as a map key: the engine
// demultiplexes every session on one socket by the sender's 5-tuple, of
// which only the remote address varies.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace rtcmesh::engine {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // Numeric host only ("127.0.0.1", "::1"); throws std::invalid_argument.
  static Address parse(const std::string& host, uint16_t port);
  static Address from(const sockaddr* sa, socklen_t len);

  int family() const { return storage.ss_family; }
  uint16_t port() const;
  std::string host() const;
  std::string to_string() const;  // "1.2.3.4:5" or "[::1]:5"
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  bool empty() const { return length == 0; }

  bool operator==(const Address& other) const;
};

struct AddressHash {
  size_t operator()(const Address& a) const;
};

}  // namespace rtcmesh::engine
