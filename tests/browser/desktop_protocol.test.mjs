// desktop_protocol.test.mjs - the remote desktop's wire format and viewer
// rules (web/kvm.js) in node: the bytes of every command the viewer
// sends, the reader fed whole, byte at a time, several commands at once,
// JUMBO and malformed streams; tiles drawn in arrival order although
// decoding finishes out of order; key, mouse and rights mapping.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  KVM, KvmReader, RateMeter, SPECIAL_KEYS, TileQueue, buttonFlags, decodeCommand,
  displayChoices, encodeCompression, encodeEmpty, encodeKey, encodeKeyUnicode, encodeMouse,
  encodePause, encodeSetDisplay, inputMode, joinCommands, keyCommands, screenStartMessage,
  specialKeyMessage, toRemote,
} from '../../web/kvm.js';

const hex = (b) => Buffer.from(b).toString('hex');

/** A command as the agent sends it: type, size, body. */
function cmd(type, body) {
  const b = new Uint8Array(4 + body.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, type);
  v.setUint16(2, b.length);
  b.set(body, 4);
  return b;
}

/** A JUMBO-wrapped command (inner size field 0). */
function jumbo(type, body) {
  const b = new Uint8Array(12 + body.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, KVM.JUMBO);
  v.setUint16(2, 8);
  v.setUint32(4, 4 + body.length);
  v.setUint16(8, type);
  b.set(body, 12);
  return b;
}

const u16 = (...vals) => {
  const b = new Uint8Array(vals.length * 2);
  vals.forEach((x, i) => new DataView(b.buffer).setUint16(i * 2, x));
  return b;
};

test('encoders: the exact bytes of each viewer command', () => {
  assert.equal(hex(encodeKey(false, 65)), '0001000600' + '41');
  assert.equal(hex(encodeKey(true, 65)), '0001000601' + '41');
  assert.equal(hex(encodeKey(true, 37, true)), '0001000603' + '25');
  assert.equal(hex(encodeKey(false, 37, true)), '0001000604' + '25');
  assert.equal(hex(encodeKeyUnicode(false, 0xe9)), '00550007' + '00' + '00e9');
  assert.equal(hex(encodeKeyUnicode(true, 0x20ac)), '00550007' + '01' + '20ac');
  assert.equal(hex(encodeMouse(0x02, 300, 2)), '0002000a' + '0002' + '012c' + '0002');
  assert.equal(hex(encodeMouse(0, 1, 1, 120)), '0002000c' + '0000' + '0001' + '0001' + '0078');
  assert.equal(hex(encodeMouse(0, 1, 1, -120)), '0002000c' + '0000' + '0001' + '0001' + 'ff88');
  assert.equal(hex(encodeMouse(0, -5, 70000)), '0002000a' + '0000' + '0000' + 'ffff', 'clamped');
  assert.equal(hex(encodeCompression(1, 50, 1024, 100)), '0005000a' + '01' + '32' + '0400' + '0064');
  assert.equal(hex(encodeCompression(1, 0, 1, 1)), '0005000a' + '01' + '01' + '0040' + '0014',
    'each value clamped to what the agent accepts');
  assert.equal(hex(encodeCompression(1, 500, 9999, 9999)), '0005000a' + '01' + '64' + '1000' + '1388');
  assert.equal(hex(encodeEmpty(KVM.REFRESH)), '00060004');
  assert.equal(hex(encodeEmpty(KVM.CTRLALTDEL)), '000a0004');
  assert.equal(hex(encodePause(true)), '0008000501');
  assert.equal(hex(encodePause(false)), '0008000500');
  assert.equal(hex(joinCommands(encodeEmpty(6), encodePause(false))), '00060004' + '0008000500');
  assert.equal(hex(encodeSetDisplay(2)), '000c0006' + '0002');
  assert.equal(hex(encodeSetDisplay(65535)), '000c0006' + 'ffff');
  assert.equal(hex(encodeEmpty(KVM.GET_DISPLAYS)), '000b0004');
});

