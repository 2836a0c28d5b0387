#!/usr/bin/env python3
"""Runs the recipes in pipelines/ briefly, with fakesink/filesink in place of
screens and speakers, and asserts that media flowed (frames counted by
fpsdisplaysink, audio buffers by identity, the recorded MP4 decoded frame by
frame), not only that the scripts exited.

    run_pipeline_test.py CASE --pipelines DIR

CASE is one of: ingest-publish, record, loopback, whep-play, sfu, sfu-record, mcu-record, room,
demo-help. The environment must let
gst-launch-1.0 find the plugin (GST_PLUGIN_PATH=<build dir>); meson sets it.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

VIDEO_CAPS = "video/x-raw,width=320,height=240,framerate=15/1"
FPS_SINK = ("fpsdisplaysink name=video-out video-sink=fakesink text-overlay=false "
            "signal-fps-measurements=true sync=false")
AUDIO_SINK = "identity name=audio-in silent=false ! fakesink sync=false"
RENDERED_RE = re.compile(r"video-out: last-message = rendered: (\d+)")
AUDIO_RE = re.compile(r"audio-in: last-message = chain")


class Failure(Exception):
    pass


def log(msg):
    print(f"[test] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"{proc.name} exited ({proc.poll()}) before listening on port {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise Failure(f"{proc.name} did not listen on 127.0.0.1:{port} within {timeout} s")


class Proc:
    """A pipeline script; its output is echoed with a prefix and kept for parsing."""

    def __init__(self, name, argv, env):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()
        self.video_frames = 0
        self.audio_buffers = 0
        log(f"start {name}: {' '.join(argv)}")
        self.popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, errors="replace", start_new_session=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in iter(self.popen.stdout.readline, ""):
            line = line.rstrip("\n")
            with self.lock:
                self.lines.append(line)
                m = RENDERED_RE.search(line)
                if m:
                    self.video_frames = max(self.video_frames, int(m.group(1)))
                if AUDIO_RE.search(line):
                    self.audio_buffers += 1
                    if self.audio_buffers % 50 != 1:
                        continue  # one in 50 is enough in the log
            print(f"[{self.name}] {line}", flush=True)

    def poll(self):
        return self.popen.poll()

    def output(self):
        with self.lock:
            return list(self.lines)

    def errors(self):
        return [l for l in self.output() if l.startswith("ERROR")]

    def counts(self):
        with self.lock:
            return self.video_frames, self.audio_buffers

    def wait_until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            if self.poll() is not None:
                raise Failure(f"{self.name} exited ({self.poll()}) while waiting for {what}")
            time.sleep(0.1)
        raise Failure(f"timed out after {timeout} s waiting for {what} in {self.name}")

    def stop(self, sig=signal.SIGINT, timeout=10):
        """Signals the process by its PID and waits; SIGKILL (and a failure) if it hangs."""
        if self.poll() is None:
            log(f"{self.name}: {signal.Signals(sig).name} to pid {self.popen.pid}")
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
                self.thread.join(2)
                raise Failure(f"{self.name} did not stop within {timeout} s of "
                              f"{signal.Signals(sig).name}; killed")
        self.thread.join(5)
        log(f"{self.name} exited with {self.popen.returncode}")
        # gst-launch handles SIGINT and exits 0; dying of another signal is a crash.
        if self.popen.returncode < 0 and -self.popen.returncode != sig:
            raise Failure(f"{self.name} died of {signal.Signals(-self.popen.returncode).name} "
                          f"while stopping")
        return self.popen.returncode

    def kill(self):
        if self.poll() is None:
            self.popen.kill()
            self.popen.wait()


def check_elements():
    for element in ("rtcwhipsrc", "rtcwhipsink"):
        r = subprocess.run(["gst-inspect-1.0", element], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise Failure(f"gst-inspect-1.0 {element} failed (GST_PLUGIN_PATH="
                          f"{os.environ.get('GST_PLUGIN_PATH', '')!r}): {r.stderr.strip()}")


def base_env(**extra):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def case_ingest_publish(pipelines, procs):
    port = free_port()
    ingest = Proc("ingest", [f"{pipelines}/whip-ingest.sh", "-v"],
                  base_env(PORT=port, ADDRESS="127.0.0.1", SINK=FPS_SINK, AUDIO_SINK=AUDIO_SINK))
    procs.append(ingest)
    wait_port(port, ingest, 10)
    publish = Proc("publish", [f"{pipelines}/whip-publish.sh"],
                   base_env(ENDPOINT=f"http://127.0.0.1:{port}/whip/pipelines",
                            VIDEO_CAPS=VIDEO_CAPS))
    procs.append(publish)
    ingest.wait_until(lambda: ingest.counts()[0] >= 30 and ingest.counts()[1] >= 25, 25,
                      ">= 30 video frames and >= 25 audio buffers")
    frames, buffers = ingest.counts()
    log(f"ingest received {frames} video frames and {buffers} audio buffers")
    publish.stop(signal.SIGINT)
    # The ingest outlives its publisher: its pads stay without EOS, so the
    # pipeline runs on (it used to end ~1.6 s after the DELETE) ...
    time.sleep(3)
    if ingest.poll() is not None:
        raise Failure(f"the ingest pipeline ended ({ingest.poll()}) when its publisher left")
    # ... and the publisher coming back continues on s.video_0 / s.audio_0.
    again = Proc("publish-again", [f"{pipelines}/whip-publish.sh"],
                 base_env(ENDPOINT=f"http://127.0.0.1:{port}/whip/pipelines",
                          VIDEO_CAPS=VIDEO_CAPS))
    procs.append(again)
    ingest.wait_until(lambda: ingest.counts()[0] >= frames + 30 and
                      ingest.counts()[1] >= buffers + 25, 25,
                      ">= 30 more video frames and >= 25 more audio buffers after the "
                      "publisher came back")
    log(f"after the publisher came back: {ingest.counts()[0]} video frames and "
        f"{ingest.counts()[1]} audio buffers")
    again.stop(signal.SIGINT)
    ingest.stop(signal.SIGINT)
    for p in (publish, again, ingest):
        if p.errors():
            raise Failure(f"{p.name} reported errors: {p.errors()}")


def case_record(pipelines, procs):
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rtcmesh-record-") as tmp:
        out = os.path.join(tmp, "recording.mp4")
        record = Proc("record", [f"{pipelines}/whip-record.sh", "-v"],
                      base_env(PORT=port, ADDRESS="127.0.0.1", OUT=out))
        procs.append(record)
        wait_port(port, record, 10)
        publish = Proc("publish", [f"{pipelines}/whip-publish.sh"],
                       base_env(ENDPOINT=f"http://127.0.0.1:{port}/whip/record",
                                VIDEO_CODEC="h264", VIDEO_CAPS=VIDEO_CAPS))
        procs.append(publish)
        # -v prints the muxer's caps once H.264 reaches it: media is flowing.
        record.wait_until(lambda: any("GstMP4Mux" in l and "caps = video/x-h264" in l
                                      for l in record.output()), 25, "H.264 caps at mp4mux")
        time.sleep(5)  # ~75 frames at 15 fps
        publish.stop(signal.SIGINT)
        # The leaving publisher's pads stay (no EOS): the recorder runs on
        # until Ctrl-C (gst-launch -e sends EOS first, so the MP4 is finished).
        time.sleep(2)
        if record.poll() is not None:
            raise Failure(f"the recorder ended ({record.poll()}) when its publisher left")
        record.stop(signal.SIGINT, timeout=15)
        if record.errors():
            raise Failure(f"record reported errors: {record.errors()}")
        if not os.path.exists(out) or os.path.getsize(out) == 0:
            raise Failure(f"{out} is missing or empty")
        decode(out, ["qtdemux", "!", "h264parse", "!", "avdec_h264"], 30)


def decode(path, chain, at_least):
    """Plays `path` through `chain` (demuxer ! decoder) to its end, counting
    decoded frames; fails unless it plays and holds `at_least` of them."""
    log(f"{path}: {os.path.getsize(path)} bytes; decoding it")
    r = subprocess.run(["gst-launch-1.0", "-v", "filesrc", f"location={path}", "!", *chain,
                        "!", "fakesink", "name=frames", "silent=false", "sync=false"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=60)
    frames = sum(1 for l in r.stdout.splitlines() if "frames: last-message = chain" in l)
    caps = [l for l in r.stdout.splitlines() if "frames.GstPad:sink: caps" in l]
    log(f"decoded {frames} frames from {os.path.basename(path)} (exit {r.returncode}); "
        f"{caps[0].split('caps = ', 1)[-1] if caps else 'no caps'}")
    if r.returncode != 0:
        raise Failure(f"{path} does not play back:\n" + r.stdout[-3000:])
    if frames < at_least:
        raise Failure(f"{path} holds only {frames} decodable frames (want >= {at_least})")


def case_loopback(pipelines, procs):
    port = free_port()
    loop = Proc("loopback", [f"{pipelines}/whip-loopback.sh", "-v"],
                base_env(PORT=port, SINK=FPS_SINK, AUDIO_SINK=AUDIO_SINK))
    procs.append(loop)
    loop.wait_until(lambda: loop.counts()[0] >= 30 and loop.counts()[1] >= 25, 30,
                    ">= 30 video frames and >= 25 audio buffers")
    frames, buffers = loop.counts()
    log(f"loopback received {frames} video frames and {buffers} audio buffers")
    loop.stop(signal.SIGINT)
    if loop.errors():
        raise Failure(f"loopback reported errors: {loop.errors()}")


def case_whep_play(pipelines, procs):
    port = free_port()
    # The server is a plain gst-launch line: this case is about the player.
    server = Proc("whep-server",
                  ["gst-launch-1.0", "rtcwhepsink", "name=w", f"port={port}", "address=127.0.0.1",
                   "videotestsrc", "is-live=true", "!", VIDEO_CAPS, "!", "w.video_0",
                   "audiotestsrc", "is-live=true", "!", "w.audio_0"],
                  base_env())
    procs.append(server)
    wait_port(port, server, 10)
    # Right away: before its first frame is encoded rtcwhepsink answers 503,
    # which the player retries.
    play_whep(pipelines, procs, f"http://127.0.0.1:{port}/whep", server, 25)


def case_sfu(pipelines, procs):
    port = free_port()
    sfu = Proc("sfu", [f"{pipelines}/sfu-room.sh"],
               base_env(PORT=port, ADDRESS="127.0.0.1", ROOM="demo", VIDEO_CAPS=VIDEO_CAPS))
    procs.append(sfu)
    wait_port(port, sfu, 10)
    # The pipeline's own tracks, forwarded by the SFU to a WHEP player of
    # that publisher (503 until they are encoded once: the player retries).
    play_whep(pipelines, procs, f"http://127.0.0.1:{port}/whep/demo/stage", sfu, 30)


def case_sfu_record(pipelines, procs):
    """The README's recording one-liner (pipelines/sfu-record.sh): two WHIP
    publishers, one file each; the room outlives one leaving, who comes back
    and continues; Ctrl-C (-e) finishes both files."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rtcmesh-sfu-record-") as tmp:
        rec = Proc("sfu-record", [f"{pipelines}/sfu-record.sh"],
                   base_env(PORT=port, ADDRESS="127.0.0.1", ROOM="demo", OUT_DIR=tmp))
        procs.append(rec)
        wait_port(port, rec, 10)
        files = [os.path.join(tmp, f"publisher-{i}.mkv") for i in (0, 1)]

        def size(i):
            return os.path.getsize(files[i]) if os.path.exists(files[i]) else 0

        def publish(name):
            p = Proc(f"publish-{name}", [f"{pipelines}/whip-publish.sh"],
                     base_env(ENDPOINT=f"http://127.0.0.1:{port}/whip/demo/{name}",
                              VIDEO_CAPS=VIDEO_CAPS))
            procs.append(p)
            return p

        def grows(i, what, timeout=25):
            start = size(i)
            rec.wait_until(lambda: size(i) >= start + 100000, timeout, what)

        alice = publish("alice")
        grows(0, "alice's video in publisher-0.mkv")
        bob = publish("bob")
        grows(1, "bob's video in publisher-1.mkv")
        alice.stop(signal.SIGINT)
        time.sleep(3)
        if rec.poll() is not None:
            raise Failure(f"the room ended ({rec.poll()}) when alice left")
        grows(1, "bob's file growing after alice left", 15)
        alice = publish("alice")
        grows(0, "alice's file growing again after she came back")
        alice.stop(signal.SIGINT)
        bob.stop(signal.SIGINT)
        rec.stop(signal.SIGINT, timeout=15)
        if rec.errors():
            raise Failure(f"sfu-record reported errors: {rec.errors()}")
        for f in files:
            decode(f, ["matroskademux", "!", "vp8dec"], 30)


