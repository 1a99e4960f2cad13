// settings.test.mjs - the Settings page (full administrators only), and a
// server that requires two-factor sign-in: the moment the administrator
// turns it on, an account without a second factor sees only its Account
// page with a notice, and the app opens again once one is set up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, openPage, screenshot, signIn, startMeshd, stopMeshd } from './lib.mjs';
import { totp } from '../e2e/otp.mjs';

const APASS = 'admin the password';
const UPASS = 'ursula the password';
let meshd;
let browser;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', APASS, '--admin');
  meshd.cli('create-account', 'ursula', '--pass', UPASS);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (meshd) await stopMeshd(meshd);
});

const navTexts = (page) => page.locator('#nav a').allTextContents();

test('a user has no Settings page', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'ursula', UPASS);
  assert.ok(!(await navTexts(page)).includes('Settings'));
  await page.evaluate(() => { location.hash = '#/settings'; });
  await page.locator('#settings', { hasText: 'Access denied' }).waitFor();
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('the administrator requires two-factor sign-in and must then enrol', async () => {
  await browser.context.clearCookies(); // not ursula any more
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', APASS);
  assert.ok((await navTexts(page)).includes('Settings'));
  await page.click('#nav a[data-view="settings"]');
  await page.locator('#settings-save').waitFor();
  assert.equal(await page.isChecked('#settings-2fa'), false);
  assert.equal(await page.inputValue('#settings-retention'), '365');

  // A bad number is refused in the page, nothing sent.
  await page.fill('#settings-retention', '-3');
  await page.click('#settings-save');
  await page.locator('#settings-error', { hasText: 'whole number' }).waitFor();

  await page.fill('#settings-retention', '30');
  await page.check('#settings-2fa');
  await screenshot(page, 'settings');
  await page.click('#settings-save');
  // The server pushes the new rule; this account has no second factor, so
  // the app shows only the Account page, with the notice, and no menu.
  await page.locator('#otp-required').waitFor();
  assert.deepEqual(await navTexts(page), []);
  await page.evaluate(() => { location.hash = '#/devices'; });
  await page.locator('#otp-required').waitFor();
  assert.equal(await page.locator('#device-list').count(), 0);

  // Stored: a fresh page load says the same.
  await page.reload();
  await page.locator('#otp-required').waitFor();

  // Enrol; the rest of the app opens.
  await page.click('#otp-setup');
  const secret = (await page.locator('#otp-secret').textContent()).trim();
  await page.fill('#otp-code', totp(secret));
  await page.click('#otp-confirm');
  await page.locator('#otp-recovery').waitFor();
  await page.click('#otp-done');
  await page.locator('#otp-required').waitFor({ state: 'detached' });
  assert.ok((await navTexts(page)).includes('Devices'));
  await page.click('#nav a[data-view="settings"]');
  await page.locator('#settings-save').waitFor();
  assert.equal(await page.isChecked('#settings-2fa'), true);
  assert.equal(await page.inputValue('#settings-retention'), '30');
  await page.click('#nav a[data-view="devices"]');
  await page.locator('#device-list').waitFor();
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});
