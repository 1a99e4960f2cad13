// consent.test.mjs - the group page's "User consent" form with a real
// meshd: the boxes show the group's stored consent bits, Save sends them
// with editmesh and they survive a reload (the server has them); a member
// who may not edit the group gets no form, only a line saying what is
// asked.
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
let other;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  meshd.cli('create-account', 'viewer', '--pass', 'viewer password');
  [browser, other] = await Promise.all([launchBrowser(), launchBrowser()]);
});

after(async () => {
  if (browser) await browser.close();
  if (other) await other.close();
  if (meshd) await stopMeshd(meshd);
});

const BOXES = {
  'consent-desktop-8': 8,
  'consent-desktop-1': 1,
  'consent-desktop-64': 64,
  'consent-terminal-16': 16,
  'consent-terminal-2': 2,
  'consent-files-32': 32,
  'consent-files-4': 4,
};

async function checked(page) {
  const out = {};
  for (const id of Object.keys(BOXES)) out[id] = await page.isChecked(`#${id}`);
  return out;
}

test('consent boxes are saved with editmesh and shown to members', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  const groupId = await createGroup(page, 'Consent');
  await page.locator('#consent-form').waitFor();
  // A new group asks nothing.
  assert.deepEqual(Object.values(await checked(page)), Object.values(BOXES).map(() => false));

  await page.check('#consent-desktop-8');
  await page.check('#consent-desktop-64');
  await page.check('#consent-terminal-2');
  await page.click('#consent-save');
  await page.locator('#consent-result', { hasText: 'Saved' }).waitFor();
  assert.ok(await page.locator('#consent-error').isHidden());
  await page.reload();
  await page.locator('#consent-form').waitFor();
  const after1 = await checked(page);
  assert.deepEqual(Object.keys(after1).filter((k) => after1[k]).sort(),
    ['consent-desktop-64', 'consent-desktop-8', 'consent-terminal-2']);
  await screenshot(page, 'group-consent');

  // Unchecking one and checking another changes just those.
  await page.uncheck('#consent-desktop-64');
  await page.check('#consent-files-32');
  await page.click('#consent-save');
  await page.locator('#consent-result', { hasText: 'Saved' }).waitFor();
  await page.reload();
  await page.locator('#consent-form').waitFor();
  const after2 = await checked(page);
  assert.deepEqual(Object.keys(after2).filter((k) => after2[k]).sort(),
    ['consent-desktop-8', 'consent-files-32', 'consent-terminal-2']);

  // A view-only member: no form, a line naming what is asked.
  await page.fill('#member-user', 'viewer');
  await page.selectOption('#member-rights', 'view');
  await page.click('#member-add');
  await page.locator('#member-table tr[data-user="viewer"]').waitFor();
  const o = await openPage(other.context);
  await signIn(o.page, meshd.base, 'viewer', 'viewer password');
  await o.page.goto(`${meshd.base}/#/group/${encodeURIComponent(groupId)}`);
  await o.page.locator('#group-consent', {
    hasText: 'The local user is asked before remote desktop and files sessions start.',
  }).waitFor();
  assert.equal(await o.page.locator('#consent-form').count(), 0);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(o.seen.errors, []);
});
