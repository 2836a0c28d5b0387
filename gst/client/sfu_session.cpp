#include "gst/client/sfu_session.h"

#include "gst/client/post_client.h"

#include <gst/sdp/sdp.h>

#include "gst/common/element_util.h"
#include "gst/common/guard.h"
#include "gst/media/codec.h"
#include "signaling/http/sdp.h"
#include "signaling/rooms/room_data.h"

GST_DEBUG_CATEGORY_EXTERN(rtcmeshbin_debug);
#define GST_CAT_DEFAULT rtcmeshbin_debug

namespace rtcmesh::room {

using sig::Json;

namespace {

// a=ssrc:<n> lines by mid: webrtcbin 1.22 does not always give a bundled src
// pad the transceiver of its m-line, the SSRC tells.
std::map<guint, std::string> ssrc_mids(const std::string& sdp) {
  std::map<guint, std::string> out;
  GstSDPMessage* msg = nullptr;
  gst_sdp_message_new(&msg);
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(sdp.data()), sdp.size(), msg) ==
      GST_SDP_OK) {
    for (guint i = 0; i < gst_sdp_message_medias_len(msg); i++) {
      const GstSDPMedia* m = gst_sdp_message_get_media(msg, i);
      const char* mid = gst_sdp_media_get_attribute_val(m, "mid");
      if (!mid) continue;
      for (guint j = 0; j < gst_sdp_media_attributes_len(m); j++) {
        const GstSDPAttribute* a = gst_sdp_media_get_attribute(m, j);
        if (g_strcmp0(a->key, "ssrc") == 0 && a->value)
          out[guint(g_ascii_strtoull(a->value, nullptr, 10))] = mid;
      }
    }
  }
  gst_sdp_message_free(msg);
  return out;
}

GstStructure* connection_stats(const char* connection, const peer::Peer& p, guint sent,
                               guint received) {
  GstStructure* s = gst_structure_new("remote", "connection", G_TYPE_STRING, connection,
                                      "connected", G_TYPE_BOOLEAN, p.is_connected(),
                                      "tracks-sent", G_TYPE_UINT, sent, "tracks-received",
                                      G_TYPE_UINT, received, nullptr);
  add_rtp_totals(s, p.stats().get());
  return s;
}

}  // namespace

SfuSession::SfuSession(Host host, const Json* publishers) : host_(std::move(host)) {
  if (host_.post) {
    PostRoomClient::MediaEvents events;
    events.remote_pad = [this](GstPad* pad, const std::string& mid) {
      return link_remote_pad(pad, mid);
    };
    events.connected = [this] {
      if (sent_) sent_->request_keyframes();
    };
    events.failed = [this](const std::string& why) {
      host_.worker->post([this, alive = alive_, why] {
        if (*alive) publish_failed(why);
      });
    };
    events.data = [this](const peer::DataMessage& m) { room_data(m); };
    host_.post->set_media_events(std::move(events));
    publisher_ = subscriber_ = host_.post->connection();
  }
  if (!publishers || !publishers->is_array()) return;
  for (const Json& p : publishers->as_array()) {
    std::string id = p.get_string("peer").value_or("");
    if (!id.empty() && publishers_.insert(id).second) host_.publisher(id, true);
  }
}

SfuSession::~SfuSession() {
  *alive_ = false;
  // Our references are then the last: the connection stops before its
  // send branches detach (SentTracks).
  if (host_.post) host_.post->release();
  drop_subscriber("leaving the room");
  unpublish();
}

void SfuSession::start(const std::vector<media::SendInput*>& inputs) {
  if (shared() && !inputs.empty()) {
    subscribe_after_publish_ = true;
    return publish(inputs);
  }
  subscribe();
  publish(inputs);
}

void SfuSession::subscribe_now_if_waiting() {
  if (std::exchange(subscribe_after_publish_, false)) subscribe();
}

