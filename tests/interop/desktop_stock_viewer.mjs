// desktop_stock_viewer.mjs - the STOCK MeshCentral web app in headless
// Chromium, signed in to the stock server as its admin, opens a device
// (meshagent on Xvfb), its Desktop tab, clicks Connect, then checks that
// the stock viewer's canvas shows the X screen and that a click and
// typing reach an X client (xev, whose output the shell driver logs).
// Run by desktop_stock_viewer.sh, which starts everything; settings come
// from the environment:
//   PEER_PORT PEER_USER PEER_PASS  the stock server and its admin
//   DEVICE      the device's name in the stock device list
//   XEV_LOG     the file xev writes its events to
//   POINTS      "x,y,r,g,b;..." screen points and the colours expected
//   XEV_AT      "x,y" a screen point inside the xev window
//   SCREEN      "WxH" of the X screen
//   WEBRTC      "1": the server allows WebRTC and the viewer must switch
//               onto a data channel before the input checks
// Prints one "ok ..." line per step; any failure throws (exit 1) with
// what was seen.
import { readFileSync } from 'node:fs';
import { launchBrowser, openPage, screenshot } from '../browser/lib.mjs';

const STEP_MS = 30000;
const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set (desktop_stock_viewer.sh sets it)`);
  return process.env[k];
};
const base = `https://127.0.0.1:${env('PEER_PORT')}`;
const [screenW, screenH] = env('SCREEN').split('x').map(Number);
const points = env('POINTS').split(';').map((p) => p.split(',').map(Number));
const [xevX, xevY] = env('XEV_AT').split(',').map(Number);

async function until(pred, what, ms = STEP_MS) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const xev = () => readFileSync(env('XEV_LOG'), 'utf8');
// xevShows FROM RES WHAT: xev's output after offset FROM matches all RES.
async function xevShows(from, res, what) {
  await until(() => res.every((re) => re.test(xev().slice(from))), `${what} in xev`)
    .catch((e) => { throw new Error(`${e.message}:\n${xev().slice(from).slice(-3000)}`); });
}

// The stock viewer draws into <canvas id="Desk"> at the remote screen's
// size (the page scales it with CSS only).
function pixel(page, x, y) {
  return page.evaluate(([x, y]) => [...document.getElementById('Desk')
    .getContext('2d').getImageData(x, y, 1, 1).data].slice(0, 3), [x, y]);
}
const near = (got, want) => got.every((v, i) => Math.abs(v - want[i]) <= 24);

// Records, in the page, what goes each way over the relay WebSocket: text
// as it is, and for each binary message the type of its first command
// (with the image type for COMPRESSION), for the checks and the log.
function traceKvm() {
  const trace = { sent: [], got: [] };
  window.kvmTrace = trace;
  const note = (list, data) => {
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
      list.push(`text:${String(data).slice(0, 32)}`); // the protocol is a number
      return;
    }
    const b = new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0);
    const c = (b[0] << 8) | b[1];
    if (b.length >= 4) list.push(c === 5 && b.length > 4 ? `5/${b[4]}` : `${c}`);
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (/meshrelay/.test(this.url)) note(trace.sent, data);
    return send.call(this, data);
  };
  const add = WebSocket.prototype.addEventListener;
  const watch = (ws) => {
    if (ws.kvmWatched || !/meshrelay/.test(ws.url)) return;
    ws.kvmWatched = true;
    add.call(ws, 'message', (e) => {
      if (typeof e.data === 'string') note(trace.got, e.data);
      else if (e.data instanceof ArrayBuffer) note(trace.got, e.data);
    });
  };
  WebSocket.prototype.addEventListener = function (...a) { watch(this); return add.apply(this, a); };
  const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    set(f) { watch(this); onmessage.set.call(this, f); },
    get() { return onmessage.get.call(this); },
  });
}
const counts = (list) => Object.entries(list.reduce((m, k) => ({ ...m, [k]: (m[k] ?? 0) + 1 }), {}))
  .map(([k, n]) => `${k}x${n}`).join(' ');

