// files_session.js - the files protocol (p=5) over a Tunnel, as the
// viewer speaks it (spec sessions.md §6, docs/sessions.md §4).
//
// Commands go as binary frames of UTF-8 JSON, as the stock viewer sends
// them. Replies arrive as binary JSON (first byte '{'), text JSON (the
// download control replies), or binary download blocks (a 4-byte flags
// header, then data). ls is the only command with a reply that names its
// request (reqid); mkdir, rm and rename answer nothing, so the page lists
// the folder again after them: the agent handles one tunnel's commands
// in order, so the listing comes after the change.
//
// One transfer at a time, as the agent allows one upload and one
// download per tunnel: transfers wait in a queue.

import { rtcConfig } from './state.js';
import { Tunnel } from './tunnel.js';

const PROTOCOL_FILES = 5;
const UPLOAD_CHUNK = 65536; // spec §6.3: chunks of up to 64 KiB
const UPLOAD_WINDOW = 8; // chunks sent ahead of their acks (stock viewer)
const BLOCK_HDR = 4;
const BLOCK_FLAG = 0x01000000;
const BLOCK_LAST = 0x01000001;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Joins a folder path from a listing and an entry name. */
export function joinPath(dir, name) {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/**
 * Escapes one upload chunk (spec §6.1): a chunk starting with '{' or 0x00
 * gets one 0x00 in front, since a binary frame starting with '{' is a
 * command to the agent, which strips one leading 0x00 from data.
 */
export function escapeChunk(bytes) {
  if (bytes.length === 0 || (bytes[0] !== 0x7b && bytes[0] !== 0x00)) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes, 1);
  return out;
}

/**
 * Decodes one download block: {data, last}, or null when the frame is not
 * a block (fewer than 4 bytes, unknown flags).
 */
export function decodeBlock(bytes) {
  if (bytes.length < BLOCK_HDR) return null;
  const flags = new DataView(bytes.buffer, bytes.byteOffset, BLOCK_HDR).getUint32(0);
  if (flags !== BLOCK_FLAG && flags !== BLOCK_LAST) return null;
  return { data: bytes.subarray(BLOCK_HDR), last: flags === BLOCK_LAST };
}

/** The agent's reason text when it gave one, else fallback. */
function reason(text, fallback) {
  return typeof text === 'string' && text ? text : fallback;
}

/**
 * One files session with a device. Handlers:
 *   onopen(), onclose(info) as Tunnel's; onlist(path, entries|null, reqid);
 *   onconsole(text|null) for the agent's console messages;
 *   onchange() whenever a transfer's state or progress changes.
 */
export class FilesSession {
  constructor(ctl, nodeid) {
    this.tunnel = new Tunnel(ctl, nodeid, PROTOCOL_FILES);
    this.tunnel.rtcConfig = rtcConfig();
    this.seq = 0;
    this.queue = []; // transfers not finished, the first one running
    this.done = []; // finished transfers (kept for the page to show)
    this.onopen = null;
    this.onclose = null;
    this.onlist = null;
    this.onconsole = null;
    this.onerror = null;
    this.onchange = null;
    this.tunnel.onopen = () => this.onopen?.();
    this.tunnel.onclose = (info) => {
      for (const t of this.queue) this.finishTransfer(t, 'error', 'the session ended');
      this.onclose?.(info);
    };
    this.tunnel.ondata = (bytes) => this.onBinary(bytes);
    this.tunnel.ontext = (text) => this.onJson(text);
    this.tunnel.onctrl = (msg) => {
      if (msg.type === 'console') this.onconsole?.(msg.msg == null ? null : String(msg.msg));
    };
  }

  start() {
    return this.tunnel.start({});
  }

  close() {
    this.tunnel.close();
  }

  get open() {
    return this.tunnel.opened && !this.tunnel.closed;
  }

  send(cmd) {
    this.tunnel.send(encoder.encode(JSON.stringify(cmd)));
  }

  /** Lists a folder ('' is the top); resolves via onlist. Returns the reqid. */
  list(path) {
    const reqid = ++this.seq;
    this.send({ action: 'ls', reqid, path });
    return reqid;
  }

  mkdir(path) {
    this.send({ action: 'mkdir', reqid: ++this.seq, path });
  }

  /** Deletes names in folder path; rec deletes folders with their contents. */
  remove(path, names, rec) {
    this.send({ action: 'rm', reqid: ++this.seq, path, delfiles: names, rec: !!rec });
  }

  rename(path, oldname, newname) {
    this.send({ action: 'rename', reqid: ++this.seq, path, oldname, newname });
  }

  /** Queues an upload of a File into folder path; returns the transfer. */
  upload(path, file) {
    return this.enqueue({
      kind: 'upload', name: file.name, path, file, size: file.size,
      reqid: ++this.seq, sent: 0, acked: 0, inflight: 0, reading: false,
    });
  }

  /** Queues a download of the file at path (size from its listing). */
  download(path, name, size) {
    return this.enqueue({
      kind: 'download', name, path: joinPath(path, name), size,
      id: ++this.seq, got: 0, chunks: [], started: false,
    });
  }

