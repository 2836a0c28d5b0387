// SfuRoom (signaling/rooms/sfu_room.h): the state machine of one SFU room, driven
// directly: join/leave orders, the renegotiation queue, slot reuse, the
// m-line cap, never-to-self, limits and codec mismatches.
#include "signaling/rooms/sfu_room.h"

#include <gtest/gtest.h>

#include <functional>

#include "signaling/rpc/jsonrpc.h"

namespace rtcmesh::sig {
namespace {

const SfuTrack kOpus{"0", "audio", "OPUS"};
const SfuTrack kVp8{"1", "video", "VP8"};
const SfuTrack kH264{"1", "video", "H264"};

// "mline:kind/codec=publisher.track" per slot, "-" for inactive ones.
std::string describe(const std::vector<SfuSlot>& slots) {
  std::string out;
  for (const SfuSlot& s : slots) {
    if (!out.empty()) out += ' ';
    out += std::to_string(s.mline) + ':' + s.kind + '/' + s.codec + '=' +
           (s.active() ? s.publisher + '.' + s.track : "-");
  }
  return out;
}

// Takes the offers and answers every one of them.
std::vector<SfuOffer> offer_and_answer(SfuRoom& room) {
  auto offers = room.take_offers();
  for (const SfuOffer& o : offers)
    EXPECT_TRUE(room.negotiation_done(o.subscriber, o.negotiation, true));
  return offers;
}

int error_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const SfuError& e) {
    return e.code;
  }
  return 0;
}

TEST(SfuRoom, FirstOfferCarriesEveryOtherPublisherAudioFirst) {
  SfuRoom room({});
  room.add_subscriber("s", {});
  EXPECT_TRUE(room.take_offers().empty());  // nothing to receive yet: no offer
  room.add_publisher("p1", {kVp8, kOpus});
  room.add_publisher("p2", {kOpus, kVp8});
  auto offers = room.take_offers();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].subscriber, "s");
  EXPECT_EQ(offers[0].session, 1u);
  EXPECT_TRUE(offers[0].rebuild);
  EXPECT_EQ(describe(offers[0].slots),
            "0:audio/OPUS=p1.0 1:audio/OPUS=p2.0 2:video/VP8=p1.1 3:video/VP8=p2.1");
  EXPECT_EQ(room.in_flight("s"), offers[0].negotiation);
  EXPECT_TRUE(room.take_offers().empty());  // in flight: nothing more
  EXPECT_TRUE(room.negotiation_done("s", offers[0].negotiation, true));
  EXPECT_EQ(room.in_flight("s"), std::nullopt);
  EXPECT_TRUE(room.take_offers().empty());  // nothing changed
  EXPECT_EQ(describe(room.slots("s")), describe(offers[0].slots));
}

TEST(SfuRoom, NeverOwnTracks) {
  SfuRoom room({});
  room.add_publisher("a", {kOpus, kVp8});
  room.add_subscriber("a", {});
  EXPECT_TRUE(room.take_offers().empty());
  room.add_publisher("b", {kOpus});
  room.add_subscriber("b", {});
  auto offers = offer_and_answer(room);
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[0].subscriber, "a");
  EXPECT_EQ(describe(offers[0].slots), "0:audio/OPUS=b.0");
  EXPECT_EQ(offers[1].subscriber, "b");
  EXPECT_EQ(describe(offers[1].slots), "0:audio/OPUS=a.0 1:video/VP8=a.1");
}

TEST(SfuRoom, ChangesDuringANegotiationMakeOneOfferAfterIt) {
  SfuRoom room({});
  room.add_subscriber("s", {});
  room.add_publisher("p1", {kOpus});
  auto first = room.take_offers();
  ASSERT_EQ(first.size(), 1u);
  // Two changes while the offer is out.
  room.add_publisher("p2", {kOpus});
  room.add_publisher("p3", {kVp8});
  EXPECT_TRUE(room.take_offers().empty());
  EXPECT_TRUE(room.negotiation_done("s", first[0].negotiation, true));
  auto second = room.take_offers();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GT(second[0].negotiation, first[0].negotiation);
  EXPECT_EQ(second[0].session, 1u);
  EXPECT_FALSE(second[0].rebuild);
  EXPECT_EQ(describe(second[0].slots), "0:audio/OPUS=p1.0 1:audio/OPUS=p2.0 2:video/VP8=p3.1");
  // A change that is undone before the answer needs no offer at all.
  room.add_publisher("p4", {kOpus});
  room.remove_publisher("p4");
  EXPECT_TRUE(room.negotiation_done("s", second[0].negotiation, true));
  EXPECT_TRUE(room.take_offers().empty());
}

