// Small string and randomness helpers shared by the signaling code.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rtcmesh::sig {

// `bytes` bytes from the kernel CSPRNG as lower-case hex (resource ids must
// not be guessable: whoever knows one can PATCH or DELETE the session).
std::string random_hex(size_t bytes);

// Compares without an early exit so the time taken does not reveal how much
// of a secret matched.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// 's' for messages, cut after 64 bytes ('abc…'), never inside a UTF-8 sequence.
std::string quote_short(std::string_view s);
// At most `max` bytes of s, cut back to the start of a UTF-8 sequence, so
// valid UTF-8 stays valid (JSON text, WebSocket text frames).
std::string_view utf8_prefix(std::string_view s, size_t max);
bool starts_with_icase(std::string_view s, std::string_view prefix);

// Splits on LF, dropping a trailing CR from each line (accepts CRLF and LF).
std::vector<std::string_view> split_lines(std::string_view text);
// Splits on any run of spaces/tabs, dropping empty fields.
std::vector<std::string_view> split_ws(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);

// Parses a decimal unsigned number that must span the whole string.
bool parse_uint(std::string_view s, unsigned long long& out);

// The media type of a Content-Type value, lower-cased, parameters dropped.
std::string media_type(std::string_view content_type);

}  // namespace rtcmesh::sig
