// recordings.test.mjs - terminal session recordings in the web app, with
// a real meshd and a real meshagent: the group's switch turns recording
// on; a terminal session's command shows in the device's Recordings tab,
// which follows the session live; the player replays it into its own
// read-only xterm (pause, restart, speed, seeking); the .cast download is
// asciicast v2. A recording with bad lines plays what it can and says
// what it skipped, with nothing injected; a member without terminal rights
// gets no tab and no file (a site administrator neither), one with them
// gets both.
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

const LIVE_MS = 20000;

let meshd;
let browser;
let other; // a second browser, for the other members' sessions
let agent;
let groupId;
let deviceUrl;
let recId; // the recording made by the first test

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  meshd.cli('create-account', 'viewer', '--pass', 'viewer password');
  meshd.cli('create-account', 'operator', '--pass', 'operator password');
  meshd.cli('create-account', 'boss', '--pass', 'boss password', '--admin');
  [browser, other] = await Promise.all([launchBrowser(), launchBrowser()]);
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (other) await other.close();
  if (meshd) await stopMeshd(meshd);
});

/** Lines of the xterm inside `scope` (its DOM renderer's rows). */
function rows(page, scope) {
  return page.locator(`${scope} .xterm-rows > div`).allTextContents();
}

/** Waits until a row of the xterm in `scope` reads exactly `text`. */
function waitRow(page, scope, text, timeout = 10000) {
  return page.waitForFunction(([s, t]) => [...document.querySelectorAll(`${s} .xterm-rows > div`)]
    .some((r) => r.textContent.trim() === t), [scope, text], { timeout });
}

/** The switch on the group page, once no change is on its way. */
async function recordSwitch(page) {
  const sw = page.locator('#group-record:not([disabled])');
  await sw.waitFor();
  return sw;
}

