// password.test.mjs - changing the password on the Account page: the two
// new ones must match, a wrong current password is refused with the
// server's text, and after a change the page asks to sign in again, the
// new password signs in and the old one does not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, openPage, screenshot, signIn, startMeshd, stopMeshd } from './lib.mjs';

const OLD = 'erin the password';
const NEW = 'erin the new password';
let meshd;
let browser;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'erin', '--pass', OLD);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

async function fill(page, current, next, again) {
  await page.fill('#password-current', current);
  await page.fill('#password-new', next);
  await page.fill('#password-repeat', again);
  await page.click('#password-save');
}

test('change the password on the Account page, then sign in with it', async () => {
  const { page } = await openPage(browser.context);
  await signIn(page, meshd.base, 'erin', OLD);
  await page.evaluate(() => { location.hash = '#/account'; });
  await page.locator('#password-form').waitFor();

  await fill(page, OLD, NEW, NEW + 'x');
  await page.locator('#password-error', { hasText: 'do not match' }).waitFor();
  await fill(page, 'not my password', NEW, NEW);
  await page.locator('#password-error', { hasText: 'Wrong password' }).waitFor();
  await screenshot(page, 'password-wrong');

  await fill(page, OLD, NEW, NEW);
  await page.locator('#signin-form').waitFor();
  await page.getByText('Password changed. Sign in again').waitFor();

  // The old password is refused, the new one signs in.
  await page.fill('#user', 'erin');
  await page.fill('#pass', OLD);
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/login'));
  await page.click('#signin');
  assert.equal((await answer).status(), 401);
  await page.fill('#pass', NEW);
  await page.click('#signin');
  await page.locator('#device-list').waitFor();

  const log = meshd.log();
  assert.ok(!log.includes(OLD) && !log.includes(NEW), 'no password in the log');
  assert.match(log, /event=password_changed/);
});
