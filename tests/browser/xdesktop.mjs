// xdesktop.mjs - a virtual X desktop for the browser tests that view a
// device's screen: Xvfb on a free display number with an xev window whose
// events the test reads, helpers to run more X clients on it, and the
// Desktop tab's canvas pixels.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Polls pred (may be async) every 50 ms until true; throws after ms. */
export async function until(pred, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts Xvfb (800x600x24) on the first free display number from base and
 * maps xev at 300x200+400+300. Returns {display, xev (its output so far;
 * the test may reset it to ''), run(cmd, args) (another client on this
 * display), stop()}.
 */
export async function startXDesktop(base) {
  const procs = [];
  const run = (cmd, args, env = {}) => {
    const p = spawn(cmd, args, {
      env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(p);
    return p;
  };
  const x = { display: null, xev: '', run: null, stop: null };
  for (let n = base + (process.pid % 50); !x.display; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const srv = run('Xvfb', [`:${n}`, '-screen', '0', '800x600x24', '-nolisten', 'tcp']);
    try {
      await until(() => existsSync(`/tmp/.X11-unix/X${n}`) || srv.exitCode !== null, 'Xvfb', 5000);
    } catch { /* tried below */ }
    if (srv.exitCode === null && existsSync(`/tmp/.X11-unix/X${n}`)) x.display = `:${n}`;
  }
  x.run = (cmd, args) => run(cmd, args, { DISPLAY: x.display });
  x.stop = () => {
    for (const p of procs.reverse()) if (p.exitCode === null) p.kill();
  };
  const xev = x.run('xev', ['-geometry', '300x200+400+300']);
  xev.stdout.setEncoding('utf8');
  xev.stdout.on('data', (c) => { x.xev += c; });
  await until(() => x.xev.includes('MapNotify'), 'xev');
  return x;
}

/** The [r, g, b] of the Desktop tab's canvas at x, y. */
export function pixel(page, x, y) {
  return page.evaluate(([x, y]) => [...document.querySelector('#desk-canvas')
    .getContext('2d').getImageData(x, y, 1, 1).data].slice(0, 3), [x, y]);
}

/** Whether two colours are the same within JPEG's error. */
export const near = (got, want) => got.every((v, i) => Math.abs(v - want[i]) <= 24);
