#!/usr/bin/env bash
# Host an MCU room in a pipeline and record it: every publisher (WHIP
# /whip/<room>/<name>, or a participant's JSON-RPC publish) is decoded and
# composited into one grid picture and one audio mix, which WHEP players of
# /whep/<room> and JSON-RPC subscribers receive (encoded once) and which
# rtcmcu's always pads video_src / audio_src carry: here encoded into one
# Matroska file. -e finishes it on Ctrl-C. The README's one-liner:
#
#   gst-launch-1.0 -e rtcmcu name=mcu port=8443 room=demo width=640 height=360 framerate=15 \
#       mcu.video_src ! queue ! videoconvert ! vp8enc deadline=1 ! queue ! mux. \
#       mcu.audio_src ! queue ! audioconvert ! opusenc ! queue ! mux. \
#       matroskamux name=mux ! filesink location=room.mkv
#
# Publish with e.g. ENDPOINT=http://127.0.0.1:8443/whip/demo/alice whip-publish.sh,
# watch with ENDPOINT=http://127.0.0.1:8443/whep/demo whep-play.sh.
# Env: PORT (8443), ADDRESS (all interfaces), ROOM (demo), TOKEN (Bearer token;
#      empty = none), OUT (room.mkv), GST_PLUGIN_PATH (defaults to ./build of
#      this checkout). Extra arguments go to gst-launch-1.0 (e.g. -v).
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH

exec gst-launch-1.0 -e "$@" \
  rtcmcu name=mcu port="${PORT:-8443}" room="${ROOM:-demo}" width=640 height=360 framerate=15 \
    ${ADDRESS:+address="$ADDRESS"} ${TOKEN:+auth-token="$TOKEN"} \
  mcu.video_src ! queue ! videoconvert ! vp8enc deadline=1 ! queue ! mux. \
  mcu.audio_src ! queue ! audioconvert ! opusenc ! queue ! mux. \
  matroskamux name=mux ! filesink location="${OUT:-room.mkv}"
