// A participant built from parts that are not ours: gRPC signaling with
// @grpc/grpc-js + @grpc/proto-loader, WebRTC with werift (pure JS: ICE,
// DTLS, SRTP, SDP). It joins a mesh room, offers a sendonly VP8 track to
// one peer (as the later joiner does, docs/protocol.md), and sends the VP8
// RTP packets it receives on a local UDP port (printed) as that track.
//
//   node werift_publisher.mjs --target 127.0.0.1:PORT --proto signaling.proto
//        --room R --peer ME --to PEER [--token T]
// stdout, JSON lines: {"event":"rtp-port","port":N}, {"event":"joined",…},
// {"event":"answer"}, {"event":"connection","state":"connected"},
// {"event":"rtp","packets":N}, {"event":"error",…}.
// Only 127.0.0.1 is used (host candidates elsewhere are dropped).
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import dgram from 'node:dgram';
import {MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters} from 'werift';

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const room = arg('room'), me = arg('peer'), to = arg('to'), token = arg('token');

const def = protoLoader.loadSync(arg('proto'), {keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true});
const v1 = grpc.loadPackageDefinition(def).rtcmesh.v1;
const client = new v1.Signaling(arg('target'), grpc.credentials.createInsecure());
const md = new grpc.Metadata();
if (token) md.set('authorization', 'Bearer ' + token);
const call = client.Signal(md);
let nextId = 1;
const pending = new Map();
function request(body) {
  const id = nextId++;
  call.write({request_id: id, ...body});
  return new Promise((resolve, reject) => pending.set(id, {resolve, reject}));
}

const loopbackOnly = (sdp) =>
  sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || l.includes(' 127.0.0.1 ')).join('\r\n');

const pc = new RTCPeerConnection({
  codecs: {
    video: [new RTCRtpCodecParameters({
      mimeType: 'video/VP8', clockRate: 90000,
      rtcpFeedback: [{type: 'nack'}, {type: 'nack', parameter: 'pli'}],
    })],
    audio: [],
  },
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceUseIpv6: false,
  iceFilterCandidatePair: (pair) =>
    pair.localCandidate.host === '127.0.0.1' && pair.remoteCandidate.host === '127.0.0.1',
});
const track = new MediaStreamTrack({kind: 'video'});
pc.addTransceiver(track, {direction: 'sendonly'});
pc.connectionStateChange.subscribe((state) => emit({event: 'connection', state}));

call.on('data', async (response) => {
  try {
    if (response.reply) {
      const p = pending.get(response.reply.request_id);
      pending.delete(response.reply.request_id);
      if (!p) return;
      if (response.reply.error) p.reject(response.reply.error);
      else p.resolve(response.reply);
      return;
    }
    const note = response.notification;
    if (note.answer && note.answer.from === to) {
      await pc.setRemoteDescription({type: 'answer', sdp: note.answer.sdp});
      emit({event: 'answer'});
    } else if (note.candidate && note.candidate.from === to) {
      const c = note.candidate;
      if (c.candidate && c.candidate.includes(' 127.0.0.1 '))
        await pc.addIceCandidate({candidate: c.candidate, sdpMid: c.sdp_mid, sdpMLineIndex: c.sdp_mline_index});
    }
  } catch (e) {
    emit({event: 'error', where: 'notification', error: String(e)});
  }
});
call.on('status', (s) => emit({event: 'status', code: s.code, details: s.details}));
call.on('error', () => {});

const udp = dgram.createSocket('udp4');
let packets = 0;
udp.on('message', (msg) => {
  if (pc.connectionState !== 'connected') return;
  track.writeRtp(msg);
  packets++;
  if (packets === 1 || packets % 100 === 0) emit({event: 'rtp', packets});
});
udp.bind(0, '127.0.0.1', () => emit({event: 'rtp-port', port: udp.address().port}));

try {
  const joined = await request({join: {room, peer: me}});
  emit({event: 'joined', peers: joined.join.peers || []});
  await pc.setLocalDescription(await pc.createOffer());
  while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 20));
  await request({offer: {to, sdp: loopbackOnly(pc.localDescription.sdp), negotiation_id: {number: 1}}});
  emit({event: 'offered'});
} catch (e) {
  emit({event: 'error', where: 'setup', error: e.message || JSON.stringify(e)});
}
process.on('SIGTERM', () => {
  call.end();
  pc.close();
  process.exit(0);
});