test('a recorded session is listed live, plays back and downloads as asciicast v2', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  groupId = await createGroup(page, 'Recorded');

  // The switch: off at first, on after a click, and still on after a
  // reload (the server has it).
  let sw = await recordSwitch(page);
  assert.equal(await sw.getAttribute('role'), 'switch');
  assert.equal(await sw.isChecked(), false);
  await sw.click();
  await page.waitForFunction(() => {
    const s = document.querySelector('#group-record');
    return s && s.checked && !s.disabled;
  });
  await page.reload();
  sw = await recordSwitch(page);
  assert.equal(await sw.isChecked(), true);
  assert.ok(await page.locator('#record-error').isHidden());
  await screenshot(page, 'group-record');

  agent = await startAgent(meshd, groupId, { agentName: 'rec-box' });
  await page.evaluate(() => { location.hash = '#/devices'; });
  const device = page.locator('li.device.online', { hasText: 'rec-box' });
  await device.waitFor({ timeout: LIVE_MS });
  await device.locator('a').click();
  await page.locator('#device-name', { hasText: 'rec-box' }).waitFor();
  deviceUrl = page.url();

  // A second page watches the Recordings tab: empty now, and it must
  // follow the session without a reload.
  const watch = await openPage(browser.context);
  await watch.page.goto(`${deviceUrl}/recordings`);
  await watch.page.locator('#rec-list .empty', { hasText: 'No recordings yet' }).waitFor();
  assert.match(watch.page.url(), /\/recordings$/);

  await page.click('#tabbtn-terminal');
  await page.locator('#term-status', { hasText: 'This session is recorded.' }).waitFor({ timeout: LIVE_MS });
  await page.locator('#term-screen .xterm-helper-textarea').focus();
  await page.keyboard.type('echo rec-$((6*7))');
  await page.keyboard.press('Enter');
  await waitRow(page, '#term-screen', 'rec-42');
  // The list shows the session while it runs.
  await watch.page.locator('#rec-table tbody tr').waitFor({ timeout: LIVE_MS });
  await page.click('#term-disconnect');
  await page.locator('#term-status', { hasText: 'Disconnected.' }).waitFor();

  // Once ended, its size and duration are final (not 0 B) without a reload.
  const row = watch.page.locator('#rec-table tbody tr');
  await watch.page.waitForFunction(() => {
    const r = document.querySelectorAll('#rec-table tbody tr');
    return r.length === 1 && r[0].children[3].textContent !== '0 B';
  }, null, { timeout: LIVE_MS });
  recId = await row.getAttribute('data-id');
  assert.match(recId, /^[0-9a-f]+$/);
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[2], 'admin');
  assert.match(cells[3], /^\d+(\.\d)? (B|KB)$/);
  assert.equal(cells[4], '', 'not truncated');

  // Playback: the command and its output show in the player's xterm.
  const w = watch.page;
  await row.locator('[data-action="play"]').click();
  await waitRow(w, '#rec-screen', 'rec-42', LIVE_MS);
  assert.ok((await rows(w, '#rec-screen')).some((l) => l.includes('echo rec-$((6*7))')));
  await w.locator('#rec-status', { hasText: 'Finished.' }).waitFor({ timeout: LIVE_MS });
  assert.equal(await w.locator('#rec-play').textContent(), 'Play');
  assert.equal(await w.locator('#rec-screen .xterm').count(), 1);
  assert.ok(await w.locator('#rec-notes').isHidden(), 'a clean recording has no notes');
  await screenshot(w, 'recording-player');

  // The speed is a choice of one. The slider's start resets the screen;
  // restart plays from there to the end; from the start again, the
  // slider's end brings the output back at once. (Pausing is tested on a
  // longer recording below: this one is over in well under a second.)
  await w.click('[data-speed="4"]');
  assert.equal(await w.getAttribute('[data-speed="4"]', 'aria-pressed'), 'true');
  assert.equal(await w.getAttribute('[data-speed="1"]', 'aria-pressed'), 'false');
  assert.ok(Number(await w.getAttribute('#rec-pos', 'max')) > 0);
  const slide = (to) => w.locator('#rec-pos').evaluate((s, v) => {
    s.value = v === 'max' ? s.max : v;
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, to);
  const cleared = () => w.waitForFunction(() => ![...document.querySelectorAll('#rec-screen .xterm-rows > div')]
    .some((r) => r.textContent.includes('rec-42')));
  await slide('0');
  await cleared();
  assert.match(await w.locator('#rec-time').textContent(), /^0:00 \//);
  assert.equal(await w.locator('#rec-status').textContent(), 'Paused.');
  await w.click('#rec-restart');
  await w.locator('#rec-status', { hasText: 'Finished.' }).waitFor({ timeout: LIVE_MS });
  await waitRow(w, '#rec-screen', 'rec-42');
  await slide('0');
  await cleared();
  await slide('max');
  await waitRow(w, '#rec-screen', 'rec-42');
  assert.match(await w.locator('#rec-time').textContent(), /^(\d+:\d\d) \/ \1$/);
  assert.equal(await w.locator('#rec-status').textContent(), 'Finished.');

  // The download is the asciicast v2 file.
  const [download] = await Promise.all([w.waitForEvent('download'), w.click('#rec-download')]);
  assert.equal(download.suggestedFilename(), `${recId}.cast`);
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
  const header = JSON.parse(lines[0]);
  assert.equal(header.version, 2);
  assert.ok(Number.isInteger(header.width) && header.width > 0);
  assert.ok(Number.isInteger(header.height) && header.height > 0);
  const events = lines.slice(1).map((l) => JSON.parse(l));
  assert.ok(events.every((e) => Array.isArray(e) && e.length === 3 && typeof e[0] === 'number'));
  assert.ok(events.some((e) => e[1] === 'o' && e[2].includes('rec-42')));

  await w.click('#rec-close');
  assert.equal(await w.locator('#rec-player').count(), 0);
  for (const s of [seen, watch.seen]) {
    assert.deepEqual(s.errors, []);
    assert.deepEqual(s.dialogs, []);
  }
  await watch.page.close();
  await page.close();
});

