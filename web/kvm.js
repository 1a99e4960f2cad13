// kvm.js - the remote desktop's wire format (spec sessions.md §7) and the
// pieces of the viewer that need no DOM: command encoders, a decoder that
// splits and reassembles agent messages, the keyboard and mouse mapping,
// the rights rules and the in-order tile queue. pages/desktop.js wires
// them to a canvas; tests/browser/desktop_protocol.test.mjs runs them in
// node.
//
// Every command is [type u16 BE][size u16 BE, header included][body]; a
// JUMBO (27) header of size 8 carries a u32 length and then an inner
// command whose own size field is 0.

import { MESH_ADMIN as FULL, MESH_DESK_LIMITED_INPUT as DESK_LIMITED_INPUT,
  MESH_REMOTE_CONTROL as REMOTE_CONTROL,
  MESH_REMOTE_VIEW_ONLY as REMOTE_VIEW_ONLY } from './state.js';

export const KVM = Object.freeze({
  KEY: 1, MOUSE: 2, PICTURE: 3, COMPRESSION: 5, REFRESH: 6, SCREEN: 7, PAUSE: 8,
  CTRLALTDEL: 10, GET_DISPLAYS: 11, SET_DISPLAY: 12, FRAME_RATE: 13, INIT_TOUCH: 14,
  MESSAGE: 17, KEYSTATE: 18, JUMBO: 27, DEBUG: 64, ERROR: 65, DISPLAY_INFO: 82,
  KEY_UNICODE: 85, INPUT_LOCK: 87, MOUSE_CURSOR: 88,
});

/** The largest command accepted: the stock viewer reads 24 bits of a
 * JUMBO length, so nothing bigger can interoperate anyway. */
export const KVM_MAX_COMMAND = 0xffffff;


/** 'full', 'limited' (letters, digits, Enter, Backspace, mouse; the stock
 * UI's DESKLIMITEDINPUT rule) or 'none' (view only: the agent connects no
 * input for these rights, so the viewer sends nothing at all). */
export function inputMode(rights) {
  if (rights === FULL) return 'full';
  if ((rights & REMOTE_CONTROL) === 0 || (rights & REMOTE_VIEW_ONLY) !== 0) return 'none';
  return (rights & DESK_LIMITED_INPUT) !== 0 ? 'limited' : 'full';
}

function command(type, bodyLen) {
  const b = new Uint8Array(4 + bodyLen);
  const v = new DataView(b.buffer);
  v.setUint16(0, type);
  v.setUint16(2, 4 + bodyLen);
  return { b, v };
}

const clamp16 = (n) => Math.max(0, Math.min(0xffff, Math.round(n)));

/** KEY: action 0 down, 1 up (3/4 the extended-key forms), a VK code. */
export function encodeKey(up, vk, extended = false) {
  const { b } = command(KVM.KEY, 2);
  b[4] = extended ? (up ? 3 : 4) : (up ? 1 : 0);
  b[5] = vk & 0xff;
  return b;
}

/** KEY_UNICODE: one UTF-16 code unit, down or up. */
export function encodeKeyUnicode(up, unit) {
  const { b, v } = command(KVM.KEY_UNICODE, 3);
  b[4] = up ? 1 : 0;
  v.setUint16(5, unit & 0xffff);
  return b;
}

/** MOUSE: button flags (0 = move), remote x/y; a wheel delta makes it the
 * 12-byte form. The delta is sent as a signed 16-bit value: the agent
 * only looks at its sign (one click per message). */
export function encodeMouse(buttons, x, y, wheel = 0) {
  const { b, v } = command(KVM.MOUSE, wheel ? 8 : 6);
  b[5] = buttons & 0xff;
  v.setUint16(6, clamp16(x));
  v.setUint16(8, clamp16(y));
  if (wheel) v.setInt16(10, Math.max(-32768, Math.min(32767, Math.round(wheel))));
  return b;
}

