// desktop_viewer.mjs - a remote desktop (protocol 2) viewer for the e2e
// tests: signs in on /control.ashx, asks for a tunnel, joins the relay,
// selects protocol 2 and decodes the KVM commands (spec sessions.md §7)
// into a framebuffer, decoding each PICTURE's JPEG with jpeg-js. Then it
// runs STEPs in order and prints one line per event:
//
//   CONNECTED             paired with the agent
//   SCREEN <w> <h>        a SCREEN command
//   ERROR <text>          a KVM ERROR command
//   CONSOLE <msgid> <msg> an agent console message
//   PIXEL <x> <y> <r> <g> <b>   (step px:)
//   STATS <pictures> <jumbos> <maxbytes> <bytes>   (step stats)
//   DISPLAYS <id,id,...> <selected>   a GET_DISPLAYS answer
//   SET_DISPLAY <id>      the agent's current display
//   DISPLAY_INFO <id>:<x>,<y>,<w>x<h> ...   the monitors
//   CURSOR <id>           a MOUSE_CURSOR command
//   KEYSTATE <bits>       a KEYSTATE command (1 Num, 2 Scroll, 4 Caps)
//   CLOSE <code> <reason> / TIMEOUT
//
// usage: node desktop_viewer.mjs --url U --user U --pass P --node N
//          --jpeg DIR [--timeout MS] STEP...
//   STEP: w:MS (wait), screen:WxH (wait until the framebuffer is WxH and
//   a picture arrived after it), px:X,Y, key:VK (down then up),
//   uni:C (KEY_UNICODE down and up), click:X,Y (move, left down, left up),
//   move:X,Y, wheel:X,Y,D, b:HEX (raw binary), stats, zero (counters
//   of stats back to 0), comp:T,Q,S,I (send COMPRESSION with image type,
//   quality, scaling, interval; also what is answered to every later
//   SCREEN, as the stock viewer keeps its settings), z (stop reading),
//   r (read again), getd (GET_DISPLAYS), setd:ID (SET_DISPLAY), close
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket, viewerCli, viewerTunnel } from './relay_lib.mjs';

const req = createRequire(import.meta.url);
const { opt, argv, out, finish } = viewerCli(process.argv.slice(2));
const jpegPath = resolve(opt.jpeg, 'node_modules/jpeg-js');
if (!existsSync(jpegPath)) {
  console.error(`desktop_viewer: no jpeg-js at ${jpegPath}`);
  process.exit(3);
}
const jpeg = req(jpegPath);
const steps = argv;

viewerTunnel({
  url: opt.url, user: opt.user, pass: opt.pass, node: opt.node, p: 2,
  id: randomBytes(9).toString('hex'), tag: 'v',
}, {
  error: (e) => finish(`FAILED control ${e.message}`, 1),
  join: relay,
  route: (result) => { if (result !== 'OK') finish(`ROUTE ${result}`, 1); },
});

// The framebuffer, RGB, and what arrived.
let W = 0, H = 0, fb = null, pictures = 0, jumbos = 0, maxBytes = 0, bytes = 0;
let sinceScreen = 0;
// The COMPRESSION body answered to each SCREEN (stock viewer defaults but
// quality 90), until a comp: step changes it.
let comp = [1, 90, 4, 0, 0, 50];

function picture(b) {
  const x = b.readUInt16BE(4), y = b.readUInt16BE(6);
  const img = jpeg.decode(b.subarray(8), { useTArray: true });
  for (let r = 0; r < img.height; r++)
    for (let c = 0; c < img.width; c++) {
      if (x + c >= W || y + r >= H) continue;
      const s = (r * img.width + c) * 4, d = ((y + r) * W + x + c) * 3;
      fb[d] = img.data[s]; fb[d + 1] = img.data[s + 1]; fb[d + 2] = img.data[s + 2];
    }
  pictures++;
  sinceScreen++;
}

