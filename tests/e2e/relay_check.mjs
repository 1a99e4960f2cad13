// relay_check.mjs - the relay scenarios run by relay_sessions.sh against a
// real meshd with one connected (simulated) agent. The agent's relay side
// is played here with the rcookie from authcookie, as a real agent would
// use it.
//
// env: PORT, NODE (bare node id), PASS (every account's password),
//      SESSION (a meshd_session token of admin), MESHD_PID
// usage: node relay_check.mjs basic|refusals|rights|caps|deadlines|flood
import {
  agentQuery, control, fail, msgAt, ok, refused, relay, rssKb, sleep, tunnel,
  until, viewerQuery,
} from './relay_lib.mjs';

const NODE = process.env.NODE;
const PASS = process.env.PASS;
const same = (a, b) => Buffer.compare(a, b) === 0;

// A paired session of c's user: resolves {v, a, t} after both got "c".
async function paired(c, p = 1, agentFirst = false, agentOpts = {}, start = 'c') {
  const t = await tunnel(c, NODE, p);
  if (t.result !== 'OK') fail(`tunnel: ${t.result}`);
  const open = (side) => side === 'a'
    ? relay(agentQuery(NODE, t.id, t.rcookie, p), agentOpts)
    : relay(viewerQuery(NODE, t.id, t.cookie, p));
  const first = open(agentFirst ? 'a' : 'v');
  await first.opened;
  await sleep(200);
  if (first.msgs.length) fail(`the first side got ${JSON.stringify(first.msgs)} before its peer`);
  const second = open(agentFirst ? 'v' : 'a');
  const [v, a] = agentFirst ? [second, first] : [first, second];
  for (const [r, who] of [[v, 'viewer'], [a, 'agent']]) {
    const m = await msgAt(r, 0);
    if (m.text !== start) fail(`${who} got ${JSON.stringify(m)} instead of the text "${start}"`);
  }
  return { v, a, t };
}

async function basic() {
  const admin = await control('admin', PASS);
  for (const agentFirst of [false, true]) {
    const { v, a } = await paired(admin, 1, agentFirst);
    ok(`pairing ${agentFirst ? 'agent' : 'viewer'} first: "c" (text) to both`);
    // Types and boundaries, both ways, including an empty message and
    // one over the fragment sizes.
    const big = Buffer.alloc(300000, 7);
    big[123456] = 1;
    v.ws.send('{"type":"options","cols":80}');
    v.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    v.ws.send(Buffer.alloc(0), { binary: true });
    v.ws.send(big, { binary: true });
    v.ws.send('1');
    a.ws.send(Buffer.from('hello'), { binary: true });
    a.ws.send('{"ctrlChannel":"102938","type":"console","msg":"x"}');
    const want = [{ text: '{"type":"options","cols":80}' },
      { bin: Buffer.from([1, 2, 3]) }, { bin: Buffer.alloc(0) }, { bin: big },
      { text: '1' }];
    for (let i = 0; i < want.length; i++) {
      const m = await msgAt(a, i + 1);
      const good = want[i].text !== undefined ? m.text === want[i].text
        : m.bin && same(m.bin, want[i].bin);
      if (!good) fail(`agent message ${i}: wanted ${JSON.stringify(want[i]).slice(0, 80)}`);
    }
    const m1 = await msgAt(v, 1), m2 = await msgAt(v, 2);
    if (!m1.bin || m1.bin.toString() !== 'hello') fail('viewer: binary "hello"');
    if (m2.text !== '{"ctrlChannel":"102938","type":"console","msg":"x"}') fail('viewer: text');
    ok('text stays text, binary stays binary, boundaries kept (0 B, 300 KB)');
    // Close propagation: one side leaves, the other is closed with its
    // code and reason (an application code here), or 1000 "peer closed"
    // when it left without one.
    const [leaver, stayer] = agentFirst ? [a, v] : [v, a];
    if (agentFirst) leaver.ws.close(4001, 'bye');
    else leaver.ws.close();
    const c = await stayer.closed;
    const end = agentFirst ? [4001, 'bye'] : [1000, 'peer closed'];
    if (c.code !== end[0] || c.reason !== end[1]) fail(`peer close: ${c.code} ${c.reason}`);
    ok(`${agentFirst ? 'agent' : 'viewer'} leaves: the other side gets ${end[0]} "${end[1]}"`);
  }
  // The session cookie instead of auth, same-origin; and a third
  // connection to a paired id, either side.
  const t = await tunnel(admin, NODE, 5);
  const headers = { Cookie: `meshd_session=${process.env.SESSION}`,
    Origin: `https://127.0.0.1:${process.env.PORT}` };
  const v = relay(`browser=1&p=5&nodeid=node//${NODE}&id=${t.id}`, { headers });
  const a = relay(agentQuery(NODE, t.id, t.rcookie, 5));
  if ((await msgAt(v, 0)).text !== 'c' || (await msgAt(a, 0)).text !== 'c')
    fail('session-cookie viewer did not pair');
  ok('a viewer signed in by its meshd_session cookie (same Origin) pairs');
  await refused(relay(agentQuery(NODE, t.id, t.rcookie, 5)), 'token', 'third (agent)');
  await refused(relay(viewerQuery(NODE, t.id, t.cookie, 5)), 'token', 'third (viewer)');
  ok('a third connection with a paired id is refused (cause token, 1008)');
  v.ws.close();
  await a.closed;
  await sleep(100);
  await refused(relay(agentQuery(NODE, t.id, t.rcookie, 5)), 'token', 'used id');
  ok('an id is dead after its session');
  // Audit: start and end events of the terminal and files sessions.
  const ev = await admin.ask({ action: 'events' });
  const rl = ev.events.filter((e) => e.action === 'relaylog' &&
    e.nodeid === `node//${NODE}`);
  for (const id of [14, 10, 16, 12])
    if (!rl.some((e) => e.msgid === id)) fail(`no relaylog msgid ${id}: ${JSON.stringify(rl)}`);
  const end = rl.find((e) => e.msgid === 10);
  if (!(end.bytesin > 300000) || !(end.bytesout >= 5) || end.msgArgs.length !== 4)
    fail(`end event: ${JSON.stringify(end)}`);
  ok('audit: relaylog 14/10 and 16/12 with duration and bytes');
  admin.close();
}

