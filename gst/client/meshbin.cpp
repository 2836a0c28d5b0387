#include "gst/client/meshbin.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "gst/client/client_session.h"
#include "gst/client/post_client.h"
#include "gst/common/base_bin.h"
#include "gst/common/data_signals.h"
#include "gst/common/debug.h"
#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/common/props.h"
#include "gst/common/track_pad.h"
#include "gst/media/codec.h"
#include "gst/media/composer.h"
#include "gst/media/received_tracks.h"
#include "gst/media/send_inputs.h"
#include "gst/peer/peer.h"
#include "gst/peer/sent_tracks.h"
#include "gst/client/sfu_session.h"
#include "signaling/http/sdp.h"
#include "signaling/rooms/room_data.h"
#include "signaling/rooms/rooms.h"
#include "signaling/room_client.h"

GST_DEBUG_CATEGORY(rtcmeshbin_debug);  // shared with sfu_session.cpp
#define GST_CAT_DEFAULT rtcmeshbin_debug

using namespace rtcmesh;
using sig::Json;

namespace {

enum {
  PROP_0,
  PROP_URL,
  PROP_ROOM,
  PROP_PEER_ID,
  PROP_AUTH_TOKEN,
  PROP_VIDEO_CODEC,
  PROP_AUDIO_CODEC,
  PROP_VIDEO_BITRATE,
  PROP_KEYFRAME_INTERVAL,
  PROP_COMPOSE,
  PROP_PEER_TIMEOUT,
  PROP_TLS_CA_FILE,
  PROP_TLS_INSECURE,
  PROP_RECONNECT,
  PROP_CONNECT_ATTEMPTS,
  PROP_STATS,
};

enum {
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_PUBLISHER_JOINED,
  SIGNAL_PUBLISHER_LEFT,
  SIGNAL_DATA_RECEIVED,
  N_SIGNALS
};
guint signals[N_SIGNALS];

constexpr int kComposeWidth = 640, kComposeHeight = 480;

// One other participant: our connection to it, what we send it and what it
// sends us (pads, or tiles of the composition).
struct Remote {
  std::string id;
  bool we_offer = false;
  std::unique_ptr<peer::SentTracks> sent;  // destroyed after the peer
  std::unique_ptr<media::ReceivedTracks> received;
  std::unique_ptr<peer::Peer> peer;
};

}  // namespace

struct RtcMeshBinPrivate : BaseBinState {
  explicit RtcMeshBinPrivate(RtcMeshBin* s)
      : BaseBinState(GST_ELEMENT(s), {.live = true}, props_mutex, ice),
        self(s),
        retry(GST_ELEMENT(s), "room session", GST_RESOURCE_ERROR_OPEN_READ_WRITE),
        inputs(GST_ELEMENT(s), [this] { return encoder_settings(); },
               {[this] {
                  if (worker) worker->post([this] { maybe_join(); });
                }, {}}) {}
  RtcMeshBin* self;

  std::mutex props_mutex;
  std::string url, room, peer_id, auth_token;
  media::EncoderSettings encoder;
  bool compose = false;
  guint peer_timeout_ms = 10000;
  std::string tls_ca_file;
  bool tls_insecure = false;
  bool reconnect = true;
  guint connect_attempts = 5;
  IceProps ice;

  std::unique_ptr<Worker> worker;
  std::mutex worker_mutex;  // `worker` as seen by application threads (send-data)
  std::unique_ptr<sig::RoomClient> ws;  // worker only (WebSocket, gRPC or one POST)
  ResourceCloser closing;               // one-POST resources being DELETEd (worker)
  std::string my_id;                   // once joined
  std::string joined_room;             // worker: `room` as join() copied it
  bool running = false, joined = false, joining = false;
  SessionRetry retry;
  // The room server's WebSocket opened since start(): until then a failure
  // is "could not reach", given up after `connect_attempts` (0 = never).
  bool reached = false;
  guint unreached_attempts = 0;
  // `url` may name several servers (nodes of one cluster): a lost or
  // unreachable one moves us to the next. Worker thread.
  size_t url_index = 0;
  // A draining server's "move <url>" (its close reason): joined next, until
  // a session there is lost. `keep_target`: the next loss does not move on
  // (a move, or our id still held by the old node for its TTL).
  std::string moved_to;
  bool keep_target = false;
  std::string current_url();
  bool several_urls() {
    std::lock_guard lock(props_mutex);
    return !moved_to.empty() || split_list(url).size() > 1;
  }

  media::SendInputs inputs;  // request pads
  media::EncoderSettings encoder_settings() {
    std::lock_guard lock(props_mutex);
    return encoder;
  }
  guint next_src_video = 0, next_src_audio = 0;  // remote tracks' pads (worker)

  // Remotes: changed on the worker under the mutex (pad-added reads them).
  std::mutex remotes_mutex;
  std::map<std::string, std::unique_ptr<Remote>> remotes;
  std::unique_ptr<room::SfuSession> sfu;  // in an SFU room: instead of remotes
  std::atomic<bool> in_sfu_room{false};    // for send-data's size check (application thread)

  std::unique_ptr<media::Composer> composer;  // compose=true
  GstPad *video_src = nullptr, *audio_src = nullptr;

