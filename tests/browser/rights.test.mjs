// rights.test.mjs - an administrator makes two groups with a real agent in
// each, adds a user to one of them with view-only rights; that user, in a
// browser of their own, sees that group's device and nothing of the other
// group, and no user administration.
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

let meshd;
let adminBrowser;
let bobBrowser;
const agents = [];

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  meshd.cli('create-account', 'bob', '--pass', 'bob password');
  [adminBrowser, bobBrowser] = await Promise.all([launchBrowser(), launchBrowser()]);
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  if (adminBrowser) await adminBrowser.close();
  if (bobBrowser) await bobBrowser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

test('a view-only member sees only their group', async () => {
  const admin = await openPage(adminBrowser.context);
  const page = admin.page;
  await signIn(page, meshd.base, 'admin', 'admin password');
  const alpha = await createGroup(page, 'Alpha');
  const beta = await createGroup(page, 'Beta');
  agents.push(await startAgent(meshd, alpha, { agentName: 'alpha-box' }),
    await startAgent(meshd, beta, { agentName: 'beta-box' }));

  // Members of Alpha: an unknown name is refused, bob is added view-only.
  await page.evaluate((g) => { location.hash = `#/group/${g}`; }, alpha);
  await page.locator('#group-title', { hasText: 'Alpha' }).waitFor();
  await page.fill('#member-user', 'nosuch');
  await page.click('#member-add');
  await page.locator('#member-error', { hasText: 'There is no user called nosuch.' }).waitFor();
  await page.fill('#member-user', 'bob');
  assert.equal(await page.inputValue('#member-rights'), 'view');
  await page.click('#member-add');
  await page.locator('#member-result', { hasText: 'Added user bob' }).waitFor();
  await page.locator('#member-table tr[data-user="bob"]', { hasText: 'View only' }).waitFor();
  assert.match(await page.locator('#member-table tr[data-user="admin"]').textContent(),
    /Full administrator/);
  await screenshot(page, 'group');

  // Both devices are online for the administrator.
  await page.click('nav a[data-view="devices"]');
  for (const name of ['alpha-box', 'beta-box']) {
    await page.locator('li.device.online', { hasText: name }).waitFor({ timeout: 15000 });
  }
  const betaNode = await page.locator('li.device', { hasText: 'beta-box' })
    .getAttribute('data-node');

  // The Users page: add a user, then remove it again (two clicks).
  await page.click('nav a[data-view="users"]');
  await page.locator('#user-table tr[data-user="bob"]').waitFor();
  await page.fill('#new-user', 'carol');
  await page.fill('#new-pass', 'carol password');
  await page.click('#adduser');
  const carol = page.locator('#user-table tr[data-user="carol"]');
  await carol.waitFor();
  await carol.locator('button', { hasText: 'Remove' }).click();
  await carol.locator('button', { hasText: 'Confirm remove' }).click();
  await carol.waitFor({ state: 'detached' });
  await screenshot(page, 'users');

  // bob, in his own browser.
  const bob = await openPage(bobBrowser.context);
  const bp = bob.page;
  await signIn(bp, meshd.base, 'bob', 'bob password');
  await bp.locator('li.device.online', { hasText: 'alpha-box' }).waitFor();
  const listed = await bp.locator('#device-list').textContent();
  assert.doesNotMatch(listed, /beta-box|Beta/);
  assert.equal(await bp.locator('section.group').count(), 1);
  assert.equal(await bp.locator('nav a[data-view="users"]').count(), 0);
  await screenshot(bp, 'bob-devices');

  // Not the Users page, even by its address.
  await bp.evaluate(() => { location.hash = '#/users'; });
  await bp.locator('#access-denied').waitFor();
  assert.equal(await bp.locator('#user-table').count(), 0);

  // The groups page shows Alpha only; bob may not manage its members.
  await bp.click('nav a[data-view="groups"]');
  await bp.locator('#group-list li', { hasText: 'Alpha' }).waitFor();
  assert.equal(await bp.locator('#group-list li').count(), 1);
  await bp.locator('#group-list a', { hasText: 'Alpha' }).click();
  await bp.locator('text=Your rights: View only').waitFor();
  assert.equal(await bp.locator('#member-form').count(), 0);
  assert.equal(await bp.locator('#group-delete').count(), 0);
  // Beta's page and beta-box's page by address: nothing.
  await bp.evaluate((g) => { location.hash = `#/group/${g}`; }, beta);
  await bp.locator('h1', { hasText: 'Group not found' }).waitFor();
  await bp.evaluate((n) => { location.hash = `#/device/${n}`; }, betaNode);
  await bp.locator('h1', { hasText: 'Device not found' }).waitFor();

  // bob's device page of alpha-box works, with its events.
  await bp.click('nav a[data-view="devices"]');
  await bp.locator('li.device a', { hasText: 'alpha-box' }).click();
  await bp.locator('.details', { hasText: 'Connected now' }).waitFor();

  for (const p of [admin, bob]) {
    assert.deepEqual(p.seen.errors, []);
    assert.deepEqual(p.seen.dialogs, []);
  }
});