TEST(SfuRoom, StaleOrUnknownNegotiations) {
  SfuRoom room({});
  room.add_subscriber("s", {});
  room.add_publisher("p", {kOpus});
  auto offers = room.take_offers();
  ASSERT_EQ(offers.size(), 1u);
  uint64_t n = offers[0].negotiation;
  EXPECT_FALSE(room.negotiation_done("s", n + 1, true));
  EXPECT_FALSE(room.negotiation_done("nobody", n, true));
  EXPECT_EQ(room.in_flight("s"), n);
  EXPECT_TRUE(room.negotiation_done("s", n, true));
  EXPECT_FALSE(room.negotiation_done("s", n, true));  // twice
}

TEST(SfuRoom, LeaveMakesSlotsInactiveAndJoinReusesThem) {
  SfuRoom room({});
  room.add_subscriber("s", {});
  room.add_publisher("p1", {kOpus, kVp8});
  room.add_publisher("p2", {kOpus, kVp8});
  offer_and_answer(room);
  EXPECT_EQ(describe(room.slots("s")),
            "0:audio/OPUS=p1.0 1:audio/OPUS=p2.0 2:video/VP8=p1.1 3:video/VP8=p2.1");

  EXPECT_TRUE(room.remove_publisher("p1"));
  EXPECT_FALSE(room.remove_publisher("p1"));
  auto left = offer_and_answer(room);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_FALSE(left[0].rebuild);
  EXPECT_EQ(describe(left[0].slots),
            "0:audio/OPUS=- 1:audio/OPUS=p2.0 2:video/VP8=- 3:video/VP8=p2.1");

  // Same kind and codec: reuses the lowest inactive slots. H264 has none: a new m-line.
  room.add_publisher("p3", {kOpus, kH264});
  auto joined = offer_and_answer(room);
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].session, 1u);
  EXPECT_EQ(describe(joined[0].slots),
            "0:audio/OPUS=p3.0 1:audio/OPUS=p2.0 2:video/VP8=- 3:video/VP8=p2.1 "
            "4:video/H264=p3.1");
}

TEST(SfuRoom, MlineCapRebuildsWithANewSession) {
  SfuRoom::Limits limits;
  limits.max_mlines = 3;
  SfuRoom room(limits);
  room.add_subscriber("s", {});
  room.add_publisher("p1", {kOpus});
  room.add_publisher("p2", {kOpus, kVp8});
  offer_and_answer(room);
  EXPECT_EQ(describe(room.slots("s")), "0:audio/OPUS=p1.0 1:audio/OPUS=p2.0 2:video/VP8=p2.1");
  room.remove_publisher("p1");
  offer_and_answer(room);
  // An H264 track has no inactive slot to reuse and a 4th m-line passes the cap.
  room.add_publisher("p3", {kH264});
  auto offers = offer_and_answer(room);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_TRUE(offers[0].rebuild);
  EXPECT_EQ(offers[0].session, 2u);
  EXPECT_EQ(describe(offers[0].slots), "0:audio/OPUS=p2.0 1:video/VP8=p2.1 2:video/H264=p3.1");
  // After the rebuild, slots are reused and grown from there, in session 2.
  room.remove_publisher("p3");
  auto next = offer_and_answer(room);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(next[0].rebuild);
  EXPECT_EQ(next[0].session, 2u);
  EXPECT_GT(next[0].negotiation, offers[0].negotiation);
}

TEST(SfuRoom, MoreTracksThanTheCapCarriesTheFirstOnes) {
  SfuRoom::Limits limits;
  limits.max_mlines = 2;
  SfuRoom room(limits);
  room.add_subscriber("s", {});
  room.add_publisher("p1", {kVp8});
  room.add_publisher("p2", {kOpus, kVp8});
  auto offers = offer_and_answer(room);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(describe(offers[0].slots), "0:audio/OPUS=p2.0 1:video/VP8=p1.1");
  EXPECT_TRUE(room.take_offers().empty());  // stable: no offer loop
  room.remove_publisher("p1");              // p2's video takes the freed slot
  auto next = offer_and_answer(room);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(describe(next[0].slots), "0:audio/OPUS=p2.0 1:video/VP8=p2.1");
}