  std::string configuration_problem() override;
  bool start(std::string& error) override;
  void stop() override;
  bool route_session_failure(GstMessage* message, const std::string& why) override;
  bool end_of_stream() override;
  void dispose() override {
    inputs.clear();
    composer.reset();
  }
  void maybe_join();
  void join();
  void on_joined(const Json& result);
  void start_sfu(const Json& result);
  void on_notification(const std::string& method, const Json& params);
  void session_lost(const std::string& why, int final_status = 0);
  Remote& add_remote(const std::string& id, bool we_offer);
  void offer_to(Remote& r);
  void answer_offer(const std::string& from, const std::string& sdp);
  void receive(Remote& r, const std::string& answer, bool we_answered);
  void remove_remote(const std::string& id, const std::string& why);
  gboolean send(const std::string& to, std::string data, bool text, bool reliable);
  void remove_all(const std::string& why);
  std::string next_src_pad_name(media::Kind kind);
  void set_compose(bool on);
  GstStructure* stats();
};

struct _RtcMeshBin {
  RtcBaseBin parent;
  RtcMeshBinPrivate* priv;
};

G_DEFINE_TYPE(RtcMeshBin, rtc_mesh_bin, RTC_TYPE_BASE_BIN)
GST_ELEMENT_REGISTER_DEFINE(rtcmeshbin, "rtcmeshbin", GST_RANK_NONE, RTC_TYPE_MESH_BIN)

std::string RtcMeshBinPrivate::configuration_problem() {
  std::lock_guard lock(props_mutex);
  if (std::string problem = encoder.codec_problem(); !problem.empty()) return problem;
  std::vector<std::string> urls = split_list(url);
  if (urls.empty()) urls.push_back("");
  for (const std::string& u : urls)
    if (!g_str_has_prefix(u.c_str(), "ws://") && !g_str_has_prefix(u.c_str(), "wss://") &&
        !sig::is_grpc_url(u) && !room::is_post_url(u))
      return "set url to the room server's WebSocket (ws:// or wss://), gRPC (grpc://, "
             "grpcs://) or one-POST (http://, https://) address (several, comma-separated, "
             "for a cluster), got '" + u + "'";
  if (!sig::valid_room_name(room))
    return "set room to 1-64 characters of A-Z a-z 0-9 . _ ~ -, got '" + room + "'";
  if (!peer_id.empty() && !sig::valid_peer_id(peer_id))
    return "peer-id must be 1-64 characters of A-Z a-z 0-9 . _ ~ -";
  return {};
}

bool RtcMeshBinPrivate::start(std::string&) {
  {
    std::lock_guard lock(worker_mutex);
    worker = std::make_unique<Worker>("rtcmeshbin");
  }
  worker->call([this] {
    running = true;
    reached = false;
    unreached_attempts = 0;
    retry.reset();
    maybe_join();
  });
  return true;
}

void RtcMeshBinPrivate::stop() {
  if (!worker) return;
  worker->call([this] {
    running = false;
    retry.cancel();
    if (ws && joined) ws->notify("leave", Json::object());
    remove_all("element stopping");
    ws.reset();
    joined = joining = false;
  });
  std::lock_guard lock(worker_mutex);
  worker.reset();
  closing.clear();
}

// send-string / send-data: to one participant or to every connected one.
// On the worker, where the connections live: in a mesh room the remotes'
// own channels, in an SFU room the server relays (one of the two is empty).
gboolean RtcMeshBinPrivate::send(const std::string& to, std::string data, bool text, bool reliable) {
  if (in_sfu_room && data.size() > sig::kMaxRoomDataPayload) {
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("data message not sent"),
                        ("%zu bytes, over the room's limit of %zu", data.size(),
                         sig::kMaxRoomDataPayload));
    return FALSE;
  }
  std::lock_guard lock(worker_mutex);
  if (worker)
    worker->post([this, to, data, text, reliable] {
      if (sfu) sfu->send_data(to, data, text, reliable);
    });
  return peer::post_data_to(worker.get(), remotes, to, std::move(data), text, reliable);
}


// We join once every request pad knows its caps: offers and answers carry
// our tracks from the start (a receive-only participant joins at once).
void RtcMeshBinPrivate::maybe_join() {
  if (!running || joined || joining || retry.pending()) return;
  if (!inputs.all_ready()) return;
  join();
}

