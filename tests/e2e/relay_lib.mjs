// relay_lib.mjs - WebSocket helpers for the relay e2e tests: a signed-in
// control connection (/control.ashx) that asks and waits for replies, and
// relay sockets (/meshrelay.ashx) that record what they receive.
//
// Uses the `ws` package of the stock MeshCentral install
// (tests/interop/.peer, made by scripts/setup-peer.sh), as wsclient.mjs.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wsPath = resolve(here, '../interop/.peer/node_modules/ws');
if (!existsSync(wsPath)) {
  console.error(`relay_lib: no ws package at ${wsPath}; run scripts/setup-peer.sh`);
  process.exit(3);
}
export const WebSocket = createRequire(import.meta.url)(wsPath);

export const PORT = process.env.PORT;
export const BASE = `wss://127.0.0.1:${PORT}`;

export function fail(msg) {
  throw new Error(msg);
}
export function ok(msg) {
  console.log(`ok - ${msg}`);
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves when cond() is true (polled), or rejects after ms.
export async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const b64 = (s) => Buffer.from(s).toString('base64');

// A signed-in control connection. ask(obj) sends obj with a fresh
// responseid and resolves with the reply carrying it.
export async function control(user, pass) {
  const ws = new WebSocket(`${BASE}/control.ashx`, {
    headers: { 'x-meshauth': `${b64(user)},${b64(pass)}` },
    rejectUnauthorized: false,
    perMessageDeflate: false,
  });
  const waiting = [];
  let n = 0;
  const seen = [];
  await new Promise((res, rej) => {
    ws.on('error', rej);
    ws.on('close', (code, why) => rej(new Error(`control closed ${code} ${why}`)));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      seen.push(m);
      if (m.action === 'userinfo') res();
      // Some replies carry no responseid (events): those match the
      // oldest request of the same action.
      const i = waiting.findIndex((w) => (m.responseid ? w.id === m.responseid
        : w.action === m.action));
      if (i >= 0) waiting.splice(i, 1)[0].res(m);
    });
  });
  return {
    ws,
    seen,
    ask(obj) {
      const id = `r${++n}`;
      return new Promise((res) => {
        waiting.push({ id, action: obj.action, res });
        ws.send(JSON.stringify({ ...obj, responseid: id }));
      });
    },
    close() {
      ws.close();
    },
  };
}