const browser = await launchBrowser();
const { page, seen } = await openPage(browser.context);
await page.addInitScript(traceKvm);
try {
  // Stock login page: #username, #password, #loginButton.
  await page.goto(`${base}/`);
  await page.locator('#username').waitFor({ timeout: STEP_MS });
  await page.fill('#username', env('PEER_USER'));
  await page.fill('#password', env('PEER_PASS'));
  await page.click('#loginButton');
  await page.locator('#MainDevDesktop').waitFor({ state: 'attached', timeout: STEP_MS });
  console.log('ok signed in to the stock web app');

  // The device in the stock device list: its name opens its page.
  await page.locator('#devs').getByText(env('DEVICE'), { exact: true }).first()
    .click({ timeout: STEP_MS });
  await page.locator('#MainDevDesktop').waitFor({ state: 'visible', timeout: STEP_MS });
  await page.click('#MainDevDesktop');
  const connect = page.locator('#connectbutton1');
  await connect.waitFor({ state: 'visible', timeout: STEP_MS });
  await until(() => connect.isEnabled(), 'the Connect button to be enabled');
  await connect.click();
  await page.locator('#deskstatus', { hasText: 'Connected' })
    .waitFor({ timeout: STEP_MS });
  console.log('ok Desktop tab, Connect: the stock viewer says Connected');

  await page.waitForFunction(([w, h]) => {
    const c = document.getElementById('Desk');
    return c && c.width === w && c.height === h;
  }, [screenW, screenH], { timeout: STEP_MS });
  const show = async () => (await Promise.all(points.map(async ([x, y]) =>
    `${x},${y}=${await pixel(page, x, y)}`))).join(' ');
  await until(async () => {
    for (const [x, y, r, g, b] of points) {
      if (!near(await pixel(page, x, y), [r, g, b])) return false;
    }
    return true;
  }, 'the X screen on the stock canvas').catch(async (e) => {
    throw new Error(`${e.message}: ${await show()}`);
  });
  await screenshot(page, 'stock-desktop');
  console.log(`ok canvas ${screenW}x${screenH} shows the X screen: ${await show()}`);

  if (process.env.WEBRTC === '1') {
    // The stock viewer's own flag (agent-redir-ws: set when its data
    // channel opens; from then on it sends its input there).
    await page.waitForFunction(() => typeof desktop === 'object' && desktop &&
      desktop.webRtcActive === true, null, { timeout: STEP_MS });
    console.log('ok the stock viewer moved onto its WebRTC data channel');
  }

  // A click on the canvas where the xev window is (the canvas may be
  // scaled by CSS: map through its shown box).
  const box = await page.locator('#Desk').boundingBox();
  let from = xev().length;
  await page.mouse.click(box.x + ((xevX + 0.5) * box.width) / screenW,
    box.y + ((xevY + 0.5) * box.height) / screenH);
  await xevShows(from, [/ButtonPress[^\n]*\n[^\n]*\n[^\n]*button 1,/], 'the click');
  const [, rx, ry] = /ButtonPress[^\n]*\n[^\n]*root:\((\d+),(\d+)\)/.exec(xev().slice(from));
  if (Math.abs(rx - xevX) > 2 || Math.abs(ry - xevY) > 2) {
    throw new Error(`the click landed at ${rx},${ry}, not near ${xevX},${xevY}`);
  }
  console.log(`ok a click on the stock canvas reaches xev as button 1 at ${rx},${ry}`);

  // Printable keys go out as Unicode key events, others (Enter) as
  // virtual key codes.
  from = xev().length;
  await page.keyboard.type('Qz');
  await page.keyboard.press('Enter');
  await xevShows(from, [/keysym 0x51, Q\)/, /keysym 0x7a, z\)/, /keysym 0xff0d, Return\)/],
    'Q, z and Return');
  console.log('ok typing Q, z and Enter in the stock viewer reaches xev');

  // The wheel over the canvas: down (a negative delta, which the stock
  // viewer encodes as 0xFFFF - |d|) is X button 5, up is button 4.
  from = xev().length;
  await page.mouse.wheel(0, 100);
  await xevShows(from, [/button 5,/], 'wheel down as button 5');
  from = xev().length;
  await page.mouse.wheel(0, -100);
  await xevShows(from, [/button 4,/], 'wheel up as button 4');
  console.log('ok the wheel on the stock canvas reaches xev (down 5, up 4)');

  // The stock viewer's start sequence was sent and did not end the
  // session: COMPRESSION asking for WebP (image type 4; the tiles came
  // anyway), the INPUT_LOCK query and INIT_TOUCH.
  const trace = await page.evaluate(() => window.kvmTrace);
  for (const c of ['5/4', '87', '14']) {
    if (!trace.sent.includes(c)) throw new Error(`the viewer never sent ${c}: ${trace.sent}`);
  }
  await page.locator('#deskstatus', { hasText: 'Connected' }).waitFor({ timeout: 1000 });
  console.log(`note viewer sent (type[/image type]xcount): ${counts(trace.sent)}`);
  console.log(`note viewer got: ${counts(trace.got)}`);
  if (seen.errors.length) console.log('note page errors:', JSON.stringify(seen.errors));
} catch (e) {
  await screenshot(page, 'stock-desktop-failed').catch(() => {});
  const status = await page.locator('#deskstatus').textContent().catch(() => '?');
  // The stock app's own record of the device (a global of its page).
  const agent = await page.evaluate(() => JSON.stringify(
    typeof currentNode === 'object' && currentNode && currentNode.agent)).catch(() => '?');
  console.error(`FAIL ${e.message}\n(desk status: ${status}; device agent: ${agent}; ` +
    `page errors: ${JSON.stringify(seen.errors)})`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
