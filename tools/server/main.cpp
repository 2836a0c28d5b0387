// rtcmesh-server: rooms over JSON-RPC 2.0 / WebSocket at /rtc
// (docs/protocol.md), also signaled over a data channel (POST /rtc/<room>),
// and the browser page that joins them at / and /room/<name>. Every mode runs
// in the shared host of an rtcsfu element: SFU rooms (the default), served
// also over WHIP (/whip/<room>), WHEP (/whep/<room>[/<publisher>]), with
// /metrics; --mode mesh relays mesh rooms' offers there (no WHIP/WHEP);
// --mode mcu runs one MCU room (--room, default "mcu") in an rtcmcu element;
// --mode process one processing room there (--video-process/--audio-process).
// A thin program over the static library: it links rtcmesh_dep
// and never loads libgstrtcmesh.so (duplicate GType names abort).
//
//   rtcmesh-server [--port 8443] [--address 0.0.0.0] [--mode sfu|mesh|mcu|process [--room R]] [--engine native|webrtcbin] [--ingress native|webrtcbin] [--token T | --token-file F]
//                  [--token-secret-file F] [--token-public-key F]
//                  [--tls-certificate C --tls-key K] [--peer-timeout 10000]
//                  [--max-peers-per-room 16] [--max-rooms 1000] [--stun-server stun:h:p]
//                  [--rate-per-address 20] [--burst-per-address 40]
//                  [--max-sessions-per-address 50]
//                  [--redis redis://H:P[/DB] --nats nats://H:P --node-id NAME
//                   [--advertise-url URL] [--node-ttl 3000]] ...
//
// Prints "rtcmesh-server listening on http://HOST:PORT" as its first stdout
// line once it listens (--port 0 picks a free port: read it there). SIGINT or
// SIGTERM: every WebSocket is closed with 1001 and the program exits 0.
//
//   rtcmesh-server token --room R --identity P [--publish] [--subscribe] [--layout] [--admin]
//                  --ttl SECONDS (--token-secret-file F | --token-private-key F)
// prints a signed room token (HS256 with the secret, ES256 with the key).
#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gst/elements.h"
#include "gst/server/host.h"
#include "gst/whip/publish_page.h"
#include "signaling/auth/tokens.h"
#include "signaling/cluster/cluster_node.h"
#include "signaling/address_limits.h"
#include "signaling/http/http_server.h"
#include "signaling/http/ice_servers.h"
#include "signaling/log.h"
#include "signaling/rooms/rooms.h"
#include "signaling/util.h"
#include "signaling/http/ws_server.h"
#ifdef RTCMESH_HAVE_GRPC
#include "signaling/grpc/server.h"
#endif

// tools/server/room.html, embedded at build time (embed_page.py).
extern const char kRtcmeshRoomPage[];

