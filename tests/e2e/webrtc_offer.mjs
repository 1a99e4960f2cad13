// webrtc_offer.mjs - the viewer's side of tests/e2e/webrtc_offer.sh: a
// hand-made viewer (no browser) that sends a Chrome-style data-channel
// offer over the relay to a real meshagent through a real meshd, reads
// the answer the way a browser would, and plays the browser's ICE with a
// UDP socket of its own: the offer's one IPv4 host candidate points at it,
// so the agent's connectivity checks land there, and checks sent from it
// to the answer's candidate port reach the agent's ICE.
//
// Environment: PORT (meshd), NODE (node//...), GROUP, PASS (admin's),
// AGENT_LOG, MESHD_LOG. Prints "ok - ..." per step; throws on failure.
import { createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { control, fail, msgAt, ok, relay, sleep, tunnel, until, viewerQuery } from './relay_lib.mjs';

const NODE = process.env.NODE.replace(/^node\/\//, '');
const PASS = process.env.PASS;
const CTRL = '102938';

// ------------------------------------------------------------ logs

const agentLog = () => readFileSync(process.env.AGENT_LOG, 'utf8');
const meshdLog = () => readFileSync(process.env.MESHD_LOG, 'utf8');
// What a log gained since mark (its length then).
const since = (text, mark) => text.slice(mark);
const count = (text, re) => (text.match(new RegExp(re, 'g')) || []).length;

// Waits for the agent's log to gain a line matching re after mark;
// resolves with that line.
async function agentLine(mark, re, what, ms = 10000) {
  let line;
  await until(() => {
    line = since(agentLog(), mark).split('\n').find((l) => re.test(l));
    return !!line;
  }, ms, `${what} (agent log: ${since(agentLog(), mark).slice(-1500)})`);
  return line;
}

// ------------------------------------------------------------ the offer

const iceChars = (n) => randomBytes(n).toString('base64').replace(/[^A-Za-z0-9+/]/g, 'x').slice(0, n);
const fingerprint = () => [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

// Chrome's data-channel offer as the stock viewer sends it (candidates
// appended after gathering): one mDNS host, one TCP and one IPv6
// candidate the agent cannot use, and one IPv4 host candidate at port.
function chromeOffer({ ufrag, pwd, port, mid = '0', setup = 'actpass', ufragLine }) {
  return [
    'v=0',
    `o=- ${BigInt.asUintN(63, randomBytes(8).readBigUInt64BE())} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${mid}`,
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    ufragLine || `a=ice-ufrag:${ufrag}`,
    `a=ice-pwd:${pwd}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint()}`,
    `a=setup:${setup}`,
    `a=mid:${mid}`,
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    'a=candidate:3442447574 1 udp 2122260223 4e3a2f4b-3f1c-4a3d-9c0e-2f1d6b7a8c9d.local 54400 typ host generation 0 network-id 1 network-cost 10',
    'a=candidate:2713245045 1 tcp 1518280447 4e3a2f4b-3f1c-4a3d-9c0e-2f1d6b7a8c9d.local 9 typ host tcptype active generation 0 network-id 1 network-cost 10',
    'a=candidate:1221428731 1 udp 2122197247 2001:db8::5c1f:a3ff:fe21:9d7e 54401 typ host generation 0 network-id 2',
    `a=candidate:1410536466 1 udp 2122129151 127.0.0.1 ${port} typ host generation 0 network-id 3`,
    '',
  ].join('\r\n');
}

// What a browser needs from the answer (RTCPeerConnection would refuse
// it, or never connect, without these). Returns the parts we use.
function checkAnswer(m, off) {
  if (m.ctrlChannel !== CTRL || m.type !== 'answer' || typeof m.sdp !== 'string')
    fail(`answer envelope: ${JSON.stringify(m).slice(0, 300)}`);
  const sdp = m.sdp;
  const lines = sdp.split('\r\n');
  if (lines[0] !== 'v=0' || lines.pop() !== '' || lines.some((l) => l.includes('\n')))
    fail(`answer is not CRLF SDP starting with v=0: ${JSON.stringify(sdp)}`);
  const one = (re, what) => {
    const hits = lines.map((l) => l.match(re)).filter(Boolean);
    if (hits.length !== 1) fail(`answer: wanted one ${what}, got ${hits.length}:\n${sdp}`);
    return hits[0];
  };
  one(/^m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel$/, 'data-channel m-line');
  one(/^a=setup:passive$/, 'a=setup:passive');
  one(/^a=fingerprint:sha-256 [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/, 'sha-256 fingerprint of 32 bytes');
  const ufrag = one(/^a=ice-ufrag:([A-Za-z0-9+/]{4,256})$/, 'a=ice-ufrag')[1];
  const pwd = one(/^a=ice-pwd:([A-Za-z0-9+/]{22,256})$/, 'a=ice-pwd')[1];
  const mid = one(/^a=mid:(\S+)$/, 'a=mid')[1];
  if (mid !== off.mid) fail(`answer a=mid:${mid}, the offer's was ${off.mid}`);
  one(new RegExp(`^a=group:BUNDLE ${off.mid}$`), 'a=group:BUNDLE with the mid');
  one(/^a=sctp-port:5000$/, 'a=sctp-port:5000');
  const mms = +one(/^a=max-message-size:(\d+)$/, 'a=max-message-size')[1];
  if (!(mms >= 65536)) fail(`answer a=max-message-size:${mms}`);
  const cands = lines.map((l) => l.match(
    /^a=candidate:\S+ 1 udp \d+ (\d+\.\d+\.\d+\.\d+) (\d+) typ host$/i)).filter(Boolean);
  if (!cands.length) fail(`answer has no IPv4 UDP host candidate:\n${sdp}`);
  const ports = new Set(cands.map((c) => +c[2]));
  const port = cands[0][2] | 0;
  if (ports.size !== 1 || !(port > 0 && port < 65536))
    fail(`answer candidate ports ${[...ports]} (one socket, one port)`);
  if (ufrag === off.ufrag || pwd === off.pwd) fail('answer echoes the offer\'s ICE credentials');
  return { ufrag, pwd, port, sdp };
}

// ------------------------------------------------------------ STUN

const MAGIC = 0x2112a442;
const A = { USERNAME: 0x0006, MI: 0x0008, XOR_MAPPED: 0x0020, PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025, FINGERPRINT: 0x8028, CONTROLLED: 0x8029, CONTROLLING: 0x802a };

// Parses one STUN message strictly enough for the test: header, then
// attributes to the end, each padded to 4. Returns {type, tid, attrs:
// [{type, value, at}]} (at: the attribute's offset) or null.
function stunParse(b) {
  if (b.length < 20 || (b[0] & 0xc0) || b.readUInt32BE(4) !== MAGIC) return null;
  const len = b.readUInt16BE(2);
  if (len % 4 || 20 + len !== b.length) return null;
  const attrs = [];
  for (let at = 20; at < b.length;) {
    if (at + 4 > b.length) return null;
    const type = b.readUInt16BE(at), n = b.readUInt16BE(at + 2);
    if (at + 4 + n > b.length) return null;
    attrs.push({ type, value: b.subarray(at + 4, at + 4 + n), at });
    at += 4 + ((n + 3) & ~3);
  }
  return { type: b.readUInt16BE(0), tid: b.subarray(8, 20), attrs };
}

// MESSAGE-INTEGRITY (RFC 5389 §15.4) over the message up to the attribute
// at `at`, the length field counting up to its end; key: the ICE pwd.
function integrity(b, at, pwd) {
  const m = Buffer.from(b.subarray(0, at));
  m.writeUInt16BE(at + 24 - 20, 2);
  return createHmac('sha1', pwd).update(m).digest();
}
function fingerprintOf(b, at) {
  const m = Buffer.from(b.subarray(0, at));
  m.writeUInt16BE(at + 8 - 20, 2);
  return (crc32(m) ^ 0x5354554e) >>> 0;
}

// Checks MESSAGE-INTEGRITY (keyed with pwd) and FINGERPRINT (last) of
// message b parsed as s.
function stunVerify(b, s, pwd, what) {
  const mi = s.attrs.find((a) => a.type === A.MI);
  const fp = s.attrs[s.attrs.length - 1];
  if (!mi || !integrity(b, mi.at, pwd).equals(mi.value)) fail(`${what}: MESSAGE-INTEGRITY`);
  if (!fp || fp.type !== A.FINGERPRINT || fp.value.readUInt32BE(0) !== fingerprintOf(b, fp.at))
    fail(`${what}: FINGERPRINT (not last, or wrong)`);
}

function attr(type, value) {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

// A browser's check: Binding request with USERNAME, PRIORITY,
// ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY (keyed with the
// agent's pwd) and FINGERPRINT.
function browserCheck(username, pwd) {
  const tid = randomBytes(12);
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(1853824767);
  let body = Buffer.concat([attr(A.USERNAME, Buffer.from(username)), attr(A.PRIORITY, prio),
    attr(A.CONTROLLING, randomBytes(8)), attr(A.USE_CANDIDATE, Buffer.alloc(0))]);
  const head = (n) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x0001, 0);
    h.writeUInt16BE(n, 2);
    h.writeUInt32BE(MAGIC, 4);
    tid.copy(h, 8);
    return h;
  };
  let msg = Buffer.concat([head(body.length), body]);
  body = Buffer.concat([body, attr(A.MI, integrity(msg, msg.length, pwd))]);
  msg = Buffer.concat([head(body.length), body]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE(fingerprintOf(msg, msg.length));
  body = Buffer.concat([body, attr(A.FINGERPRINT, fp)]);
  return { tid, msg: Buffer.concat([head(body.length), body]) };
}

// A UDP socket on 127.0.0.1 that keeps every datagram with its sender.
async function udpPeer() {
  const sock = dgram.createSocket('udp4');
  const got = [];
  sock.on('message', (b, rinfo) => got.push({ b, port: rinfo.port, address: rinfo.address }));
  await new Promise((res) => sock.bind(0, '127.0.0.1', res));
  return { sock, got, port: sock.address().port,
    send: (b, port) => new Promise((res) => sock.send(b, port, '127.0.0.1', res)) };
}

// ------------------------------------------------------------ sessions

// A viewer's session of protocol p through meshd: the tunnel request,
// the relay, the start signal (returned as start: 'c' or 'cr'), then
// options and the protocol selection as the web app sends them.
async function session(c, p) {
  const t = await tunnel(c, NODE, p);
  if (t.result !== 'OK') fail(`msg/tunnel p=${p}: ${t.result}`);
  const r = relay(viewerQuery(NODE, t.id, t.cookie, p));
  await r.opened;
  const first = await msgAt(r, 0, 15000);
  if (first.text !== 'c' && first.text !== 'cr') fail(`start signal: ${JSON.stringify(first)}`);
  r.ws.send(JSON.stringify({ type: 'options', cols: 80, rows: 25 }));
  r.ws.send(String(p));
  return { id: t.id, r, start: first.text };
}

const text = (m) => (m.text !== undefined ? m.text : m.bin.toString());
const json = (m) => { try { return JSON.parse(text(m)); } catch { return null; } };
// Messages of s from index i on that are JSON with the ctrl channel and type.
const ctrls = (s, type, i = 0) => s.r.msgs.slice(i).map(json)
  .filter((j) => j && j.ctrlChannel == CTRL && j.type === type);

// A files ls of "/" goes out and its listing comes back: the session
// works on the relay.
let reqid = 100;
async function lsWorks(s, what) {
  const id = ++reqid, from = s.r.msgs.length;
  s.r.ws.send(JSON.stringify({ action: 'ls', reqid: id, path: '/' }));
  await until(() => s.r.msgs.slice(from).some((m) => {
    const j = json(m);
    return j && j.reqid === id && Array.isArray(j.dir);
  }), 10000, `ls reply (${what}): ${JSON.stringify(s.r.msgs.slice(from)).slice(0, 500)}`);
}

// A terminal session echoes what it runs: it works on the relay.
async function termWorks(s, what) {
  const n = 1000 + Math.floor(Math.random() * 9000);
  s.r.ws.send(Buffer.from(`echo rtc-$((${n}+1))\r`), { binary: true });
  await until(() => Buffer.concat(s.r.msgs.filter((m) => m.bin).map((m) => m.bin))
    .toString().includes(`rtc-${n + 1}`), 15000, `terminal output (${what})`);
}

async function closeSession(s) {
  s.r.ws.close(1000);
  await s.r.closed;
}

// ------------------------------------------------------------ scenarios

const admin = await control('admin', PASS);
const udp = await udpPeer();

// (a) WebRTC off (the default): the relay drops the offer, the agent never
// hears of it, the session carries on.
{
  const st = await admin.ask({ action: 'getserversettings' });
  if (!st.settings || st.settings.webrtc !== false) fail(`default settings: ${JSON.stringify(st)}`);
  const si = admin.seen.find((m) => m.action === 'serverinfo');
  if (!si || 'webrtc' in si.serverinfo) fail(`serverinfo while off: ${JSON.stringify(si)}`);
  const mark = agentLog().length;
  const s = await session(admin, 5);
  await lsWorks(s, 'before the offer');
  const off = { ufrag: iceChars(4), pwd: iceChars(24), port: udp.port };
  s.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer(off) }));
  // In a files session the agent also reads binary frames as commands.
  s.r.ws.send(Buffer.from(JSON.stringify({ type: 'offer', sdp: chromeOffer(off) })), { binary: true });
  await lsWorks(s, 'after the offers');
  await sleep(500);
  if (ctrls(s, 'answer').length) fail('an answer came back while WebRTC is off');
  await until(() => new RegExp(`event=relay_offer_dropped id=${s.id} user=user//admin reason="WebRTC is not allowed"`)
    .test(meshdLog()), 5000, 'meshd\'s relay_offer_dropped line');
  if (count(meshdLog(), `event=relay_offer_dropped id=${s.id} `) !== 1)
    fail('relay_offer_dropped logged more than once for one session');
  await closeSession(s);
  await agentLine(mark, /event=tunnel_closed/, 'the agent to end the session');
  const log = since(agentLog(), mark);
  if (/event=webrtc_/.test(log)) fail(`the agent heard of the offer:\n${log}`);
  if (udp.got.length) fail('the agent sent checks to the offer\'s candidate');
  ok('WebRTC off: the relay drops text and binary offers (one relay_offer_dropped line), the agent never sees them, ls works before and after');
}

// The administrator allows WebRTC over control.ashx.
{
  const bad = await admin.ask({ action: 'setserversettings', webrtc: 'yes' });
  if (bad.result !== 'Invalid webrtc') fail(`setserversettings webrtc:"yes": ${JSON.stringify(bad)}`);
  const from = admin.seen.length;
  const set = await admin.ask({ action: 'setserversettings', webrtc: true });
  if (set.result !== 'ok') fail(`setserversettings: ${JSON.stringify(set)}`);
  const st = await admin.ask({ action: 'getserversettings' });
  if (st.settings.webrtc !== true) fail(`getserversettings after: ${JSON.stringify(st)}`);
  await until(() => admin.seen.slice(from).some((m) => m.action === 'serverinfo' &&
    m.serverinfo.webrtc === true), 5000, 'serverinfo with webrtc:true');
  ok('setserversettings {webrtc:true} as the admin: getserversettings and a fresh serverinfo say so');
}

// A session whose offer's candidate never answers: the agent's ICE gives
// up after its 30 s connect deadline and the session stays on the relay.
// Started now, checked at the end.
const deadUdp = await udpPeer();
const dead = await (async () => {
  const mark = agentLog().length;
  const s = await session(admin, 5);
  const off = { ufrag: iceChars(8), pwd: iceChars(32), port: deadUdp.port, mid: 'data' };
  s.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer(off) }));
  const a = await until(() => ctrls(s, 'answer').length, 10000, 'the answer (dead peer)')
    .then(() => checkAnswer(ctrls(s, 'answer')[0], off));
  await agentLine(mark, /event=webrtc_answered/, 'webrtc_answered');
  ok(`answer to an offer with a=mid:data carries a=mid:data (port ${a.port})`);
  return { s, mark, t0: Date.now() };
})();

