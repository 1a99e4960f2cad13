// viewer.mjs - a relay-session viewer for the e2e and interop tests: signs
// in on /control.ashx (x-meshauth), gets the relay cookies (authcookie),
// asks for a tunnel (msg/tunnel), joins the relay and runs one session
// with an agent, printing what happened, one line each:
//
//   ID <tunnel id>        the tunnel id used (first line)
//   CONNECTED             the relay paired us with the agent ("c"/"cr")
//   ROUTE <result>        the server's answer to the tunnel request
//   OUT <json string>     terminal output (all of it, at the end)
//   EXIT <code>           the agent's exit ctrl message
//   CONSOLE <msgid> <msg> an agent console message
//   MSG <text>            any other text or JSON reply
//   BIN <n>               a binary message that is not a download block
//   UPLOADED <bytes>      upload finished (uploadack for every chunk)
//   DOWNLOADED <bytes>    download finished (last block)
//   CLOSE <code> <reason> the relay closed our side
//   TIMEOUT               --timeout passed first (exit status 2)
//
// usage: node viewer.mjs --url wss://H:P --user U --pass P --node NODEID
//          [--p P] [--select S] [--timeout MS] MODE ARGS
//   --p P         the protocol in the relay URLs (default: the mode's)
//   --select S    the protocol text sent inside the tunnel (default: P);
//                 in raw mode "-" sends none (the steps do it)
//   --vp P        the protocol in our own relay URL only (default: --p),
//                 to ask the relay for another session than msg/tunnel did
//   --id T        the tunnel id (default: a new random one), to reuse one
//   --join-only 1 join the relay without asking for the tunnel (msg/tunnel)
//   MODE:
//   term TEXT           shell; sends TEXT as keystrokes (binary)
//   exec CMD            runs CMD (options.exec, docs/sessions.md §4)
//   upload FILE DIR [CANCEL_AFTER]   upload FILE into DIR (window 8); with
//                       CANCEL_AFTER chunks acknowledged, uploadcancel
//   download PATH FILE [STOP_AFTER]  download PATH to FILE; with
//                       STOP_AFTER blocks, hold (no more acks) and print
//                       HELD, then stop on stdin's end
//   raw STEP...         after selecting, send steps: t:TEXT (text frame),
//                       b:HEX (binary frame), j:TEXT (TEXT as a binary
//                       frame), w:MS (wait), T:N (a text files command
//                       of N bytes), B:N (a binary frame of N bytes), z:
//                       (stop reading: a peer that never reads), r:
//                       (read again); print everything received
//
// It uses the `ws` package of the stock MeshCentral install
// (tests/interop/.peer), and the sign-in, tunnel request and command-line
// frame it shares with desktop_viewer.mjs, through relay_lib.mjs.
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket, viewerCli, viewerTunnel } from './relay_lib.mjs';

const { opt, argv, out, finish } = viewerCli(process.argv.slice(2));
const mode = argv.shift();
const args = argv;
const proto = +(opt.p || (mode === 'term' || mode === 'exec' ? 1 : 5));
const select = opt.select || String(proto);

const tunnelId = opt.id || randomBytes(9).toString('hex');
out(`ID ${tunnelId}`);
viewerTunnel({
  url: opt.url, user: opt.user, pass: opt.pass, node: opt.node, p: proto,
  vp: opt.vp || proto, id: tunnelId, joinOnly: !!opt['join-only'], tag: 'viewer',
}, {
  error: (e) => finish(`ERROR control ${e.message}`, 1),
  join: relay,
  route: (result) => {
    out(`ROUTE ${result}`);
    if (result !== 'OK') finish(null, 1);
  },
});

function relay(url) {
  const ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024 });
  let started = false;
  let termOut = Buffer.alloc(0);
  const session = sessions[mode](ws, args);
  ws.on('error', (e) => finish(`ERROR relay ${e.message}`, 1));
  ws.on('close', (code, reason) => {
    if (termOut.length) out(`OUT ${JSON.stringify(termOut.toString())}`);
    finish(`CLOSE ${code} ${reason.toString()}`);
  });
  ws.on('message', (data, isBinary) => {
    if (!started) {
      const t = data.toString();
      if (!isBinary && (t === 'c' || t === 'cr')) {
        started = true;
        out('CONNECTED');
        session.start();
      } else {
        out(`MSG ${t}`); // the relay's refusal ({action:'close',cause})
      }
      return;
    }
    if (!isBinary) {
      let j = null;
      try { j = JSON.parse(data.toString()); } catch { }
      if (j && j.ctrlChannel == '102938') {
        if (j.type === 'exit') out(`EXIT ${j.code}`);
        else if (j.type === 'console') out(`CONSOLE ${j.msgid} ${j.msg}`);
        return;
      }
    }
    if (mode === 'term' || mode === 'exec') {
      if (isBinary) termOut = Buffer.concat([termOut, data]);
      return;
    }
    session.message(data, isBinary);
  });
}

// Options (text), then the protocol number (text), as the stock viewer.
function begin(ws, options) {
  ws.send(JSON.stringify({ type: 'options', ...options }));
  ws.send(select);
}

