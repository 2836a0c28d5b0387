#!/usr/bin/env python3
"""The layering rules of docs/architecture.md, checked on the source tree.

1. signaling/ knows nothing of gst/: no #include "gst/...".
2. gst/common/ is the bottom of gst/: it includes no other gst/ folder.
3. gst/peer/ is the only code that names webrtcbin, its children, its action
   signals and its transceivers (the names below are what gst/peer uses).
   Checked in gst/ and signaling/ (the libraries); tests and tools may drive
   webrtcbin directly to measure it.
4. gRPC stays in signaling/grpc/ (its own library, -Dgrpc): no other code in
   gst/ or signaling/ includes grpc++, protobuf or the generated proto/ headers,
   so the rest builds without them.
5. gst/engine/ (the native egress engine) has no GStreamer on its hot path
   and sits below the elements: it includes no GStreamer or GLib header and
   no gst/ folder but itself (signaling/ helpers are allowed).

Usage: layering_test.py SOURCE_ROOT. Exit status 1 on a violation.
"""
import pathlib
import re
import sys

# String literals that name webrtcbin, its children, their signals and
# properties (from gst/peer/peer.cpp).
WEBRTC_STRINGS = {
    "webrtcbin", "GstWebRTCBin", "rtpbin", "rtprtxsend", "rtpsession",
    "ice-agent", "add-turn-server", "add-local-ip-address",
    "create-offer", "create-answer", "set-local-description", "set-remote-description",
    "add-ice-candidate", "get-stats", "add-transceiver", "get-transceiver", "get-transceivers",
    "on-ice-candidate", "on-new-transceiver", "on-negotiation-needed",
    "request-jitterbuffer", "new-jitterbuffer", "on-ssrc-active",
    "transceiver", "do-nack", "codec-preferences",
}
# Identifiers: whoever holds a transceiver can read its mid or set its direction.
WEBRTC_IDENTIFIERS = re.compile(r"^(GstWebRTCRTPTransceiver|GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_\w+)$")

# Known violations in code that other work is moving (issue 10). Each entry is
# (file, name) and must still be needed: the integrator empties this list by
# switching these files to the Peer methods named here.
ALLOWED = set()  # (file, name) pairs a reviewed exception would go in

SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.M)
ENGINE_FORBIDDEN = re.compile(r'^(gst/|glib|gio/|glib-object|json-glib/|libsoup/|nice/|agent\.h)')

GRPC_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](grpc\+\+/|grpcpp/|grpc/|google/protobuf/|proto/)', re.M)

SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".c"}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
TOKEN = re.compile(
    r'''(?P<comment>//[^\n]*|/\*.*?\*/)'''
    r'''|(?P<raw>R"(?P<delim>[^(\s]{0,16})\((?P<rawbody>.*?)\)(?P=delim)")'''
    r'''|(?P<string>"(?:[^"\\\n]|\\.)*")'''
    r'''|(?P<char>'(?:[^'\\\n]|\\.)*')'''
    r'''|(?P<ident>[A-Za-z_]\w*)''',
    re.S)


def webrtc_names(text):
    """The webrtcbin names a source file uses, comments left out."""
    found = []
    for m in TOKEN.finditer(text):
        if m.group("string"):
            if m.group("string")[1:-1] in WEBRTC_STRINGS:
                found.append(m.group("string"))
        elif m.group("ident") and WEBRTC_IDENTIFIERS.match(m.group("ident")):
            found.append(m.group("ident"))
    return found


def sources(root, folder):
    base = root / folder
    return sorted(p for p in base.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file())


def check(root):
    problems = []
    used_allowances = set()
    for path in sources(root, "signaling"):
        for inc in INCLUDE.findall(path.read_text(errors="replace")):
            if inc.startswith("gst/"):
                problems.append(f"{path.relative_to(root)}: includes {inc} (signaling/ knows no gst/)")
    for path in sources(root, "gst/common"):
        for inc in INCLUDE.findall(path.read_text(errors="replace")):
            if inc.startswith("gst/") and not inc.startswith("gst/common/"):
                problems.append(f"{path.relative_to(root)}: includes {inc} (gst/common/ is the bottom)")
    for path in sources(root, "gst/engine"):
        text = path.read_text(errors="replace")
        rel = path.relative_to(root).as_posix()
        for inc in INCLUDE.findall(text):
            if inc.startswith("gst/") and not inc.startswith("gst/engine/"):
                problems.append(f"{rel}: includes {inc} (gst/engine/ is below the elements)")
        for inc in SYSTEM_INCLUDE.findall(text):
            if ENGINE_FORBIDDEN.match(inc):
                problems.append(f"{rel}: includes <{inc}> (no GStreamer/GLib in gst/engine/)")
    for path in sources(root, "gst") + sources(root, "signaling"):
        rel = path.relative_to(root).as_posix()
        peer_file = rel.startswith("gst/peer/")
        for name in sorted(set(webrtc_names(path.read_text(errors="replace")))):
            if (rel, name) in ALLOWED:
                used_allowances.add((rel, name))
            elif not peer_file:
                problems.append(f"{rel}: names {name} (only gst/peer/ may: add a Peer method)")
    for path in sources(root, "gst") + sources(root, "signaling"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("signaling/grpc/"):
            continue
        for m in GRPC_INCLUDE.finditer(path.read_text(errors="replace")):
            problems.append(f"{rel}: includes {m.group(1)}… (gRPC stays in signaling/grpc/)")
    for rel, name in sorted(ALLOWED - used_allowances):
        problems.append(f"layering_test.py: ALLOWED ({rel}, {name}) is no longer needed: remove it")
    return problems


def self_test():
    """The checks do catch what they are meant to catch."""
    sample = '// "rtpbin" in a comment\nauto s = "http://x"; /* "get-stats" */\n' \
             'g_object_get(t, "transceiver", &x); GstWebRTCRTPTransceiver* y;\n' \
             'const char* r = R"(rtpbin)"; log("has no rtpbin child");\n'
    assert webrtc_names(sample) == ['"transceiver"', "GstWebRTCRTPTransceiver"], webrtc_names(sample)
    grpc_sample = '#include <grpcpp/grpcpp.h>\n#include "proto/rtcmesh/v1/signaling.pb.h"\n#include "signaling/json.h"\n'
    assert [m.group(1) for m in GRPC_INCLUDE.finditer(grpc_sample)] == ["grpcpp/", "proto/"]
    engine_sample = '#include <gst/gst.h>\n#include <glib.h>\n#include <openssl/ssl.h>\n#include <srtp2/srtp.h>\n'
    assert [i for i in SYSTEM_INCLUDE.findall(engine_sample) if ENGINE_FORBIDDEN.match(i)] == ["gst/gst.h", "glib.h"]


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    self_test()
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering violation(s); see docs/architecture.md, Layering")
        return 1
    print("layering: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
