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
const status = (text) => { document.getElementById("status").textContent = text; };
let resource = null;

async function play() {
  const pc = new RTCPeerConnection();
  window.pc = pc;  // for tests: getStats()
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; };
  pc.onconnectionstatechange = () => status(pc.connectionState);
  await pc.setLocalDescription(await pc.createOffer());
  // Send our candidates in the offer: wait for gathering, at most 1 s.
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
    setTimeout(done, 1000);
  });
  const headers = { "Content-Type": "application/sdp" };
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(endpoint, { method: "POST", headers, body: pc.localDescription.sdp });
  if (response.status !== 201) {
    status("server answered " + response.status + ": " + await response.text());
    return;
  }
  resource = new URL(response.headers.get("Location"), location.href).href;
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
}

window.addEventListener("pagehide", () => {
  if (!resource) return;
  const headers = token ? { "Authorization": "Bearer " + token } : {};
  fetch(resource, { method: "DELETE", headers, keepalive: true });
});
play().catch((e) => status("error: " + e));
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