/** COMPRESSION: image type (1 JPEG), quality 1-100, scaling (1024 = 100%,
 * 64-4096), frame interval ms (20-5000); values are clamped to what the
 * agent accepts. */
export function encodeCompression(type, quality, scaling, intervalMs) {
  const { b, v } = command(KVM.COMPRESSION, 6);
  b[4] = type;
  b[5] = Math.max(1, Math.min(100, Math.round(quality)));
  v.setUint16(6, Math.max(64, Math.min(4096, Math.round(scaling))));
  v.setUint16(8, Math.max(20, Math.min(5000, Math.round(intervalMs))));
  return b;
}

/** A command with no body: REFRESH, CTRLALTDEL, GET_DISPLAYS. */
export function encodeEmpty(type) {
  return command(type, 0).b;
}

/** SET_DISPLAY: the display id to show (65535: all of them). */
export function encodeSetDisplay(id) {
  const { b, v } = command(KVM.SET_DISPLAY, 2);
  v.setUint16(4, id & 0xffff);
  return b;
}

/** The display id meaning every display at once. */
export const ALL_DISPLAYS = 65535;

/** The picker's entries for a GET_DISPLAYS list and the DISPLAY_INFO
 * monitors (by id, may be empty): [[id, label]...]. */
export function displayChoices(ids, monitors) {
  return ids.map((id) => {
    if (id === ALL_DISPLAYS) return [id, 'All displays'];
    const m = monitors.get(id);
    return [id, m ? `Display ${id} (${m.w}×${m.h})` : `Display ${id}`];
  });
}

/** PAUSE: 1 pauses the stream, 0 resumes it. */
export function encodePause(on) {
  const { b } = command(KVM.PAUSE, 1);
  b[4] = on ? 1 : 0;
  return b;
}

/** Joins commands into one binary message (the agent takes any number of
 * whole commands per message). */
