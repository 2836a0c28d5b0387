// A child process for tests: spawn (g_spawn), read its stdout line by line,
// signal it and wait for it, kill it by PID. Used by the browser tests to run
// the Node/Chromium driver; usable for any helper program (gst-launch, servers).
//
// The child runs in its own process group (so a last-resort SIGKILL reaches the
// helpers it started, e.g. Chromium's renderers) and gets SIGTERM if the thread
// that spawned it dies (PR_SET_PDEATHSIG), so a crashing test leaves nothing
// behind. The destructor terminates it: SIGTERM, a grace period, SIGKILL.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rtcmesh::test {

class Subprocess {
 public:
  struct Options {
    std::vector<std::pair<std::string, std::string>>
        env;          // set on top of this process's environment
    std::string cwd;  // empty: inherit
    std::string
        echo_prefix;  // non-empty: copy the child's stdout/stderr lines to our stderr with it
  };

  // argv[0] is looked up in PATH. Returns nullptr and fills *error on failure.
  static std::unique_ptr<Subprocess> spawn(const std::vector<std::string>& argv,
                                           const Options& options, std::string* error = nullptr);
  static std::unique_ptr<Subprocess> spawn(const std::vector<std::string>& argv,
                                           std::string* error = nullptr) {
    return spawn(argv, Options{}, error);
  }

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // The next stdout line not yet returned, waiting up to `timeout`.
  // nullopt on timeout, or when stdout is closed and every line was read.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads lines until one satisfies `pred` (returned), the timeout passes or
  // stdout closes (nullopt). Lines read on the way are consumed.
  std::optional<std::string> wait_for_line(const std::function<bool(const std::string&)>& pred,
                                           std::chrono::milliseconds timeout);
  // Every stdout / stderr line seen so far (whether read or not).
  std::vector<std::string> stdout_lines() const;
  std::vector<std::string> stderr_lines() const;
  bool stdout_closed() const;

  // Writes to the child's stdin; false if it is closed.
  bool write_stdin(const std::string& data);
  void close_stdin();

  // Sends `sig` to the child's PID.
  void send_signal(int sig);
  // Waits for the child to exit (and up to 2 s more for the end of its
  // output). Returns its exit status: the exit code, or 128 + signal number
  // if a signal ended it; nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  // SIGTERM, wait up to `grace`, then SIGKILL to the child's process group.
  // Returns the exit status.
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  Subprocess() = default;
  void reader(int fd, bool is_stdout);
  bool reap(int options);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> status_;
  std::string echo_prefix_;
  std::thread out_thread_, err_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> unread_;
  std::vector<std::string> out_lines_, err_lines_;
  bool out_closed_ = false, err_closed_ = false;
  std::atomic<int64_t> give_up_at_us_{0};  // readers stop waiting for EOF after this
};

}  // namespace rtcmesh::test