// One agent message: exactly one command (a JUMBO counts as one).
function command(b) {
  if (b.length > maxBytes) maxBytes = b.length;
  bytes += b.length;
  let type = b.readUInt16BE(0), size = b.readUInt16BE(2);
  if (type === 27) {
    if (size !== 8) return finish('BAD jumbo header', 1);
    size = b.readUInt32BE(4);
    b = b.subarray(8);
    type = b.readUInt16BE(0);
    jumbos++;
    if (b.readUInt16BE(2) !== 0) return finish('BAD jumbo inner size', 1);
  }
  if (size !== b.length) return finish(`BAD size ${size} != ${b.length}`, 1);
  if (type === 7) {
    W = b.readUInt16BE(4); H = b.readUInt16BE(6);
    fb = new Uint8Array(W * H * 3);
    sinceScreen = 0;
    out(`SCREEN ${W} ${H}`);
    // What the stock viewer answers (spec §7.3): settings, resume.
    send([0, 5, 0, 10, ...comp]);
    send([0, 8, 0, 5, 0]);
  } else if (type === 3) picture(b);
  else if (type === 65) out(`ERROR ${b.subarray(4).toString()}`);
  else if (type === 11) {
    const n = b.readUInt16BE(4), ids = [];
    for (let i = 0; i < n; i++) ids.push(b.readUInt16BE(6 + 2 * i));
    out(`DISPLAYS ${ids.join(',')} ${b.readUInt16BE(6 + 2 * n)}`);
  } else if (type === 12) out(`SET_DISPLAY ${b.readUInt16BE(4)}`);
  else if (type === 88) out(`CURSOR ${b[4]}`);
  else if (type === 18) out(`KEYSTATE ${b[4]}`);
  else if (type === 82) {
    const m = [];
    for (let o = 4; o + 10 <= b.length; o += 10) {
      const [i, x, y, w, h] = [0, 2, 4, 6, 8].map((k) => b.readUInt16BE(o + k));
      m.push(`${i}:${x},${y},${w}x${h}`);
    }
    out(`DISPLAY_INFO ${m.join(' ')}`);
  }
}

let ws;
const send = (bytes) => ws.send(Buffer.from(bytes), { binary: true });
const u16 = (v) => [(v >> 8) & 255, v & 255];

function relay(url) {
  ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024 });
  let started = false;
  ws.on('error', (e) => finish(`FAILED relay ${e.message}`, 1));
  ws.on('close', (code, reason) => finish(`CLOSE ${code} ${reason.toString()}`));
  ws.on('message', (data, isBinary) => {
    if (!started) {
      if (!isBinary && /^cr?$/.test(data.toString())) {
        started = true;
        out('CONNECTED');
        ws.send(JSON.stringify({ type: 'options' }));
        ws.send('2');
        run(0);
      }
      return;
    }
    if (isBinary) return command(data);
    try {
      const j = JSON.parse(data.toString());
      if (j.type === 'console') out(`CONSOLE ${j.msgid} ${j.msg}`);
    } catch { }
  });
}

function run(i) {
  if (i >= steps.length) return;
  const [k, v] = [steps[i].split(':')[0], steps[i].slice(steps[i].indexOf(':') + 1)];
  const next = (ms = 0) => setTimeout(() => run(i + 1), ms);
  const xy = () => v.split(',').map(Number);
  switch (k) {
    case 'w': return next(+v);
    case 'screen': {
      const [w, h] = v.split('x').map(Number);
      const poll = () => (W === w && H === h && sinceScreen > 0)
        ? next() : setTimeout(poll, 50);
      return poll();
    }
    case 'px': {
      const [x, y] = xy(), d = (y * W + x) * 3;
      out(`PIXEL ${x} ${y} ${fb[d]} ${fb[d + 1]} ${fb[d + 2]}`);
      return next();
    }
    case 'key':
      send([0, 1, 0, 6, 0, +v]); send([0, 1, 0, 6, 1, +v]);
      return next(50);
    case 'uni': {
      const c = v.charCodeAt(0);
      send([0, 85, 0, 7, 0, ...u16(c)]); send([0, 85, 0, 7, 1, ...u16(c)]);
      return next(50);
    }
    case 'move': {
      const [x, y] = xy();
      send([0, 2, 0, 10, 0, 0, ...u16(x), ...u16(y)]);
      return next(50);
    }
    case 'click': {
      const [x, y] = xy();
      send([0, 2, 0, 10, 0, 0, ...u16(x), ...u16(y)]);
      send([0, 2, 0, 10, 0, 2, ...u16(x), ...u16(y)]);
      send([0, 2, 0, 10, 0, 4, ...u16(x), ...u16(y)]);
      return next(50);
    }
    case 'wheel': {
      const [x, y, d] = xy();
      send([0, 2, 0, 12, 0, 0, ...u16(x), ...u16(y), ...u16(d & 0xffff)]);
      return next(50);
    }
    case 'b':
      ws.send(Buffer.from(v, 'hex'), { binary: true });
      return next(50);
    case 'comp': {
      const [t, q, sc, iv] = v.split(',').map(Number);
      comp = [t, q, ...u16(sc), ...u16(iv)];
      send([0, 5, 0, 10, ...comp]);
      return next(50);
    }
    case 'getd':
      send([0, 11, 0, 4]);
      return next(50);
    case 'setd':
      send([0, 12, 0, 6, ...u16(+v)]);
      return next(50);
    case 'zero':
      pictures = jumbos = maxBytes = bytes = 0;
      return next();
    case 'stats':
      out(`STATS ${pictures} ${jumbos} ${maxBytes} ${bytes}`);
      return next();
    case 'z': // stop reading: a viewer on a stalled link
      ws._socket.pause();
      return next();
    case 'r':
      ws._socket.resume();
      return next();
    case 'close':
      ws.close(1000);
      return;
    default:
      finish(`BAD step ${steps[i]}`, 1);
  }
}
