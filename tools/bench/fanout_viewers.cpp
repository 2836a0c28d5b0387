// rtcmesh-bench fanout-viewers <endpoint> [--publish <whip-url> <file.mp4>]
// rtcmesh-bench fanout-viewers --janus <janus-url> <file.mp4>
// (hidden; started by `fanout` and `sfu`, `sfu --compare janus`)
//
// WHEP viewers of the server, each an rtcwhepsrc in its own pipeline:
// counting viewers take output=rtp into a fakesink and count packets (no
// depayloading, no decoding); one sampled viewer at a time decodes
// (output=raw) to time its first frame. With --publish (sfu), this process
// also publishes the file (looping, no encoder) to the server with an
// rtcwhipsink, and times every packet from the publisher's send path to each
// counting viewer's receive path (latency.h). Line protocol on stdin/stdout:
//   ← "add <k>"       → "added total=<n>"
//   ← "stats"         → "stats viewers=… receiving=… connected=… received=… lost=…
//                       unrecovered=… failed=… cpu-us=… published=…" (lost: the
//                       connections' packets-lost; unrecovered: packet-lost events out
//                       of the jitterbuffers, i.e. after NACK/RTX; published: media
//                       packets the publisher sent, dropped ones included)
//   ← "drop <fraction>" → "dropping": that share of the publisher's RTP is
//                       dropped before it leaves (never RTX or RTCP)
//   ← "latency"       → "latency sent=… dropped=… unmatched=… n=… p50=… p95=…
//                       recovered=… recovered-p50=… recovered-p95=… duplicates=…" (ms) since the
//                       last "latency"
//   ← "sample-join"   → "sample ok id=<resource id> start-us=… first-us=…" (CLOCK_MONOTONIC)
//                       or "sample failed why=…"
//   ← "sample-leave"  → "left"
//   ← "quit" (or EOF) → every viewer stops (DELETE), exit 0
// With --janus the publisher and the counting viewers are webrtcbin
// connections (gst/peer) driven through Janus's HTTP API instead (VideoRoom
// room 1234: the publisher joins and offers, each subscriber joins and
// answers Janus's offer); "stats" then also says publishing=0|1 (the
// publisher's connection is up); no sampled joins.
#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gst/media/codec.h"
#include "gst/media/normalizer.h"
#include "gst/media/send.h"
#include "gst/peer/peer.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/bench/janus.h"
#include "tools/bench/latency.h"

