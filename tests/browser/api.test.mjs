// api.test.mjs - /api/login, /api/logout, /api/setup and the Origin rule
// of /control.ashx, from plain node (no browser): what a hostile page or
// client could send, which a browser would not let a test send.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import tls from 'node:tls';

import {
  CSP,
  login,
  postJson,
  request,
  startMeshd,
  stopMeshd,
} from './lib.mjs';

let meshd;

before(async () => {
  meshd = await startMeshd();
});

after(async () => {
  if (meshd) {
    await stopMeshd(meshd);
  }
});

/**
 * A WebSocket upgrade of /control.ashx over a raw TLS socket, with the
 * given extra header lines. Resolves to {status, text}: the answer's
 * status and what arrived until the answer is complete: a whole refusal
 * (by its Content-Length), or after a 101 the sign-in's outcome (userinfo
 * or a close message). Gives up after waitMs.
 */
function upgrade(headers, waitMs = 5000, port = meshd.port) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    let data = Buffer.alloc(0);
    let timer = 0;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = data.toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    const complete = () => {
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return false;
      if (text.startsWith('HTTP/1.1 101')) return /"action":"userinfo"|"cause":/.test(text);
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      return data.length >= end + 4 + len;
    };
    timer = setTimeout(done, waitMs);
    sock.on('secureConnect', () => {
      sock.write([
        'GET /control.ashx HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        ...headers, '', ''].join('\r\n'));
    });
    sock.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (complete()) done();
    });
    sock.on('end', done);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('setup: only while no account exists, validated, one administrator', async () => {
  let r = await request(meshd.port, 'GET', '/api/setup');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(r.headers['content-security-policy'], CSP);
  assert.deepEqual(JSON.parse(r.body.toString()), { needed: true });

  for (const [body, why] of [
    [{ user: 'ad min', pass: 'password1' }, 'space in the name'],
    [{ user: '', pass: 'password1' }, 'empty name'],
    [{ user: 'admin', pass: 'short' }, 'short password'],
    [{ user: 'admin', pass: 12345678 }, 'password not a string'],
    [{ user: ['admin'], pass: 'password1' }, 'name not a string'],
    [{ user: 'admin', pass: 'password1', email: 'nope' }, 'bad e-mail'],
    [{ user: 'admin', pass: 'x'.repeat(257) }, 'long password'],
  ]) {
    r = await postJson(meshd.port, '/api/setup', body);
    assert.equal(r.status, 400, why);
    assert.equal(typeof r.json.error, 'string', why);
  }
  r = await request(meshd.port, 'POST', '/api/setup', { 'Content-Type': 'application/json' },
    '{"user":"a","user":"b","pass":"password1"}');
  assert.equal(r.status, 400, 'duplicate keys');
  r = await request(meshd.port, 'POST', '/api/setup', { 'Content-Type': 'application/json' },
    '[1]');
  assert.equal(r.status, 400, 'not an object');
  r = await request(meshd.port, 'POST', '/api/setup', { 'Content-Type': 'text/plain' },
    '{"user":"admin","pass":"password1"}');
  assert.equal(r.status, 415, 'a form-like content type');
  r = await request(meshd.port, 'POST', '/api/setup', { 'Content-Type': 'application/json' },
    JSON.stringify({ user: 'admin', pass: 'password1', pad: 'x'.repeat(5000) }));
  assert.equal(r.status, 413);
  r = await postJson(meshd.port, '/api/setup', { user: 'admin', pass: 'password1' },
    { Origin: 'https://evil.example' });
  assert.equal(r.status, 403, 'foreign origin');

  // Eight setups at once: exactly one administrator comes out.
  const tries = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    postJson(meshd.port, '/api/setup', { user: `admin${i}`, pass: 'first password' })));
  const won = tries.filter((t) => t.status === 200);
  assert.equal(won.length, 1, tries.map((t) => t.status).join(' '));
  assert.ok(tries.every((t) => t.status === 200 || t.status === 409));
  assert.match(won[0].json.user, /^user\/\/admin\d$/);
  r = await request(meshd.port, 'GET', '/api/setup');
  assert.deepEqual(JSON.parse(r.body.toString()), { needed: false });
  r = await postJson(meshd.port, '/api/setup', { user: 'late', pass: 'password1' });
  assert.equal(r.status, 409);
});

test('login and logout', async () => {
  meshd.cli('create-account', 'Carol', '--pass', 'carol password');
  let r = await postJson(meshd.port, '/api/login', { user: 'carol', pass: 'wrong password' });
  assert.equal(r.status, 401);
  assert.deepEqual(r.json, { error: 'wrong user name or password' });
  assert.equal(r.headers['set-cookie'], undefined);
  r = await postJson(meshd.port, '/api/login', { user: 'nosuch', pass: 'wrong password' });
  assert.equal(r.status, 401);
  r = await postJson(meshd.port, '/api/login', { user: 'carol' });
  assert.equal(r.status, 400);
  r = await request(meshd.port, 'GET', '/api/login');
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'POST');
  r = await postJson(meshd.port, '/api/login', { user: 'CAROL', pass: 'carol password' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { user: 'user//carol' });
  const setCookie = r.headers['set-cookie'][0];
  assert.match(setCookie,
    /^meshd_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200$/);
  const cookie = setCookie.split(';')[0];

  // The cookie opens /control.ashx (same origin, as a browser sends it).
  let ws = await upgrade([`Origin: https://127.0.0.1:${meshd.port}`, `Cookie: ${cookie}`]);
  assert.equal(ws.status, 101);
  assert.match(ws.text, /"_id":"user\/\/carol"/);

  // A foreign Origin on /api/logout changes nothing.
  r = await request(meshd.port, 'POST', '/api/logout',
    { Origin: 'https://evil.example', Cookie: cookie });
  assert.equal(r.status, 403);
  ws = await upgrade([`Cookie: ${cookie}`]);
  assert.match(ws.text, /"action":"userinfo"/);

  r = await request(meshd.port, 'POST', '/api/logout', { Cookie: cookie });
  assert.equal(r.status, 200);
  assert.match(r.headers['set-cookie'][0], /^meshd_session=; Path=\/; .*Max-Age=0$/);
  ws = await upgrade([`Cookie: ${cookie}`]);
  assert.equal(ws.status, 101);
  assert.match(ws.text, /"cause":"noauth"/);
  assert.doesNotMatch(ws.text, /userinfo/);
});