void RtcMeshBinPrivate::join() {
  sig::RoomClient::Options opts;
  std::string target, room_name, peer, token;
  {
    std::lock_guard lock(props_mutex);
    opts.tls_ca_file = tls_ca_file;
    opts.tls_insecure = tls_insecure;
    room_name = room;
    peer = peer_id;
    token = auth_token;
  }
  target = current_url();
  joined_room = room_name;
  joining = true;
  try {
    // gRPC servers that need a token check it when the stream opens.
    if (!token.empty() && sig::is_grpc_url(target)) opts.headers.set("Authorization", "Bearer " + token);
    if (room::is_post_url(target)) {
      room::PostRoomClient::Setup setup;
      setup.bin = GST_BIN(self);
      setup.worker = worker.get();
      setup.closer = &closing;
      setup.room = room_name;
      setup.token = token;
      setup.options = opts;
      {
        std::lock_guard lock(props_mutex);
        setup.ice = ice.client_settings(target);
        setup.peer_timeout_ms = peer_timeout_ms;
      }
      ws = std::make_unique<room::PostRoomClient>(std::move(setup));
    } else {
      ws = sig::make_room_client(worker->context(), target, opts);
    }
  } catch (const std::exception& e) {
    joining = false;
    return session_lost(e.what(), 400);
  }
  ws->set_notification_handler([this](const std::string& method, const Json& params) {
    guard(GST_ELEMENT(self), "notification", [&] { on_notification(method, params); });
  });
  ws->set_closed_handler([this](int code, const std::string& reason) {
    if (code == 1001 && reason.starts_with("move ") && reason.size() > 5) {
      {
        std::lock_guard lock(props_mutex);
        moved_to = reason.substr(5);
      }
      keep_target = true;
    }
    session_lost("signaling connection closed (" + std::to_string(code) + " " + reason + ")");
  });
  ws->connect(target, [this, room_name, peer, token](bool ok, const std::string& error) {
    if (!ok) {
      // A one-POST endpoint's 4xx (404: no SFU/MCU room there) is final.
      auto* post = dynamic_cast<room::PostRoomClient*>(ws.get());
      return session_lost("cannot connect to the room server: " + error,
                          post && post->refused() ? 400 : 0);
    }
    reached = true;
    Json params = Json::object({{"room", room_name}});
    if (!peer.empty()) params.set("peer", peer);
    if (!token.empty()) params.set("token", token);
    ws->call("join", params, [this](sig::RoomClient::Reply reply) {
      joining = false;
      if (reply.ok()) return on_joined(reply.result);
      int code = int(reply.error.code);
      // Refusals (token, room full, duplicate id, bad params) are final, but
      // a duplicate id in a cluster (several urls): our entry from a dead
      // node lingers until that node's TTL has passed.
      bool final = reply.status == sig::RoomClient::Reply::Status::kError &&
                   !(code == -32004 && several_urls());
      if (code == -32004 && several_urls()) keep_target = true;
      session_lost("join refused: " + reply.error.message + " (" + std::to_string(code) + ")",
                   final ? 400 : 0);
    });
  });
}

void RtcMeshBinPrivate::on_joined(const Json& result) {
  std::string mode = result.get_string("mode").value_or("mesh");
  if (mode != "mesh" && mode != "sfu" && mode != "mcu" && mode != "process") {
    return session_lost("room '" + joined_room + "' is a " + mode +
                            " room; rtcmeshbin joins mesh, sfu, mcu and process rooms",
                        400);
  }
  joined = true;
  retry.connected();
  my_id = result.get_string("peer").value_or("");
  {
    std::lock_guard lock(props_mutex);
    peer_id = my_id;
  }
  GST_INFO_OBJECT(self, "joined %s room %s as %s", mode.c_str(), joined_room.c_str(),
                  my_id.c_str());
  // An MCU room is signalled as an SFU room whose one publisher is the
  // server's composite and mix (no self-echo: the server leaves us out); a
  // processing room's one publisher sends us our own media, processed.
  if (mode == "sfu" || mode == "mcu" || mode == "process") return start_sfu(result);
  // The later joiner offers: we offer to everyone already there.
  if (const Json* peers = result.find("peers"); peers && peers->is_array())
    for (const Json& p : peers->as_array())
      if (p.is_string()) offer_to(add_remote(p.as_string(), true));
}

// Publish our inputs (sendonly) on one connection, subscribe to everyone
// else's on another: the server forwards.
void RtcMeshBinPrivate::start_sfu(const Json& result) {
  room::SfuSession::Host host;
  host.bin = GST_BIN(self);
  host.worker = worker.get();
  host.ws = ws.get();
  host.post = dynamic_cast<room::PostRoomClient*>(ws.get());
  host.room = joined_room;
  const std::string server = current_url();
  {
    std::lock_guard lock(props_mutex);
    host.ice = ice.client_settings(server);
    host.peer_timeout_ms = peer_timeout_ms;
  }
  host.composer = composer.get();
  host.pad_name = [this](media::Kind kind) { return next_src_pad_name(kind); };
  host.publisher = [this](const std::string& peer, bool joined) {
    GST_INFO_OBJECT(self, "publisher %s %s", peer.c_str(), joined ? "joined" : "left");
    g_signal_emit(self, signals[joined ? SIGNAL_PUBLISHER_JOINED : SIGNAL_PUBLISHER_LEFT], 0,
                  peer.c_str());
  };
  host.data = [this](const std::string& from, const peer::DataMessage& m) {
    emit_data_received(GST_ELEMENT(self), signals[SIGNAL_DATA_RECEIVED], from, m.label, m.data,
                       m.text);
  };
  host.lost = [this](const std::string& why) {
    worker->post([this, why] {
      if (sfu) session_lost(why);
    });
  };
  auto session = std::make_unique<room::SfuSession>(host, result.find("publishers"));
  room::SfuSession* raw = session.get();
  {
    std::lock_guard lock(remotes_mutex);
    sfu = std::move(session);
    in_sfu_room = true;
  }
  raw->start(inputs.ready());
}

