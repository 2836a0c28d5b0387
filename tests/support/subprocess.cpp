#include "tests/support/subprocess.h"

#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace rtcmesh::test {

namespace {

void child_setup(gpointer) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

int decode_status(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

}  // namespace

std::unique_ptr<Subprocess> Subprocess::spawn(const std::vector<std::string>& argv,
                                              const Options& options, std::string* error) {
  if (argv.empty()) {
    if (error) *error = "empty argv";
    return nullptr;
  }
  std::vector<gchar*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<gchar*>(a.c_str()));
  cargv.push_back(nullptr);

  gchar** envp = g_get_environ();
  for (const auto& [k, v] : options.env) envp = g_environ_setenv(envp, k.c_str(), v.c_str(), TRUE);

  std::unique_ptr<Subprocess> p(new Subprocess());
  p->echo_prefix_ = options.echo_prefix;
  GError* err = nullptr;
  GPid pid = 0;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  gboolean ok = g_spawn_async_with_pipes(
      options.cwd.empty() ? nullptr : options.cwd.c_str(), cargv.data(), envp,
      static_cast<GSpawnFlags>(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), child_setup,
      nullptr, &pid, &in_fd, &out_fd, &err_fd, &err);
  g_strfreev(envp);
  if (!ok) {
    if (error) *error = err ? err->message : "g_spawn failed";
    g_clear_error(&err);
    return nullptr;
  }
  p->pid_ = pid;
  p->stdin_fd_ = in_fd;
  p->out_thread_ = std::thread([raw = p.get(), out_fd] { raw->reader(out_fd, true); });
  p->err_thread_ = std::thread([raw = p.get(), err_fd] { raw->reader(err_fd, false); });
  return p;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) terminate();
  close_stdin();
  // A grandchild that inherited the pipes (and left the process group) would
  // keep them open for ever: give the readers 2 s after the exit, then stop.
  give_up_at_us_ = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

void Subprocess::reader(int fd, bool is_stdout) {
  std::string pending;
  char buf[4096];
  auto emit = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!echo_prefix_.empty())
      std::fprintf(stderr, "%s%s %s\n", echo_prefix_.c_str(), is_stdout ? ">" : "!", line.c_str());
    std::lock_guard<std::mutex> lock(mu_);
    if (is_stdout) {
      out_lines_.push_back(line);
      unread_.push_back(std::move(line));
      cv_.notify_all();
    } else {
      err_lines_.push_back(std::move(line));
    }
  };
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      int64_t give_up = give_up_at_us_;
      if (give_up && g_get_monotonic_time() > give_up) {
        std::fprintf(stderr, "%s output still open 2 s after the process ended (a process it "
                     "started holds it); not read further\n", echo_prefix_.c_str());
        break;
      }
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = pending.find('\n')) != std::string::npos) {
      emit(pending.substr(0, pos));
      pending.erase(0, pos + 1);
    }
  }
  if (!pending.empty()) emit(pending);
  ::close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  (is_stdout ? out_closed_ : err_closed_) = true;
  cv_.notify_all();
}

std::optional<std::string> Subprocess::read_line(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !unread_.empty() || out_closed_; });
  if (unread_.empty()) return std::nullopt;
  std::string line = std::move(unread_.front());
  unread_.pop_front();
  return line;
}

std::optional<std::string> Subprocess::wait_for_line(
    const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto line = read_line(left);
    if (!line) return std::nullopt;
    if (pred(*line)) return line;
  }
}

std::vector<std::string> Subprocess::stdout_lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_lines_;
}

std::vector<std::string> Subprocess::stderr_lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return err_lines_;
}

bool Subprocess::stdout_closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_closed_ && unread_.empty();
}

bool Subprocess::write_stdin(const std::string& data) {
  if (stdin_fd_ < 0) return false;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(stdin_fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void Subprocess::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void Subprocess::send_signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

bool Subprocess::reap(int options) {
  if (status_) return true;
  // Look without reaping first: while the child is a zombie its PID (and so its
  // process group id) cannot be reused, so SIGKILL to the group is safe and
  // reaches whatever it left behind (e.g. browser helpers).
  siginfo_t info{};
  int r;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT | options);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {  // not our child any more (should not happen): treat as gone
    status_ = -1;
    return true;
  }
  if (info.si_pid != pid_) return false;  // WNOHANG and still running
  ::kill(-pid_, SIGKILL);
  int raw = 0;
  pid_t w;
  do {
    w = ::waitpid(pid_, &raw, 0);
  } while (w < 0 && errno == EINTR);
  status_ = w == pid_ ? decode_status(raw) : -1;
  return true;
}

std::optional<int> Subprocess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(WNOHANG)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // What it printed before exiting is read to the end (its output's EOF)
  // before the caller looks at stdout_lines()/stderr_lines().
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(2), [&] { return out_closed_ && err_closed_; });
  return status_;
}

bool Subprocess::running() {
  return !reap(WNOHANG);
}

int Subprocess::terminate(std::chrono::milliseconds grace) {
  if (status_) return *status_;
  send_signal(SIGTERM);
  if (auto st = wait(grace)) return *st;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  reap(0);
  return status_.value_or(-1);
}

}  // namespace rtcmesh::test
