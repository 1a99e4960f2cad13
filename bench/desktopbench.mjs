// desktopbench.mjs - the viewer of the remote desktop bench (bench/desktop.sh).
// Signs in on /control.ashx, asks for a protocol 2 tunnel to --node, joins
// the relay, and once the first full screen has arrived and the screen is
// quiet, has bench/desktopdraw make a scripted sequence of changes on the
// X server: --count times a 200x200 rectangle of a new colour at a new
// place, a full-screen gradient, a 248x16 line of text. For each change:
//   t0        the X server has done it (desktopdraw's CLOCK_MONOTONIC time
//             after XSync; node's hrtime is the same clock);
//   first     the first PICTURE after t0 that overlaps the changed area;
//   complete  the PICTURE after which tiles received since t0 cover all of
//             the changed area (on an 8x8 grid);
//   bytes     every agent message (KVM bytes as on the wire, WebSocket
//             framing excluded) from sending the command until the screen
//             is quiet again; picture bytes: PICTURE commands only.
// Before each change the screen is quiet (no PICTURE for --quiet ms), so
// every tile after t0 was captured after the change. Arrival times are
// taken before anything else is done with a message; JPEG decoding
// (jpeg-js, only to check that the first tile over a probe point has the
// new colour) happens after the change is over, off the timed path.
// The agent's CPU (its process and all descendants, from /proc) is read
// when the sequence starts and ends. Prints one JSON object.
//
// usage: node desktopbench.mjs --url U --user U --pass P --node N
//          --jpeg DIR --draw PATH --agent-pid PID [--count 20]
//          [--quality 40] [--interval 50] [--quiet 400]
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const req = createRequire(import.meta.url);
const WebSocket = req(resolve(here, '../tests/interop/.peer/node_modules/ws'));
const argv = process.argv.slice(2);
const opt = { count: 20, quality: 40, interval: 50, quiet: 400 };
while (argv.length && argv[0].startsWith('--')) {
  const k = argv.shift().slice(2);
  opt[k] = argv.shift();
}
const jpeg = req(resolve(opt.jpeg, 'node_modules/jpeg-js'));
const die = (m) => { process.stderr.write(`desktopbench: ${m}\n`); process.exit(1); };
setTimeout(() => die('timed out'), 20 * 60 * 1000).unref();
const now = () => process.hrtime.bigint();
const ms = (ns) => Number(ns) / 1e6;
const sleep = (t) => new Promise((r) => setTimeout(r, t));

// ------------------------------------------------------------ /proc CPU
const HZ = 100; // USER_HZ: the kernel's /proc tick on Linux
function procCpu(root) {
  const parent = new Map(), ticks = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      parent.set(+p, +f[1]);
      ticks.set(+p, +f[11] + +f[12] + +f[13] + +f[14]);
    } catch { } // gone meanwhile
  }
  let sum = 0, procs = 0;
  for (const [p] of ticks) {
    for (let q = p; q > 1; q = parent.get(q) ?? 0)
      if (q === +root) { sum += ticks.get(p); procs++; break; }
  }
  return { ms: sum * 1000 / HZ, procs };
}

// ------------------------------------------------------------ the viewer
let W = 0, H = 0, pictures = 0, lastPicture = 0n, totalBytes = 0;
let log = null; // the current change's messages: {at, len, pic}
let screenSeen = null;
let ws;
const send = (b) => ws.send(Buffer.from(b), { binary: true });

// Width and height from a JPEG's SOF marker, without decoding.
function jpegSize(b) {
  let i = 2;
  while (i + 9 < b.length && b[i] === 0xff) {
    const m = b[i + 1], len = b.readUInt16BE(i + 2);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)
      return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
    i += 2 + len;
  }
  return null;
}

function command(data) {
  const at = now();
  totalBytes += data.length;
  let b = data, type = b.readUInt16BE(0);
  if (type === 27) { b = b.subarray(8); type = b.readUInt16BE(0); }
  let pic = null;
  if (type === 3) {
    const img = b.subarray(8), sz = jpegSize(img);
    if (!sz) die('a PICTURE without a JPEG size');
    pic = { x: b.readUInt16BE(4), y: b.readUInt16BE(6), w: sz[0], h: sz[1], img };
    pictures++;
    lastPicture = at;
  } else if (type === 7) {
    W = b.readUInt16BE(4); H = b.readUInt16BE(6);
    screenSeen = at;
    // As the stock viewer: encoder settings, then resume (spec §7.3).
    send([0, 5, 0, 10, 1, +opt.quality, 4, 0, ...u16(+opt.interval)]);
    send([0, 8, 0, 5, 0]);
  } else if (type === 65) {
    process.stderr.write(`desktopbench: agent ERROR ${b.subarray(4).toString()}\n`);
  }
  if (log) log.push({ at, len: data.length, pic });
}
const u16 = (v) => [(v >> 8) & 255, v & 255];

