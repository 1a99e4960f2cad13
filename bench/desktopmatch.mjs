// desktopmatch.mjs - what the remote desktop benches (desktopbench.mjs in
// node, webrtcbench.mjs in Chromium) share: matching one scripted change
// to the tiles that arrived after it, the statistics, and the CPU time
// of a process tree from /proc.
//
// A change's messages are a list of {at, len, pic}: arrival time, bytes
// of the agent's message, and for a PICTURE its {x, y, w, h} (null for
// anything else). Times may be BigInt nanoseconds (node) or milliseconds
// (the page); every function takes the caller's `ms(a - b)`.
//
// jpegSize, overlaps and covered use nothing outside themselves:
// webrtcbench.mjs puts their source into the page it measures.
import { readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

// Starts desktopdraw (bench/desktopdraw.c) on $DISPLAY, checks that the
// screen is 1920x1080 and paints it black. Returns {draw(cmd): the
// CLOCK_MONOTONIC time in BigInt ns at which the X server had done it,
// quit()}; fail(message) is called when it goes wrong.
export async function startDrawer(path, fail) {
  const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  let quitting = false;
  child.on('exit', (c) => { if (!quitting) fail(`desktopdraw exited with ${c}`); });
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()(l));
  const line = () => new Promise((r) => waiting.push(r));
  const drawer = {
    async draw(cmd) {
      const p = line();
      child.stdin.write(cmd + '\n');
      const l = await p;
      const m = /^done (\d+)$/.exec(l);
      if (!m) fail(`desktopdraw: ${l}`);
      return BigInt(m[1]);
    },
    quit() {
      quitting = true;
      child.stdin.write('quit\n');
    },
  };
  const ready = await line();
  if (!/^ready 1920 1080$/.test(ready)) fail(`desktopdraw: ${ready} (wanted 1920x1080)`);
  await drawer.draw('rect 0 0 1920 1080 000000');
  return drawer;
}

// Width and height from a JPEG's SOF marker, without decoding (a Buffer
// or a Uint8Array).
export function jpegSize(b) {
  const u16 = (o) => (b[o] << 8) | b[o + 1];
  let i = 2;
  while (i + 9 < b.length && b[i] === 0xff) {
    const m = b[i + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)
      return [u16(i + 7), u16(i + 5)];
    i += 2 + u16(i + 2);
  }
  return null;
}

export function overlaps(p, a) {
  return p.x < a.x + a.w && a.x < p.x + p.w && p.y < a.y + a.h && a.y < p.y + p.h;
}

// The arrival time of the PICTURE after which tiles that came at or after
// t0 cover all of area (on an 8x8 grid: a cell counts when one tile
// covers it whole), or null.
export function covered(area, msgs, t0) {
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

// One change's figures from its messages: `sent` is when the viewer
// asked for the change, t0 when the X server had done it, complete what
// covered() gave. Returns the result and the message whose tile holds
// the probe point (for the caller's colour check), or null.
export function changeResult(kind, msgs, { sent, t0, complete, area, probe, ms }) {
  const after = msgs.filter((m) => m.at >= sent);
  const first = after.find((m) => m.pic && m.at >= t0 && overlaps(m.pic, area));
  const r = {
    kind, first_ms: first ? ms(first.at - t0) : null,
    complete_ms: complete !== null ? ms(complete - t0) : null,
    bytes: after.reduce((s, m) => s + m.len, 0),
    picture_bytes: after.reduce((s, m) => s + (m.pic ? m.len : 0), 0),
    pictures: after.filter((m) => m.pic).length,
  };
  const pt = after.find((m) => m.pic && m.at >= t0 &&
    overlaps(m.pic, { x: probe.x, y: probe.y, w: 1, h: 1 }));
  return { r, probeTile: pt ?? null };
}

// Whether a decoded pixel has the probe's colour (JPEG tolerance); sets
// r.probe_ok (and r.probe when not).
export function checkProbe(r, got, probe) {
  if (!got) { r.probe_ok = false; return; }
  r.probe_ok = got.every((v, i) => Math.abs(v - probe.rgb[i]) <= 48);
  if (!r.probe_ok) r.probe = `${got} want ${probe.rgb}`;
}

export function stats(v) {
  const a = v.filter((x) => x !== null).sort((x, y) => x - y);
  if (!a.length) return { n: 0 };
  const q = (p) => a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  return { n: a.length, median: q(0.5), p90: q(0.9), min: a[0], max: a[a.length - 1],
    mean: a.reduce((s, x) => s + x, 0) / a.length };
}

// The per-kind summary of a list of changeResult results.
export function kindStats(results) {
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
  return kinds;
}

// The scripted sequence: count rounds of a 200x200 rectangle of a new
// colour, a full-screen gradient (desktopdraw's "full N") and a line of
// text, each {kind, cmd, area, probe}; the same for every run.
export function changeScript(count) {
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const out = [];
  for (let i = 0; i < count; i++) {
    const x = rnd(215) * 8, y = rnd(110) * 8; // 200x200 on screen, 8-aligned
    const rgb = [64 + rnd(192), 64 + rnd(192), 64 + rnd(192)];
    const hex = rgb.map((v) => v.toString(16).padStart(2, '0')).join('');
    out.push({ kind: 'rect', cmd: `rect ${x} ${y} 200 200 ${hex}`,
      area: { x, y, w: 200, h: 200 }, probe: { x: x + 100, y: y + 100, rgb } });
    const fb = ((i + 1) * 53 + (960 + 540) / 8) & 255;
    out.push({ kind: 'full', cmd: `full ${i + 1}`, area: { x: 0, y: 0, w: 1920, h: 1080 },
      probe: { x: 960, y: 540, rgb: [127, 127, fb] } });
    const tx = rnd(200) * 8, ty = rnd(130) * 8;
    out.push({ kind: 'text', cmd: `text ${tx} ${ty} ${i}`, area: { x: tx, y: ty, w: 248, h: 16 },
      probe: { x: tx + 4, y: ty + 1, rgb: [255, 255, 255] } });
  }
  return out;
}

// CPU time (utime+stime, with reaped children) of process `root` and all
// its live descendants, in ms, and how many processes that was.
const HZ = 100; // USER_HZ: the kernel's /proc tick on Linux
export function procCpu(root) {
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

// The same from the scheduler's nanosecond count (/proc/PID/task/*/
// schedstat: time on a CPU), summed over the live threads of root and
// its live descendants: far finer than the 10 ms ticks of procCpu, but
// threads and children that ended are not in it.
export function procCpuFine(root) {
  const parent = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      parent.set(+p, +s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
    } catch { } // gone meanwhile
  }
  let ns = 0, procs = 0;
  for (const [p] of parent) {
    let q = p;
    while (q > 1 && q !== +root) q = parent.get(q) ?? 0;
    if (q !== +root) continue;
    procs++;
    try {
      for (const t of readdirSync(`/proc/${p}/task`))
        ns += Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { } // gone meanwhile
  }
  return { ms: ns / 1e6, procs };
}