namespace {

using namespace rtcmesh;

constexpr int kExitUsage = 2;    // what was typed cannot work
constexpr int kExitRuntime = 1;  // e.g. the port is taken

struct Config {
  std::string address = "0.0.0.0";
  unsigned port = 8443;
  int grpc_port = -1;  // -1: no gRPC; 0: a free port
  sig::RoomMode mode = sig::RoomMode::kSfu;
  std::string mcu_room = "mcu";  // --mode mcu: the one room rtcmcu composites
  unsigned canvas_width = 1280, canvas_height = 720, canvas_fps = 30;  // its composite
  std::string video_process, audio_process;  // --mode process: the fragments
  std::string video_codecs;                  // --mode mcu: the composite's codecs
  std::string tls_certificate, tls_key;
  std::string token;
  std::string token_secret_file, token_public_key_file;  // signed tokens: HS256, ES256
  std::string token_secret, token_public_key;            // their contents
  std::chrono::milliseconds peer_timeout{10000};
  unsigned max_peers_per_room = 16;
  unsigned max_rooms = 1000;
  unsigned max_publishers = 0, max_subscribers = 200;  // per SFU room; 0 = no limit
  unsigned max_sessions = 500;                         // of the server; 0 = no limit
  unsigned max_mlines = 16;                            // of an SFU subscriber connection
  std::string engine = "native";                       // rtcsfu engine: native or webrtcbin
  std::string ingress = "native";                      // rtcsfu ingress: native or webrtcbin
  unsigned udp_port = 0;                               // engine=native: the shared UDP port
  std::string announce_addresses;                      // engine=native: comma-separated
  std::string metrics_token;                           // empty: /metrics is open
  size_t max_message = 64 * 1024;
  // Per client address (its defaults say why a room behind one NAT never meets them).
  sig::AddressLimits::Config address_limits;
  std::vector<sig::IceServer> ice_servers;
  sig::cluster::ClusterOptions cluster;  // node_id empty: no cluster
  // SIGTERM: how long sessions may go on before the process exits (0: at once).
  std::chrono::milliseconds drain_timeout{0};
  bool verbose = false;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

unsigned long long parse_number(const char* option, const char* value, unsigned long long min,
                                unsigned long long max) {
  unsigned long long n = 0;
  if (!value || !sig::parse_uint(sig::trim(value), n) || n < min || n > max)
    throw UsageError(std::string(option) + " takes a whole number from " + std::to_string(min) +
                     " to " + std::to_string(max) + ", not '" + (value ? value : "") + "'");
  return n;
}

// "10000" and "10000ms" are milliseconds (as the elements' peer-timeout
// property), "10s" seconds.
std::chrono::milliseconds parse_duration(const char* option, const char* value) {
  std::string v = value ? std::string(sig::trim(value)) : "";
  unsigned long long scale = 1;
  if (v.size() > 2 && v.ends_with("ms")) {
    v.resize(v.size() - 2);
  } else if (v.size() > 1 && v.ends_with("s")) {
    v.resize(v.size() - 1);
    scale = 1000;
  }
  unsigned long long n = 0;
  if (!sig::parse_uint(v, n) || n > 24ull * 3600 * 1000 / scale)
    throw UsageError(std::string(option) +
                     " takes milliseconds (\"3000\", \"3000ms\") or seconds (\"3s\"), not '" +
                     (value ? value : "") + "'");
  return std::chrono::milliseconds(n * scale);
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--token-file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  // Files usually end with a newline; the token is what is on the line.
  std::string token(sig::trim(ss.str()));
  if (token.empty()) throw UsageError("--token-file: " + path + " is empty");
  if (token.find_first_of("\r\n") != std::string::npos)
    throw UsageError("--token-file: " + path + " holds more than one line");
  return token;
}

// GOptionContext for everything but GStreamer's own --gst-* options, which
// its option group parses (and gst_init runs with them).
Config parse_args(int& argc, char**& argv) {
  gint port = 8443, grpc_port = -1;
  gchar *address = nullptr, *mode = nullptr, *cert = nullptr, *key = nullptr, *token = nullptr,
        *token_file = nullptr, *peer_timeout = nullptr, *max_peers = nullptr, *max_rooms = nullptr,
        *max_message = nullptr, *stun = nullptr, *max_publishers = nullptr,
        *max_subscribers = nullptr, *max_mlines = nullptr, *max_sessions = nullptr,
        *metrics_token = nullptr, *token_secret_file = nullptr, *token_public_key = nullptr,
        *rate_per_address = nullptr, *burst_per_address = nullptr,
        *max_sessions_per_address = nullptr, *room = nullptr, *canvas = nullptr,
        *video_process = nullptr, *audio_process = nullptr, *video_codecs = nullptr,
        *redis = nullptr, *nats = nullptr, *node_id = nullptr, *advertise_url = nullptr,
        *node_ttl = nullptr, *drain_timeout = nullptr, *engine = nullptr, *ingress = nullptr, *udp_port = nullptr;
  gchar** turn = nullptr;
  gchar** announce = nullptr;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
      {"port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port (default 8443; 0 = any free port)",
       "PORT"},
      {"grpc-port", 0, 0, G_OPTION_ARG_INT, &grpc_port,
       "Also serve the rooms over gRPC (rtcmesh.v1.Signaling, proto/rtcmesh/v1/signaling.proto) "
       "on this TCP port (0 = any free port, printed on stdout; default: no gRPC)",
       "PORT"},
      {"address", 'a', 0, G_OPTION_ARG_STRING, &address,
       "Address to listen on for HTTP and ICE (default 0.0.0.0: every interface; 127.0.0.1 "
       "for this machine only)", "ADDR"},
      {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
       "Mode of the rooms: sfu (default: the server forwards every publisher to every "
       "subscriber), mesh (participants connect to each other), mcu (one room, --room, whose "
       "publishers are composited into one picture and mix for every subscriber) or process "
       "(one room, --room, where each participant's media goes through --video-process / "
       "--audio-process and comes back to that participant)",
       "MODE"},
      {"room", 0, 0, G_OPTION_ARG_STRING, &room,
       "--mode mcu or process: the name of the room (default mcu)", "NAME"},
      {"video-codecs", 0, 0, G_OPTION_ARG_STRING, &video_codecs,
       "--mode mcu: codecs the composite is encoded in, once each (default vp8; e.g. "
       "vp8,h264: every subscriber gets the first it decodes)", "LIST"},
      {"video-process", 0, 0, G_OPTION_ARG_STRING, &video_process,
       "--mode process: gst-launch fragment every participant's video goes through (raw in, "
       "raw out), e.g. 'videoflip video-direction=horiz'", "FRAGMENT"},
      {"audio-process", 0, 0, G_OPTION_ARG_STRING, &audio_process,
       "--mode process: gst-launch fragment every participant's audio goes through (raw in, "
       "raw out), e.g. 'audioecho delay=200000000 intensity=0.5'", "FRAGMENT"},
      {"canvas", 0, 0, G_OPTION_ARG_STRING, &canvas,
       "--mode mcu: size and frame rate of the composite (default 1280x720@30)", "WxH@FPS"},
      {"tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &cert,
       "PEM certificate (chain): serve HTTPS and wss://", "FILE"},
      {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &key, "PEM private key of --tls-certificate",
       "FILE"},
      {"token", 't', 0, G_OPTION_ARG_STRING, &token,
       "Token that join and list need (the page takes ?token=)", "TOKEN"},
      {"token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
       "Read the token from a file (keeps it out of the process list)", "FILE"},
      {"token-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &token_secret_file,
       "Accept signed room tokens (JWT HS256) made with the secret in this file (32+ bytes); "
       "see 'rtcmesh-server token --help'",
       "FILE"},
      {"token-public-key", 0, 0, G_OPTION_ARG_FILENAME, &token_public_key,
       "Accept signed room tokens (JWT ES256) verified with this P-256 public key (PEM)", "FILE"},
      {"peer-timeout", 0, 0, G_OPTION_ARG_STRING, &peer_timeout,
       "A connection silent this long (no frame, no pong) is removed; ms, or '10s' "
       "(default 10000)",
       "MS"},
      {"max-peers-per-room", 0, 0, G_OPTION_ARG_STRING, &max_peers,
       "Peers one room takes (default 16)", "N"},
      {"max-rooms", 0, 0, G_OPTION_ARG_STRING, &max_rooms, "Rooms at once (default 1000)", "N"},
      {"max-publishers", 0, 0, G_OPTION_ARG_STRING, &max_publishers,
       "Publishers per SFU room (default 0: no limit)", "N"},
      {"max-subscribers", 0, 0, G_OPTION_ARG_STRING, &max_subscribers,
       "Subscribers per SFU room (default 200; 0: no limit)", "N"},
      {"metrics-token", 0, 0, G_OPTION_ARG_STRING, &metrics_token,
       "Bearer token that GET /metrics needs (default: none, /metrics is open)", "TOKEN"},
      {"max-sessions", 0, 0, G_OPTION_ARG_STRING, &max_sessions,
       "WebRTC connections of the server at once: publishers and subscribers of every room "
       "(default 500; 0: no limit); past it WHIP/WHEP get 503 with Retry-After",
       "N"},
      {"rate-per-address", 0, 0, G_OPTION_ARG_STRING, &rate_per_address,
       "Session-creating requests (WHIP/WHEP POST, join, WebSocket connections) one client "
       "address may make per second after its burst (default 20; 0: no limit); past it 429 "
       "with Retry-After, join -32008 with data.retryAfter",
       "N"},
      {"burst-per-address", 0, 0, G_OPTION_ARG_STRING, &burst_per_address,
       "Session-creating requests one client address may make at once (default 40)", "N"},
      {"max-sessions-per-address", 0, 0, G_OPTION_ARG_STRING, &max_sessions_per_address,
       "WHIP publishers, WHEP players and JSON-RPC connections one client address may hold "
       "at once (default 50; 0: no limit); past it 429 with Retry-After, a WebSocket is "
       "closed 4029",
       "N"},
      {"max-mlines", 0, 0, G_OPTION_ARG_STRING, &max_mlines,
       "m-lines of an SFU subscriber connection before it is rebuilt (default 16)", "N"},
      {"engine", 0, 0, G_OPTION_ARG_STRING, &engine,
       "What serves SFU subscribers: native (default; our own ICE-lite, DTLS and SRTP on one "
       "UDP port, a fixed pool of threads) or webrtcbin (one per subscriber, for comparison)",
       "ENGINE"},
      {"ingress", 0, 0, G_OPTION_ARG_STRING, &ingress,
       "What receives SFU publishers (WHIP, JSON-RPC publish): native (default; the --engine "
       "native engine on its UDP port, webrtcbin with --engine webrtcbin) or webrtcbin (one per "
       "publisher, for comparison)",
       "ENGINE"},
      {"udp-port", 0, 0, G_OPTION_ARG_STRING, &udp_port,
       "UDP port of --engine native, shared by every subscriber (default 0 = any free port)",
       "PORT"},
      {"announce-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &announce,
       "Address written in the server's ICE candidates, for NAT and containers "
       "(repeatable, one per family; default: the gathered ones; --engine native: the "
       "--address, or every IPv4 address when 0.0.0.0)",
       "IP"},
      {"max-message", 0, 0, G_OPTION_ARG_STRING, &max_message,
       "Largest JSON-RPC message in bytes (default 65536)", "BYTES"},
      {"stun-server", 0, 0, G_OPTION_ARG_STRING, &stun,
       "STUN server sent to participants as iceServers (stun:host:port)", "URI"},
      {"turn-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn,
       "TURN server for participants, turn://user:pass@host:port (repeatable)", "URI"},
      {"redis", 0, 0, G_OPTION_ARG_STRING, &redis,
       "Join a cluster of nodes: room state in this Redis (redis://HOST:PORT[/DB]); needs "
       "--nats and --node-id",
       "URL"},
      {"nats", 0, 0, G_OPTION_ARG_STRING, &nats,
       "The cluster's NATS server (nats://HOST:PORT): joins, leaves, publisher events and "
       "heartbeats between nodes",
       "URL"},
      {"node-id", 0, 0, G_OPTION_ARG_STRING, &node_id,
       "This node's name in the cluster (unique; A-Z a-z 0-9 . _ ~ -)", "NAME"},
      {"advertise-url", 0, 0, G_OPTION_ARG_STRING, &advertise_url,
       "Where clients reach this node: its /rtc WebSocket URL (kept with its heartbeat in "
       "Redis; a draining node sends its participants to another node's)",
       "URL"},
      {"drain-timeout", 0, 0, G_OPTION_ARG_STRING, &drain_timeout,
       "SIGTERM drains: no new sessions (503 + Retry-After, /readyz 503), /rtc participants told "
       "to move (1001 \"move <another node's --advertise-url>\"), then exit once every session "
       "ended or after this long (ms or '30s'; default 30 s for cluster nodes, 0 otherwise: exit "
       "at once). A second signal exits at once",
       "MS"},
      {"node-ttl", 0, 0, G_OPTION_ARG_STRING, &node_ttl,
       "A node silent this long is gone: its participants and publishers leave (ms or '3s'; "
       "default 3000; heartbeats every third of it)",
       "MS"},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
       "Log connections, joins and leaves to stderr (GST_DEBUG=rtcsignaling:4)", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext* ctx = g_option_context_new("- rooms over JSON-RPC 2.0 / WebSocket");
  g_option_context_set_summary(
      ctx,
      "Serves rooms at ws(s)://HOST:PORT/rtc (docs/protocol.md) and a page that joins\n"
      "one from a browser: http(s)://HOST:PORT/room/NAME (?peer=ID&token=TOKEN).");
  g_option_context_add_main_entries(ctx, entries, nullptr);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  GError* err = nullptr;
  bool parsed = g_option_context_parse(ctx, &argc, &argv, &err);
  g_option_context_free(ctx);
  // Owned strings go into the config or away, whatever happens next.
  auto take = [](gchar*& s) {
    std::optional<std::string> v;
    if (s) v = s;
    g_free(s);
    s = nullptr;
    return v;
  };
  std::vector<std::string> turn_servers;
  for (gchar** t = turn; t && *t; ++t) turn_servers.emplace_back(*t);
  g_strfreev(turn);
  auto address_s = take(address), mode_s = take(mode), room_s = take(room), canvas_s = take(canvas),
       video_process_s = take(video_process), audio_process_s = take(audio_process),
       video_codecs_s = take(video_codecs), cert_s = take(cert), key_s = take(key),
       token_s = take(token), token_file_s = take(token_file), timeout_s = take(peer_timeout),
       max_peers_s = take(max_peers), max_rooms_s = take(max_rooms),
       max_message_s = take(max_message), stun_s = take(stun),
       max_publishers_s = take(max_publishers), max_subscribers_s = take(max_subscribers),
       max_mlines_s = take(max_mlines), max_sessions_s = take(max_sessions),
       metrics_token_s = take(metrics_token), secret_file_s = take(token_secret_file),
       public_key_s = take(token_public_key), rate_s = take(rate_per_address),
       burst_s = take(burst_per_address), per_address_s = take(max_sessions_per_address),
       redis_s = take(redis), nats_s = take(nats), node_id_s = take(node_id),
       advertise_s = take(advertise_url), node_ttl_s = take(node_ttl),
       drain_timeout_s = take(drain_timeout),
       engine_s = take(engine), ingress_s = take(ingress), udp_port_s = take(udp_port);
  std::vector<std::string> announced;
  for (gchar** a = announce; a && *a; ++a) announced.emplace_back(*a);
  g_strfreev(announce);
  if (!parsed) {
    std::string why = err->message;
    g_clear_error(&err);
    throw UsageError(why);
  }
  if (argc > 1) throw UsageError(std::string("unexpected argument '") + argv[1] + "'");

  Config c;
  if (port < 0 || port > 65535)
    throw UsageError("--port takes 0 to 65535, not " + std::to_string(port));
  c.port = static_cast<unsigned>(port);
  if (grpc_port < -1 || grpc_port > 65535)
    throw UsageError("--grpc-port takes 0 to 65535, not " + std::to_string(grpc_port));
#ifndef RTCMESH_HAVE_GRPC
  if (grpc_port >= 0)
    throw UsageError("--grpc-port: this rtcmesh-server was built without gRPC (-Dgrpc=disabled)");
#endif
  c.grpc_port = grpc_port;
  if (address_s) {
    if (address_s->empty()) throw UsageError("--address is empty");
    if (!g_hostname_is_ip_address(address_s->c_str()))
      throw UsageError("--address takes an IP address (0.0.0.0, 127.0.0.1, ::), not '" +
                       *address_s + "'");
    c.address = *address_s;
  }
  if (mode_s) {
    auto m = sig::parse_room_mode(*mode_s);
    if (!m) throw UsageError("--mode takes mesh, sfu, mcu or process, not '" + *mode_s + "'");
    c.mode = *m;
  }
  const bool one_room = c.mode == sig::RoomMode::kMcu || c.mode == sig::RoomMode::kProcess;
  if ((video_process_s || audio_process_s) && c.mode != sig::RoomMode::kProcess)
    throw UsageError("--video-process and --audio-process go with --mode process");
  if (c.mode == sig::RoomMode::kProcess) {
    c.video_process = video_process_s.value_or("");
    c.audio_process = audio_process_s.value_or("");
    if (c.video_process.empty() && c.audio_process.empty())
      throw UsageError("--mode process needs --video-process or --audio-process (or both)");
  }
  if (video_codecs_s) {
    // Its names are checked by rtcmcu when it starts (the start fails naming them).
    if (c.mode != sig::RoomMode::kMcu) throw UsageError("--video-codecs goes with --mode mcu");
    c.video_codecs = *video_codecs_s;
  }
  if (room_s) {
    if (!one_room) throw UsageError("--room goes with --mode mcu or process");
    if (!sig::valid_room_name(*room_s))
      throw UsageError("--room: 1-64 characters of A-Z a-z 0-9 . _ ~ -");
    c.mcu_room = *room_s;
  }
  if (canvas_s) {
    if (!one_room) throw UsageError("--canvas goes with --mode mcu or process");
    unsigned w = 0, h = 0, f = 0;
    char end = 0;
    if (std::sscanf(canvas_s->c_str(), "%ux%u@%u%c", &w, &h, &f, &end) != 3 || w < 16 ||
        h < 16 || w > 7680 || h > 4320 || f < 1 || f > 120)
      throw UsageError("--canvas takes WxH@FPS (16x16@1 to 7680x4320@120), not '" + *canvas_s +
                       "'");
    c.canvas_width = w;
    c.canvas_height = h;
    c.canvas_fps = f;
  }
  if (cert_s.has_value() != key_s.has_value())
    throw UsageError("--tls-certificate and --tls-key go together");
  if (cert_s) {
    for (const auto& f : {*cert_s, *key_s})
      if (!g_file_test(f.c_str(), G_FILE_TEST_IS_REGULAR))
        throw UsageError("cannot read TLS file " + f);
    c.tls_certificate = *cert_s;
    c.tls_key = *key_s;
  }
  if (token_s && token_file_s) throw UsageError("--token and --token-file exclude each other");
  if (token_s) {
    if (token_s->empty()) throw UsageError("--token is empty");
    c.token = *token_s;
  }
  if (token_file_s) c.token = read_token_file(*token_file_s);
  try {
    if (secret_file_s) {
      c.token_secret_file = *secret_file_s;
      c.token_secret = sig::read_key_file(*secret_file_s, "--token-secret-file");
    }
    if (public_key_s) {
      c.token_public_key_file = *public_key_s;
      c.token_public_key = sig::read_key_file(*public_key_s, "--token-public-key");
    }
    sig::TokenVerifier check(sig::TokenKeys{c.token, c.token_secret, c.token_public_key});
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (timeout_s) {
    c.peer_timeout = parse_duration("--peer-timeout", timeout_s->c_str());
    // Pings go out every second at the fastest; a shorter timeout would drop
    // every idle participant.
    if (c.peer_timeout <= std::chrono::milliseconds(1000))
      throw UsageError("--peer-timeout must be longer than 1 s");
  }
  if (max_peers_s)
    c.max_peers_per_room =
        static_cast<unsigned>(parse_number("--max-peers-per-room", max_peers_s->c_str(), 2, 10000));
  if (max_rooms_s)
    c.max_rooms =
        static_cast<unsigned>(parse_number("--max-rooms", max_rooms_s->c_str(), 1, 1000000));
  if (max_publishers_s)
    c.max_publishers =
        static_cast<unsigned>(parse_number("--max-publishers", max_publishers_s->c_str(), 0, 100000));
  if (max_subscribers_s)
    c.max_subscribers = static_cast<unsigned>(
        parse_number("--max-subscribers", max_subscribers_s->c_str(), 0, 100000));
  if (metrics_token_s) c.metrics_token = *metrics_token_s;
  if (max_sessions_s)
    c.max_sessions =
        static_cast<unsigned>(parse_number("--max-sessions", max_sessions_s->c_str(), 0, 100000));
  if (rate_s) {
    char* end = nullptr;
    double rate = g_ascii_strtod(rate_s->c_str(), &end);
    if (rate_s->empty() || *end != '\0' || !(rate >= 0 && rate <= 1e6))
      throw UsageError("--rate-per-address takes requests per second from 0 to 1000000 (\"0.5\" "
                       "is fine), not '" + *rate_s + "'");
    c.address_limits.rate = rate;
  }
  if (burst_s)
    c.address_limits.burst =
        static_cast<unsigned>(parse_number("--burst-per-address", burst_s->c_str(), 1, 1000000));
  if (per_address_s)
    c.address_limits.max_sessions = static_cast<unsigned>(
        parse_number("--max-sessions-per-address", per_address_s->c_str(), 0, 1000000));
  if (max_mlines_s)
    c.max_mlines = static_cast<unsigned>(parse_number("--max-mlines", max_mlines_s->c_str(), 2, 64));
  if (engine_s) {
    if (*engine_s != "webrtcbin" && *engine_s != "native")
      throw UsageError("--engine takes webrtcbin or native, not '" + *engine_s + "'");
    c.engine = *engine_s;
  }
  if (ingress_s) {
    if (*ingress_s != "webrtcbin" && *ingress_s != "native")
      throw UsageError("--ingress takes webrtcbin or native, not '" + *ingress_s + "'");
    c.ingress = *ingress_s;
  }
  if (udp_port_s) c.udp_port = static_cast<unsigned>(parse_number("--udp-port", udp_port_s->c_str(), 0, 65535));
  for (const std::string& a : announced) {
    if (!g_hostname_is_ip_address(a.c_str()))
      throw UsageError("--announce-address takes an IP address, not '" + a + "'");
    c.announce_addresses += (c.announce_addresses.empty() ? "" : ",") + a;
  }
  if (max_message_s)
    c.max_message = static_cast<size_t>(
        parse_number("--max-message", max_message_s->c_str(), 1024, 16 * 1024 * 1024));
  try {
    c.ice_servers = sig::parse_ice_servers(stun_s.value_or(""), turn_servers);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--stun-server/--turn-server: ") + e.what());
  }
  c.cluster.redis_url = redis_s.value_or("");
  c.cluster.nats_url = nats_s.value_or("");
  c.cluster.node_id = node_id_s.value_or("");
  c.cluster.advertise_url = advertise_s.value_or("");
  if (node_ttl_s) {
    auto ttl = parse_duration("--node-ttl", node_ttl_s->c_str());
    if (ttl < std::chrono::milliseconds(600) || ttl > std::chrono::milliseconds(60000))
      throw UsageError("--node-ttl takes 600 ms to 60 s");
    c.cluster.ttl_ms = static_cast<unsigned>(ttl.count());
    c.cluster.heartbeat_ms = c.cluster.ttl_ms / 3;
  }
  if (std::string why = sig::cluster::check_options(c.cluster); !why.empty()) throw UsageError(why);
  if (node_ttl_s && c.cluster.node_id.empty())
    throw UsageError("--node-ttl is for cluster nodes (--redis, --nats, --node-id)");
  if (!c.cluster.node_id.empty() && one_room)
    throw UsageError("--redis/--nats/--node-id go with --mode sfu or mesh: MCU rooms span one node");
  if (!c.cluster.advertise_url.empty() && c.cluster.node_id.empty())
    throw UsageError("--advertise-url is for cluster nodes (--redis, --nats, --node-id)");
  if (!c.cluster.advertise_url.empty() && !c.cluster.advertise_url.starts_with("ws://") &&
      !c.cluster.advertise_url.starts_with("wss://"))
    throw UsageError("--advertise-url takes this node's WebSocket URL (ws://HOST:PORT/rtc or "
                     "wss://…), not '" + c.cluster.advertise_url + "'");
  c.drain_timeout = c.cluster.node_id.empty() ? std::chrono::milliseconds(0)
                                              : std::chrono::milliseconds(30000);
  if (drain_timeout_s) {
    c.drain_timeout = parse_duration("--drain-timeout", drain_timeout_s->c_str());
    if (c.drain_timeout > std::chrono::minutes(10))
      throw UsageError("--drain-timeout takes 0 to 10 minutes");
  }
  c.verbose = verbose;
  return c;
}

// The room name after `prefix` in `path` ("/room/NAME[/]"), if valid.
std::optional<std::string> room_in(const std::string& path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view name = std::string_view(path).substr(prefix.size());
  if (name.ends_with("/")) name.remove_suffix(1);
  if (!sig::valid_room_name(name)) return std::nullopt;
  return std::string(name);
}

// GET / and /room/<name>: the room page (it reads the room from its own URL);
// with WHIP (SFU rooms) GET /publish/<name>: the publish page of that room.
sig::HttpServer::Handler page_handler(bool whip) {
  return [whip](const sig::HttpRequest& req, sig::Responder respond) {
    const std::string& path = req.path;
    if (path == "/" || path == "/index.html" || room_in(path, "/room/"))
      return respond(
          sig::HttpResponse::page(req.method, kRtcmeshRoomPage, "the room page is read-only"));
    if (auto room = room_in(path, "/publish/"); room && whip)
      return respond(sig::HttpResponse::page(
          req.method, whip_publish_page({"/whip/" + *room, false, true, {}, {}}),
          "the publish page is read-only; WHIP offers go to /whip/" + *room));
    std::string where = "the room page is at / and /room/NAME, rooms at /rtc (WebSocket)";
    if (whip) where += ", the publish page at /publish/NAME";
    else if (path.starts_with("/publish/")) where += "; /publish/NAME needs --mode sfu (WHIP)";
    respond(sig::HttpResponse::error(404, "not found: " + where));
  };
}

struct SignalState {
  GMainLoop* loop;
  const char* name = nullptr;
  int count = 0;  // signals so far (a second one during the drain: exit now)
};

gboolean on_signal(gpointer data, const char* name) {
  auto* s = static_cast<SignalState*>(data);
  if (!s->name) s->name = name;
  s->count++;
  g_main_loop_quit(s->loop);
  return G_SOURCE_CONTINUE;
}

// Every mode: the shared host (its own worker thread) serving /rtc (the
// WebSocket and POST /rtc/<room>), WHIP, WHEP and /metrics, with an rtcsfu
// element in a pipeline hosting every room (rtcmcu for one MCU or processing
// room). Mesh rooms (Host::Options::mesh_rooms) run in the same host: the
// room service relays their offers, the rtcsfu ends their POSTed data-only
// connections, and WHIP/WHEP answer 404.
struct SfuServer {
  std::shared_ptr<server::Host> host;
  GstElement* pipeline = nullptr;
  GstElement* element = nullptr;  // the rtcsfu (the pipeline's)
  ~SfuServer() {
    if (pipeline) {
      gst_element_set_state(pipeline, GST_STATE_NULL);
      gst_object_unref(pipeline);
    }
  }
};

gboolean on_bus(GstBus*, GstMessage* message, gpointer) {
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR ||
      GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR)
      gst_message_parse_error(message, &err, &debug);
    else
      gst_message_parse_warning(message, &err, &debug);
    std::fprintf(stderr, "rtcmesh-server: %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(message)),
                 err->message);
    g_clear_error(&err);
    g_free(debug);
  }
  return G_SOURCE_CONTINUE;
}

sig::HttpServer::Options http_options(const Config& c) {
  sig::HttpServer::Options o;
  o.address = c.address;
  o.port = c.port;
  o.tls_certificate = c.tls_certificate;
  o.tls_key = c.tls_key;
  return o;
}

sig::RoomServer::Config room_config(const Config& c) {
  sig::RoomServer::Config rc;
  rc.default_mode = c.mode;
  rc.token = c.token;
  rc.token_secret = c.token_secret;
  rc.token_public_key = c.token_public_key;
  rc.max_message = c.max_message;
  rc.max_rooms = c.max_rooms;
  rc.max_peers_per_room = c.max_peers_per_room;
  rc.peer_timeout = c.peer_timeout;
  rc.ice_servers = c.ice_servers;
  rc.address_limits = std::make_shared<sig::AddressLimits>(c.address_limits);
  return rc;
}

void start_sfu(const Config& c, SfuServer& s) {
  server::Host::Options ho;
  ho.http = http_options(c);
  ho.rooms = room_config(c);
  ho.metrics_token = c.metrics_token;
  ho.address_limits = c.address_limits;
  const bool mesh = c.mode == sig::RoomMode::kMesh;
  ho.mesh_rooms = mesh;
  s.host = server::Host::acquire(ho);
  s.host->worker().call([&] { s.host->http().add_handler("/", page_handler(!mesh)); });
  s.pipeline = gst_pipeline_new("rtcmesh-server");
  const bool mcu = c.mode == sig::RoomMode::kMcu || c.mode == sig::RoomMode::kProcess;
  GstElement* sfu = gst_element_factory_make(mcu ? "rtcmcu" : "rtcsfu", "sfu");
  if (!sfu) throw std::runtime_error(mcu ? "the rtcmcu element is missing"
                                         : "the rtcsfu element is missing");
  if (mcu)
    g_object_set(sfu, "room", c.mcu_room.c_str(), "width", c.canvas_width, "height",
                 c.canvas_height, "framerate", c.canvas_fps, "video-process",
                 c.video_process.c_str(), "audio-process", c.audio_process.c_str(),
                 "video-codecs", c.video_codecs.c_str(), nullptr);
  g_object_set(sfu, "address", c.address.c_str(), "port", s.host->port(), "auth-token",
               c.token.c_str(), "tls-certificate", c.tls_certificate.c_str(), "tls-key",
               c.tls_key.c_str(), "peer-timeout", guint(c.peer_timeout.count()), "max-publishers",
               c.max_publishers, "max-subscribers", c.max_subscribers, "max-mlines", c.max_mlines,
               "max-sessions", c.max_sessions, "metrics-token", c.metrics_token.c_str(),
               "token-secret-file", c.token_secret_file.c_str(), "token-public-key",
               c.token_public_key_file.c_str(), "rate-per-address", c.address_limits.rate,
               "burst-per-address", c.address_limits.burst, "max-sessions-per-address",
               c.address_limits.max_sessions, "udp-port", c.udp_port, "announced-addresses",
               c.announce_addresses.c_str(), nullptr);
  if (!mesh) gst_util_set_object_arg(G_OBJECT(sfu), "engine", c.engine.c_str());
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(sfu), "ingress"))  // rtcsfu, not rtcmcu
    gst_util_set_object_arg(G_OBJECT(sfu), "ingress", c.ingress.c_str());
  if (!c.cluster.node_id.empty())
    g_object_set(sfu, "redis", c.cluster.redis_url.c_str(), "nats", c.cluster.nats_url.c_str(),
                 "node-id", c.cluster.node_id.c_str(), "node-ttl", c.cluster.ttl_ms,
                 "advertise-url", c.cluster.advertise_url.c_str(), nullptr);
  s.element = sfu;
  gst_bin_add(GST_BIN(s.pipeline), sfu);
  GstBus* bus = gst_pipeline_get_bus(GST_PIPELINE(s.pipeline));
  gst_bus_add_watch(bus, on_bus, nullptr);
  gst_object_unref(bus);
  if (gst_element_set_state(s.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // Say why (e.g. "cannot connect to Redis at …"): the bus watch runs too late.
    std::string why = "the SFU pipeline did not start";
    GstBus* b = gst_pipeline_get_bus(GST_PIPELINE(s.pipeline));
    if (GstMessage* m = gst_bus_pop_filtered(b, GST_MESSAGE_ERROR)) {
      GError* err = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(m, &err, &debug);
      why += std::string(": ") + err->message + (debug ? std::string(" (") + debug + ")" : "");
      g_clear_error(&err);
      g_free(debug);
      gst_message_unref(m);
    }
    gst_object_unref(b);
    throw std::runtime_error(why);
  }
}

