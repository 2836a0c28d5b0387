#include "signaling/http/dtls_fingerprint.h"

#include <gst/sdp/sdp.h>

#include <cctype>
#include <memory>
#include <optional>

#include "signaling/http/sdp.h"
#include "signaling/util.h"

namespace rtcmesh::sig {

namespace {

std::optional<GChecksumType> checksum_type(const std::string& algorithm) {
  if (algorithm == "sha-1") return G_CHECKSUM_SHA1;
  if (algorithm == "sha-256") return G_CHECKSUM_SHA256;
  if (algorithm == "sha-384") return G_CHECKSUM_SHA384;
  if (algorithm == "sha-512") return G_CHECKSUM_SHA512;
  return std::nullopt;
}

// "sha-256 AB:CD:..." → {sha-256, bytes}; throws SdpError.
DtlsFingerprint parse(std::string_view value) {
  auto fields = split_ws(value);
  if (fields.size() != 2) throw SdpError("malformed a=fingerprint: '" + std::string(value) + "'");
  DtlsFingerprint fp{to_lower(fields[0]), {}};
  std::string_view hex = fields[1];
  for (size_t i = 0; i < hex.size(); i += 3) {
    if (i + 2 > hex.size() || !std::isxdigit(static_cast<unsigned char>(hex[i])) ||
        !std::isxdigit(static_cast<unsigned char>(hex[i + 1])) ||
        (i + 2 < hex.size() && hex[i + 2] != ':'))
      throw SdpError("malformed a=fingerprint: '" + std::string(value) + "'");
    fp.digest += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  if (fp.digest.empty()) throw SdpError("malformed a=fingerprint: '" + std::string(value) + "'");
  return fp;
}

template <typename Get>
std::vector<DtlsFingerprint> fingerprints(guint count, Get get) {
  std::vector<DtlsFingerprint> out;
  for (guint i = 0; i < count; ++i) {
    const GstSDPAttribute* a = get(i);
    if (a->key && std::string_view(a->key) == "fingerprint")
      out.push_back(parse(a->value ? a->value : ""));
  }
  return out;
}

// The DER bytes of the first certificate in a PEM text.
std::string der_of(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----", kEnd = "-----END CERTIFICATE-----";
  auto begin = pem.find(kBegin), end = pem.find(kEnd);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) return {};
  std::string base64(pem.substr(begin + kBegin.size(), end - begin - kBegin.size()));
  gsize len = 0;
  guchar* der = g_base64_decode(base64.c_str(), &len);
  std::string out(reinterpret_cast<const char*>(der), len);
  g_free(der);
  return out;
}

}  // namespace

std::vector<std::vector<DtlsFingerprint>> dtls_fingerprints(std::string_view sdp) {
  GstSDPMessage* raw = nullptr;
  gst_sdp_message_new(&raw);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> msg(raw, gst_sdp_message_free);
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(sdp.data()),
                                   static_cast<guint>(sdp.size()), raw) != GST_SDP_OK ||
      gst_sdp_message_medias_len(raw) == 0)
    throw SdpError("SDP could not be parsed");
  auto session = fingerprints(gst_sdp_message_attributes_len(raw),
                              [&](guint i) { return gst_sdp_message_get_attribute(raw, i); });
  std::vector<std::vector<DtlsFingerprint>> sections;
  for (guint m = 0; m < gst_sdp_message_medias_len(raw); ++m) {
    const GstSDPMedia* media = gst_sdp_message_get_media(raw, m);
    auto own = fingerprints(gst_sdp_media_attributes_len(media),
                            [&](guint i) { return gst_sdp_media_get_attribute(media, i); });
    bool disabled = gst_sdp_media_get_port(media) == 0 &&
                    !gst_sdp_media_get_attribute_val(media, "bundle-only");
    if (disabled) continue;
    if (own.empty()) own = session;
    if (own.empty())
      throw SdpError("m-line " + std::to_string(m) + ": missing a=fingerprint (DTLS is required)");
    sections.push_back(std::move(own));
  }
  if (sections.empty()) throw SdpError("no m-line carries a transport");
  return sections;
}

DtlsFingerprint fingerprint_of(std::string_view pem, const std::string& algorithm) {
  DtlsFingerprint fp{algorithm, {}};
  auto type = checksum_type(algorithm);
  std::string der = der_of(pem);
  if (!type || der.empty()) return fp;
  GChecksum* sum = g_checksum_new(*type);
  g_checksum_update(sum, reinterpret_cast<const guchar*>(der.data()), der.size());
  guint8 digest[64];
  gsize len = sizeof digest;
  g_checksum_get_digest(sum, digest, &len);
  g_checksum_free(sum);
  fp.digest.assign(reinterpret_cast<const char*>(digest), len);
  return fp;
}

bool certificate_matches(std::string_view pem,
                         const std::vector<std::vector<DtlsFingerprint>>& sections,
                         std::string* why) {
  auto refuse = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  if (der_of(pem).empty()) return refuse("the remote certificate could not be read");
  if (sections.empty()) return refuse("the remote description declares no fingerprint");
  for (const auto& declared : sections) {
    bool known = false, matched = false;
    for (const auto& fp : declared) {
      if (!checksum_type(fp.algorithm)) continue;
      known = true;
      matched |= fingerprint_of(pem, fp.algorithm).digest == fp.digest;
    }
    if (!known) return refuse("no a=fingerprint in an algorithm we know (" +
                              to_string(declared.front()) + ")");
    if (!matched)
      return refuse("the certificate (" + to_string(fingerprint_of(pem, "sha-256")) +
                    ") does not match a=fingerprint " + to_string(declared.front()));
  }
  return true;
}

std::string to_string(const DtlsFingerprint& fp) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = fp.algorithm + " ";
  for (size_t i = 0; i < fp.digest.size(); ++i) {
    auto b = static_cast<unsigned char>(fp.digest[i]);
    if (i) out += ':';
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace rtcmesh::sig