async function refusals() {
  const admin = await control('admin', PASS);
  const bob = await control('bob', PASS);
  const q = (id, extra) => `p=1&nodeid=node//${NODE}&id=${id}${extra}`;
  await refused(relay('p=1'), 'token', 'no id');
  await refused(relay('id=short&auth=x'), 'token', 'short id');
  await refused(relay(q('abcdefgh12', '')), 'noauth', 'no credentials');
  await refused(relay(q('abcdefgh12', '&auth=garbage')), 'noauth', 'bad auth');
  await refused(relay(q('abcdefgh12', '&rauth=garbage')), 'noauth', 'bad rauth');
  ok('no id, bad id, no credentials, bad auth or rauth: refused');
  // Unknown id with good credentials.
  const t0 = await tunnel(admin, NODE, 1);
  await refused(relay(agentQuery(NODE, 'neverRegistered1', t0.rcookie)), 'token', 'unknown id');
  // Another user's rauth for admin's id; and rauth in the tunnel request.
  const bt = await tunnel(bob, NODE, 1);
  if (bt.result !== 'Access denied') fail(`bob without rights: ${bt.result}`);
  await refused(relay(agentQuery(NODE, t0.id, bt.rcookie)), 'token', "bob's rauth");
  const t1 = await tunnel(admin, NODE, 1, { rauth: bt.rcookie });
  if (t1.result !== 'Invalid rauth') fail(`foreign rauth in value: ${t1.result}`);
  ok("another user's rauth: refused at the relay and in msg/tunnel");
  // The cookie is bound to the viewer's address.
  await refused(relay(viewerQuery(NODE, t0.id, t0.cookie), { local: '127.0.0.2' }),
    'noauth', 'cookie from another address');
  ok('a viewer cookie from another address: refused');
  // A cross-origin upgrade with a valid session cookie.
  const x = relay(`browser=1&p=1&nodeid=node//${NODE}&id=${t0.id}`, {
    headers: { Cookie: `meshd_session=${process.env.SESSION}`, Origin: 'https://evil.example' },
  });
  await x.closed;
  if (x.http !== 403) fail(`cross-origin: ${x.http}`);
  ok('cross-origin upgrade with a valid session cookie: HTTP 403');
  // Bad tunnel requests.
  const bad = async (req, want) => {
    const r = await admin.ask({ action: 'msg', type: 'tunnel', ...req });
    if (r.result !== want) fail(`${JSON.stringify(req)}: wanted ${want}, got ${r.result}`);
  };
  await bad({ nodeid: `node//${NODE}`, value: 'wss://evil.example/x?id=abcdefgh12' }, 'Invalid value');
  await bad({ nodeid: `node//${NODE}`, value: `*/meshrelay.ashx?p=1&id=abc&rauth=${t0.rcookie}` }, 'Invalid tunnel id');
  await bad({ nodeid: `node//${NODE}`, value: `*/meshrelay.ashx?p=1&nodeid=node//other&id=abcdefgh12&rauth=${t0.rcookie}` }, 'Invalid value');
  await bad({ nodeid: 'node//' + 'A'.repeat(64), value: `*/meshrelay.ashx?p=1&id=abcdefgh13&rauth=${t0.rcookie}` }, 'Access denied');
  await bad({ value: 'x' }, 'Invalid nodeid');
  await bad({ nodeid: `node//${NODE}`, usage: 'x', value: `*/meshrelay.ashx?id=abcdefgh14&rauth=${t0.rcookie}` }, 'Invalid usage');
  await bad({ nodeid: `node//${NODE}`, value: `*/meshrelay.ashx?p=1&id=${t0.id}&rauth=${t0.rcookie}` }, 'Tunnel id in use');
  const r = await admin.ask({ action: 'msg', type: 'console' });
  if (r.result !== 'Unsupported message type') fail(`msg console: ${r.result}`);
  ok('msg/tunnel: foreign URL, bad id, other node, unknown node, bad usage, id in use');
  admin.close();
  bob.close();
}

