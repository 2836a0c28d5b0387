#include "signaling/grpc/client.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>

#include "proto/rtcmesh/v1/signaling.grpc.pb.h"
#include "signaling/auth/tokens.h"
#include "signaling/glib_util.h"
#include "signaling/grpc/proto_messages.h"
#include "signaling/log.h"
#include "signaling/rpc/json_messages.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::grpc_front {

namespace {

using Request = v1::SignalRequest;
using Response = v1::SignalResponse;

class GrpcClient;
class StreamReactor;

// Shared by the client (its context) and the stream's reactor (gRPC's
// threads). `mutex` (recursive: gRPC may run a reaction inline) guards the
// reactor pointer and the write queue.
struct Core {
  explicit Core(GMainContext* c) : ctx(g_main_context_ref(c)) {}
  ~Core() { g_main_context_unref(ctx); }
  GMainContext* ctx;
  GrpcClient* client = nullptr;  // context thread; null once the client is gone
  std::recursive_mutex mutex;
  StreamReactor* reactor = nullptr;  // null before connect and after OnDone
  std::deque<Request> queue;
  Request current;
  bool writing = false;

  void write(Request r);  // any thread
  void write_next();      // locked
};

class StreamReactor final : public grpc::ClientBidiReactor<Request, Response> {
 public:
  explicit StreamReactor(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  grpc::ClientContext context;
  Response response;

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(core_->mutex);
    core_->writing = false;
    if (!ok) {
      core_->queue.clear();
      return;
    }
    core_->write_next();
  }
  void OnDone(const grpc::Status& status) override;

 private:
  std::shared_ptr<Core> core_;
};

void Core::write(Request r) {
  std::lock_guard lock(mutex);
  if (!reactor) return;
  queue.push_back(std::move(r));
  if (!writing) write_next();
}

void Core::write_next() {
  if (!reactor || queue.empty()) return;
  writing = true;
  current = std::move(queue.front());
  queue.pop_front();
  reactor->StartWrite(&current);
}

// One channel per target and trust, kept for the life of the process.
// grpc 1.51's callback API shares one completion queue among channels and
// shuts it down with the last one; a channel dropped while another is being
// made (an element reconnecting) tripped its reference count (abort in
// grpc_cq_internal_unref). Channels reconnect by themselves, so reusing one
// costs nothing.
std::shared_ptr<grpc::Channel> channel_for(
    const std::string& key, const std::function<std::shared_ptr<grpc::Channel>()>& make) {
  static std::mutex mutex;
  static auto* channels = new std::map<std::string, std::shared_ptr<grpc::Channel>>;
  std::lock_guard lock(mutex);
  auto& channel = (*channels)[key];
  if (!channel) channel = make();
  return channel;
}

class GrpcClient final : public RoomClient {
 public:
  GrpcClient(GMainContext* ctx, Options o)
      : ctx_(ctx), opts_(std::move(o)), core_(std::make_shared<Core>(ctx)) {
    core_->client = this;
    if (!opts_.tls_ca_file.empty()) ca_ = read_key_file(opts_.tls_ca_file, "tls-ca-file");
  }
  ~GrpcClient() override {
    core_->client = nullptr;
    std::lock_guard lock(core_->mutex);
    if (core_->reactor) core_->reactor->context.TryCancel();
  }

  void set_notification_handler(NotificationFn fn) override { notes_ = std::move(fn); }
  void set_closed_handler(ClosedFn fn) override { closed_ = std::move(fn); }

  // grpc://HOST:PORT or grpcs://HOST:PORT (a path is ignored).
  void connect(const std::string& url, ConnectFn done) override {
    bool tls = url.rfind("grpcs://", 0) == 0;
    std::string target = url.substr(url.find("://") + 3);
    target = target.substr(0, target.find('/'));
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (tls) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ca_;
      creds = grpc::SslCredentials(ssl);
    } else {
      creds = grpc::InsecureChannelCredentials();
    }
    stub_ = v1::Signaling::NewStub(channel_for((tls ? "tls:" + ca_ + ":" : "plain:") + target,
                                                [&] {
                                                  grpc::ChannelArguments args;
                                                  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
                                                  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
                                                  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
                                                  return grpc::CreateCustomChannel(target, creds, args);
                                                }));
    auto* reactor = new StreamReactor(core_);
    if (auto auth = opts_.headers.get("Authorization")) reactor->context.AddMetadata("authorization", *auth);
    {
      std::lock_guard lock(core_->mutex);
      core_->reactor = reactor;
    }
    stub_->async()->Signal(&reactor->context, reactor);
    reactor->StartRead(&reactor->response);
    reactor->StartCall();
    connected_ = true;
    GST_INFO("grpc client: stream to %s%s", target.c_str(), tls ? " (TLS)" : "");
    // gRPC connects lazily: a refused or failed stream ends in on_done.
    post_to_context(ctx_, [core = core_, done = std::move(done)] {
      if (core->client) done(true, "");
    });
  }

