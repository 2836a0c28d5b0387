#!/usr/bin/env bash
# Host SFU rooms and publish this pipeline into one of them: participants join
# at ws://HOST:PORT/rtc (rtcmeshbin, the browser page of rtcmesh-server), WHIP
# publishers POST to /whip/ROOM/NAME, WHEP players to /whep/ROOM/NAME (one
# publisher) or /whep/ROOM (everyone); each is forwarded without decoding.
# The pipeline's own tracks publish as "stage" (publisher-id).
#
#   gst-launch-1.0 rtcsfu name=sfu port=8443 room=demo publisher-id=stage \
#       videotestsrc is-live=true ! sfu.video_0  audiotestsrc is-live=true ! sfu.audio_0
#   gst-launch-1.0 rtcwhepsrc name=r endpoint=http://127.0.0.1:8443/whep/demo/stage \
#       r.video_0 ! videoconvert ! autovideosink
#
# Env: PORT (8443), ADDRESS (all interfaces), ROOM (demo), TOKEN (empty = none),
#      VIDEO_CAPS (video/x-raw,width=640,height=480,framerate=30/1),
#      GST_PLUGIN_PATH (defaults to ./build of this checkout).
# Extra arguments go to gst-launch-1.0 (e.g. -v).
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
VIDEO_CAPS=${VIDEO_CAPS:-video/x-raw,width=640,height=480,framerate=30/1}

exec gst-launch-1.0 "$@" \
  rtcsfu name=sfu port="${PORT:-8443}" room="${ROOM:-demo}" publisher-id=stage \
    ${ADDRESS:+address="$ADDRESS"} ${TOKEN:+auth-token="$TOKEN"} \
  videotestsrc is-live=true ! "$VIDEO_CAPS" ! sfu.video_0 \
  audiotestsrc is-live=true wave=ticks ! sfu.audio_0
