// Checks shared by the room tests (mesh_test, sfu_client_test, sfu_room_test):
// who decodes whom, a description of it for failure messages, an
// rtcmeshbin's track pads and publisher-left signals.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gst/common/track_pad.h"
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
  return guint(stats_counter(meshbin, "tiles"));
}

// (name, peer-id) of every track pad the element has now.
inline std::vector<std::pair<std::string, std::string>> track_pads(GstElement* bin) {
  std::vector<std::pair<std::string, std::string>> out;
  GstIterator* it = gst_element_iterate_src_pads(bin);
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* pad = GST_PAD(g_value_get_object(&item));
    if (RTC_IS_TRACK_PAD(pad)) {
      gchar* id = nullptr;
      g_object_get(pad, "peer-id", &id, nullptr);
      out.emplace_back(GST_PAD_NAME(pad), id ? id : "");
      g_free(id);
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return out;
}

inline std::multiset<std::string> pad_peers(GstElement* bin) {
  std::multiset<std::string> out;
  for (auto& [name, peer] : track_pads(bin)) out.insert(peer);
  return out;
}

inline std::set<std::string> pad_names(GstElement* bin, const std::string& peer) {
  std::set<std::string> out;
  for (auto& [name, id] : track_pads(bin))
    if (id == peer) out.insert(name);
  return out;
}

// Counts an rtcmeshbin's publisher-left signals for one publisher, and
// notes when the first came. It must outlive the element's pipeline.
struct LeftCounter {
  std::string peer;
  std::atomic<int> count{0};
  std::atomic<gint64> first_us{0};  // g_get_monotonic_time()
  void watch(GstElement* bin) {
    g_signal_connect(bin, "publisher-left", G_CALLBACK(+[](GstElement*, gchar* id, gpointer d) {
                       auto* self = static_cast<LeftCounter*>(d);
                       if (self->peer != id) return;
                       gint64 none = 0;
                       self->first_us.compare_exchange_strong(none, g_get_monotonic_time());
                       ++self->count;
                     }),
                     this);
  }
};

// What an rtcmeshbin's data-received signal delivered.
// One buffer holding `data` into an appsrc (a data_%u pad's feeder).
inline void push_buffer(GstElement* appsrc, const std::string& data) {
  GstFlowReturn ret = GST_FLOW_OK;
  GstBuffer* buffer = gst_buffer_new_memdup(data.data(), data.size());
  g_signal_emit_by_name(appsrc, "push-buffer", buffer, &ret);
  gst_buffer_unref(buffer);  // push-buffer took its own reference
}

struct DataLog {
  struct Message {
    std::string from, label, data;
    bool text;
  };
  std::mutex mutex;
  std::vector<Message> messages;
  void watch(GstElement* bin) {
    g_signal_connect(bin, "data-received",
                     G_CALLBACK(+[](GstElement*, gchar* from, gchar* label, GBytes* bytes,
                                    gboolean text, gpointer d) {
                       auto* self = static_cast<DataLog*>(d);
                       gsize size = 0;
                       auto* data = static_cast<const char*>(g_bytes_get_data(bytes, &size));
                       std::lock_guard lock(self->mutex);
                       self->messages.push_back({from, label, std::string(data, size), bool(text)});
                     }),
                     this);
  }
  // What a data_src pad gives, at a `fakesink signal-handoffs=true` behind it:
  // the sender and label from the buffer's RtcmeshData meta, text from caps.
  void watch_data_src(GstElement* fakesink) {
    g_signal_connect(fakesink, "handoff", G_CALLBACK(&DataLog::on_data_src_buffer), this);
  }
  static void on_data_src_buffer(GstElement*, GstBuffer* buffer, GstPad* pad, gpointer d) {
    auto* self = static_cast<DataLog*>(d);
    Message m{"(no meta)", "", "", false};
    if (GstCustomMeta* meta = gst_buffer_get_custom_meta(buffer, "RtcmeshData")) {
      GstStructure* s = gst_custom_meta_get_structure(meta);
      m.from = gst_structure_get_string(s, "from");
      m.label = gst_structure_get_string(s, "label");
    }
    if (GstCaps* caps = gst_pad_get_current_caps(pad)) {
      m.text = gst_structure_has_name(gst_caps_get_structure(caps, 0), "text/x-raw");
      gst_caps_unref(caps);
    }
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      m.data.assign(reinterpret_cast<const char*>(map.data), map.size);
      gst_buffer_unmap(buffer, &map);
    }
    std::lock_guard lock(self->mutex);
    self->messages.push_back(std::move(m));
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
  std::vector<Message> from(const std::string& peer, const std::string& label) {
    std::lock_guard lock(mutex);
    std::vector<Message> out;
    for (auto& m : messages)
      if (m.from == peer && m.label == label) out.push_back(m);
    return out;
  }
  // "" when `peer`'s messages on `label` are the texts "<prefix>0" …
  // "<prefix>(n-1)", in that order; else the first difference.
  std::string numbered_mismatch(const std::string& peer, const std::string& label,
                                const std::string& prefix, int n) {
    auto got = from(peer, label);
    if (got.size() != size_t(n))
      return std::to_string(got.size()) + " messages, not " + std::to_string(n);
    for (int i = 0; i < n; i++)
      if (!got[i].text || got[i].data != prefix + std::to_string(i))
        return "message " + std::to_string(i) + " is '" + got[i].data + "'";
    return "";
  }
};

// An element's send-string action: whether it took the message.
inline gboolean send_string(GstElement* element, const char* to, const std::string& text,
                            bool reliable) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(element, "send-string", to, text.c_str(), gboolean(reliable), &ok);
  return ok;
}

