// Signaling state of one SFU room (docs/protocol.md, "SFU rooms"): who
// publishes which tracks, who subscribes with which codecs, the m-line slots
// of every subscriber's connection and its one-negotiation-at-a-time queue.
// Pure and deterministic: RoomServer drives it and hands the media work
// (SfuOffer) to the rtcsfu element.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "signaling/json.h"

namespace rtcmesh::sig {

struct SfuTrack {     // one track of a publisher
  std::string id;     // publisher-local id, e.g. the publisher's mid ("0") or "video_0"
  std::string kind;   // "audio" | "video"
  std::string codec;  // encoding name, upper case: "VP8", "VP9", "H264", "OPUS"
  // MCU rooms: a track of the room's output made for one participant only
  // (its minus-one mix); it replaces the shared track of its kind for them.
  std::string for_peer;
  bool operator==(const SfuTrack&) const = default;
};

struct SfuSlot {                 // one m-line of a subscriber's connection
  unsigned mline = 0;            // index in the SDP
  std::string kind, codec;       // fixed when the m-line is created
  std::string publisher, track;  // empty publisher: inactive
  bool active() const { return !publisher.empty(); }
  bool operator==(const SfuSlot&) const = default;
};

struct SfuOffer {  // what the subscriber connection must carry in the next offer
  std::string subscriber;
  uint64_t session = 1;        // +1 when the connection is rebuilt
  uint64_t negotiation = 0;    // increasing per subscriber (never reused, also across sessions)
  bool rebuild = false;        // a new connection (first offer of a session)
  std::vector<SfuSlot> slots;  // every m-line, in m-line order
};

struct SfuMismatch {  // a publisher track a subscriber's codecs exclude
  std::string subscriber, publisher, track, codec;
  std::vector<std::string> accepted;
  bool operator==(const SfuMismatch&) const = default;
};

struct SfuPublisher {
  std::string id;
  std::vector<SfuTrack> tracks;
};

// A refused change; code is the JSON-RPC code the client gets.
struct SfuError : std::runtime_error {
  SfuError(int code, const std::string& message, Json data = {})
      : std::runtime_error(message), code(code), data(std::move(data)) {}
  int code;
  Json data;  // null = none
};

class SfuRoom {
 public:
  struct Limits {
    unsigned max_publishers = 0, max_subscribers = 0;  // 0 = unlimited
    unsigned max_mlines = 16;  // m-lines of one subscriber connection before a rebuild
    // Set: an MCU room. Subscribers receive only this publisher's tracks (the
    // host's composite and mixes), one per kind: their own for_peer track,
    // else the first shared one their codecs accept. The other publishers
    // are mixed by the host, never forwarded.
    std::string output_publisher;
    // With output_publisher: a processing room (each participant gets its
    // own media back, processed; no composite).
    bool process = false;
  };
  explicit SfuRoom(Limits limits);

  // Throws SfuError: -32004 already publishing, -32002 full (data.limit),
  // -32602 two tracks with one id.
  void add_publisher(const std::string& id, std::vector<SfuTrack> tracks);
  bool remove_publisher(const std::string& id);  // false: not a publisher
  // A publisher's tracks change in place (an MCU's output gains or loses a
  // minus-one mix): kept tracks keep their slots. False: not a publisher.
  bool set_tracks(const std::string& id, std::vector<SfuTrack> tracks);
  // codecs: encoding names (any case) the subscriber decodes; empty = all.
  // Throws SfuError -32004 already subscribed, -32002 full (data.limit).
  void add_subscriber(const std::string& id, std::vector<std::string> codecs);
  bool remove_subscriber(const std::string& id);  // false: not a subscriber

  // Offers to send now: one per subscriber (in subscribe order) that has no
  // negotiation in flight and whose wanted tracks (every publisher's tracks
  // but its own that its codecs accept; the first max_mlines of them, audio
  // before video, publishers in join order) differ from its current slots,
  // or whose last offer failed. Slot allocation: a kept track keeps its slot;
  // a gone track's slot becomes inactive; a new track reuses the lowest
  // inactive slot of the same kind+codec, else appends an m-line; if that
  // would pass max_mlines, or there is no connection yet, the offer is a
  // rebuild (session+1, only the wanted tracks, from m-line 0). A subscriber
  // with nothing to receive and no connection gets no offer. The returned
  // offers are in flight until negotiation_done.
  std::vector<SfuOffer> take_offers();
  // The answer to the in-flight negotiation was applied (ok) or the
  // negotiation failed (!ok: the slots go back to the last answered state,
  // the connection too, and the next take_offers offers again). False when
  // `negotiation` is not the one in flight for that subscriber.
  bool negotiation_done(const std::string& subscriber, uint64_t negotiation, bool ok);
  // Tracks a subscriber's codecs exclude, each (subscriber, publisher, track)
  // reported once while both stay.
  std::vector<SfuMismatch> take_mismatches();