// A files `ls` command of exactly n bytes (n >= 40), its path padded.
function bigCommand(n) {
  const head = '{"action":"ls","reqid":9,"path":"/', tail = '"}';
  return head + 'a'.repeat(Math.max(0, n - head.length - tail.length)) + tail;
}

const sessions = {
  term(ws, [text]) {
    return { start() {
      begin(ws, { cols: 100, rows: 30 });
      setTimeout(() => ws.send(Buffer.from(text)), 300);
    } };
  },
  exec(ws, [cmd]) {
    return { start() { begin(ws, { cols: 100, rows: 30, exec: cmd }); } };
  },
  upload(ws, [file, dir, cancelAfter]) {
    const size = statSync(file).size, fd = openSync(file, 'r');
    let pos = 0, acked = 0, inflight = 0, cancelled = false;
    const chunk = 65536;
    const sendNext = () => {
      if (pos >= size || cancelled) return;
      const b = Buffer.alloc(chunk + 1);
      const n = readSync(fd, b, 1, chunk, pos);
      pos += n;
      let start = 1;
      if (b[1] === 0 || b[1] === 123) { start = 0; b[0] = 0; }
      inflight++;
      ws.send(b.subarray(start, n + 1), { binary: true });
    };
    return {
      start() {
        begin(ws, {});
        ws.send(Buffer.from(JSON.stringify({ action: 'upload', reqid: 7, path: dir,
          name: basename(file), size })), { binary: true });
      },
      message(data) {
        let m;
        try { m = JSON.parse(data.toString()); } catch { return; }
        if (m.action === 'uploadstart') {
          for (let i = 0; i < 8; i++) sendNext();
          if (size === 0) { out('UPLOADED 0'); ws.close(1000); }
        } else if (m.action === 'uploadack') {
          acked++; inflight--;
          if (cancelAfter && acked >= +cancelAfter && !cancelled) {
            cancelled = true;
            out(`CANCELLING ${acked}`);
            ws.send(JSON.stringify({ action: 'uploadcancel', reqid: 7 }));
            return;
          }
          if (pos < size) sendNext();
          else if (inflight === 0) { out(`UPLOADED ${pos}`); closeSync(fd); ws.close(1000); }
        } else {
          out(`MSG ${data.toString()}`);
          if (m.action === 'uploadcancel' || m.action === 'uploaderror') ws.close(1000);
        }
      },
    };
  },
  download(ws, [path, file, stopAfter]) {
    const fd = openSync(file, 'w');
    let bytes = 0, blocks = 0;
    return {
      start() {
        begin(ws, {});
        ws.send(JSON.stringify({ action: 'download', sub: 'start', id: 'd1', path }));
      },
      message(data, isBinary) {
        if (isBinary && data[0] !== 123) {
          writeSync(fd, data, 4, data.length - 4);
          bytes += data.length - 4;
          blocks++;
          if (data[3] & 1) { closeSync(fd); out(`DOWNLOADED ${bytes}`); ws.close(1000); return; }
          if (stopAfter && blocks >= +stopAfter) {
            if (blocks === +stopAfter) {
              out(`HELD ${blocks}`);
              // The test checks the agent, then ends our stdin: stop.
              process.stdin.resume();
              process.stdin.on('end', () => {
                ws.send(JSON.stringify({ action: 'download', sub: 'cancel', id: 'd1' }));
                setTimeout(() => ws.close(1000), 200);
              });
            }
            return;
          }
          ws.send(JSON.stringify({ action: 'download', sub: 'ack', id: 'd1' }));
          return;
        }
        const t = data.toString();
        let m = null;
        try { m = JSON.parse(t); } catch { }
        if (m && m.action === 'download' && m.sub === 'start') {
          ws.send(JSON.stringify({ action: 'download', sub: 'startack', id: 'd1' }));
        } else {
          out(`MSG ${t}`);
          if (m && m.sub === 'cancel') ws.close(1000);
        }
      },
    };
  },
  raw(ws, steps) {
    return {
      async start() {
        if (select !== '-') ws.send(select);
        for (const s of steps) {
          const k = s.slice(0, 2), v = s.slice(2);
          if (k === 't:') ws.send(v);
          else if (k === 'b:') ws.send(Buffer.from(v, 'hex'), { binary: true });
          else if (k === 'j:') ws.send(Buffer.from(v), { binary: true });
          else if (k === 'w:') await new Promise((r) => setTimeout(r, +v));
          else if (k === 'T:') ws.send(bigCommand(+v));
          else if (k === 'B:') ws.send(Buffer.alloc(+v, 0x61), { binary: true });
          else if (k === 'z:') ws.pause();
          else if (k === 'r:') ws.resume();
        }
        setTimeout(() => ws.close(1000), 500);
      },
      message(data, isBinary) {
        out(isBinary && data[0] !== 123 ? `BIN ${data.length}` : `MSG ${data.toString()}`);
      },
    };
  },
};
if (!sessions[mode]) { console.error(`viewer: unknown mode ${mode}`); process.exit(3); }
