// pages/terminal.js - the device page's Terminal tab: xterm.js (loaded
// from web/vendor/ the first time a terminal opens) on a relay tunnel of
// protocol 1 (spec sessions.md §5, docs/sessions.md §4).
//
// Keystrokes and pastes go to the agent as binary frames of UTF-8 bytes
// (text frames never reach the shell); the shell's output comes back as
// binary frames and is written to xterm as bytes, so a UTF-8 character
// split across two frames still decodes. Control messages: termsize out
// (debounced, after the panel's size settles), console and exit in.

import { el, replace } from '../dom.js';
import { state } from '../state.js';
import { installTermCss } from '../term_css.js';
import { Tunnel } from '../tunnel.js';

const RESIZE_DEBOUNCE_MS = 200; // as the stock viewer
const PROTOCOL_TERMINAL = 1;

let xtermModules = null;

/** Loads xterm.js, its fit addon and its stylesheet, once. */
function loadXterm() {
  if (!xtermModules) {
    installTermCss();
    document.head.append(el('link', { rel: 'stylesheet', href: 'vendor/xterm.css' }));
    xtermModules = Promise.all([import('../vendor/xterm.mjs'), import('../vendor/addon-fit.mjs')])
      .then(([x, f]) => ({ Terminal: x.Terminal, FitAddon: f.FitAddon }));
    xtermModules.catch(() => { xtermModules = null; });
  }
  return xtermModules;
}

/** Copies text to the clipboard (best effort). */
function copy(text) {
  if (text) navigator.clipboard?.writeText(text).catch(() => {});
}

/**
 * The Terminal tab of device nodeid. Returns {el, show(), leave()}: show
 * is called each time the tab is shown (the first time connects), leave
 * when the device page goes away (ends the session).
 */
export function terminalTab(nodeid) {
  const status = el('p', { id: 'term-status', className: 'term-status muted', role: 'status' });
  const consoleLine = el('p', { id: 'term-console', className: 'notice', role: 'status' });
  consoleLine.hidden = true;
  const connect = el('button', { id: 'term-connect', type: 'button', className: 'small' }, 'Connect');
  const disconnect = el('button', { id: 'term-disconnect', type: 'button', className: 'small ghost-border' },
    'Disconnect');
  disconnect.hidden = true;
  const screen = el('div', { id: 'term-screen', className: 'term-screen' });
  const root = el('div', { className: 'term' },
    el('div', { className: 'term-bar row-tools' }, connect, disconnect, status),
    consoleLine, screen,
    el('p', { className: 'small muted' },
      'Copy with Ctrl+Shift+C (or by selecting and right-clicking), paste with Ctrl+Shift+V.'));

  let term = null; // the xterm instance, made once
  let fit = null;
  let tunnel = null;
  let shown = false;
  let resizeTimer = 0;
  let observer = null;
  const encoder = new TextEncoder();

  const setStatus = (text) => { status.textContent = text; };
  const setConsole = (text) => {
    consoleLine.textContent = text ?? '';
    consoleLine.hidden = !text;
  };
  const setConnected = (on) => {
    connect.hidden = on;
    disconnect.hidden = !on;
  };

  // Sends the size after it settled; fit() itself runs at once so the
  // screen never shows half-drawn rows.
  const onResize = () => {
    if (!term || !shown) return;
    fit.fit();
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (tunnel?.opened) tunnel.sendCtrl({ type: 'termsize', cols: term.cols, rows: term.rows });
    }, RESIZE_DEBOUNCE_MS);
  };

  const makeTerm = async () => {
    const { Terminal, FitAddon } = await loadXterm();
    term = new Terminal({
      cursorBlink: true, convertEol: false, scrollback: 5000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14,
    });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === 'KeyC') { // copy (the browser's own would open devtools)
        e.preventDefault();
        copy(term.getSelection());
        return false;
      }
      // Ctrl+Shift+V: the browser pastes into xterm's textarea.
      return e.code !== 'KeyV';
    });
    term.onData((s) => tunnel?.send(encoder.encode(s)));
    // Some mouse reports are bytes, not UTF-8 text.
    term.onBinary((s) => tunnel?.send(Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)));
    observer = new ResizeObserver(onResize);
    observer.observe(screen);
  };

  const start = async () => {
    if (tunnel) return;
    connect.disabled = true;
    setConsole(null);
    setStatus('Loading the terminal…');
    try {
      if (!term) await makeTerm();
    } catch {
      setStatus('The terminal could not be loaded (web/vendor is missing: run scripts/setup-web.sh).');
      connect.disabled = false;
      return;
    }
    fit.fit();
    term.reset();
    setStatus('Connecting…');
    const t = new Tunnel(state.ctl, nodeid, PROTOCOL_TERMINAL);
    tunnel = t;
    let exitCode = null;
    t.onopen = (recorded) => {
      setStatus(recorded ? 'Connected. This session is recorded.' : 'Connected.');
      setConnected(true);
      connect.disabled = false;
      term.focus();
    };
    t.ondata = (bytes) => term.write(bytes);
    t.onctrl = (msg) => {
      if (msg.type === 'console') {
        setConsole(msg.msg == null ? null : String(msg.msg));
      } else if (msg.type === 'exit') {
        exitCode = Number(msg.code);
      }
    };
    t.onclose = ({ code, reason, opened }) => {
      if (tunnel === t) tunnel = null;
      setConnected(false);
      connect.disabled = false;
      connect.textContent = 'Reconnect';
      let text;
      if (exitCode !== null) {
        text = `The shell exited with code ${exitCode}.`;
        term.write(`\r\n[exited with code ${exitCode}]\r\n`);
      } else if (reason === 'closed here') {
        text = 'Disconnected.';
      } else if (!opened) {
        text = `No session: ${reason || 'the device did not answer'}.`;
      } else {
        text = reason ? `Session ended: ${reason}.` : `Session ended (${code}).`;
      }
      setStatus(text);
    };
    try {
      await t.start({ cols: term.cols, rows: term.rows });
    } catch (x) {
      if (tunnel === t) tunnel = null;
      t.close();
      setStatus(`No session: ${x.message}.`);
      connect.disabled = false;
    }
  };

  connect.addEventListener('click', start);
  disconnect.addEventListener('click', () => tunnel?.close());

  return {
    el: root,
    show() {
      const first = !shown && !term;
      shown = true;
      if (first) start();
      else if (term) requestAnimationFrame(onResize);
    },
    hide() {
      shown = false;
    },
    leave() {
      clearTimeout(resizeTimer);
      if (tunnel) tunnel.close();
      if (observer) observer.disconnect();
      if (term) term.dispose();
      replace(screen);
    },
  };
}
