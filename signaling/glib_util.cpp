#include "signaling/glib_util.h"

#include <gst/gst.h>

#include <exception>

#include "signaling/log.h"

#define GST_CAT_DEFAULT rtcsignaling_debug

namespace rtcmesh::sig {

namespace {

struct Closure {
  std::function<void()> fn;
};

gboolean run_closure_once(gpointer data) {
  auto* c = static_cast<Closure*>(data);
  guarded("a posted closure", [c] {
    auto fn = std::move(c->fn);
    c->fn = nullptr;
    if (fn) fn();
  });
  return G_SOURCE_REMOVE;
}

void free_closure(gpointer data) {
  delete static_cast<Closure*>(data);
}

}  // namespace

void log_callback_exception(const char* where, std::exception_ptr e) noexcept {
  init_debug();
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    GST_ERROR("exception in %s: %s", where, ex.what());
  } catch (...) {
    GST_ERROR("unknown exception in %s", where);
  }
}

void post_to_context(GMainContext* ctx, std::function<void()> fn) {
  init_debug();
  GSource* s = g_idle_source_new();
  g_source_set_priority(s, G_PRIORITY_DEFAULT);
  g_source_set_callback(s, run_closure_once, new Closure{std::move(fn)}, free_closure);
  g_source_attach(s, ctx);
  g_source_unref(s);
}

SourceHandle add_timer(GMainContext* ctx, unsigned ms, std::function<void()> fn) {
  init_debug();
  GSource* s = g_timeout_source_new(ms);
  g_source_set_callback(s, run_closure_once, new Closure{std::move(fn)}, free_closure);
  g_source_attach(s, ctx);
  return SourceHandle(s);
}

ScopedContext::ScopedContext(GMainContext* ctx) {
  if (ctx && g_main_context_get_thread_default() != ctx &&
      !(ctx == g_main_context_default() && !g_main_context_get_thread_default())) {
    g_main_context_push_thread_default(ctx);
    pushed_ = ctx;
  }
}

ScopedContext::~ScopedContext() {
  if (pushed_) g_main_context_pop_thread_default(pushed_);
}

}  // namespace rtcmesh::sig