  void call(const std::string& method, Json params, ReplyFn done) override {
    int64_t id = next_id_++;
    Request request;
    try {
      request = to_proto(static_cast<uint64_t>(id), rpc::parse_request(method, params));
    } catch (const rpc::Failure& f) {
      Reply r;
      r.status = Reply::Status::kError;
      r.error = f.error;
      later(std::move(done), std::move(r));
      return;
    }
    if (!connected_) {
      later(std::move(done), Reply{});
      return;
    }
    Pending& p = pending_[id];
    p.done = std::move(done);
    unsigned ms = opts_.call_timeout_s * 1000;
    p.timer = add_timer(ctx_, ms ? ms : 10000, [this, id, method] {
      auto it = pending_.find(id);
      if (it == pending_.end()) return;
      ReplyFn fn = std::move(it->second.done);
      pending_.erase(it);
      Reply r;
      r.status = Reply::Status::kTimeout;
      r.error.message = method + ": no reply in time";
      fn(std::move(r));
    });
    core_->write(std::move(request));
  }

  bool notify(const std::string& method, Json params) override {
    if (!connected_) return false;
    try {
      core_->write(to_proto(0, rpc::parse_request(method, params)));
    } catch (const rpc::Failure& f) {
      GST_WARNING("grpc client: %s", f.error.message.c_str());
      return false;
    }
    return true;
  }

  // --- context thread, from the reactor ---
  void on_response(const Response& response) {
    if (response.has_reply()) {
      auto it = pending_.find(static_cast<int64_t>(response.reply().request_id()));
      if (it == pending_.end()) return;
      ReplyFn fn = std::move(it->second.done);
      pending_.erase(it);
      Reply r;
      if (response.reply().has_error()) {
        r.status = Reply::Status::kError;
        r.error = from_proto(response.reply().error());
      } else {
        r.status = Reply::Status::kResult;
        r.result = rpc::to_json(result_of(response.reply()));
      }
      fn(std::move(r));
    } else if (response.has_notification() && notes_) {
      auto [method, params] = rpc::to_json(from_proto(response.notification()));
      notes_(method, params);
    }
  }
  void on_done(int code, const std::string& message) {
    GST_INFO("grpc client: stream ended (%d %s)", code, message.c_str());
    connected_ = false;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) p.done(Reply{});
    // UNAVAILABLE "move <url>" is a draining server's 1001 (going away).
    bool moved = code == int(grpc::StatusCode::UNAVAILABLE) && message.starts_with("move ");
    if (closed_) closed_(code == 0 ? 1000 : moved ? 1001 : 1006, message);
  }

 private:
  struct Pending {
    ReplyFn done;
    SourceHandle timer;
  };
  void later(ReplyFn done, Reply r) {
    post_to_context(ctx_, [core = core_, done = std::move(done), r = std::move(r)]() mutable {
      if (core->client) done(std::move(r));
    });
  }

  GMainContext* ctx_;
  Options opts_;
  std::shared_ptr<Core> core_;
  std::string ca_;
  std::unique_ptr<v1::Signaling::Stub> stub_;
  bool connected_ = false;
  int64_t next_id_ = 1;
  std::map<int64_t, Pending> pending_;
  NotificationFn notes_;
  ClosedFn closed_;
};

void StreamReactor::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  auto r = std::make_shared<Response>(std::move(response));
  response.Clear();
  post_to_context(core_->ctx, [core = core_, r] {
    if (core->client) guarded("grpc client", [&] { core->client->on_response(*r); });
  });
  StartRead(&response);
}

void StreamReactor::OnDone(const grpc::Status& status) {
  {
    std::lock_guard lock(core_->mutex);
    core_->reactor = nullptr;
    core_->queue.clear();
  }
  post_to_context(core_->ctx, [core = core_, code = int(status.error_code()),
                               message = status.error_message()] {
    if (core->client) guarded("grpc client", [&] { core->client->on_done(code, message); });
  });
  delete this;
}

}  // namespace

std::unique_ptr<RoomClient> make_grpc_client(GMainContext* ctx, RoomClient::Options options) {
  init_debug();
  // gRPC stays initialized for the life of the process: elements make and
  // drop clients on reconnects, and grpc 1.51's background shutdown of the
  // last user racing a new channel is not something to rely on.
  static const bool initialized = (grpc_init(), true);
  (void)initialized;
  return std::make_unique<GrpcClient>(ctx, std::move(options));
}

}  // namespace rtcmesh::sig::grpc_front