test('screen start: settings, resume, modifiers released (stock order)', () => {
  const m = screenStartMessage(75, 512, 200);
  const cmds = [];
  for (let at = 0; at < m.length;) {
    const size = (m[at + 2] << 8) | m[at + 3];
    cmds.push([(m[at] << 8) | m[at + 1], hex(m.subarray(at + 4, at + size))]);
    at += size;
  }
  assert.deepEqual(cmds, [[5, '014b020000c8'], [8, '00'], [1, '0110'], [1, '0111'],
    [1, '0112'], [1, '015b'], [1, '015c'], [1, '0110']]);
});

test('reader: whole commands, byte at a time, several per message', () => {
  const screen = cmd(KVM.SCREEN, u16(800, 600));
  const pic = cmd(KVM.PICTURE, Uint8Array.of(0, 32, 0, 64, 0xff, 0xd8, 0xff, 0xd9));
  const err = cmd(KVM.ERROR, new TextEncoder().encode('Wayland sessions are not supported'));
  const want = [
    { type: KVM.SCREEN, width: 800, height: 600 },
    { type: KVM.PICTURE, x: 32, y: 64, image: Uint8Array.of(0xff, 0xd8, 0xff, 0xd9) },
    { type: KVM.ERROR, text: 'Wayland sessions are not supported' },
  ];
  const plain = (cs) => cs.map((c) => (c.image ? { ...c, image: Uint8Array.from(c.image) } : c));
  // One per message, as the agent sends them.
  let r = new KvmReader();
  assert.deepEqual(plain([screen, pic, err].flatMap((m) => r.push(m))), want);
  // Every split point of the joined stream, and one byte at a time.
  const all = joinCommands(screen, pic, err);
  for (let cut = 0; cut <= all.length; cut++) {
    r = new KvmReader();
    const got = [...r.push(all.subarray(0, cut)), ...r.push(all.subarray(cut))];
    assert.deepEqual(plain(got), want, `cut at ${cut}`);
  }
  r = new KvmReader();
  const got = [];
  for (const byte of all) got.push(...r.push(Uint8Array.of(byte)));
  assert.deepEqual(plain(got), want);
  assert.equal(r.pending.length, 0);
});

test('reader: JUMBO, whole and split', () => {
  const big = new Uint8Array(70000).fill(7);
  const body = joinCommands(u16(5, 6), big);
  const msg = jumbo(KVM.PICTURE, body);
  let r = new KvmReader();
  let out = r.push(msg);
  assert.equal(out.length, 1);
  assert.equal(out[0].type, KVM.PICTURE);
  assert.equal(out[0].x, 5);
  assert.equal(out[0].y, 6);
  assert.equal(out[0].image.length, 70000);
  r = new KvmReader();
  for (const cut of [1, 4, 8, 11, 12, 1000]) {
    assert.deepEqual(r.push(msg.subarray(0, cut)), []);
    r = new KvmReader();
  }
  r = new KvmReader();
  out = [];
  for (let i = 0; i < msg.length; i += 9999) out.push(...r.push(msg.subarray(i, i + 9999)));
  assert.equal(out.length, 1);
  assert.equal(out[0].image.length, 70000);
});

test('reader: malformed streams are refused with a reason', () => {
  const bad = [
    [Uint8Array.of(0, 3, 0, 3), /size 3/],
    [Uint8Array.of(0, 7, 0, 0), /size 0/],
    [Uint8Array.of(0, 27, 0, 9, 0, 0, 0, 4, 0, 0, 0, 0), /JUMBO header of size 9/],
    [Uint8Array.of(0, 27, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0), /holds no command/],
    [Uint8Array.of(0, 27, 0, 8, 1, 0, 0, 0, 0, 3, 0, 0), /too large/],
    [Uint8Array.of(0, 27, 0, 8, 0, 0, 0, 8, 0, 27, 0, 8), /inside a JUMBO/],
    [cmd(KVM.SCREEN, Uint8Array.of(1, 2)), /too short/],
    [cmd(KVM.PICTURE, Uint8Array.of(0, 1)), /too short/],
    [cmd(KVM.GET_DISPLAYS, u16(3, 1)), /too short/],
    [cmd(KVM.MOUSE_CURSOR, new Uint8Array(0)), /too short/],
  ];
  for (const [bytes, why] of bad) {
    assert.throws(() => new KvmReader().push(bytes), why, hex(bytes));
  }
});

