// desktop_fake.test.mjs - the Desktop tab in Chromium against a scripted
// agent: meshd and a real meshagent make the device and accept the tunnel
// request, and the browser's relay WebSocket is answered by this test
// (playwright's routeWebSocket) with hand-built KVM messages carrying
// JPEGs the page itself encoded. Checks what the canvas shows (tiles in
// order, scaled), what the viewer sends (start sequence, keys, mouse,
// settings, special keys), the agent's error text, a malformed stream,
// and the rights: a view-only user sends nothing at all, NODESKTOP hides
// the tab.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  createGroup, launchBrowser, openPage, screenshot, signIn, startAgent, startMeshd, stopMeshd,
} from './lib.mjs';

const LIVE_MS = 20000;
const W = 1600; // bigger than the page, so the canvas is scaled down
const H = 1200;

let meshd;
let browser;
let bobBrowser;
let agent;
let group;
let node;

before(async () => {
  meshd = await startMeshd();
  meshd.cli('create-account', 'admin', '--pass', 'admin password', '--admin');
  meshd.cli('create-account', 'bob', '--pass', 'bob password');
  meshd.cli('create-account', 'carol', '--pass', 'carol password');
  [browser, bobBrowser] = await Promise.all([launchBrowser(), launchBrowser()]);
});

after(async () => {
  if (agent) await agent.stop();
  if (browser) await browser.close();
  if (bobBrowser) await bobBrowser.close();
  if (meshd) await stopMeshd(meshd);
});

function cmd(type, body) {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(b.length, 2);
  Buffer.from(body).copy(b, 4);
  return b;
}
const screenCmd = (w, h) => {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(w, 0);
  b.writeUInt16BE(h, 2);
  return cmd(7, b);
};
const pictureCmd = (x, y, jpeg) => {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(x, 0);
  b.writeUInt16BE(y, 2);
  return cmd(3, Buffer.concat([b, jpeg]));
};
/** A JUMBO-wrapped PICTURE (as the agent sends tiles over 65500 bytes). */
const jumboPicture = (x, y, jpeg) => {
  const head = Buffer.alloc(16);
  head.writeUInt16BE(27, 0);
  head.writeUInt16BE(8, 2);
  head.writeUInt32BE(8 + jpeg.length, 4);
  head.writeUInt16BE(3, 8); // PICTURE, its own size field left 0
  head.writeUInt16BE(x, 12);
  head.writeUInt16BE(y, 14);
  return Buffer.concat([head, jpeg]);
};

/** Splits the viewer's binary messages into [type, body] commands. */
function commands(msgs) {
  const out = [];
  for (const m of msgs) {
    for (let at = 0; at + 4 <= m.length;) {
      const size = m.readUInt16BE(at + 2);
      out.push([m.readUInt16BE(at), m.subarray(at + 4, at + size)]);
      at += size;
    }
  }
  return out;
}

/**
 * Answers the page's relay WebSocket as an agent would; returns the
 * scripted agent: texts and binary messages received, send(), and
 * `selected`, a promise for the protocol number.
 */
async function fakeAgent(page) {
  const agent = { texts: [], bins: [], ws: null };
  let selected;
  agent.selected = new Promise((resolve, reject) => {
    selected = resolve;
    setTimeout(() => reject(new Error('the viewer chose no protocol')), LIVE_MS).unref();
  });
  await page.routeWebSocket(/\/meshrelay\.ashx/, (ws) => {
    agent.ws = ws;
    ws.onMessage((m) => {
      if (typeof m === 'string') {
        agent.texts.push(m);
        if (/^\d+$/.test(m)) selected(Number(m));
      } else {
        agent.bins.push(Buffer.from(m));
      }
    });
    ws.send('c'); // the relay's "both sides are here"
  });
  agent.send = (b) => agent.ws.send(b);
  return agent;
}

/** JPEG bytes of a w×h rectangle of one colour, encoded by Chromium. */
async function jpeg(page, w, h, colour) {
  const bytes = await page.evaluate(async ([w, h, colour]) => {
    const c = new OffscreenCanvas(w, h);
    const g = c.getContext('2d');
    g.fillStyle = colour;
    g.fillRect(0, 0, w, h);
    const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.95 });
    return [...new Uint8Array(await blob.arrayBuffer())];
  }, [w, h, colour]);
  return Buffer.from(bytes);
}

/** The canvas pixel at (x, y) as [r, g, b]. */
function pixel(page, x, y) {
  return page.evaluate(([x, y]) => [...document.querySelector('#desk-canvas')
    .getContext('2d').getImageData(x, y, 1, 1).data].slice(0, 3), [x, y]);
}

