// sessions.test.mjs - the device page's Terminal and Files tabs against a
// real meshd relay and a real meshagent on this machine: a command typed
// into the terminal prints its result and the exit code is shown; in the
// Files tab a file is uploaded (button and drag and drop) and downloaded
// back byte for byte, a folder is made, a file renamed, a folder deleted
// with its contents, and a file name that looks like HTML stays text.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

const LIVE_MS = 20000;

let meshd;
let browser;
let agent;
let dir; // a folder of this test, browsed in the Files tab
let deviceUrl; // the device page (Overview)

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  browser = await launchBrowser();
  dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-files-'));
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (meshd) await stopMeshd(meshd);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Signs in, makes a group with a live agent; resolves to its page URL. */
async function setUp(page) {
  await signIn(page, meshd.base, 'admin', 'admin password');
  const group = await createGroup(page, 'Lab');
  agent = await startAgent(meshd, group, { agentName: 'lab-box' });
  await page.evaluate(() => { location.hash = '#/devices'; });
  const row = page.locator('li.device.online', { hasText: 'lab-box' });
  await row.waitFor({ timeout: LIVE_MS });
  await row.locator('a').click();
  await page.locator('#device-name', { hasText: 'lab-box' }).waitFor();
  return page.url();
}

/** The terminal's rows as text lines (xterm's DOM renderer). */
function screenLines(page) {
  return page.locator('#term-screen .xterm-rows > div').allTextContents();
}

test('terminal: a command runs and its output shows; the exit code too', async () => {
  const { page, seen } = await openPage(browser.context);
  deviceUrl = await setUp(page);
  await page.click('#tabbtn-terminal');
  assert.match(page.url(), /\/terminal$/);
  await page.locator('#term-status', { hasText: 'Connected' }).waitFor({ timeout: LIVE_MS });
  await page.locator('#term-screen .xterm-helper-textarea').focus();
  await page.keyboard.type('echo $((6*7))');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('#term-screen .xterm-rows > div')]
    .some((r) => r.textContent.trim() === '42'), null, { timeout: 10000 });
  // Not the echo of what was typed: a line of its own.
  assert.ok((await screenLines(page)).some((l) => l.includes('echo $((6*7))')));
  // xterm styled itself through constructed sheets, not blocked <style>s.
  assert.equal(await page.locator('#term-screen style').count(), 0);
  assert.ok(await page.evaluate(() => document.adoptedStyleSheets.length > 0));
  await screenshot(page, 'terminal');

  // Copy: a double click selects the word "42", Ctrl+Shift+C copies it.
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: meshd.base });
  const box = await page.locator('#term-screen .xterm-rows > div', { hasText: /^42\s*$/ }).boundingBox();
  await page.mouse.dblclick(box.x + 4, box.y + box.height / 2);
  await page.keyboard.press('Control+Shift+C');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '42');
  // Paste: what the browser pastes goes to the shell (bracketed, as bash
  // asks, so it runs on Enter).
  await page.locator('#term-screen .xterm-helper-textarea').evaluate((ta) => {
    const data = new DataTransfer();
    data.setData('text/plain', 'echo pasted-$((1+1))');
    ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('#term-screen .xterm-rows > div')]
    .some((r) => r.textContent.trim() === 'pasted-2'), null, { timeout: 10000 });

  // A smaller window: the new size reaches the shell.
  await page.setViewportSize({ width: 700, height: 600 });
  await page.waitForTimeout(600);
  // (At 1024 pixels the terminal is over 100 columns wide.)
  await page.keyboard.type('stty size');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('#term-screen .xterm-rows > div')]
    .some((r) => /^\d+ \d+$/.test(r.textContent.trim()) && Number(r.textContent.trim().split(' ')[1]) < 100),
  null, { timeout: 10000 });
  await page.setViewportSize({ width: 1024, height: 720 });

  await page.keyboard.type('exit 3');
  await page.keyboard.press('Enter');
  await page.locator('#term-status', { hasText: 'exited with code 3' }).waitFor({ timeout: 10000 });
  await page.locator('#term-connect', { hasText: 'Reconnect' }).waitFor();

  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});

/** Opens the Files tab at dir (through the breadcrumbs' folders). */
async function openDir(page) {
  await page.goto(`${deviceUrl}/files`);
  await page.locator('#files-status', { hasText: 'Connected' }).waitFor({ timeout: LIVE_MS });
  for (const part of dir.split('/').filter(Boolean)) {
    await page.locator(`#files-table tr[data-name="${part}"] button.entry-name`).click();
    await page.locator('#files-path [aria-current="location"]', { hasText: part }).waitFor();
  }
}

const row = (page, name) => page.locator(`#files-table tr[data-name="${name}"]`);

