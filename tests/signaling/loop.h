// Fixture for loopback signaling tests: a fresh GMainContext pushed as the
// test thread's default, iterated by run_until().
#pragma once

#include <glib.h>
#include <gtest/gtest.h>

#include <functional>

namespace rtcmesh::test {

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
  }
  void TearDown() override {
    // Let deferred unrefs and cancelled operations finish before the context goes.
    run_for(50);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
  }

  // Iterates the context until cond() holds; false after timeout_ms.
  bool run_until(const std::function<bool()>& cond, int timeout_ms = 5000) {
    gint64 end = g_get_monotonic_time() + gint64(timeout_ms) * 1000;
    while (!cond()) {
      if (g_get_monotonic_time() > end) return false;
      if (!g_main_context_iteration(ctx, FALSE)) g_usleep(500);
    }
    return true;
  }
  void run_for(int ms) {
    gint64 end = g_get_monotonic_time() + gint64(ms) * 1000;
    while (g_get_monotonic_time() < end)
      if (!g_main_context_iteration(ctx, FALSE)) g_usleep(500);
  }
  static double now_s() { return g_get_monotonic_time() / 1e6; }

  GMainContext* ctx = nullptr;
};

}  // namespace rtcmesh::test
