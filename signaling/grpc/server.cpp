#include "signaling/grpc/server.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

#include "proto/rtcmesh/v1/signaling.grpc.pb.h"
#include "signaling/auth/tokens.h"
#include "signaling/glib_util.h"
#include "signaling/grpc/front_end.h"
#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::grpc_front {

namespace {

using Clock = RoomServer::Clock;
using Request = v1::SignalRequest;
using Response = v1::SignalResponse;
using Reactor = grpc::ServerBidiReactor<Request, Response>;

// "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000" → the address alone.
std::string address_of(const std::string& peer) {
  std::string a = peer.substr(peer.find(':') + 1);
  size_t port = a.rfind(':');
  if (port != std::string::npos) a.resize(port);
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  return a;
}

std::string bearer_of(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return {};
  std::string value(it->second.data(), it->second.size());
  if (value.size() > 7 && g_ascii_strncasecmp(value.c_str(), "bearer ", 7) == 0)
    return value.substr(7);
  return {};
}

}  // namespace

// One Signal call, shared by its reactor (gRPC's threads) and the context.
// Every operation on the reactor happens under `mutex` (recursive: gRPC may
// run a reaction inline, on the thread that started the operation), so a
// read or write is never started after Finish.
struct Stream {
  explicit Stream(ConnId i) : id(i) {}
  const ConnId id;
  std::recursive_mutex mutex;
  Reactor* reactor = nullptr;  // null after OnDone
  std::deque<Response> queue;
  Response current;  // being written
  bool writing = false, finishing = false, finished = false;
  grpc::Status status;

  void send(Response r) {
    std::lock_guard lock(mutex);
    if (finishing || !reactor) return;
    queue.push_back(std::move(r));
    if (!writing) write_next();
  }
  void write_done(bool ok) {
    std::lock_guard lock(mutex);
    writing = false;
    if (!ok) {
      queue.clear();
      if (!finishing) {
        finishing = true;
        status = grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke");
      }
    }
    write_next();
  }
  // The queued responses go out first.
  void finish(grpc::Status s) {
    std::lock_guard lock(mutex);
    if (finishing) return;
    finishing = true;
    status = std::move(s);
    if (!writing) write_next();
  }
  void read(Request* into) {
    std::lock_guard lock(mutex);
    if (!finishing && reactor) reactor->StartRead(into);
  }

 private:
  void write_next() {  // locked, not writing
    if (!reactor) return;
    if (!queue.empty()) {
      writing = true;
      current = std::move(queue.front());
      queue.pop_front();
      reactor->StartWrite(&current);
      return;
    }
    if (finishing && !finished) {
      finished = true;
      reactor->Finish(status);
    }
  }
};

class SignalReactor;
using AdminWork = std::function<grpc::Status(GrpcServer::Impl&)>;

// rtcmesh.v1.Admin: each call checks the admin token and runs on the
// context (GrpcServer::Impl::admin).
class AdminService final : public v1::Admin::CallbackService {
 public:
  explicit AdminService(std::weak_ptr<GrpcServer::Impl> impl) : impl_(std::move(impl)) {}
  grpc::ServerUnaryReactor* ListRooms(grpc::CallbackServerContext* c,
                                      const v1::ListRoomsRequest* req,
                                      v1::ListRoomsResponse* res) override;
  grpc::ServerUnaryReactor* RemoveParticipant(grpc::CallbackServerContext* c,
                                              const v1::RemoveParticipantRequest* req,
                                              v1::Empty*) override;
  grpc::ServerUnaryReactor* CloseRoom(grpc::CallbackServerContext* c,
                                      const v1::CloseRoomRequest* req, v1::Empty*) override;

 private:
  grpc::ServerUnaryReactor* run(grpc::CallbackServerContext* c, AdminWork work);
  std::weak_ptr<GrpcServer::Impl> impl_;
};

class SignalingService final : public v1::Signaling::CallbackService {
 public:
  explicit SignalingService(std::weak_ptr<GrpcServer::Impl> impl) : impl_(std::move(impl)) {}
  Reactor* Signal(grpc::CallbackServerContext* context) override;

 private:
  std::weak_ptr<GrpcServer::Impl> impl_;
};

struct GrpcServer::Impl : std::enable_shared_from_this<GrpcServer::Impl> {
  Impl(GMainContext* c, RoomServer& r)
      : ctx(g_main_context_ref(c)),
        rooms(r),
        front(r.service(), {r.config().max_message},
              [this](ConnId id, Response response) { send(id, std::move(response)); },
              [this](const std::string& reason) { drain(reason); }) {}
  ~Impl() { g_main_context_unref(ctx); }

