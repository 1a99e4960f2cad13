// webrtc.test.mjs - the WebRTC switch-over (docs/sessions.md §9) between
// Debian's Chromium and a real meshagent on this machine (its screen an
// Xvfb, xdesktop.mjs): with the server
// setting on, the Desktop tab's session moves onto a direct data channel
// (the screen still shows, typing still reaches an X client), and the
// Files tab's too (a file goes up and comes back byte for byte). The
// agent's log shows the switch; meshd's relay carries only the start.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  createGroup, launchBrowser, openPage, screenshot, signIn, startAgent, startMeshd, stopMeshd,
} from './lib.mjs';
import { near, pixel, startXDesktop, until } from './xdesktop.mjs';

const LIVE_MS = 20000;
let meshd;
let browser;
let agent;
let x; // the X desktop
let dir;
let deviceUrl;

before(async () => {
  x = await startXDesktop(190);
  dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-rtcfiles-'));
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  browser = await launchBrowser();
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (meshd) await stopMeshd(meshd);
  x?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const count = (text, re) => (text.match(re) || []).length;

test('desktop: the session moves onto WebRTC; screen and typing still work', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  await page.click('#nav a[data-view="settings"]');
  await page.locator('#settings-save').waitFor();
  assert.equal(await page.isChecked('#settings-webrtc'), false, 'off by default');
  await page.check('#settings-webrtc');
  await page.click('#settings-save');
  await page.locator('#settings-saved', { hasText: 'Saved' }).waitFor();

  const group = await createGroup(page, 'Lab');
  process.env.DISPLAY = x.display; // the agent inherits it
  delete process.env.WAYLAND_DISPLAY;
  agent = await startAgent(meshd, group, { agentName: 'rtc-box' });
  await page.evaluate(() => { location.hash = '#/devices'; });
  const row = page.locator('li.device.online', { hasText: 'rtc-box' });
  await row.waitFor({ timeout: LIVE_MS });
  await row.locator('a').click();
  deviceUrl = page.url().replace(/\/[a-z]+$/, '');
  await page.click('#tabbtn-desktop');
  await page.locator('#desk-status', { hasText: 'Connected' }).waitFor({ timeout: LIVE_MS });
  await page.locator('#desk-stats', { hasText: 'direct (WebRTC)' }).waitFor({ timeout: LIVE_MS })
    .catch((x) => { throw new Error(`${x.message}\nagent log:\n${agent.log().slice(-3000)}`); });
  assert.match(agent.log(), /event=webrtc_active/);

  // Frames keep coming over the channel: a window drawn now shows.
  const draw = path.join(path.dirname(process.env.MESHD), 'desktop_draw');
  x.run(draw, ['50', '50', '200', '150', 'ff0000']);
  await until(async () => near(await pixel(page, 150, 120), [255, 0, 0]) &&
    near(await pixel(page, 550, 400), [255, 255, 255]), 'the red window and xev', LIVE_MS)
    .catch(async (e) => { throw new Error(`${e.message}: ${await pixel(page, 150, 120)}`); });
  await screenshot(page, 'desktop-webrtc');

  // Input goes over the channel too.
  const box = await page.locator('#desk-canvas').boundingBox();
  x.xev = '';
  await page.mouse.click(box.x + (550 * box.width) / 800, box.y + (400 * box.height) / 600);
  await page.keyboard.type('Qz');
  await until(() => /keysym 0x51, Q/.test(x.xev) && /keysym 0x7a, z/.test(x.xev),
    `Q and z in xev:\n${x.xev.slice(-2000)}`);
  assert.match(x.xev, /ButtonPress[\s\S]*button 1,/);
  assert.deepEqual(seen.errors, []);

  // Disconnecting ends the session on the agent, channel and all.
  await page.click('#desk-disconnect');
  await until(() => count(agent.log(), /event=tunnel_closed/g) >= 1, 'the agent to end the session');
  await page.close();
});

test('files: a file goes up and comes back over WebRTC', async () => {
  assert.ok(deviceUrl, 'the first test found the device');
  const { page, seen } = await openPage(browser.context);
  await page.goto(`${deviceUrl}/files`);
  await page.locator('#files-status', { hasText: 'Connected directly (WebRTC)' })
    .waitFor({ timeout: LIVE_MS });
  for (const part of dir.split('/').filter(Boolean)) {
    await page.locator(`#files-table tr[data-name="${part}"] button.entry-name`).click();
    await page.locator('#files-path [aria-current="location"]', { hasText: part }).waitFor();
  }
  const data = randomBytes(5 * 65536 + 123);
  await page.setInputFiles('#files-pick', { name: 'rtc.bin', mimeType: 'application/octet-stream', buffer: data });
  await page.locator('#files-transfers li[data-kind="upload"][data-state="done"]').waitFor({ timeout: LIVE_MS });
  assert.ok((await readFile(path.join(dir, 'rtc.bin'))).equals(data), 'uploaded bytes on the device');
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.locator('#files-table tr[data-name="rtc.bin"] [data-action="download"]').click()]);
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  assert.ok(Buffer.concat(chunks).equals(data), 'downloaded bytes');
  assert.equal(count(agent.log(), /event=webrtc_active/g), 2, 'both sessions switched');
  assert.deepEqual(seen.errors, []);
  await page.close();
});