namespace bench {

namespace {

struct Viewer {
  GstElement* pipeline = nullptr;
  GstElement* src = nullptr;
  bool decode = false;
  std::atomic<guint64> packets{0};
  std::atomic<guint64> lost{0};      // packets the jitterbuffer gave up on
  std::atomic<guint64> overruns{0};  // leaky queues inside rtcwhepsrc dropping
  std::atomic<gint64> first_us{0};
  std::atomic<bool> failed{false};
  std::string error;  // main loop thread only
  // --janus: the connection (worker thread) and its VideoRoom handle
  std::unique_ptr<rtcmesh::peer::Peer> peer;
  guint64 handle = 0;
  std::atomic<bool> connected{false};
};

GstPadProbeReturn count_packets(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* v = static_cast<Viewer*>(data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    // Loss after NACK/RTX had its chance: rtpjitterbuffer's packet-lost events.
    const GstStructure* s = gst_event_get_structure(GST_PAD_PROBE_INFO_EVENT(info));
    if (s && gst_structure_has_name(s, "GstRTPPacketLost"))
      v->lost.fetch_add(1, std::memory_order_relaxed);
    return GST_PAD_PROBE_OK;
  }
  guint n = 1;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    n = gst_buffer_list_length(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
  v->packets.fetch_add(n, std::memory_order_relaxed);
  gint64 zero = 0;
  v->first_us.compare_exchange_strong(zero, g_get_monotonic_time());
  return GST_PAD_PROBE_OK;
}

void on_pad_added(GstElement*, GstPad* pad, gpointer data) {
  auto* v = static_cast<Viewer*>(data);
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  gst_bin_add(GST_BIN(v->pipeline), sink);
  GstPad* sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(sinkpad,
                    GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                    GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                    count_packets, v, nullptr);
  gst_element_sync_state_with_parent(sink);
  if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK) {
    std::fprintf(stderr, "viewers: cannot link %s\n", GST_PAD_NAME(pad));
    v->failed = true;
  }
  gst_object_unref(sinkpad);
}

// An error message of a bus: printed for `who`, and `failed` set.
void note_error(GstMessage* msg, const char* who, std::atomic<bool>& failed) {
  if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_ERROR) return;
  GError* err = nullptr;
  gst_message_parse_error(msg, &err, nullptr);
  std::fprintf(stderr, "%s: %s: %s\n", who, GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
               err ? err->message : "?");
  g_clear_error(&err);
  failed = true;
}

gboolean on_bus(GstBus*, GstMessage* msg, gpointer data) {
  note_error(msg, "viewers", static_cast<Viewer*>(data)->failed);
  return TRUE;
}

// `clock`: time this viewer's packets (counting viewers of a publisher of ours).
std::unique_ptr<Viewer> start_viewer(const std::string& endpoint, bool decode,
                                     PacketClock* clock) {
  auto v = std::make_unique<Viewer>();
  v->decode = decode;
  v->pipeline = gst_pipeline_new(nullptr);
  v->src = gst_element_factory_make("rtcwhepsrc", nullptr);
  if (!v->src) {
    reply("error rtcwhepsrc is not available");
    std::exit(1);
  }
  g_object_set(v->src, "endpoint", endpoint.c_str(), "video-codecs", "h264", "audio-codecs", "",
               "ice-local-addresses", "127.0.0.1", nullptr);
  gst_util_set_object_arg(G_OBJECT(v->src), "output", decode ? "raw" : "rtp");
  gst_bin_add(GST_BIN(v->pipeline), v->src);
  // webrtcbin's receive queues are leaky: a viewer process that falls behind
  // drops there, which tells receiver loss from sender loss.
  count_queue_overruns(v->pipeline, &v->overruns);
  if (clock) clock->watch_subscriber(v->pipeline);
  g_signal_connect(v->src, "pad-added", G_CALLBACK(on_pad_added), v.get());
  GstBus* bus = gst_element_get_bus(v->pipeline);
  gst_bus_add_watch(bus, on_bus, v.get());
  gst_object_unref(bus);
  if (gst_element_set_state(v->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    v->failed = true;
  return v;
}

// Stopped viewers stay allocated until exit: a bus callback already running
// on the main loop may still look at one.
std::vector<std::unique_ptr<Viewer>> stopped;

void stop_viewer(std::unique_ptr<Viewer> v) {
  gst_element_set_state(v->pipeline, GST_STATE_NULL);  // DELETEs the resource
  GstBus* bus = gst_element_get_bus(v->pipeline);
  gst_bus_remove_watch(bus);
  gst_object_unref(bus);
  gst_object_unref(v->pipeline);
  v->pipeline = v->src = nullptr;
  stopped.push_back(std::move(v));
}

// Packets lost (from the connection's stats) and whether it is connected.
void read_stats(Viewer& v, gint64* lost, bool* connected, std::string* resource) {
  if (!v.src) {  // --janus: no rtcwhepsrc
    if (connected) *connected = v.connected;
    return;
  }
  GstStructure* s = nullptr;
  g_object_get(v.src, "stats", &s, nullptr);
  if (!s) return;
  gint64 l = 0;
  gboolean c = FALSE;
  gst_structure_get_int64(s, "packets-lost", &l);
  gst_structure_get_boolean(s, "connected", &c);
  if (lost) *lost = l;
  if (connected) *connected = c;
  if (resource) {
    const char* r = gst_structure_get_string(s, "resource");
    *resource = r ? r : "";
  }
  gst_structure_free(s);
}

// The SFU's publisher: the pre-encoded file, looping, in real time into
// rtcwhipsink (no encoder), its packets stamped by `clock`.
struct Publisher {
  GstElement* pipeline = nullptr;
  GstElement* demux = nullptr;
  std::atomic<bool> failed{false};
  std::unique_ptr<rtcmesh::peer::Peer> peer;  // --janus (worker thread)
  std::unique_ptr<rtcmesh::media::Normalizer> normalizer;  // --janus: caps as negotiated
  std::atomic<bool> connected{false};
};

gboolean on_publisher_bus(GstBus*, GstMessage* msg, gpointer data) {
  auto* p = static_cast<Publisher*>(data);
  if (!loop_on_segment_done(msg, p->demux)) note_error(msg, "publisher", p->failed);
  return TRUE;
}

bool start_publisher(Publisher& p, const std::string& url, const std::string& file,
                     PacketClock& clock) {
  gchar* location = g_strescape(file.c_str(), nullptr);
  p.pipeline = launch("rtcwhipsink name=s endpoint=\"" + url +
                      "\" ice-local-addresses=127.0.0.1 filesrc location=\"" + location +
                      "\" ! qtdemux name=demux ! clocksync ! s.video_0");
  g_free(location);
  p.demux = gst_bin_get_by_name(GST_BIN(p.pipeline), "demux");
  clock.watch_publisher(p.pipeline);
  GstBus* bus = gst_element_get_bus(p.pipeline);
  gst_bus_add_watch(bus, on_publisher_bus, &p);
  gst_object_unref(bus);
  return play_looping(p.pipeline, p.demux);
}

// --janus: the VideoRoom room every connection of this process uses, and
// the publisher's feed id in it.
constexpr int kJanusRoom = 1234;
constexpr int kJanusFeed = 1;

struct JanusClients {
  rtcmesh::Worker worker{"janus-clients"};
  std::unique_ptr<JanusSession> session;  // worker thread
  // Default gathering: Janus offers no loopback candidate (janus.h).
  rtcmesh::IceSettings ice;
};

using rtcmesh::sig::Json;

Json jsep(const char* type, const std::string& sdp) {
  // trickle false: our descriptions carry every candidate (Peer waits for gathering).
  return Json::object({{"type", type}, {"sdp", sdp}, {"trickle", false}});
}

// Janus's trickled candidates for a connection of ours.
void take_trickle(rtcmesh::peer::Peer& peer, const Json& event) {
  const Json* c = event.find("candidate");
  if (!c || !c->is_object()) return;
  auto candidate = c->get_string("candidate");
  const Json* index = c->find("sdpMLineIndex");
  if (candidate && index && index->is_int()) peer.add_remote_candidate(guint(index->as_int()), *candidate);
}

// The publisher: the file, looping, payloaded as rtcwhipsink would (the
// codec's parser and payloader, pt 96), offered to Janus with joinandconfigure
// after creating the room.
bool start_janus_publisher(JanusClients& j, Publisher& p, const std::string& file,
                           PacketClock& clock) {
  gchar* location = g_strescape(file.c_str(), nullptr);
  p.pipeline = launch(std::string("filesrc location=\"") + location +
                      "\" ! qtdemux name=demux ! clocksync name=sync");
  g_free(location);
  p.demux = gst_bin_get_by_name(GST_BIN(p.pipeline), "demux");
  GstElement* sync = gst_bin_get_by_name(GST_BIN(p.pipeline), "sync");
  GstElement* parse = rtcmesh::media::make_parser(rtcmesh::media::Codec::kH264);
  GstElement* pay = rtcmesh::media::make_payloader(rtcmesh::media::Codec::kH264, 96);
  gst_bin_add_many(GST_BIN(p.pipeline), parse, pay, nullptr);
  bool linked = gst_element_link_many(sync, parse, pay, nullptr);
  gst_object_unref(sync);
  if (!linked) return false;
  clock.watch_publisher(p.pipeline);
  GstBus* bus = gst_element_get_bus(p.pipeline);
  gst_bus_add_watch(bus, on_publisher_bus, &p);
  gst_object_unref(bus);
  j.worker.call([&] {
    rtcmesh::peer::PeerEvents events;
    events.connected = [&p] { p.connected = true; };
    events.failed = [&p](const std::string& why) {
      std::fprintf(stderr, "publisher: %s\n", why.c_str());
      p.failed = true;
    };
    p.peer = std::make_unique<rtcmesh::peer::Peer>(GST_BIN(p.pipeline), j.worker, "janus-publisher",
                                                   j.ice, 10 * GST_SECOND, std::move(events));
    // As rtcwhipsink's SentTracks: the payloader's RTP through a Normalizer
    // (the caps webrtcbin negotiates) into the send track.
    auto caps = rtcmesh::media::rtp_caps(rtcmesh::media::Codec::kH264, 96);
    GstPad* sink = p.peer->add_send_track(caps.get());
    p.normalizer = std::make_unique<rtcmesh::media::Normalizer>(GST_BIN(p.pipeline), caps.get(), "janus-publisher");
    GstPad* src = gst_element_get_static_pad(pay, "src");
    if (gst_pad_link(src, p.normalizer->sink_pad()) != GST_PAD_LINK_OK ||
        gst_pad_link(p.normalizer->src_pad(), sink) != GST_PAD_LINK_OK)
      p.failed = true;
    gst_object_unref(src);
  });
  if (p.failed || !play_looping(p.pipeline, p.demux)) return false;
  auto fail = [&p](const std::string& why) {
    std::fprintf(stderr, "publisher: %s\n", why.c_str());
    p.failed = true;
  };
  j.worker.post([&j, &p, fail] {
    auto events = [&p, fail](const Json& e) {
      if (e.get_string("janus") == std::optional<std::string>("trickle")) return take_trickle(*p.peer, e);
      const Json* answer = e.find("jsep");
      if (auto sdp = answer ? answer->get_string("sdp") : std::nullopt)
        p.peer->accept_answer(*sdp, [fail](const std::string& error) {
          if (!error.empty()) fail("Janus's answer: " + error);
        });
      const Json* data = e.find("plugindata");
      if (data && (data = data->find("data")) && data->find("error")) fail("Janus: " + data->dump());
    };
    j.session->attach(events, [&j, &p, fail](guint64 handle, const std::string& error) {
      if (!error.empty()) return fail(error);
      Json create = Json::object({{"request", "create"}, {"room", kJanusRoom}, {"publishers", 1},
                                  {"videocodec", "h264"}, {"audiocodec", "opus"}});
      j.session->message(handle, create, Json(), [&j, &p, fail, handle](const Json& reply, const std::string& error) {
        if (!error.empty()) return fail("create room: " + error);
        p.peer->make_offer([&j, fail, handle](const std::string& sdp, const std::string& error) {
          if (!error.empty()) return fail("offer: " + error);
          Json join = Json::object({{"request", "joinandconfigure"}, {"ptype", "publisher"},
                                    {"room", kJanusRoom}, {"id", kJanusFeed}, {"audio", false}});
          j.session->message(handle, join, jsep("offer", sdp), [fail](const Json&, const std::string& error) {
            if (!error.empty()) fail("join: " + error);
          });
        });
      });
    });
  });
  return true;
}

// A counting subscriber of the publisher's feed: joins, answers Janus's offer, starts.
std::unique_ptr<Viewer> start_janus_viewer(JanusClients& j, PacketClock* clock) {
  auto v = std::make_unique<Viewer>();
  v->pipeline = gst_pipeline_new(nullptr);
  count_queue_overruns(v->pipeline, &v->overruns);
  if (clock) clock->watch_subscriber(v->pipeline);
  GstBus* bus = gst_element_get_bus(v->pipeline);
  gst_bus_add_watch(bus, on_bus, v.get());
  gst_object_unref(bus);
  if (gst_element_set_state(v->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    v->failed = true;
  Viewer* raw = v.get();
  auto fail = [raw](const std::string& why) {
    std::fprintf(stderr, "janus viewer: %s\n", why.c_str());
    raw->failed = true;
  };
  j.worker.post([&j, raw, fail] {
    rtcmesh::peer::PeerEvents events;
    events.remote_pad = [raw](GstPad* pad, const std::string&) {
      on_pad_added(nullptr, pad, raw);
      return true;
    };
    events.connected = [raw] { raw->connected = true; };
    events.failed = fail;
    raw->peer = std::make_unique<rtcmesh::peer::Peer>(GST_BIN(raw->pipeline), j.worker, "janus-subscriber",
                                                      j.ice, 10 * GST_SECOND, std::move(events));
    raw->peer->set_accepted_codecs(rtcmesh::media::accepted_rtp_caps("h264", ""));
    auto on_event = [&j, raw, fail](const Json& e) {
      if (!raw->peer) return;
      if (e.get_string("janus") == std::optional<std::string>("trickle")) return take_trickle(*raw->peer, e);
      if (e.get_string("janus") == std::optional<std::string>("hangup")) return fail("hangup");
      const Json* offer = e.find("jsep");
      auto sdp = offer ? offer->get_string("sdp") : std::nullopt;
      if (!sdp) return;
      raw->peer->answer_offer(*sdp, [&j, raw, fail](const std::string& answer, const std::string& error) {
        if (!error.empty()) return fail("answer: " + error);
        j.session->message(raw->handle, Json::object({{"request", "start"}}), jsep("answer", answer),
                           [fail](const Json&, const std::string& error) {
                             if (!error.empty()) fail("start: " + error);
                           });
      });
    };
    j.session->attach(on_event, [&j, raw, fail](guint64 handle, const std::string& error) {
      if (!error.empty()) return fail(error);
      raw->handle = handle;
      Json join = Json::object({{"request", "join"}, {"ptype", "subscriber"}, {"room", kJanusRoom},
                                {"streams", Json(Json::Array{Json::object({{"feed", kJanusFeed}})})}});
      j.session->message(handle, join, Json(), [fail](const Json&, const std::string& error) {
        if (!error.empty()) fail("join: " + error);
      });
    });
  });
  return v;
}

void stop_janus_viewer(JanusClients& j, std::unique_ptr<Viewer> v) {
  j.worker.call([&] {
    if (v->handle) j.session->detach(v->handle);
    v->peer.reset();
  });
  stop_viewer(std::move(v));
}

std::string latency_line(PacketClock& clock) {
  PacketClock::Window w = clock.take();
  std::sort(w.latency_ms.begin(), w.latency_ms.end());
  std::sort(w.recovered_ms.begin(), w.recovered_ms.end());
  char line[512];
  std::snprintf(line, sizeof line,
                "latency sent=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
                " unmatched=%" G_GUINT64_FORMAT
                " n=%zu p50=%.2f p95=%.2f recovered=%zu recovered-p50=%.1f recovered-p95=%.1f"
                " duplicates=%" G_GUINT64_FORMAT,
                w.sent, w.dropped, w.unmatched, w.latency_ms.size(),
                percentile(w.latency_ms, 0.5), percentile(w.latency_ms, 0.95),
                w.recovered_ms.size(), percentile(w.recovered_ms, 0.5),
                percentile(w.recovered_ms, 0.95), w.duplicates);
  return line;
}

}  // namespace

int fanout_viewers(int argc, char** argv) {
  bool janus = argc == 5 && std::string(argv[2]) == "--janus";
  if (argc != 3 && !janus && !(argc == 6 && std::string(argv[3]) == "--publish")) {
    std::fprintf(stderr,
                 "usage: rtcmesh-bench fanout-viewers ENDPOINT [--publish WHIP-URL FILE.mp4]\n"
                 "       rtcmesh-bench fanout-viewers --janus JANUS-URL FILE.mp4\n");
    return 2;
  }
  std::string endpoint = argv[2];
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  // Stopped last: viewers' probes use the clock.
  std::unique_ptr<PacketClock> clock;
  Publisher publisher;
  // Destroyed after the viewers and the publisher (their Peers run on its worker).
  std::unique_ptr<JanusClients> janus_clients;
  if (janus) {
    clock = std::make_unique<PacketClock>();
    janus_clients = std::make_unique<JanusClients>();
    std::string error = "?";
    janus_clients->worker.call([&] {
      janus_clients->session = std::make_unique<JanusSession>(janus_clients->worker, argv[3]);
    });
    GMutex m;
    GCond c;
    g_mutex_init(&m);
    g_cond_init(&c);
    bool started = false;
    janus_clients->worker.post([&] {
      janus_clients->session->start([&](const std::string& e) {
        g_mutex_lock(&m);
        error = e;
        started = true;
        g_cond_signal(&c);
        g_mutex_unlock(&m);
      });
    });
    g_mutex_lock(&m);
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!started && g_cond_wait_until(&c, &m, end)) {
    }
    g_mutex_unlock(&m);
    if (!started || !error.empty()) {
      reply("error no Janus session: %s", started ? error.c_str() : "no answer in 10 s");
      return 1;
    }
    if (!start_janus_publisher(*janus_clients, publisher, argv[4], *clock)) {
      reply("error the publisher did not start");
      return 1;
    }
  } else if (argc == 6) {
    clock = std::make_unique<PacketClock>();
    if (!start_publisher(publisher, argv[4], argv[5], *clock)) {
      reply("error the publisher did not start");
      return 1;
    }
  }
  std::vector<std::unique_ptr<Viewer>> viewers;
  std::unique_ptr<Viewer> sampled;

  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.rfind("add ", 0) == 0) {
        int k = std::atoi(line.c_str() + 4);
        for (int i = 0; i < k; i++)
          viewers.push_back(janus ? start_janus_viewer(*janus_clients, clock.get())
                                  : start_viewer(endpoint, false, clock.get()));
        reply("added total=%zu", viewers.size());
      } else if (line == "stats") {
        guint receiving = 0, connected = 0, failed = 0;
        guint64 received = 0, lost_events = 0, overruns = 0;
        gint64 lost_total = 0;
        for (auto& v : viewers) {
          gint64 lost = 0;
          bool c = false;
          read_stats(*v, &lost, &c, nullptr);
          guint64 p = v->packets.load(std::memory_order_relaxed);
          received += p;
          lost_events += v->lost.load(std::memory_order_relaxed);
          overruns += v->overruns.load(std::memory_order_relaxed);
          lost_total += lost;
          receiving += p > 0 ? 1 : 0;
          connected += c ? 1 : 0;
          failed += v->failed ? 1 : 0;
        }
        if (publisher.failed) failed++;
        reply("stats viewers=%zu receiving=%u connected=%u received=%" G_GUINT64_FORMAT
              " lost=%" G_GINT64_FORMAT " unrecovered=%" G_GUINT64_FORMAT
              " failed=%u cpu-us=%" G_GUINT64_FORMAT " overruns=%" G_GUINT64_FORMAT
              " published=%" G_GUINT64_FORMAT " publishing=%d",
              viewers.size(), receiving, connected, received, lost_total, lost_events, failed,
              own_cpu_us(), overruns, clock ? clock->sent() : 0, publisher.connected ? 1 : 0);
      } else if (line.rfind("drop ", 0) == 0 && clock) {
        clock->set_drop(std::atof(line.c_str() + 5));
        reply("dropping");
      } else if (line == "latency" && clock) {
        reply("%s", latency_line(*clock).c_str());
      } else if (line == "sample-join" && !janus) {
        if (sampled) stop_viewer(std::move(sampled));
        gint64 start = g_get_monotonic_time();
        sampled = start_viewer(endpoint, true, nullptr);
        while (!sampled->first_us && !sampled->failed &&
               g_get_monotonic_time() - start < 15 * G_USEC_PER_SEC)
          g_usleep(2000);
        std::string resource;
        read_stats(*sampled, nullptr, nullptr, &resource);
        auto slash = resource.rfind('/');
        if (!sampled->first_us || slash == std::string::npos) {
          reply("sample failed why=%s", sampled->failed ? "error" : "no-frame-within-15s");
        } else {
          reply("sample ok id=%s start-us=%" G_GINT64_FORMAT " first-us=%" G_GINT64_FORMAT,
                resource.substr(slash + 1).c_str(), start, sampled->first_us.load());
        }
      } else if (line == "sample-leave") {
        if (sampled) stop_viewer(std::move(sampled));
        reply("left");
      } else if (line == "quit") {
        break;
      }
    }
    if (sampled) stop_viewer(std::move(sampled));
    for (auto& v : viewers)
      janus ? stop_janus_viewer(*janus_clients, std::move(v)) : stop_viewer(std::move(v));
    viewers.clear();
    g_main_loop_quit(loop);
  });
  g_main_loop_run(loop);
  commands.join();
  if (janus_clients)
    janus_clients->worker.call([&] {
      publisher.peer.reset();
      janus_clients->session.reset();
    });
  if (publisher.pipeline) {
    gst_element_set_state(publisher.pipeline, GST_STATE_NULL);  // DELETEs the resource
    publisher.normalizer.reset();
    gst_object_unref(publisher.demux);
    gst_object_unref(publisher.pipeline);
  }
  g_main_loop_unref(loop);
  return 0;
}

}  // namespace bench
