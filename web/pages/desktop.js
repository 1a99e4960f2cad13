// pages/desktop.js - the device page's Desktop tab: a relay tunnel of
// protocol 2 whose binary frames are KVM commands (spec sessions.md §7,
// wire format in ../kvm.js), drawn on a canvas the size of the remote
// screen and scaled by CSS to fit.
//
// Tiles are JPEGs decoded with createImageBitmap (a Blob needs no img-src
// in the CSP) and drawn in arrival order. Keyboard and mouse go to the
// agent only while the canvas has focus, and never for a user whose
// rights make the session view only: then not even the quality settings
// are sent, as the agent would ignore them (§4.3).

import { el } from '../dom.js';
import { myRights, rtcConfig, state } from '../state.js';
import { Tunnel } from '../tunnel.js';
import {
  KVM, KvmReader, RateMeter, SPECIAL_KEYS, TileQueue, buttonFlags, displayChoices,
  encodeCompression, encodeEmpty, encodeMouse, encodeSetDisplay, inputMode, keyCommands,
  screenStartMessage, specialKeyMessage, toRemote,
} from '../kvm.js';

const PROTOCOL_DESKTOP = 2;
const IMAGE_JPEG = 1;
const WHEEL_STEP = 120; // one notch; the agent only reads the sign

const QUALITIES = [[20, 'Low'], [50, 'Medium'], [75, 'High'], [95, 'Best']];
const SCALINGS = [[1024, '100%'], [768, '75%'], [512, '50%'], [256, '25%']];
const INTERVALS = [[50, '20 fps'], [100, '10 fps'], [200, '5 fps'], [500, '2 fps'], [1000, '1 fps']];

// Stock console message ids the agent may send without a text (§3.1).
const CONSOLE_IDS = {
  1: 'Waiting for the remote user to grant access…',
  4: 'The remote user did not answer in time.',
  6: 'The remote display could not be captured.',
};

function choice(id, label, list, value) {
  return el('label', { className: 'desk-choice', for: id }, label,
    el('select', { id }, ...list.map(([v, text]) =>
      el('option', { value: String(v), selected: v === value }, text))));
}

function fmtRate(bytesPerSec) {
  if (bytesPerSec >= 1048576) return `${(bytesPerSec / 1048576).toFixed(1)} MB/s`;
  return `${Math.round(bytesPerSec / 1024)} KB/s`;
}

/**
 * The Desktop tab of device nodeid. Returns {el, show(), leave()}: the
 * first show() connects; leave() ends the session.
 */
