// Shorthands for installing documented properties, and the ICE properties
// every connection-making element shares (stun-server, turn-servers, ...).
#pragma once

#include <glib-object.h>

#include <string>
#include <vector>

#include "gst/common/ice_settings.h"
#include "signaling/address_limits.h"
#include "signaling/http/ice_servers.h"

namespace rtcmesh {

// Readable, writable, settable in NULL/READY only unless `playing` is true.
GParamFlags rw_flags(bool playing = false);
GParamFlags ro_flags();

void install_string(GObjectClass* klass, guint id, const char* name, const char* blurb,
                    const char* def = nullptr);
void install_uint(GObjectClass* klass, guint id, const char* name, const char* blurb, guint min,
                  guint max, guint def);
void install_bool(GObjectClass* klass, guint id, const char* name, const char* blurb,
                  gboolean def);

// `eos-on-leave` of the ingesting elements (rtcwhipsrc, rtcsfu): whether a
// leaving publisher's src pads get EOS and go (true) or stay for the next
// session of its name (false, the default; docs/architecture.md).
void install_eos_on_leave(GObjectClass* klass, guint id);

// A new param spec with `spec`'s name, nick, blurb, type, range, default and
// flags, for a bin that forwards a child's property (rtcmcu over rtcsfu).
// Null for a value type it does not copy (uint, int, uint64, double,
// boolean, string, enum, boxed are copied).
GParamSpec* copy_param_spec(GParamSpec* spec);

// "a, b,c" → {"a","b","c"}
std::vector<std::string> split_list(const std::string& s);

// ICE properties: install with ids first..first+3 and route get/set by id.
struct IceProps {
  enum : guint { kStun = 0, kTurn, kPolicy, kLocalAddresses, kCount };
  std::string stun_server;
  std::string turn_servers;    // comma-separated turn(s):// URIs
  bool relay_only = false;
  std::string local_addresses; // comma-separated

  static void install(GObjectClass* klass, guint first);
  // Return true when `id` was one of ours.
  bool set(guint first, guint id, const GValue* value);
  bool get(guint first, guint id, GValue* value) const;
  IceSettings settings() const;
  // A server's connections: also gather on `bound_address` when it is one
  // address (not 0.0.0.0 or ::), and write `announced` into host candidates.
  IceSettings server_settings(const std::string& bound_address,
                              const std::vector<std::string>& announced = {}) const;
  // A client of `server_url`: when that server is on loopback (127.x, ::1,
  // localhost) and no ice-local-addresses are set, gather on loopback as well
  // as every interface. libnice skips loopback by default and pairs no
  // interface address with a loopback candidate, so an ICE-lite server
  // (engine=native) on 127.0.0.1 would never be checked. Called on element
  // workers: it uses libc only, no GLib type that another thread may be
  // initialising (elements.cpp).
  IceSettings client_settings(const std::string& server_url) const;
};

// Per-client-address limits of a serving element (sig::AddressLimits):
// rate-per-address, burst-per-address, max-sessions-per-address. Install
// with ids first..first+2 and route get/set by id.
struct AddressLimitProps {
  enum : guint { kRate = 0, kBurst, kMaxSessions, kCount };
  sig::AddressLimits::Config config;

  static void install(GObjectClass* klass, guint first);
  bool set(guint first, guint id, const GValue* value);
  bool get(guint first, guint id, GValue* value) const;
};

// The endpoint's advertised ICE servers (Link headers) become `ice`'s STUN
// and TURN servers when the user configured none.
void use_link_servers(IceSettings& ice, const std::vector<sig::IceServer>& servers);

}  // namespace rtcmesh
