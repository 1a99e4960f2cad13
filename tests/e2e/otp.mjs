// otp.mjs - TOTP for the tests (RFC 6238: HMAC-SHA1, 6 digits, 30 s),
// computed with node's crypto, independently of meshd's C code.
//
// usage:
//   node otp.mjs code SECRET [STEPS]   the code of a base32 secret now,
//                                      or STEPS steps of 30 s from now
//   node otp.mjs enrol URL USER PASS   signs in to /control.ashx with
//                                      x-meshauth, runs otp-setup and
//                                      otp-confirm, and prints
//                                      "SECRET s", "URL u", "RECOVERY c..."
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function base32Decode(s) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, acc = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    const v = abc.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function totp(secretB32, when = Date.now() / 1000) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(when / 30)));
  const mac = createHmac('sha1', base32Decode(secretB32)).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 1000000).padStart(6, '0');
}

async function enrol(url, user, pass) {
  const here = dirname(fileURLToPath(import.meta.url));
  const WebSocket = createRequire(import.meta.url)(
    resolve(here, '../interop/.peer/node_modules/ws'));
  const b64 = (s) => Buffer.from(s).toString('base64');
  const ws = new WebSocket(url, {
    headers: { 'x-meshauth': `${b64(user)},${b64(pass)}` },
    rejectUnauthorized: false,
  });
  const timer = setTimeout(() => { console.log('TIMEOUT'); process.exit(2); },
    20000);
  ws.on('open', () => ws.send(JSON.stringify(
    { action: 'otp-setup', responseid: 'setup' })));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.action === 'close') {
      console.log(`REFUSED ${m.msg}`);
      process.exit(1);
    } else if (m.responseid === 'setup') {
      if (m.result !== 'ok') { console.log(`ERROR ${m.result}`); process.exit(1); }
      console.log(`SECRET ${m.secret}`);
      console.log(`URL ${m.url}`);
      ws.send(JSON.stringify({ action: 'otp-confirm', responseid: 'confirm',
        token: totp(m.secret) }));
    } else if (m.responseid === 'confirm') {
      if (m.result !== 'ok') { console.log(`ERROR ${m.result}`); process.exit(1); }
      console.log(`RECOVERY ${m.recovery.join(' ')}`);
      clearTimeout(timer);
      ws.close();
    }
  });
  ws.on('error', (e) => { console.log(`ERROR ${e.message}`); process.exit(1); });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'code' && a.length >= 1) {
    console.log(totp(a[0], Date.now() / 1000 + 30 * Number(a[1] || 0)));
  } else if (cmd === 'enrol' && a.length === 3) {
    await enrol(a[0], a[1], a[2]);
  } else {
    console.error('usage: node otp.mjs code SECRET [STEPS] | enrol URL USER PASS');
    process.exit(3);
  }
}
