#!/usr/bin/env bash
# Host an SFU room in a pipeline, publish the pipeline into it (as "stage"),
# and record the first two remote publishers' video without re-encoding, one
# Matroska file each (src_video_N: the (N+1)th remote publisher's video). The
# room runs until Ctrl-C: a publisher that leaves pauses its file, one that
# comes back under the same name (/whip/<room>/<name>) continues it, and -e
# finishes every file at the end (if only one publisher came, press Ctrl-C a
# second time at "Waiting for EOS": the branch of the missing one never gets
# EOS; the file of the one who came is finished by then). async=false: a file
# whose publisher has not come must not hold the pipeline in PAUSED. The
# README's one-liner:
#
#   gst-launch-1.0 -e rtcsfu name=sfu port=8443 room=demo publisher-id=stage output=encoded \
#       videotestsrc is-live=true ! sfu.video_0  audiotestsrc is-live=true ! sfu.audio_0 \
#       sfu.src_video_0 ! queue ! matroskamux ! filesink async=false location=publisher-0.mkv \
#       sfu.src_video_1 ! queue ! matroskamux ! filesink async=false location=publisher-1.mkv
#
# Publish with e.g. ENDPOINT=http://127.0.0.1:8443/whip/demo/alice whip-publish.sh.
# Env: PORT (8443), ADDRESS (all interfaces), ROOM (demo), TOKEN (Bearer token;
#      empty = none), OUT_DIR (.), GST_PLUGIN_PATH (defaults to ./build of this
#      checkout). Extra arguments go to gst-launch-1.0 (e.g. -v).
set -euf -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${GST_PLUGIN_PATH:=$( [ -e "$here/../build/libgstrtcmesh.so" ] && echo "$here/../build" || true)}"
export GST_PLUGIN_PATH
OUT_DIR=${OUT_DIR:-.}

exec gst-launch-1.0 -e "$@" \
  rtcsfu name=sfu port="${PORT:-8443}" room="${ROOM:-demo}" publisher-id=stage output=encoded \
    ${ADDRESS:+address="$ADDRESS"} ${TOKEN:+auth-token="$TOKEN"} \
  videotestsrc is-live=true ! sfu.video_0  audiotestsrc is-live=true ! sfu.audio_0 \
  sfu.src_video_0 ! queue ! matroskamux ! filesink async=false location="$OUT_DIR/publisher-0.mkv" \
  sfu.src_video_1 ! queue ! matroskamux ! filesink async=false location="$OUT_DIR/publisher-1.mkv"