  GMainContext* ctx;
  RoomServer& rooms;
  GrpcFrontEnd front;
  ConnId base = 0;
  std::atomic<ConnId> next_id{1};
  bool alive = true;  // context thread: false once the GrpcServer is going
  std::optional<std::string> draining;  // context thread: drain()'s reason
  std::map<ConnId, std::shared_ptr<Stream>> streams;  // context thread: the open ones
  SourceHandle alive_timer;
  std::unique_ptr<SignalingService> service;
  std::unique_ptr<AdminService> admin_service;
  // Admin calls not finished yet (finished UNAVAILABLE when the server goes).
  std::mutex admin_mutex;
  std::set<grpc::ServerUnaryReactor*> admin_pending;
  bool admin_open = true;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  // Any thread: runs `fn` on the context while the server is alive.
  void post(std::function<void(Impl&)> fn) {
    post_to_context(ctx, [impl = shared_from_this(), fn = std::move(fn)] {
      if (impl->alive) guarded("grpc", [&] { fn(*impl); });
    });
  }

  // --- context thread ---
  void open(const std::shared_ptr<Stream>& stream, const std::string& bearer,
            const std::string& address) {
    if (draining) {
      GST_INFO("grpc connection from %s refused: draining", address.c_str());
      stream->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, *draining));
      return;
    }
    auto refused =
        rooms.service().open_authenticated(stream->id, Clock::now(), bearer, address);
    if (refused) {
      GST_INFO("grpc connection %" G_GUINT64_FORMAT " from %s refused: %s", stream->id,
               address.c_str(), refused->c_str());
      stream->finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, *refused));
      return;
    }
    GST_INFO("grpc connection %" G_GUINT64_FORMAT " from %s", stream->id, address.c_str());
    streams[stream->id] = stream;
  }
  void request(ConnId id, const Request& request, size_t bytes) {
    if (!streams.count(id)) return;  // refused, or gone
    front.on_request(id, request, bytes, Clock::now());
  }
  void closed(ConnId id) {
    if (!streams.erase(id)) return;
    GST_INFO("grpc connection %" G_GUINT64_FORMAT " closed", id);
    rooms.service().closed(id);
  }
  void send(ConnId id, Response response) {
    auto it = streams.find(id);
    if (it == streams.end()) {
      GST_DEBUG("grpc connection %" G_GUINT64_FORMAT " is gone; dropping a response", id);
      return;
    }
    it->second->send(std::move(response));
  }
  // Any thread: `work` runs on the context after the admin token check.
  void admin(grpc::ServerUnaryReactor* reactor, std::string bearer, AdminWork work) {
    {
      std::lock_guard lock(admin_mutex);
      if (!admin_open) {
        reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
        return;
      }
      admin_pending.insert(reactor);
    }
    post_to_context(ctx, [impl = shared_from_this(), reactor, bearer = std::move(bearer),
                          work = std::move(work)] {
      {
        std::lock_guard lock(impl->admin_mutex);
        if (!impl->admin_pending.erase(reactor)) return;  // finished by ~GrpcServer
      }
      grpc::Status status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
      if (impl->alive) {
        if (auto refused = impl->rooms.service().admin_refusal(bearer))
          status = grpc::Status(refused->status == 403 ? grpc::StatusCode::PERMISSION_DENIED
                                                       : grpc::StatusCode::UNAUTHENTICATED,
                                refused->reason);
        else
          status = work(*impl);
      }
      reactor->Finish(status);
    });
  }

  void end_streams(const std::string& reason);
  // SIGTERM: every stream, and every one opened from now on, ends
  // UNAVAILABLE "move <url>" (the client goes there) or "draining".
  void drain(const std::string& reason) {
    draining = reason;
    end_streams(reason);
  }

  // gRPC streams are alive while their transport is (HTTP/2 keepalive ends
  // a vanished client's stream), so the service's silence check spares them.
  void keep_alive(unsigned ms) {
    alive_timer = add_timer(ctx, ms, [this, ms] { keep_alive(ms); });
    auto now = Clock::now();
    for (const auto& [id, s] : streams) rooms.service().alive(id, now);
  }
};