void SfuSession::publish(const std::vector<media::SendInput*>& inputs) {
  if (inputs.empty()) return;  // nothing to send: a viewer
  if (shared()) return publish_on(publisher_, inputs);
  peer::PeerEvents events;
  events.local_candidate = [this](guint mline, const std::string& candidate) {
    // Before the server took our offer it would not know the connection;
    // the offer carries what was gathered by then anyway.
    if (published_) send_candidate("publish", mline, candidate);
    else early_candidates_.emplace_back(mline, candidate);
  };
  events.connected = [this] {
    GST_INFO_OBJECT(host_.bin, "publish connection up");
    if (sent_) sent_->request_keyframes();
  };
  events.failed = [this](const std::string& why) {
    host_.worker->post([this, alive = alive_, why] {
      if (*alive) publish_failed(why);
    });
  };
  publish_on(std::make_shared<peer::Peer>(host_.bin, *host_.worker, "sfu-publish", host_.ice,
                                         host_.peer_timeout_ms * GST_MSECOND, events),
             inputs);
}

void SfuSession::publish_on(std::shared_ptr<peer::Peer> p,
                            const std::vector<media::SendInput*>& inputs) {
  auto sent = std::make_unique<peer::SentTracks>(host_.bin, *p);
  sent->offer(inputs, false, shared());
  peer::Peer& ref = *p;
  {
    std::lock_guard lock(peers_mutex_);
    publisher_ = std::move(p);
    sent_ = std::move(sent);
  }
  published_ = false;
  early_candidates_.clear();
  ref.make_offer([this](const std::string& sdp, const std::string& error) {
    if (!error.empty()) return publish_failed(error);
    GST_DEBUG_OBJECT(host_.bin, "publish offer:\n%s", sdp.c_str());
    host_.ws->call("publish", Json::object({{"sdp", sdp}}),
                   [this, alive = alive_](sig::RoomClient::Reply reply) {
      if (!*alive || !publisher_) return;
      if (reply.ok()) {
        std::string answer = reply.result.get_string("sdp").value_or("");
        publisher_->accept_answer(answer, [this](const std::string& error) {
          if (!error.empty()) return publish_failed("the server's answer: " + error);
          published_ = true;
          for (auto& [mline, c] : early_candidates_) send_candidate("publish", mline, c);
          early_candidates_.clear();
          GST_INFO_OBJECT(host_.bin, "publishing %zu tracks", sent_ ? sent_->size() : 0);
          subscribe_now_if_waiting();
        });
        return;
      }
      if (reply.error.code == -32007) {
        // The room takes none of our codecs: we still watch the others.
        const Json& d = reply.error.data;
        std::string offered = d.find("offered") ? d.find("offered")->dump() : "?";
        std::string accepted = d.find("accepted") ? d.find("accepted")->dump() : "?";
        GST_ELEMENT_WARNING(host_.bin, STREAM, CODEC_NOT_FOUND,
                            ("the room takes none of the codecs we send: we offered %s, it "
                             "accepts %s; not publishing",
                             offered.c_str(), accepted.c_str()),
                            ("%s", reply.error.message.c_str()));
        unpublish();
        subscribe_now_if_waiting();
        return;
      }
      publish_failed("publish refused: " + reply.error.message + " (" +
                     std::to_string(reply.error.code) + ")");
    });
  });
}

void SfuSession::unpublish() {
  if (shared() && *alive_) {
    // The tracks' transceivers stay on the shared connection (webrtcbin
    // 1.22 cannot stop one), and so do their branches, until it goes.
    if (published_) host_.ws->notify("unpublish", Json::object());
    published_ = false;
    return;
  }
  std::shared_ptr<peer::Peer> p;
  std::unique_ptr<peer::SentTracks> sent;
  {
    std::lock_guard lock(peers_mutex_);
    p = std::move(publisher_);
    sent = std::move(sent_);
  }
  if (!p) return;
  if (published_ && *alive_) host_.ws->notify("unpublish", Json::object());
  published_ = false;
  p.reset();  // stops the webrtcbin, so the branches detach without blocking
  sent.reset();
}

void SfuSession::publish_failed(const std::string& why) {
  GST_WARNING_OBJECT(host_.bin, "publish connection: %s", why.c_str());
  host_.lost("publish connection: " + why);  // may destroy us
}

void SfuSession::send_candidate(const char* connection, guint mline, const std::string& candidate) {
  host_.ws->notify("candidate", Json::object({{"candidate", candidate},
                                              {"sdpMLineIndex", int64_t(mline)},
                                              {"connection", connection}}));
}

