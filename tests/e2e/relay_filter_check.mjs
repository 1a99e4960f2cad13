// relay_filter_check.mjs - the scenarios of relay_input_filter.sh: meshd's
// relay filters a restricted desktop viewer's input itself (docs/
// sessions.md, "Restricted viewers"). The agent's relay side is played
// here with the rcookie, and filters nothing: what it receives is what
// meshd forwarded.
//
// env: PORT, NODE, PASS (see relay_setup.bash; accounts vic 256,
//      lim 8|4096, vera 8|256, capu full)
import {
  agentQuery, control, fail, msgAt, ok, relay, tunnel, viewerQuery,
} from './relay_lib.mjs';

const NODE = process.env.NODE;
const PASS = process.env.PASS;

// KVM commands (spec sessions.md §7.2): 4-byte header, then the body.
const cmd = (type, ...body) => {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(4 + body.length, 2);
  body.forEach((x, i) => { b[4 + i] = x; });
  return b;
};
const KEY = (vk, up = 0) => cmd(1, up, vk);
const UNI = (ch, up = 0) => cmd(85, up, ch >> 8, ch & 255);
const MOUSE = (flags, x, y) => cmd(2, 0, flags, x >> 8, x & 255, y >> 8, y & 255);
const WHEEL = cmd(2, 0, 0, 0, 5, 0, 6, 0xff, 0x87);
const REFRESH = cmd(6);
const CAD = cmd(10);
const LOCK = cmd(87, 2);
const DISPLAY = Buffer.concat([cmd(5, 1, 40, 4, 0, 0, 50), cmd(8, 0), cmd(11),
  cmd(12, 0, 1), cmd(13, 0, 100)]);
const OPTIONS = '{"type":"options"}';
const RTT = '{"ctrlChannel":"102938","type":"rtt","time":1}';
const OFFER = '{"type":"offer","sdp":"v=0"}';
const cat = (...b) => Buffer.concat(b);

// A paired desktop (or p) session of user: {v, a} after both got "c".
async function paired(user, p, urlP = p) {
  const c = await control(user, PASS);
  const t = await tunnel(c, NODE, p);
  if (t.result !== 'OK') fail(`${user} p=${p}: ${t.result}`);
  const a = relay(agentQuery(NODE, t.id, t.rcookie, p));
  const v = relay(viewerQuery(NODE, t.id, t.cookie, urlP));
  for (const r of [v, a]) if ((await msgAt(r, 0)).text !== 'c') fail(`${user}: no "c"`);
  return { v, a, c };
}

// Sends msgs (strings as text, Buffers as binary) from the viewer.
const send = (v, msgs) => {
  for (const m of msgs) v.ws.send(m, { binary: typeof m !== 'string' });
};

// Waits until the agent side holds want.length messages after "c" and
// compares them one by one, byte for byte.
async function expectAgent(a, want, what) {
  await msgAt(a, want.length);
  const got = a.msgs.slice(1);
  const show = (m) => (m.text !== undefined ? m.text : (m.bin || m).toString('hex'));
  const eq = (m, w) => (typeof w === 'string' ? m.text === w
    : m.bin !== undefined && Buffer.compare(m.bin, w) === 0);
  if (got.length !== want.length || !want.every((w, i) => eq(got[i], w)))
    fail(`${what}: agent got [${got.map(show)}], wanted [${want.map(show)}]`);
}

// The viewer leaves; the agent side is closed after it (and the control
// connection is done).
async function leave(x) {
  x.v.ws.close();
  await x.a.closed;
  x.c.close();
}

async function closedBoth(s, reason, what) {
  const [cv, ca] = await Promise.all([s.v.closed, s.a.closed]);
  for (const c of [cv, ca])
    if (c.code !== 1008 || c.reason !== reason)
      fail(`${what}: wanted 1008 "${reason}", got ${c.code} "${c.reason}"`);
}

