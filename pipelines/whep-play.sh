#!/usr/bin/env bash
# Play a WHEP stream: rtcwhepsink, a media server or a WHEP service. Video is
# shown, audio played; the server's track count decides how many pads appear
# (video_0 and audio_0 here). Reconnects by itself when the server goes away.
#
#   gst-launch-1.0 rtcwhepsrc name=r endpoint=http://127.0.0.1:8081/whep \
#       r.video_0 ! queue ! videoconvert ! autovideosink \
#       r.audio_0 ! queue ! audioconvert ! audioresample ! autoaudiosink
#   gst-play-1.0 whep://127.0.0.1:8081/whep        # the same as a URI
#
# Env: ENDPOINT (http://127.0.0.1:$PORT/whep), PORT (8081), TOKEN (Bearer token;
#      empty = none), SINK (autovideosink), AUDIO_SINK (autoaudiosink),
#      GST_PLUGIN_PATH (defaults to ./build of this checkout if it has the plugin).
# Extra arguments go to gst-launch-1.0 (e.g. -v). Stop with Ctrl-C (the WHEP
# session is DELETEd).
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
ENDPOINT=${ENDPOINT:-http://127.0.0.1:${PORT:-8081}/whep}
SINK=${SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}

# $SINK and $AUDIO_SINK are pipeline fragments: split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 "$@" \
  rtcwhepsrc name=r endpoint="$ENDPOINT" ${TOKEN:+auth-token="$TOKEN"} \
  r.video_0 ! queue ! videoconvert ! $SINK \
  r.audio_0 ! queue ! audioconvert ! audioresample ! $AUDIO_SINK