void SfuSession::subscribe() {
  Json codecs = Json::array();
  for (media::Kind kind : {media::Kind::kVideo, media::Kind::kAudio})
    for (media::Codec c : media::codecs_of(kind)) codecs.push(media::codec_info(c).name);
  host_.ws->call("subscribe", Json::object({{"codecs", codecs}}),
                 [this, alive = alive_](sig::RoomClient::Reply reply) {
                   if (!*alive || reply.ok()) return;
                   GST_ELEMENT_WARNING(host_.bin, RESOURCE, READ,
                                       ("cannot subscribe to the room: %s (%d)",
                                        reply.error.message.c_str(), reply.error.code),
                                       (nullptr));
                 });
}

bool SfuSession::on_notification(const std::string& method, const Json& params) {
  std::string peer = params.get_string("peer").value_or("");
  if (method == "publisher-joined") {
    if (!peer.empty() && publishers_.insert(peer).second) host_.publisher(peer, true);
    return true;
  }
  if (method == "publisher-left") {
    // Its tracks end now; the next offer marks its m-lines inactive.
    remove_slots([&](const Slot& s) { return s.peer == peer; },
                 params.get_string("reason").value_or("left"));
    if (publishers_.erase(peer)) host_.publisher(peer, false);
    return true;
  }
  if (method == "offer" && !params.find("from")) {
    on_offer(params);
    return true;
  }
  if (method == "candidate" && !params.find("from")) {
    const Json* index = params.find("sdpMLineIndex");
    std::string candidate = params.get_string("candidate").value_or("");
    peer::Peer* p = params.get_string("connection").value_or("subscribe") == "publish"
                        ? publisher_.get()
                        : subscriber_.get();
    if (p && index && index->is_int() && !candidate.empty())
      p->add_remote_candidate(guint(index->as_int()), candidate);
    return true;
  }
  if (method == "error") {
    const Json* code = params.find("code");
    if (code && code->is_int() && code->as_int() == -32007) {
      const Json* d = params.find("data");
      std::string track = d ? d->get_string("peer").value_or("?") + "/" +
                                  d->get_string("track").value_or("?")
                            : "?";
      std::string codec = d ? d->get_string("codec").value_or("?") : "?";
      std::string accepted = d && d->find("accepted") ? d->find("accepted")->dump() : "?";
      GST_ELEMENT_WARNING(host_.bin, STREAM, CODEC_NOT_FOUND,
                          ("cannot receive track %s: it is %s and we decode %s", track.c_str(),
                           codec.c_str(), accepted.c_str()),
                          ("%s", params.dump().c_str()));
      return true;
    }
    // The server ended one of our connections: rebuild it.
    const Json* d = params.find("data");
    std::string connection = d ? d->get_string("connection").value_or("") : "";
    std::string message = params.get_string("message").value_or("");
    if (connection == "subscribe") {
      resubscribe(message);
      return true;
    }
    if (connection == "publish") {
      published_ = false;  // the server has no such connection any more
      publish_failed(message);
      return true;
    }
  }
  return false;
}

void SfuSession::on_offer(const Json& params) {
  std::string sdp = params.get_string("sdp").value_or("");
  const Json* negotiation = params.find("negotiationId");
  const Json* session = params.find("session");
  if (!negotiation || !session || !session->is_int()) {
    GST_WARNING_OBJECT(host_.bin, "server offer without negotiationId/session: ignored");
    return;
  }
  if (!subscriber_ || session->as_int() != session_) new_subscriber(session->as_int());
  sig::SdpSummary offer;
  try {
    offer = sig::validate_offer(sdp);
  } catch (const std::exception& e) {
    return resubscribe(std::string("the server's offer does not parse: ") + e.what());
  }
  std::map<std::string, Offered> tracks;  // by the SDP's mid
  if (const Json* list = params.find("tracks"); list && list->is_array())
    for (const Json& t : list->as_array()) {
      // `mid` is also the m-line index (docs/protocol.md); the SDP's own
      // mids may differ (webrtcbin's "video0"), so the index decides.
      std::string mid = t.get_string("mid").value_or("");
      if (offer.mline_index(mid) < 0) {
        guint64 index = 0;
        if (g_ascii_string_to_unsigned(mid.c_str(), 10, 0, offer.media.size() - 1, &index,
                                       nullptr))
          mid = offer.media[index].mid;
      }
      tracks[mid] = {t.get_string("peer").value_or(""), t.get_string("track").value_or("")};
    }
  {
    std::lock_guard lock(slots_mutex_);
    for (auto& [ssrc, mid] : ssrc_mids(sdp)) ssrc_mids_[ssrc] = mid;
  }
  GST_DEBUG_OBJECT(host_.bin, "server offer (session %" G_GINT64_FORMAT "):\n%s", session_,
                   sdp.c_str());
  // webrtcbin takes a new offer on a stable connection: the same Peer answers
  // renegotiations, whose m-lines only grow.
  subscriber_->answer_offer(sdp, [this, id = *negotiation, tracks](const std::string& answer,
                                                                   const std::string& error) {
    if (!error.empty()) return resubscribe("cannot answer the server's offer: " + error);
    host_.ws->call("answer", Json::object({{"sdp", answer}, {"negotiationId", id}}),
                   [this, alive = alive_](sig::RoomClient::Reply reply) {
                     if (!*alive || reply.ok()) return;
                     // The server's connection could not take our answer: a
                     // new subscription (the server would offer the same again).
                     if (reply.error.code == -32602 &&
                         reply.error.message.find("refused") != std::string::npos)
                       return resubscribe(reply.error.message);
                     GST_WARNING_OBJECT(host_.bin, "answer not taken: %s",
                                        reply.error.message.c_str());
                   });
    on_answered(answer, tracks);
  });
}

