// GLib glue for the signaling layer: closures on a GMainContext and pushing a
// context as thread-default while libsoup objects are created or used.
#pragma once

#include <glib.h>

#include <exception>
#include <functional>
#include <memory>

namespace rtcmesh::sig {

// Runs fn once on ctx (from any thread) at its next iteration; dropped unrun
// if the context is destroyed first.
void post_to_context(GMainContext* ctx, std::function<void()> fn);

struct SourceDeleter {
  void operator()(GSource* s) const {
    if (s) {
      g_source_destroy(s);
      g_source_unref(s);
    }
  }
};
using SourceHandle = std::unique_ptr<GSource, SourceDeleter>;
// A timer on ctx calling fn once after `ms`; destroying the handle cancels it.
SourceHandle add_timer(GMainContext* ctx, unsigned ms, std::function<void()> fn);

// Makes ctx the thread-default context for the current scope unless it
// already is (libsoup binds listeners and async operations to it).
class ScopedContext {
 public:
  explicit ScopedContext(GMainContext* ctx);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  GMainContext* pushed_ = nullptr;
};

// Logs the exception escaping a C callback body (they must never unwind
// through GLib).
void log_callback_exception(const char* where, std::exception_ptr e) noexcept;

// Runs fn; an exception is logged and swallowed.
template <typename Fn>
void guarded(const char* where, Fn&& fn) noexcept {
  try {
    std::forward<Fn>(fn)();
  } catch (...) {
    log_callback_exception(where, std::current_exception());
  }
}

}  // namespace rtcmesh::sig
