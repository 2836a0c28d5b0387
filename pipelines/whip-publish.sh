#!/usr/bin/env bash
# Publish a pipeline (test pattern + tone) to any WHIP server: rtcwhipsrc,
# a media server, a WHIP service.
#
#   gst-launch-1.0 rtcwhipsink name=p endpoint=http://127.0.0.1:8080/whip/room1 \
#       videotestsrc is-live=true ! p.video_0  audiotestsrc is-live=true ! p.audio_0
#
# Env: ENDPOINT (http://127.0.0.1:$PORT/whip/room1), PORT (8080), TOKEN (Bearer
#      token; empty = none), VIDEO_CODEC (vp8 | vp9 | h264; element default vp8),
#      VIDEO_CAPS (e.g. video/x-raw,width=640,height=480,framerate=30/1; default:
#      what videotestsrc picks), GST_PLUGIN_PATH (defaults to ./build of this checkout).
# Extra arguments go to gst-launch-1.0 (e.g. -v). Stop with Ctrl-C (the WHIP
# session is DELETEd).
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
ENDPOINT=${ENDPOINT:-http://127.0.0.1:${PORT:-8080}/whip/room1}

# shellcheck disable=SC2086
exec gst-launch-1.0 "$@" \
  rtcwhipsink name=p endpoint="$ENDPOINT" ${TOKEN:+auth-token="$TOKEN"} ${VIDEO_CODEC:+video-codec="$VIDEO_CODEC"} \
  videotestsrc is-live=true ${VIDEO_CAPS:+! "$VIDEO_CAPS"} ! p.video_0 \
  audiotestsrc is-live=true ! p.audio_0
