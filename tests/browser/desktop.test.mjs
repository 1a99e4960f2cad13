// desktop.test.mjs - the Desktop tab against a real meshagent on a
// virtual X server (Xvfb): the root window (black: xsetroot -solid does
// not reach Xvfb's frame buffer without a window manager, as seen here)
// and an xev window (white) show on the canvas at their places, and a
// click and typing on the canvas reach xev as X events. With two RandR
// monitors (tests/e2e/desktop_monitors), the Display picker shows them,
// picking the second shows only it, and a click lands offset into it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  createGroup, launchBrowser, openPage, screenshot, signIn, startAgent, startMeshd, stopMeshd,
} from './lib.mjs';
import { near, pixel, startXDesktop, until } from './xdesktop.mjs';

const LIVE_MS = 20000;
let meshd;
let browser;
let agent;
let x; // the X desktop (xdesktop.mjs)
let deskPage; // the first test's page, its desktop session still open

before(async () => {
  x = await startXDesktop(140);
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  browser = await launchBrowser();
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (meshd) await stopMeshd(meshd);
  x?.stop();
});

test('desktop: the Xvfb screen on the canvas; typing reaches an X client', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  const group = await createGroup(page, 'Lab');
  process.env.DISPLAY = x.display; // the agent inherits it
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
    .catch(async (e) => { throw new Error(`${e.message}: ${await pixel(page, 50, 50)} / ${await pixel(page, 550, 400)}`); });
  await screenshot(page, 'desktop-xvfb');

  // Click into xev (mapped from the shown canvas) and type.
  const box = await page.locator('#desk-canvas').boundingBox();
  x.xev = '';
  await page.mouse.click(box.x + (550 * box.width) / 800, box.y + (400 * box.height) / 600);
  await page.keyboard.type('Qz');
  await until(() => /keysym 0x51, Q/.test(x.xev) && /keysym 0x7a, z/.test(x.xev),
    `Q and z in xev:\n${x.xev.slice(-2000)}`);
  assert.match(x.xev, /ButtonPress[\s\S]*button 1,/);
  await page.locator('#desk-stats', { hasText: /fps · \d+ KB\/s · 800×600/ }).waitFor();
  assert.deepEqual(seen.errors, []);
  deskPage = { page, seen };
});

test('desktop: two monitors in the Display picker; the second shown alone', async () => {
  assert.ok(deskPage, 'the first test left its desktop session open');
  const { page, seen } = deskPage;
  const helper = join(dirname(process.env.MESHD), 'desktop_monitors');
  assert.ok(existsSync(helper), `no ${helper}`);
  assert.ok(await page.locator('#desk-display').isHidden(), 'one display: no picker');

  // Monitors made while the session is open are followed.
  let monLog = '';
  const mon = x.run(helper, ['A:400x600+0+0:output', 'B:400x600+400+0']);
  mon.stdout.setEncoding('utf8');
  mon.stdout.on('data', (c) => { monLog += c; });
  await until(() => monLog.includes('set 2'), 'the monitors');
  await page.locator('#desk-display').waitFor({ timeout: LIVE_MS });
  assert.deepEqual(await page.locator('#desk-display option').allTextContents(),
    ['Display 1 (400×600)', 'Display 2 (400×600)', 'All displays']);
  assert.equal(await page.inputValue('#desk-display'), '65535');

  await page.selectOption('#desk-display', '2');
  await page.waitForFunction(() => {
    const c = document.querySelector('#desk-canvas');
    return c.width === 400 && c.height === 600;
  }, null, { timeout: LIVE_MS });
  // xev (400..700, 300..500 on the screen) is at 0..300, 300..500 here.
  await until(async () => near(await pixel(page, 150, 400), [255, 255, 255]) &&
    near(await pixel(page, 350, 100), [0, 0, 0]), 'monitor 2 alone', LIVE_MS);
  const box = await page.locator('#desk-canvas').boundingBox();
  x.xev = '';
  await page.mouse.click(box.x + (150 * box.width) / 400, box.y + (400 * box.height) / 600);
  await until(() => /ButtonPress[\s\S]*root:\(5[45]\d,\s*(39\d|40\d)\)/.test(x.xev),
    `a click near 550,400 in xev:\n${x.xev.slice(-1000)}`);
  await page.locator('#desk-stats', { hasText: /· 400×600/ }).waitFor();

  // The monitors go: one display again, the whole screen, no picker.
  mon.kill();
  await page.waitForFunction(() => document.querySelector('#desk-canvas').width === 800,
    null, { timeout: LIVE_MS });
  await page.locator('#desk-display').waitFor({ state: 'hidden' });
  assert.deepEqual(seen.errors, []);
});