test('decode: the agent-to-viewer commands the viewer reads', () => {
  assert.deepEqual(decodeCommand(KVM.KEYSTATE, Uint8Array.of(5)),
    { type: KVM.KEYSTATE, num: true, scroll: false, caps: true });
  assert.deepEqual(decodeCommand(KVM.MOUSE_CURSOR, Uint8Array.of(5)), { type: KVM.MOUSE_CURSOR, cursor: 'text' });
  assert.deepEqual(decodeCommand(KVM.MOUSE_CURSOR, Uint8Array.of(200)),
    { type: KVM.MOUSE_CURSOR, cursor: 'default' }, 'unknown id: the arrow');
  assert.deepEqual(decodeCommand(KVM.GET_DISPLAYS, u16(2, 1, 2, 65535)),
    { type: KVM.GET_DISPLAYS, ids: [1, 2], selected: 65535 });
  assert.deepEqual(decodeCommand(KVM.SET_DISPLAY, u16(2)), { type: KVM.SET_DISPLAY, id: 2 });
  const info = decodeCommand(KVM.DISPLAY_INFO, Uint8Array.of(...u16(1, 0, 0, 800, 600),
    ...u16(2, 800, 0, 1024, 768), 9));
  assert.deepEqual(info.monitors, [{ id: 1, x: 0, y: 0, w: 800, h: 600 },
    { id: 2, x: 800, y: 0, w: 1024, h: 768 }], 'a partial record is ignored');
  assert.deepEqual(displayChoices([1, 2, 65535], new Map(info.monitors.map((m) => [m.id, m]))),
    [[1, 'Display 1 (800×600)'], [2, 'Display 2 (1024×768)'], [65535, 'All displays']]);
  assert.deepEqual(displayChoices([3], new Map()), [[3, 'Display 3']]);
  assert.deepEqual(decodeCommand(99, Uint8Array.of(1, 2, 3)), { type: 99 }, 'unknown: ignored');
  assert.equal(decodeCommand(KVM.ERROR, Uint8Array.of(0xff, 0x41)).text, '\ufffdA', 'bad UTF-8 replaced');
});

test('tiles are drawn in arrival order though decoding finishes out of order', async () => {
  const waits = new Map();
  const drawn = [];
  const closed = [];
  const q = new TileQueue(
    (image) => new Promise((resolve, reject) => waits.set(image, { resolve, reject })),
    (x, y, thing) => drawn.push([x, y, thing.name]));
  const thing = (name) => ({ name, close: () => closed.push(name) });
  q.add(0, 0, 'a');
  q.add(32, 0, 'b');
  q.add(64, 0, 'c');
  await new Promise((r) => setTimeout(r, 0));
  waits.get('c').resolve(thing('c'));
  waits.get('b').resolve(thing('b'));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(drawn, [], 'nothing before the first tile');
  waits.get('a').reject(new Error('not a JPEG'));
  await q.tail;
  assert.deepEqual(drawn, [[32, 0, 'b'], [64, 0, 'c']]);
  assert.equal(q.failed, 1);
  // A new screen size: tiles not drawn yet are dropped (and freed).
  q.add(0, 32, 'd');
  await new Promise((r) => setTimeout(r, 0));
  q.reset();
  q.add(0, 64, 'e');
  await new Promise((r) => setTimeout(r, 0));
  waits.get('e').resolve(thing('e'));
  waits.get('d').resolve(thing('d'));
  await q.tail;
  assert.deepEqual(drawn.slice(2), [[0, 64, 'e']]);
  assert.deepEqual(closed, ['d']);
  assert.equal(q.waiting, 0);
});