export function desktopTab(nodeid) {
  const status = el('p', { id: 'desk-status', className: 'muted', role: 'status' });
  const stats = el('p', { id: 'desk-stats', className: 'muted small' });
  const consoleLine = el('p', { id: 'desk-console', className: 'notice', role: 'status' });
  consoleLine.hidden = true;
  const viewOnlyNote = el('p', { id: 'desk-viewonly', className: 'badge warn' }, 'View only');
  viewOnlyNote.hidden = true;
  const connect = el('button', { id: 'desk-connect', type: 'button', className: 'small' }, 'Connect');
  const disconnect = el('button', { id: 'desk-disconnect', type: 'button', className: 'small ghost-border' },
    'Disconnect');
  const refresh = el('button', { id: 'desk-refresh', type: 'button', className: 'small ghost-border' },
    'Refresh');
  const full = el('button', { id: 'desk-fullscreen', type: 'button', className: 'small ghost-border' },
    'Full screen');
  const keys = el('select', { id: 'desk-keys', 'aria-label': 'Send special keys' },
    el('option', { value: '' }, 'Send keys…'),
    ...SPECIAL_KEYS.map((k) => el('option', { value: k.id }, k.label)));
  const quality = choice('desk-quality', 'Quality', QUALITIES, 50);
  const scaling = choice('desk-scaling', 'Scaling', SCALINGS, 1024);
  const rate = choice('desk-rate', 'Frame rate', INTERVALS, 100);
  // Shown when the agent lists more than one display (GET_DISPLAYS).
  const display = el('select', { id: 'desk-display', 'aria-label': 'Display' });
  const displayBox = el('label', { className: 'desk-choice', for: 'desk-display' }, 'Display',
    display);
  displayBox.hidden = true;
  const fitBox = el('input', { id: 'desk-fit', type: 'checkbox', checked: true });
  const fit = el('label', { className: 'check', for: 'desk-fit' }, fitBox, 'Fit to window');
  const canvas = el('canvas', { id: 'desk-canvas', className: 'desk-canvas', tabIndex: 0,
    width: 0, height: 0, 'aria-label': 'Remote desktop' });
  const screen = el('div', { id: 'desk-screen', className: 'desk-screen fit' }, canvas);
  const controls = el('div', { className: 'desk-bar row-tools' }, keys, displayBox, quality,
    scaling, rate);
  const root = el('div', { className: 'desk' },
    el('div', { className: 'desk-bar row-tools' }, connect, disconnect, refresh, full, fit,
      viewOnlyNote, status, stats),
    controls, consoleLine, screen,
    el('p', { className: 'small muted' },
      'Click the screen to type into it; keys go to the device while it has focus.'));
  const ctx = canvas.getContext('2d');

  let tunnel = null;
  let reader = null;
  let started = false;
  let mode = 'none'; // input: 'full', 'limited' or 'none' (view only)
  let size = null; // {width, height} of the remote screen
  let failure = null; // why this side closed the session
  let statsTimer = 0;
  let frameQueued = false;
  let lastMove = '';
  let monitors = new Map(); // display id -> {x, y, w, h} (DISPLAY_INFO)
  let displayIds = [];
  let locks = ''; // the remote lock keys that are on (KEYSTATE)
  const meter = new RateMeter();

  const setStatus = (text) => { status.textContent = text; };
  const setConsole = (text) => {
    consoleLine.textContent = text ?? '';
    consoleLine.hidden = !text;
  };
  const setConnected = (on) => {
    connect.hidden = on;
    disconnect.hidden = !on;
    refresh.disabled = !on || mode === 'none';
    for (const s of controls.querySelectorAll('select')) s.disabled = !on || mode === 'none';
  };
  setConnected(false);
  const send = (bytes) => {
    if (mode !== 'none' && tunnel?.opened) tunnel.send(bytes);
  };
  const settings = () => [quality, scaling, rate].map((l) => Number(l.querySelector('select').value));

  // Counts a shown frame once per animation frame in which tiles landed.
  const frameDrawn = () => {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(() => {
      frameQueued = false;
      meter.add(0, 1);
    });
  };
  const tiles = new TileQueue(
    (image) => createImageBitmap(new Blob([image], { type: 'image/jpeg' })),
    (x, y, bitmap) => {
      ctx.drawImage(bitmap, x, y);
      bitmap.close();
      frameDrawn();
    });

  const showStats = () => {
    const r = meter.rate();
    stats.textContent = `${r.fps} fps · ${fmtRate(r.bytesPerSec)}` +
      (size ? ` · ${size.width}×${size.height}` : '') +
      (tunnel?.transport === 'webrtc' ? ' · direct (WebRTC)' : ' · relayed') + locks;
  };

  const onCommand = (c) => {
    switch (c.type) {
      case KVM.SCREEN:
        if (!size || size.width !== c.width || size.height !== c.height) {
          size = { width: c.width, height: c.height };
          tiles.reset();
          canvas.width = c.width; // also clears it
          canvas.height = c.height;
          send(screenStartMessage(...settings()));
        }
        break;
      case KVM.PICTURE:
        if (size) tiles.add(c.x, c.y, c.image);
        break;
      case KVM.GET_DISPLAYS:
        displayIds = c.ids;
        display.replaceChildren(...displayChoices(c.ids, monitors).map(([id, text]) =>
          el('option', { value: String(id) }, text)));
        display.value = String(c.selected);
        displayBox.hidden = c.ids.length < 2;
        break;
      case KVM.SET_DISPLAY:
        display.value = String(c.id);
        break;
      case KVM.DISPLAY_INFO:
        monitors = new Map(c.monitors.map((m) => [m.id, m]));
        // The labels carry the sizes: redo them for the list shown.
        for (const [id, text] of displayChoices(displayIds, monitors)) {
          const o = display.querySelector(`option[value="${id}"]`);
          if (o) o.textContent = text;
        }
        break;
      case KVM.KEYSTATE:
        locks = [[c.caps, 'Caps Lock'], [c.num, 'Num Lock'], [c.scroll, 'Scroll Lock']]
          .filter(([on]) => on).map(([, name]) => ` · ${name}`).join('');
        break;
      case KVM.MOUSE_CURSOR:
        canvas.style.cursor = mode === 'none' ? '' : c.cursor;
        break;
      case KVM.ERROR:
        // A leading '.' marks a message for the log only (as the stock viewer).
        if (!c.text.startsWith('.')) setConsole(c.text);
        break;
      default:
        break; // debug text: not shown
    }
  };

  const start = async () => {
    if (tunnel) return;
    const node = state.nodes.get(nodeid);
    mode = inputMode(node ? myRights(state.meshes.get(node.meshid)) : 0);
    viewOnlyNote.hidden = mode !== 'none';
    viewOnlyNote.title = mode === 'none' ? 'Your rights on this device allow watching only.' : '';
    keys.hidden = mode !== 'full';
    connect.disabled = true;
    setConsole(null);
    setStatus('Connecting…');
    size = null;
    failure = null;
    monitors = new Map();
    displayIds = [];
    locks = '';
    displayBox.hidden = true;
    reader = new KvmReader();
    const t = new Tunnel(state.ctl, nodeid, PROTOCOL_DESKTOP);
    tunnel = t;
    t.rtcConfig = rtcConfig();
    t.onopen = (recorded) => {
      setStatus(recorded ? 'Connected. This session is recorded.' : 'Connected.');
      setConnected(true);
      connect.disabled = false;
      clearInterval(statsTimer);
      statsTimer = setInterval(showStats, 1000);
      if (mode !== 'none') canvas.focus();
    };
    t.ondata = (bytes) => {
      meter.add(bytes.length);
      let cmds;
      try {
        cmds = reader.push(bytes);
      } catch (x) {
        failure = `the device sent bad data (${x.message})`;
        t.close();
        return;
      }
      for (const c of cmds) onCommand(c);
    };
    t.onctrl = (msg) => {
      if (msg.type !== 'console') return;
      setConsole(msg.msg == null ? CONSOLE_IDS[msg.msgid] ?? null : String(msg.msg));
    };
    t.onclose = ({ code, reason, opened }) => {
      if (tunnel === t) tunnel = null;
      clearInterval(statsTimer);
      tiles.reset();
      setConnected(false);
      connect.disabled = false;
      connect.textContent = 'Reconnect';
      canvas.style.cursor = '';
      if (failure) setStatus(`Session ended: ${failure}.`);
      else if (reason === 'closed here') setStatus('Disconnected.');
      else if (!opened) setStatus(`No session: ${reason || 'the device did not answer'}.`);
      else setStatus(reason ? `Session ended: ${reason}.` : `Session ended (${code}).`);
    };
    try {
      await t.start({});
    } catch (x) {
      if (tunnel === t) tunnel = null;
      t.close();
      setStatus(`No session: ${x.message}.`);
      connect.disabled = false;
    }
  };

  // Input. Nothing is sent in view-only mode (send() checks it).
  const remotePoint = (e) => {
    const r = canvas.getBoundingClientRect();
    return toRemote(e.clientX - r.left, e.clientY - r.top, r.width, r.height,
      canvas.width, canvas.height);
  };
  const mouse = (e, flags, wheel = 0) => {
    if (!size || mode === 'none') return;
    const p = remotePoint(e);
    if (!flags && !wheel) { // a move: skip one that lands on the same pixel
      const key = `${p.x},${p.y}`;
      if (key === lastMove) return;
      lastMove = key;
    }
    send(encodeMouse(flags, p.x, p.y, wheel));
  };
  canvas.addEventListener('mousemove', (e) => mouse(e, 0));
  canvas.addEventListener('mousedown', (e) => {
    canvas.focus();
    const f = buttonFlags(e.button);
    if (f && mode !== 'none') {
      e.preventDefault();
      mouse(e, f[0]);
    }
  });
  canvas.addEventListener('mouseup', (e) => {
    const f = buttonFlags(e.button);
    if (f && mode !== 'none') {
      e.preventDefault();
      mouse(e, f[1]);
    }
  });
  canvas.addEventListener('contextmenu', (e) => {
    if (mode !== 'none') e.preventDefault();
  });
  canvas.addEventListener('wheel', (e) => {
    if (mode === 'none' || !e.deltaY) return;
    e.preventDefault();
    mouse(e, 0, e.deltaY < 0 ? WHEEL_STEP : -WHEEL_STEP);
  }, { passive: false });
  const onKey = (e) => {
    if (mode === 'none' || !size) return;
    const cmds = keyCommands(e, mode);
    // Keys held back in limited mode are swallowed too: they are meant
    // for the remote desktop, not for this page.
    e.preventDefault();
    for (const c of cmds) send(c);
  };
  canvas.addEventListener('keydown', onKey);
  canvas.addEventListener('keyup', onKey);

  keys.addEventListener('change', () => {
    const k = SPECIAL_KEYS.find((x) => x.id === keys.value);
    keys.value = '';
    if (k && mode === 'full') send(specialKeyMessage(k));
    canvas.focus();
  });
  for (const l of [quality, scaling, rate]) {
    l.querySelector('select').addEventListener('change', () => {
      const [q, s, i] = settings();
      send(encodeCompression(IMAGE_JPEG, q, s, i));
    });
  }
  display.addEventListener('change', () => {
    send(encodeSetDisplay(Number(display.value)));
    canvas.focus();
  });
  refresh.addEventListener('click', () => send(encodeEmpty(KVM.REFRESH)));
  fitBox.addEventListener('change', () => screen.classList.toggle('fit', fitBox.checked));
  full.addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else screen.requestFullscreen?.().then(() => canvas.focus()).catch(() => {});
  });
  connect.addEventListener('click', start);
  disconnect.addEventListener('click', () => tunnel?.close());

  return {
    el: root,
    show() {
      if (!started) {
        started = true;
        start();
      }
    },
    leave() {
      clearInterval(statsTimer);
      if (tunnel) tunnel.close();
    },
  };
}