test('parseCast: every truncation and 3000 mutations of a file read without throwing', async () => {
  const { page, seen } = await openPage(browser.context);
  await page.goto(`${meshd.base}/`);
  const out = await page.evaluate(async () => {
    const { parseCast } = await import('/player.js');
    const text = '{"version":2,"width":80,"height":24,"timestamp":1}\n' +
      '[0.5,"o","a\\u00e9"]\n[1.25,"r","100x30"]\n[900,"o","b\\r\\n"]\n[900.5,"i","x"]\n';
    const full = parseCast(text);
    const results = [];
    for (let n = 0; n <= text.length; n++) {
      const p = parseCast(text.slice(0, n));
      results.push(p.error ? null : { events: p.events, skipped: p.skipped });
    }
    // Mutations (a seeded generator, so a failure repeats): whatever comes
    // back is well formed, or an error; nothing throws.
    let seed = 12345;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const junk = '[]{}",:0123456789.-eoirx\\u\n \x00\u2028<';
    const bad = [];
    for (let i = 0; i < 3000; i++) {
      const chars = [...text];
      for (let k = 1 + rand(4); k > 0; k--) {
        const at = rand(chars.length);
        const op = rand(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, junk[rand(junk.length)]);
        else chars[at] = junk[rand(junk.length)];
      }
      const m = chars.join('');
      let p;
      try {
        p = parseCast(m);
      } catch (x) {
        bad.push(`threw ${x} on ${JSON.stringify(m)}`);
        continue;
      }
      if (p.error) continue;
      let last = 0;
      const ok = Number.isInteger(p.cols) && Number.isInteger(p.rows) && p.events.every((e) => {
        const good = Number.isFinite(e.at) && e.at >= last &&
          (typeof e.o === 'string' || (Number.isInteger(e.cols) && e.cols >= 1 && e.cols <= 1000 &&
            Number.isInteger(e.rows) && e.rows >= 1 && e.rows <= 500));
        last = e.at;
        return good;
      });
      if (!ok) bad.push(`malformed result for ${JSON.stringify(m)}`);
    }
    const capped = parseCast('{"version":2,"width":80,"height":24,"idle_time_limit":0.5}\n' +
      '[0,"o","a"]\n[10,"o","b"]\n');
    return { full, results, bad, cappedDuration: capped.duration };
  });
  const { full, results, bad, cappedDuration } = out;
  assert.deepEqual(bad, []);
  assert.equal(cappedDuration, 0.5, "the header's idle_time_limit wins");
  assert.equal(full.skipped, 0);
  assert.deepEqual(full.events, [
    { at: 0.5, o: 'aé' }, { at: 1.25, cols: 100, rows: 30 }, { at: 3.25, o: 'b\r\n' }]);
  assert.equal(full.duration, 3.25, 'the 899 s pause plays as 2 s');
  // Each prefix: no header yet, or a prefix of the events with at most
  // the last, cut line skipped.
  for (const r of results) {
    if (!r) continue;
    assert.ok(r.skipped <= 1);
    assert.deepEqual(r.events, full.events.slice(0, r.events.length));
  }
  assert.ok(results.filter(Boolean).length > 0);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('a recording with bad lines plays what it can, says what it skipped, injects nothing', async () => {
  const { page, seen } = await openPage(browser.context);
  await page.goto(`${deviceUrl}/recordings`);
  await page.locator('#rec-table tbody tr').first().waitFor();
  const bad = [
    '{"version":2,"width":60,"height":12}',
    '[0.1,"o","hello <img src=x onerror=window.pwned=1>\\r\\n"]',
    '<script>window.pwned=2</script>',
    '[0.2,"x","unknown code"]',
    '[0.3,"r","99999x1"]',
    '{"not":"an event"}',
    '[0.4,"o",42]',
    '[0.45]',
    '[0.5,"r","70x14"]',
    '[700,"o","safe-end\\r\\n"]',
  ].join('\n');
  await page.route('**/api/recording?*', (route) => route.fulfill({
    status: 200, contentType: 'application/x-asciicast', body: bad,
  }));
  await page.locator('#rec-table [data-action="play"]').first().click();
  await waitRow(page, '#rec-screen', 'safe-end', LIVE_MS);
  const notes = await page.locator('#rec-notes p').allTextContents();
  assert.deepEqual(notes, [
    'Line 3 skipped: not JSON.',
    'Line 4 skipped: unknown event code.',
    'Line 5 skipped: bad terminal size.',
    'Line 6 skipped: not an event [time, code, data].',
    'Line 7 skipped: bad time, code or data.',
    '1 more line(s) skipped.',
  ]);
  // The HTML-like output is terminal text; nothing ran, nothing was made.
  await waitRow(page, '#rec-screen', 'hello <img src=x onerror=window.pwned=1>');
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await page.locator('#rec-player img, #rec-player script').count(), 0);
  // The "r" event resized the player's terminal to 70x14.
  assert.equal(await page.locator('#rec-screen .xterm-rows > div').count(), 14);
  // 700 s of silence play as 2 s.
  assert.equal(await page.locator('#rec-time').textContent(), '0:02 / 0:02');

  // Pause and play again; leaving the tab pauses too (a 30 s pause, as
  // the header asks, gives the time).
  await page.unroute('**/api/recording?*');
  await page.route('**/api/recording?*', (route) => route.fulfill({
    status: 200, contentType: 'application/x-asciicast',
    body: '{"version":2,"width":40,"height":5,"idle_time_limit":30}\n[0,"o","first"]\n[99,"o","\\r\\nlater"]\n',
  }));
  await page.locator('#rec-table [data-action="play"]').first().click();
  await waitRow(page, '#rec-screen', 'first');
  await page.locator('#rec-time', { hasText: '/ 0:30' }).waitFor();
  await page.click('#rec-play');
  await page.locator('#rec-status', { hasText: 'Paused.' }).waitFor();
  assert.equal(await page.locator('#rec-play').textContent(), 'Play');
  await page.click('#rec-play');
  await page.locator('#rec-status', { hasText: 'Playing.' }).waitFor();
  await page.click('#tabbtn-overview');
  await page.click('#tabbtn-recordings');
  await page.locator('#rec-status', { hasText: 'Paused.' }).waitFor();
  assert.ok(!(await rows(page, '#rec-screen')).some((l) => l.includes('later')));

  // Not a recording at all: a message, no player.
  await page.unroute('**/api/recording?*');
  await page.route('**/api/recording?*', (route) => route.fulfill({
    status: 200, contentType: 'application/x-asciicast', body: '<html>nope</html>\n[0,"o","x"]\n',
  }));
  await page.locator('#rec-table [data-action="play"]').first().click();
  await page.locator('#rec-status', { hasText: 'This is not an asciicast v2 recording.' }).waitFor();
  assert.equal(await page.locator('#rec-screen .xterm').count(), 0);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});

test('the list: newest first, truncated flagged, names as text, bad ids left out', async () => {
  const { page, seen } = await openPage(browser.context);
  // The server's answer is rewritten on its way to the page.
  const fake = [
    { id: 'aa01', start: 1795600000000, duration: 5, userid: 'user//old', user: 'old', size: 10 },
    { id: 'aa03', start: 1795700000000, duration: 3725, userid: 'user//x', user: '<img src=x onerror=window.pwned=1>', size: 2500000, truncated: true },
    { id: '../../etc', start: 1795800000000, duration: 1, userid: 'user//y', user: 'y', size: 1 },
    { id: 'aa02', start: 1795650000000, duration: 65, userid: 'user//mid', user: 'mid', size: 1500 },
  ];
  await page.routeWebSocket('**/control.ashx', (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      const j = typeof m === 'string' && m.includes('"recordings"') ? JSON.parse(m) : null;
      ws.send(j && Array.isArray(j.recordings) ? JSON.stringify({ ...j, recordings: fake }) : m);
    });
  });
  await page.goto(`${deviceUrl}/recordings`);
  await page.locator('#rec-table tbody tr').first().waitFor({ timeout: LIVE_MS });
  assert.deepEqual(await page.locator('#rec-table tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset.id)),
    ['aa03', 'aa02', 'aa01']);
  const cells = await page.locator('#rec-table tr[data-id="aa03"] td').allTextContents();
  assert.deepEqual(cells.slice(1, 5), ['1:02:05', '<img src=x onerror=window.pwned=1>', '2.5 MB', 'truncated']);
  assert.deepEqual((await page.locator('#rec-table tr[data-id="aa02"] td').allTextContents()).slice(1, 5),
    ['1:05', 'mid', '1.5 KB', '']);
  assert.equal(await page.locator('#rec-table img').count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await page.getAttribute('#rec-table tr[data-id="aa02"] [data-action="download"]', 'href'),
    '/api/recording?id=aa02');
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('recordings follow terminal rights; the switch follows the edit right', async () => {
  // The administrator adds a view-only member and an operator (remote
  // control, terminal allowed, no group editing).
  const { page } = await openPage(browser.context);
  await page.goto(`${meshd.base}/#/group/${encodeURIComponent(groupId)}`);
  await page.locator('#group-title').waitFor();
  for (const [name, preset] of [['viewer', 'view'], ['operator', 'manage'], ['boss', 'view']]) {
    await page.fill('#member-user', name);
    await page.selectOption('#member-rights', preset);
    await page.click('#member-add');
    await page.locator(`#member-table tr[data-user="${name}"]`).waitFor();
  }

  const o = await openPage(other.context);
  const p = o.page;
  await signIn(p, meshd.base, 'viewer', 'viewer password');
  await p.goto(`${deviceUrl}/recordings`);
  await p.locator('#device-name', { hasText: 'rec-box' }).waitFor();
  await p.locator('#tab-overview').waitFor();
  assert.equal(await p.locator('#tabbtn-recordings, #rec-list').count(), 0);
  assert.ok(!p.url().endsWith('/recordings'), 'the address drops a tab it cannot show');
  // The file is refused too (the server's rule, not only the app's).
  assert.equal(await p.evaluate(async (id) => (await fetch(`/api/recording?id=${id}`)).status, recId), 404);
  // (The browser logs that 404; it is this test's own request.)
  const errors = () => o.seen.errors.filter((e) => !e.url.includes(`/api/recording?id=${recId}`));
  // No switch without the edit right; the state is still told.
  await p.goto(`${meshd.base}/#/group/${encodeURIComponent(groupId)}`);
  await p.locator('#group-recorded', { hasText: 'Terminal sessions in this group are recorded.' }).waitFor();
  assert.equal(await p.locator('#group-record').count(), 0);
  await p.click('#account-button');
  await p.click('#signout');

  // A site administrator with view-only rights in the group is no
  // exception: the server lets group rights alone decide.
  await signIn(p, meshd.base, 'boss', 'boss password');
  await p.goto(`${deviceUrl}/recordings`);
  await p.locator('#device-name', { hasText: 'rec-box' }).waitFor();
  await p.locator('#tab-overview').waitFor();
  assert.equal(await p.locator('#tabbtn-recordings, #tabbtn-terminal').count(), 0);
  await p.click('#account-button');
  await p.click('#signout');

  await signIn(p, meshd.base, 'operator', 'operator password');
  await p.goto(`${deviceUrl}/recordings`);
  await p.locator(`#rec-table tr[data-id="${recId}"]`).waitFor({ timeout: LIVE_MS });
  assert.equal(await p.evaluate(async (id) => (await fetch(`/api/recording?id=${id}`)).status, recId), 200);
  await p.goto(`${meshd.base}/#/group/${encodeURIComponent(groupId)}`);
  await p.locator('#group-recorded').waitFor();
  assert.equal(await p.locator('#group-record').count(), 0);
  assert.deepEqual(errors(), []);

  // Recording off again: the switch says so after a reload, and the
  // others' page no longer says sessions are recorded.
  await page.reload();
  const sw = await recordSwitch(page);
  await sw.click();
  await page.waitForFunction(() => {
    const s = document.querySelector('#group-record');
    return s && !s.checked && !s.disabled;
  });
  await p.locator('#group-recorded').waitFor({ state: 'detached', timeout: LIVE_MS });
  await page.reload();
  assert.equal(await (await recordSwitch(page)).isChecked(), false);
  await page.close();
  await p.close();
});
