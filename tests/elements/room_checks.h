// Checks shared by the room tests (mesh_test, sfu_client_test): who decodes
// whom, and a description of it for failure messages.
#pragma once

#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace rtcmesh::test {

// Every participant got at least `frames` video frames and some audio from
// every other one.
inline bool everyone_sees_everyone(const std::vector<RoomParticipant*>& room,
                                   const std::vector<std::string>& ids, int frames) {
  for (size_t i = 0; i < room.size(); i++)
    for (size_t j = 0; j < room.size(); j++)
      if (i != j && (room[i]->frames_from(ids[j]) < frames || room[i]->samples_from(ids[j]) == 0))
        return false;
  return true;
}

// "a got: b=12f/4800s c=0f/0s" per participant, with its errors and warnings.
inline std::string describe(const std::vector<RoomParticipant*>& room,
                            const std::vector<std::string>& ids) {
  std::string out;
  for (size_t i = 0; i < room.size(); i++) {
    out += ids[i] + " got:";
    for (size_t j = 0; j < room.size(); j++)
      if (i != j)
        out += " " + ids[j] + "=" + std::to_string(room[i]->frames_from(ids[j])) + "f/" +
               std::to_string(room[i]->samples_from(ids[j])) + "s";
    for (auto& e : room[i]->pipeline().errors()) out += "\n  error: " + e;
    for (auto& w : room[i]->pipeline().warnings()) out += "\n  warning: " + w;
    out += "\n";
  }
  return out;
}

// The "tiles" of an rtcmeshbin's stats (compose=true).
inline guint composed_tiles(GstElement* meshbin) {
  GstStructure* s = nullptr;
  g_object_get(meshbin, "stats", &s, nullptr);
  guint n = 0;
  if (s) gst_structure_get_uint(s, "tiles", &n);
  if (s) gst_structure_free(s);
  return n;
}

}  // namespace rtcmesh::test