// An element's send-data action with `bytes`.
inline gboolean send_bytes(GstElement* element, const char* to, const std::string& bytes,
                           bool reliable) {
  GBytes* b = g_bytes_new(bytes.data(), bytes.size());
  gboolean ok = FALSE;
  g_signal_emit_by_name(element, "send-data", to, b, gboolean(reliable), &ok);
  g_bytes_unref(b);
  return ok;
}

// Participants `a` and `b` (rtcmeshbin) of one room, whose data-received
// a_got and b_got watch: b sends a text to everyone and bytes to a, a sends a
// text to b; each must get the other's on "rtcmesh" with the right sender,
// text as text and bytes as bytes. "" when so, else what went wrong.
inline std::string exchange_text_and_bytes(GstElement* a, const std::string& a_id, DataLog& a_got,
                                           GstElement* b, const std::string& b_id,
                                           DataLog& b_got) {
  const std::string bytes = {'\0', '\x01', '\n', '\xff'};
  if (!send_string(b, nullptr, "hello from " + b_id, true) ||
      !send_bytes(b, a_id.c_str(), bytes, true) ||
      !send_string(a, b_id.c_str(), "hello from " + a_id, true))
    return "a send-* refused its message";
  if (!wait_until([&] { return a_got.from(b_id, "rtcmesh").size() >= 2; }, 10s))
    return a_id + " got " + std::to_string(a_got.from(b_id, "rtcmesh").size()) + " of 2 from " + b_id;
  auto got = a_got.from(b_id, "rtcmesh");
  if (got.size() != 2) return a_id + " got " + std::to_string(got.size()) + " from " + b_id;
  if (got[0].data != "hello from " + b_id || !got[0].text) return "the text to everyone: " + got[0].data;
  if (got[1].data != bytes || got[1].text) return "the bytes came as " + got[1].data;
  if (!wait_until([&] { return !b_got.from(a_id, "rtcmesh").empty(); }, 10s))
    return b_id + " got nothing from " + a_id;
  if (b_got.from(a_id, "rtcmesh")[0].data != "hello from " + a_id)
    return b_id + " got " + b_got.from(a_id, "rtcmesh")[0].data;
  return "";
}

}  // namespace rtcmesh::test
