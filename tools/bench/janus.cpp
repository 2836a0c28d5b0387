#include "tools/bench/janus.h"

#include "signaling/loopback.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <glib/gstdio.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

extern char** environ;

namespace bench {

namespace {

constexpr const char* kJanus = "/usr/bin/janus";
constexpr const char* kLibDir = "/usr/lib/x86_64-linux-gnu/janus";

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return bool(f);
}

}  // namespace

JanusProcess::JanusProcess() {
  if (access(kJanus, X_OK) != 0) {
    error_ = std::string(kJanus) + " not found (apt-get install janus)";
    return;
  }
  GError* err = nullptr;
  gchar* dir = g_dir_make_tmp("rtcmesh-janus-XXXXXX", &err);
  if (!dir) {
    error_ = std::string("no temporary directory: ") + err->message;
    g_clear_error(&err);
    return;
  }
  dir_ = dir;
  g_free(dir);
  // Only the two modules: symlinks in folders of our own.
  g_mkdir((dir_ + "/plugins").c_str(), 0700);
  g_mkdir((dir_ + "/transports").c_str(), 0700);
  if (symlink((std::string(kLibDir) + "/plugins/libjanus_videoroom.so").c_str(),
              (dir_ + "/plugins/libjanus_videoroom.so").c_str()) != 0 ||
      symlink((std::string(kLibDir) + "/transports/libjanus_http.so").c_str(),
              (dir_ + "/transports/libjanus_http.so").c_str()) != 0) {
    error_ = std::string("cannot link Janus's modules from ") + kLibDir;
    return;
  }
  unsigned port = rtcmesh::sig::free_loopback_port();  // Janus binds it next
  bool written =
      write_file(dir_ + "/janus.jcfg",
                 "general: {\n  configs_folder = \"" + dir_ + "\"\n  plugins_folder = \"" + dir_ +
                     "/plugins\"\n  transports_folder = \"" + dir_ +
                     "/transports\"\n  events_folder = \"" + dir_ +
                     "/events\"\n  loggers_folder = \"" + dir_ +
                     "/loggers\"\n  debug_level = 3\n  session_timeout = 60\n}\n"
                     "nat: {\n  ignore_mdns = true\n}\n"
                     "media: {}\nplugins: {}\ntransports: {}\nevents: { broadcast = false }\n") &&
      write_file(dir_ + "/janus.transport.http.jcfg",
                 "general: {\n  base_path = \"/janus\"\n  http = true\n  port = " +
                     std::to_string(port) +
                     "\n  ip = \"127.0.0.1\"\n  https = false\n}\nadmin: { admin_http = false }\n") &&
      write_file(dir_ + "/janus.plugin.videoroom.jcfg", "general: {}\n");
  if (!port || !written) {
    error_ = "cannot write Janus's configuration in " + dir_;
    return;
  }
  std::string cfg = dir_ + "/janus.jcfg", log = dir_ + "/janus.log";
  // -N -L: its log goes to a file (a full pipe would stall it).
  std::vector<std::string> args{kJanus, "-F", dir_, "-C", cfg, "-N", "-L", log};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid_, kJanus, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    error_ = std::string("cannot start janus: ") + std::strerror(rc);
    return;
  }
  url_ = "http://127.0.0.1:" + std::to_string(port) + "/janus";
  for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;;) {
    // Janus starts its transports after its plugins: the API is then ready.
    if (rtcmesh::sig::wait_listening(port, 100)) return;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "janus exited at start (its log: " + log + ")";
      return;
    }
    if (g_get_monotonic_time() > end) {
      error_ = "janus did not answer on " + url_ + " within 10 s";
      return;
    }
    g_usleep(100000);
  }
}

JanusProcess::~JanusProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (g_get_monotonic_time() > end) {
        std::fprintf(stderr, "  janus [%d] did not stop in 5 s: killing it\n", int(pid_));
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      g_usleep(50000);
    }
  }
  if (!dir_.empty() && error_.empty()) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    int ignored = std::system(cmd.c_str());
    (void)ignored;
  } else if (!dir_.empty()) {
    std::fprintf(stderr, "  Janus's directory kept for its log: %s\n", dir_.c_str());
  }
}

