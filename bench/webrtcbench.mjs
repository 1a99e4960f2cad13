// webrtcbench.mjs - the viewer of the WebRTC desktop bench (bench/webrtc.sh):
// the same scripted changes and figures as desktopbench.mjs, but viewed
// in headless Chromium, so a session can move off the relay onto a
// direct WebRTC data channel.
//   --kind meshd  meshd's own Tunnel (/tunnel.js) and KVM reader and tile
//                 queue (/kvm.js), imported into a page of meshd's web app
//                 after signing in; the tiles are drawn on a canvas. With
//                 --rtc 1 it first turns on meshd's webrtc setting
//                 (setserversettings, as the admin it signed in as) and
//                 gives the Tunnel an rtcConfig; with --rtc 0 it turns it
//                 off.
//   --kind stock  the stock web app's own desktop viewer (as
//                 tests/interop/desktop_stock_viewer.mjs drives it), set to
//                 JPEG (its default is WebP); the stock server decides
//                 whether the viewer offers WebRTC (settings.WebRTC); with
//                 --rtc 0 the page has no RTCPeerConnection, so it stays on
//                 the relay. With --rtc 1 Chromium puts IP host candidates
//                 in its offer (no mDNS names: the stock agent resolves
//                 none).
// Both viewers ask for JPEG quality 40, scaling 100%, 50 ms frames.
//
// Timing is inside the page: a script added before the page's own wraps
// the relay WebSocket's and every RTCDataChannel's message handlers, so
// each agent message is stamped (performance.timeOrigin +
// performance.now()) before the viewer sees it, and its KVM commands are
// split (reassembled across messages, as WebRTC may split them). The
// page clock is tied to CLOCK_MONOTONIC (desktopdraw's XSync time, node's
// hrtime) by reading it from node many times and keeping the read with
// the shortest round trip. Matching changes to tiles, the statistics and
// /proc CPU come from desktopmatch.mjs, as in desktopbench.mjs. The
// server's and the agent's CPU (with their descendants; the scheduler's
// nanoseconds, as a relayed change costs the server well under a 10 ms
// tick) are read when the sequence starts and ends. Prints one JSON object; when the session does
// not move onto WebRTC within 30 s it prints {"webrtc_active": false,
// "why": ...} and exits 3.
//
// usage: node webrtcbench.mjs --kind meshd|stock --rtc 0|1 --base URL
//          --user U --pass P --node ID|NAME --draw PATH --agent-pid PID
//          --server-pid PID [--count 10] [--quiet 400]
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import {
  changeResult, changeScript, checkProbe, covered, jpegSize, kindStats, overlaps, procCpu,
  procCpuFine, startDrawer,
} from './desktopmatch.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const req = createRequire(import.meta.url);
const { chromium } = req(resolve(here, '../tests/browser/node_modules/playwright-core'));
const argv = process.argv.slice(2);
const opt = { count: 10, quiet: 400, rtc: '0' };
while (argv.length && argv[0].startsWith('--')) {
  const k = argv.shift().slice(2);
  opt[k] = argv.shift();
}
const RTC = opt.rtc === '1';
const QUALITY = 40, SCALING = 1024, INTERVAL = 50;
const STEP_MS = 30000;
const die = (m) => { process.stderr.write(`webrtcbench: ${m}\n`); process.exit(1); };
setTimeout(() => die('timed out'), 20 * 60 * 1000).unref();
const now = () => process.hrtime.bigint();
const sleep = (t) => new Promise((r) => setTimeout(r, t));

