// first_run.test.mjs - a fresh server in the browser: the setup screen
// creates the first administrator, who signs out and signs in again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  launchBrowser,
  openPage,
  postJson,
  request,
  screenshot,
  signIn,
  startMeshd,
  stopMeshd,
} from './lib.mjs';

let meshd;
let browser;

before(async () => {
  meshd = await startMeshd();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

test('setup creates the first administrator, then sign out and in', async () => {
  const { page, seen } = await openPage(browser.context);
  await page.goto(meshd.base + '/');
  await page.locator('#setup-form').waitFor();
  await screenshot(page, 'setup');

  // The form's own checks, before anything is sent.
  await page.fill('#setup-user', 'Admin');
  await page.fill('#setup-pass', 'correct horse');
  await page.fill('#setup-pass2', 'correct hose');
  await page.click('#setup-submit');
  await page.locator('#setup-error', { hasText: 'differ' }).waitFor();

  await page.fill('#setup-email', 'admin@example.com');
  await page.fill('#setup-pass2', 'correct horse');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/setup') &&
    r.request().method() === 'POST');
  await page.click('#setup-submit');
  const res = await answer;
  assert.equal(res.status(), 200);
  assert.match(await res.headerValue('set-cookie'),
    /^meshd_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200$/);

  // Signed in straight away, as an administrator (the Users page is there).
  await page.locator('#device-list').waitFor();
  await page.locator('#device-list', { hasText: 'no device groups yet' }).waitFor();
  assert.equal(await page.locator('#account-button').textContent(), 'AAdmin');
  assert.ok(await page.locator('nav a[data-view="users"]').isVisible());
  await screenshot(page, 'devices-empty');

  // The server now refuses a second setup.
  const again = await postJson(meshd.port, '/api/setup', { user: 'mallory', pass: 'password123' });
  assert.equal(again.status, 409);
  const needed = await request(meshd.port, 'GET', '/api/setup');
  assert.deepEqual(JSON.parse(needed.body.toString()), { needed: false });

  // The account page, then sign out from the account menu.
  await page.click('#account-button');
  await page.click('#account-menu a[href="#/account"]');
  await page.locator('.details', { hasText: 'admin@example.com' }).waitFor();
  assert.match(await page.locator('.details').textContent(), /Administrator/);
  await page.click('#account-button');
  const out = page.waitForResponse((r) => r.url().endsWith('/api/logout'));
  await page.click('#signout');
  const outRes = await out;
  assert.equal(outRes.status(), 200);
  await page.locator('#signin-form').waitFor();
  assert.equal(await page.locator('#nav').isVisible(), false);

  // A reload stays signed out (the cookie is gone and the session revoked).
  await page.reload();
  await page.locator('#signin-form').waitFor();

  // A wrong password, then the right one (the name is case-insensitive).
  await page.fill('#user', 'admin');
  await page.fill('#pass', 'wrong horse');
  await page.click('#signin');
  await page.locator('#signin-error', { hasText: 'sign-in failed (401)' }).waitFor();
  await signIn(page, meshd.base, 'ADMIN', 'correct horse');
  await page.locator('#account-button', { hasText: 'Admin' }).waitFor();

  // And a reload keeps the session.
  await page.reload();
  await page.locator('#device-list').waitFor();

  const unexpected = seen.errors.filter((e) => !/\/api\/(login|setup)$/.test(e.url));
  assert.deepEqual(unexpected, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});
