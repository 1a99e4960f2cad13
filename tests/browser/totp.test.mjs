// totp.test.mjs - two-factor sign-in in the web app: enrolment on the
// Account page, the sign-in form asking for the code, wrong codes
// refused, recovery codes working once, and turning it off. The codes are
// computed here from the key the page shows, with node's crypto
// (tests/e2e/otp.mjs), not with meshd's C code.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  launchBrowser,
  openPage,
  screenshot,
  signIn,
  startMeshd,
  stopMeshd,
} from './lib.mjs';
import { totp } from '../e2e/otp.mjs';

const PASS = 'dora the password';
let meshd;
let browser;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'dora', '--pass', PASS);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

/** A six-digit code that is not valid now (nor a step either side). */
function wrongCode(secret) {
  const now = Date.now() / 1000;
  const valid = new Set([-30, 0, 30].map((d) => totp(secret, now + d)));
  for (let i = 0; ; i++) {
    const c = String(123456 + i * 7919).padStart(6, '0');
    if (!valid.has(c)) return c;
  }
}

async function signOut(page) {
  await page.evaluate(() => { location.hash = '#/account'; });
  await page.click('#account-signout');
  await page.locator('#signin-form').waitFor();
}

/** Fills the sign-in form; resolves to the /api/login response. */
async function submit(page, token) {
  if (token !== undefined) await page.fill('#token', token);
  else {
    await page.fill('#user', 'dora');
    await page.fill('#pass', PASS);
  }
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/login'));
  await page.click('#signin');
  return answer;
}

test('enrol TOTP on the Account page, then sign-in needs the code', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'dora', PASS);
  // The otp-setup reply, seen on the page's WebSocket.
  let setupReply = null;
  page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    if (typeof f.payload === 'string' && f.payload.includes('"action":"otp-setup"')) {
      setupReply = JSON.parse(f.payload);
    }
  }));
  await page.evaluate(() => { location.hash = '#/account'; });
  await page.reload();
  await page.click('#otp-setup');
  const secret = (await page.locator('#otp-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(setupReply?.secret, secret);

  // The QR code: the server's module matrix drawn on a canvas, 4 px per
  // module with a 4-module margin; finder patterns dark at the corners.
  const { size, modules } = setupReply.qr;
  assert.ok(size >= 21 && (size - 17) % 4 === 0, `QR size ${size}`);
  assert.equal(modules.length, size * size);
  assert.equal(modules.slice(0, 7), '1111111', 'top-left finder row');
  assert.equal(modules[7], '0', 'finder separator');
  const drawn = await page.evaluate(() => {
    const c = document.getElementById('otp-qr');
    const g = c.getContext('2d');
    const at = (x, y) => g.getImageData(x, y, 1, 1).data[0];
    return { w: c.width, h: c.height, corner: at(1, 1), dark: at(17, 17), light: at(4 * 11 + 1, 4 * 5 + 1) };
  });
  assert.equal(drawn.w, (size + 8) * 4);
  assert.equal(drawn.h, drawn.w);
  assert.equal(drawn.corner, 255, 'margin is white');
  assert.equal(drawn.dark, 0, 'top-left module is black');
  assert.equal(drawn.light, 255, 'finder separator is white');
  assert.equal(await page.locator('#otp-url').textContent(),
    `otpauth://totp/meshd:dora?secret=${secret}&issuer=meshd`);

  // A wrong code does not turn it on; the right one does.
  await page.fill('#otp-code', wrongCode(secret));
  await page.click('#otp-confirm');
  await page.locator('#otp-error', { hasText: 'wrong code' }).waitFor();
  await page.fill('#otp-code', totp(secret));
  await page.click('#otp-confirm');
  await page.locator('#otp-recovery').waitFor();
  const recovery = (await page.locator('#otp-recovery li').allTextContents())
    .map((s) => s.trim());
  assert.equal(recovery.length, 10);
  for (const c of recovery) assert.match(c, /^[A-Z2-7]{10}$/);
  await screenshot(page, 'otp-recovery');
  await page.click('#otp-done');
  await page.locator('#otp-state', { hasText: 'On' }).waitFor();
  assert.ok(!meshd.log().includes(secret), 'the secret is not logged');

  // Sign-in now asks for the code; the password is kept meanwhile.
  await signOut(page);
  let res = await submit(page);
  assert.equal(res.status(), 401);
  assert.deepEqual(await res.json(), { error: 'token required', tokenRequired: true });
  await page.locator('#token').waitFor({ state: 'visible' });
  await page.locator('#signin-error', { hasText: 'Enter the code' }).waitFor();
  assert.equal(await page.inputValue('#pass'), PASS);
  await screenshot(page, 'otp-signin');

  res = await submit(page, wrongCode(secret));
  assert.equal(res.status(), 401);
  assert.equal(JSON.parse(res.request().postData()).token.length, 6);
  await page.locator('#signin-error', { hasText: 'Wrong code' }).waitFor();
  assert.equal(await page.locator('#device-list').count(), 0);

  res = await submit(page, totp(secret));
  assert.equal(res.status(), 200);
  await page.locator('#device-list').waitFor();

  // A recovery code signs in once.
  await signOut(page);
  await submit(page);
  await page.locator('#token').waitFor({ state: 'visible' });
  res = await submit(page, recovery[3].toLowerCase());
  assert.equal(res.status(), 200);
  await page.locator('#device-list').waitFor();
  await signOut(page);
  await submit(page);
  await page.locator('#token').waitFor({ state: 'visible' });
  res = await submit(page, recovery[3]);
  assert.equal(res.status(), 401);
  await page.locator('#signin-error', { hasText: 'Wrong code' }).waitFor();
  // A code works once: the one used above is refused; the next time
  // step's code (inside the one-step window) is fresh.
  res = await submit(page, totp(secret));
  assert.equal(res.status(), 401);
  res = await submit(page, totp(secret, Date.now() / 1000 + 30));
  assert.equal(res.status(), 200);
  await page.locator('#device-list').waitFor();

  // Turning it off takes a code (a recovery code here, since both codes of
  // the window are used); then the password alone signs in.
  await page.evaluate(() => { location.hash = '#/account'; });
  await page.fill('#otp-remove-code', recovery[4]);
  await page.click('#otp-remove');
  await page.locator('#otp-setup').waitFor();
  await signOut(page);
  res = await submit(page);
  assert.equal(res.status(), 200);
  await page.locator('#device-list').waitFor();

  // The only console errors are Chromium's notes about the 401s.
  const unexpected = seen.errors.filter((e) => !e.url.endsWith('/api/login'));
  assert.deepEqual(unexpected, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});
