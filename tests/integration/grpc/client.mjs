// A gRPC room client that is not ours: @grpc/grpc-js + @grpc/proto-loader
// (pure JS) load proto/rtcmesh/v1/signaling.proto as any gRPC user would.
// Driven line by line so a test (tests/integration/grpc_test.cpp) or a
// person can script it:
//
//   node client.mjs --target 127.0.0.1:PORT --proto path/to/signaling.proto [--ca CERT.pem]
//   (--ca: TLS, grpcs://, trusting that PEM certificate)
//
// stdin, one JSON command per line:
//   {"op":"open","stream":"a","token":"T"}   a Signal stream (token → authorization: Bearer T)
//   {"op":"send","stream":"a","request":{"request_id":1,"join":{"room":"demo"}}}
//   {"op":"end","stream":"a"}                 half-close (the participant leaves)
//   {"op":"cancel","stream":"a"}
//   {"op":"admin","id":"x","method":"ListRooms","request":{},"token":"T"}   a unary rtcmesh.v1.Admin call
//   {"op":"quit"}
// stdout, one JSON event per line:
//   {"stream":"a","event":"response","response":{"reply":{…}}}  (a SignalResponse, fields as in the proto)
//   {"stream":"a","event":"status","code":16,"details":"…"}     the stream's end (code 0 = OK)
//   {"event":"admin","id":"x","code":0,"response":{…}}          an admin call's outcome
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import fs from 'node:fs';
import readline from 'node:readline';

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const target = arg('target', '127.0.0.1:50051');
const protoPath = arg('proto', new URL('../../../proto/rtcmesh/v1/signaling.proto', import.meta.url).pathname);

const def = protoLoader.loadSync(protoPath, {keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true});
const v1 = grpc.loadPackageDefinition(def).rtcmesh.v1;
const ca = arg('ca');
const creds = ca ? grpc.credentials.createSsl(fs.readFileSync(ca)) : grpc.credentials.createInsecure();
const client = new v1.Signaling(target, creds, {
  'grpc.max_send_message_length': 16 * 1024 * 1024,
});

const admin = new v1.Admin(target, creds);
const streams = new Map();
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// A request may carry "pad": N, replaced by an SDP-looking string of N bytes
// (oversize checks without megabytes on the command line).
function expand(request) {
  for (const key of ['offer', 'answer', 'publish']) {
    if (request[key] && typeof request[key].pad === 'number') {
      request[key].sdp = 'v=0\r\n' + 'a=x:' + 'y'.repeat(request[key].pad) + '\r\n';
      delete request[key].pad;
    }
  }
  return request;
}

function handle(cmd) {
  const name = cmd.stream || 'a';
  switch (cmd.op) {
    case 'open': {
      const md = new grpc.Metadata();
      if (cmd.token !== undefined) md.set('authorization', 'Bearer ' + cmd.token);
      const call = client.Signal(md);
      streams.set(name, call);
      call.on('data', (response) => emit({stream: name, event: 'response', response}));
      call.on('status', (s) => emit({stream: name, event: 'status', code: s.code, details: s.details}));
      call.on('error', () => {});  // the status event reports it
      break;
    }
    case 'send':
      streams.get(name).write(expand(cmd.request));
      break;
    case 'end':
      streams.get(name).end();
      break;
    case 'cancel':
      streams.get(name).cancel();
      break;
    case 'admin': {
      const md = new grpc.Metadata();
      if (cmd.token !== undefined) md.set('authorization', 'Bearer ' + cmd.token);
      admin[cmd.method](cmd.request || {}, md, (err, response) =>
        emit({event: 'admin', id: cmd.id, code: err ? err.code : 0, details: err ? err.details : '', response}));
      break;
    }
    case 'quit':
      for (const s of streams.values()) s.cancel();
      client.close();
      admin.close();
      setTimeout(() => process.exit(0), 100);
      break;
    default:
      emit({event: 'bad-command', cmd});
  }
}

const rl = readline.createInterface({input: process.stdin});
rl.on('line', (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (e) {
    emit({event: 'bad-command', error: String(e)});
  }
});
// stdin closed (a here-doc, a pipe): a second for the last replies, then quit.
rl.on('close', () => setTimeout(() => handle({op: 'quit'}), 1000));
emit({event: 'ready'});