// Pads follow the negotiated answer: a slot keeps its pad while the same
// publisher track is in it; anything else is a new pad.
void SfuSession::on_answered(const std::string& answer,
                             const std::map<std::string, Offered>& tracks) {
  sig::SdpSummary summary;
  try {
    summary = sig::validate_offer(answer);
  } catch (const std::exception& e) {
    return resubscribe(std::string("our own answer does not parse: ") + e.what());
  }
  std::map<std::string, media::Codec> active;
  for (auto& r : media::ReceivedTracks::receivable(summary, true))
    if (tracks.count(r.mid)) active[r.mid] = r.codec;
  remove_slots(
      [&](const Slot& s) {
        auto it = tracks.find(s.mid);
        return !active.count(s.mid) || it == tracks.end() || it->second.peer != s.peer ||
               it->second.track != s.track;
      },
      "no longer offered");
  // One no-more-pads after every new slot's pad: a publisher's audio pad
  // alone first would end gst-launch's delayed link to its video pad
  // ("Delayed linking failed … src_video_0").
  bool exposed = false;
  for (auto& [mid, codec] : active) {
    {
      std::lock_guard lock(slots_mutex_);
      if (slots_.count(mid)) continue;
    }
    const Offered& who = tracks.at(mid);
    sig::SdpSummary one = summary;
    std::erase_if(one.media, [&](const sig::MediaSummary& m) { return m.mid != mid; });
    std::unique_ptr<media::ReceivedTracks> received;
    try {
      received = std::make_unique<media::ReceivedTracks>(
          GST_ELEMENT(host_.bin), one, true,
          host_.composer ? media::OutputMode::kRaw : media::OutputMode::kAuto,
          media::ReceivedTracks::Identity{who.peer, host_.room, host_.room + "/" + who.peer},
          host_.pad_name);
    } catch (const std::exception& e) {
      GST_WARNING_OBJECT(host_.bin, "track %s of %s: %s", mid.c_str(), who.peer.c_str(), e.what());
      continue;
    }
    media::ReceivedTracks* raw = received.get();
    {
      std::lock_guard lock(slots_mutex_);
      slots_[mid] = Slot{mid, who.peer, who.track, std::move(received)};
      // A slot handed to a new publisher may keep its SSRC: webrtcbin then
      // makes no new pad, the parked one feeds the new track.
      if (auto it = remote_pads_.find(mid); it != remote_pads_.end() &&
                                            !gst_pad_is_linked(it->second.pad.get()) &&
                                            raw->link(it->second.pad.get(), ""))
        *it->second.parked = false;
    }
    GST_INFO_OBJECT(host_.bin, "track %s of %s (%s) in mid %s", who.track.c_str(),
                    who.peer.c_str(), media::codec_info(codec).name, mid.c_str());
    if (host_.composer) {
      for (GstPad* pad : raw->src_pads())
        host_.composer->add(pad, media::codec_info(codec).kind);
    } else {
      raw->expose(false);
      exposed = true;
    }
  }
  if (exposed) gst_element_no_more_pads(GST_ELEMENT(host_.bin));
}

