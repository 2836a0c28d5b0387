// A blocking loopback TCP client for what real HTTP clients never do:
// keep-alive requests then a close, half-sent requests, silence, hand-made
// WebSocket frames.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

namespace rtcmesh::test {

class RawClient {
 public:
  explicit RawClient(unsigned port, int timeout_s = 10) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send_text(const std::string& text) {
    return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size());
  }
  // Reads one response (headers and a Content-Length body); "" on EOF or
  // timeout before the headers.
  std::string read_response() {
    std::string got;
    char buf[4096];
    size_t header_end = std::string::npos, want = 0;
    while (true) {
      if (header_end == std::string::npos &&
          (header_end = got.find("\r\n\r\n")) != std::string::npos) {
        size_t cl = got.find("Content-Length: ");
        want = header_end + 4 + (cl < header_end ? std::stoul(got.substr(cl + 16)) : 0);
      }
      if (header_end != std::string::npos && got.size() >= want) return got;
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return header_end == std::string::npos ? "" : got;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  // A keep-alive HTTP/1.1 request; the response as read_response().
  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    std::string text = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!body.empty())
      text += "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n";
    return send_text(text + "\r\n" + body) ? read_response() : "";
  }
  // True once the server has closed its side (read returns 0) within the
  // receive timeout.
  bool closed_by_server() {
    char buf[4096];
    while (true) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace rtcmesh::test