function connect() {
  return new Promise((ok) => {
    const b64 = (s) => Buffer.from(s).toString('base64');
    const ctl = new WebSocket(opt.url + '/control.ashx', {
      headers: { 'x-meshauth': `${b64(opt.user)},${b64(opt.pass)}` },
      rejectUnauthorized: false, perMessageDeflate: false,
    });
    const id = randomBytes(9).toString('hex');
    ctl.on('error', (e) => die(`control: ${e.message}`));
    ctl.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.action === 'authcookie') {
        ctl.send(JSON.stringify({
          action: 'msg', type: 'tunnel', nodeid: opt.node, usage: 2,
          value: `*/meshrelay.ashx?p=2&nodeid=${opt.node}&id=${id}&rauth=${m.rcookie}`,
          responseid: 'v',
        }));
        relay(`${opt.url}/meshrelay.ashx?browser=1&p=2&nodeid=` +
          `${encodeURIComponent(opt.node)}&id=${id}&auth=${m.cookie}`, ok);
      } else if (m.action === 'msg' && m.responseid === 'v' && m.result !== 'OK') {
        die(`tunnel: ${m.result}`);
      }
    });
    ctl.on('open', () => ctl.send(JSON.stringify({ action: 'authcookie' })));
  });
}

function relay(url, ok) {
  ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024 });
  let started = false;
  ws.on('error', (e) => die(`relay: ${e.message}`));
  ws.on('close', (code, reason) => { if (!done) die(`relay closed ${code} ${reason}`); });
  ws.on('message', (data, isBinary) => {
    if (started) { if (isBinary) command(data); return; }
    if (!isBinary && /^cr?$/.test(data.toString())) {
      started = true;
      ws.send(JSON.stringify({ type: 'options' }));
      ws.send('2');
      ok();
    }
  });
}

