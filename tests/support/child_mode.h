// Helpers that a test starts as a process and then kills (to see a peer
// vanish without a goodbye) are not tests: they are child modes of the test
// program. `<program> --child=NAME` runs the one registered as NAME instead
// of GoogleTest (gst_main.cpp), so no test list shows them.
#pragma once

#include <string>
#include <vector>

namespace rtcmesh::test {

// Registers `run` (returns the exit status) as child mode `name`. Returns
// true, for RTCMESH_CHILD_MODE's static initialiser.
bool register_child_mode(const char* name, int (*run)());
// When argv asks for a child mode, runs it, stores its exit status and
// returns true (an unknown name: status 2).
bool run_child_mode(int argc, char** argv, int* status);
// The command line that starts this program in child mode `name`.
std::vector<std::string> child_mode_command(const std::string& name);

}  // namespace rtcmesh::test

#define RTCMESH_CHILD_MODE(name, function) \
  static const bool function##_child_mode = ::rtcmesh::test::register_child_mode(name, function)
