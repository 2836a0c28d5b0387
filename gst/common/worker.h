// The worker thread of an element (DESIGN §4): one thread running its own
// GMainContext. SoupServer/SoupSession and all session state live there;
// webrtcbin callbacks hop onto it with post().
#pragma once

#include <glib.h>

#include <functional>
#include <string>
#include <thread>

#include "gst/common/ptr.h"

namespace rtcmesh {

// Destroys a timer source made by Worker::timeout (safe on null).
struct TimerDeleter {
  void operator()(GSource* s) const {
    if (s) {
      g_source_destroy(s);
      g_source_unref(s);
    }
  }
};
using Timer = std::unique_ptr<GSource, TimerDeleter>;

class Worker {
 public:
  explicit Worker(std::string name);
  // Stops the loop and joins; closures still queued are dropped unrun.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  GMainContext* context() const { return context_; }
  bool on_worker() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Runs fn on the worker thread later. Safe from any thread.
  void post(std::function<void()> fn);
  // Runs fn on the worker thread and waits for it (inline when already there).
  void call(const std::function<void()>& fn);
  // Calls fn every `ms` milliseconds (once when fn returns false) on the worker.
  // Destroying the returned source stops it.
  Timer timeout(unsigned ms, std::function<bool()> fn);

 private:
  void run();

  std::string name_;
  GMainContext* context_;
  GMainLoop* loop_;
  std::thread thread_;
};

}  // namespace rtcmesh
