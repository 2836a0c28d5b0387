#include "tools/bench/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace bench {

GstElement* launch(const std::string& description) {
  GError* err = nullptr;
  GstElement* e = gst_parse_launch(description.c_str(), &err);
  if (!e) {
    std::fprintf(stderr, "cannot launch %s: %s\n", description.c_str(), err ? err->message : "?");
    std::exit(1);
  }
  g_clear_error(&err);
  return e;
}

bool play_looping(GstElement* pipeline, GstElement* demux) {
  std::atomic<bool> demuxed{false};
  gulong id = g_signal_connect(demux, "no-more-pads", G_CALLBACK(+[](GstElement*, gpointer d) {
                                 *static_cast<std::atomic<bool>*>(d) = true;
                               }),
                               &demuxed);
  if (gst_element_set_state(pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    g_signal_handler_disconnect(demux, id);
    return false;
  }
  for (int i = 0; i < 1000 && !demuxed; i++) g_usleep(10000);
  g_signal_handler_disconnect(demux, id);
  gst_element_seek(demux, 1.0, GST_FORMAT_TIME,
                   GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_SEGMENT), GST_SEEK_TYPE_SET, 0,
                   GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);
  return gst_element_set_state(pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

bool loop_on_segment_done(GstMessage* msg, GstElement* demux) {
  if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_SEGMENT_DONE) return false;
  gst_element_seek(demux, 1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_SEGMENT, GST_SEEK_TYPE_SET, 0,
                   GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);
  return true;
}

bool count_tee_input(GstBin* bin, std::atomic<guint64>* counter) {
  GstIterator* it = gst_bin_iterate_recurse(bin);
  GValue item = G_VALUE_INIT;
  GstElement* tee = nullptr;
  while (!tee && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* e = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(e);
    if (f && g_strcmp0(GST_OBJECT_NAME(f), "tee") == 0) tee = GST_ELEMENT(gst_object_ref(e));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  if (!tee) return false;
  GstPad* pad = gst_element_get_static_pad(tee, "sink");
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        guint n = (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
                      ? gst_buffer_list_length(GST_PAD_PROBE_INFO_BUFFER_LIST(info))
                      : 1;
        static_cast<std::atomic<guint64>*>(data)->fetch_add(n, std::memory_order_relaxed);
        return GST_PAD_PROBE_OK;
      },
      counter, nullptr);
  gst_object_unref(pad);
  gst_object_unref(tee);
  return true;
}

void count_queue_overruns(GstElement* bin, std::atomic<guint64>* counter) {
  g_signal_connect(bin, "deep-element-added",
                   G_CALLBACK(+[](GstBin*, GstBin*, GstElement* e, gpointer data) {
                     GstElementFactory* f = gst_element_get_factory(e);
                     if (!f || g_strcmp0(GST_OBJECT_NAME(f), "queue") != 0) return;
                     g_signal_connect(e, "overrun", G_CALLBACK(+[](GstElement*, gpointer d) {
                                        static_cast<std::atomic<guint64>*>(d)->fetch_add(1);
                                      }),
                                      data);
                   }),
                   counter);
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, size_t(p * double(sorted.size() - 1) + 0.5))];
}

std::vector<int> parse_int_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 0 || v > 10000) return {};
    out.push_back(int(v));
  }
  return out;
}

