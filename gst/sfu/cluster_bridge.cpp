#include "gst/sfu/cluster_bridge.h"

#include <gst/video/video.h>

#include <stdexcept>

#include "gst/common/debug.h"
#include "gst/media/util.h"
#include "gst/common/ptr.h"
#include "gst/media/codec.h"
#include "gst/sfu/forwarding_path.h"

#define GST_CAT_DEFAULT rtcmesh_debug

namespace rtcmesh::sfu {

// A remote track's entry: what the NATS thread pushes into, and what
// asks the origin for keyframes. Shared with the NATS handler and the pad
// probe, which may outlive the bridge's hold on it by one call.
struct ClusterBridge::Feed {
  GstElement* appsrc = nullptr;  // owned ref
  GstBin* bin = nullptr;
  sig::cluster::ClusterNode* node = nullptr;
  uint64_t subscription = 0;
  server::Source* source = nullptr;  // owned by the Ingest's publisher
  std::string origin, room, peer, track;
  ~Feed() {
    if (node && subscription) node->unsubscribe_media(subscription);
    if (appsrc) {
      media::remove_elements(bin, {appsrc});
      gst_object_unref(appsrc);
    }
  }
};

// A local track's packets out to the cluster: a FanOut branch into an appsink.
struct ClusterBridge::Egress {
  server::Source* source = nullptr;
  GstElement* appsink = nullptr;  // owned ref
  GstBin* bin = nullptr;
  int branch = -1;
  std::string subject;
  gint64 last_want_us = 0;
  ~Egress() {
    if (source && branch >= 0) source->fanout().detach(branch);
    if (appsink) {
      media::remove_elements(bin, {appsink});
      gst_object_unref(appsink);
    }
  }
};

namespace {

// (appsrc/appsink through their signals: no libgstapp link for two calls)
GstFlowReturn on_sample(GstElement* sink, gpointer data) {
  auto* e = static_cast<std::pair<sig::cluster::ClusterNode*, std::string>*>(data);
  GstSample* sample = nullptr;
  g_signal_emit_by_name(sink, "pull-sample", &sample);
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buf = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    e->first->publish_media(e->second, map.data, map.size);
    gst_buffer_unmap(buf, &map);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

void free_sink_data(gpointer data, GClosure*) {
  delete static_cast<std::pair<sig::cluster::ClusterNode*, std::string>*>(data);
}

}  // namespace

ClusterBridge::ClusterBridge(GstBin* bin, server::Ingest& ingest,
                             std::function<bool(server::Source*)> fed)
    : bin_(bin), ingest_(ingest), fed_(std::move(fed)) {}

ClusterBridge::~ClusterBridge() { stop(); }

void ClusterBridge::start(server::Host& host, const sig::cluster::ClusterOptions& options) {
  host_ = &host;
  node_ = std::make_unique<sig::cluster::ClusterNode>(host.worker().context(), host.rooms(),
                                                      options);
  node_->set_media(this);
  tick();
}

void ClusterBridge::stop() {
  timer_.reset();
  egress_.clear();
  {
    // (the feeds end their NATS subscriptions: before the node goes)
    auto remotes = std::move(remotes_);
    remotes_.clear();
    for (auto& [key, r] : remotes) ingest_.remove(key, "the node leaves the cluster", true);
  }
  if (node_) node_->set_media(nullptr);
  node_.reset();
  host_ = nullptr;
}

bool ClusterBridge::remote_publisher(const std::string& origin, const std::string& room,
                                     const std::string& peer,
                                     const std::vector<sig::SfuTrack>& tracks) {
  if (!node_) return false;
  std::vector<std::unique_ptr<server::Source>> sources;
  std::vector<std::shared_ptr<Feed>> feeds;
  for (const sig::SfuTrack& t : tracks) {
    auto codec = media::codec_from_name(t.codec);
    if (!codec) {
      GST_WARNING("cluster: %s/%s track %s: codec %s unknown here, not forwarded", room.c_str(),
                  peer.c_str(), t.id.c_str(), t.codec.c_str());
      continue;
    }
    CapsPtr caps = media::rtp_caps(*codec, payload_type(*codec));
    auto feed = std::make_shared<Feed>();
    feed->bin = bin_;
    feed->node = node_.get();
    feed->origin = origin;
    feed->room = room;
    feed->peer = peer;
    feed->track = t.id;
    feed->appsrc = gst_element_factory_make("appsrc", nullptr);
    if (!feed->appsrc) throw std::runtime_error("appsrc missing (gst-plugins-base)");
    gst_object_ref_sink(feed->appsrc);
    // Live RTP stamped on arrival; a stalled branch drops, never blocks NATS.
    g_object_set(feed->appsrc, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", TRUE,
                 "caps", caps.get(), "block", FALSE, "max-bytes", guint64(2 * 1024 * 1024),
                 "leaky-type", 2 /* downstream */, nullptr);
    gst_bin_add(bin_, feed->appsrc);
    auto source = std::make_unique<server::Source>(bin_, room, peer, t.id, *codec, caps.get());
    GPtr<GstPad> src = adopt(gst_element_get_static_pad(feed->appsrc, "src"));
    source->link_input(src.get());
    gst_element_sync_state_with_parent(feed->appsrc);
    feed->source = source.get();
    // Keyframe requests (merged by the FanOut) go to the origin.
    std::weak_ptr<Feed> weak = feed;
    server::Host* host = host_;
    gst_pad_add_probe(
        src.get(), GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
        [](GstPad*, GstPadProbeInfo* info, gpointer data) -> GstPadProbeReturn {
          GstEvent* ev = GST_PAD_PROBE_INFO_EVENT(info);
          if (!gst_video_event_is_force_key_unit(ev)) return GST_PAD_PROBE_OK;
          auto* ctx = static_cast<std::pair<std::weak_ptr<Feed>, server::Host*>*>(data);
          std::weak_ptr<Feed> w = ctx->first;
          ctx->second->worker().post([w] {
            if (auto f = w.lock())
              if (f->node) f->node->request_keyframe(f->origin, f->room, f->peer, f->track);
          });
          return GST_PAD_PROBE_DROP;
        },
        new std::pair<std::weak_ptr<Feed>, server::Host*>(weak, host),
        [](gpointer d) { delete static_cast<std::pair<std::weak_ptr<Feed>, server::Host*>*>(d); });
    GstElement* appsrc = feed->appsrc;
    gst_object_ref(appsrc);
    std::shared_ptr<GstElement> hold(appsrc, [](GstElement* e) { gst_object_unref(e); });
    feed->subscription = node_->subscribe_media(
        sig::cluster::ClusterNode::media_subject(origin, room, peer, t.id),
        [hold, node = node_.get()](const void* data, size_t size) {
          // RTP version 2 with a whole header, or it is not ours: ignored, counted.
          if (size < 12 || (static_cast<const guint8*>(data)[0] >> 6) != 2)
            return node->media_malformed();
          GstBuffer* buf = gst_buffer_new_memdup(data, size);
          GstFlowReturn ret;
          g_signal_emit_by_name(hold.get(), "push-buffer", buf, &ret);
          gst_buffer_unref(buf);
        });
    sources.push_back(std::move(source));
    feeds.push_back(std::move(feed));
  }
  if (sources.empty()) return false;
  // The feeds go with the publisher (Ingest::remove releases them before its sources).
  auto holder = std::make_shared<std::vector<std::shared_ptr<Feed>>>(feeds);
  std::string why;
  if (!ingest_.add_fed_publisher(room, peer, std::move(sources), tracks, holder, &why)) {
    GST_WARNING("cluster: publisher %s of node %s not taken into room %s: %s", peer.c_str(),
                origin.c_str(), room.c_str(), why.c_str());
    return false;
  }
  remotes_[server::session_key(room, peer)] = Remote{origin, std::move(feeds)};
  GST_INFO("cluster: publisher %s of node %s is in room %s here", peer.c_str(), origin.c_str(),
           room.c_str());
  return true;
}

void ClusterBridge::remote_publisher_left(const std::string& room, const std::string& peer,
                                          const std::string& reason) {
  std::string key = server::session_key(room, peer);
  if (!remotes_.erase(key)) return;
  // publisher-left to the room, its subscribers' slots go idle, pads EOS.
  ingest_.remove(key, reason, true);
}

void ClusterBridge::wanted(const std::string& room, const std::string& peer,
                           const std::string& track) {
  if (!node_) return;
  std::string subject = sig::cluster::ClusterNode::media_subject(node_->options().node_id, room,
                                                                 peer, track);
  auto it = egress_.find(subject);
  if (it != egress_.end()) {
    it->second->last_want_us = g_get_monotonic_time();
    return;
  }
  server::Source* source = ingest_.find_source(room, peer, track);
  if (!source) return;
  auto e = std::make_unique<Egress>();
  e->source = source;
  e->bin = bin_;
  e->subject = subject;
  e->last_want_us = g_get_monotonic_time();
  e->appsink = gst_element_factory_make("appsink", nullptr);
  if (!e->appsink) return;
  gst_object_ref_sink(e->appsink);
  g_object_set(e->appsink, "sync", FALSE, "async", FALSE, "emit-signals", TRUE, "max-buffers",
               guint(0), nullptr);
  g_signal_connect_data(e->appsink, "new-sample", G_CALLBACK(on_sample),
                        new std::pair<sig::cluster::ClusterNode*, std::string>(node_.get(), subject),
                        free_sink_data, GConnectFlags(0));
  gst_bin_add(bin_, e->appsink);
  gst_element_sync_state_with_parent(e->appsink);
  GPtr<GstPad> sink = adopt(gst_element_get_static_pad(e->appsink, "sink"));
  try {
    e->branch = source->fanout().attach(sink.get());
  } catch (const std::exception& ex) {
    GST_WARNING("cluster: cannot send %s: %s", subject.c_str(), ex.what());
    return;
  }
  GST_INFO("cluster: sending %s", subject.c_str());
  egress_[subject] = std::move(e);
  source->request_keyframe();  // the new node's subscribers start with one
}

void ClusterBridge::publisher_leaving(const server::Publisher& pub) {
  for (auto it = egress_.begin(); it != egress_.end();) {
    bool its = false;
    for (const auto& s : pub.sources) its |= it->second->source == s.get();
    if (its) {
      it->second->source->fanout().detach(it->second->branch);
      it->second->branch = -1;
      it = egress_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClusterBridge::keyframe_wanted(const std::string& room, const std::string& peer,
                                    const std::string& track) {
  if (server::Source* s = ingest_.find_source(room, peer, track)) s->request_keyframe();
}

void ClusterBridge::tick() {
  if (!node_) return;
  // Interest: remote tracks that feed at least one subscriber here.
  for (auto& [key, r] : remotes_)
    for (auto& f : r.feeds)
      if (f->source && (f->source->fanout().branch_count() > 0 || (fed_ && fed_(f->source))))
        node_->want(r.node, f->room, f->peer, f->track);
  // Egress nobody wants any more (or whose source went) stops.
  gint64 now = g_get_monotonic_time();
  gint64 ttl_us = gint64(node_->options().ttl_ms) * 1000;
  for (auto it = egress_.begin(); it != egress_.end();) {
    if (now - it->second->last_want_us >= ttl_us) {
      GST_INFO("cluster: no node wants %s any more", it->first.c_str());
      it = egress_.erase(it);
    } else {
      ++it;
    }
  }
  timer_ = sig::add_timer(host_->worker().context(), 250, [this] { tick(); });
}

}  // namespace rtcmesh::sfu
