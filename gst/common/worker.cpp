#include "gst/common/worker.h"

#include <condition_variable>
#include <mutex>

namespace rtcmesh {

namespace {

struct Closure {
  std::function<bool()> fn;
};

gboolean run_closure(gpointer data) {
  auto* c = static_cast<Closure*>(data);
  return c->fn() ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void free_closure(gpointer data) { delete static_cast<Closure*>(data); }

GSource* attach(GMainContext* ctx, GSource* source, std::function<bool()> fn) {
  g_source_set_callback(source, run_closure, new Closure{std::move(fn)}, free_closure);
  g_source_attach(source, ctx);
  return source;
}

}  // namespace

Worker::Worker(std::string name)
    : name_(std::move(name)),
      context_(g_main_context_new()),
      loop_(g_main_loop_new(context_, FALSE)) {
  std::mutex m;
  std::condition_variable cv;
  bool running = false;
  thread_ = std::thread([&, this] {
    g_main_context_push_thread_default(context_);
    SourcePtr idle(g_idle_source_new());
    attach(context_, idle.get(), [&] {
      std::lock_guard lock(m);
      running = true;
      cv.notify_one();
      return false;
    });
    idle.reset();
    run();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return running; });
}

Worker::~Worker() {
  if (on_worker()) {
    // Last reference dropped from a closure on our own thread: cannot join.
    g_main_loop_quit(loop_);
    thread_.detach();
    return;
  }
  post([this] { g_main_loop_quit(loop_); });
  thread_.join();
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

void Worker::run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  g_main_loop_run(loop_);
  // Drop whatever is still queued without running it.
  g_main_context_pop_thread_default(context_);
}

void Worker::post(std::function<void()> fn) {
  SourcePtr source(g_idle_source_new());
  g_source_set_priority(source.get(), G_PRIORITY_DEFAULT);
  attach(context_, source.get(), [fn = std::move(fn)] {
    fn();
    return false;
  });
}

void Worker::call(const std::function<void()>& fn) {
  if (on_worker()) {
    fn();
    return;
  }
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  post([&] {
    fn();
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

Timer Worker::timeout(unsigned ms, std::function<bool()> fn) {
  Timer source(g_timeout_source_new(ms));
  attach(context_, source.get(), std::move(fn));
  return source;
}

}  // namespace rtcmesh