// (b) Malformed offers, then a good one, in one files session.
const s = await session(admin, 5);
{
  const good = { ufrag: iceChars(4), pwd: iceChars(24), port: udp.port };
  const cases = [
    ['no sdp', { type: 'offer' }, /reason="offer without sdp"/],
    ['sdp not a string', { type: 'offer', sdp: 42 }, /reason="offer without sdp"/],
    ['garbage sdp', { type: 'offer', sdp: 'hello, agent' }, /reason="not an SDP \(no v=0 first line\)"/],
    ['60 KB sdp (a 60 KB ice-ufrag line)', { type: 'offer',
      sdp: chromeOffer({ ...good, ufragLine: `a=ice-ufrag:${'u'.repeat(60 * 1024)}` }) },
    /reason="bad a=ice-ufrag"/],
    ['sdp over 64 KiB', { type: 'offer',
      sdp: chromeOffer(good) + 'a=x-pad:'.padEnd(66 * 1024, 'p') + '\r\n' },
    /reason="SDP larger than 64 KiB"/],
    ['passive offer', { type: 'offer', sdp: chromeOffer({ ...good, setup: 'passive' }) },
      /reason="offer has a=setup other than actpass or active/],
    ['no fingerprint', { type: 'offer', sdp: chromeOffer(good).replace(/a=fingerprint:[^\r]*\r\n/, '') },
      /event=webrtc_refused .*reason="[^"]*fingerprint/],
  ];
  for (const [what, msg, re] of cases) {
    const mark = agentLog().length;
    s.r.ws.send(JSON.stringify(msg));
    const line = await agentLine(mark, /event=webrtc_refused/, `refusal of ${what}`);
    if (!re.test(line)) fail(`${what}: ${line}`);
    await lsWorks(s, `after ${what}`);
  }
  if (ctrls(s, 'answer').length) fail('a malformed offer was answered');
  if (udp.got.length) fail('a malformed offer started ICE');
  ok(`malformed offers refused by the agent with a reason each (${cases.map((c) => c[0]).join(', ')}); the session carries on`);

  // The good offer: a browser's answer.
  const mark = agentLog().length;
  const from = s.r.msgs.length;
  s.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer(good) }));
  await until(() => ctrls(s, 'answer', from).length, 10000, 'the answer');
  const a = checkAnswer(ctrls(s, 'answer', from)[0], { ...good, mid: '0' });
  await agentLine(mark, /event=webrtc_answered/, 'webrtc_answered');
  if (/event=webrtc_refused/.test(since(agentLog(), mark))) fail('the good offer was refused too');
  ok(`answer: passive, sha-256 fingerprint, ICE credentials, a=mid:0, sctp-port 5000, max-message-size, host candidates on port ${a.port}`);

  // The agent's ICE runs: its checks reach the offer's candidate.
  await until(() => udp.got.some((d) => stunParse(d.b)?.type === 0x0001), 10000,
    'a STUN Binding request from the agent');
  const d = udp.got.find((x) => stunParse(x.b)?.type === 0x0001);
  const req = stunParse(d.b);
  const user = req.attrs.find((x) => x.type === A.USERNAME);
  if (!user || user.value.toString() !== `${good.ufrag}:${a.ufrag}`)
    fail(`check USERNAME ${user && user.value.toString()}, wanted ${good.ufrag}:${a.ufrag}`);
  const ctl = req.attrs.find((x) => x.type === A.CONTROLLED);
  if (!ctl || ctl.value.length !== 8) fail('check without ICE-CONTROLLED (8 bytes)');
  if (req.attrs.some((x) => x.type === A.CONTROLLING || x.type === A.USE_CANDIDATE))
    fail('the controlled agent sent ICE-CONTROLLING or USE-CANDIDATE');
  const prio = req.attrs.find((x) => x.type === A.PRIORITY);
  if (!prio || prio.value.length !== 4) fail('check without PRIORITY');
  stunVerify(d.b, req, good.pwd, 'the agent\'s check');
  if (d.port !== a.port) fail(`the agent's check came from port ${d.port}, the answer says ${a.port}`);
  ok(`the agent checks the offer's candidate: Binding request, USERNAME ${good.ufrag}:${a.ufrag}, ICE-CONTROLLED, PRIORITY, MESSAGE-INTEGRITY with the offer's pwd, FINGERPRINT, from port ${a.port}`);

  // And answers a browser's check sent to the answer's port.
  const check = browserCheck(`${a.ufrag}:${good.ufrag}`, a.pwd);
  const n0 = udp.got.length;
  await udp.send(check.msg, a.port);
  await until(() => udp.got.slice(n0).some((x) => stunParse(x.b)?.type === 0x0101), 5000,
    'the agent\'s Binding success response');
  const rd = udp.got.slice(n0).find((x) => stunParse(x.b)?.type === 0x0101);
  const resp = stunParse(rd.b);
  if (!resp.tid.equals(check.tid)) fail('response transaction id');
  stunVerify(rd.b, resp, a.pwd, 'the agent\'s response');
  const xma = resp.attrs.find((x) => x.type === A.XOR_MAPPED);
  if (!xma || xma.value[1] !== 1 || (xma.value.readUInt16BE(2) ^ (MAGIC >>> 16)) !== udp.port ||
      ((xma.value.readUInt32BE(4) ^ MAGIC) >>> 0) !== 0x7f000001)
    fail(`XOR-MAPPED-ADDRESS ${xma && xma.value.toString('hex')}`);
  ok('a browser check to the answer\'s port (USERNAME answer:offer, agent\'s pwd) gets a success response with our address');

  // One offer per session.
  const mark2 = agentLog().length, from2 = s.r.msgs.length;
  s.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer({ ...good, ufrag: iceChars(4) }) }));
  const line = await agentLine(mark2, /event=webrtc_refused/, 'refusal of the second offer');
  if (!/reason="one offer per session"/.test(line)) fail(`second offer: ${line}`);
  await lsWorks(s, 'after the second offer');
  if (ctrls(s, 'answer', from2).length) fail('the second offer was answered');
  ok('a second offer in the session is refused (one offer per session); ls still works');

  // Closing the relay tears the peer connection down: the agent's ICE
  // socket stops answering.
  const mark3 = agentLog().length;
  await closeSession(s);
  await agentLine(mark3, /event=tunnel_closed/, 'the agent to end the session');
  await sleep(300);
  const n1 = udp.got.length;
  await udp.send(browserCheck(`${a.ufrag}:${good.ufrag}`, a.pwd).msg, a.port);
  await sleep(1500);
  if (udp.got.slice(n1).some((x) => stunParse(x.b)?.type === 0x0101))
    fail('the agent still answers checks after the session closed');
  ok('closing the relay ends the peer connection: its port answers no more checks');
}

