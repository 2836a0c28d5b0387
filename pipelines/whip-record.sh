#!/usr/bin/env bash
# Record a WHIP publisher to MP4 without re-encoding: rtcwhipsrc accepts only
# H.264 (video-codecs=h264) and hands out the encoded stream (output=encoded),
# which is parsed and muxed. Publish with e.g. VIDEO_CODEC=h264 whip-publish.sh
# or a browser. The recording runs until Ctrl-C (-e sends EOS first, so the
# MP4 is playable): a publisher that leaves pauses it, and the same publisher
# coming back continues it (same H.264 caps). Add eos-on-leave=true to finish
# the file when the publisher leaves instead.
#
#   gst-launch-1.0 -e rtcwhipsrc name=s port=8080 video-codecs=h264 output=encoded \
#       s.video_0 ! queue ! h264parse ! mp4mux ! filesink location=recording.mp4
#
# Env: PORT (8080), ADDRESS (all interfaces), TOKEN (Bearer token; empty = none),
#      OUT (recording.mp4), GST_PLUGIN_PATH (defaults to ./build of this checkout).
# Extra arguments go to gst-launch-1.0 (e.g. -v).
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
PORT=${PORT:-8080}
OUT=${OUT:-recording.mp4}

exec gst-launch-1.0 -e "$@" \
  rtcwhipsrc name=s port="$PORT" ${ADDRESS:+address="$ADDRESS"} ${TOKEN:+auth-token="$TOKEN"} \
    video-codecs=h264 output=encoded \
  s.video_0 ! queue ! h264parse ! mp4mux ! filesink location="$OUT"
