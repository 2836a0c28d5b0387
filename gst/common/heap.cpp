#include "gst/common/heap.h"

#include <malloc.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rtcmesh {

namespace {

constexpr auto kQuiet = std::chrono::seconds(1);

struct Trimmer {
  std::mutex mu;
  std::condition_variable cv;
  std::chrono::steady_clock::time_point due{};
  bool pending = false;

  void run() {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return pending; });
      // Each new request pushes the trim back: one trim after a burst.
      while (!cv.wait_until(lock, due, [&] { return std::chrono::steady_clock::now() >= due; })) {
      }
      pending = false;
      lock.unlock();
      malloc_trim(0);
      lock.lock();
    }
  }
};

// Leaked on purpose: a detached thread that lives as long as the process.
Trimmer* trimmer() {
  static Trimmer* t = [] {
    auto* t = new Trimmer;
    std::thread([t] { t->run(); }).detach();
    return t;
  }();
  return t;
}

}  // namespace

void prepare_freed_memory_release() {
  trimmer();
}

void release_freed_memory_soon() {
  Trimmer* t = trimmer();
  std::lock_guard lock(t->mu);
  t->due = std::chrono::steady_clock::now() + kQuiet;
  t->pending = true;
  t->cv.notify_one();
}

}  // namespace rtcmesh