// A terminal session's offer is refused by the agent.
{
  const t = await session(admin, 1);
  await termWorks(t, 'before the offer');
  const mark = agentLog().length;
  t.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer({ ufrag: iceChars(4), pwd: iceChars(24), port: udp.port }) }));
  const line = await agentLine(mark, /event=webrtc_refused/, 'refusal on a terminal');
  if (!/reason="not offered for this protocol"/.test(line)) fail(`terminal offer: ${line}`);
  await termWorks(t, 'after the offer');
  if (ctrls(t, 'answer').length) fail('a terminal offer was answered');
  await closeSession(t);
  ok('an offer on a terminal session (p=1) is refused by the agent; the shell carries on');
}

// A recorded session: the relay drops the offer even though WebRTC is
// allowed (the bytes would bypass the recording).
{
  const meshid = `mesh//${process.env.GROUP}`;
  const on = await admin.ask({ action: 'editmesh', meshid, recordSessions: true });
  if (on.result !== 'ok') fail(`editmesh recordSessions: ${JSON.stringify(on)}`);
  const mark = agentLog().length;
  const t = await session(admin, 1);
  if (t.start !== 'cr') fail(`recorded session started with ${t.start}`);
  await termWorks(t, 'recorded, before the offer');
  t.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer({ ufrag: iceChars(4), pwd: iceChars(24), port: udp.port }) }));
  await termWorks(t, 'recorded, after the offer');
  await until(() => new RegExp(`event=relay_offer_dropped id=${t.id} user=user//admin reason="the session is recorded"`)
    .test(meshdLog()), 5000, 'relay_offer_dropped for the recorded session');
  await closeSession(t);
  await agentLine(mark, /event=tunnel_closed/, 'the agent to end the recorded session');
  if (/event=webrtc_/.test(since(agentLog(), mark))) fail('the agent saw the recorded session\'s offer');
  const offAgain = await admin.ask({ action: 'editmesh', meshid, recordSessions: false });
  if (offAgain.result !== 'ok') fail(`editmesh recordSessions off: ${JSON.stringify(offAgain)}`);
  ok('a recorded session ("cr"): the relay drops the offer (reason: recorded), the agent never sees it');
}

