// live_devices.test.mjs - a real meshagent joins while an administrator
// watches the device list: it appears online without a reload, can be
// found and opened, and goes offline when the agent dies.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  createGroup,
  launchBrowser,
  openPage,
  screenshot,
  signIn,
  startAgent,
  startMeshd,
  stopMeshd,
} from './lib.mjs';

const LIVE_MS = 15000; // agent start (RSA key, TLS, handshake) to online

let meshd;
let browser;
const agents = [];

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  browser = await launchBrowser();
});

after(async () => {
  for (const a of agents) await a.stop();
  if (browser) await browser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

test('an agent appears online live, then goes offline when it dies', async (t) => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  const group = await createGroup(page, 'Lab', 'machines in the lab');
  // The group's agent settings, as the page offers them for download.
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.click('#group-msh')]);
  const msh = await new Promise((resolve, reject) => {
    download.createReadStream().then((s) => {
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (c) => { text += c; });
      s.on('end', () => resolve(text));
    }, reject);
  });
  assert.match(msh, /^MeshServer=wss:\/\/127\.0\.0\.1:\d+\/agent\.ashx\r$/m);

  await page.evaluate(() => { location.hash = '#/devices'; });
  const section = page.locator(`section.group[data-mesh="${group}"]`);
  await section.locator('text=No devices yet').waitFor();
  // A mark on the page's window: still there later means no reload.
  await page.evaluate(() => { window.meshdTestMark = 42; });

  const t0 = Date.now();
  const agent = await startAgent(meshd, group, { agentName: 'lab-box-1' });
  agents.push(agent);
  const row = section.locator('li.device', { hasText: 'lab-box-1' });
  await row.and(page.locator('li.online')).waitFor({ timeout: LIVE_MS });
  t.diagnostic(`agent online in the list after ${Date.now() - t0} ms`);
  assert.equal(await page.evaluate(() => window.meshdTestMark), 42, 'no reload');
  assert.equal(await page.locator('#device-summary').textContent(), '1 of 1 device online');
  assert.match(await section.locator('.group-head').textContent(), /1 of 1 online/);
  await screenshot(page, 'devices-online');

  // Search and filter.
  await page.fill('#device-search', 'nothing like it');
  await page.locator('#device-list', { hasText: 'No device matches.' }).waitFor();
  await page.fill('#device-search', 'LAB-BOX');
  await row.waitFor();
  await page.selectOption('#device-filter', 'offline');
  await page.locator('#device-list', { hasText: 'No device matches.' }).waitFor();
  await page.selectOption('#device-filter', 'online');
  await row.waitFor();

  // The device page: details and the device's events.
  await row.locator('a').click();
  await page.locator('#device-name', { hasText: 'lab-box-1' }).waitFor();
  const details = page.locator('.details');
  await details.locator('text=Connected now').waitFor();
  const text = await details.textContent();
  assert.match(text, /GroupLab/);
  assert.match(text, /IP address127\.0\.0\.1/);
  assert.match(text, /AgentLinux/);
  assert.match(text, /First connected\w{3} \d/);
  await page.locator('table.events', { hasText: 'addnode' }).waitFor();
  await screenshot(page, 'device');

  // The agent dies: the device page, then the list, show it offline.
  const t1 = Date.now();
  await agent.kill();
  await page.locator('.badge.off', { hasText: 'offline' }).waitFor({ timeout: LIVE_MS });
  t.diagnostic(`agent offline on its page after ${Date.now() - t1} ms`);
  await details.locator('dd', { hasText: /\((just now|\d+ min ago)\)$/ }).waitFor();
  await page.click('a.back');
  await page.selectOption('#device-filter', 'all');
  await section.locator('li.device.offline', { hasText: 'lab-box-1' }).waitFor();
  assert.equal(await page.locator('#device-summary').textContent(), '0 of 1 device online');
  assert.equal(await page.evaluate(() => window.meshdTestMark), 42, 'no reload');

  // On a phone the list still fits, with no sideways scrolling.
  await page.setViewportSize({ width: 375, height: 667 });
  await section.locator('li.device', { hasText: 'lab-box-1' }).waitFor();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `no horizontal scroll (${width})`);
  await screenshot(page, 'devices-phone');
  await page.setViewportSize({ width: 1024, height: 720 });

  // The event log lists what happened.
  await page.click('nav a[data-view="events"]');
  await page.locator('#event-list table', { hasText: 'createmesh' }).waitFor();
  assert.match(await page.locator('#event-list').textContent(), /addnode/);

  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});
