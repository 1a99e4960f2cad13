// xss.test.mjs - names that look like HTML, from an agent (its computer
// name) and from a user (a group name), are shown as the literal text on
// every page that shows them, and never run.
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

const AGENT_NAME = '<img src=x onerror=alert(1)>';
const GROUP_NAME = '<script>alert(2)</script><b onmouseover=alert(3)>G</b>';

let meshd;
let browser;
let agent;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  browser = await launchBrowser();
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

/** Nothing the names carry became an element or ran. */
async function assertInert(page, seen) {
  const injected = await page.evaluate(() => ({
    img: document.querySelectorAll('main img, img[src="x"]').length,
    script: document.querySelectorAll('main script').length,
    b: document.querySelectorAll('main b').length,
  }));
  assert.deepEqual(injected, { img: 0, script: 0, b: 0 });
  assert.deepEqual(seen.dialogs, [], 'no alert() ran');
}

test('an agent and a group named like HTML show as literal text', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  const group = await createGroup(page, GROUP_NAME);
  assert.equal(await page.locator('#group-title').textContent(), GROUP_NAME);

  agent = await startAgent(meshd, group, { agentName: AGENT_NAME });
  await page.evaluate(() => { location.hash = '#/devices'; });
  const row = page.locator('li.device.online');
  await row.waitFor({ timeout: 15000 });
  assert.equal(await row.locator('.device-name').textContent(), AGENT_NAME);
  assert.ok(await page.getByText(AGENT_NAME, { exact: true }).isVisible());
  assert.equal(await page.locator('section.group h2').textContent(), GROUP_NAME);
  await assertInert(page, seen);
  await screenshot(page, 'xss-devices');

  // Searching for the name finds it (the text is data, not markup).
  await page.fill('#device-search', '<img');
  await row.waitFor();

  await row.locator('a').click();
  await page.locator('#device-name').waitFor();
  assert.equal(await page.locator('#device-name').textContent(), AGENT_NAME);
  assert.match(await page.locator('.details').textContent(), /<script>alert\(2\)/);
  assert.equal(await page.title(), `${AGENT_NAME} · meshd`);
  await assertInert(page, seen);

  await page.evaluate((g) => { location.hash = `#/group/${g}`; }, group);
  await page.locator('#group-title').waitFor();
  assert.equal(await page.locator('ul.devices .device-name').textContent(), AGENT_NAME);
  await assertInert(page, seen);

  // The event log carries the group name inside its messages.
  await page.click('nav a[data-view="events"]');
  await page.locator('#event-list td', { hasText: `Device group created: ${GROUP_NAME}` })
    .waitFor();
  await assertInert(page, seen);

  // Hovering where the <b onmouseover> would be runs nothing either.
  await page.click('nav a[data-view="devices"]');
  await page.hover('section.group h2');
  await page.waitForTimeout(100);
  await assertInert(page, seen);
  assert.deepEqual(seen.errors, []);
  await page.close();
});
