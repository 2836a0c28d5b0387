#!/usr/bin/env bash
# Join a room of rtcmesh-server (mesh or SFU; or of an rtcsfu pipeline) with
# this pipeline: a test pattern and a tone go to every other participant, and
# everyone else comes back composited into one video (a tile each) and one
# mixed audio. Start the server first (rtcmesh-server --port 8443); open
# http://127.0.0.1:8443/room/demo in a browser to meet it.
#
#   gst-launch-1.0 rtcmeshbin name=m url=ws://127.0.0.1:8443/rtc room=demo peer-id=pipe1 compose=true \
#       videotestsrc is-live=true ! m.video_0  audiotestsrc is-live=true ! m.audio_0 \
#       m.video_src ! videoconvert ! autovideosink  m.audio_src ! audioconvert ! autoaudiosink
#
# Env: URL (ws://127.0.0.1:$PORT/rtc), PORT (8443), ROOM (demo), PEER (our id;
#      empty = the server picks one), TOKEN (empty = none), PATTERN (videotestsrc
#      pattern, smpte), SINK (autovideosink), AUDIO_SINK (autoaudiosink),
#      GST_PLUGIN_PATH (defaults to ./build of this checkout if it has the plugin).
# Extra arguments go to gst-launch-1.0 (e.g. -v). Stop with Ctrl-C.
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
URL=${URL:-ws://127.0.0.1:${PORT:-8443}/rtc}
SINK=${SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}

# $SINK and $AUDIO_SINK are pipeline fragments: split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 "$@" \
  rtcmeshbin name=m url="$URL" room="${ROOM:-demo}" compose=true \
    ${PEER:+peer-id="$PEER"} ${TOKEN:+auth-token="$TOKEN"} \
  videotestsrc is-live=true pattern="${PATTERN:-smpte}" ! m.video_0 \
  audiotestsrc is-live=true ! m.audio_0 \
  m.video_src ! videoconvert ! $SINK \
  m.audio_src ! audioconvert ! $AUDIO_SINK
