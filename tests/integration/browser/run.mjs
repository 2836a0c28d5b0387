#!/usr/bin/env node
// Drives Debian's Chromium (headless, fake camera and microphone) through
// playwright-core against rtcmesh endpoints, using the one test page page.html.
//
//   node run.mjs --mode whip --endpoint http://127.0.0.1:PORT/whip/room [--token T]
//                [--duration SECONDS] [--chromium /usr/bin/chromium]
//   node run.mjs --mode whep --endpoint http://127.0.0.1:PORT/whep/room [--token T] [--duration SECONDS]
//     the test page plays a WHEP endpoint with a plain RTCPeerConnection (recvonly video +
//     audio); stats: inbound framesDecoded, nackCount, packetsLost, freezes, the longest
//     gap between presented frames, the server's port on the selected pair
//   node run.mjs --mode player --url http://127.0.0.1:PORT/ [--duration SECONDS]
//     opens a page served by the element under test (rtcwhepsink's player,
//     which keeps its RTCPeerConnection in window.pc and its status in
//     window.rtcmeshPlayer.state) and reports what it decodes (since the last reconnection)
//   node run.mjs --mode room --url http://127.0.0.1:PORT/room/NAME?peer=ID [--duration SECONDS]
//     opens rtcmesh-server's room page (camera and microphone into a mesh or SFU room)
//     and reports what it decodes from each other participant (SFU: publisher)
//     (window.rtcmeshRoom.stats()); it presses Join on the pre-join step (with
//     --screenshot F.png, F-prejoin.png is taken first); stdin lines "click SELECTOR"
//     and "screenshot FILE.png" act on the page ("done-action" when done);
//     on the way out it calls leave()
//   node run.mjs --mode rtcpost --endpoint http://127.0.0.1:PORT/rtc/ROOM [--peer ID]
//     page.html's one-connection client (POST with a data channel, the room
//     protocol over it); stdin "call NAME JSON" calls window.rtcmeshTest.NAME(JSON)
//     (publish, raw, closeChannel) and prints {"event": "called", name, result|error};
//     stats: {publishers: {<peer>: {framesDecoded, colour: [r,g,b]}}, notes, replies}
//   node run.mjs --mode joinbench --endpoint http://127.0.0.1:PORT --room R --runs N
//     join -> first decoded frame over POST /rtc and over the WebSocket, N each;
//     stats: {done, results: {datachannel: [ms], websocket: [ms]}}
//   node run.mjs --mode publish-page --url http://127.0.0.1:PORT/[publish/ROOM]
//                [--codec VP9] [--room R] [--name N] [--screenshot FILE.png]
//     opens a WHIP publish page served by the element under test, picks the
//     codec and fills room/name as a person would, presses Publish; on the way
//     out presses Stop (the page DELETEs its resource); the screenshot is taken
//     once the page says it publishes
//
// Output: one JSON object per line on stdout, {"event": ...}:
//   server     {url}                  the page's own HTTP server (127.0.0.1, ephemeral port)
//   chromium   {pid}                  the browser process we started
//   published  {resource}             WHIP POST answered 201; resource = Location
//   joined     {peer}                 room: the page joined; peer = its id in the room
//   stats      {video, audio, ...}    whip: outbound-rtp packetsSent/framesEncoded, every 500 ms;
//                                     player: inbound-rtp framesDecoded / totalSamplesReceived;
//                                     room: {status, self, peers: [ids], stats: {<peer>:
//                                     {videoFramesDecoded, audioSamples, connectionState}},
//                                     speaker, sharing, videos: [{name, width, height, frames}],
//                                     remoteMuted: {<peer>: {audio, video}}}
//   stopped    {deleteStatus}         DELETE of the resource on the way out (room: {left})
//   error      {message}
//   done       {ok}
// Page console lines and diagnostics go to stderr. Stops after --duration
// seconds, or on SIGTERM/SIGINT, or when stdin says "stop"; always DELETEs the
// resource, kills Chromium by its PID and removes its temporary profile.
// Exit status: 0 when the page published and packets were sent (player: it
// decoded video and audio; room: it joined without error), 1 otherwise.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const opts = { mode: 'whip', endpoint: '', url: '', token: '', duration: 20, chromium: '/usr/bin/chromium',
    codec: '', room: '', name: '', screenshot: '', peer: '', runs: '' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in opts)) throw new Error(`unknown option ${argv[i]}`);
    opts[key] = argv[++i];
  }
  opts.duration = Number(opts.duration);
  if (!opts.endpoint && ['whip', 'whep', 'rtcpost', 'joinbench'].includes(opts.mode)) {
    throw new Error(`--endpoint is required for --mode ${opts.mode}`);
  }
  if (!opts.url && ['player', 'room', 'publish-page'].includes(opts.mode)) {
    throw new Error(`--url is required for --mode ${opts.mode}`);
  }
  return opts;
}

