// add_device.test.mjs - the group page's "Add a device" panel: a group
// administrator downloads the agent with the button (an ELF binary that
// carries the group's settings for this server), sees the install command
// or why there is none, and a view-only member of the group sees no panel.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  createGroup,
  launchBrowser,
  openPage,
  screenshot,
  signIn,
  startMeshd,
  stopMeshd,
} from './lib.mjs';

let meshd;
let browser;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  meshd.cli('create-account', 'viewer', '--pass', 'viewer password');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (meshd) await stopMeshd(meshd);
});

/** Resolves to the bytes of a playwright download. */
async function downloadBytes(download) {
  const stream = await download.createReadStream();
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

test('a group administrator downloads the agent; a viewer sees no panel', async (t) => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  const group = await createGroup(page, 'Office');
  const panel = page.locator('#add-device');
  await panel.waitFor();
  await page.locator('.empty', { hasText: 'No devices yet. Add one as shown below.' }).waitFor();

  // The install command, or (on a server without install tokens) why not.
  await page.locator('#install-command, #install-command-error').first().waitFor();
  const command = page.locator('#install-command');
  if (await command.count()) {
    const text = await command.textContent();
    assert.ok(!text.includes('\n'), 'one line');
    assert.ok(text.includes(`127.0.0.1:${meshd.port}`), `names this server: ${text}`);
    await page.locator('#install-expires', { hasText: 'works until' }).waitFor();
  } else {
    t.diagnostic(`no install command: ${await page.locator('#install-command-error').textContent()}`);
  }

  // The button's download is the agent binary with this group's .msh.
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.click('#agent-download')]);
  assert.equal(download.suggestedFilename(), 'meshagent');
  const bin = await downloadBytes(download);
  assert.deepEqual([...bin.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
  const tail = bin.subarray(Math.max(0, bin.length - 65536)).toString('latin1');
  assert.match(tail, new RegExp(`MeshServer=wss://127\\.0\\.0\\.1:${meshd.port}/agent\\.ashx`));
  assert.ok(tail.includes(`MeshID=`), 'the group id is embedded');
  await screenshot(page, 'add-device');

  // A view-only member: the group, but no way to add devices to it.
  await page.fill('#member-user', 'viewer');
  await page.click('#member-add');
  await page.locator('#member-table tr[data-user="viewer"]').waitFor();
  await page.click('#account-button');
  await page.click('#signout');
  await page.locator('#signin-form').waitFor();
  await signIn(page, meshd.base, 'viewer', 'viewer password');
  await page.evaluate((g) => { location.hash = `#/group/${g}`; }, group);
  await page.locator('#group-title', { hasText: 'Office' }).waitFor();
  await page.locator('.empty', { hasText: 'No devices yet.' }).waitFor();
  assert.equal(await panel.count(), 0);

  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});