  const Limits& limits() const { return limits_; }
  const std::vector<SfuPublisher>& publishers() const { return publishers_; }  // join order
  const SfuPublisher* publisher(const std::string& id) const;
  std::vector<std::string> subscribers() const;  // subscribe order
  bool subscribed(const std::string& id) const;
  // Current slots (as offered when a negotiation is in flight); empty for
  // unknown subscribers.
  std::vector<SfuSlot> slots(const std::string& subscriber) const;
  std::optional<uint64_t> in_flight(const std::string& subscriber) const;
  bool empty() const { return publishers_.empty() && subscribers_.empty(); }

 private:
  struct Subscriber {
    std::string id;
    std::vector<std::string> codecs;  // upper case; empty = all
    uint64_t session = 0;             // last session number used (0: none yet)
    bool connected = false;           // `answered` describes a live connection of `session`
    std::vector<SfuSlot> answered;    // slots of the last answered negotiation
    std::vector<SfuSlot> current;     // answered, or as offered while in flight
    std::optional<uint64_t> in_flight;
    bool in_flight_rebuild = false;
    bool retry = false;  // the last negotiation failed: offer again even if nothing changed
    std::set<std::pair<std::string, std::string>> reported;  // mismatches told: (publisher, track)
  };
  bool accepts(const Subscriber& s, const std::string& codec) const;
  std::vector<std::pair<const SfuPublisher*, const SfuTrack*>> wanted(const Subscriber& s) const;
  std::vector<std::pair<const SfuPublisher*, const SfuTrack*>> output_tracks(
      const Subscriber& s, const SfuPublisher& output) const;
  Subscriber* find_subscriber(const std::string& id);
  const Subscriber* find_subscriber(const std::string& id) const;

  Limits limits_;
  std::vector<SfuPublisher> publishers_;
  std::vector<Subscriber> subscribers_;
  uint64_t next_negotiation_ = 1;  // room-wide, so an id is never reused for anyone
};

// WHEP players of SFU rooms (the rtcsfu element's; RoomServer never sees
// them). A player offers, so its m-lines are fixed by its offer and never
// renegotiated: each audio/video m-line it can receive becomes a slot, and the
// choice of the publisher track each slot carries is made here. A player of
// one publisher (/whep/<room>/<publisher>) gets that publisher's tracks and
// nothing more; a player of a room (/whep/<room>) gets the room's tracks, and
// its empty slots are filled as publishers come.
struct PlayerMline {                // one m-line of a player's offer
  std::string kind;                 // "audio" | "video"; anything else gets no slot
  std::vector<std::string> codecs;  // codecs we forward that it receives, ours first
};

class SfuPlayers {
 public:
  // The slots answering a player's offer, in m-line order (SfuSlot::mline is
  // the index in `offer`): an m-line with a codec gets the first track of its
  // kind that it receives and no earlier slot carries (`publishers` in the
  // order given, their tracks in order; only `publisher`'s when not empty),
  // else its first codec and no track. `one_per_kind`: only the first
  // m-line of a kind gets a track, now and in fill (an MCU room's output: its
  // video tracks are one composite in several codecs). Throws SfuError
  // -32007 when no m-line has a codec, or when a player of one publisher
  // gets none of its tracks.
  std::vector<SfuSlot> add(const std::string& player, const std::string& room,
                           const std::string& publisher, const std::vector<PlayerMline>& offer,
                           const std::vector<SfuPublisher>& publishers,
                           bool one_per_kind = false);
  void remove(const std::string& player);
  // A publisher of `room` left: the slots carrying its tracks are empty.
  // Returns the players of that publisher alone (their stream is over).
  std::vector<std::string> publisher_left(const std::string& room, const std::string& publisher);

  struct Fill {  // slot `slot` (index in slots()) of `player` now carries publisher.track
    std::string player;
    size_t slot = 0;
    std::string publisher, track;
    bool operator==(const Fill&) const = default;
  };
  // Empty slots of `room`'s room players get a track of `publishers` in the
  // slot's codec that the player does not receive yet (first come, as in add).
  std::vector<Fill> fill(const std::string& room, const std::vector<SfuPublisher>& publishers);

  std::vector<SfuSlot> slots(const std::string& player) const;  // empty for unknown players
  bool empty() const { return players_.empty(); }

 private:
  struct Player {
    std::string room, publisher;  // publisher empty: a room player
    std::vector<SfuSlot> slots;
    bool one_per_kind = false;
  };
  std::map<std::string, Player> players_;
};

}  // namespace rtcmesh::sig