bool SfuSession::link_remote_pad(GstPad* pad, std::string mid) {
  CapsPtr caps(gst_pad_get_current_caps(pad));
  guint ssrc = 0;
  std::lock_guard lock(slots_mutex_);
  if (caps && gst_structure_get_uint(gst_caps_get_structure(caps.get(), 0), "ssrc", &ssrc))
    if (auto it = ssrc_mids_.find(ssrc); it != ssrc_mids_.end()) mid = it->second;
  auto parked = std::make_shared<std::atomic<bool>>(true);
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad*, GstPadProbeInfo*, gpointer d) {
        return *(*static_cast<std::shared_ptr<std::atomic<bool>>*>(d)) ? GST_PAD_PROBE_DROP
                                                                       : GST_PAD_PROBE_OK;
      },
      new std::shared_ptr<std::atomic<bool>>(parked),
      [](gpointer d) { delete static_cast<std::shared_ptr<std::atomic<bool>>*>(d); });
  // A new SSRC in a reused slot: the previous publisher's pad is parked.
  if (auto old = remote_pads_.find(mid); old != remote_pads_.end()) {
    *old->second.parked = true;
    if (GPtr<GstPad> peer = adopt(gst_pad_get_peer(old->second.pad.get())))
      gst_pad_unlink(old->second.pad.get(), peer.get());
  }
  remote_pads_[mid] = RemotePad{retain(pad), parked};
  auto slot = slots_.find(mid);
  if (slot != slots_.end() && slot->second.received->link(pad, "")) {
    *parked = false;
  } else {
    GST_INFO_OBJECT(host_.bin, "subscribe: pad %s (mid '%s', ssrc %u) has no track: dropped",
                    GST_PAD_NAME(pad), mid.c_str(), ssrc);
  }
  return true;  // parked pads drop, they need no sink
}

void SfuSession::remove_slots(const std::function<bool(const Slot&)>& which,
                              const std::string& why) {
  std::vector<Slot> gone;
  {
    std::lock_guard lock(slots_mutex_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (!which(it->second)) {
        ++it;
        continue;
      }
      if (auto pad = remote_pads_.find(it->first); pad != remote_pads_.end())
        *pad->second.parked = true;  // before its branch goes
      gone.push_back(std::move(it->second));
      it = slots_.erase(it);
    }
  }
  for (Slot& s : gone) {
    GST_INFO_OBJECT(host_.bin, "track %s of %s (mid %s) ends: %s", s.track.c_str(),
                    s.peer.c_str(), s.mid.c_str(), why.c_str());
    s.received->finish();
    if (host_.composer)
      for (GstPad* pad : s.received->src_pads()) host_.composer->remove(pad);
    s.received.reset();
  }
}

void SfuSession::new_subscriber(int64_t session) {
  if (shared()) {
    // The server's offers renegotiate the shared connection; a second
    // subscription on it is not done (docs/protocol.md): a new POST.
    if (session_ >= 0) return host_.lost("the server started a second subscription");
    session_ = session;
    return;
  }
  drop_subscriber("the server rebuilt the subscribe connection");
  session_ = session;
  peer::PeerEvents events;
  events.local_candidate = [this](guint mline, const std::string& candidate) {
    send_candidate("subscribe", mline, candidate);
  };
  events.remote_pad = [this](GstPad* pad, const std::string& mid) {
    return link_remote_pad(pad, mid);
  };
  events.connected = [this] { GST_INFO_OBJECT(host_.bin, "subscribe connection up"); };
  events.failed = [this](const std::string& why) {
    host_.worker->post([this, alive = alive_, why] {
      if (*alive) resubscribe("subscribe connection: " + why);
    });
  };
  events.data = [this](const peer::DataMessage& m) { room_data(m); };
  auto p = std::make_shared<peer::Peer>(host_.bin, *host_.worker,
                                        "sfu-subscribe-" + std::to_string(session), host_.ice,
                                        host_.peer_timeout_ms * GST_MSECOND, events);
  p->force_retransmission();  // every publisher's track NACKs its losses (Peer::force_retransmission)
  // The room's data channels ride this connection (the server's offer opens them).
  p->enable_data_channels();
  for (auto& h : held_data_) p->send_data(std::move(h.message), h.text, h.reliable);
  held_data_.clear();
  std::lock_guard lock(peers_mutex_);
  subscriber_ = std::move(p);
}

