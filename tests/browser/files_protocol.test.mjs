// files_protocol.test.mjs - the web app's files protocol client
// (web/files_session.js) driven in node against a scripted agent: chunk
// escaping, the 8-chunk upload window clocked by acks, uploaddone after
// the last ack, download blocks acked one by one and joined, stale blocks
// of a stopped download ignored, errors and cancels. No browser needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FilesSession, decodeBlock, escapeChunk, joinPath } from '../../web/files_session.js';

/** A session whose tunnel is open and records what it sends. */
function session() {
  const s = new FilesSession(null, 'node//x');
  const sent = [];
  s.tunnel.opened = true;
  s.tunnel.send = (bytes) => sent.push(bytes);
  const json = () => sent.filter((b) => b[0] === 0x7b)
    .map((b) => JSON.parse(Buffer.from(b).toString()));
  const reply = (obj) => s.tunnel.ondata(new TextEncoder().encode(JSON.stringify(obj)));
  return { s, sent, json, reply };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
async function settle() {
  for (let i = 0; i < 20; i++) await tick();
}

function block(data, last) {
  const b = new Uint8Array(4 + data.length);
  new DataView(b.buffer).setUint32(0, last ? 0x01000001 : 0x01000000);
  b.set(data, 4);
  return b;
}

test('chunk escaping and block decoding', () => {
  assert.deepEqual([...escapeChunk(Uint8Array.of(0x7b, 1))], [0, 0x7b, 1]);
  assert.deepEqual([...escapeChunk(Uint8Array.of(0, 1))], [0, 0, 1]);
  assert.deepEqual([...escapeChunk(Uint8Array.of(0x41))], [0x41]);
  assert.equal(escapeChunk(new Uint8Array(0)).length, 0);
  assert.equal(decodeBlock(Uint8Array.of(1, 0, 0)), null, 'short');
  assert.equal(decodeBlock(Uint8Array.of(2, 0, 0, 0, 9)), null, 'bad flags');
  const b = decodeBlock(block(Uint8Array.of(7, 8), true));
  assert.deepEqual([...b.data], [7, 8]);
  assert.equal(b.last, true);
  assert.equal(decodeBlock(block(new Uint8Array(0), false)).last, false);
  assert.equal(joinPath('/', 'a'), '/a');
  assert.equal(joinPath('/tmp', 'a'), '/tmp/a');
});

test('upload: window of 8, one chunk per ack, then uploaddone', async () => {
  const { s, sent, json, reply } = session();
  // 10 chunks and a bit; the first byte is '{', so the first chunk is escaped.
  const size = 65536 * 10 + 5;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
  data[0] = 0x7b;
  const t = s.upload('/tmp', new File([data], 'a.bin'));
  assert.deepEqual(json()[0], { action: 'upload', reqid: t.reqid, path: '/tmp', name: 'a.bin', size });
  reply({ action: 'uploadstart', reqid: t.reqid });
  await settle();
  const chunks = () => sent.filter((b) => b[0] !== 0x7b);
  assert.equal(chunks().length, 8, 'eight chunks ahead of any ack');
  reply({ action: 'uploadack', reqid: t.reqid + 100 }); // not ours
  await settle();
  assert.equal(chunks().length, 8);
  for (let i = 0; i < 3; i++) {
    reply({ action: 'uploadack', reqid: t.reqid });
    await settle();
  }
  assert.equal(chunks().length, 11, 'all sent');
  assert.ok(!json().some((c) => c.action === 'uploaddone'), 'not before the last ack');
  for (let i = 0; i < 8; i++) reply({ action: 'uploadack', reqid: t.reqid });
  await settle();
  assert.deepEqual(json().at(-1), { action: 'uploaddone', reqid: t.reqid });
  // The bytes, unescaped as the agent does (one leading 0x00 dropped),
  // are the file; every chunk here starts with '{' or 0, so all are escaped.
  assert.ok(chunks().every((c) => c[0] === 0));
  const got = Buffer.concat(chunks().map((c) => Buffer.from(c.subarray(1))));
  assert.ok(got.equals(Buffer.from(data)));
  reply({ action: 'uploaddone', reqid: t.reqid });
  assert.equal(t.state, 'done');
  assert.equal(s.queue.length, 0);
});

test('upload of an empty file and a write error without reqid', async () => {
  const { s, json, reply } = session();
  const t = s.upload('/', new File([], 'empty'));
  reply({ action: 'uploadstart', reqid: t.reqid });
  await settle();
  assert.deepEqual(json().at(-1), { action: 'uploaddone', reqid: t.reqid });
  reply({ action: 'uploaddone', reqid: t.reqid });
  assert.equal(t.state, 'done');
  const u = s.upload('/', new File(['x'], 'x'));
  reply({ action: 'uploaderror' });
  assert.equal(u.state, 'error');
  const v = s.upload('/', new File(['x'], 'x'));
  reply({ action: 'uploaderror', reqid: v.reqid, error: 'disk full' });
  assert.equal(v.error, 'disk full');
});

test('download: start, startack, an ack per block, the Blob', async () => {
  const { s, json, reply } = session();
  const t = s.download('/var', 'log.txt', 16380 + 3);
  const start = json().at(-1);
  assert.deepEqual(start, { action: 'download', sub: 'start', id: t.id, path: '/var/log.txt' });
  // A block before the start reply belongs to no download of ours.
  s.tunnel.ondata(block(Uint8Array.of(9, 9, 9), true));
  assert.equal(t.state, 'running');
  s.tunnel.ontext(JSON.stringify({ action: 'download', sub: 'start', id: t.id }));
  assert.deepEqual(json().at(-1), { action: 'download', sub: 'startack', id: t.id });
  s.tunnel.ondata(block(new Uint8Array(16380).fill(1), false));
  assert.deepEqual(json().at(-1), { action: 'download', sub: 'ack', id: t.id });
  assert.equal(t.got, 16380);
  const acks = json().filter((c) => c.sub === 'ack').length;
  s.tunnel.ondata(block(Uint8Array.of(2, 3, 4), true));
  assert.equal(json().filter((c) => c.sub === 'ack').length, acks, 'no ack for the last block');
  assert.equal(t.state, 'done');
  const bytes = new Uint8Array(await t.blob.arrayBuffer());
  assert.equal(bytes.length, 16383);
  assert.deepEqual([...bytes.subarray(16378)], [1, 1, 2, 3, 4]);
});

test('download refused, cancel, and the queue moving on', () => {
  const { s, json } = session();
  const a = s.download('/', 'a', 1);
  const b = s.download('/', 'b', 1);
  assert.equal(b.state, 'waiting', 'one transfer at a time');
  s.tunnel.ontext(JSON.stringify({ action: 'download', sub: 'cancel', id: a.id }));
  assert.equal(a.state, 'error');
  assert.equal(b.state, 'running');
  s.cancel(b);
  assert.deepEqual(json().at(-1), { action: 'download', sub: 'stop', id: b.id });
  assert.equal(b.state, 'cancelled');
  let closed = null;
  s.onclose = (info) => { closed = info; };
  const c = s.download('/', 'c', 1);
  s.tunnel.finish({ code: 1006, reason: '' });
  assert.equal(c.state, 'error');
  assert.equal(closed.code, 1006);
});

test('listings, error replies and junk', () => {
  const { s, reply } = session();
  const seen = [];
  const errors = [];
  s.onlist = (path, dir, reqid, why) => seen.push([path, dir, reqid, why]);
  s.onerror = (text) => errors.push(text);
  const id = s.list('');
  reply({ path: '/', reqid: id, dir: [{ n: 'etc', t: 2 }] });
  reply({ path: '/nope', reqid: id + 1, dir: null, error: 'No such file' });
  reply({ action: 'error', cmd: 'mkdir', reqid: 3, msg: 'File exists' });
  reply({ action: 'error', cmd: 'rm' });
  s.tunnel.ondata(new TextEncoder().encode('{not json'));
  s.tunnel.ontext('[]');
  assert.deepEqual(seen, [['/', [{ n: 'etc', t: 2 }], id, ''], ['/nope', null, id + 1, 'No such file']]);
  assert.deepEqual(errors, ['File exists', 'rm failed']);
});