class SignalReactor final : public Reactor {
 public:
  SignalReactor(std::shared_ptr<GrpcServer::Impl> impl, grpc::CallbackServerContext* context)
      : impl_(std::move(impl)),
        stream_(std::make_shared<Stream>(impl_->base + impl_->next_id++)) {
    stream_->reactor = this;
    std::string bearer = bearer_of(context->client_metadata());
    std::string address = address_of(context->peer());
    impl_->post([stream = stream_, bearer, address](GrpcServer::Impl& i) {
      i.open(stream, bearer, address);
    });
    stream_->read(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client ended its side (or the call broke): it leaves
      stream_->finish(grpc::Status::OK);
      return;
    }
    size_t bytes = request_.ByteSizeLong();
    auto request = std::make_shared<Request>(std::move(request_));
    request_.Clear();
    impl_->post([id = stream_->id, request, bytes](GrpcServer::Impl& i) {
      i.request(id, *request, bytes);
    });
    stream_->read(&request_);
  }
  void OnWriteDone(bool ok) override { stream_->write_done(ok); }
  void OnCancel() override {
    stream_->finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override {
    {
      std::lock_guard lock(stream_->mutex);
      stream_->reactor = nullptr;
    }
    impl_->post([id = stream_->id](GrpcServer::Impl& i) { i.closed(id); });
    delete this;
  }

 private:
  std::shared_ptr<GrpcServer::Impl> impl_;
  std::shared_ptr<Stream> stream_;
  Request request_;
};

grpc::ServerUnaryReactor* AdminService::run(grpc::CallbackServerContext* c, AdminWork work) {
  grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
  auto impl = impl_.lock();
  if (!impl)
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  else
    impl->admin(reactor, bearer_of(c->client_metadata()), std::move(work));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ListRooms(grpc::CallbackServerContext* c,
                                                  const v1::ListRoomsRequest* req,
                                                  v1::ListRoomsResponse* res) {
  return run(c, [req, res](GrpcServer::Impl& i) {
    std::vector<RoomServer::RoomInfo> rooms;
    if (req->has_room()) {
      auto one = i.rooms.room(req->room());
      if (!one) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no room '" + req->room() + "'");
      rooms.push_back(*one);
    } else {
      rooms = i.rooms.rooms();
    }
    for (const auto& r : rooms) {
      v1::AdminRoom* out = res->add_rooms();
      out->set_room(r.name);
      out->set_mode(to_string(r.mode));
      for (const std::string& p : r.peers) out->add_peers(p);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::RemoveParticipant(grpc::CallbackServerContext* c,
                                                          const v1::RemoveParticipantRequest* req,
                                                          v1::Empty*) {
  return run(c, [req](GrpcServer::Impl& i) {
    std::string why = req->reason().empty() ? "by an operator" : req->reason();
    if (!i.rooms.service().remove_participant(req->room(), req->peer(), why))
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no participant '" + req->peer() + "' in room '" + req->room() + "'");
    GST_INFO("admin: removed %s from room %s (%s)", req->peer().c_str(), req->room().c_str(),
             why.c_str());
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::CloseRoom(grpc::CallbackServerContext* c,
                                                  const v1::CloseRoomRequest* req, v1::Empty*) {
  return run(c, [req](GrpcServer::Impl& i) {
    if (!i.rooms.close_room(req->room(), req->reason().empty() ? "closed by an operator"
                                                               : req->reason()))
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no room '" + req->room() + "'");
    return grpc::Status::OK;
  });
}

Reactor* SignalingService::Signal(grpc::CallbackServerContext* context) {
  auto impl = impl_.lock();
  if (!impl) {  // the server is going
    class Refused final : public Reactor {
     public:
      Refused() { Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down")); }
      void OnDone() override { delete this; }
    };
    return new Refused;
  }
  return new SignalReactor(std::move(impl), context);
}

GrpcServer::GrpcServer(GMainContext* ctx, RoomServer& rooms, Options options) {
  init_debug();
  impl_ = std::make_shared<Impl>(ctx, rooms);
  const RoomServer::Config& cfg = rooms.config();
  impl_->service = std::make_unique<SignalingService>(impl_);
  impl_->admin_service = std::make_unique<AdminService>(impl_);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!options.tls_certificate.empty() && !options.tls_key.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {read_key_file(options.tls_key, "gRPC TLS key"),
         read_key_file(options.tls_certificate, "gRPC TLS certificate")});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  std::string host = options.address.find(':') != std::string::npos
                         ? "[" + options.address + "]"
                         : options.address;
  std::string where = host + ":" + std::to_string(options.port);
  int keepalive_ms = std::max<int>(1000, static_cast<int>(cfg.peer_timeout.count() / 3));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(where, creds, &impl_->port);
  builder.RegisterService(impl_->service.get());
  builder.RegisterService(impl_->admin_service.get());
  // Over M: -32006 from the front end, the stream stays; over 4×M gRPC ends it.
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<size_t>(4 * cfg.max_message, 1 << 30)));
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port is an error
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // Numbered before the first call can come in.
  impl_->base = rooms.add_front_end(impl_->front);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    rooms.remove_front_end(impl_->base);
    if (impl_->server) impl_->server->Shutdown();
    throw std::runtime_error("gRPC: cannot listen on " + where);
  }
  unsigned tick = static_cast<unsigned>(std::max<int64_t>(250, cfg.peer_timeout.count() / 4));
  impl_->keep_alive(tick);
}

void GrpcServer::Impl::end_streams(const std::string& reason) {
  // The participants leave (their rooms are told), then the streams end.
  for (auto& [id, stream] : streams) {
    rooms.service().closed(id);
    stream->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, reason));
  }
  streams.clear();
}

GrpcServer::~GrpcServer() {
  Impl& i = *impl_;
  i.alive_timer.reset();
  i.end_streams(i.draining.value_or("the server is shutting down"));
  {
    std::lock_guard lock(i.admin_mutex);
    i.admin_open = false;
    for (grpc::ServerUnaryReactor* r : i.admin_pending)
      r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    i.admin_pending.clear();
  }
  i.alive = false;
  i.rooms.remove_front_end(i.base);
  i.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  i.server->Wait();
  i.server.reset();
}

unsigned GrpcServer::port() const {
  return static_cast<unsigned>(impl_->port);
}

size_t GrpcServer::stream_count() const {
  return impl_->streams.size();
}

}  // namespace rtcmesh::sig::grpc_front