async function rights() {
  // tina: 8|512 (no terminal), nora: 8|1024 (no files), vic: 256 (view only).
  const tina = await control('tina', PASS);
  const nora = await control('nora', PASS);
  const vic = await control('vic', PASS);
  const expect = async (c, p, want, who) => {
    const t = await tunnel(c, NODE, p);
    if (t.result !== want) fail(`${who} p=${p}: wanted ${want}, got ${t.result}`);
    return t;
  };
  await expect(tina, 1, 'Access denied', 'tina');
  const tf = await expect(tina, 5, 'OK', 'tina');
  await expect(nora, 5, 'Access denied', 'nora');
  await expect(nora, 4, 'Access denied', 'nora');
  const nt = await expect(nora, 1, 'OK', 'nora');
  await expect(vic, 1, 'Access denied', 'vic');
  await expect(vic, 5, 'Access denied', 'vic');
  await expect(vic, 2, 'OK', 'vic'); // view-only desktop (spec §9.1)
  ok('msg/tunnel: NOTERMINAL p=1, NOFILES p=4/5, no REMOTECONTROL: Access denied; view-only may watch a desktop');
  // The relay checks too: a viewer URL asking another protocol.
  await refused(relay(viewerQuery(NODE, tf.id, tf.cookie, 1)), 'rights', 'tina p=1');
  await refused(relay(viewerQuery(NODE, nt.id, nt.cookie, 5)), 'rights', 'nora p=5');
  ok('relay: NOTERMINAL viewer with p=1, NOFILES viewer with p=5: cause rights');
  for (const c of [tina, nora, vic]) c.close();
}

async function caps() {
  const capu = await control('capu', PASS);
  const results = [];
  for (let i = 0; i < 33; i++) results.push((await tunnel(capu, NODE, 1)).result);
  if (results.slice(0, 32).some((r) => r !== 'OK')) fail(`first 32: ${results}`);
  if (results[32] !== 'Too many sessions') fail(`33rd: ${results[32]}`);
  ok('33rd tunnel of one user: Too many sessions');
  capu.close();
}

// Registration expiry (30 s) and the pairing deadline (15 s), together.
async function deadlines() {
  const admin = await control('admin', PASS);
  const late = await tunnel(admin, NODE, 1);
  const lone = await tunnel(admin, NODE, 1);
  const v = relay(viewerQuery(NODE, lone.id, lone.cookie));
  await v.opened;
  const c = await v.closed;
  const waited = (Date.now() - v.openAt) / 1000;
  if (c.code !== 1008 || c.reason !== 'no peer in time' || waited < 14.5 || waited > 17)
    fail(`pairing deadline: ${c.code} ${c.reason} after ${waited}s`);
  ok(`a lone viewer is closed after ${waited.toFixed(1)} s (1008 "no peer in time")`);
  await sleep(15500);
  await refused(relay(agentQuery(NODE, late.id, late.rcookie)), 'token', 'expired id');
  ok('an id nobody joined within 30 s is refused');
  admin.close();
}

