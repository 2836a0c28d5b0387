// main() for every test executable: initialises GStreamer with the plugin
// registered statically, then runs GoogleTest, or a child mode
// (child_mode.h) when started as `<program> --child=NAME`.
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "gst/elements.h"
#include "tests/support/child_mode.h"

namespace rtcmesh::test {
namespace {

constexpr const char kChildFlag[] = "--child=";

std::map<std::string, int (*)()>& child_modes() {
  static std::map<std::string, int (*)()> modes;
  return modes;
}

// A test that hangs must say which one it is and where it waits, rather than
// leaving only meson's TIMEOUT for the whole program: past
// RTCMESH_TEST_HANG_SECONDS (default 100) one test prints every thread's
// stack (gdb, when installed) and aborts; a SIGTERM (meson's timeout) prints
// the test that was running.
char g_running[512];                // "Suite.Test", for the signal handler
std::atomic<gint64> g_started_us{0};  // 0: no test running

void on_sigterm(int sig) {
  const char head[] = "\nkilled by SIGTERM (a meson timeout?) while running: ";
  ssize_t ignored = write(STDERR_FILENO, head, sizeof head - 1);
  ignored = write(STDERR_FILENO, g_running, strnlen(g_running, sizeof g_running));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  signal(sig, SIG_DFL);
  raise(sig);
}

class HangWatch : public testing::EmptyTestEventListener {
 public:
  void OnTestStart(const testing::TestInfo& t) override {
    std::snprintf(g_running, sizeof g_running, "%s.%s", t.test_suite_name(), t.name());
    g_started_us = g_get_monotonic_time();
  }
  void OnTestEnd(const testing::TestInfo&) override { g_started_us = 0; }

  static void start() {
    const char* env = std::getenv("RTCMESH_TEST_HANG_SECONDS");
    int limit = env ? std::atoi(env) : 100;
    if (limit <= 0) return;
    signal(SIGTERM, on_sigterm);
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);  // let gdb attach to us
    std::thread([limit] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        gint64 t0 = g_started_us;
        if (!t0 || g_get_monotonic_time() - t0 < gint64(limit) * G_USEC_PER_SEC) continue;
        std::fprintf(stderr, "\nHANG: %s has run for more than %d s; every thread's stack:\n",
                     g_running, limit);
        std::fflush(nullptr);
        std::string gdb = "gdb -p " + std::to_string(getpid()) +
                          " -batch -nx -ex 'thread apply all bt 25' 1>&2 2>/dev/null";
        if (std::system(gdb.c_str()) != 0) std::fprintf(stderr, "(no gdb: no stacks)\n");
        std::abort();
      }
    }).detach();
  }
};

}  // namespace

bool register_child_mode(const char* name, int (*run)()) {
  child_modes()[name] = run;
  return true;
}

bool run_child_mode(int argc, char** argv, int* status) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kChildFlag, sizeof kChildFlag - 1) != 0) continue;
    const char* name = argv[i] + sizeof kChildFlag - 1;
    auto it = child_modes().find(name);
    if (it == child_modes().end()) {
      std::fprintf(stderr, "no child mode '%s'\n", name);
      *status = 2;
    } else {
      *status = it->second();
    }
    return true;
  }
  return false;
}

std::vector<std::string> child_mode_command(const std::string& name) {
  char exe[4096] = {};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  return {n > 0 ? exe : "/proc/self/exe", kChildFlag + name};
}

}  // namespace rtcmesh::test

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  gst_init(&argc, &argv);
  if (!rtcmesh_register_static()) return 1;
  int rc = 0;
  if (!rtcmesh::test::run_child_mode(argc, argv, &rc)) {
    testing::UnitTest::GetInstance()->listeners().Append(new rtcmesh::test::HangWatch);
    rtcmesh::test::HangWatch::start();
    rc = RUN_ALL_TESTS();
  }
  // gst_deinit joins every streaming thread still running. One left running
  // (an element stopped outside the bin's own state changes and started
  // again, as the mcu tests' proxysrc was: docs/architecture.md, Ownership
  // and teardown) would hang it for ever: a leak the tests must not pass
  // with, so the run fails saying so rather than timing out.
  std::atomic<bool> done{false};
  std::thread deinit([&] {
    gst_deinit();
    done = true;
  });
  for (int i = 0; i < 100 && !done; i++) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!done) {
    std::fprintf(stderr,
                 "FAILED: gst_deinit still waits after 10 s: a GStreamer streaming thread was "
                 "left running after its pipeline stopped (the tests' own result: %d)\n",
                 rc);
    std::fflush(nullptr);
    _exit(rc ? rc : 3);
  }
  deinit.join();
  return rc;
}
