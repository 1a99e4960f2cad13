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
