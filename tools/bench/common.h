// Helpers shared by the rtcmesh-bench commands: pipelines, percentiles, child
// processes talking a line protocol, and /proc readers.
#pragma once

#include <gst/gst.h>
#include <sys/types.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bench {

// gst_parse_launch or exit(1) with the reason.
GstElement* launch(const std::string& description);

// `seconds` of a moving 1280x720@30 pattern as constrained-baseline H.264 at
// `kbps`, a keyframe every `gop` frames, into the MP4 `path` (the benches'
// pre-encoded input). False if it did not finish.
bool encode_720p30_h264(unsigned seconds, unsigned kbps, unsigned gop, const std::string& path);

// Nearest-rank percentile of sorted values (p in [0, 1]).
double percentile(const std::vector<double>& sorted, double p);

// A pipeline playing a file through qtdemux `demux` in a loop: PAUSED, one
// segment seek once the headers are read (the demuxer then posts
// segment-done instead of EOS), PLAYING. False if it would not start.
bool play_looping(GstElement* pipeline, GstElement* demux);
// Its bus: segment-done seeks back to 0 without flushing, so running time (and
// RTP time) goes on. True if `msg` was that.
bool loop_on_segment_done(GstMessage* msg, GstElement* demux);

// Counts the packets into the first tee inside `bin` (a fan-out: each goes to
// every branch) into `counter`. False if there is no tee.
bool count_tee_input(GstBin* bin, std::atomic<guint64>* counter);
// Counts every "overrun" of the leaky queues that will be added anywhere
// inside `bin` (each one a packet dropped to make room).
void count_queue_overruns(GstElement* bin, std::atomic<guint64>* counter);

// "1,10,25" → {1, 10, 25}; empty on a malformed list.
std::vector<int> parse_int_list(const std::string& s);

// Writes one line to stdout and flushes: subprocesses answer their parent so.
void reply(const char* fmt, ...) G_GNUC_PRINTF(1, 2);

// key=value fields of a protocol line ("stats viewers=3 sent=10").
std::map<std::string, std::string> fields(const std::string& line);
guint64 field_u64(const std::map<std::string, std::string>& f, const std::string& key);

// This program again (re-exec'd with a hidden subcommand), or `program`;
// stdin and stdout piped to us, stderr shared. Killed by its pid if it
// outlives the object.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args,
                 const std::string& program = "/proc/self/exe");
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool send(const std::string& line);
  // The next line, or nullopt on timeout or EOF (exited() then tells which).
  std::optional<std::string> read_line(int timeout_ms);
  // Lines until one starting with `prefix` (others are dropped), or nullopt.
  std::optional<std::string> expect(const std::string& prefix, int timeout_ms);
  // Lines up to "end" after a command whose answer is a block.
  std::optional<std::vector<std::string>> block(const std::string& command, int timeout_ms);
  bool exited();
  // Asks it to quit, waits up to `timeout_ms`, then SIGKILLs it. Exit status.
  int finish(int timeout_ms);

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
  int status_ = -1;
};

// /proc figures of one process.
struct ProcSample {
  guint64 cpu_ticks = 0;  // utime + stime, all threads including exited ones
  long threads = 0;
  long rss_kb = 0;
  long fds = 0;
};
ProcSample sample_process(pid_t pid);
// Busy ticks of the whole machine (/proc/stat: all but idle and iowait).
guint64 machine_busy_ticks();
long ticks_per_second();
// Machine-wide UDP datagrams dropped for a full receive buffer (/proc/net/snmp
// RcvbufErrors): where loss on loopback happens when receivers fall behind.
guint64 udp_receive_buffer_drops();
// This process's CPU time (all threads, also exited ones) in µs, finer than
// /proc's 10 ms ticks: the subprocesses report it with their counters.
guint64 own_cpu_us();
// On-CPU nanoseconds of each live thread (schedstat), by thread id, with its name.
struct ThreadCpu {
  std::string name;
  guint64 ns;
};
std::map<pid_t, ThreadCpu> thread_cpu(pid_t pid);
// Nanoseconds spent between two samples per thread name with digits removed
// ("queue12:src" → "queue:src"); a thread born in between counts from zero.
std::map<std::string, guint64> cpu_by_name(const std::map<pid_t, ThreadCpu>& before,
                                           const std::map<pid_t, ThreadCpu>& after);

}  // namespace bench
