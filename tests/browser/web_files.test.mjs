// web_files.test.mjs - srv_web's file rules against a made-up web folder:
// precompressed .gz siblings, symbolic links, FIFOs, the size cap, content
// types, and files that must not be published. Plain node HTTPS requests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import { CSP, request, startMeshd, stopMeshd } from './lib.mjs';

const MAX_FILE = 8 * 1024 * 1024; // SRV_WEB_MAX_FILE in srv_web.h

let meshd;
let webDir;
let outside;
const APP_JS = 'export const answer = 42;\n'.repeat(200);

before(async () => {
  webDir = await mkdtemp(path.join(os.tmpdir(), 'meshd-web-'));
  outside = await mkdtemp(path.join(os.tmpdir(), 'meshd-outside-'));
  const w = (name, data) => writeFile(path.join(webDir, name), data);
  await w('index.html', '<!doctype html><title>fixture</title>\n');
  await w('app.js', APP_JS);
  await w('app.js.gz', zlib.gzipSync(APP_JS));
  await w('only.css', 'body{}\n');
  // A copy made from an earlier version of its file: older than the file.
  await w('stale.js', 'export const v = 2;\n');
  await w('stale.js.gz', zlib.gzipSync('export const v = 1;\n'));
  await utimes(path.join(webDir, 'stale.js.gz'), new Date(1e9 * 1000), new Date(1e9 * 1000));
  await w('pic.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await w('pic.png', Buffer.from('89504e470d0a1a0a', 'hex'));
  await w('favicon.ico', Buffer.alloc(4));
  await w('data.json', '{}');
  await w('font.woff2', Buffer.alloc(8));
  await w('app.js.map', '{}');
  await w('mod.mjs', 'export {};\n');
  await w('notes.txt', 'secret notes\n');
  await w('.hidden.js', 'hidden\n');
  await w('big.js', Buffer.alloc(MAX_FILE + 1, 0x20));
  await w('limit.js', Buffer.alloc(MAX_FILE, 0x20));
  await mkdir(path.join(webDir, 'sub'));
  await w('sub/x.js', 'sub\n');
  await mkdir(path.join(webDir, 'dir.js'));
  await writeFile(path.join(outside, 'secret.js'), 'outside the web folder\n');
  await symlink(path.join(outside, 'secret.js'), path.join(webDir, 'link.js'));
  await symlink('/etc/passwd', path.join(webDir, 'passwd.html'));
  await symlink(outside, path.join(webDir, 'linkdir'));
  await symlink('app.js', path.join(webDir, 'relative-link.js'));
  execFileSync('mkfifo', [path.join(webDir, 'fifo.js')]);
  meshd = await startMeshd(['--web', webDir]);
});

after(async () => {
  if (meshd) {
    await stopMeshd(meshd);
  }
  await rm(webDir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const get = (p, headers) => request(meshd.port, 'GET', p, headers);

test('content types by extension', async () => {
  const want = {
    '/': 'text/html; charset=utf-8',
    '/only.css': 'text/css; charset=utf-8',
    '/mod.mjs': 'text/javascript; charset=utf-8',
    '/pic.svg': 'image/svg+xml',
    '/pic.png': 'image/png',
    '/favicon.ico': 'image/x-icon',
    '/data.json': 'application/json',
    '/font.woff2': 'font/woff2',
    '/app.js.map': 'application/json',
    '/sub/x.js': 'text/javascript; charset=utf-8',
  };
  for (const [p, type] of Object.entries(want)) {
    const res = await get(p);
    assert.equal(res.status, 200, p);
    assert.equal(res.headers['content-type'], type, p);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', p);
    assert.equal(res.headers['cache-control'],
      p === '/' ? 'no-cache' : 'max-age=3600', p);
    assert.equal(res.headers.vary, undefined, `${p} has no .gz sibling`);
  }
});

test('a .gz sibling is sent to clients that accept gzip', async () => {
  const gz = await get('/app.js', { 'Accept-Encoding': 'br, GZIP;q=0.5' });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gz.headers.vary, 'Accept-Encoding');
  assert.equal(gz.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(zlib.gunzipSync(gz.body).toString(), APP_JS);
  assert.ok(gz.body.length < APP_JS.length);

  for (const ae of [undefined, 'identity', 'gzip;q=0', 'gzip; q=0.000, br', 'gzipx']) {
    const plain = await get('/app.js', ae ? { 'Accept-Encoding': ae } : {});
    assert.equal(plain.status, 200, ae);
    assert.equal(plain.headers['content-encoding'], undefined, ae);
    assert.equal(plain.headers.vary, 'Accept-Encoding', ae);
    assert.equal(plain.body.toString(), APP_JS, ae);
    assert.notEqual(plain.headers.etag, gz.headers.etag, 'variants differ');
  }
  const again = await get('/app.js', { 'Accept-Encoding': 'gzip',
    'If-None-Match': gz.headers.etag });
  assert.equal(again.status, 304);
  assert.equal(again.headers['content-encoding'], 'gzip');
  // The .gz file itself is not addressable.
  assert.equal((await get('/app.js.gz')).status, 404);
});

test('a .gz sibling older than its file is never sent', async () => {
  const res = await get('/stale.js', { 'Accept-Encoding': 'gzip' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.body.toString(), 'export const v = 2;\n');
});

test('symbolic links, FIFOs, folders, hidden and unknown files are 404', async () => {
  const started = Date.now();
  for (const p of ['/link.js', '/passwd.html', '/linkdir/secret.js',
    '/relative-link.js', '/fifo.js', '/dir.js', '/sub', '/sub/', '/notes.txt',
    '/.hidden.js', '/missing.js', '/app.js.gz', '/sub/../app.js']) {
    const res = await get(p);
    assert.equal(res.status, 404, p);
    assert.equal(res.headers['content-security-policy'], CSP, p);
    assert.equal(res.headers['cache-control'], 'no-store', p);
  }
  // The FIFO did not stall the loop in open().
  assert.ok(Date.now() - started < 5000);
});

test('the size cap: at the limit 200, past it 500', async () => {
  const ok = await get('/limit.js');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.length, MAX_FILE);
  const big = await get('/big.js');
  assert.equal(big.status, 500);
  assert.equal(big.headers['content-security-policy'], CSP);
  await meshd.waitLog(/event=web path=\/big\.js reason="file over/);
});

test('the server still serves after all that', async () => {
  const res = await get('/');
  assert.equal(res.status, 200);
  assert.match(res.body.toString(), /fixture/);
});