// The URLs the server answers on: its address, or for a wildcard address
// (0.0.0.0, ::, empty) one per address of this machine's interfaces
// (IPv6 link-local ones left out: a browser cannot use them without a scope).
std::vector<std::string> listening_urls(const std::string& address, const std::string& base) {
  const std::string scheme = base.substr(0, base.find("://"));
  const std::string port = base.substr(base.rfind(':') + 1);
  bool any4 = address.empty() || address == "0.0.0.0", any6 = address == "::";
  if (!any4 && !any6) return {base};
  std::vector<std::string> urls;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {base};
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    int family = i->ifa_addr->sa_family;
    if (family != AF_INET && !(any6 && family == AF_INET6)) continue;
    GInetAddress* a = family == AF_INET
                          ? g_inet_address_new_from_bytes(
                                reinterpret_cast<const guint8*>(
                                    &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr),
                                G_SOCKET_FAMILY_IPV4)
                          : g_inet_address_new_from_bytes(
                                reinterpret_cast<const guint8*>(
                                    &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr),
                                G_SOCKET_FAMILY_IPV6);
    if (!g_inet_address_get_is_link_local(a)) {
      gchar* text = g_inet_address_to_string(a);
      std::string host = family == AF_INET6 ? "[" + std::string(text) + "]" : text;
      g_free(text);
      std::string url = scheme + "://" + host + ":" + port;
      if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
    }
    g_object_unref(a);
  }
  freeifaddrs(list);
  return urls.empty() ? std::vector<std::string>{base} : urls;
}

