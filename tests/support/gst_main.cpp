// main() for every test executable: initialises GStreamer with the plugin
// registered statically, then runs GoogleTest, or a child mode
// (child_mode.h) when started as `<program> --child=NAME`.
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
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
  if (!rtcmesh::test::run_child_mode(argc, argv, &rc)) rc = RUN_ALL_TESTS();
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
