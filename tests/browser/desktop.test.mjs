// desktop.test.mjs - the Desktop tab against a real meshagent on a
// virtual X server (Xvfb): the root window (black: xsetroot -solid does
// not reach Xvfb's frame buffer without a window manager, as seen here)
// and an xev window (white) show on the canvas at their places, and a
// click and typing on the canvas reach xev as X events.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';

import {
  createGroup, launchBrowser, openPage, screenshot, signIn, startAgent, startMeshd, stopMeshd,
} from './lib.mjs';

const LIVE_MS = 20000;
const procs = [];
let meshd;
let browser;
let agent;
let display;
let xevLog = '';

function run(cmd, args, env) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  return p;
}

async function until(pred, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  // A free display number: the first without a socket that Xvfb takes.
  for (let n = 140 + (process.pid % 50); !display; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const x = run('Xvfb', [`:${n}`, '-screen', '0', '800x600x24', '-nolisten', 'tcp']);
    try {
      await until(() => existsSync(`/tmp/.X11-unix/X${n}`) || x.exitCode !== null, 'Xvfb', 5000);
    } catch { /* tried below */ }
    if (x.exitCode === null && existsSync(`/tmp/.X11-unix/X${n}`)) display = `:${n}`;
  }
  const env = { DISPLAY: display };
  const xev = run('xev', ['-geometry', '300x200+400+300'], env);
  xev.stdout.setEncoding('utf8');
  xev.stdout.on('data', (c) => { xevLog += c; });
  await until(() => xevLog.includes('MapNotify'), 'xev');
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  browser = await launchBrowser();
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (meshd) await stopMeshd(meshd);
  for (const p of procs.reverse()) if (p.exitCode === null) p.kill();
});

function pixel(page, x, y) {
  return page.evaluate(([x, y]) => [...document.querySelector('#desk-canvas')
    .getContext('2d').getImageData(x, y, 1, 1).data].slice(0, 3), [x, y]);
}
const near = (got, want) => got.every((v, i) => Math.abs(v - want[i]) <= 24);

test('desktop: the Xvfb screen on the canvas; typing reaches an X client', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  const group = await createGroup(page, 'Lab');
  process.env.DISPLAY = display; // the agent inherits it
  delete process.env.WAYLAND_DISPLAY;
  agent = await startAgent(meshd, group, { agentName: 'x-box' });
  await page.evaluate(() => { location.hash = '#/devices'; });
  const row = page.locator('li.device.online', { hasText: 'x-box' });
  await row.waitFor({ timeout: LIVE_MS });
  await row.locator('a').click();
  await page.click('#tabbtn-desktop');
  await page.locator('#desk-status', { hasText: 'Connected' }).waitFor({ timeout: LIVE_MS });
  await page.waitForFunction(() => {
    const c = document.querySelector('#desk-canvas');
    return c.width === 800 && c.height === 600;
  }, null, { timeout: LIVE_MS });
  await until(async () => near(await pixel(page, 50, 50), [0, 0, 0]) &&
    near(await pixel(page, 550, 400), [255, 255, 255]), 'the root colour and xev', LIVE_MS)
    .catch(async (x) => { throw new Error(`${x.message}: ${await pixel(page, 50, 50)} / ${await pixel(page, 550, 400)}`); });
  await screenshot(page, 'desktop-xvfb');

  // Click into xev (mapped from the shown canvas) and type.
  const box = await page.locator('#desk-canvas').boundingBox();
  xevLog = '';
  await page.mouse.click(box.x + (550 * box.width) / 800, box.y + (400 * box.height) / 600);
  await page.keyboard.type('Qz');
  await until(() => /keysym 0x51, Q/.test(xevLog) && /keysym 0x7a, z/.test(xevLog),
    `Q and z in xev:\n${xevLog.slice(-2000)}`);
  assert.match(xevLog, /ButtonPress[\s\S]*button 1,/);
  await page.locator('#desk-stats', { hasText: /fps · \d+ KB\/s · 800×600/ }).waitFor();
  assert.deepEqual(seen.errors, []);
});