#ifdef RTCMESH_HAVE_GRPC
// gRPC on the context of the room server it serves (the SFU host's worker,
// or this thread's for mesh rooms).
struct GrpcFront {
  std::unique_ptr<sig::grpc_front::GrpcServer> server;
  Worker* worker = nullptr;  // SFU: the host's, where `server` lives
  ~GrpcFront() { stop(); }

  void start(const Config& c, GMainContext* ctx, sig::RoomServer& rooms) {
    sig::grpc_front::GrpcServer::Options o;
    o.address = c.address;
    o.port = static_cast<unsigned>(c.grpc_port);
    o.tls_certificate = c.tls_certificate;
    o.tls_key = c.tls_key;
    server = std::make_unique<sig::grpc_front::GrpcServer>(ctx, rooms, o);
  }
  // "grpc://127.0.0.1:PORT" ("grpcs" with TLS).
  std::string url(const Config& c) const {
    std::string host = c.address == "0.0.0.0" ? "127.0.0.1"
                       : c.address == "::"    ? "[::1]"
                       : c.address.find(':') != std::string::npos ? "[" + c.address + "]"
                                                                   : c.address;
    return std::string(c.tls_certificate.empty() ? "grpc" : "grpcs") + "://" + host + ":" +
           std::to_string(server->port());
  }
  void stop() {
    if (!server) return;
    if (worker)
      worker->call([&] { server.reset(); });
    else
      server.reset();
  }
};
#else
struct GrpcFront {
  void stop() {}
};
#endif