// One side stops reading while the other sends 200 MB: meshd holds the
// sender back, its memory stays bounded, it keeps serving; once the
// reader reads again every byte arrives.
async function flood() {
  const pid = +process.env.MESHD_PID;
  const admin = await control('admin', PASS);
  const { v, a } = await paired(admin, 5, false, { countOnly: true });
  const before = rssKb(pid);
  a.ws._socket.pause();
  const TOTAL = 200 * 1024 * 1024, CHUNK = 64 * 1024;
  const chunk = Buffer.alloc(CHUNK, 0x5a);
  let sent = 0;
  let maxRss = before;
  const pump = (async () => {
    while (sent < TOTAL) {
      if (v.ws.bufferedAmount > 8 * CHUNK) { await sleep(5); continue; }
      v.ws.send(chunk, { binary: true });
      sent += CHUNK;
    }
  })();
  // Stalled: the sender cannot get rid of its bytes for long.
  await sleep(4000);
  const stalledAt = sent;
  maxRss = Math.max(maxRss, rssKb(pid));
  await sleep(2000);
  maxRss = Math.max(maxRss, rssKb(pid));
  if (sent - stalledAt > 4 * 1024 * 1024) fail(`sender not held back: ${sent - stalledAt} more bytes`);
  const t0 = Date.now();
  const probe = await Promise.race([admin.ask({ action: 'meshes' }), sleep(5000)]);
  if (!probe) fail('meshd stopped answering during the flood');
  ok(`reader paused: sender stalled at ${(stalledAt / 1048576).toFixed(1)} MB, meshd RSS ${before} -> ${maxRss} kB, answering (${Date.now() - t0} ms)`);
  if (maxRss - before > 48 * 1024) fail(`meshd RSS grew by ${maxRss - before} kB`);
  // Resume: everything arrives.
  a.ws._socket.resume();
  const watch = setInterval(() => { maxRss = Math.max(maxRss, rssKb(pid)); }, 200);
  await pump;
  await until(() => a.bytes >= TOTAL + 1, 180000, 'all 200 MB at the agent side');
  clearInterval(watch);
  if (maxRss - before > 48 * 1024) fail(`meshd RSS grew by ${maxRss - before} kB`);
  ok(`200 MB relayed after the reader resumed; meshd RSS peak +${maxRss - before} kB`);
  v.ws.close();
  await a.closed;
  admin.close();
}