/**
 * Signs in to /control.ashx with cookie, sends one command (a masked text
 * frame, as a client must) once userinfo arrived, and resolves to all text
 * received up to the reply to that command.
 */
function control(cookie, command) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: meshd.port, rejectUnauthorized: false });
    let text = '';
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no ${command.action} reply in: ${text}`));
    }, 5000);
    sock.on('secureConnect', () => sock.write([
      'GET /control.ashx HTTP/1.1', `Host: 127.0.0.1:${meshd.port}`, 'Upgrade: websocket',
      'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13', `Cookie: ${cookie}`, '', ''].join('\r\n')));
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (!sent && text.includes('"action":"userinfo"')) {
        sent = true;
        const payload = Buffer.from(JSON.stringify({ ...command, responseid: 't' }));
        assert.ok(payload.length < 126);
        const mask = Buffer.from([1, 2, 3, 4]);
        sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask,
          Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]))]));
      }
      if (text.includes(`"action":"${command.action}"`)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(text);
      }
    });
    sock.on('error', reject);
  });
}

test('a locked account cannot sign in', async () => {
  meshd.cli('create-account', 'dave', '--pass', 'dave password');
  meshd.cli('create-account', 'root', '--pass', 'root password', '--admin');
  let r = await postJson(meshd.port, '/api/login', { user: 'dave', pass: 'dave password' });
  assert.equal(r.status, 200);
  // An administrator locks dave (site right 32).
  const rootCookie = await login(meshd.port, 'root', 'root password');
  const reply = await control(rootCookie, { action: 'edituser', userid: 'dave', siteadmin: 32 });
  assert.match(reply, /"result":"ok"/);
  r = await postJson(meshd.port, '/api/login', { user: 'dave', pass: 'dave password' });
  assert.equal(r.status, 401);
  assert.deepEqual(r.json, { error: 'account locked' });
  assert.equal(r.headers['set-cookie'], undefined);
});

test('a cross-origin upgrade with a valid cookie is refused with 403', async () => {
  const cookie = await login(meshd.port, 'carol', 'carol password');
  for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${meshd.port}`,
    `https://127.0.0.1:${meshd.port}.evil.example`, 'https://127.0.0.1']) {
    const ws = await upgrade([`Origin: ${origin}`, `Cookie: ${cookie}`]);
    assert.equal(ws.status, 403, origin);
    assert.doesNotMatch(ws.text, /userinfo|Upgrade: websocket/i, origin);
  }
  // The same request from this server's own origin is let in.
  const ok = await upgrade([`Origin: https://127.0.0.1:${meshd.port}`, `Cookie: ${cookie}`]);
  assert.equal(ok.status, 101);
  assert.match(ok.text, /"action":"userinfo"/);
  await meshd.waitLog(/event=origin_refused/);
});

test('the sign-in throttle answers 429 after repeated failures', async () => {
  // A server of its own: the throttle also counts per address, and the
  // tests above failed some sign-ins from this address already.
  const fresh = await startMeshd();
  try {
    fresh.cli('create-account', 'erin', '--pass', 'erin password');
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const r = await postJson(fresh.port, '/api/login', { user: 'Erin', pass: `wrong ${i}` });
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    // Now even the right password waits.
    const r = await postJson(fresh.port, '/api/login', { user: 'erin', pass: 'erin password' });
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '60');
    await fresh.waitLog(/event=web_login_refused .*reason=throttled/);
  } finally {
    const { code } = await fresh.stop();
    assert.equal(code, 0);
  }
});

/** Sends a raw POST of body to path and closes the socket at once. */
function postAndVanish(port, path, body) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    sock.on('secureConnect', () => {
      sock.write([`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`,
        'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`,
        '', body].join('\r\n'), () => {
        sock.destroy();
        resolve();
      });
    });
    sock.on('error', reject);
  });
}

test('password work outlives its client, and the server stopping', async () => {
  // Clients that leave while their password is being checked or hashed.
  const mark = meshd.log().length;
  await postAndVanish(meshd.port, '/api/login',
    JSON.stringify({ user: 'carol', pass: 'carol password' }));
  await postAndVanish(meshd.port, '/api/login',
    JSON.stringify({ user: 'nosuch', pass: 'whatever pass' }));
  await meshd.waitLog(/event=web_login peer=\S+ user=user\/\/carol/, 5000, mark);
  await meshd.waitLog(/event=web_login_refused peer=\S+ reason=password/, 5000, mark);
  const r = await postJson(meshd.port, '/api/login', { user: 'carol', pass: 'carol password' });
  assert.equal(r.status, 200, 'the server carries on');

  // A server told to stop while a setup is hashing exits cleanly.
  const fresh = await startMeshd();
  await postAndVanish(fresh.port, '/api/setup',
    JSON.stringify({ user: 'admin', pass: 'first password' }));
  const { code, signal } = await fresh.stop();
  assert.equal(signal, null, fresh.log());
  assert.equal(code, 0, fresh.log());
});