TEST(SfuRoom, FailedNegotiationGoesBackAndOffersAgain) {
  SfuRoom room({});
  room.add_subscriber("s", {});
  room.add_publisher("p1", {kOpus});
  offer_and_answer(room);
  room.add_publisher("p2", {kVp8});
  auto offers = room.take_offers();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(describe(room.slots("s")), "0:audio/OPUS=p1.0 1:video/VP8=p2.1");
  // The old connection is given up (1.22's webrtcbin refuses some
  // renegotiations for good): the retry is a rebuild with every wanted track.
  EXPECT_TRUE(room.negotiation_done("s", offers[0].negotiation, false));
  EXPECT_EQ(describe(room.slots("s")), "");
  auto retry = room.take_offers();
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_TRUE(retry[0].rebuild);
  EXPECT_EQ(retry[0].session, offers[0].session + 1);
  EXPECT_GT(retry[0].negotiation, offers[0].negotiation);
  EXPECT_EQ(describe(retry[0].slots), "0:audio/OPUS=p1.0 1:video/VP8=p2.1");

  // A failed first offer leaves no connection: the retry is a rebuild again.
  room.add_subscriber("t", {});
  EXPECT_TRUE(room.negotiation_done("s", retry[0].negotiation, true));
  auto first = room.take_offers();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].subscriber, "t");
  EXPECT_TRUE(room.negotiation_done("t", first[0].negotiation, false));
  EXPECT_TRUE(room.slots("t").empty());
  auto again = room.take_offers();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].rebuild);
  EXPECT_EQ(again[0].session, 2u);
}

TEST(SfuRoom, ANewSubscriberDoesNotDisturbOthers) {
  SfuRoom room({});
  room.add_publisher("p", {kOpus});
  room.add_subscriber("s1", {});
  auto first = room.take_offers();
  ASSERT_EQ(first.size(), 1u);
  room.add_subscriber("s2", {});
  auto second = room.take_offers();  // s1 still in flight
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].subscriber, "s2");
  EXPECT_NE(second[0].negotiation, first[0].negotiation);  // ids are never shared
  EXPECT_EQ(room.subscribers(), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_TRUE(room.remove_subscriber("s1"));
  EXPECT_FALSE(room.remove_subscriber("s1"));
  EXPECT_FALSE(room.negotiation_done("s1", first[0].negotiation, true));
  EXPECT_EQ(room.in_flight("s1"), std::nullopt);
  EXPECT_TRUE(room.slots("s1").empty());
  // Subscribing again starts a new connection.
  room.add_subscriber("s1", {});
  auto again = room.take_offers();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].rebuild);
  EXPECT_GT(again[0].negotiation, second[0].negotiation);
}

TEST(SfuRoom, CodecsFilterAndMismatchesAreReportedOnce) {
  SfuRoom room({});
  room.add_subscriber("s", {"vp8", "opus", "VP8"});
  room.add_publisher("p1", {kOpus, kH264});
  auto offers = offer_and_answer(room);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(describe(offers[0].slots), "0:audio/OPUS=p1.0");
  auto mismatches = room.take_mismatches();
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_EQ(mismatches[0], (SfuMismatch{"s", "p1", "1", "H264", {"VP8", "OPUS"}}));
  EXPECT_TRUE(room.take_mismatches().empty());
  // Gone and back: reported again. Own tracks are never a mismatch.
  room.remove_publisher("p1");
  room.add_publisher("p1", {{"v", "video", "h264"}});
  room.add_publisher("s", {kH264});
  mismatches = room.take_mismatches();
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_EQ(mismatches[0].track, "v");
  EXPECT_EQ(mismatches[0].codec, "H264");
  // Empty codecs: everything.
  room.add_subscriber("all", {});
  EXPECT_TRUE(room.take_mismatches().empty());
}

