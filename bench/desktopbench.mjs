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
// when the sequence starts and ends. Prints one JSON object. The matching,
// the sequence of changes and the statistics are in desktopmatch.mjs,
// shared with webrtcbench.mjs.
//
// usage: node desktopbench.mjs --url U --user U --pass P --node N
//          --jpeg DIR --draw PATH --agent-pid PID [--count 20]
//          [--quality 40] [--interval 50] [--quiet 400]
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import {
  changeResult, changeScript, checkProbe, covered, jpegSize, kindStats, procCpu,
  startDrawer,
} from './desktopmatch.mjs';

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

// ------------------------------------------------------------ the viewer
let W = 0, H = 0, pictures = 0, lastPicture = 0n, totalBytes = 0;
let log = null; // the current change's messages: {at, len, pic}
let screenSeen = null;
let ws;
const send = (b) => ws.send(Buffer.from(b), { binary: true });

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

let drawer, done = false; // done: the sequence is over
const draw = (cmd) => drawer.draw(cmd);

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
  const { r, probeTile } = changeResult(kind, msgs, { sent, t0, complete, area, probe, ms });
  // The tile over the probe point shows the new colour.
  checkProbe(r, probeTile && pixel(probeTile.pic, probe.x, probe.y), probe);
  return r;
}

async function main() {
  drawer = await startDrawer(opt.draw, die);
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
  for (const c of changeScript(+opt.count))
    results.push(await change(c.kind, c.cmd, c.area, c.probe));
  const cpu1 = procCpu(opt['agent-pid']), wall = ms(now() - wall0);
  done = true;
  drawer.quit();
  ws.close(1000);
  const kinds = kindStats(results);
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