function near(got, want, what) {
  assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 24), `${what}: ${got} vs ${want}`);
}

async function waitFor(pred, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Adds a user to the group with rights, over the admin page's session. */
function addMember(page, user, rights) {
  return page.evaluate(([meshid, user, rights]) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://${location.host}/control.ashx`);
    ws.onopen = () => ws.send(JSON.stringify({ action: 'addmeshuser', meshid,
      usernames: [user], meshadmin: rights }));
    ws.onmessage = (m) => {
      const r = JSON.parse(m.data);
      if (r.action !== 'addmeshuser') return;
      ws.close();
      resolve(r.result);
    };
    ws.onerror = () => reject(new Error('control.ashx failed'));
    setTimeout(() => reject(new Error('no addmeshuser reply')), 5000);
  }), [`mesh//${group}`, user, rights]);
}

test('desktop: tiles drawn in order and scaled; keys, mouse, settings sent', async () => {
  const { page, seen } = await openPage(browser.context);
  await signIn(page, meshd.base, 'admin', 'admin password');
  group = await createGroup(page, 'Lab');
  agent = await startAgent(meshd, group, { agentName: 'desk-box' });
  await page.evaluate(() => { location.hash = '#/devices'; });
  const row = page.locator('li.device.online', { hasText: 'desk-box' });
  await row.waitFor({ timeout: LIVE_MS });
  node = await row.getAttribute('data-node');
  const fake = await fakeAgent(page);
  const red = await jpeg(page, 800, 1200, '#ff0000');
  const blue = await jpeg(page, 800, 1200, '#0000ff');
  const green = await jpeg(page, 400, 400, '#00ff00');
  // A tile over 64 KiB goes in a JUMBO: noise does not compress.
  const noisy = Buffer.from(await page.evaluate(async () => {
    const c = new OffscreenCanvas(400, 400);
    const g = c.getContext('2d');
    const img = g.createImageData(400, 400);
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 2654435761) >>> 24;
    g.putImageData(img, 0, 0);
    const b = await c.convertToBlob({ type: 'image/jpeg', quality: 1 });
    return [...new Uint8Array(await b.arrayBuffer())];
  }));
  assert.ok(noisy.length > 65535, `noise tile of ${noisy.length} bytes`);

  await row.locator('a').click();
  await page.click('#tabbtn-desktop');
  assert.match(page.url(), /\/desktop$/);
  assert.equal(await fake.selected, 2);
  assert.deepEqual(JSON.parse(fake.texts[0]), { type: 'options' }, 'options before "2"');
  await page.locator('#desk-status', { hasText: 'Connected' }).waitFor();
  assert.ok(await page.locator('#desk-viewonly').isHidden());

  fake.send(screenCmd(W, H));
  await waitFor(() => fake.bins.length > 0, 'the screen start');
  const start = commands(fake.bins);
  assert.deepEqual(start.map(([t]) => t), [5, 8, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...start[0][1]], [1, 50, 4, 0, 0, 100], 'JPEG, quality 50, 100%, 100 ms');
  // Red then green at the same place: green must win although the small
  // green tile decodes sooner; the JUMBO noise tile last at the bottom.
  fake.send(pictureCmd(0, 0, red));
  fake.send(pictureCmd(800, 0, blue));
  fake.send(pictureCmd(0, 0, green));
  fake.send(jumboPicture(1200, 800, noisy));
  await page.waitForFunction(() => {
    const g = document.querySelector('#desk-canvas').getContext('2d');
    return g.getImageData(1300, 900, 1, 1).data[3] === 255 &&
      g.getImageData(100, 100, 1, 1).data[1] > 200;
  }, null, { timeout: 5000 });
  assert.deepEqual(await page.evaluate(() => {
    const c = document.querySelector('#desk-canvas');
    return [c.width, c.height];
  }), [W, H]);
  near(await pixel(page, 100, 100), [0, 255, 0], 'green over red');
  near(await pixel(page, 600, 600), [255, 0, 0], 'red beside green');
  near(await pixel(page, 1000, 100), [0, 0, 255], 'blue');
  const box = await page.locator('#desk-canvas').boundingBox();
  assert.ok(box.width < W && box.width > 200, `scaled to ${box.width}`);
  assert.ok(Math.abs(box.width / box.height - W / H) < 0.01, 'aspect kept');
  await page.locator('#desk-stats', { hasText: /\d+ fps · \d+ KB\/s · 1600×1200/ }).waitFor();
  await screenshot(page, 'desktop-fake');

  // Mouse: a left click at a quarter of the shown canvas lands at a
  // quarter of the remote screen.
  fake.bins.length = 0;
  await page.mouse.click(box.x + box.width / 4, box.y + box.height / 4);
  await waitFor(() => commands(fake.bins).filter(([t, b]) => t === 2 && b[1] === 4).length,
    'mouse up');
  const clicks = commands(fake.bins).filter(([t, b]) => t === 2 && b[1] !== 0);
  assert.deepEqual(clicks.map(([, b]) => b[1]), [2, 4]);
  for (const [, b] of clicks) {
    assert.ok(Math.abs(b.readUInt16BE(2) - W / 4) <= 4, `x ${b.readUInt16BE(2)}`);
    assert.ok(Math.abs(b.readUInt16BE(4) - H / 4) <= 4, `y ${b.readUInt16BE(4)}`);
  }
  assert.ok(await page.evaluate(() => document.activeElement?.id === 'desk-canvas'));
  // The wheel: one message, size 12, sign for up.
  fake.bins.length = 0;
  await page.mouse.wheel(0, -100);
  await waitFor(() => commands(fake.bins).some(([t, b]) => t === 2 && b.length === 8), 'wheel');
  const wheel = commands(fake.bins).find(([t, b]) => t === 2 && b.length === 8)[1];
  assert.ok(wheel.readInt16BE(6) > 0);

  // Keys: characters as KEY_UNICODE, Enter and Ctrl+A as VK codes.
  fake.bins.length = 0;
  await page.keyboard.type('h');
  // Playwright inserts text for a key its US layout lacks; a real keyboard
  // with an é key sends key events, made here by hand.
  await page.locator('#desk-canvas').evaluate((c) => {
    for (const type of ['keydown', 'keyup']) {
      c.dispatchEvent(new KeyboardEvent(type, { key: 'é', code: 'Digit2', bubbles: true, cancelable: true }));
    }
  });
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+a');
  await waitFor(() => commands(fake.bins).filter(([t]) => t === 1).length >= 6, 'keys');
  const keys = commands(fake.bins).map(([t, b]) => (t === 85 ? `u${b[0]}:${b.readUInt16BE(1)}`
    : t === 1 ? `k${b[0]}:${b[1]}` : `?${t}`));
  assert.deepEqual(keys, ['u0:104', 'u1:104', 'u0:233', 'u1:233', 'k0:13', 'k1:13',
    'k0:17', 'k0:65', 'k1:65', 'k1:17']);

  // Settings and special keys.
  fake.bins.length = 0;
  await page.selectOption('#desk-quality', '95');
  await page.selectOption('#desk-rate', '500');
  await page.selectOption('#desk-keys', 'cad');
  await page.click('#desk-refresh');
  await waitFor(() => commands(fake.bins).some(([t]) => t === 6), 'refresh');
  const sent = commands(fake.bins);
  assert.deepEqual(sent.filter(([t]) => t === 5).map(([, b]) => [...b]),
    [[1, 95, 4, 0, 0, 100], [1, 95, 4, 0, 1, 244]]);
  assert.deepEqual(sent.filter(([t]) => t === 10 || t === 1).map(([t, b]) => (t === 10 ? 'cad' : `${b[0]}:${b[1]}`)),
    ['cad', '0:17', '0:18', '0:46', '1:46', '1:18', '1:17']);
  assert.equal(await page.inputValue('#desk-keys'), '', 'the menu goes back to its title');

  // The agent's messages: an error text and a console line.
  fake.send(cmd(65, Buffer.from('Wayland sessions are not supported')));
  await page.locator('#desk-console', { hasText: 'Wayland sessions are not supported' }).waitFor();
  fake.send(JSON.stringify({ ctrlChannel: '102938', type: 'console', msg: null, msgid: 0 }));
  await page.locator('#desk-console').waitFor({ state: 'hidden' });
  fake.send(cmd(65, Buffer.from('.only for the log')));
  fake.send(cmd(88, Buffer.from([5])));
  await page.waitForFunction(() => document.querySelector('#desk-canvas').style.cursor === 'text');
  assert.ok(await page.locator('#desk-console').isHidden());

  // Several displays: the picker appears with the agent's list, sends
  // SET_DISPLAY, and follows the agent's SET_DISPLAY.
  assert.ok(await page.locator('#desk-display').isHidden(), 'no picker before a list');
  fake.send(cmd(82, Buffer.from([0, 1, 0, 0, 0, 0, 3, 32, 2, 88, 0, 2, 3, 32, 0, 0, 4, 0, 3, 0])));
  fake.send(cmd(11, Buffer.from([0, 3, 0, 1, 0, 2, 255, 255, 255, 255])));
  await page.locator('#desk-display').waitFor();
  assert.deepEqual(await page.locator('#desk-display option').allTextContents(),
    ['Display 1 (800×600)', 'Display 2 (1024×768)', 'All displays']);
  assert.equal(await page.inputValue('#desk-display'), '65535');
  fake.bins.length = 0;
  await page.selectOption('#desk-display', '2');
  await waitFor(() => commands(fake.bins).some(([t]) => t === 12), 'SET_DISPLAY');
  assert.deepEqual(commands(fake.bins).filter(([t]) => t === 12).map(([, b]) => [...b]), [[0, 2]]);
  fake.send(cmd(12, Buffer.from([0, 1])));
  await page.waitForFunction(() => document.querySelector('#desk-display').value === '1');
  fake.send(cmd(11, Buffer.from([0, 1, 0, 1, 0, 1])));
  await page.locator('#desk-display').waitFor({ state: 'hidden' });
  // Lock keys in the stats line; the stock viewer's cursors past 17.
  fake.send(cmd(18, Buffer.from([5])));
  await page.locator('#desk-stats', { hasText: '· Caps Lock · Num Lock' }).waitFor();
  fake.send(cmd(88, Buffer.from([19])));
  await page.waitForFunction(() => document.querySelector('#desk-canvas').style.cursor === 'zoom-in');

  // A malformed command ends the session with the reason.
  let closed = null;
  fake.ws.onClose((code) => { closed = code; });
  fake.send(Buffer.from([0, 7, 0, 2]));
  await page.locator('#desk-status', { hasText: 'bad data (KVM command 7 of size 2)' }).waitFor();
  await waitFor(() => closed !== null, 'the close');
  await page.locator('#desk-connect', { hasText: 'Reconnect' }).waitFor();
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  await page.close();
});

