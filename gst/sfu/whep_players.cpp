#include "gst/sfu/whep_players.h"

#include <gst/sdp/sdp.h>

#include <memory>
#include <set>

namespace rtcmesh::sfu {

namespace {

// Each audio/video m-line of the offer with the codecs we forward that it
// receives, ours first.
std::vector<sig::PlayerMline> offered_mlines(const GstSDPMessage* sdp) {
  std::vector<sig::PlayerMline> out;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    const GstSDPMedia* m = gst_sdp_message_get_media(sdp, i);
    sig::PlayerMline mline;
    mline.kind = gst_sdp_media_get_media(m) ? gst_sdp_media_get_media(m) : "";
    std::optional<media::Kind> kind;
    if (mline.kind == "video") kind = media::Kind::kVideo;
    if (mline.kind == "audio") kind = media::Kind::kAudio;
    if (kind)
      for (media::Codec c : media::codecs_of(*kind))
        if (media::offered_caps(m, c)) mline.codecs.push_back(media::codec_info(c).name);
    out.push_back(std::move(mline));
  }
  return out;
}

// Why the player gets no video though the output has some ("" = it does):
// the codecs it is encoded in.
std::string unserved_video(const std::vector<sig::SfuSlot>& slots,
                           const std::vector<sig::SfuPublisher>& tracks) {
  std::string codecs;
  for (const sig::SfuPublisher& p : tracks)
    for (const sig::SfuTrack& t : p.tracks)
      if (t.kind == "video" && codecs.find(t.codec) == std::string::npos)
        codecs += (codecs.empty() ? "" : ", ") + t.codec;
  bool wants_video = false, served = false;
  for (const sig::SfuSlot& s : slots) {
    if (s.kind != "video") continue;
    wants_video = true;
    served = served || s.active();
  }
  if (!wants_video || served || codecs.empty()) return "";
  return "the room's composite is encoded in " + codecs +
         " only (the MCU's video-codecs), which the offer does not receive";
}

}  // namespace

void WhepPlayers::offer(const sig::ResourceEndpoint::Offer& offer,
                        std::function<void(sig::ResourceEndpoint::Answer)> reply) {
  const std::string room = offer.room;
  if (room.empty()) return reply({404, "POST to /whep/<room> or /whep/<room>/<publisher>", {}});
  const std::string& only = offer.publisher;
  if (!only.empty()) {
    server::Publisher* pub = ingest_.find(room, only);
    // The pipeline's own tracks before they were encoded once: come back
    // later (as rtcwhepsink answers; WHEP players retry a 503).
    if (!pub && ingest_.local_publisher_pending(room, only))
      return reply({503, "publisher '" + only + "' has not started sending yet", {}});
    if (!pub) return reply({404, "no publisher '" + only + "' in room '" + room + "'", {}});
    // A remote publisher whose offer is still being answered has no tracks
    // yet: come back later (this was a final 422 "takes none of its codecs").
    if (pub->sources.empty())
      return reply({503, "publisher '" + only + "' is still connecting", {}});
  }
  if (std::string why = hooks_.refusal(room); !why.empty()) return reply({503, why, {}});
  // A player of an MCU room takes one of the composite's codecs for good
  // (one video track per player): choose once every codec is there.
  if (only.empty() && ingest_.forwards_local_only() && !ingest_.local_tracks_ready())
    return reply({503, "the room's composite is not encoded in every codec yet", {}});
  // The room's output made for `only` (a processing room: that participant's
  // processed media) is what a player of /whep/<room>/<only> gets, if any.
  std::vector<sig::SfuPublisher> tracks = ingest_.tracks(room);
  std::string pick = only;
  if (auto own = only.empty() ? std::nullopt : ingest_.tracks_for(room, only)) {
    // Every track of theirs processed and encoded, or come back later.
    server::Publisher* pub = ingest_.find(room, only);
    if (pub && pub->peer && own->tracks.size() < pub->sources.size())
      return reply({503, "the processed media of '" + only + "' is not ready yet", {}});
    pick = own->id;
    tracks = {std::move(*own)};
  }
  const std::string key = offer.id;
  GstSDPMessage* sdp = nullptr;
  gst_sdp_message_new_from_text(offer.sdp.c_str(), &sdp);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> hold(sdp, gst_sdp_message_free);
  std::unique_ptr<Subscriber> player;
  Router& router = subscribers_.router();
  try {
    // An MCU room's output is one picture (in each codec) and one mix.
    std::vector<sig::SfuSlot> slots = players_.add(key, room, pick, offered_mlines(sdp), tracks,
                                                   ingest_.forwards_local_only());
    // The room's output is all there is in an MCU room: a player that decodes
    // none of the composite's codecs would wait for ever (503 while some of
    // them are still starting).
    if (std::string why = ingest_.forwards_local_only() ? unserved_video(slots, tracks) : "";
        !why.empty()) {
      players_.remove(key);
      if (!ingest_.local_tracks_ready())
        return reply({503, "the room's composite is not encoded in every codec yet", {}});
      return reply({422, why, {}});
    }
    player = subscribers_.make(room, key, key, "whep-" + key.substr(0, 8));
    player->whep = true;
    for (size_t i = 0; i < slots.size(); i++) {
      const sig::SfuSlot& slot = slots[i];
      media::Codec codec = *media::codec_from_name(slot.codec);
      CapsPtr caps = media::offered_caps(gst_sdp_message_get_media(sdp, slot.mline), codec);
      Source* source =
          slot.active() ? ingest_.find_source(room, slot.publisher, slot.track) : nullptr;
      router.add_slot(key, codec, source, caps.get());
      // A player of one publisher has nothing more to come: answered inactive.
      if (!only.empty() && !source) router.switch_source(key, i, nullptr, true);
    }
  } catch (const std::exception& e) {
    players_.remove(key);
    if (player) subscribers_.discard(key, std::move(player));
    return reply({422, e.what(), {}});
  }
  player->connect_deadline =
      subscribers_.connect_deadline(key, std::max(hooks_.peer_timeout_ms(), 10000u));
  Subscriber& added = subscribers_.add(key, std::move(player));
  added.path->answer_offer(offer.sdp, [this, key, reply](const std::string& sdp,
                                                        const std::string& error) {
    Subscriber* s = subscribers_.find(key);
    if (!s) return reply({503, "player went away during negotiation", {}});
    if (!error.empty()) {
      subscribers_.remove(key, error, false);
      return reply({422, error, {}});
    }
    reply({201, {}, sdp});
    hooks_.added(*s);
  });
}

void WhepPlayers::fill(const std::string& room) {
  Router& router = subscribers_.router();
  std::set<std::string> changed;
  for (const auto& f : players_.fill(room, ingest_.tracks(room))) {
    router.switch_source(f.player, f.slot, ingest_.find_source(room, f.publisher, f.track), false);
    changed.insert(f.player);
  }
  for (const auto& key : changed) router.request_keyframes(key);
}

}  // namespace rtcmesh::sfu