std::string RtcMeshBinPrivate::next_src_pad_name(media::Kind kind) {
  bool video = kind == media::Kind::kVideo;
  return (video ? "src_video_" : "src_audio_") +
         std::to_string(video ? next_src_video++ : next_src_audio++);
}

void RtcMeshBinPrivate::on_notification(const std::string& method, const Json& params) {
  std::string from = params.get_string("from").value_or(params.get_string("peer").value_or(""));
  if (sfu && sfu->on_notification(method, params)) return;
  if (method == "peer-joined") {
    GST_INFO_OBJECT(self, "%s joined", from.c_str());
    g_signal_emit(self, signals[SIGNAL_PEER_JOINED], 0, from.c_str());
  } else if (method == "peer-left") {
    if (sfu) {
      GST_INFO_OBJECT(self, "%s left", from.c_str());
      g_signal_emit(self, signals[SIGNAL_PEER_LEFT], 0, from.c_str());
    }
    remove_remote(from, params.get_string("reason").value_or("left"));
  } else if (method == "offer") {
    answer_offer(from, params.get_string("sdp").value_or(""));
  } else if (method == "answer") {
    auto it = remotes.find(from);
    if (it == remotes.end() || !it->second->we_offer) return;
    Remote& r = *it->second;
    std::string sdp = params.get_string("sdp").value_or("");
    r.peer->accept_answer(sdp, [this, id = r.id, sdp](const std::string& error) {
      auto it = remotes.find(id);
      if (it == remotes.end()) return;
      if (!error.empty()) return remove_remote(id, "answer refused: " + error);
      receive(*it->second, sdp, false);
    });
  } else if (method == "candidate") {
    auto it = remotes.find(from);
    const Json* index = params.find("sdpMLineIndex");
    std::string candidate = params.get_string("candidate").value_or("");
    if (it == remotes.end() || !index || !index->is_int() || candidate.empty()) return;
    it->second->peer->add_remote_candidate(guint(index->as_int()), candidate);
  } else if (method == "error") {
    GST_ELEMENT_WARNING(self, RESOURCE, READ, ("room server: %s", params.dump().c_str()),
                        (nullptr));
  }
}

Remote& RtcMeshBinPrivate::add_remote(const std::string& id, bool we_offer) {
  remove_remote(id, "replaced");  // a new offer from the same id: a new connection
  auto r = std::make_unique<Remote>();
  r->id = id;
  r->we_offer = we_offer;
  peer::IceSettings ice_settings;
  guint timeout_ms;
  {
    std::lock_guard lock(props_mutex);
    ice_settings = ice.settings();
    timeout_ms = peer_timeout_ms;
  }
  peer::PeerEvents events;
  events.local_candidate = [this, id](guint mline, const std::string& candidate) {
    if (ws)
      ws->notify("candidate", Json::object({{"to", id},
                                            {"candidate", candidate},
                                            {"sdpMLineIndex", int64_t(mline)}}));
  };
  events.remote_pad = [this, id](GstPad* pad, const std::string& mid) {
    std::lock_guard lock(remotes_mutex);
    auto it = remotes.find(id);
    return it != remotes.end() && it->second->received && it->second->received->link(pad, mid);
  };
  events.connected = [this, id] {
    auto it = remotes.find(id);
    if (it == remotes.end()) return;
    GST_INFO_OBJECT(self, "connected to %s", id.c_str());
    it->second->sent->request_keyframes();
  };
  events.failed = [this, id](const std::string& why) {
    // Not a leave: the application hears why this participant is gone
    // (ICE, DTLS certificate refused, silence).
    GST_ELEMENT_WARNING(self, RESOURCE, READ, ("connection to %s failed", id.c_str()),
                        ("%s", why.c_str()));
    worker->post([this, id, why] { remove_remote(id, why); });
  };
  events.data = [this, id](const peer::DataMessage& m) {
    emit_data_received(GST_ELEMENT(self), signals[SIGNAL_DATA_RECEIVED], id, m.label, m.data,
                       m.text);
  };
  r->peer = std::make_unique<peer::Peer>(GST_BIN(self), *worker, "mesh-" + id, ice_settings,
                                         timeout_ms * GST_MSECOND, events);
  r->peer->enable_data_channels();
  r->sent = std::make_unique<peer::SentTracks>(GST_BIN(self), *r->peer);
  Remote& ref = *r;
  std::lock_guard lock(remotes_mutex);
  remotes[id] = std::move(r);
  return ref;
}

// Our tracks sendrecv, so the remote answers with its own on the same
// m-lines; a kind we do not send is still received.
void RtcMeshBinPrivate::offer_to(Remote& r) {
  std::vector<media::SendInput*> ready = inputs.ready();
  r.sent->offer(ready, true);
  for (media::Kind kind : {media::Kind::kVideo, media::Kind::kAudio}) {
    bool sends = false;
    for (auto* in : ready) sends |= in->kind() == kind;
    if (!sends)
      r.peer->add_recv_track(media::offered_rtp_caps(
          kind == media::Kind::kVideo ? "vp8,vp9,h264" : "opus", kind).get());
  }
  r.peer->make_offer([this, id = r.id](const std::string& sdp, const std::string& error) {
    GST_DEBUG_OBJECT(self, "offer to %s:\n%s", id.c_str(), sdp.c_str());
    if (error.empty() && ws) {
      ws->call("offer", Json::object({{"to", id}, {"sdp", sdp}}), [this, id](auto reply) {
        if (!reply.ok()) remove_remote(id, "offer refused: " + reply.error.message);
      });
    } else {
      remove_remote(id, error);
    }
  });
}