const emit = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
const diag = (text) => process.stderr.write(`[run.mjs] ${text}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--auto-select-desktop-capture-source=Entire screen',  // getDisplayMedia: the fake screen
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--allow-loopback-in-peer-connection',
  '--disable-quic',
  '--no-default-browser-check',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-breakpad',
  '--disable-crash-reporter',
];

function servePage() {
  const page = readFileSync(join(here, 'page.html'));
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (req.method === 'GET' && (path === '/' || path === '/page.html')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(page);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Starts Chromium ourselves (own process group, fresh profile) so that we know
// its PID, then attaches playwright over CDP.
function launchChromium(executable, userDataDir) {
  const args = [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', 'about:blank'];
  const child = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const wsUrl = new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('Chromium did not print its DevTools address within 20 s')), 20000);
    child.stderr.on('data', (chunk) => {
      buffered += chunk.toString();
      const m = buffered.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
      if (buffered.length > 65536) buffered = buffered.slice(-4096);
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited early (code ${code}, signal ${sig}): ${buffered.slice(-2000)}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return { child, wsUrl };
}

async function killChromium(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
  const timedOut = await Promise.race([exited.then(() => false), sleep(3000).then(() => true)]);
  if (timedOut) {
    diag(`Chromium ${child.pid} ignored SIGTERM; SIGKILL to its process group`);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    await Promise.race([exited, sleep(2000)]);
  } else {
    // Helpers (renderer, GPU, utility) leave with the browser; make sure.
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group already gone */ }
  }
}

// Player mode: the page is the element's own; poll its RTCPeerConnection.
async function runPlayer(page, opts, stopped, setWake) {
  await page.goto(opts.url);
  const started = Date.now();
  const deadline = started + opts.duration * 1000;
  let last = null;
  let playing = false;
  while (!stopped() && Date.now() < deadline) {
    last = await page.evaluate(async () => {
      const player = window.rtcmeshPlayer ? window.rtcmeshPlayer.state : {};
      const out = { status: player.status, line: player.line, state: window.pc ? window.pc.connectionState : null,
        video: 0, audio: 0 };
      if (!window.pc) return out;
      (await window.pc.getStats()).forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        if (r.kind === 'video') out.video = r.framesDecoded || 0;
        else out.audio = r.totalSamplesReceived || 0;
      });
      return out;
    });
    if (last) {
      if (!playing && last.video > 0) {
        playing = true;
        emit('published', { resource: opts.url });
      }
      emit('stats', { t: (Date.now() - started) / 1000, ...last });
    }
    await new Promise((r) => { setWake(r); setTimeout(r, 500); });
  }
  return !!last && last.video > 0 && last.audio > 0;
}

// Publish-page mode: a person's steps on the element's own page, then poll
// its window.rtcmeshPublish hook.
async function runPublishPage(page, opts, stopped, setWake) {
  await page.goto(opts.url);
  await page.waitForFunction(() => window.rtcmeshPublish &&
    ['preview', 'error'].includes(window.rtcmeshPublish.state.status), null, { timeout: 15000 });
  const options = await page.$$eval('#codec option', (os) => os.map((o) => o.value));
  emit('codecs', { video: options });
  if (opts.codec) await page.selectOption('#codec', opts.codec);
  if (opts.room) await page.fill('#room', opts.room);
  if (opts.name) await page.fill('#name', opts.name);
  await page.click('#publish');
  const started = Date.now();
  const deadline = started + opts.duration * 1000;
  let published = false;
  let last = null;
  while (!stopped() && Date.now() < deadline) {
    const st = await page.evaluate(async () => {
      const p = window.rtcmeshPublish;
      return { status: p.state.status, error: p.state.error, resource: p.state.resource,
        line: document.getElementById('status').textContent, stats: await p.stats() };
    });
    if (st.status === 'error') throw new Error(st.error);
    if (st.status === 'published' && !published && st.stats.video && st.stats.video.framesEncoded > 0) {
      published = true;
      emit('published', { resource: st.resource });
      if (opts.screenshot) await page.screenshot({ path: opts.screenshot });
    }
    if (published) {
      last = st.stats;
      emit('stats', { t: (Date.now() - started) / 1000, status: st.status, line: st.line, ...st.stats });
    }
    await new Promise((r) => { setWake(r); setTimeout(r, 500); });
  }
  return published && !!last && last.video.packetsSent > 0;
}

const chatOutbox = [];  // "send"/"sendjson" lines from stdin, for the room page
const pageActions = [];  // "click SELECTOR" and "screenshot FILE.png" lines from stdin (room mode)
const pageCalls = [];  // "call NAME JSON" lines from stdin (rtcpost mode)

// Room mode: the page is rtcmesh-server's; poll its window.rtcmeshRoom hook.
async function runRoom(page, opts, stopped, setWake) {
  await page.goto(opts.url);
  // The pre-join step, as a person does it: the preview comes, then Join.
  await page.waitForFunction(() => window.rtcmeshRoom &&
    window.rtcmeshRoom.state.status !== 'starting', null, { timeout: 15000 });
  if (await page.evaluate(() => window.rtcmeshRoom.state.status === 'prejoin')) {
    await page.waitForFunction(() => document.getElementById('join').textContent.startsWith('Join') &&
      /ready/.test(document.getElementById('status').textContent), null, { timeout: 15000 });
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot.replace(/\.png$/, '-prejoin.png') });
    await page.click('#join');
  }
  const started = Date.now();
  const deadline = started + opts.duration * 1000;
  let joined = false;
  while (!stopped() && Date.now() < deadline) {
    for (const action of pageActions.splice(0)) {
      const [verb, arg] = [action.slice(0, action.indexOf(' ')), action.slice(action.indexOf(' ') + 1)];
      if (verb === 'click') await page.click(arg, { timeout: 5000 });
      else await page.screenshot({ path: arg });
      emit('done-action', { action });
    }
    const st = await page.evaluate(async (outbox) => {
      const room = window.rtcmeshRoom;
      if (!room) return null;
      const sent = outbox.map((t) => (typeof t === 'string' ? room.send(t) : room.send(t.data, t)));
      return { status: room.state.status, self: room.state.self, error: room.state.error,
        line: document.getElementById('status').textContent, count: document.getElementById('count').textContent,
        peers: room.peers(), stats: await room.stats(), messages: room.messages(), sent,
        speaker: room.state.speaker, sharing: room.state.sharing, videos: room.videos(),
        remoteMuted: room.state.remoteMuted };
    }, chatOutbox.splice(0));
    if (st) {
      if (st.status === 'error') throw new Error(st.error);
      if (st.status === 'joined' && !joined) {
        joined = true;
        emit('joined', { peer: st.self });
      }
      if (joined) {
        emit('stats', { t: (Date.now() - started) / 1000, status: st.status, self: st.self, line: st.line,
          count: st.count, peers: st.peers, stats: st.stats, messages: st.messages, sent: st.sent,
          speaker: st.speaker, sharing: st.sharing, videos: st.videos, remoteMuted: st.remoteMuted });
      }
    }
    await new Promise((r) => { setWake(r); setTimeout(r, 500); });
  }
  return joined;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let stopRequested = false;
  let wake = () => {};
  const requestStop = (why) => {
    if (!stopRequested) diag(`stopping: ${why}`);
    stopRequested = true;
    wake();
  };
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  process.on('SIGINT', () => requestStop('SIGINT'));
  // stdin: "stop", or (room mode) "send TEXT" for the page's chat, or
  // "sendjson {data, to, reliable}" (data: a string, or an array of bytes).
  process.stdin.on('data', (d) => {
    for (const line of d.toString().split('\n')) {
      if (/^stop/.test(line)) requestStop('stdin');
      else if (line.startsWith('send ')) chatOutbox.push(line.slice(5));
      else if (/^(click|screenshot) /.test(line)) pageActions.push(line);
      else if (line.startsWith('sendjson ')) chatOutbox.push(JSON.parse(line.slice(9)));
      else if (line.startsWith('call ')) {
        const rest = line.slice(5);
        const space = rest.indexOf(' ');
        pageCalls.push(space < 0 ? { name: rest, arg: null } : { name: rest.slice(0, space), arg: JSON.parse(rest.slice(space + 1)) });
      }
    }
    wake();
  });
  process.stdin.on('error', () => {});

  const server = await servePage();
  const pageBase = `http://127.0.0.1:${server.address().port}/page.html`;
  emit('server', { url: pageBase });

  const userDataDir = mkdtempSync(join(tmpdir(), 'rtcmesh-chromium-'));
  let child = null;
  // Last resort if we exit without the normal cleanup: Chromium runs in its own
  // process group, so take the whole group down with us.
  process.on('exit', () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(userDataDir, { recursive: true, force: true });
  });
  let browser = null;
  let page = null;
  let ok = false;
  let published = false;
  let lastStats = null;
  // Hard limit, whatever happens: duration + 40 s.
  const hardTimer = setTimeout(async () => {
    emit('error', { message: 'hard time limit reached' });
    await killChromium(child);
    rmSync(userDataDir, { recursive: true, force: true });
    process.exit(1);
  }, (opts.duration + 40) * 1000);
  hardTimer.unref();

  try {
    const launched = launchChromium(opts.chromium, userDataDir);
    child = launched.child;
    emit('chromium', { pid: child.pid });
    const ws = await launched.wsUrl;
    browser = await chromium.connectOverCDP(ws);
    const context = browser.contexts()[0];
    page = context.pages()[0] || (await context.newPage());
    page.on('console', (msg) => process.stderr.write(`[page ${msg.type()}] ${msg.text()}\n`));
    page.on('pageerror', (err) => process.stderr.write(`[page error] ${err}\n`));

    if (opts.mode === 'player') {
      ok = await runPlayer(page, opts, () => stopRequested, (w) => { wake = w; });
    } else if (opts.mode === 'room') {
      ok = await runRoom(page, opts, () => stopRequested, (w) => { wake = w; });
    } else if (opts.mode === 'publish-page') {
      ok = await runPublishPage(page, opts, () => stopRequested, (w) => { wake = w; });
    } else {
      const query = new URLSearchParams({ mode: opts.mode, endpoint: opts.endpoint });
      if (opts.token) query.set('token', opts.token);
      if (opts.peer) query.set('peer', opts.peer);
      if (opts.room) query.set('room', opts.room);
      if (opts.runs) query.set('runs', opts.runs);
      await page.goto(`${pageBase}?${query}`);

      const started = Date.now();
      const deadline = started + opts.duration * 1000;
      while (!stopRequested && Date.now() < deadline) {
        const st = await page.evaluate(() => ({ status: window.rtcmeshTest.state.status,
          error: window.rtcmeshTest.state.error, resource: window.rtcmeshTest.state.resource }));
        if (st.status === 'error') throw new Error(st.error);
        if (st.status === 'published' && !published) {
          published = true;
          emit('published', { resource: st.resource });
        }
        for (const c of pageCalls.splice(0)) {
          try {
            const result = await page.evaluate(({ name, arg }) => window.rtcmeshTest[name](arg), c);
            emit('called', { name: c.name, result });
          } catch (e) {
            emit('called', { name: c.name, error: String(e && e.message ? e.message : e) });
          }
        }
        if (published) {
          lastStats = await page.evaluate(() => window.rtcmeshTest.stats());
          emit('stats', { t: (Date.now() - started) / 1000, ...lastStats });
          if (opts.mode === 'joinbench' && lastStats.done) break;
        }
        await new Promise((r) => { wake = r; setTimeout(r, 500); });
      }
      if (opts.mode === 'joinbench') ok = !!lastStats && lastStats.done;
      else if (opts.mode === 'whep') ok = published && !!lastStats && !!lastStats.video && lastStats.video.framesDecoded > 0;
      else ok = published && !!lastStats && (opts.mode === 'rtcpost' ? lastStats.status === 'published' :
        ((lastStats.video && lastStats.video.packetsSent > 0) || (lastStats.audio && lastStats.audio.packetsSent > 0)));
    }
  } catch (e) {
    emit('error', { message: String(e && e.message ? e.message : e) });
    ok = false;
  } finally {
    if (page && opts.mode === 'player') {
      // Leaving the page fires its pagehide DELETE, a keepalive fetch that
      // neither Playwright nor CDP report: give the network service a moment to
      // send it before Chromium closes (closing drops it).
      await Promise.race([page.goto('about:blank').catch(() => {}), sleep(5000)]);
      await sleep(1500);
      emit('stopped', {});
    } else if (page && opts.mode === 'room') {
      // leave() tells the room at once (the others get peer-left "left").
      try {
        const res = await Promise.race([
          page.evaluate(() => (window.rtcmeshRoom ? window.rtcmeshRoom.leave() : { left: false })),
          sleep(5000).then(() => ({ left: 'timeout' }))]);
        emit('stopped', res);
      } catch (e) {
        emit('error', { message: `leave failed: ${e.message}` });
      }
    } else if (page && opts.mode === 'publish-page') {
      try {
        if (await page.isEnabled('#stop')) await page.click('#stop', { timeout: 3000 });
        else await page.evaluate(() => window.rtcmeshPublish.stop());
        const res = await Promise.race([
          page.waitForFunction(() => window.rtcmeshPublish.state.status === 'stopped', null, { timeout: 5000 })
            .then(() => page.evaluate(() => window.rtcmeshPublish.lastStop)),
          sleep(6000).then(() => ({ deleteStatus: 'timeout' }))]);
        emit('stopped', res || {});
      } catch (e) {
        emit('error', { message: `stop failed: ${e.message}` });
      }
    } else if (page) {
      try {
        const res = await Promise.race([page.evaluate(() => window.rtcmeshTest.stop()), sleep(5000).then(() => ({ deleteStatus: 'timeout' }))]);
        emit('stopped', res);
      } catch (e) {
        emit('error', { message: `stop failed: ${e.message}` });
      }
    }
    if (browser) await Promise.race([browser.close().catch(() => {}), sleep(3000)]);
    await killChromium(child);
    rmSync(userDataDir, { recursive: true, force: true });
    server.close();
    emit('done', { ok });
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  emit('error', { message: String(e && e.stack ? e.stack : e) });
  process.exit(2);
});
