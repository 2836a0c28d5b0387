#!/usr/bin/env python3
"""Turns `gst-launch-1.0 -v` output of a pipeline with `identity name=video-in
silent=false` and `identity name=audio-in silent=false` into readable progress:

    [receiver] video 320x240 I420 15/1 | audio 48000 Hz x 2 S16LE
    [receiver]  1.0 s  video    12 frames (+12)   audio   50 buffers, 1.00 s
    ...

gst-launch's own status lines, errors and warnings pass through; the rest of
-v's chatter is dropped. With --every-frame each frame is printed as it arrives.
At the end of input, prints the totals and (with --summary FILE) writes them as
JSON for the caller.
"""
import argparse
import json
import re
import queue
import sys
import threading
import time

CHAIN = re.compile(r"GstIdentity:(video-in|audio-in): last-message = chain\s+\S+ \(\S+\) "
                   r"\((\d+) bytes, dts: [^,]*, pts: ([^,]*), duration: ([^,]*),")
CAPS = re.compile(r"GstIdentity:(video-in|audio-in)\.GstPad:src: caps = (.*)")
PASS = ("Setting pipeline", "Pipeline is", "ERROR", "WARNING", "Additional debug info",
        "Got EOS", "Execution ended", "Interrupt", "handling interrupt", "Freeing pipeline",
        "EOS on shutdown", "Waiting for EOS")


def clock(s):
    m = re.match(r"(\d+):(\d+):(\d+(?:\.\d+)?)", s.strip())
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def field(caps, name):
    m = re.search(name + r"=\(\w+\)([^,]+)", caps)
    return m.group(1) if m else "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="receiver")
    ap.add_argument("--every-frame", action="store_true")
    ap.add_argument("--summary")
    args = ap.parse_args()
    tag = f"[{args.label}]"

    video = audio = 0
    audio_seconds = 0.0
    shown_video = shown_audio = 0
    video_desc = audio_desc = ""
    first_media = None
    last_print = time.monotonic()
    start = time.monotonic()
    out = sys.stdout

    def status(final=False):
        nonlocal shown_video, shown_audio, last_print
        t = time.monotonic() - start
        line = (f"{tag} {t:5.1f} s  video {video:5d} frames (+{video - shown_video:3d})   "
                f"audio {audio:5d} buffers (+{audio - shown_audio:3d}) = {audio_seconds:6.2f} s of sound")
        if final:
            line = (f"{tag} total: {video} video frames ({video_desc or 'none'}), {audio} audio "
                    f"buffers = {audio_seconds:.2f} s of sound ({audio_desc or 'none'})")
        print(line, file=out, flush=True)
        shown_video, shown_audio, last_print = video, audio, time.monotonic()

    # A reader thread, so that the once-a-second status line comes out even
    # while gst-launch prints nothing.
    lines = queue.Queue()

    def reader():
        for raw in sys.stdin:
            lines.put(raw.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=0.25)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            m = CHAIN.search(line)
            if m:
                kind, size, pts, dur = m.group(1), int(m.group(2)), m.group(3), m.group(4)
                if first_media is None:
                    first_media = time.monotonic()
                    print(f"{tag} first media after {first_media - start:.1f} s", file=out, flush=True)
                if kind == "video-in":
                    video += 1
                    if args.every_frame:
                        print(f"{tag} video frame {video:5d} pts {pts} ({size} bytes)", file=out, flush=True)
                else:
                    audio += 1
                    d = clock(dur)
                    audio_seconds += d if d else 0.0
                    if args.every_frame:
                        print(f"{tag} audio buffer {audio:5d} pts {pts} ({size} bytes)", file=out, flush=True)
            else:
                c = CAPS.search(line)
                if c:
                    caps = c.group(2)
                    if c.group(1) == "video-in":
                        rate = field(caps, 'framerate')
                        video_desc = (f"{field(caps, 'width')}x{field(caps, 'height')} "
                                      f"{field(caps, 'format')}"
                                      + (f" {rate} fps" if rate not in ("0/1", "?") else ""))
                        print(f"{tag} video caps: {video_desc}", file=out, flush=True)
                    else:
                        audio_desc = (f"{field(caps, 'rate')} Hz x {field(caps, 'channels')} "
                                      f"{field(caps, 'format')}")
                        print(f"{tag} audio caps: {audio_desc}", file=out, flush=True)
                elif line.startswith(PASS) or "error" in line.lower() and "last-message" not in line:
                    print(f"{tag} {line}", file=out, flush=True)
        if first_media is not None and time.monotonic() - last_print >= 1.0:
            status()

    status(final=True)
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump({"video_frames": video, "audio_buffers": audio,
                       "audio_seconds": round(audio_seconds, 3), "video": video_desc,
                       "audio": audio_desc}, f)


if __name__ == "__main__":
    main()