void RtcMeshBinPrivate::answer_offer(const std::string& from, const std::string& sdp) {
  Remote& r = add_remote(from, false);
  try {
    r.sent->answer(inputs.ready(), sdp, true);
  } catch (const peer::NoCommonCodec& e) {
    GST_WARNING_OBJECT(self, "%s: %s; receiving only", from.c_str(), e.what());
  }
  r.peer->answer_offer(sdp, [this, from](const std::string& answer, const std::string& error) {
    auto it = remotes.find(from);
    if (it == remotes.end()) return;
    if (!error.empty() || !ws) return remove_remote(from, error);
    ws->call("answer", Json::object({{"to", from}, {"sdp", answer}}), [](auto) {});
    receive(*it->second, answer, true);
  });
}

// The remote's tracks from the negotiated answer: pads, or composed tiles.
void RtcMeshBinPrivate::receive(Remote& r, const std::string& answer, bool we_answered) {
  std::unique_ptr<media::ReceivedTracks> tracks;
  try {
    sig::SdpSummary summary = sig::validate_offer(answer);
    tracks = std::make_unique<media::ReceivedTracks>(
        GST_ELEMENT(self), summary, we_answered,
        composer ? media::OutputMode::kRaw : media::OutputMode::kAuto,
        media::ReceivedTracks::Identity{r.id, joined_room, joined_room + "/" + r.id},
        [this](media::Kind kind) { return next_src_pad_name(kind); });
  } catch (const std::exception& e) {
    GST_INFO_OBJECT(self, "%s sends us nothing: %s", r.id.c_str(), e.what());
    return;
  }
  media::ReceivedTracks* raw = tracks.get();
  {
    std::lock_guard lock(remotes_mutex);
    r.received = std::move(tracks);
  }
  if (composer) {
    for (GstPad* pad : raw->src_pads())
      composer->add(pad,
                    g_str_has_prefix(GST_PAD_NAME(pad), "src_video") ? media::Kind::kVideo
                                                                     : media::Kind::kAudio,
                    r.id);  // the tile's participant (its label, the speaker layout)
  } else {
    raw->expose();
  }
}

void RtcMeshBinPrivate::remove_remote(const std::string& id, const std::string& why) {
  std::unique_ptr<Remote> r;
  {
    std::lock_guard lock(remotes_mutex);
    auto it = remotes.find(id);
    if (it == remotes.end()) return;
    r = std::move(it->second);
    remotes.erase(it);
  }
  GST_INFO_OBJECT(self, "%s left: %s", id.c_str(), why.c_str());
  r->peer.reset();  // no more inflow; unblocks branch threads inside webrtcbin
  r->sent.reset();
  if (r->received) {
    r->received->finish();
    if (composer)
      for (GstPad* pad : r->received->src_pads()) composer->remove(pad);
    r->received.reset();
  }
  if (why != "replaced") g_signal_emit(self, signals[SIGNAL_PEER_LEFT], 0, id.c_str());
}

void RtcMeshBinPrivate::remove_all(const std::string& why) {
  std::unique_ptr<room::SfuSession> session;
  {
    std::lock_guard lock(remotes_mutex);
    session = std::move(sfu);
    in_sfu_room = false;
  }
  session.reset();  // outside the lock: bus messages of its webrtcbins take it
  std::vector<std::string> ids;
  for (auto& [id, r] : remotes) ids.push_back(id);
  for (auto& id : ids) remove_remote(id, why);
}

// The room connection is gone: everyone's tracks end; join again with backoff
// unless the refusal was final.
void RtcMeshBinPrivate::session_lost(const std::string& why, int final_status) {
  if (!running) return;
  remove_all(why);
  joined = joining = false;
  worker->post([this] { ws.reset(); });  // not from inside its own callback
  bool again;
  std::string target;
  std::optional<SessionRetry::Unreached> unreached;
  {
    std::lock_guard lock(props_mutex);
    again = reconnect;
    if (!reached && final_status == 0)
      unreached = SessionRetry::Unreached{++unreached_attempts, connect_attempts};
  }
  target = current_url();
  // Another node of the cluster next (it has the room too): join again there
  // and publish again.
  if (final_status == 0 && several_urls() && !std::exchange(keep_target, false)) {
    std::lock_guard lock(props_mutex);
    if (!moved_to.empty())
      moved_to.clear();  // the node we were sent to is lost: back to our list
    else
      url_index++;
  }
  if (final_status == 0 && several_urls())
    GST_WARNING_OBJECT(self, "%s: joining %s next", why.c_str(), current_url().c_str());
  retry.failed(*worker, why, final_status, again, target, [this] { maybe_join(); }, unreached);
}

std::string RtcMeshBinPrivate::current_url() {
  std::lock_guard lock(props_mutex);
  if (!moved_to.empty()) return moved_to;
  std::vector<std::string> urls = split_list(url);
  if (urls.empty()) return url;
  return urls[url_index % urls.size()];
}