// GET /healthz (the process answers) and GET /readyz (it takes participants:
// connected to Redis and NATS when it is a cluster node, not draining), for
// orchestrators. `ready` runs on the server's context.
void add_health(sig::HttpServer& http, std::function<std::string()> not_ready) {
  http.add_handler("/healthz", [](const sig::HttpRequest& req, sig::Responder respond) {
    if (req.path != "/healthz") return respond(sig::HttpResponse::error(404, "not found"));
    sig::HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ok\n";
    respond(std::move(r));
  });
  http.add_handler("/readyz", [not_ready](const sig::HttpRequest& req, sig::Responder respond) {
    if (req.path != "/readyz") return respond(sig::HttpResponse::error(404, "not found"));
    std::string why = not_ready();
    if (!why.empty()) return respond(sig::HttpResponse::error(503, "not ready: " + why));
    sig::HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ready\n";
    respond(std::move(r));
  });
}

// The cluster node of this server (on the rooms' context), when configured.
struct Cluster {
  GstElement* sfu = nullptr;  // rtcsfu (or rtcmcu) has the node
  bool clustered = false;
  std::atomic<bool> draining{false};  // set before the pipeline stops: sfu is not read after
  std::string not_ready() const {
    if (draining) return "draining (SIGTERM)";
    if (sfu && clustered) {
      gboolean ready = FALSE;
      g_object_get(sfu, "cluster-ready", &ready, nullptr);
      if (!ready) return "not connected to Redis and NATS";
    }
    return "";
  }
};

