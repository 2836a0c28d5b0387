#!/usr/bin/env bash
# WHIP loopback in one pipeline: rtcwhipsink publishes a test pattern and a tone
# to rtcwhipsrc in the same process, over real WebRTC on 127.0.0.1. Shows both
# ends at once; handy to check an installation.
#
#   gst-launch-1.0 rtcwhipsrc name=s port=8080 address=127.0.0.1 \
#       s.video_0 ! queue ! videoconvert ! autovideosink \
#       s.audio_0 ! queue ! audioconvert ! audioresample ! autoaudiosink \
#     rtcwhipsink name=p endpoint=http://127.0.0.1:8080/whip/loopback \
#       videotestsrc is-live=true ! p.video_0  audiotestsrc is-live=true ! p.audio_0
#
# Env: PORT (8080), SINK (autovideosink), AUDIO_SINK (autoaudiosink),
#      VIDEO_CODEC (vp8 | vp9 | h264), GST_PLUGIN_PATH (defaults to ./build of
#      this checkout). Extra arguments go to gst-launch-1.0 (e.g. -v). Ctrl-C stops.
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
PORT=${PORT:-8080}
SINK=${SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}

# shellcheck disable=SC2086
exec gst-launch-1.0 "$@" \
  rtcwhipsrc name=s port="$PORT" address=127.0.0.1 \
  s.video_0 ! queue ! videoconvert ! $SINK \
  s.audio_0 ! queue ! audioconvert ! audioresample ! $AUDIO_SINK \
  rtcwhipsink name=p endpoint="http://127.0.0.1:$PORT/whip/loopback" ${VIDEO_CODEC:+video-codec="$VIDEO_CODEC"} \
  videotestsrc is-live=true ! p.video_0 \
  audiotestsrc is-live=true ! p.audio_0
