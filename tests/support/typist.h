// A gst-launch-1.0 line that sends what it reads on stdin into a room
// through a data_%u pad (fdsrc fd=0 ! text/x-raw ! X.data_0), with this
// build's shared plugin (normal builds only: the test passes the build dir).
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/harness.h"
#include "tests/support/subprocess.h"

namespace rtcmesh::test {

class Typist {
 public:
  // `element`: the launch words of the room element, named `name`.
  Typist(const std::string& plugin_dir, std::vector<std::string> element, const std::string& name) {
    Subprocess::Options o;
    o.env = {{"GST_PLUGIN_PATH", plugin_dir},
             {"GST_REGISTRY", plugin_dir + "/typist-registry-" + name + ".bin"}};
    o.echo_prefix = "[gst-launch " + name + "]";
    std::vector<std::string> argv = {"gst-launch-1.0"};
    argv.insert(argv.end(), element.begin(), element.end());
    for (const char* w : {"fdsrc", "fd=0", "!", "text/x-raw,format=utf8", "!"}) argv.push_back(w);
    argv.push_back(name + ".data_0");
    proc = Subprocess::spawn(argv, o, &error);
  }
  // Types "line N\n" every 20 ms until `arrived` (a line typed before the
  // connection is up reaches nobody, so keep typing).
  bool type_until(const std::function<bool()>& arrived, std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
          proc->write_stdin("line " + std::to_string(typed++) + "\n");
          return arrived();
        },
        timeout);
  }
  // Ctrl-C: gst-launch's exit status (nullopt if it did not exit).
  std::optional<int> stop() {
    proc->send_signal(SIGINT);
    return proc->wait(10s);
  }

  std::unique_ptr<Subprocess> proc;
  std::string error;
  int typed = 0;
};

}  // namespace rtcmesh::test