// Terminal recordings: a group with recordSessions records p=1 (start
// signal "cr") as asciicast v2; the list and the file are for those who
// may open a terminal there.
async function record() {
  const admin = await control('admin', PASS);
  const set = await admin.ask({ action: 'editmesh', meshid: `mesh//${process.env.GROUP}`, recordSessions: true });
  if (set.result !== 'ok') fail(`editmesh: ${JSON.stringify(set)}`);
  const bad = await admin.ask({ action: 'editmesh', meshid: `mesh//${process.env.GROUP}`, recordSessions: 'yes' });
  if (bad.result !== 'Invalid recordSessions') fail(`editmesh bad: ${bad.result}`);
  const meshes = await admin.ask({ action: 'meshes' });
  if (!meshes.meshes.some((m) => m.recordSessions === true)) fail('recordSessions not in the group JSON');
  ok('editmesh recordSessions: stored and shown as recordSessions in the group');
  const files = await paired(admin, 5);
  files.v.ws.close();
  await files.a.closed;
  ok('a files session in that group is not recorded ("c")');
  const { v, a } = await paired(admin, 1, false, {}, 'cr');
  v.ws.send('{"type":"options","cols":100,"rows":30}');
  v.ws.send('1');
  await msgAt(a, 2);
  a.ws.send(Buffer.from('hello \xe2\x82', 'latin1'), { binary: true });
  a.ws.send(Buffer.from('\xac world\xff', 'latin1'), { binary: true });
  v.ws.send(Buffer.from('secret-keys'), { binary: true });
  v.ws.send('{"ctrlChannel":"102938","type":"termsize","cols":120,"rows":40}');
  a.ws.send('{"ctrlChannel":"102938","type":"console","msg":"agent-text"}');
  await msgAt(a, 4);
  await msgAt(v, 3);
  a.ws.send(Buffer.from('bye'), { binary: true });
  await msgAt(v, 4);
  v.ws.close();
  await a.closed;
  ok('recorded terminal session: "cr" to both');
  let list;
  await (async () => {
    for (let i = 0; i < 50; i++) {
      list = await admin.ask({ action: 'recordings', nodeid: `node//${NODE}` });
      if (list.recordings && list.recordings.length && list.recordings[0].size > 0) return;
      await sleep(100);
    }
    fail(`recordings: ${JSON.stringify(list)}`);
  })();
  const rec = list.recordings[0];
  if (list.recordings.length !== 1 || rec.userid !== 'user//admin' || !(rec.start > 0) ||
      !(rec.duration >= 0) || !/^[0-9a-f]{24}$/.test(rec.id))
    fail(`recordings entry: ${JSON.stringify(list)}`);
  ok(`recordings lists it: ${JSON.stringify(rec)}`);
  const get = async (id, session) => {
    const { request } = await import('node:https');
    return new Promise((res, rej) => {
      request({ host: '127.0.0.1', port: process.env.PORT, path: `/api/recording?id=${id}`,
        rejectUnauthorized: false, headers: session ? { Cookie: `meshd_session=${session}` } : {} },
      (r) => { let b = ''; r.on('data', (d) => { b += d; }); r.on('end', () => res({ status: r.statusCode, body: b, type: r.headers['content-type'] })); })
        .on('error', rej).end();
    });
  };
  const got = await get(rec.id, process.env.SESSION);
  if (got.status !== 200 || got.type !== 'application/x-asciicast') fail(`GET: ${got.status} ${got.type}`);
  const lines = got.body.trim().split('\n').map((l) => JSON.parse(l));
  const h = lines[0];
  if (h.version !== 2 || h.width !== 100 || h.height !== 30 || !(h.timestamp > 1600000000))
    fail(`header: ${JSON.stringify(h)}`);
  const out = lines.slice(1).filter((l) => l[1] === 'o').map((l) => l[2]).join('');
  if (out !== 'hello \u20ac world\ufffdbye') fail(`output: ${JSON.stringify(out)}`);
  if (!lines.some((l) => l[1] === 'r' && l[2] === '120x40')) fail('no resize line');
  if (got.body.includes('secret-keys') || got.body.includes('agent-text')) fail('input or control text recorded');
  for (let i = 2; i < lines.length; i++)
    if (!(lines[i][0] >= lines[i - 1][0])) fail('times go backwards');
  if (+rec.size !== Buffer.byteLength(got.body)) fail(`size ${rec.size} != ${Buffer.byteLength(got.body)}`);
  ok('the .cast: v2 header 100x30, output with a split UTF-8 character joined, a bad byte as U+FFFD, resize 120x40, no keystrokes');
  const bob = await control('bob', PASS);
  const denied = await bob.ask({ action: 'recordings', nodeid: `node//${NODE}` });
  if (denied.result !== 'Access denied') fail(`bob's list: ${JSON.stringify(denied)}`);
  if ((await get(rec.id, process.env.BOB_SESSION)).status !== 404) fail("bob's GET");
  if ((await get(rec.id, null)).status !== 403) fail('GET without a session');
  if ((await get('../../meshd.db', process.env.SESSION)).status !== 404) fail('GET with a path');
  ok('no rights: Access denied and 404; no session: 403; a path as id: 404');
  await admin.ask({ action: 'editmesh', meshid: `mesh//${process.env.GROUP}`, recordSessions: false });
  const plain = await paired(admin, 1);
  plain.v.ws.close();
  await plain.a.closed;
  ok('recordSessions false: "c" again');
  bob.close();
  admin.close();
}

const scenarios = { basic, refusals, rights, caps, deadlines, flood, record };
const which = process.argv.slice(2);
try {
  for (const name of which) {
    if (!scenarios[name]) fail(`unknown scenario ${name}`);
    await scenarios[name]();
  }
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  process.exit(1);
}