bool RtcMeshBinPrivate::route_session_failure(GstMessage* message, const std::string& why) {
  std::string failed;
  GstElement* sfu_webrtc = nullptr;
  bool in_sfu = false;
  {
    std::lock_guard lock(remotes_mutex);
    for (auto& [id, r] : remotes)
      if (r->peer->posted(message)) failed = id;
    in_sfu = sfu && sfu->owns(message, &sfu_webrtc);
  }
  if (!worker) return false;
  if (in_sfu) {
    // Compared, never dereferenced: the connection may be gone by then.
    worker->post([this, sfu_webrtc, why] {
      if (sfu) sfu->connection_failed(sfu_webrtc, why);
    });
    return true;
  }
  if (failed.empty()) return false;
  worker->post([this, failed, why] { remove_remote(failed, why); });
  return true;
}

// gst-launch -e: every remote track ends (muxers finish); our own inputs get
// the EOS from upstream sources (GstBin passes it on). On the worker, which
// owns the remotes: no lock is held while EOS goes out.
bool RtcMeshBinPrivate::end_of_stream() {
  if (worker)
    worker->call([this] {
      for (auto& [id, r] : remotes)
        if (r->received) r->received->finish();
      if (sfu) sfu->finish_tracks();
    });
  return false;
}

void RtcMeshBinPrivate::set_compose(bool on) {
  if (on == bool(composer)) return;
  if (!on) return;  // compose is chosen once, before linking
  composer = std::make_unique<media::Composer>(GST_BIN(self), kComposeWidth, kComposeHeight);
  GstPadTemplate* vt =
      gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(self), "video_src");
  GstPadTemplate* at =
      gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(self), "audio_src");
  video_src = gst_ghost_pad_new_from_template("video_src", composer->video_src(), vt);
  audio_src = gst_ghost_pad_new_from_template("audio_src", composer->audio_src(), at);
  gst_element_add_pad(GST_ELEMENT(self), video_src);
  gst_element_add_pad(GST_ELEMENT(self), audio_src);
}

GstStructure* RtcMeshBinPrivate::stats() {
  GValue list = G_VALUE_INIT;
  gst_value_list_init(&list, 0);
  guint count = 0;
  {
    std::lock_guard lock(remotes_mutex);
    if (sfu) count = sfu->append_stats(&list);
    for (auto& [id, r] : remotes) {
      GstStructure* s = gst_structure_new(
          "remote", "peer-id", G_TYPE_STRING, id.c_str(), "connected", G_TYPE_BOOLEAN,
          r->peer->is_connected(), "we-offered", G_TYPE_BOOLEAN, r->we_offer, "tracks-sent",
          G_TYPE_UINT, guint(r->sent ? r->sent->size() : 0), "tracks-received", G_TYPE_UINT,
          guint(r->received ? r->received->size() : 0), nullptr);
      add_rtp_totals(s, r->peer->stats().get());
      GValue v = G_VALUE_INIT;
      g_value_init(&v, GST_TYPE_STRUCTURE);
      g_value_take_boxed(&v, s);
      gst_value_list_append_and_take_value(&list, &v);
      count++;
    }
  }
  std::string id;
  {
    std::lock_guard lock(props_mutex);
    id = peer_id;
  }
  GstStructure* s = gst_structure_new("rtcmeshbin-stats", "peer-id", G_TYPE_STRING, id.c_str(),
                                      "remotes", G_TYPE_UINT, count, "tiles", G_TYPE_UINT,
                                      guint(composer ? composer->tiles() : 0), nullptr);
  gst_structure_take_value(s, "remote-stats", &list);
  return s;
}

static GstPad* rtc_mesh_bin_request_new_pad(GstElement* element, GstPadTemplate* templ,
                                            const gchar* name, const GstCaps*) {
  auto* p = RTC_MESH_BIN(element)->priv;
  return guard(element, "request pad", [&] { return p->inputs.add(templ, name); });
}

static void rtc_mesh_bin_release_pad(GstElement* element, GstPad* pad) {
  auto* p = RTC_MESH_BIN(element)->priv;
  // Connections were negotiated with this track: they go; the room reconnects
  // them (in an SFU room we publish the remaining inputs again).
  bool republish = false;
  if (p->worker)
    p->worker->call([p, &republish] {
      // A shared one-POST connection keeps its transceivers: a new one.
      if (p->sfu && p->sfu->shared()) p->session_lost("a track was removed: joining again");
      else if ((republish = bool(p->sfu))) p->sfu->unpublish();
      else p->remove_all("a track was removed");
    });
  std::unique_ptr<media::SendInput> in = p->inputs.take(pad);
  gst_element_remove_pad(element, pad);
  if (republish)
    p->worker->post([p] {
      if (p->sfu) p->sfu->publish(p->inputs.ready());
    });
}