// Back to the session whose peer never answered: ICE fails after 30 s,
// the session is still on the relay and working.
{
  const { s: d, mark, t0 } = dead;
  const line = await agentLine(mark, /event=webrtc_closed/, 'the dead peer\'s ICE to fail',
    Math.max(5000, 45000 - (Date.now() - t0)));
  if (!/reason="no ICE connectivity within/.test(line)) fail(`dead peer: ${line}`);
  if (!deadUdp.got.some((x) => stunParse(x.b)?.type === 0x0001)) fail('no checks reached the dead peer');
  await lsWorks(d, 'after ICE failed');
  if (ctrls(d, 'webrtc0').length) fail('webrtc0 without a channel');
  const m2 = agentLog().length;
  d.r.ws.send(JSON.stringify({ type: 'offer', sdp: chromeOffer({ ufrag: iceChars(4), pwd: iceChars(24), port: deadUdp.port }) }));
  const again = await agentLine(m2, /event=webrtc_refused/, 'a new offer after the failure');
  if (!/one offer per session/.test(again)) fail(`offer after failure: ${again}`);
  await closeSession(d);
  ok(`ICE that never connects ends after its deadline (${line.match(/reason="[^"]*"/)[0]}); the session stays on the relay and works`);
}

admin.close();
udp.sock.close();
deadUdp.sock.close();