namespace {

rtcmesh::sig::HttpClient::Options client_options(unsigned timeout_s) {
  rtcmesh::sig::HttpClient::Options o;
  o.timeout_s = timeout_s;
  return o;
}

}  // namespace

JanusSession::JanusSession(rtcmesh::Worker& worker, std::string url)
    : worker_(worker),
      url_(std::move(url)),
      http_(worker.context(), client_options(10)),
      poll_http_(worker.context(), client_options(45)) {}  // Janus holds a poll ≤ 30 s

JanusSession::~JanusSession() {
  keepalive_.reset();
  poll_http_.cancel_all();
  http_.cancel_all();
}

void JanusSession::post(const std::string& path, Json request, Reply done) {
  request.set("transaction", std::to_string(next_transaction_++));
  http_.request("POST", url_ + path, {}, "application/json", request.dump(),
                [done = std::move(done)](rtcmesh::sig::HttpClient::Result r) {
                  if (r.status != 200)
                    return done(Json(), "HTTP " + std::to_string(r.status) + " " + r.reason + r.error);
                  std::string why;
                  auto reply = Json::parse(r.body, &why);
                  if (!reply) return done(Json(), "bad JSON from Janus: " + why);
                  if (reply->get_string("janus") == std::optional<std::string>("error")) {
                    const Json* e = reply->find("error");
                    return done(*reply, "Janus error: " + (e ? e->dump() : reply->dump()));
                  }
                  done(*reply, "");
                });
}

void JanusSession::start(std::function<void(const std::string& error)> done) {
  post("", Json::object({{"janus", "create"}}), [this, done](const Json& reply, const std::string& error) {
    const Json* data = reply.find("data");
    const Json* id = data ? data->find("id") : nullptr;
    if (!error.empty() || !id || !id->is_int()) return done(error.empty() ? "no session id" : error);
    session_ = guint64(id->as_int());
    poll();
    keepalive_ = worker_.timeout(15000, [this] {
      post("/" + std::to_string(session_), Json::object({{"janus", "keepalive"}}),
           [](const Json&, const std::string&) {});
      return true;
    });
    done("");
  });
}

void JanusSession::poll() {
  poll_http_.request(
      "GET", url_ + "/" + std::to_string(session_) + "?maxev=50", {}, "", "",
      [this](rtcmesh::sig::HttpClient::Result r) {
        auto events = r.status == 200 ? Json::parse(r.body) : std::nullopt;
        if (!events) {
          std::fprintf(stderr, "janus: long poll failed (%d %s%s); polling again\n", r.status,
                       r.reason.c_str(), r.error.c_str());
        } else {
          Json::Array list = events->is_array() ? events->as_array() : Json::Array{*events};
          for (const Json& e : list) {
            const Json* sender = e.find("sender");
            if (!sender || !sender->is_int()) continue;  // keepalive
            auto it = handles_.find(guint64(sender->as_int()));
            if (it != handles_.end()) it->second(e);
          }
        }
        poll();
      });
}

void JanusSession::attach(Events events,
                          std::function<void(guint64 handle, const std::string& error)> done) {
  post("/" + std::to_string(session_),
       Json::object({{"janus", "attach"}, {"plugin", "janus.plugin.videoroom"}}),
       [this, events = std::move(events), done](const Json& reply, const std::string& error) {
         const Json* data = reply.find("data");
         const Json* id = data ? data->find("id") : nullptr;
         if (!error.empty() || !id || !id->is_int())
           return done(0, error.empty() ? "no handle id" : error);
         handles_[guint64(id->as_int())] = events;
         done(guint64(id->as_int()), "");
       });
}

void JanusSession::detach(guint64 handle) {
  handles_.erase(handle);
  post("/" + std::to_string(session_) + "/" + std::to_string(handle),
       Json::object({{"janus", "detach"}}), [](const Json&, const std::string&) {});
}

void JanusSession::message(guint64 handle, Json body, Json jsep, Reply done) {
  Json request = Json::object({{"janus", "message"}, {"body", std::move(body)}});
  if (jsep.is_object()) request.set("jsep", std::move(jsep));
  post("/" + std::to_string(session_) + "/" + std::to_string(handle), std::move(request),
       std::move(done));
}

}  // namespace bench