static void rtc_mesh_bin_set_property(GObject* object, guint id, const GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_MESH_BIN(object)->priv;
  if (id == PROP_COMPOSE) {
    bool on = g_value_get_boolean(value);
    {
      std::lock_guard lock(p->props_mutex);
      p->compose = on;
    }
    guard(GST_ELEMENT(object), "compose", [&] { p->set_compose(on); });
    return;
  }
  auto str = [&] { return std::string(g_value_get_string(value) ?: ""); };
  // The lock is released before guard posts an error.
  guard(GST_ELEMENT(object), "set_property", [&] {
    std::lock_guard lock(p->props_mutex);
    switch (id) {
      case PROP_URL: p->url = str(); break;
      case PROP_ROOM: p->room = str(); break;
      case PROP_PEER_ID: p->peer_id = str(); break;
      case PROP_AUTH_TOKEN: p->auth_token = str(); break;
      case PROP_VIDEO_CODEC:
      case PROP_AUDIO_CODEC: {
        bool video = id == PROP_VIDEO_CODEC;
        p->encoder.set_codec(video ? "video-codec" : "audio-codec", str().c_str(),
                             video ? media::Kind::kVideo : media::Kind::kAudio);
        break;
      }
      case PROP_VIDEO_BITRATE: p->encoder.video_bitrate_kbps = g_value_get_uint(value); break;
      case PROP_KEYFRAME_INTERVAL: p->encoder.keyframe_interval = g_value_get_uint(value); break;
      case PROP_PEER_TIMEOUT: p->peer_timeout_ms = g_value_get_uint(value); break;
      case PROP_TLS_CA_FILE: p->tls_ca_file = str(); break;
      case PROP_TLS_INSECURE: p->tls_insecure = g_value_get_boolean(value); break;
      case PROP_RECONNECT: p->reconnect = g_value_get_boolean(value); break;
      case PROP_CONNECT_ATTEMPTS: p->connect_attempts = g_value_get_uint(value); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
  });
}

static void rtc_mesh_bin_get_property(GObject* object, guint id, GValue* value,
                                      GParamSpec* pspec) {
  auto* p = RTC_MESH_BIN(object)->priv;
  if (id == PROP_STATS) return g_value_take_boxed(value, p->stats());
  std::lock_guard lock(p->props_mutex);
  switch (id) {
    case PROP_URL: g_value_set_string(value, p->url.c_str()); break;
    case PROP_ROOM: g_value_set_string(value, p->room.c_str()); break;
    case PROP_PEER_ID: g_value_set_string(value, p->peer_id.c_str()); break;
    case PROP_AUTH_TOKEN: g_value_set_string(value, p->auth_token.c_str()); break;
    case PROP_VIDEO_CODEC:
      g_value_take_string(value, g_ascii_strdown(media::codec_info(p->encoder.video_codec).name, -1));
      break;
    case PROP_AUDIO_CODEC:
      g_value_take_string(value, g_ascii_strdown(media::codec_info(p->encoder.audio_codec).name, -1));
      break;
    case PROP_VIDEO_BITRATE: g_value_set_uint(value, p->encoder.video_bitrate_kbps); break;
    case PROP_KEYFRAME_INTERVAL: g_value_set_uint(value, p->encoder.keyframe_interval); break;
    case PROP_COMPOSE: g_value_set_boolean(value, p->compose); break;
    case PROP_PEER_TIMEOUT: g_value_set_uint(value, p->peer_timeout_ms); break;
    case PROP_TLS_CA_FILE: g_value_set_string(value, p->tls_ca_file.c_str()); break;
    case PROP_TLS_INSECURE: g_value_set_boolean(value, p->tls_insecure); break;
    case PROP_RECONNECT: g_value_set_boolean(value, p->reconnect); break;
    case PROP_CONNECT_ATTEMPTS: g_value_set_uint(value, p->connect_attempts); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void rtc_mesh_bin_class_init(RtcMeshBinClass* klass) {
  GST_DEBUG_CATEGORY_INIT(rtcmeshbin_debug, "rtcmeshbin", 0, "room participant");
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = rtc_mesh_bin_set_property;
  object_class->get_property = rtc_mesh_bin_get_property;
  element_class->request_new_pad = rtc_mesh_bin_request_new_pad;
  element_class->release_pad = rtc_mesh_bin_release_pad;

  install_string(object_class, PROP_URL, "url",
                 "Room server: WebSocket URL (ws://host:port/rtc or wss://), gRPC address "
                 "(grpc://host:port or grpcs://; rtcmesh-server --grpc-port), or one-POST "
                 "endpoint (http://host:port/rtc or https://: one connection POSTed to "
                 "<url>/<room> carries the room protocol on its data channel, and in SFU and "
                 "MCU rooms our tracks and the others'; in mesh rooms media and data go peer "
                 "to peer, offered over that channel); several "
                 "comma-separated (nodes of a cluster): when one is lost or cannot be reached the "
                 "next is joined, and our tracks published again there; a draining server's "
                 "close (1001 \"move <url>\") sends us to that node first");
  install_string(object_class, PROP_ROOM, "room", "Room to join (created when missing)");
  g_object_class_install_property(
      object_class, PROP_PEER_ID,
      g_param_spec_string("peer-id", "peer-id",
                          "Our id in the room (random when unset; reads back the id once joined)",
                          nullptr, rw_flags()));
  install_string(object_class, PROP_AUTH_TOKEN, "auth-token", "Token the room server requires");
  install_string(object_class, PROP_VIDEO_CODEC, "video-codec",
                 "Codec raw video is encoded to, once for every participant: vp8, vp9 or h264",
                 "vp8");
  install_string(object_class, PROP_AUDIO_CODEC, "audio-codec",
                 "Codec raw audio is encoded to: opus", "opus");
  install_uint(object_class, PROP_VIDEO_BITRATE, "video-bitrate",
               "Target bitrate of encoded raw video in kbit/s", 50, 100000, 1000);
  install_uint(object_class, PROP_KEYFRAME_INTERVAL, "keyframe-interval",
               "Maximum frames between keyframes of encoded raw video (0 = encoder default)", 0,
               100000, 60);
  install_bool(object_class, PROP_COMPOSE, "compose",
               "Expose only video_src (every remote participant a tile of a 640x480 grid that "
               "follows their number) and audio_src (everyone mixed) instead of a pad per track",
               FALSE);
  install_uint(object_class, PROP_PEER_TIMEOUT, "peer-timeout",
               "Milliseconds without RTP/RTCP from a participant after which its connection is "
               "dropped",
               500, G_MAXUINT, 10000);
  install_string(object_class, PROP_TLS_CA_FILE, "tls-ca-file",
                 "PEM file of CA certificates to trust for wss:// servers");
  install_bool(object_class, PROP_TLS_INSECURE, "tls-insecure",
               "Accept any TLS certificate (testing only)", FALSE);
  install_bool(object_class, PROP_RECONNECT, "reconnect",
               "Join again with capped backoff when the room connection is lost", TRUE);
  install_uint(object_class, PROP_CONNECT_ATTEMPTS, "connect-attempts",
               "Attempts to reach a room server that has not answered yet (connection refused, "
               "unknown host) before giving up with an error 'could not reach …' (0 = keep "
               "trying); once it has answered, reconnect decides",
               0, G_MAXUINT, 5);
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "stats",
                         "Our peer id, remote participants (connection state, tracks sent and "
                         "received, RTP counters) and composed tiles; in an SFU room the "
                         "publish and subscribe connections (connection=publish|subscribe) "
                         "and remotes = publishers we receive",
                         GST_TYPE_STRUCTURE, ro_flags()));

  signals[SIGNAL_PEER_JOINED] =
      g_signal_new("peer-joined", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr,
                   nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] =
      g_signal_new("peer-left", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
                   nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  // SFU rooms: a participant (or WHIP client, or the server's own pipeline)
  // started or stopped publishing; its tracks come and go with it.
  signals[SIGNAL_PUBLISHER_JOINED] =
      g_signal_new("publisher-joined", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr,
                   nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PUBLISHER_LEFT] =
      g_signal_new("publisher-left", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr,
                   nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  // Data channels (mesh rooms: two per remote participant; SFU rooms: the
  // two of the subscribe connection, relayed by the server; "rtcmesh"
  // reliable and ordered, "rtcmesh-unreliable" neither).
  signals[SIGNAL_DATA_RECEIVED] = install_data_signals(
      object_class, +[](GstElement* e, const std::string& to, std::string data, bool text,
                        bool reliable) {
        return RTC_MESH_BIN(e)->priv->send(to, std::move(data), text, reliable);
      });

  CapsPtr video = media::sink_template_caps(media::Kind::kVideo);
  CapsPtr audio = media::sink_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video.get()));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio.get()));
  add_data_pads(element_class);
  CapsPtr video_out = media::src_template_caps(media::Kind::kVideo);
  CapsPtr audio_out = media::src_template_caps(media::Kind::kAudio);
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("src_video_%u", GST_PAD_SRC,
                                                     GST_PAD_SOMETIMES, video_out.get(),
                                                     RTC_TYPE_TRACK_PAD));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new_with_gtype("src_audio_%u", GST_PAD_SRC,
                                                     GST_PAD_SOMETIMES, audio_out.get(),
                                                     RTC_TYPE_TRACK_PAD));
  GstCaps* raw_video = gst_caps_from_string("video/x-raw");
  GstCaps* raw_audio = gst_caps_from_string("audio/x-raw");
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video_src", GST_PAD_SRC, GST_PAD_ALWAYS, raw_video));
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio_src", GST_PAD_SRC, GST_PAD_ALWAYS, raw_audio));
  gst_caps_unref(raw_video);
  gst_caps_unref(raw_audio);
  gst_element_class_set_static_metadata(
      element_class, "Room participant", "Source/Sink/Network/WebRTC",
      "Joins an rtcmesh room over JSON-RPC 2.0/WebSocket: sends its pads to every other "
      "participant (mesh) or to the server (sfu) and exposes theirs (or a composite with "
      "compose=true)",
      "rtcmesh");
  // gst-inspect-1.0 prints every metadata key: the signals' arguments
  // (it names them arg0, arg1, …).
  gst_element_class_add_static_metadata(
      element_class, "signals",
      "peer-joined (peer-id): another participant joined the room. peer-left (peer-id): it left "
      "(its pads got EOS and were removed). publisher-joined (peer-id), SFU rooms only: a "
      "participant, WHIP client or the server's pipeline started publishing (its src pads follow). "
      "publisher-left (peer-id): it stopped. " RTCMESH_DATA_SIGNALS_DOC
      " (SFU rooms: through the server, which relays to the participant named or to all; "
      "from: the participant or the hosting pipeline that sent it)");
}

static void rtc_mesh_bin_init(RtcMeshBin* self) { self->priv = new RtcMeshBinPrivate(self); }