export function joinCommands(...cmds) {
  const out = new Uint8Array(cmds.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of cmds) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const CURSORS = ['default', 'progress', 'crosshair', 'pointer', 'help', 'text', 'no-drop',
  'move', 'nesw-resize', 'ns-resize', 'nwse-resize', 'w-resize', 'alias', 'wait', 'none',
  'not-allowed', 'col-resize', 'row-resize', 'copy', 'zoom-in', 'zoom-out'];

const utf8 = new TextDecoder('utf-8');

/**
 * Turns one whole command (type and body) into an object with `type` and
 * the fields that matter to the viewer, or throws an Error whose message
 * says what was wrong (the caller closes the session with it).
 */
export function decodeCommand(type, body) {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const need = (n) => {
    if (body.length < n) throw new Error(`KVM command ${type} is ${body.length + 4} bytes, too short`);
  };
  switch (type) {
    case KVM.SCREEN:
      need(4);
      return { type, width: v.getUint16(0), height: v.getUint16(2) };
    case KVM.PICTURE:
      need(4);
      return { type, x: v.getUint16(0), y: v.getUint16(2), image: body.subarray(4) };
    case KVM.KEYSTATE:
      need(1);
      return { type, num: (body[0] & 1) !== 0, scroll: (body[0] & 2) !== 0, caps: (body[0] & 4) !== 0 };
    case KVM.MOUSE_CURSOR:
      need(1);
      return { type, cursor: CURSORS[body[0]] ?? 'default' };
    case KVM.SET_DISPLAY:
      need(2);
      return { type, id: v.getUint16(0) };
    case KVM.GET_DISPLAYS: {
      need(2);
      const n = v.getUint16(0);
      need(4 + 2 * n);
      const ids = [];
      for (let i = 0; i < n; i++) ids.push(v.getUint16(2 + 2 * i));
      return { type, ids, selected: v.getUint16(2 + 2 * n) };
    }
    case KVM.DISPLAY_INFO: {
      // Records of id, x, y, w, h; a trailing partial record is ignored.
      const monitors = [];
      for (let o = 0; o + 10 <= body.length; o += 10) {
        monitors.push({ id: v.getUint16(o), x: v.getUint16(o + 2), y: v.getUint16(o + 4),
          w: v.getUint16(o + 6), h: v.getUint16(o + 8) });
      }
      return { type, monitors };
    }
    case KVM.ERROR:
    case KVM.MESSAGE:
    case KVM.DEBUG:
      return { type, text: utf8.decode(body) };
    default:
      return { type };
  }
}

/**
 * Splits the agent's binary messages into commands. The agent sends one
 * command per message, but a command may come split over several (the
 * stock viewer reassembles them, for WebRTC), so bytes are kept until a
 * whole command is there; several whole commands in one message are
 * taken too. push() returns the decoded commands and throws an Error on
 * a malformed stream (a size below the header, a bad JUMBO, more than
 * KVM_MAX_COMMAND); after that the reader must not be used again.
 */
export class KvmReader {
  constructor() {
    this.pending = new Uint8Array(0);
  }

  push(bytes) {
    let data = bytes;
    if (this.pending.length) {
      data = new Uint8Array(this.pending.length + bytes.length);
      data.set(this.pending);
      data.set(bytes, this.pending.length);
    }
    const out = [];
    let at = 0;
    for (;;) {
      const left = data.length - at;
      if (left < 4) break;
      const v = new DataView(data.buffer, data.byteOffset + at, left);
      let type = v.getUint16(0);
      const size = v.getUint16(2);
      let start = at + 4;
      let end;
      if (type === KVM.JUMBO) {
        if (size !== 8) throw new Error(`KVM JUMBO header of size ${size}, not 8`);
        if (left < 12) break;
        const len = v.getUint32(4);
        if (len < 4) throw new Error(`KVM JUMBO of ${len} bytes holds no command`);
        if (len > KVM_MAX_COMMAND) throw new Error(`KVM command of ${len} bytes is too large`);
        type = v.getUint16(8);
        if (type === KVM.JUMBO) throw new Error('KVM JUMBO inside a JUMBO');
        start = at + 12;
        end = at + 8 + len;
      } else {
        if (size < 4) throw new Error(`KVM command ${type} of size ${size}`);
        end = at + size;
      }
      if (end > data.length) break;
      out.push(decodeCommand(type, data.subarray(start, end)));
      at = end;
    }
    // Copied, so the message's buffer is not kept alive by a few bytes.
    this.pending = data.slice(at);
    return out;
  }
}

/**
 * Draws decoded tiles in the order they arrived although decoding runs
 * in parallel: decode(image) returns a promise of something draw(x, y,
 * thing) takes (an ImageBitmap, closed by the caller's draw). reset()
 * drops every tile not drawn yet (a new screen size). A tile that fails
 * to decode is counted in `failed` and skipped.
 */
export class TileQueue {
  constructor(decode, draw) {
    this.decode = decode;
    this.draw = draw;
    this.gen = 0;
    this.tail = Promise.resolve();
    this.waiting = 0;
    this.failed = 0;
  }

  add(x, y, image) {
    const gen = this.gen;
    const decoded = Promise.resolve().then(() => this.decode(image)).then(
      (thing) => ({ thing }), () => null);
    this.waiting++;
    this.tail = this.tail.then(async () => {
      const r = await decoded;
      this.waiting--;
      if (!r) {
        this.failed++;
        return;
      }
      if (gen === this.gen) this.draw(x, y, r.thing);
      else r.thing?.close?.();
    });
  }

  reset() {
    this.gen++;
  }
}

/** Maps a point on the shown canvas (offset from its top-left, in CSS
 * pixels, the canvas shown w×h) to the remote screen (width×height). */
export function toRemote(px, py, w, h, width, height) {
  if (w <= 0 || h <= 0) return { x: 0, y: 0 };
  const x = Math.floor((px * width) / w);
  const y = Math.floor((py * height) / h);
  return { x: Math.max(0, Math.min(width - 1, x)), y: Math.max(0, Math.min(height - 1, y)) };
}

/** MOUSE button flags for a DOM button number: [down, up] (up = down×2). */
export function buttonFlags(button) {
  const down = { 0: 0x02, 1: 0x20, 2: 0x08 }[button];
  return down ? [down, down * 2] : null;
}

// The VK codes of the keys the browser reports differently (Firefox).
const VK_FIX = { 59: 186, 173: 189, 61: 187 };

/**
 * The commands for one key event ({type:'keydown'|'keyup', key, keyCode,
 * ctrlKey, altKey, metaKey}) under input mode 'full' or 'limited'. A
 * printable character without Ctrl/Alt/Meta goes as KEY_UNICODE (the
 * remote keyboard layout then does not matter), anything else as KEY
 * with the browser's keyCode as the VK. Returns [] for a key not sent.
 */
export function keyCommands(e, mode) {
  const up = e.type === 'keyup';
  const kc = VK_FIX[e.keyCode] ?? e.keyCode;
  if (mode === 'none') return [];
  if (mode === 'limited' && (e.altKey || e.ctrlKey || e.metaKey ||
    (kc < 32 && kc !== 8 && kc !== 13) || kc > 90)) return [];
  const printable = typeof e.key === 'string' && [...e.key].length === 1 &&
    e.key >= ' ' && !e.ctrlKey && !e.altKey && !e.metaKey;
  if (printable) {
    const units = [];
    for (let i = 0; i < e.key.length; i++) units.push(encodeKeyUnicode(up, e.key.charCodeAt(i)));
    return units;
  }
  if (!kc || kc > 255) return [];
  return [encodeKey(up, kc)];
}

/** The special keys menu: each a list of VK codes pressed in order and
 * released in reverse (Ctrl-Alt-Del also has its own command, which only
 * Windows agents act on, so both are sent). */
export const SPECIAL_KEYS = [
  { id: 'cad', label: 'Ctrl+Alt+Del', vks: [17, 18, 46], cmd: KVM.CTRLALTDEL },
  { id: 'alttab', label: 'Alt+Tab', vks: [18, 9] },
  { id: 'win', label: 'Super (Win)', vks: [91] },
  { id: 'winl', label: 'Super+L', vks: [91, 76] },
  { id: 'ctrlesc', label: 'Ctrl+Esc', vks: [17, 27] },
  { id: 'altf4', label: 'Alt+F4', vks: [18, 115] },
  { id: 'printscreen', label: 'Print Screen', vks: [44] },
];

/** One message with the presses and releases of a special key entry. */
export function specialKeyMessage(entry) {
  const cmds = [];
  if (entry.cmd) cmds.push(encodeEmpty(entry.cmd));
  for (const vk of entry.vks) cmds.push(encodeKey(false, vk));
  for (const vk of [...entry.vks].reverse()) cmds.push(encodeKey(true, vk));
  return joinCommands(...cmds);
}

/** What the viewer sends when a new screen size arrives (stock order):
 * its settings, resume, and every modifier released (a key held when the
 * screen changed must not stay down). */
export function screenStartMessage(quality, scaling, intervalMs) {
  return joinCommands(encodeCompression(1, quality, scaling, intervalMs), encodePause(false),
    ...[16, 17, 18, 91, 92, 16].map((vk) => encodeKey(true, vk)));
}

/** Counts bytes and shown frames over a sliding second for the status. */
export class RateMeter {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.events = []; // [time, bytes, frames]
  }

  add(bytes, frames = 0) {
    this.events.push([this.now(), bytes, frames]);
  }

  /** {bytesPerSec, fps} over the last second. */
  rate() {
    const since = this.now() - 1000;
    while (this.events.length && this.events[0][0] <= since) this.events.shift();
    let bytes = 0;
    let frames = 0;
    for (const [, b, f] of this.events) {
      bytes += b;
      frames += f;
    }
    return { bytesPerSec: bytes, fps: frames };
  }
}
