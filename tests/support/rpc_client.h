// JSON-RPC participants over real WebSockets (WsClient) for tests against a
// room server: what the server sent them, and a fixture whose calls wait on
// the test's main context.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "signaling/json.h"
#include "signaling/rpc/jsonrpc.h"
#include "signaling/http/ws_client.h"
#include "tests/signaling/loop.h"

namespace rtcmesh::test {

// A WsClient that records notifications, errors and its close code and reason.
struct RpcClient {
  RpcClient(GMainContext* ctx, sig::WsClient::Options o) : ws(ctx, o) {
    ws.set_notification_handler([this](const std::string& method, const sig::Json& params) {
      notes.push_back({method, params});
    });
    ws.set_error_handler([this](const sig::rpc::Error& e) { errors.push_back(e); });
    ws.set_closed_handler([this](int code, const std::string& reason) {
      closed = code;
      closed_reason = reason;
    });
  }
  std::vector<sig::Json> got(const std::string& method) const {
    std::vector<sig::Json> out;
    for (const auto& [m, p] : notes)
      if (m == method) out.push_back(p);
    return out;
  }
  sig::WsClient ws;
  std::vector<std::pair<std::string, sig::Json>> notes;
  std::vector<sig::rpc::Error> errors;
  std::optional<int> closed;
  std::string closed_reason;
};

class RpcTest : public LoopTest {
 protected:
  void TearDown() override {
    clients.clear();
    LoopTest::TearDown();
  }

  RpcClient& connect(const std::string& url, sig::WsClient::Options o = {}) {
    o.ping_interval_s = 1;
    o.peer_timeout_s = 5;
    o.call_timeout_s = 5;
    clients.push_back(std::make_unique<RpcClient>(ctx, o));
    RpcClient& c = *clients.back();
    std::optional<std::pair<bool, std::string>> done;
    c.ws.connect(url, [&](bool ok, const std::string& err) { done = {ok, err}; });
    EXPECT_TRUE(run_until([&] { return done.has_value(); }, 10000));
    EXPECT_TRUE(done && done->first) << url << ": " << (done ? done->second : "timeout");
    return c;
  }
  sig::WsClient::Reply call(RpcClient& c, const std::string& method,
                            sig::Json params = sig::Json::object()) {
    std::optional<sig::WsClient::Reply> got;
    c.ws.call(method, std::move(params), [&](sig::WsClient::Reply r) { got = std::move(r); });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }, 10000)) << method;
    return got.value_or(sig::WsClient::Reply{});
  }
  // 0 for a result, the error code for an error, 1 for anything else.
  int code(RpcClient& c, const std::string& method, sig::Json params = sig::Json::object()) {
    sig::WsClient::Reply r = call(c, method, std::move(params));
    return r.status == sig::WsClient::Reply::Status::kError ? r.error.code : r.ok() ? 0 : 1;
  }

  std::vector<std::unique_ptr<RpcClient>> clients;
};

}  // namespace rtcmesh::test
