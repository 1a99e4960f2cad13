// web_app.test.mjs - the web app in headless Chromium against a real
// meshd, plus the static file rules seen from plain node HTTPS requests.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  CSP,
  SECURITY_HEADERS,
  launchBrowser,
  request,
  startMeshd,
  stopMeshd,
} from './lib.mjs';

let meshd;
let browser;

before(async () => {
  meshd = await startMeshd();
  // With no account at all the app would show the first-run setup.
  meshd.cli('create-account', 'alice', '--pass', 'the right password');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (meshd) {
    await stopMeshd(meshd);
  }
});

/** Saves a screenshot when MESH_SCREENSHOT_DIR is set (for a person). */
async function screenshot(page, name) {
  const dir = process.env.MESH_SCREENSHOT_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Opens a page that records console errors, page errors and requests. */
async function openPage() {
  const page = await browser.context.newPage();
  const seen = { errors: [], requests: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      seen.errors.push({ text: msg.text(), url: msg.location().url });
    }
  });
  page.on('pageerror', (err) => seen.errors.push({ text: String(err), url: '' }));
  page.on('request', (req) => seen.requests.push(req.url()));
  return { page, seen };
}

test('the sign-in page loads over HTTPS with its security headers', async () => {
  const { page, seen } = await openPage();
  const res = await page.goto(meshd.base + '/', { waitUntil: 'load' });
  assert.equal(res.status(), 200);
  const headers = res.headers();
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(headers[name], value, `header ${name}`);
  }
  assert.equal(headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(headers['cache-control'], 'no-cache');
  // The form comes once the app asked /api/setup and found no session.
  await page.locator('#signin-form').waitFor();
  assert.equal(await page.title(), 'Sign in · meshd');

  for (const sel of ['#signin-form', '#user', '#pass', '#signin']) {
    assert.ok(await page.locator(sel).isVisible(), `${sel} is visible`);
  }
  assert.equal(await page.locator('#signin').textContent(), 'Sign in');
  assert.equal(await page.locator('#signin-error').isVisible(), false);
  await screenshot(page, 'signin');

  assert.deepEqual(seen.errors, [], 'no console errors');
  // Every request went to this server (no outside fetch, no favicon miss).
  for (const url of seen.requests) {
    assert.ok(url.startsWith(meshd.base + '/'), `request to ${url}`);
  }
  await page.close();
});

test('a wrong password shows the error', async () => {
  const { page, seen } = await openPage();
  await page.goto(meshd.base + '/');
  await page.fill('#user', 'alice');
  await page.fill('#pass', 'correct horse');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/login'));
  await page.click('#signin');
  const res = await answer;
  assert.equal(res.request().method(), 'POST');
  assert.deepEqual(JSON.parse(res.request().postData()),
    { user: 'alice', pass: 'correct horse' });
  assert.equal(res.status(), 401);
  const error = page.locator('#signin-error');
  await error.waitFor({ state: 'visible' });
  assert.equal(await error.textContent(), 'sign-in failed (401)');
  assert.equal(await page.inputValue('#pass'), '', 'password field cleared');
  await screenshot(page, 'signin-error');

  // The only console error allowed is Chromium's note about that 401.
  const unexpected = seen.errors.filter((e) => !e.url.endsWith('/api/login'));
  assert.deepEqual(unexpected, []);
  await page.close();
});

test('a session the server refuses after sign-in shows the error', async () => {
  const { page, seen } = await openPage();
  // A 200 from /api/login without a cookie: the WebSocket is then refused.
  await page.route('**/api/login', (route) => route.fulfill({
    status: 200, contentType: 'application/json', body: '{}',
  }));
  await page.goto(meshd.base + '/');
  await page.fill('#user', 'alice');
  await page.fill('#pass', 'x');
  await page.click('#signin');
  await page.locator('#signin-error', { hasText: 'The server refused the session.' })
    .waitFor();
  assert.equal(await page.locator('#nav').isVisible(), false);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('the page also fits a phone screen', async () => {
  const { page, seen } = await openPage();
  await page.setViewportSize({ width: 375, height: 667 });
  await page.goto(meshd.base + '/');
  await page.locator('#signin').waitFor();
  const box = await page.locator('#signin').boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, 'button on screen');
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= 375, `no horizontal scroll (${scrollWidth})`);
  await screenshot(page, 'signin-phone');
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('path traversal and encoded paths get 404 with the headers', async () => {
  for (const p of ['/../../etc/passwd', '/%2e%2e/', '/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2fetc%2fpasswd', '//etc/passwd', '/.%2e/etc/passwd',
    '/..\\..\\etc\\passwd', '/app.js%00.html', '/.git/config', '/web/',
    '/index.html/', '/README.md', '/api/nope']) {
    const res = await request(meshd.port, 'GET', p);
    assert.equal(res.status, 404, p);
    assert.equal(res.headers['content-security-policy'], CSP, p);
    assert.equal(res.headers['x-frame-options'], 'DENY', p);
    assert.doesNotMatch(res.body.toString(), /root:/, p);
  }
});

test('HEAD answers like GET without the body', async () => {
  const get = await request(meshd.port, 'GET', '/app.js');
  const head = await request(meshd.port, 'HEAD', '/app.js');
  assert.equal(get.status, 200);
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(Number(head.headers['content-length']), get.body.length);
  assert.equal(head.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(head.headers.etag, get.headers.etag);
  assert.equal(head.headers['cache-control'], 'max-age=3600');
  assert.equal(head.headers['content-security-policy'], CSP);
});

test('If-None-Match with the ETag gives 304', async () => {
  const first = await request(meshd.port, 'GET', '/');
  const etag = first.headers.etag;
  assert.match(etag, /^"[0-9a-f.-]+"$/);
  for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
    const res = await request(meshd.port, 'GET', '/', { 'If-None-Match': inm });
    assert.equal(res.status, 304, inm);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers.etag, etag);
    assert.equal(res.headers['content-security-policy'], CSP);
  }
  const other = await request(meshd.port, 'GET', '/', { 'If-None-Match': '"nope"' });
  assert.equal(other.status, 200);
});

test('other methods on a file get 405 with Allow', async () => {
  for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const res = await request(meshd.port, m, '/index.html');
    assert.equal(res.status, 405, m);
    assert.equal(res.headers.allow, 'GET, HEAD');
    assert.equal(res.headers['content-security-policy'], CSP);
  }
});
