// lib.mjs - helpers for the browser tests: start and stop a real meshd on
// loopback, plain HTTPS requests from node, and a headless Chromium that
// can reach nothing but loopback.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; " +
  "frame-ancestors 'none'";

export const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'strict-transport-security': 'max-age=31536000',
};

const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 10000;

/**
 * Starts meshd (the binary in $MESHD) on 127.0.0.1 with a fresh data
 * folder; resolves when its "event=listening ... port=N" line arrives.
 * extraArgs are appended (e.g. ['--web', dir]).
 */
export async function startMeshd(extraArgs = []) {
  const bin = process.env.MESHD;
  if (!bin) throw new Error('MESHD is not set (ctest sets it)');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'meshd-browser-'));
  const child = spawn(bin, ['--data', dataDir, '--port', '0', '--bind',
    '127.0.0.1', '--name', '127.0.0.1', ...extraArgs],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => child.once('exit',
    (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `meshd did not start within ${START_TIMEOUT_MS} ms:\n${log}`)),
    START_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /event=listening .*\bport=(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`meshd exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  return {
    port,
    dataDir,
    base: `https://127.0.0.1:${port}`,
    log: () => log,
    /** Runs an offline meshd command on this data folder; its stdout. */
    cli(...args) {
      return execFileSync(bin, [...args, '--data', dataDir],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    },
    /** Resolves once the log (from offset `from` on) matches re (lines
     * arrive through a pipe, so after the reply that caused them);
     * rejects after timeoutMs. */
    async waitLog(re, timeoutMs = 5000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(log.slice(from))) {
        if (Date.now() > deadline) {
          throw new Error(`no log line matching ${re} in:\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** SIGTERM, wait for the exit (SIGKILL after a while); returns it. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const status = await exited;
      clearTimeout(timer);
      await rm(dataDir, { recursive: true, force: true });
      return status;
    },
  };
}

/**
 * Stops meshd and asserts it exited by itself with status 0 (an ASan
 * report or a crash on shutdown fails the test that ran it).
 */
export async function stopMeshd(meshd) {
  const { code, signal } = await meshd.stop();
  assert.equal(signal, null, `meshd died by ${signal}:\n${meshd.log()}`);
  assert.equal(code, 0, `meshd exit code ${code}:\n${meshd.log()}`);
}

/**
 * One HTTPS request from node, the path sent exactly as given (no
 * normalisation, no decoding), with an optional body (string or Buffer).
 * Resolves to {status, headers, body}.
 */
export function request(port, method, rawPath, headers = {}, body = null) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, method, path: rawPath, headers,
      rejectUnauthorized: false, agent: false, timeout: 15000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks),
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${rawPath}: timeout`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** POSTs a JSON body to an /api/ path; resolves like request(), plus json. */
export async function postJson(port, rawPath, value, headers = {}) {
  const res = await request(port, 'POST', rawPath,
    { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
  let json = null;
  try {
    json = JSON.parse(res.body.toString());
  } catch {
    // Left null: the test decides whether that is wrong.
  }
  return { ...res, json };
}

/** Signs in through /api/login; resolves to the "meshd_session=..." pair. */
export async function login(port, user, pass) {
  const res = await postJson(port, '/api/login', { user, pass });
  if (res.status !== 200) throw new Error(`login ${user}: ${res.status}`);
  const cookie = [res.headers['set-cookie']].flat()[0];
  return cookie.split(';')[0];
}

const AGENT_STOP_MS = 5000;

/**
 * Starts a real meshagent (the binary in $MESHAGENT) for device group
 * `group` (its id or name) of meshd: a copy of the binary in a fresh
 * folder beside the meshagent.msh that `meshd agent-config` prints, with
 * an agentName line added when given (the computer name it reports).
 * Returns {dir, log(), kill(), stop()}; stop also removes the folder.
 */
export async function startAgent(meshd, group, { agentName } = {}) {
  const bin = process.env.MESHAGENT;
  if (!bin) throw new Error('MESHAGENT is not set (ctest sets it)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-agent-'));
  const exe = path.join(dir, 'meshagent');
  await copyFile(bin, exe);
  await chmod(exe, 0o755);
  let msh = meshd.cli('agent-config', group, '--url',
    `wss://127.0.0.1:${meshd.port}/agent.ashx`);
  if (agentName !== undefined) msh += `\r\nagentName=${agentName}`;
  await writeFile(path.join(dir, 'meshagent.msh'), msh + '\r\n');
  const child = spawn(exe, ['run'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    dir,
    log: () => log,
    /** SIGKILL: the agent vanishes as a crashed or unplugged machine. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    /** SIGTERM: the agent must exit 0 in time, with no sanitizer report
     * (under ASan this is where its leaks show), unless killed before. */
    async stop() {
      const running = child.exitCode === null && child.signalCode === null;
      if (running) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), AGENT_STOP_MS);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
      if (running && child.exitCode !== 0) {
        throw new Error(`meshagent exit ${child.exitCode ?? child.signalCode}:\n${log.slice(-2000)}`);
      }
      if (/Sanitizer|runtime error:/.test(log)) {
        throw new Error(`sanitizer report from meshagent:\n${log.slice(log.search(/Sanitizer|runtime error:/)).slice(0, 3000)}`);
      }
    },
  };
}

/**
 * Opens a page of context that records console errors, page errors,
 * requests and dialogs (alert, confirm: the app never opens one).
 */
export async function openPage(context) {
  const page = await context.newPage();
  const seen = { errors: [], requests: [], dialogs: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      seen.errors.push({ text: msg.text(), url: msg.location().url });
    }
  });
  page.on('pageerror', (err) => seen.errors.push({ text: String(err), url: '' }));
  page.on('request', (req) => seen.requests.push(req.url()));
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  return { page, seen };
}

/** Signs in through the app's form and waits for the device list. */
export async function signIn(page, base, user, pass) {
  await page.goto(base + '/');
  await page.locator('#signin-form').waitFor();
  await page.fill('#user', user);
  await page.fill('#pass', pass);
  await page.click('#signin');
  await page.locator('#device-list').waitFor();
}

/**
 * Launches Debian's Chromium (never a downloaded browser) headless with a
 * fresh profile, every background fetch disabled, and host resolution
 * limited to loopback, so the page can reach nothing outside this machine.
 * Returns {context, close()}; close also removes the profile.
 */
export async function launchBrowser() {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'meshd-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    ignoreHTTPSErrors: true,
    viewport: { width: 1024, height: 720 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot when MESH_SCREENSHOT_DIR is set (for a person). */
export async function screenshot(page, name) {
  const dir = process.env.MESH_SCREENSHOT_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/**
 * Creates a device group through the app's Groups page (the page must be
 * signed in) and resolves to its bare id, taken from the group page's
 * address the app then shows.
 */
export async function createGroup(page, name, desc = '') {
  await page.evaluate(() => { location.hash = '#/groups'; });
  await page.locator('#group-form').waitFor();
  await page.fill('#group-name', name);
  if (desc) await page.fill('#group-desc', desc);
  await page.click('#group-create');
  await page.waitForFunction(() => location.hash.startsWith('#/group/'));
  await page.locator('#group-title').waitFor();
  return decodeURIComponent(await page.evaluate(() => location.hash.slice('#/group/'.length)));
}