test('keys: characters as Unicode, the rest as VK codes; limited and view-only modes', () => {
  const k = (type, key, keyCode, mods = {}) => ({ type, key, keyCode, ctrlKey: false,
    altKey: false, metaKey: false, ...mods });
  const h = (cmds) => cmds.map(hex);
  assert.deepEqual(h(keyCommands(k('keydown', 'a', 65), 'full')), ['00550007000061']);
  assert.deepEqual(h(keyCommands(k('keyup', 'A', 65), 'full')), ['00550007010041']);
  assert.deepEqual(h(keyCommands(k('keydown', '€', 69), 'full')), ['005500070020ac']);
  assert.deepEqual(h(keyCommands(k('keydown', '😀', 0), 'full')),
    ['0055000700d83d', '0055000700de00'], 'outside the BMP: both UTF-16 units');
  assert.deepEqual(h(keyCommands(k('keydown', ' ', 32), 'full')), ['00550007000020']);
  assert.deepEqual(h(keyCommands(k('keydown', 'c', 67, { ctrlKey: true }), 'full')), ['000100060043']);
  assert.deepEqual(h(keyCommands(k('keydown', 'Control', 17, { ctrlKey: true }), 'full')), ['000100060011']);
  assert.deepEqual(h(keyCommands(k('keydown', 'Enter', 13), 'full')), ['00010006000d']);
  assert.deepEqual(h(keyCommands(k('keyup', 'ArrowLeft', 37), 'full')), ['000100060125']);
  assert.deepEqual(h(keyCommands(k('keydown', ';', 59, { ctrlKey: true }), 'full')), ['0001000600ba'],
    "Firefox's ';' fixed to VK 186");
  assert.deepEqual(keyCommands(k('keydown', 'Unidentified', 0), 'full'), []);
  // Limited input: letters, digits, Enter, Backspace; no Ctrl/Alt, no F-keys.
  assert.deepEqual(h(keyCommands(k('keydown', 'a', 65), 'limited')), ['00550007000061']);
  assert.deepEqual(h(keyCommands(k('keydown', 'Backspace', 8), 'limited')), ['000100060008']);
  assert.deepEqual(keyCommands(k('keydown', 'c', 67, { ctrlKey: true }), 'limited'), []);
  assert.deepEqual(keyCommands(k('keydown', 'F5', 116), 'limited'), []);
  assert.deepEqual(keyCommands(k('keydown', 'Escape', 27), 'limited'), []);
  assert.deepEqual(keyCommands(k('keydown', 'a', 65), 'none'), []);
});

test('special keys: pressed in order, released in reverse, in one message', () => {
  const cad = SPECIAL_KEYS.find((s) => s.id === 'cad');
  assert.equal(hex(specialKeyMessage(cad)),
    '000a0004' + '000100060011' + '000100060012' + '00010006002e' +
    '00010006012e' + '000100060112' + '000100060111');
  const tab = SPECIAL_KEYS.find((s) => s.id === 'alttab');
  assert.equal(hex(specialKeyMessage(tab)),
    '000100060012' + '000100060009' + '000100060109' + '000100060112');
});

test('mouse: scaled coordinates and button flags', () => {
  assert.deepEqual(toRemote(0, 0, 512, 384, 1024, 768), { x: 0, y: 0 });
  assert.deepEqual(toRemote(256, 192, 512, 384, 1024, 768), { x: 512, y: 384 });
  assert.deepEqual(toRemote(511.9, 383.9, 512, 384, 1024, 768), { x: 1023, y: 767 });
  assert.deepEqual(toRemote(600, -3, 512, 384, 1024, 768), { x: 1023, y: 0 }, 'clamped');
  assert.deepEqual(toRemote(5, 5, 0, 0, 1024, 768), { x: 0, y: 0 });
  assert.deepEqual(buttonFlags(0), [0x02, 0x04]);
  assert.deepEqual(buttonFlags(1), [0x20, 0x40]);
  assert.deepEqual(buttonFlags(2), [0x08, 0x10]);
  assert.equal(buttonFlags(3), null);
});

test('rights: who may type, who may only watch', () => {
  assert.equal(inputMode(0xFFFFFFFF), 'full');
  assert.equal(inputMode(0x8), 'full');
  assert.equal(inputMode(0x8 | 0x1000), 'limited');
  assert.equal(inputMode(0x8 | 0x100), 'none', 'view-only wins over remote control');
  assert.equal(inputMode(0x100), 'none');
  assert.equal(inputMode(0x100000), 'none');
});

test('rate meter: bytes and frames over the last second', () => {
  let now = 1000;
  const m = new RateMeter(() => now);
  m.add(500);
  m.add(0, 1);
  now = 1500;
  m.add(1000, 1);
  assert.deepEqual(m.rate(), { bytesPerSec: 1500, fps: 2 });
  now = 2100;
  assert.deepEqual(m.rate(), { bytesPerSec: 1000, fps: 1 });
  now = 9000;
  assert.deepEqual(m.rate(), { bytesPerSec: 0, fps: 0 });
});
