#include "gst/whep/player_page.h"

namespace rtcmesh {

namespace {

const char* kPage = R"HTML(<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rtcmesh WHEP player</title>
<style>
  body { margin: 0; background: #111; color: #ddd; font: 14px sans-serif; }
  video { display: block; width: 100vw; height: calc(100vh - 2em); background: #000; }
  #status { height: 2em; line-height: 2em; padding: 0 1em; }
</style>
</head>
<body>
<video id="video" autoplay playsinline controls muted></video>
<div id="status">connecting…</div>
<script>
const endpoint = "@ENDPOINT@";
const token = new URLSearchParams(location.search).get("token");
const video = document.getElementById("video");
// For tests: the status and the current RTCPeerConnection (window.pc: getStats()).
const state = { status: "connecting", line: "", attempts: 0 };
window.rtcmeshPlayer = { state };
const status = (text, what) => {
  state.line = text;
  if (what) state.status = what;
  document.getElementById("status").textContent = text;
};
let resource = null;
let timer = null;
let lostTimer = null;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}
function release() {
  if (window.pc) window.pc.close();
  window.pc = null;
  if (resource) fetch(resource, { method: "DELETE", headers: headers(), keepalive: true }).catch(() => {});
  resource = null;
}
// Plays again after `ms` (the server's Retry-After, else a backoff up to 10 s).
function again(why, what, ms) {
  release();
  clearTimeout(timer);
  const wait = ms || Math.min(10000, 1000 * 2 ** state.attempts);
  state.attempts++;
  status(why + "; trying again in " + Math.round(wait / 1000) + " s", what);
  timer = setTimeout(() => play().catch((e) => again("error: " + e.message, "reconnecting")), wait);
}

async function play() {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; };
  pc.onconnectionstatechange = () => {
    if (window.pc !== pc) return;
    clearTimeout(lostTimer);
    const s = pc.connectionState;
    if (s === "connected") {
      state.attempts = 0;
      status("playing", "playing");
    } else if (s === "failed" || s === "closed") {
      again("the stream was lost", "reconnecting");
    } else if (s === "disconnected") {
      // Often a short gap: give it 3 s before playing anew.
      status("the stream stalls…", "stalled");
      lostTimer = setTimeout(() => window.pc === pc && again("the stream was lost", "reconnecting"), 3000);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  // Send our candidates in the offer: wait for gathering, at most 1 s.
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
    setTimeout(done, 1000);
  });
  let response;
  try {
    response = await fetch(endpoint, { method: "POST", headers: headers({ "Content-Type": "application/sdp" }),
      body: pc.localDescription.sdp });
  } catch (e) {
    return again("the server does not answer", "reconnecting");
  }
  const text = await response.text();
  if (response.status === 503) {
    // Nothing to play yet (nothing published, or its first frames not encoded).
    const after = Number(response.headers.get("Retry-After")) || 2;
    return again("nothing is published yet (" + text.trim() + ")", "waiting", after * 1000);
  }
  if (response.status !== 201) {
    pc.close();
    status("the server answered " + response.status + ": " + text.trim(), "error");
    return;
  }
  resource = new URL(response.headers.get("Location"), location.href).href;
  await pc.setRemoteDescription({ type: "answer", sdp: text });
  status("connecting…", "connecting");
}

window.addEventListener("pagehide", () => { clearTimeout(timer); release(); });
play().catch((e) => again("error: " + e.message, "reconnecting"));
</script>
</body>
</html>
)HTML";

}  // namespace

std::string whep_player_page(const std::string& endpoint_path) {
  std::string page = kPage;
  // The path is ours (a property), but keep it inert inside the JS string.
  std::string safe;
  for (char c : endpoint_path)
    if (c != '"' && c != '\\' && c != '<' && c != '>') safe += c;
  page.replace(page.find("@ENDPOINT@"), 10, safe);
  return page;
}

}  // namespace rtcmesh