int run(const Config& c) {
  GMainContext* ctx = g_main_context_default();
  Cluster cluster;  // first made, last gone: the servers' handlers read it
  SfuServer sfu;
  GrpcFront grpc;
  std::string base, rooms_url;
  try {
    start_sfu(c, sfu);
    base = sfu.host->base_url();
    rooms_url = sfu.host->rooms_url();
    // The cluster node is rtcsfu's (its properties): media crosses nodes
    // there, and mesh rooms' offers between nodes too.
    cluster.sfu = sfu.element;
    cluster.clustered = !c.cluster.node_id.empty();
    sfu.host->worker().call([&] {
      add_health(sfu.host->http(), [&cluster] { return cluster.not_ready(); });
    });
#ifdef RTCMESH_HAVE_GRPC
    if (c.grpc_port >= 0) {
      grpc.worker = &sfu.host->worker();
      std::string failed;
      sfu.host->worker().call([&] {
        try {
          grpc.start(c, sfu.host->worker().context(), sfu.host->rooms());
        } catch (const std::exception& e) {
          failed = e.what();
        }
      });
      if (!failed.empty()) throw std::runtime_error(failed);
    }
#endif
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rtcmesh-server: %s\n", e.what());
    return kExitRuntime;
  }

  // Before the port is printed (clients come then): GLib's signal handling
  // starts its worker thread and wakeup pipe here, which would abort the
  // process if a flood of clients had already taken every fd.
  GMainLoop* loop = g_main_loop_new(ctx, FALSE);
  SignalState sigs{loop};
  guint sigint = g_unix_signal_add(
      SIGINT, [](gpointer d) { return on_signal(d, "SIGINT"); }, &sigs);
  guint sigterm = g_unix_signal_add(
      SIGTERM, [](gpointer d) { return on_signal(d, "SIGTERM"); }, &sigs);

  std::printf("rtcmesh-server listening on %s\n", base.c_str());
#ifdef RTCMESH_HAVE_GRPC
  // The second line, only with --grpc-port.
  if (grpc.server) std::printf("rtcmesh-server grpc on %s\n", grpc.url(c).c_str());
#endif
  std::fflush(stdout);
  std::fprintf(stderr,
               "rtcmesh-server: %s rooms at %s; page %s/room/NAME; %s; at most %u peers per room, "
               "%u rooms; peer-timeout %lld ms%s\n",
               sig::to_string(c.mode), rooms_url.c_str(), base.c_str(),
               c.token.empty() && c.token_secret.empty() && c.token_public_key.empty()
                   ? "no token"
                   : c.token_secret.empty() && c.token_public_key.empty()
                         ? "token required"
                         : "token required (signed tokens accepted)",
               c.max_peers_per_room, c.max_rooms,
               static_cast<long long>(c.peer_timeout.count()),
               c.mode != sig::RoomMode::kMesh
                   ? "; POST /rtc/ROOM, WHIP at /whip/ROOM, WHEP at /whep/ROOM, /metrics"
                   : "; POST /rtc/ROOM (signaling over a data channel), /metrics");

  std::string urls;
  for (const auto& url : listening_urls(c.address, base)) urls += (urls.empty() ? "" : " ") + url;
  std::fprintf(stderr, "rtcmesh-server: listening on %s%s\n", urls.c_str(),
               c.address == "0.0.0.0" || c.address == "::" ? " (every interface)" : "");
  if (base.rfind("https", 0) != 0)
    std::fprintf(stderr,
                 "rtcmesh-server: plain http: browsers give the room page a camera and microphone "
                 "only on this machine (http://127.0.0.1 or localhost); cameras on other machines "
                 "need https: start with --tls-certificate C --tls-key K\n");

  g_main_loop_run(loop);

  // SIGTERM drains (--drain-timeout): /readyz fails, new sessions are
  // refused (WHIP/WHEP 503 + Retry-After, /rtc closed with 1001), /rtc
  // participants are told where to move ("move <url>": another node's
  // --advertise-url), and the process waits until every session ended.
  if (sigs.name == std::string("SIGTERM") && c.drain_timeout.count() > 0) {
    cluster.draining = true;
    if (sfu.element) g_object_set(sfu.element, "draining", TRUE, nullptr);
    auto sessions = [&] {
      size_t n = 0;
      if (sfu.host) sfu.host->worker().call([&] { n = sfu.host->session_count(); });
      return n;
    };
    std::fprintf(stderr, "rtcmesh-server: SIGTERM: draining (no new sessions; participants move), "
                 "%zu session(s) open, waiting up to %lld ms\n",
                 sessions(),
                 static_cast<long long>(c.drain_timeout.count()));
    gint64 until = g_get_monotonic_time() + c.drain_timeout.count() * 1000;
    int seen = sigs.count;
    while (sigs.count == seen && g_get_monotonic_time() < until && sessions() > 0) {
      gint64 tick = g_get_monotonic_time() + 100 * G_TIME_SPAN_MILLISECOND;
      while (sigs.count == seen && g_get_monotonic_time() < tick)
        if (!g_main_context_iteration(ctx, FALSE)) g_usleep(5000);
    }
    size_t left = sessions();
    std::fprintf(stderr, "rtcmesh-server: drained%s: %zu session(s) left\n",
                 sigs.count != seen ? " (second signal)" : left ? " (timeout)" : "", left);
  }

  size_t connections = 0;
  if (sfu.host) sfu.host->worker().call([&] { connections = sfu.host->rooms().connection_count(); });
  std::fprintf(stderr, "rtcmesh-server: %s, closing %zu connection(s)\n",
               sigs.name ? sigs.name : "stopping", connections);
  // Draining: /readyz says 503 from here; a cluster node tells the others it
  // leaves (its participants leave their rooms there at once, not after the
  // TTL), and the 1001 close frames below tell clients to move.
  cluster.draining = true;
  // (rtcsfu's node goes with the pipeline, below)
  // gRPC streams end first (their participants leave while the rooms exist).
  grpc.stop();
  // Close frames (1001 going away) are queued here; give the loop a moment to
  // write them before the listener and the process go.
  if (sfu.pipeline) gst_element_set_state(sfu.pipeline, GST_STATE_NULL);
  gint64 end = g_get_monotonic_time() + 300 * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time() < end)
    if (!g_main_context_iteration(ctx, FALSE)) g_usleep(5000);
  g_source_remove(sigint);
  g_source_remove(sigterm);
  g_main_loop_unref(loop);
  return 0;
}

