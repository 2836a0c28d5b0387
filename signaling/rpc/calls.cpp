#include "signaling/rpc/calls.h"

#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig::rpc {

namespace {
Reply failure(Reply::Status status, std::string message) {
  Reply r;
  r.status = status;
  r.error.message = std::move(message);
  return r;
}
}  // namespace

Calls::~Calls() {
  life_.reset();
  deferred_timer_.reset();
  deferred_.clear();
  for (auto& [id, p] : pending_) p.timer.reset();
  pending_.clear();
  g_main_context_unref(ctx_);
}

void Calls::defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  if (!deferred_timer_) deferred_timer_ = add_timer(ctx_, 0, [this] { run_deferred(); });
}

void Calls::run_deferred() {
  deferred_timer_.reset();
  auto fns = std::move(deferred_);
  deferred_.clear();
  std::weak_ptr<int> alive = life_;
  for (auto& fn : fns) {
    guarded("JSON-RPC client callback", fn);
    if (alive.expired()) return;
  }
}

int64_t Calls::call(const Send& send, const std::string& method, Json params, ReplyFn done,
                    unsigned timeout_ms) {
  int64_t id = next_id_++;
  if (!send) {
    defer([done = std::move(done), method] {
      if (done) done(failure(Reply::Status::kClosed, method + ": not connected"));
    });
    return id;
  }
  Pending& p = pending_[id];
  p.method = method;
  p.done = std::move(done);
  if (timeout_ms > 0) {
    p.timer = add_timer(ctx_, timeout_ms, [this, id, timeout_ms] {
      auto it = pending_.find(id);
      if (it == pending_.end()) return;
      Pending gone = std::move(it->second);
      pending_.erase(it);
      GST_INFO("%s (id %" G_GINT64_FORMAT ") timed out", gone.method.c_str(), id);
      if (gone.done)
        gone.done(failure(Reply::Status::kTimeout, gone.method + ": no response within " +
                                                       std::to_string(timeout_ms) + " ms"));
    });
  }
  send(request(Json(id), method, std::move(params)));
  return id;
}

void Calls::fail_all(const std::string& why, bool deferred) {
  auto all = std::move(pending_);
  pending_.clear();
  std::weak_ptr<int> alive = life_;
  for (auto& entry : all) {
    auto& p = entry.second;  // not a structured binding: clang 14 cannot capture one
    p.timer.reset();
    if (!p.done) continue;
    if (deferred) {
      defer([done = std::move(p.done), why] { done(failure(Reply::Status::kClosed, why)); });
      continue;
    }
    guarded("JSON-RPC client reply", [&] { p.done(failure(Reply::Status::kClosed, why)); });
    if (alive.expired()) return;
  }
}

void Calls::received(std::string_view text, const Send& send) {
  Message m = parse(text);
  if (m.error) {
    GST_WARNING("unreadable frame from the server: %s", m.error->message.c_str());
    return;
  }
  std::weak_ptr<int> alive = life_;
  for (const Item& item : m.items) {
    guarded("JSON-RPC client message", [&] { dispatch(item, send); });
    if (alive.expired()) return;
  }
}

void Calls::dispatch(const Item& item, const Send& send) {
  switch (item.kind) {
    case Item::Kind::kInvalid:
      GST_WARNING("invalid JSON-RPC from the server: %s", item.error.message.c_str());
      return;
    case Item::Kind::kRequest: {
      const Request& req = item.request;
      if (req.has_id) {
        // The server asks something we do not implement.
        if (send)
          send(error(req.id,
                     {kMethodNotFound, "the client has no method '" + req.method + "'", {}}));
        return;
      }
      if (on_notification) {
        NotificationFn fn = on_notification;
        fn(req.method, req.params);
      }
      return;
    }
    case Item::Kind::kResponse:
      break;
  }
  const Response& resp = item.response;
  auto it = resp.id.is_int() ? pending_.find(resp.id.as_int()) : pending_.end();
  if (it == pending_.end()) {
    if (resp.error && resp.id.is_null()) {
      GST_INFO("server error: %d %s", resp.error->code, resp.error->message.c_str());
      if (on_error) {
        ErrorFn fn = on_error;
        fn(*resp.error);
      }
    } else {
      GST_DEBUG("response to no pending call (%s)", resp.id.dump().c_str());
    }
    return;
  }
  Pending p = std::move(it->second);
  pending_.erase(it);
  p.timer.reset();
  Reply r;
  if (resp.error) {
    r.status = Reply::Status::kError;
    r.error = *resp.error;
  } else {
    r.status = Reply::Status::kResult;
    r.result = resp.result;
  }
  if (p.done) p.done(std::move(r));
}

}  // namespace rtcmesh::sig::rpc