// A relay socket. Every message is recorded as {text} or {bin: Buffer};
// `closed` resolves with {code, reason}; `http` holds a refused upgrade's
// status.
export function relay(query, opts = {}) {
  const ws = new WebSocket(`${BASE}/meshrelay.ashx?${query}`, {
    headers: opts.headers || {},
    localAddress: opts.local,
    rejectUnauthorized: false,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  });
  const r = { ws, msgs: [], bytes: 0, http: 0, openAt: 0 };
  r.opened = new Promise((res) => ws.on('open', () => { r.openAt = Date.now(); res(); }));
  r.closed = new Promise((res) => {
    ws.on('close', (code, reason) => res({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (req, resp) => {
      r.http = resp.statusCode;
      res({ code: 0, reason: `HTTP ${resp.statusCode}` });
    });
    ws.on('error', () => {});
  });
  ws.on('message', (data, isBinary) => {
    r.bytes += data.length;
    if (opts.countOnly && r.msgs.length) return; // keeps only the first
    r.msgs.push(isBinary ? { bin: Buffer.from(data) } : { text: data.toString() });
  });
  return r;
}

// Resolves with the next message at index i (waiting for it).
export async function msgAt(r, i, ms = 10000) {
  await until(() => r.msgs.length > i, ms, `message ${i}`);
  return r.msgs[i];
}

// Registers a tunnel as c (a control connection); resolves with
// {id, result, rcookie, cookie}.
let seq = 0;
export async function tunnel(c, node, p, extra = {}) {
  const ac = await c.ask({ action: 'authcookie' });
  const id = extra.id || `t${process.pid}x${Date.now().toString(36)}${++seq}`;
  const rauth = extra.rauth || ac.rcookie;
  const value = extra.value ||
    `*/meshrelay.ashx?p=${p}&nodeid=node//${node}&id=${id}&rauth=${rauth}`;
  const rep = await c.ask({
    action: 'msg', type: 'tunnel', nodeid: `node//${node}`, value, usage: p,
  });
  return { id, result: rep.result, cookie: ac.cookie, rcookie: ac.rcookie };
}

// The agent's URL: '$' and '@' %-encoded, as the stock agent does.
export const agentQuery = (node, id, rcookie, p = 1) =>
  `p=${p}&nodeid=node//${node}&id=${id}&rauth=${rcookie.replace(/\$/g, '%24').replace(/@/g, '%40')}`;
export const viewerQuery = (node, id, cookie, p = 1) =>
  `browser=1&p=${p}&nodeid=node//${node}&id=${id}&auth=${cookie}`;

// Expects a refusal before pairing: the JSON close message with cause,
// then close 1008 with the same text.
export async function refused(r, cause, what) {
  const c = await r.closed;
  const first = r.msgs[0] && r.msgs[0].text ? JSON.parse(r.msgs[0].text) : null;
  if (!first || first.action !== 'close' || first.cause !== cause)
    fail(`${what}: wanted close cause ${cause}, got ${JSON.stringify(r.msgs)} ${c.code}`);
  if (c.code !== 1008 || c.reason !== first.msg)
    fail(`${what}: wanted 1008 "${first.msg}", got ${c.code} "${c.reason}"`);
  return first.msg;
}

export function rssKb(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return +s.match(/VmRSS:\s+(\d+)/)[1];
}

// The viewer side of a session as the command-line viewers (viewer.mjs,
// desktop_viewer.mjs) open it against any server at o.url (wss://H:P):
// signs in on /control.ashx as o.user/o.pass (x-meshauth), gets the relay
// cookies (authcookie), asks for tunnel o.id to o.node for protocol o.p
// (msg/tunnel, answered with responseid o.tag; skipped with o.joinOnly)
// and calls on.join(url) with the viewer's relay URL, whose p is o.vp
// (default o.p). on.route(result) gets the answer to msg/tunnel, on.error(e)
// an error of the control socket. Returns the control socket.
export function viewerTunnel(o, on) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const ctl = new WebSocket(o.url + '/control.ashx', {
    headers: { 'x-meshauth': `${b64(o.user)},${b64(o.pass)}` },
    rejectUnauthorized: false,
    perMessageDeflate: false,
  });
  ctl.on('error', (e) => on.error(e));
  ctl.on('open', () => ctl.send(JSON.stringify({ action: 'authcookie' })));
  ctl.on('message', (data) => {
    let m;
    try { m = JSON.parse(data.toString()); } catch { return; }
    if (m.action === 'authcookie') {
      if (!o.joinOnly) ctl.send(JSON.stringify({
        action: 'msg', type: 'tunnel', nodeid: o.node, usage: o.p,
        value: `*/meshrelay.ashx?p=${o.p}&nodeid=${o.node}&id=${o.id}&rauth=${m.rcookie}`,
        responseid: o.tag,
      }));
      on.join(`${o.url}/meshrelay.ashx?browser=1&p=${o.vp ?? o.p}` +
        `&nodeid=${encodeURIComponent(o.node)}&id=${o.id}&auth=${m.cookie}`);
    } else if (m.action === 'msg' && m.responseid === o.tag) {
      on.route(m.result);
    }
  });
  return ctl;
}

// The command-line frame of the viewers: leading "--key value" options
// into opt (timeout 60000 ms unless given), the other arguments in argv,
// out(line) to stdout, and finish(line, status), which prints line (if
// any) and exits shortly after; only its first call counts, and
// finish('TIMEOUT', 2) comes by itself when opt.timeout passes.
export function viewerCli(args) {
  const argv = args.slice();
  const opt = { timeout: 60000 };
  while (argv.length && argv[0].startsWith('--')) {
    const k = argv.shift().slice(2);
    opt[k] = argv.shift();
  }
  const out = (line) => process.stdout.write(line + '\n');
  let finished = false;
  const finish = (line, status = 0) => {
    if (finished) return;
    finished = true;
    if (line) out(line);
    setTimeout(() => process.exit(status), 50);
  };
  setTimeout(() => finish('TIMEOUT', 2), +opt.timeout);
  return { opt, argv, out, finish };
}
