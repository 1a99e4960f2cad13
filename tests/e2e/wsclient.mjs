// wsclient.mjs - a small WebSocket client for the e2e tests of
// /control.ashx: connects with the given headers, runs its steps in order,
// and prints what happened, one line each:
//
//   MSG <text>            a text message received
//   BIN <n>               a binary message of n bytes received
//   HTTP <status>         the upgrade was refused with this status
//   CLOSE <code> <reason> the server closed the connection
//   END                   the steps ran out and the linger time passed
//   TIMEOUT               --timeout passed first (exit status 2)
//   ERROR <text>          a connection error
//
// usage: node wsclient.mjs URL [options and steps...]
//   -H 'Name: value'   a request header (repeatable)
//   --local ADDR       the local address to connect from (127.0.0.2...)
//   --timeout MS       give up after MS (default 10000)
//   --linger MS        after the last step, wait MS for more (default 300)
//   steps, run in order:
//   --send TEXT        send a text message as is
//   --repeat N TEXT    send TEXT N times in a row
//   --big N            a ping padded with "x" bytes to N bytes in all
//   --binary HEX       send a binary message
//   --wait REGEX       wait until a received message matches REGEX
//   --pause            stop reading from the socket (so a close frame from
//                      the server goes unanswered) until the end
//
// It uses the `ws` package that the stock MeshCentral install ships
// (tests/interop/.peer, made by scripts/setup-peer.sh): node 20 has no
// WebSocket client of its own.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wsPath = resolve(here, '../interop/.peer/node_modules/ws');
if (!existsSync(wsPath)) {
  console.error(`wsclient: no ws package at ${wsPath}; ` +
    'run scripts/setup-peer.sh (make peer) first');
  process.exit(3);
}
const WebSocket = createRequire(import.meta.url)(wsPath);

const argv = process.argv.slice(2);
const url = argv.shift();
if (!url) {
  console.error('usage: node wsclient.mjs URL [options and steps...]');
  process.exit(3);
}
const headers = {};
const steps = [];
let timeoutMs = 10000, lingerMs = 300, localAddress;
while (argv.length) {
  const a = argv.shift();
  const need = () => {
    if (!argv.length) { console.error(`wsclient: ${a} needs a value`); process.exit(3); }
    return argv.shift();
  };
  switch (a) {
    case '-H': {
      const h = need(), i = h.indexOf(':');
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
      break;
    }
    case '--local': localAddress = need(); break;
    case '--timeout': timeoutMs = +need(); break;
    case '--linger': lingerMs = +need(); break;
    case '--send': steps.push({ send: need() }); break;
    case '--repeat': {
      const n = +need(), text = need();
      for (let i = 0; i < n; i++) steps.push({ send: text });
      break;
    }
    case '--big': {
      const n = +need(), head = '{"action":"ping","pad":"', tail = '"}';
      steps.push({ send: head + 'x'.repeat(n - head.length - tail.length) + tail });
      break;
    }
    case '--binary': steps.push({ binary: Buffer.from(need(), 'hex') }); break;
    case '--wait': steps.push({ wait: new RegExp(need()) }); break;
    case '--pause': steps.push({ pause: true }); break;
    default: console.error(`wsclient: unknown argument ${a}`); process.exit(3);
  }
}

const out = (line) => process.stdout.write(line + '\n');
let done = false;
const finish = (line, status = 0) => {
  if (done) return;
  done = true;
  out(line);
  process.exit(status);
};
setTimeout(() => finish('TIMEOUT', 2), timeoutMs);

const ws = new WebSocket(url, {
  headers,
  localAddress,
  rejectUnauthorized: false,
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
});
const received = [];
let cursor = 0; // each --wait looks only at messages after the last match
let waiter = null; // { re, resolve }

ws.on('unexpected-response', (req, res) => finish(`HTTP ${res.statusCode}`));
ws.on('error', (e) => finish(`ERROR ${e.message}`, 1));
ws.on('message', (data, isBinary) => {
  if (isBinary) { out(`BIN ${data.length}`); return; }
  const text = data.toString();
  out(`MSG ${text}`);
  received.push(text);
  if (waiter && waiter.re.test(text)) {
    const w = waiter;
    waiter = null;
    cursor = received.length;
    w.resolve();
  }
});
ws.on('close', (code, reason) => finish(`CLOSE ${code} ${reason.toString()}`));

const waitFor = (re) => new Promise((res) => {
  for (let i = cursor; i < received.length; i++) {
    if (re.test(received[i])) { cursor = i + 1; return res(); }
  }
  waiter = { re, resolve: res };
});

ws.on('open', async () => {
  for (const s of steps) {
    if (s.send !== undefined) ws.send(s.send);
    else if (s.binary) ws.send(s.binary, { binary: true });
    else if (s.wait) await waitFor(s.wait);
    else if (s.pause) ws._socket.pause();
  }
  setTimeout(() => {
    if (done) return;
    done = true;
    out('END');
    ws.terminate();
    process.exit(0);
  }, lingerMs);
});