// ------------------------------------------------------------ in the page
// Runs before the page's scripts. Everything it uses is in its own text
// (with jpegSize, overlaps and covered put before it).
function pageMain(noRtc) {
  const now = () => performance.timeOrigin + performance.now();
  const sleep = (t) => new Promise((r) => setTimeout(r, t));
  const B = window.__bench = {
    log: null, imgs: new Map(), pics: 0, lastPic: 0, screen: null, screenAt: 0,
    bytes: { ws: 0, dc: 0 }, msgs: { ws: 0, dc: 0 }, compression: [], errors: [],
  };
  const u16 = (b, o) => (b[o] << 8) | b[o + 1];
  // One binary message from the agent: its whole commands, the rest kept.
  function take(src, st, at, bytes) {
    B.bytes[src] += bytes.length;
    B.msgs[src]++;
    let data = bytes;
    if (st.pending.length) {
      data = new Uint8Array(st.pending.length + bytes.length);
      data.set(st.pending);
      data.set(bytes, st.pending.length);
    }
    let off = 0, len = bytes.length;
    for (;;) {
      const left = data.length - off;
      if (left < 4) break;
      let type = u16(data, off), start = off + 4, end;
      if (type === 27) { // JUMBO: u32 length, then the inner command
        if (left < 12) break;
        end = off + 8 + (data[off + 4] * 16777216 + (data[off + 5] << 16) +
          (data[off + 6] << 8) + data[off + 7]);
        type = u16(data, off + 8);
        start = off + 12;
      } else {
        end = off + u16(data, off + 2);
        if (end < start) { B.errors.push(`a command of size ${end - off}`); st.pending = new Uint8Array(0); return; }
      }
      if (end > data.length) break;
      const body = data.subarray(start, end);
      let pic = null;
      if (type === 3) {
        const img = body.subarray(4), sz = jpegSize(img);
        if (!sz) B.errors.push('a PICTURE that is not a JPEG');
        else {
          pic = { x: u16(body, 0), y: u16(body, 2), w: sz[0], h: sz[1], id: B.pics++ };
          B.lastPic = at;
          if (B.log) B.imgs.set(pic.id, img.slice());
        }
      } else if (type === 7) {
        B.screen = [u16(body, 0), u16(body, 2)];
        B.screenAt = at;
      }
      // The message's bytes go with its first command.
      if (B.log) B.log.push({ at, len, pic, src });
      len = 0;
      off = end;
    }
    if (len && B.log) B.log.push({ at, len, pic: null, src });
    st.pending = data.slice(off);
  }
  const add = EventTarget.prototype.addEventListener;
  const watched = new WeakSet();
  function watch(obj, src) {
    if (watched.has(obj)) return;
    watched.add(obj);
    if (src === 'ws' && !/meshrelay\.ashx/.test(obj.url)) return;
    const st = { pending: new Uint8Array(0) };
    let chain = Promise.resolve();
    add.call(obj, 'message', (e) => {
      const at = now(), d = e.data;
      if (typeof d === 'string') return;
      if (d instanceof ArrayBuffer) take(src, st, at, new Uint8Array(d));
      else if (d instanceof Blob) {
        chain = chain.then(async () => take(src, st, at, new Uint8Array(await d.arrayBuffer())));
      }
    });
  }
  // The viewer's COMPRESSION commands (image type, quality, scaling, ms).
  function sent(data) {
    let b = null;
    if (data instanceof ArrayBuffer) b = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (b && b.length >= 10 && u16(b, 0) === 5) {
      B.compression.push([b[4], b[5], u16(b, 6), u16(b, 8)]);
    }
  }
  for (const [C, src] of [[WebSocket, 'ws'], [RTCDataChannel, 'dc']]) {
    const d = Object.getOwnPropertyDescriptor(C.prototype, 'onmessage');
    Object.defineProperty(C.prototype, 'onmessage', {
      configurable: true,
      get() { return d.get.call(this); },
      set(f) { watch(this, src); d.set.call(this, f); },
    });
    C.prototype.addEventListener = function (type, ...rest) {
      if (type === 'message') watch(this, src);
      return add.call(this, type, ...rest);
    };
    const send = C.prototype.send;
    C.prototype.send = function (data) { sent(data); return send.call(this, data); };
  }
  if (noRtc) {
    window.RTCPeerConnection = undefined;
    window.webkitRTCPeerConnection = undefined;
  }
  B.begin = () => { B.log = []; B.imgs = new Map(); };
  // Until tiles since t0 cover area (10 s at most), then until no PICTURE
  // came for quietMs; returns the change's messages.
  B.wait = async (t0, area, quietMs) => {
    const deadline = now() + 10000;
    let complete = null;
    while (now() < deadline) {
      complete = covered(area, B.log, t0);
      if (complete !== null) break;
      await sleep(5);
    }
    await B.quiet(quietMs, 5000);
    const log = B.log;
    B.log = null;
    return { log, complete };
  };
  B.quiet = async (quietMs, max) => {
    const start = now();
    while (now() - Math.max(B.lastPic, start) < quietMs) {
      if (now() - start > max) return false;
      await sleep(20);
    }
    return true;
  };
  // The colour at x, y of kept tile id (decoded by the browser).
  B.pixel = async (id, px, py) => {
    const img = B.imgs.get(id);
    B.imgs = new Map();
    if (!img) return null;
    const bmp = await createImageBitmap(new Blob([img], { type: 'image/jpeg' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d');
    c.drawImage(bmp, 0, 0);
    bmp.close();
    return [...c.getImageData(px, py, 1, 1).data].slice(0, 3);
  };
}

// ------------------------------------------------------------ the viewers
// meshd: sign in with the app's form, then a session of our own Tunnel.
async function openMeshd(page) {
  await page.goto(`${opt.base}/`);
  await page.locator('#signin-form').waitFor({ timeout: STEP_MS });
  await page.fill('#user', opt.user);
  await page.fill('#pass', opt.pass);
  await page.click('#signin');
  await page.locator('#device-list').waitFor({ timeout: STEP_MS });
  const r = await page.evaluate(async ([node, rtc, q, s, i]) => {
    const { state } = await import('/state.js');
    const { Tunnel } = await import('/tunnel.js');
    const K = await import('/kvm.js');
    const set = await state.ctl.request({ action: 'setserversettings', webrtc: rtc });
    if (set.result !== 'ok') return `setserversettings: ${JSON.stringify(set)}`;
    const canvas = document.body.appendChild(document.createElement('canvas'));
    const ctx = canvas.getContext('2d');
    const tiles = new K.TileQueue(
      (image) => createImageBitmap(new Blob([image], { type: 'image/jpeg' })),
      (x, y, bmp) => { ctx.drawImage(bmp, x, y); bmp.close(); });
    const reader = new K.KvmReader();
    const t = new Tunnel(state.ctl, node, 2);
    t.rtcConfig = rtc ? { iceServers: [] } : null;
    t.ontransport = () => { window.__switchAt = performance.timeOrigin + performance.now(); };
    t.ondata = (bytes) => {
      for (const c of reader.push(bytes)) {
        if (c.type === K.KVM.SCREEN) {
          canvas.width = c.width;
          canvas.height = c.height;
          tiles.reset();
          t.send(K.screenStartMessage(q, s, i));
        } else if (c.type === K.KVM.PICTURE) tiles.add(c.x, c.y, c.image);
      }
    };
    t.onclose = (info) => { window.__closed = info; };
    window.__tunnel = t;
    window.__startAt = performance.timeOrigin + performance.now();
    await t.start({});
    return 'ok';
  }, [opt.node, RTC, QUALITY, SCALING, INTERVAL]);
  if (r !== 'ok') die(r);
}
const meshdActive = () => window.__tunnel?.transport === 'webrtc';

// stock: its login page, the device, its Desktop tab, JPEG, Connect.
async function openStock(page) {
  await page.goto(`${opt.base}/`);
  await page.locator('#username').waitFor({ timeout: STEP_MS });
  await page.fill('#username', opt.user);
  await page.fill('#password', opt.pass);
  await page.click('#loginButton');
  await page.locator('#MainDevDesktop').waitFor({ state: 'attached', timeout: STEP_MS });
  await page.locator('#devs').getByText(opt.node, { exact: true }).first()
    .click({ timeout: STEP_MS });
  await page.locator('#MainDevDesktop').waitFor({ state: 'visible', timeout: STEP_MS });
  await page.click('#MainDevDesktop');
  // Its defaults are quality 40, 100%, 50 ms and WebP: JPEG as ours.
  const ok = await page.evaluate(([q, s, i]) => {
    if (typeof desktopsettings !== 'object') return false;
    Object.assign(desktopsettings, { agentencoding: 1, quality: q, scaling: s, framerate: i });
    return true;
  }, [QUALITY, SCALING, INTERVAL]);
  if (!ok) die('the stock page has no desktopsettings');
  const connect = page.locator('#connectbutton1');
  await connect.waitFor({ state: 'visible', timeout: STEP_MS });
  const end = Date.now() + STEP_MS;
  while (!(await connect.isEnabled())) {
    if (Date.now() > end) die('the stock Connect button stays disabled');
    await sleep(100);
  }
  await page.evaluate(() => { window.__startAt = performance.timeOrigin + performance.now(); });
  await connect.click();
  await page.locator('#deskstatus', { hasText: 'Connected' }).waitFor({ timeout: STEP_MS });
}
const stockActive = () => typeof desktop === 'object' && desktop !== null &&
  desktop.webRtcActive === true;

// What the page's peer connection got to, for a session that did not
// switch: its states, the DTLS transport's, and the answer's m= line.
async function rtcState() {
  const pc = window.__tunnel?.rtc?.pc ?? (typeof desktop === 'object' && desktop?.webrtc);
  const dc = window.__tunnel?.rtc?.dc ?? (typeof desktop === 'object' && desktop?.webchannel);
  if (!pc) return { closed: window.__closed ?? null, pc: 'none' };
  const st = { ice: pc.iceConnectionState, conn: pc.connectionState, channel: dc?.readyState,
    sctp: pc.sctp?.state, dtls: pc.sctp?.transport?.state };
  for (const r of (await pc.getStats()).values()) {
    if (r.type === 'transport') Object.assign(st, { dtlsState: r.dtlsState, tls: r.tlsVersion, srtpCipher: r.dtlsCipher });
  }
  st.answer = (pc.remoteDescription?.sdp ?? '').split(/\r?\n/)
    .filter((l) => /^(m=|a=(setup|sctp|max-message|fingerprint:\S+|candidate))/.test(l)).join(' | ');
  return st;
}

let drawer;
const draw = (cmd) => drawer.draw(cmd);

// ------------------------------------------------------------ the clock
// The page's clock minus CLOCK_MONOTONIC, in ms, from the read with the
// shortest round trip (half of it bounds the error).
async function calibrate(page) {
  let best = null;
  for (let i = 0; i < 25; i++) {
    const a = now();
    const p = await page.evaluate(() => performance.timeOrigin + performance.now());
    const b = now();
    const rtt = Number(b - a) / 1e6;
    if (!best || rtt < best.rtt_ms) best = { rtt_ms: rtt, offset_ms: p - Number(a + b) / 2e6 };
  }
  return best;
}

// ------------------------------------------------------------ a change
async function change(page, off, c) {
  await page.evaluate(() => window.__bench.begin());
  const sent = Number(now()) / 1e6 + off;
  const t0 = Number(await draw(c.cmd)) / 1e6 + off;
  const { log, complete } = await page.evaluate(([t0, area, q]) =>
    window.__bench.wait(t0, area, q), [t0, c.area, +opt.quiet]);
  const { r, probeTile } = changeResult(c.kind, log,
    { sent, t0, complete, area: c.area, probe: c.probe, ms: (d) => d });
  const rgb = probeTile ? await page.evaluate(([id, x, y]) => window.__bench.pixel(id, x, y),
    [probeTile.pic.id, c.probe.x - probeTile.pic.x, c.probe.y - probeTile.pic.y]) : null;
  checkProbe(r, rgb, c.probe);
  r.dc_bytes = log.filter((m) => m.at >= sent && m.src === 'dc').reduce((s, m) => s + m.len, 0);
  return r;
}

// ------------------------------------------------------------ the run
async function main() {
  drawer = await startDrawer(opt.draw, die);

  const profile = await mkdtemp(resolve(os.tmpdir(), 'rtcbench-chromium-'));
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
  // The stock agent takes only IPv4 host candidates, not mDNS names.
  if (opt.kind === 'stock' && RTC) args.push('--disable-features=WebRtcHideLocalIpsWithMdns');
  // For looking into a failure, e.g. "--enable-logging --log-file=F --v=1".
  if (process.env.WEBRTCBENCH_CHROMIUM_ARGS) args.unshift(...process.env.WEBRTCBENCH_CHROMIUM_ARGS.split(' '));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args,
    ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 },
  });
  const out = { kind: opt.kind, rtc: RTC, chromium_args: args.slice(-1) };
  try {
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.addInitScript(`${jpegSize}\n${overlaps}\n${covered}\n(${pageMain})(${
      opt.kind === 'stock' && !RTC});`);
    if (opt.kind === 'meshd') await openMeshd(page);
    else await openStock(page);

    // The first full screen, then (with --rtc 1) the switch.
    const t = Date.now();
    await page.waitForFunction(() => window.__bench.screen && window.__bench.pics &&
      window.__bench.lastPic > window.__bench.screenAt, null, { timeout: 60000 });
    await page.evaluate(() => window.__bench.quiet(400, 30000));
    const B = () => page.evaluate(() => ({ ...window.__bench, log: null, imgs: null }));
    let b = await B();
    if (b.screen[0] !== 1920 || b.screen[1] !== 1080) die(`screen ${b.screen}, wanted 1920x1080`);
    out.initial = { ms: b.lastPic - (await page.evaluate(() => window.__startAt)),
      bytes: b.bytes.ws + b.bytes.dc };
    const active = opt.kind === 'meshd' ? meshdActive : stockActive;
    if (RTC) {
      try {
        await page.waitForFunction(active, null, { timeout: 30000 });
      } catch {
        out.webrtc_active = false;
        out.why = `no switch in ${Math.round((Date.now() - t) / 1000)} s; page errors: ` +
          `${JSON.stringify(pageErrors.slice(0, 3))}; ` +
          `${JSON.stringify(await page.evaluate(rtcState))}`;
        console.log(JSON.stringify(out, null, 1));
        process.exitCode = 3;
        return;
      }
      if (opt.kind === 'meshd') {
        out.switch_ms = await page.evaluate(() => window.__switchAt - window.__startAt);
      }
      await page.evaluate(() => window.__bench.quiet(400, 10000));
    }

    const cal0 = await calibrate(page);
    const off = cal0.offset_ms;
    b = await B();
    const bytes0 = { ...b.bytes };
    const cpu = () => ({ agent: procCpuFine(opt['agent-pid']), server: procCpuFine(opt['server-pid']),
      agentTicks: procCpu(opt['agent-pid']), serverTicks: procCpu(opt['server-pid']) });
    const cpu0 = cpu();
    const wall0 = now();
    const results = [];
    for (const c of changeScript(+opt.count)) results.push(await change(page, off, c));
    const cpu1 = cpu();
    const wall = Number(now() - wall0) / 1e6;
    const cal1 = await calibrate(page);
    b = await B();
    const seqBytes = results.reduce((s, x) => s + x.bytes, 0);
    const d = (k) => cpu1[k].ms - cpu0[k].ms;
    const serverMs = d('server'), agentMs = d('agent');
    Object.assign(out, {
      webrtc_active: await page.evaluate(active),
      screen: b.screen, compression_sent: b.compression,
      kinds: kindStats(results), sequence_bytes: seqBytes,
      sequence_bytes_relay: b.bytes.ws - bytes0.ws, sequence_bytes_webrtc: b.bytes.dc - bytes0.dc,
      agent_cpu_ms: agentMs, agent_procs: cpu1.agent.procs,
      agent_cpu_ms_per_change: agentMs / results.length,
      server_cpu_ms: serverMs, server_procs: cpu1.server.procs,
      // From /proc/PID/stat ticks (with reaped children), to compare.
      agent_cpu_ms_ticks: d('agentTicks'), server_cpu_ms_ticks: d('serverTicks'),
      server_cpu_ms_per_change: serverMs / results.length,
      server_cpu_ms_per_mb: serverMs / (seqBytes / 1048576),
      wall_ms: wall, clock: { rtt_ms: cal0.rtt_ms, drift_ms: cal1.offset_ms - cal0.offset_ms },
      page_errors: [...b.errors, ...pageErrors].slice(0, 5),
      bad: results.filter((x) => !x.probe_ok).slice(0, 5),
    });
    console.log(JSON.stringify(out, null, 1));
  } finally {
    drawer.quit();
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  }
}
main().then(() => setTimeout(() => process.exit(), 100)).catch((e) => die(e.stack));