async function viewOnly() {
  const s = await paired('vic', 2);
  send(s.v, [OPTIONS, '2', cat(KEY(65), MOUSE(2, 10, 20), REFRESH), UNI(97), CAD,
    DISPLAY, RTT, OFFER, REFRESH]);
  await expectAgent(s.a, [OPTIONS, '2', REFRESH, DISPLAY, RTT, REFRESH], 'view-only');
  ok('view-only: KEY, MOUSE, KEY_UNICODE, CTRLALTDEL and a WebRTC offer dropped; REFRESH, display commands and control text pass');
  await leave(s);
  // A message that is not whole commands is dropped whole, even the
  // REFRESH in front of the cut one; the session goes on.
  const m = await paired('vic', 2);
  send(m.v, ['2', cat(REFRESH, Buffer.from([0, 1])), Buffer.from([0, 6, 0, 2]),
    cat(REFRESH, Buffer.from([0, 200, 0, 9, 1])), DISPLAY]);
  await expectAgent(m.a, ['2', DISPLAY], 'view-only malformed');
  ok('view-only: a truncated command, a size below 4, a size past the end: the message is dropped whole, the session goes on');
  // KVM bytes before the protocol selection are no selection.
  const b = await paired('vic', 2);
  send(b.v, [KEY(65), '2']);
  await closedBoth(b, 'malformed protocol selection', 'view-only early binary');
  ok('view-only: binary before the selection closes both sides with 1008');
  await leave(m);
  b.c.close();
}

async function limited() {
  const s = await paired('lim', 2);
  const uni = cat(UNI(97), UNI(97, 1));
  const click = cat(MOUSE(2, 5, 5), MOUSE(4, 5, 5));
  send(s.v, [OPTIONS, '2', cat(KEY(17), KEY(65)), cat(KEY(65, 1), KEY(17, 1)), uni,
    UNI(13), click, WHEEL, KEY(13), CAD, LOCK, REFRESH]);
  await expectAgent(s.a, [OPTIONS, '2', KEY(65), KEY(65, 1), uni, click, WHEEL,
    KEY(13), REFRESH], 'limited');
  ok('limited input: Ctrl dropped and the letter passes, printable KEY_UNICODE and the mouse pass; control characters, CTRLALTDEL, INPUT_LOCK dropped');
  await leave(s);
}

async function full() {
  const s = await paired('capu', 2);
  // (A WebRTC offer is the one text the relay reads from such a viewer
  // too: it passes only when the server allows WebRTC, webrtc_offer.sh.)
  const odd = [cat(KEY(17), KEY(65)), CAD, LOCK, cmd(200, 1, 2), Buffer.from([0, 6, 0]),
    '{"type":"offers","sdp":"v=0"}', Buffer.alloc(0)];
  send(s.v, [OPTIONS, '2', ...odd, REFRESH]);
  await expectAgent(s.a, [OPTIONS, '2', ...odd, REFRESH], 'full');
  ok('full rights: every message arrives byte-identical, malformed ones too (never filtered)');
  await leave(s);
}

async function selection() {
  // vera may open a terminal, but only watch a desktop: a terminal tunnel
  // does not become a desktop in-band, nor a desktop tunnel a terminal.
  const t = await paired('vera', 1);
  send(t.v, [OPTIONS, '2', KEY(65)]);
  await closedBoth(t, 'protocol 2 selected in the tunnel, 1 asked for', 'vera p=1 selecting 2');
  await expectAgent(t.a, [OPTIONS], 'vera p=1 selecting 2');
  const d = await paired('vera', 2);
  send(d.v, ['1']);
  await closedBoth(d, 'protocol 1 selected in the tunnel, 2 asked for', 'vera p=2 selecting 1');
  // "0" is no selection to the stock agent, which would then read the
  // next message ("2") as the selection.
  const z = await paired('lim', 2);
  send(z.v, [OPTIONS, '0', '2']);
  await closedBoth(z, 'malformed protocol selection', 'lim selecting 0');
  await expectAgent(z.a, [OPTIONS], 'lim selecting 0');
  // Nor does a tunnel asked for with a protocol number meshd does not
  // know (the relay's p is advisory, spec §2.2) become a desktop.
  const n = await paired('lim', -1);
  send(n.v, ['2', KEY(17)]);
  await closedBoth(n, 'protocol 2 selected in the tunnel, -1 asked for', 'lim p=-1 selecting 2');
  await expectAgent(n.a, [], 'lim p=-1 selecting 2');
  ok('a restricted viewer selecting another protocol than its URL asked, or 0: 1008 to both');
  // The terminal itself is not touched: keystrokes are not KVM commands.
  const k = await paired('vera', 1);
  const keys = Buffer.from('ls -l\r');
  send(k.v, [OPTIONS, '1', keys, KEY(17)]);
  await expectAgent(k.a, [OPTIONS, '1', keys, KEY(17)], 'vera terminal');
  ok('the same viewer on its terminal: bytes pass untouched');
  await leave(k);
  for (const x of [t, d, z, n]) x.c.close();
}

try {
  await viewOnly();
  await limited();
  await full();
  await selection();
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  process.exit(1);
}
