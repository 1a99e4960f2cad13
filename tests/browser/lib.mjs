// lib.mjs - helpers for the browser tests: start and stop a real meshd on
// loopback, plain HTTPS requests from node, and a headless Chromium that
// can reach nothing but loopback.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
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
    base: `https://127.0.0.1:${port}`,
    log: () => log,
    /** Resolves once the log matches re (lines arrive through a pipe, so
     * after the reply that caused them); rejects after timeoutMs. */
    async waitLog(re, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(log)) {
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
 * One HTTPS request from node, the path sent exactly as given (no
 * normalisation, no decoding). Resolves to {status, headers, body}.
 */
export function request(port, method, rawPath, headers = {}) {
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
    req.end();
  });
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