test('files: upload, download, mkdir, rename, delete, drag and drop', async () => {
  const { page, seen } = await openPage(browser.context);
  if (!deviceUrl) deviceUrl = await setUp(page);
  const evil = '<img src=x onerror=alert(1)>.txt';
  await writeFile(path.join(dir, evil), 'x');
  await openDir(page);
  await row(page, evil).waitFor();
  assert.equal(await page.locator('#files-list img').count(), 0, 'a name is text');

  // Upload: three chunks and a bit, starting with '{' (an escaped chunk).
  const data = Buffer.concat([Buffer.from('{"not":"a command"}'), randomBytes(3 * 65536 + 77)]);
  await page.setInputFiles('#files-pick', { name: 'up.bin', mimeType: 'application/octet-stream', buffer: data });
  await page.locator('#files-transfers li[data-kind="upload"][data-state="done"]').waitFor({ timeout: 20000 });
  await row(page, 'up.bin').waitFor();
  assert.ok((await readFile(path.join(dir, 'up.bin'))).equals(data), 'uploaded bytes on the device');

  // Download it back.
  const [download] = await Promise.all([page.waitForEvent('download'),
    row(page, 'up.bin').locator('[data-action="download"]').click()]);
  assert.equal(download.suggestedFilename(), 'up.bin');
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  assert.ok(Buffer.concat(chunks).equals(data), 'downloaded bytes');
  await page.locator('#files-transfers li[data-kind="download"][data-state="done"]').waitFor();

  // New folder.
  await page.fill('#files-mkdir-name', 'made here');
  await page.click('#files-mkdir button[type="submit"]');
  await row(page, 'made here').waitFor();
  assert.ok(existsSync(path.join(dir, 'made here')));
  // Again: the agent's reason shows, and the listing stays.
  await page.fill('#files-mkdir-name', 'made here');
  await page.click('#files-mkdir button[type="submit"]');
  await page.locator('#files-error:not([hidden])').waitFor();
  assert.ok((await page.locator('#files-error').textContent()).length > 0);
  await row(page, 'made here').waitFor();

  // Rename.
  await row(page, 'up.bin').locator('[data-action="rename"]').click();
  await page.fill('#files-table .files-rename input', 'renamed.bin');
  await page.click('#files-table .files-rename button[type="submit"]');
  await row(page, 'renamed.bin').waitFor();
  assert.equal(await row(page, 'up.bin').count(), 0);
  assert.ok(existsSync(path.join(dir, 'renamed.bin')));

  // Delete a folder with something in it (asks once more first).
  await mkdir(path.join(dir, 'made here', 'inner'));
  await writeFile(path.join(dir, 'made here', 'inner', 'f'), 'f');
  const del = row(page, 'made here').locator('[data-action="delete"]');
  await del.click();
  await row(page, 'made here').locator('button', { hasText: 'Confirm delete' }).click();
  await page.locator('#files-table tr[data-name="made here"]').waitFor({ state: 'detached' });
  assert.ok(!existsSync(path.join(dir, 'made here')));

  // Drag and drop a file onto the listing.
  const dt = await page.evaluateHandle(() => {
    const t = new DataTransfer();
    t.items.add(new File(['dropped bytes\n'], 'dropped.txt', { type: 'text/plain' }));
    return t;
  });
  await page.dispatchEvent('#files-list', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('#files-list', 'drop', { dataTransfer: dt });
  await row(page, 'dropped.txt').waitFor({ timeout: 20000 });
  assert.equal(await readFile(path.join(dir, 'dropped.txt'), 'utf8'), 'dropped bytes\n');
  await screenshot(page, 'files');

  // Up goes to the parent folder.
  await page.click('#files-up');
  await row(page, path.basename(dir)).waitFor();

  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});

test('no session with an offline device; a view-only member gets no tabs', async () => {
  const { page, seen } = await openPage(browser.context);
  if (!deviceUrl) deviceUrl = await setUp(page);
  meshd.cli('create-account', 'viewer', '--pass', 'viewer password');
  await page.goto(deviceUrl);
  await page.locator('#device-name', { hasText: 'lab-box' }).waitFor();
  await page.click('.details a'); // the group
  await page.fill('#member-user', 'viewer');
  await page.click('#member-add');
  await page.locator('#member-table tr[data-user="viewer"]').waitFor();

  // The agent goes away: the terminal says the device is offline.
  await agent.kill();
  await page.goto(`${deviceUrl}/terminal`);
  await page.locator('.badge.off').waitFor({ timeout: LIVE_MS });
  await page.locator('#term-status', { hasText: 'No session: the device is offline.' }).waitFor({ timeout: LIVE_MS });

  await page.click('#account-button');
  await page.click('#signout');
  await signIn(page, meshd.base, 'viewer', 'viewer password');
  await page.goto(`${deviceUrl}/terminal`);
  await page.locator('#device-name', { hasText: 'lab-box' }).waitFor();
  await page.locator('#tab-overview').waitFor();
  assert.equal(await page.locator('#tabbtn-terminal, #tabbtn-files, #term-screen').count(), 0);
  assert.ok(await page.locator('.tabs').isHidden());
  assert.ok(!page.url().endsWith('/terminal'), 'the address drops a tab it cannot show');

  assert.deepEqual(seen.errors, []);
  await page.close();
});