// rtcmesh-server token …: prints a signed room token.
int token_command(int argc, char** argv) {
  gchar *room = nullptr, *identity = nullptr, *secret_file = nullptr, *private_key = nullptr;
  gint64 ttl = -1;
  gboolean publish = FALSE, subscribe = FALSE, admin = FALSE, layout = FALSE;
  GOptionEntry entries[] = {
      {"room", 0, 0, G_OPTION_ARG_STRING, &room, "Room the token is for, or '*' for every room",
       "ROOM"},
      {"identity", 0, 0, G_OPTION_ARG_STRING, &identity,
       "Participant id (sub): a join must use it, so must a WHIP publisher name", "ID"},
      {"publish", 0, 0, G_OPTION_ARG_NONE, &publish, "Grant publish (WHIP, JSON-RPC publish)",
       nullptr},
      {"subscribe", 0, 0, G_OPTION_ARG_NONE, &subscribe,
       "Grant subscribe (WHEP, JSON-RPC subscribe)", nullptr},
      {"layout", 0, 0, G_OPTION_ARG_NONE, &layout,
       "Grant layout (MCU rooms: the JSON-RPC layout method)", nullptr},
      {"admin", 0, 0, G_OPTION_ARG_NONE, &admin, "Grant admin (every grant, list every room)",
       nullptr},
      {"ttl", 0, 0, G_OPTION_ARG_INT64, &ttl, "Seconds the token is valid from now", "SECONDS"},
      {"token-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file,
       "Sign with HS256 and the secret in this file (as the server's --token-secret-file)",
       "FILE"},
      {"token-private-key", 0, 0, G_OPTION_ARG_FILENAME, &private_key,
       "Sign with ES256 and this P-256 private key (PEM; the server has its public key)", "FILE"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  g_set_prgname("rtcmesh-server token");  // in --help's usage line
  GOptionContext* ctx = g_option_context_new("- print a signed room token");
  g_option_context_add_main_entries(ctx, entries, nullptr);
  GError* err = nullptr;
  bool parsed = g_option_context_parse(ctx, &argc, &argv, &err);
  g_option_context_free(ctx);
  std::string room_s = room ? room : "", identity_s = identity ? identity : "",
              secret_s = secret_file ? secret_file : "", key_s = private_key ? private_key : "";
  g_free(room);
  g_free(identity);
  g_free(secret_file);
  g_free(private_key);
  try {
    if (!parsed) {
      std::string why = err->message;
      g_clear_error(&err);
      throw UsageError(why);
    }
    if (argc > 1) throw UsageError(std::string("unexpected argument '") + argv[1] + "'");
    if (room_s.empty()) throw UsageError("token: --room is required (a room name or '*')");
    if (identity_s.empty()) throw UsageError("token: --identity is required");
    if (ttl <= 0 || ttl > 366ll * 24 * 3600)
      throw UsageError("token: --ttl takes seconds, from 1 to a year");
    if (secret_s.empty() == key_s.empty())
      throw UsageError("token: give --token-secret-file (HS256) or --token-private-key (ES256)");
    unsigned grants = (publish ? unsigned(sig::kGrantPublish) : 0u) | (subscribe ? unsigned(sig::kGrantSubscribe) : 0u) |
                      (admin ? unsigned(sig::kGrantAdmin) : 0u) |
                      (layout ? unsigned(sig::kGrantLayout) : 0u);
    if (!grants) throw UsageError("token: grant something: --publish, --subscribe, --layout or --admin");
    std::string alg = secret_s.empty() ? "ES256" : "HS256";
    std::string key = sig::read_key_file(secret_s.empty() ? key_s : secret_s,
                                         secret_s.empty() ? "--token-private-key"
                                                          : "--token-secret-file");
    int64_t now = sig::TokenVerifier::wall_clock();
    std::printf("%s\n",
                sig::issue_token(alg, key, room_s, identity_s, grants, now, now + ttl).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rtcmesh-server: %s\n(rtcmesh-server token --help lists the options)\n",
                 e.what());
    return kExitUsage;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "token") return token_command(argc - 1, argv + 1);
  // GLib 2.74's slice allocator keeps every chunk that sessions free (a
  // churn soak grew 15 % in 12 cycles); glibc's malloc gives it back. GLib
  // reads G_SLICE in its constructors, before main: set it and start again.
  if (!g_getenv("G_SLICE")) {
    g_setenv("G_SLICE", "always-malloc", TRUE);
    execv("/proc/self/exe", argv);  // on failure, carry on with the slices
  }
  // Plugins are scanned by gst-plugin-scanner, never in this process: an
  // in-process scan (GST_REGISTRY_FORK=no, as test environments set) would
  // dlopen libgstrtcmesh.so beside the same types linked in statically.
  g_setenv("GST_REGISTRY_FORK", "yes", TRUE);
  Config config;
  try {
    config = parse_args(argc, argv);  // also runs gst_init (its option group)
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rtcmesh-server: %s\n(rtcmesh-server --help lists the options)\n",
                 e.what());
    return kExitUsage;
  }
  // Nothing here needs an element yet, but register statically as every tool
  // does, so this process never loads libgstrtcmesh.so for them.
  rtcmesh_register_static();
  sig::init_debug();
  // Colour codes are for a terminal: a log file or a pipe gets plain text
  // (unless GST_DEBUG_COLOR_MODE asks for them).
  if (!isatty(STDERR_FILENO) && !g_getenv("GST_DEBUG_COLOR_MODE"))
    gst_debug_set_color_mode(GST_DEBUG_COLOR_MODE_OFF);
  if (config.verbose) gst_debug_set_threshold_for_name("rtcsignaling", GST_LEVEL_INFO);
  return run(config);
}