def case_mcu_record(pipelines, procs):
    """The README's MCU one-liner (pipelines/mcu-record.sh): a WHIP publisher
    is composited; a WHEP player of the room plays the composite and the mix;
    Ctrl-C (-e) finishes the recording of rtcmcu's src pads, which decodes."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rtcmesh-mcu-record-") as tmp:
        out = os.path.join(tmp, "room.mkv")
        rec = Proc("mcu-record", [f"{pipelines}/mcu-record.sh"],
                   base_env(PORT=port, ADDRESS="127.0.0.1", ROOM="demo", OUT=out))
        procs.append(rec)
        wait_port(port, rec, 10)
        alice = Proc("publish-alice", [f"{pipelines}/whip-publish.sh"],
                     base_env(ENDPOINT=f"http://127.0.0.1:{port}/whip/demo/alice",
                              VIDEO_CAPS=VIDEO_CAPS))
        procs.append(alice)
        # play_whep stops the recording (SIGINT: -e) once the player got media.
        play_whep(pipelines, procs, f"http://127.0.0.1:{port}/whep/demo", rec, 40)
        alice.stop(signal.SIGINT)
        decode(out, ["matroskademux", "!", "vp8dec"], 30)


def play_whep(pipelines, procs, endpoint, server, timeout):
    """whep-play.sh on `endpoint` until video and audio flowed (within `timeout`
    seconds), then both stop cleanly."""
    play = Proc("play", [f"{pipelines}/whep-play.sh", "-v"],
                base_env(ENDPOINT=endpoint, SINK=FPS_SINK, AUDIO_SINK=AUDIO_SINK))
    procs.append(play)
    play.wait_until(lambda: play.counts()[0] >= 30 and play.counts()[1] >= 25, timeout,
                    ">= 30 video frames and >= 25 audio buffers")
    frames, buffers = play.counts()
    log(f"player of {endpoint} received {frames} video frames and {buffers} audio buffers")
    play.stop(signal.SIGINT)
    server.stop(signal.SIGINT)
    for p in (play, server):
        if p.errors():
            raise Failure(f"{p.name} reported errors: {p.errors()}")


def stop_room(*procs):
    """Stops the participants, then the server (the last), with SIGINT; a
    participant that printed "Delayed linking failed" or an ERROR fails."""
    for p in procs:
        p.stop(signal.SIGINT)
    for p in procs[:-1]:
        said = [l for l in p.output() if "Delayed linking failed" in l or l.startswith("ERROR")]
        if said:
            raise Failure(f"{p.name}: {said}")


def start_server(server_bin, mode, procs):
    """rtcmesh-server --mode `mode` on a free port of 127.0.0.1, listening:
    (its Proc, the port)."""
    port = free_port()
    server = Proc(f"server-{mode}", [server_bin, "--port", str(port), "--address", "127.0.0.1",
                                     "--mode", mode], base_env())
    procs.append(server)
    wait_port(port, server, 10)
    return server, port


def case_room(pipelines, procs):
    """The README's two rtcmeshbin one-liners (the first is room-join.sh)
    against rtcmesh-server, an SFU room and then a mesh room, screens replaced
    by counting sinks: the second participant shows the first's video
    (src_video_0, linked by gst-launch when it appears), and neither prints
    "Delayed linking failed" (issue 12)."""
    server_bin = os.environ["RTCMESH_SERVER"]
    for mode in ("sfu", "mesh"):
        server, port = start_server(server_bin, mode, procs)
        url = f"ws://127.0.0.1:{port}/rtc"
        # The first one-liner is pipelines/room-join.sh.
        pipe1 = Proc(f"pipe1-{mode}", [f"{pipelines}/room-join.sh"],
                     base_env(URL=url, ROOM="demo", PEER="pipe1", SINK="fakesink",
                              AUDIO_SINK="fakesink"))
        procs.append(pipe1)
        pipe2 = Proc(f"pipe2-{mode}", [
            "gst-launch-1.0", "-v", "rtcmeshbin", "name=m", f"url={url}", "room=demo",
            "peer-id=pipe2", "videotestsrc", "is-live=true", "pattern=ball", "!", "m.video_0",
            "audiotestsrc", "is-live=true", "wave=ticks", "!", "m.audio_0", "m.src_video_0", "!",
            "queue", "!", "videoconvert", "!", *FPS_SINK.split()], base_env())
        procs.append(pipe2)
        pipe2.wait_until(lambda: pipe2.counts()[0] >= 30, 30, ">= 30 frames of pipe1's video")
        log(f"{mode}: pipe2 rendered {pipe2.counts()[0]} frames of pipe1's video")
        stop_room(pipe2, pipe1, server)


def case_room_post(pipelines, procs):
    """The README's one-POST rtcmeshbin one-liner (url=http://…/rtc,
    compose=true) in an SFU room of rtcmesh-server, then in a mesh room
    (--mode mesh: the POSTed connection carries only the room protocol, the
    media goes peer to peer), screen and speaker replaced by counting sinks:
    a WebSocket participant renders its video (so its publication crossed the
    one POSTed connection, or the mesh connection it set up), the one-liner
    renders its composite and plays its mix, and neither prints an ERROR
    (issue 16)."""
    server_bin = os.environ["RTCMESH_SERVER"]
    for mode in ("sfu", "mesh"):
        server, port = start_server(server_bin, mode, procs)
        post = Proc(f"post-{mode}", [
            "gst-launch-1.0", "-v", "rtcmeshbin", "name=m", f"url=http://127.0.0.1:{port}/rtc",
            "room=demo", "compose=true", "videotestsrc", "is-live=true", "!", "m.video_0",
            "m.video_src", "!", "videoconvert", "!", *FPS_SINK.split(),
            "m.audio_src", "!", "audioconvert", "!", *AUDIO_SINK.split()], base_env())
        procs.append(post)
        # In a mesh room the viewer's own tone is what the one-liner's mix plays.
        tone = ["audiotestsrc", "is-live=true", "!", "m.audio_0"] if mode == "mesh" else []
        viewer = Proc(f"ws-viewer-{mode}", [
            "gst-launch-1.0", "-v", "rtcmeshbin", "name=m", f"url=ws://127.0.0.1:{port}/rtc",
            "room=demo", "peer-id=viewer", *tone, "m.src_video_0", "!", "queue", "!",
            "videoconvert", "!", *FPS_SINK.split()], base_env())
        procs.append(viewer)
        viewer.wait_until(lambda: viewer.counts()[0] >= 30, 30, ">= 30 frames of the POSTed video")
        post.wait_until(lambda: post.counts()[0] >= 30 and post.counts()[1] > 0, 30,
                        "the one-liner's composite and mix")
        log(f"room-post ({mode}): the viewer rendered {viewer.counts()[0]} frames of the "
            "one-liner's video")
        stop_room(viewer, post, server)


def case_demo_help(pipelines, procs):
    """scripts/demo --help prints its usage and neither builds nor runs; a bad
    DURATION is refused the same way (issue 12)."""
    demo = os.path.join(pipelines, "..", "scripts", "demo")
    for args, status in ((["--help"], 0), (["-h"], 0), (["ten"], 2), (["--bogus"], 2)):
        start = time.monotonic()
        r = subprocess.run(["bash", demo, *args], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=20)
        out = r.stdout + r.stderr
        log(f"scripts/demo {' '.join(args)}: exit {r.returncode} after "
            f"{time.monotonic() - start:.1f} s")
        if r.returncode != status:
            raise Failure(f"scripts/demo {' '.join(args)} exited {r.returncode}, not {status}:\n{out}")
        if "scripts/demo [DURATION]" not in out:
            raise Failure(f"scripts/demo {' '.join(args)} printed no usage:\n{out}")
        for bad in ("==> build", "==> receiver", "Traceback"):
            if bad in out:
                raise Failure(f"scripts/demo {' '.join(args)} printed '{bad}':\n{out}")


CASES = {"ingest-publish": case_ingest_publish, "record": case_record, "loopback": case_loopback,
         "whep-play": case_whep_play, "sfu": case_sfu, "sfu-record": case_sfu_record,
         "room": case_room, "room-post": case_room_post, "demo-help": case_demo_help,
         "mcu-record": case_mcu_record}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--pipelines", required=True, help="the pipelines/ folder")
    args = ap.parse_args()
    procs = []
    try:
        check_elements()
        CASES[args.case](os.path.abspath(args.pipelines), procs)
    except Failure as e:
        log(f"FAIL: {e}")
        return 1
    finally:
        for p in procs:
            p.kill()
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