TEST(SfuRoom, LimitsAndErrors) {
  SfuRoom::Limits limits;
  limits.max_publishers = 1;
  limits.max_subscribers = 1;
  SfuRoom room(limits);
  room.add_publisher("p", {kOpus});
  EXPECT_EQ(error_code([&] { room.add_publisher("p", {kOpus}); }), rpc::kDuplicatePeer);
  try {
    room.add_publisher("q", {kOpus});
    ADD_FAILURE() << "over max_publishers";
  } catch (const SfuError& e) {
    EXPECT_EQ(e.code, rpc::kRoomFull);
    EXPECT_EQ(e.data.dump(), R"({"limit":1})");
  }
  room.add_subscriber("s", {});
  EXPECT_EQ(error_code([&] { room.add_subscriber("s", {}); }), rpc::kDuplicatePeer);
  EXPECT_EQ(error_code([&] { room.add_subscriber("t", {}); }), rpc::kRoomFull);
  // A freed place can be taken.
  room.remove_publisher("p");
  EXPECT_EQ(error_code([&] {
              room.add_publisher("q", {kOpus, {"0", "video", "VP8"}});
            }),
            rpc::kInvalidParams);  // two tracks "0"
  room.add_publisher("q", {kOpus});
  EXPECT_EQ(room.publishers().size(), 1u);
  EXPECT_EQ(room.publisher("q")->tracks, std::vector<SfuTrack>{kOpus});
  EXPECT_FALSE(room.empty());
  room.remove_publisher("q");
  room.remove_subscriber("s");
  EXPECT_TRUE(room.empty());
}

// --- SfuPlayers: the slot choice of WHEP players ---

const PlayerMline kAudioM{"audio", {"OPUS"}};
const PlayerMline kVideoM{"video", {"VP8", "H264"}};

std::string describe_fills(const std::vector<SfuPlayers::Fill>& fills) {
  std::string out;
  for (const auto& f : fills) {
    if (!out.empty()) out += ' ';
    out += f.player + '#' + std::to_string(f.slot) + '=' + f.publisher + '.' + f.track;
  }
  return out;
}

TEST(SfuPlayers, EachMlineGetsTheFirstTrackOfItsKindThatItReceives) {
  SfuPlayers players;
  const std::vector<SfuPublisher> publishers = {{"a", {kOpus, kH264}}, {"b", {kOpus, kVp8}}};
  auto slots = players.add("w", "r", "", {kVideoM, kAudioM, kVideoM, kAudioM, kVideoM, kAudioM},
                           publishers);
  // Publishers in the order given, each track once; a third video m-line has
  // no track left: its first codec, empty, filled later.
  EXPECT_EQ(describe(slots),
            "0:video/H264=a.1 1:audio/OPUS=a.0 2:video/VP8=b.1 3:audio/OPUS=b.0 "
            "4:video/VP8=- 5:audio/OPUS=-");
  EXPECT_EQ(describe(players.slots("w")), describe(slots));
}

// An MCU room's output (one_per_kind): the composite in VP8 and in H.264 is
// one picture; a player gets the first it receives, never both, also later.
TEST(SfuPlayers, OnePerKindGivesOnlyTheFirstTrackOfEachKind) {
  SfuPlayers players;
  const std::vector<SfuPublisher> mcu = {
      {"mcu", {{"v0", "video", "VP8"}, {"v1", "video", "H264"}, {"a0", "audio", "OPUS"}}}};
  auto slots = players.add("w", "r", "", {kVideoM, kAudioM, kVideoM, kAudioM}, mcu, true);
  EXPECT_EQ(describe(slots),
            "0:video/VP8=mcu.v0 1:audio/OPUS=mcu.a0 2:video/VP8=- 3:audio/OPUS=-");
  EXPECT_TRUE(players.fill("r", mcu).empty());
  auto h264 = players.add("x", "r", "", {{"video", {"H264"}}, kVideoM}, mcu, true);
  EXPECT_EQ(describe(h264), "0:video/H264=mcu.v1 1:video/VP8=-");
  // Without it, the second video m-line takes the other codec's track.
  EXPECT_EQ(describe(players.add("y", "r", "", {kVideoM, kVideoM}, mcu)),
            "0:video/VP8=mcu.v0 1:video/H264=mcu.v1");
}