void reply(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vprintf(fmt, args);
  va_end(args);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::map<std::string, std::string> fields(const std::string& line) {
  std::map<std::string, std::string> out;
  std::stringstream in(line);
  std::string word;
  while (in >> word) {
    auto eq = word.find('=');
    if (eq != std::string::npos) out[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return out;
}

guint64 field_u64(const std::map<std::string, std::string>& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
}

Child::Child(const std::vector<std::string>& args, const std::string& program) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  std::vector<char*> argv;
  std::string self = program;
  argv.push_back(self.data());
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  if (rc != 0) {
    std::fprintf(stderr, "cannot start %s: %s\n", args[0].c_str(), std::strerror(rc));
    std::exit(1);
  }
  in_ = to_child[1];
  out_ = from_child[0];
}

Child::~Child() {
  finish(5000);
}

bool Child::send(const std::string& line) {
  std::string l = line + "\n";
  return write(in_, l.data(), l.size()) == ssize_t(l.size());
}

std::optional<std::string> Child::read_line(int timeout_ms) {
  gint64 deadline = g_get_monotonic_time() + gint64(timeout_ms) * 1000;
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
    if (left_ms <= 0 || out_ < 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    int r = poll(&p, 1, int(left_ms));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = read(out_, buf, sizeof buf);
    if (n <= 0) {
      close(out_);
      out_ = -1;
      return std::nullopt;
    }
    buffer_.append(buf, size_t(n));
  }
}

std::optional<std::string> Child::expect(const std::string& prefix, int timeout_ms) {
  gint64 deadline = g_get_monotonic_time() + gint64(timeout_ms) * 1000;
  for (;;) {
    int left = int((deadline - g_get_monotonic_time()) / 1000);
    auto line = read_line(std::max(left, 0));
    if (!line) return std::nullopt;
    if (line->rfind(prefix, 0) == 0) return line;
    if (line->rfind("error", 0) == 0) std::fprintf(stderr, "  [%d] %s\n", int(pid_), line->c_str());
  }
}

std::optional<std::vector<std::string>> Child::block(const std::string& command, int timeout_ms) {
  if (!send(command)) return std::nullopt;
  std::vector<std::string> lines;
  gint64 deadline = g_get_monotonic_time() + gint64(timeout_ms) * 1000;
  for (;;) {
    int left = int((deadline - g_get_monotonic_time()) / 1000);
    auto line = read_line(std::max(left, 0));
    if (!line) return std::nullopt;
    if (*line == "end") return lines;
    lines.push_back(*line);
  }
}

bool Child::exited() {
  if (reaped_) return true;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

int Child::finish(int timeout_ms) {
  if (pid_ <= 0) return -1;
  if (in_ >= 0) {
    send("quit");
    close(in_);
    in_ = -1;
  }
  gint64 deadline = g_get_monotonic_time() + gint64(timeout_ms) * 1000;
  while (!exited() && g_get_monotonic_time() < deadline) g_usleep(20000);
  if (!exited()) {
    std::fprintf(stderr, "  [%d] did not quit in %d ms: killing it\n", int(pid_), timeout_ms);
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  if (out_ >= 0) {
    close(out_);
    out_ = -1;
  }
  pid_ = -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// utime + stime of a /proc/<pid>[/task/<tid>]/stat line; the name sits in
// parentheses and may hold spaces.
bool parse_stat(const std::string& stat, std::string* name, guint64* ticks) {
  auto open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return false;
  if (name) *name = stat.substr(open + 1, close - open - 1);
  std::stringstream in(stat.substr(close + 2));
  std::string f;
  // Fields after the name: state(3) ... utime(14) stime(15).
  guint64 utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> f; i++) {
    if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  *ticks = utime + stime;
  return true;
}

long status_field(const std::string& status, const char* key) {
  auto pos = status.find(std::string("\n") + key + ":");
  if (pos == std::string::npos) return 0;
  return std::strtol(status.c_str() + pos + std::strlen(key) + 2, nullptr, 10);
}

}  // namespace

ProcSample sample_process(pid_t pid) {
  ProcSample s;
  std::string base = "/proc/" + std::to_string(pid);
  parse_stat(read_all(base + "/stat"), nullptr, &s.cpu_ticks);
  std::string status = read_all(base + "/status");
  s.threads = status_field(status, "Threads");
  s.rss_kb = status_field(status, "VmRSS");
  if (DIR* d = opendir((base + "/fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') s.fds++;
    closedir(d);
  }
  return s;
}

guint64 machine_busy_ticks() {
  std::stringstream in(read_all("/proc/stat"));
  std::string cpu;
  guint64 v[10] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  // user nice system idle iowait irq softirq steal (guest is inside user).
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

guint64 udp_receive_buffer_drops() {
  // Two "Udp:" lines: the field names, then the values.
  std::stringstream in(read_all("/proc/net/snmp"));
  std::string line, names;
  while (std::getline(in, line)) {
    if (line.rfind("Udp: ", 0) != 0) continue;
    if (names.empty()) {
      names = line;
      continue;
    }
    std::stringstream n(names), v(line);
    std::string name, value;
    while (n >> name && v >> value)
      if (name == "RcvbufErrors") return std::strtoull(value.c_str(), nullptr, 10);
    return 0;
  }
  return 0;
}

long ticks_per_second() {
  return sysconf(_SC_CLK_TCK);
}

guint64 own_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return guint64(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         guint64(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

std::map<pid_t, ThreadCpu> thread_cpu(pid_t pid) {
  std::map<pid_t, ThreadCpu> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string task = dir + "/" + e->d_name;
    ThreadCpu t;
    std::string comm = read_all(task + "/comm");
    t.name = comm.substr(0, comm.find('\n'));
    t.ns = std::strtoull(read_all(task + "/schedstat").c_str(), nullptr, 10);
    out[pid_t(std::atoi(e->d_name))] = t;
  }
  closedir(d);
  return out;
}

std::map<std::string, guint64> cpu_by_name(const std::map<pid_t, ThreadCpu>& before,
                                           const std::map<pid_t, ThreadCpu>& after) {
  std::map<std::string, guint64> out;
  for (const auto& [tid, t] : after) {
    auto b = before.find(tid);
    guint64 start = b != before.end() ? b->second.ns : 0;
    std::string name;
    for (char c : t.name)
      if (!g_ascii_isdigit(c)) name += c;
    out[name] += t.ns >= start ? t.ns - start : 0;
  }
  return out;
}

bool encode_720p30_h264(unsigned seconds, unsigned kbps, unsigned gop, const std::string& path) {
  std::printf("encoding %u s of 1280x720@30 H.264 at %u kbit/s, keyframe every %u frames → %s\n",
              seconds, kbps, gop, path.c_str());
  // A moving pattern at constant bitrate: realistic IDR/P sizes, no idle frames.
  std::string desc =
      "videotestsrc num-buffers=" + std::to_string(seconds * 30) +
      " pattern=smpte horizontal-speed=3 ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "x264enc speed-preset=ultrafast tune=zerolatency pass=cbr bitrate=" +
      std::to_string(kbps) + " key-int-max=" + std::to_string(gop) +
      " ! video/x-h264,profile=constrained-baseline ! h264parse ! mp4mux ! filesink location=\"" +
      path + "\"";
  GstElement* p = launch(desc);
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(p);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 300 * GST_SECOND,
                                               GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  bool ok = msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
  if (msg) gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  return ok;
}

}  // namespace bench