test('desktop: view-only rights send nothing; NODESKTOP hides the tab', async () => {
  assert.ok(group && node, 'the first test made the device');
  const { page: admin } = await openPage(browser.context); // still signed in
  await admin.goto(meshd.base + '/');
  await admin.locator('#device-list').waitFor();
  assert.match(await addMember(admin, 'bob', 0x100 | 0x100000), /Added user bob/);
  assert.match(await addMember(admin, 'carol', 0x8 | 0x10000 | 0x100000), /Added user carol/);
  await admin.close();

  const { page, seen } = await openPage(bobBrowser.context);
  await signIn(page, meshd.base, 'bob', 'bob password');
  const fake = await fakeAgent(page);
  await page.evaluate((n) => { location.hash = `#/device/${n}/desktop`; }, node);
  assert.equal(await fake.selected, 2);
  await page.locator('#desk-status', { hasText: 'Connected' }).waitFor();
  await page.locator('#desk-viewonly', { hasText: 'View only' }).waitFor();
  assert.equal(await page.locator('#tabbtn-terminal').count(), 0, 'no terminal for view only');
  fake.send(screenCmd(640, 480));
  fake.send(pictureCmd(0, 0, await jpeg(page, 640, 480, '#0000ff')));
  await page.waitForFunction(() => document.querySelector('#desk-canvas')
    .getContext('2d').getImageData(10, 10, 1, 1).data[2] > 200, null, { timeout: 5000 });
  const box = await page.locator('#desk-canvas').boundingBox();
  await page.mouse.click(box.x + 50, box.y + 50);
  await page.keyboard.type('no');
  assert.ok(await page.locator('#desk-quality').isDisabled());
  assert.ok(await page.locator('#desk-refresh').isDisabled());
  assert.ok(await page.locator('#desk-keys').isHidden());
  await page.waitForTimeout(300);
  assert.deepEqual(fake.bins, [], 'not one binary message from a view-only viewer');
  assert.deepEqual(seen.errors, []);
  await page.close();

  // carol may control the device but not its desktop.
  const carolBrowser = await launchBrowser();
  const c = await openPage(carolBrowser.context);
  await signIn(c.page, meshd.base, 'carol', 'carol password');
  await c.page.evaluate((n) => { location.hash = `#/device/${n}/desktop`; }, node);
  await c.page.locator('#tabbtn-terminal').waitFor();
  assert.equal(await c.page.locator('#tabbtn-desktop').count(), 0);
  assert.doesNotMatch(c.page.url(), /desktop/);
  await carolBrowser.close();
});