TEST(SfuPlayers, AnMlineWithoutOurCodecsGetsNoSlot) {
  SfuPlayers players;
  auto slots = players.add("w", "r", "",
                           {{"application", {}}, {"video", {}}, {"video", {"VP9"}}, kAudioM},
                           {{"a", {kOpus, kVp8}}});
  // m-line 2 only receives VP9: no VP8 track for it, an empty VP9 slot.
  EXPECT_EQ(describe(slots), "2:video/VP9=- 3:audio/OPUS=a.0");
  try {
    players.add("x", "r", "", {{"video", {}}, {"application", {"VP8"}}}, {{"a", {kVp8}}});
    ADD_FAILURE() << "an offer without one of our codecs";
  } catch (const SfuError& e) {
    EXPECT_EQ(e.code, rpc::kNoCommonCodec);
    EXPECT_STREQ(e.what(), "the offer receives no codec we forward");
  }
  EXPECT_TRUE(players.slots("x").empty());  // not kept
}

TEST(SfuPlayers, PlayerOfOnePublisherGetsOnlyItsTracks) {
  SfuPlayers players;
  const std::vector<SfuPublisher> publishers = {{"a", {kOpus, kVp8}}, {"b", {kOpus, kVp8}}};
  auto slots = players.add("w", "r", "b", {kVideoM, kAudioM, kVideoM}, publishers);
  EXPECT_EQ(describe(slots), "0:video/VP8=b.1 1:audio/OPUS=b.0 2:video/VP8=-");
  // Its empty slot stays empty when publishers come (answered inactive).
  EXPECT_TRUE(players.fill("r", {{"a", {kOpus, kVp8}}, {"b", {kOpus, kVp8}}, {"c", {kVp8}}})
                  .empty());
  EXPECT_EQ(describe(players.slots("w")), describe(slots));
  // None of the publisher's codecs: refused.
  try {
    players.add("x", "r", "b", {{"video", {"H264"}}}, publishers);
    ADD_FAILURE() << "a player of b that takes none of its codecs";
  } catch (const SfuError& e) {
    EXPECT_EQ(e.code, rpc::kNoCommonCodec);
    EXPECT_STREQ(e.what(), "the offer takes none of publisher 'b''s codecs");
  }
}

TEST(SfuPlayers, RoomPlayersEmptySlotsAreFilledAsPublishersComeAndGo) {
  SfuPlayers players;
  EXPECT_EQ(describe(players.add("w", "r", "", {kVideoM, kAudioM, kVideoM}, {})),
            "0:video/VP8=- 1:audio/OPUS=- 2:video/VP8=-");
  players.add("other-room", "s", "", {kVideoM}, {});
  // A publisher of another codec fills nothing; one in the slots' codec fills
  // the first empty slot of each kind, never a track twice.
  EXPECT_TRUE(players.fill("r", {{"h", {kH264}}}).empty());
  EXPECT_EQ(describe_fills(players.fill("r", {{"h", {kH264}}, {"a", {kOpus, kVp8}}})),
            "w#0=a.1 w#1=a.0");
  EXPECT_EQ(describe_fills(players.fill("r", {{"h", {kH264}}, {"a", {kOpus, kVp8}}})), "");
  EXPECT_EQ(describe_fills(
                players.fill("r", {{"a", {kOpus, kVp8}}, {"b", {kVp8}}, {"c", {kVp8}}})),
            "w#2=b.1");
  EXPECT_EQ(describe(players.slots("w")), "0:video/VP8=a.1 1:audio/OPUS=a.0 2:video/VP8=b.1");
  EXPECT_EQ(describe(players.slots("other-room")), "0:video/VP8=-");
  // a leaves: its slots are empty, then take what is left. A player of a
  // alone is returned (its stream is over); room players are not.
  players.add("of-a", "r", "a", {kVideoM}, {{"a", {kOpus, kVp8}}});
  EXPECT_EQ(players.publisher_left("r", "a"), std::vector<std::string>{"of-a"});
  EXPECT_EQ(describe(players.slots("of-a")), "0:video/VP8=-");
  players.remove("of-a");
  EXPECT_EQ(describe(players.slots("w")), "0:video/VP8=- 1:audio/OPUS=- 2:video/VP8=b.1");
  EXPECT_EQ(describe_fills(players.fill("r", {{"b", {kVp8}}, {"c", {kVp8}}})), "w#0=c.1");
  players.remove("w");
  EXPECT_TRUE(players.slots("w").empty());
  EXPECT_TRUE(players.fill("r", {{"d", {kOpus}}}).empty());
  players.remove("other-room");
  EXPECT_TRUE(players.empty());
}

}  // namespace
}  // namespace rtcmesh::sig
