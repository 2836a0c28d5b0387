#!/usr/bin/env bash
# WHIP ingest: any WHIP publisher (OBS, a browser, simple-whip-client,
# whip-publish.sh) into a pipeline. rtcwhipsrc serves WHIP at
# http://ADDRESS:PORT/whip (also /whip/<room> and /whip/<room>/<publisher>);
# the first publisher's video is shown, its audio played.
#
#   gst-launch-1.0 rtcwhipsrc name=s port=8080 s.video_0 ! queue ! videoconvert ! autovideosink \
#       s.audio_0 ! queue ! audioconvert ! audioresample ! autoaudiosink
#
# Env: PORT (8080), ADDRESS (all interfaces), TOKEN (Bearer token publishers
#      must send; empty = none), SINK (autovideosink), AUDIO_SINK (autoaudiosink),
#      GST_PLUGIN_PATH (defaults to ./build of this checkout if it has the plugin).
# Extra arguments go to gst-launch-1.0 (e.g. -v). Stop with Ctrl-C.
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
PORT=${PORT:-8080}
SINK=${SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}

# $SINK and $AUDIO_SINK are pipeline fragments: split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 "$@" \
  rtcwhipsrc name=s port="$PORT" ${ADDRESS:+address="$ADDRESS"} ${TOKEN:+auth-token="$TOKEN"} \
  s.video_0 ! queue ! videoconvert ! $SINK \
  s.audio_0 ! queue ! audioconvert ! audioresample ! $AUDIO_SINK