  /** Cancels a queued or running transfer. */
  cancel(t) {
    if (t.state === 'running') {
      if (t.kind === 'upload') this.send({ action: 'uploadcancel', reqid: t.reqid });
      else this.send({ action: 'download', sub: 'stop', id: t.id });
    }
    this.finishTransfer(t, 'cancelled', 'cancelled');
  }

  enqueue(t) {
    t.state = 'waiting';
    t.error = '';
    this.queue.push(t);
    this.changed();
    this.next();
    return t;
  }

  changed() {
    this.onchange?.();
  }

  /** Starts the first queued transfer when none runs. */
  next() {
    const t = this.queue[0];
    if (!t || t.state !== 'waiting' || !this.open) return;
    t.state = 'running';
    if (t.kind === 'upload') {
      this.send({ action: 'upload', reqid: t.reqid, path: t.path, name: t.name, size: t.size });
    } else {
      this.send({ action: 'download', sub: 'start', id: t.id, path: t.path });
    }
    this.changed();
  }

  finishTransfer(t, state, error) {
    if (t.state === 'done' || t.state === 'error' || t.state === 'cancelled') return;
    t.state = state;
    t.error = error ?? '';
    t.chunks = state === 'done' ? t.chunks : [];
    const i = this.queue.indexOf(t);
    if (i >= 0) this.queue.splice(i, 1);
    this.done.push(t);
    this.changed();
    if (i === 0) this.next();
  }

  onBinary(bytes) {
    if (bytes[0] === 0x7b) { // '{': a JSON reply
      this.onJson(decoder.decode(bytes));
      return;
    }
    const t = this.queue[0];
    const block = decodeBlock(bytes);
    // Blocks before this download's start reply are a stopped one's.
    if (!t || t.kind !== 'download' || !t.started || t.state !== 'running' || !block) return;
    t.chunks.push(block.data.slice());
    t.got += block.data.length;
    if (block.last) {
      t.blob = new Blob(t.chunks, { type: 'application/octet-stream' });
      t.chunks = [];
      this.finishTransfer(t, 'done');
    } else {
      this.send({ action: 'download', sub: 'ack', id: t.id });
      this.changed();
    }
  }

  onJson(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    const t = this.queue[0];
    const running = t?.state === 'running' ? t : null;
    switch (msg.action) {
      case 'download':
        if (running?.kind !== 'download' || msg.id !== running.id) return;
        if (msg.sub === 'start') {
          running.started = true;
          this.send({ action: 'download', sub: 'startack', id: running.id });
        }
        else if (msg.sub === 'cancel') {
          this.finishTransfer(running, 'error', reason(msg.error, 'the device cannot read it'));
        }
        return;
      case 'uploadstart':
        if (running?.kind === 'upload' && msg.reqid === running.reqid) this.pump(running);
        return;
      case 'uploadack':
        if (running?.kind !== 'upload' || msg.reqid !== running.reqid) return;
        running.inflight--;
        running.acked = Math.min(running.size, running.acked + UPLOAD_CHUNK);
        this.changed();
        this.pump(running);
        return;
      case 'uploaddone':
        if (running?.kind === 'upload' && msg.reqid === running.reqid) {
          running.acked = running.size;
          this.finishTransfer(running, 'done');
        }
        return;
      case 'uploaderror':
        // After a write error the agent names no reqid (spec §6.3).
        if (running?.kind === 'upload' && (msg.reqid === undefined || msg.reqid === running.reqid)) {
          this.finishTransfer(running, 'error', reason(msg.error, 'the device cannot write it'));
        }
        return;
      case 'uploadcancel':
        return;
      case 'error':
        this.onerror?.(reason(msg.msg, `${String(msg.cmd ?? 'a command')} failed`));
        return;
      default:
        if (msg.action === 'ls' || ('dir' in msg && 'path' in msg)) {
          this.onlist?.(String(msg.path ?? ''), Array.isArray(msg.dir) ? msg.dir : null, msg.reqid,
            typeof msg.error === 'string' ? msg.error : '');
        }
    }
  }

  /**
   * Sends upload chunks while fewer than UPLOAD_WINDOW wait for their ack
   * (one read at a time, so chunks leave in order); after the last ack,
   * uploaddone.
   */
  async pump(t) {
    if (t.reading) return;
    t.reading = true;
    try {
      while (t.state === 'running' && t.inflight < UPLOAD_WINDOW && t.sent < t.size) {
        const end = Math.min(t.size, t.sent + UPLOAD_CHUNK);
        const bytes = new Uint8Array(await t.file.slice(t.sent, end).arrayBuffer());
        if (t.state !== 'running') return;
        this.tunnel.send(escapeChunk(bytes));
        t.sent = end;
        t.inflight++;
      }
      if (t.state === 'running' && t.sent >= t.size && t.inflight === 0 && !t.doneSent) {
        t.doneSent = true;
        this.send({ action: 'uploaddone', reqid: t.reqid });
      }
    } catch {
      if (t.state === 'running') {
        this.send({ action: 'uploadcancel', reqid: t.reqid });
        this.finishTransfer(t, 'error', 'the file could not be read here');
      }
    } finally {
      t.reading = false;
    }
  }
}