void SfuSession::room_data(const peer::DataMessage& m) {
  auto data = sig::unwrap_room_data(m.data);
  if (!data || data->peer.empty()) {
    GST_WARNING_OBJECT(host_.bin, "a room data message without its sender dropped");
    return;
  }
  // Reliable room data reads "rtcmesh" whichever channel carried it.
  std::string label = m.label == peer::Peer::kRoomDataLabel ? peer::Peer::kReliableLabel : m.label;
  if (host_.data) host_.data(data->peer, {label, std::move(data->payload), m.text});
}

bool SfuSession::send_data(const std::string& to, const std::string& data, bool text,
                           bool reliable) {
  const char* refused = nullptr;
  if (data.size() > sig::kMaxRoomDataPayload) refused = "over the room's limit";
  std::string message = sig::wrap_room_data(to, data);
  // A shared connection's "rtcmesh" channel speaks the room protocol: the
  // room's data has a channel of its own there.
  auto send = [&] {
    return shared() ? subscriber_->send_data_on(reliable ? peer::Peer::kRoomDataLabel
                                                         : peer::Peer::kUnreliableLabel,
                                                std::move(message), text)
                    : subscriber_->send_data(std::move(message), text, reliable);
  };
  if (!refused && subscriber_ && !send())
    refused = "the data channel refused it (closed or its queue full)";
  else if (!refused && !subscriber_) {
    if (held_data_.size() >= peer::Peer::kMaxQueuedMessages) refused = "too many held";
    else held_data_.push_back({std::move(message), text, reliable});
  }
  if (refused)
    GST_ELEMENT_WARNING(host_.bin, RESOURCE, WRITE, ("data message not sent"),
                        ("%zu bytes to '%s': %s", data.size(), to.c_str(), refused));
  return !refused;
}

void SfuSession::drop_subscriber(const std::string& why) {
  std::shared_ptr<peer::Peer> p;
  {
    std::lock_guard lock(peers_mutex_);
    p = std::move(subscriber_);
  }
  p.reset();  // no more inflow before the branches go
  remove_slots([](const Slot&) { return true; }, why);
  std::lock_guard lock(slots_mutex_);
  remote_pads_.clear();
  ssrc_mids_.clear();
  session_ = -1;
}

// The subscription broke (ICE, timeout, an answer we could not make): a new
// one from scratch; the server's next offer starts a new session.
void SfuSession::resubscribe(const std::string& why) {
  if (shared()) return host_.lost(why);  // one subscription per connection: a new POST
  GST_WARNING_OBJECT(host_.bin, "subscribing again: %s", why.c_str());
  drop_subscriber(why);
  host_.ws->notify("unsubscribe", Json::object());
  subscribe();
}

void SfuSession::connection_failed(GstElement* webrtcbin, const std::string& why) {
  if (publisher_ && publisher_->webrtcbin() == webrtcbin) return publish_failed(why);
  if (subscriber_ && subscriber_->webrtcbin() == webrtcbin)
    return resubscribe("subscribe connection: " + why);
}

// On the worker, where slots_ change: no lock while EOS goes out.
void SfuSession::finish_tracks() {
  for (auto& [mid, s] : slots_) s.received->finish();
}

bool SfuSession::owns(GstMessage* message, GstElement** webrtcbin) const {
  std::lock_guard lock(peers_mutex_);
  for (const peer::Peer* p : {publisher_.get(), subscriber_.get()})
    if (p && p->posted(message)) {
      *webrtcbin = p->webrtcbin();
      return true;
    }
  return false;
}

guint SfuSession::append_stats(GValue* list) const {
  std::set<std::string> received;
  guint slots;
  {
    std::lock_guard lock(slots_mutex_);
    for (auto& [mid, s] : slots_) received.insert(s.peer);
    slots = guint(slots_.size());
  }
  std::lock_guard lock(peers_mutex_);
  auto append = [&](GstStructure* s) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&v, s);
    gst_value_list_append_and_take_value(list, &v);
  };
  if (shared() && publisher_) {
    append(connection_stats("rtc", *publisher_, guint(sent_ ? sent_->size() : 0), slots));
    return guint(received.size());
  }
  if (publisher_)
    append(connection_stats("publish", *publisher_, guint(sent_ ? sent_->size() : 0), 0));
  if (subscriber_) append(connection_stats("subscribe", *subscriber_, 0, slots));
  return guint(received.size());
}

}  // namespace rtcmesh::room