// ------------------------------------------------------------ the drawer
let drawer, lines;
function startDrawer() {
  drawer = spawn(opt.draw, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  drawer.on('exit', (c) => { if (!done) die(`desktopdraw exited with ${c}`); });
  const waiting = [];
  createInterface({ input: drawer.stdout }).on('line', (l) => waiting.shift()(l));
  lines = () => new Promise((r) => waiting.push(r));
}
async function draw(cmd) {
  const p = lines();
  drawer.stdin.write(cmd + '\n');
  const l = await p;
  const m = /^done (\d+)$/.exec(l);
  if (!m) die(`desktopdraw: ${l}`);
  return BigInt(m[1]);
}

// Until no PICTURE came for opt.quiet ms (at most `max` ms).
async function quiet(max = 5000) {
  const start = now();
  for (;;) {
    const idle = ms(now() - (lastPicture > start ? lastPicture : start));
    if (idle >= +opt.quiet) return true;
    if (ms(now() - start) > max) return false;
    await sleep(20);
  }
}

// ------------------------------------------------------------ a change
function covered(area, msgs, t0) {
  // An 8x8 grid over the area; a cell counts when a tile covers it whole.
  const cw = Math.ceil(area.w / 8), ch = Math.ceil(area.h / 8);
  const cell = new Uint8Array(cw * ch);
  let left = cw * ch;
  for (const m of msgs) {
    if (!m.pic || m.at < t0) continue;
    const p = m.pic;
    const c0 = Math.max(0, Math.ceil((p.x - area.x) / 8));
    const c1 = Math.min(cw, Math.floor((p.x + p.w - area.x) / 8));
    const r0 = Math.max(0, Math.ceil((p.y - area.y) / 8));
    const r1 = Math.min(ch, Math.floor((p.y + p.h - area.y) / 8));
    for (let r = r0; r < r1; r++)
      for (let c = c0; c < c1; c++)
        if (!cell[r * cw + c]) { cell[r * cw + c] = 1; left--; }
    if (left === 0) return m.at;
  }
  return null;
}
const overlaps = (p, a) => p.x < a.x + a.w && a.x < p.x + p.w && p.y < a.y + a.h && a.y < p.y + p.h;

function pixel(p, x, y) {
  const img = jpeg.decode(p.img, { useTArray: true });
  const s = ((y - p.y) * img.width + (x - p.x)) * 4;
  return [img.data[s], img.data[s + 1], img.data[s + 2]];
}

async function change(kind, cmd, area, probe) {
  log = [];
  const sent = now();
  const t0 = await draw(cmd);
  // Wait for the area to be covered, then for quiet.
  const deadline = now() + 10_000_000_000n;
  let complete = null;
  while (now() < deadline) {
    complete = covered(area, log, t0);
    if (complete) break;
    await sleep(5);
  }
  await quiet();
  const msgs = log;
  log = null;
  const after = msgs.filter((m) => m.at >= sent);
  const first = after.find((m) => m.pic && m.at >= t0 && overlaps(m.pic, area));
  const r = {
    kind, first_ms: first ? ms(first.at - t0) : null,
    complete_ms: complete ? ms(complete - t0) : null,
    bytes: after.reduce((s, m) => s + m.len, 0),
    picture_bytes: after.reduce((s, m) => s + (m.pic ? m.len : 0), 0),
    pictures: after.filter((m) => m.pic).length,
  };
  // The tile over the probe point shows the new colour (JPEG tolerance).
  const pt = after.find((m) => m.pic && m.at >= t0 && overlaps(m.pic, { x: probe.x, y: probe.y, w: 1, h: 1 }));
  if (pt) {
    const got = pixel(pt.pic, probe.x, probe.y);
    r.probe_ok = got.every((v, i) => Math.abs(v - probe.rgb[i]) <= 48);
    if (!r.probe_ok) r.probe = `${got} want ${probe.rgb}`;
  } else r.probe_ok = false;
  return r;
}

// ------------------------------------------------------------ statistics
function stats(v) {
  const a = v.filter((x) => x !== null).sort((x, y) => x - y);
  if (!a.length) return { n: 0 };
  const q = (p) => a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  return { n: a.length, median: q(0.5), p90: q(0.9), min: a[0], max: a[a.length - 1],
    mean: a.reduce((s, x) => s + x, 0) / a.length };
}

let done = false;
async function main() {
  startDrawer();
  const ready = await lines();
  if (!/^ready 1920 1080$/.test(ready)) die(`desktopdraw: ${ready} (wanted 1920x1080)`);
  await draw('rect 0 0 1920 1080 000000');
  const t = now();
  await connect();
  while (!(W && pictures && lastPicture > (screenSeen ?? 0n))) {
    if (ms(now() - t) > 60000) die(`no screen and tiles in 60 s (screen ${W}x${H}, ${pictures} pictures)`);
    await sleep(20);
  }
  if (W !== 1920 || H !== 1080) die(`screen ${W}x${H}, wanted 1920x1080`);
  await quiet(30000);
  const initial = { ms: ms(lastPicture - t), bytes: totalBytes, pictures };
  const cpu0 = procCpu(opt['agent-pid']), wall0 = now();
  const results = [];
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let i = 0; i < +opt.count; i++) {
    const x = rnd(215) * 8, y = rnd(110) * 8; // 200x200 on screen, 8-aligned
    const rgb = [64 + rnd(192), 64 + rnd(192), 64 + rnd(192)];
    const hex = rgb.map((v) => v.toString(16).padStart(2, '0')).join('');
    results.push(await change('rect', `rect ${x} ${y} 200 200 ${hex}`,
      { x, y, w: 200, h: 200 }, { x: x + 100, y: y + 100, rgb }));
    const fb = ((i + 1) * 53 + (960 + 540) / 8) & 255;
    results.push(await change('full', `full ${i + 1}`, { x: 0, y: 0, w: 1920, h: 1080 },
      { x: 960, y: 540, rgb: [127, 127, fb] }));
    const tx = rnd(200) * 8, ty = rnd(130) * 8;
    results.push(await change('text', `text ${tx} ${ty} ${i}`, { x: tx, y: ty, w: 248, h: 16 },
      { x: tx + 4, y: ty + 1, rgb: [255, 255, 255] }));
  }
  const cpu1 = procCpu(opt['agent-pid']), wall = ms(now() - wall0);
  done = true;
  drawer.stdin.write('quit\n');
  ws.close(1000);
  const kinds = {};
  for (const k of ['rect', 'full', 'text', 'all']) {
    const r = results.filter((x) => k === 'all' || x.kind === k);
    kinds[k] = {
      changes: r.length,
      first_ms: stats(r.map((x) => x.first_ms)),
      complete_ms: stats(r.map((x) => x.complete_ms)),
      bytes: stats(r.map((x) => x.bytes)),
      picture_bytes: stats(r.map((x) => x.picture_bytes)),
      pictures: stats(r.map((x) => x.pictures)),
      missed: r.filter((x) => x.complete_ms === null).length,
      probe_bad: r.filter((x) => !x.probe_ok).length,
    };
  }
  console.log(JSON.stringify({
    screen: [W, H], quality: +opt.quality, interval_ms: +opt.interval,
    initial, kinds, total_bytes: totalBytes,
    sequence_bytes: results.reduce((s, x) => s + x.bytes, 0),
    agent_cpu_ms: cpu1.ms - cpu0.ms, agent_procs: cpu1.procs, wall_ms: wall,
    agent_cpu_ms_per_change: (cpu1.ms - cpu0.ms) / results.length,
    bad: results.filter((x) => !x.probe_ok).slice(0, 5),
  }, null, 1));
  setTimeout(() => process.exit(0), 100);
}
main().catch((e) => die(e.stack));
