// player.js - plays a terminal recording (an asciicast v2 file, as meshd
// writes them: docs/user-api.md §7.24) into a read-only xterm.js.
//
// The file is data from a device's shell, so it is read strictly: the
// first line must be the v2 header; every other line must be a JSON array
// [time, code, data]. A line that is not is skipped and counted in a note
// on screen; nothing from the file ever becomes markup or code: "o" text
// only goes to xterm's parser (which draws it as terminal cells), "r"
// sizes only become numbers. Links the shell printed (OSC 8) stay inert:
// xterm's default handler would ask with confirm() and open a window.
//
// Time: long pauses are shortened to the idle cap (the header's
// idle_time_limit when it has one, else IDLE_CAP_S), as asciinema's own
// player does, so a session left idle for an hour plays in seconds. All
// positions (slider, clock) are in this shortened time.
//
// xterm parses writes asynchronously, in order, while term.resize() acts
// at once; so a resize is queued as the callback of an empty write, which
// runs exactly between the output before it and the output after it.
// Writes are flow-controlled (HIGH_WATER) so that seeking far into a big
// recording feeds xterm in slices instead of one huge string.

import { el, replace } from './dom.js';
import { installTermCss } from './term_css.js';

export const IDLE_CAP_S = 2;
export const SPEEDS = [1, 2, 4];
const DEFAULT_COLS = 80;
const DEFAULT_ROWS = 25;
const MAX_COLS = 1000; // sizes past these are refused, not allocated
const MAX_ROWS = 500;
const MAX_NOTES = 5; // skipped lines named one by one; the rest counted
const CHUNK = 64 * 1024; // characters per xterm write
const HIGH_WATER = 1024 * 1024; // characters given to xterm, not yet parsed
const SLIDER_STEP_MS = 100;
const RESET = '\x1bc'; // RIS: a full terminal reset, ordered with the output

const sizeOk = (c, r) => Number.isInteger(c) && Number.isInteger(r) &&
  c >= 1 && c <= MAX_COLS && r >= 1 && r <= MAX_ROWS;

/**
 * Reads an asciicast v2 file. Returns {error} when it is not one (no
 * usable header), else {cols, rows, events, duration, skipped, notes}:
 * events are {at, o} (output) or {at, cols, rows} (resize), `at` being
 * seconds after the start with pauses capped; notes are texts for people
 * about what was skipped (the first lines by number, the rest counted;
 * skipped counts them all).
 */
export function parseCast(text) {
  const lines = String(text).split('\n');
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  let header = null;
  try {
    header = JSON.parse(lines[first] ?? '');
  } catch {
    // Reported below.
  }
  if (!header || typeof header !== 'object' || Array.isArray(header) || header.version !== 2) {
    return { error: 'This is not an asciicast v2 recording.' };
  }
  const notes = [];
  let skipped = 0;
  let named = 0;
  const skip = (i, why) => {
    skipped++;
    if (named < MAX_NOTES) {
      named++;
      notes.push(`Line ${i + 1} skipped: ${why}.`);
    }
  };
  let cols = header.width;
  let rows = header.height;
  if (!sizeOk(cols, rows)) {
    notes.push(`The header's terminal size is unusable; ${DEFAULT_COLS}×${DEFAULT_ROWS} is used.`);
    cols = DEFAULT_COLS;
    rows = DEFAULT_ROWS;
  }
  const limit = header.idle_time_limit;
  const cap = typeof limit === 'number' && Number.isFinite(limit) && limit > 0 ? limit : IDLE_CAP_S;

  const events = [];
  let lastT = 0;
  let at = 0;
  for (let i = first + 1; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === '') continue;
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      skip(i, 'not JSON');
      continue;
    }
    if (!Array.isArray(ev) || ev.length !== 3) {
      skip(i, 'not an event [time, code, data]');
      continue;
    }
    const [t, code, data] = ev;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 ||
        typeof code !== 'string' || typeof data !== 'string') {
      skip(i, 'bad time, code or data');
      continue;
    }
    if (code !== 'o' && code !== 'r') {
      // Input ("i") and markers ("m") are valid v2 but nothing to show.
      if (code !== 'i' && code !== 'm') skip(i, 'unknown event code');
      continue;
    }
    let size = null;
    if (code === 'r') {
      const m = /^(\d{1,4})x(\d{1,4})$/.exec(data);
      size = m ? { cols: Number(m[1]), rows: Number(m[2]) } : null;
      if (!size || !sizeOk(size.cols, size.rows)) {
        skip(i, 'bad terminal size');
        continue;
      }
    }
    // Times only go forward in v2; an earlier one plays at once.
    at += Math.min(Math.max(t - lastT, 0), cap);
    lastT = Math.max(t, lastT);
    events.push(size ? { at, ...size } : { at, o: data });
  }
  if (skipped > named) notes.push(`${skipped - named} more line(s) skipped.`);
  return { cols, rows, events, duration: at, skipped, notes };
}

/** "m:ss" (or "h:mm:ss") of a number of seconds. */
export function fmtClock(secs) {
  const s = Math.max(0, Math.floor(secs));
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

let xterm = null;

/** Loads xterm.js and its stylesheet once (shared with the Terminal tab:
 * the same module URL is the same module). */
function loadXterm() {
  if (!xterm) {
    installTermCss();
    if (!document.querySelector('link[href="vendor/xterm.css"]')) {
      document.head.append(el('link', { rel: 'stylesheet', href: 'vendor/xterm.css' }));
    }
    xterm = import('./vendor/xterm.mjs').then((x) => x.Terminal);
    xterm.catch(() => { xterm = null; });
  }
  return xterm;
}

/**
 * A player for the recording at url (fetched with the session cookie),
 * offering it for download as downloadName. Returns {el, pause(),
 * leave()}; leave stops playback and frees the terminal.
 */
export function castPlayer(url, downloadName) {
  const status = el('p', { id: 'rec-status', className: 'muted', role: 'status' }, 'Loading the recording…');
  const notes = el('div', { id: 'rec-notes', className: 'notice', role: 'note' });
  notes.hidden = true;
  const play = el('button', { id: 'rec-play', type: 'button', className: 'small' }, 'Pause');
  const restart = el('button', { id: 'rec-restart', type: 'button', className: 'small ghost-border' }, 'Restart');
  const speedButtons = SPEEDS.map((n) => el('button', {
    type: 'button', className: 'small ghost-border', 'data-speed': n, 'aria-pressed': String(n === 1),
  }, `${n}×`));
  const slider = el('input', {
    id: 'rec-pos', type: 'range', min: 0, max: 0, step: SLIDER_STEP_MS, value: 0, 'aria-label': 'Position',
  });
  const clock = el('span', { id: 'rec-time', className: 'small muted nowrap' }, '0:00 / 0:00');
  const download = el('a', { id: 'rec-download', href: url, download: downloadName }, 'Download .cast');
  const controls = el('div', { className: 'row-tools player-bar' }, play, restart,
    el('span', { className: 'speeds', role: 'group', 'aria-label': 'Speed' }, ...speedButtons),
    slider, clock);
  controls.hidden = true;
  const screen = el('div', { id: 'rec-screen', className: 'player-screen' });
  const root = el('div', { id: 'rec-player', className: 'player' },
    el('div', { className: 'row-tools' }, status, download), notes, controls, screen);

  let cast = null;
  let term = null;
  let gone = false;
  let playing = false;
  let speed = 1;
  let pos = 0; // seconds (capped time) the screen has reached or is heading to
  let next = 0; // index of the next event to give to xterm
  let queued = 0; // characters given to xterm and not yet parsed
  let frame = 0;
  let lastTick = 0;

  const emit = (data) => {
    queued += data.length;
    term.write(data, () => {
      queued -= data.length;
      if (!gone) pump();
    });
  };
  // Feeds xterm every event up to pos, as far as the high-water mark lets.
  const pump = () => {
    let chunk = '';
    while (next < cast.events.length && cast.events[next].at <= pos &&
           queued + chunk.length < HIGH_WATER) {
      const ev = cast.events[next++];
      if (ev.o !== undefined) {
        chunk += ev.o;
        if (chunk.length >= CHUNK) {
          emit(chunk);
          chunk = '';
        }
      } else {
        if (chunk) emit(chunk);
        chunk = '';
        term.write('', () => { if (!gone) term.resize(ev.cols, ev.rows); });
      }
    }
    if (chunk) emit(chunk);
  };

  const drawClock = () => {
    slider.value = pos >= cast.duration ? slider.max : String(Math.round(pos * 1000));
    clock.textContent = `${fmtClock(pos)} / ${fmtClock(cast.duration)}`;
  };
  const drawStatus = () => {
    status.textContent = playing ? 'Playing.' : pos >= cast.duration ? 'Finished.' : 'Paused.';
  };
  const setPlaying = (on) => {
    playing = on;
    play.textContent = on ? 'Pause' : 'Play';
    drawStatus();
    cancelAnimationFrame(frame);
    if (on) {
      lastTick = performance.now();
      frame = requestAnimationFrame(tick);
    }
  };
  function tick(now) {
    if (gone || !playing) return;
    pos = Math.min(cast.duration, pos + ((now - lastTick) / 1000) * speed);
    lastTick = now;
    pump();
    drawClock();
    if (pos >= cast.duration) setPlaying(false);
    else frame = requestAnimationFrame(tick);
  }
  // Going back replays from the start after a reset; going forward just
  // feeds the events in between.
  const seek = (to) => {
    const target = Math.min(Math.max(to, 0), cast.duration);
    if (target < pos) {
      next = 0;
      term.write(RESET);
      term.write('', () => { if (!gone) term.resize(cast.cols, cast.rows); });
    }
    pos = target;
    pump();
    drawClock();
    drawStatus();
  };

  play.addEventListener('click', () => {
    if (!playing && pos >= cast.duration) seek(0);
    setPlaying(!playing);
  });
  restart.addEventListener('click', () => {
    seek(0);
    setPlaying(true);
  });
  for (const b of speedButtons) {
    b.addEventListener('click', () => {
      speed = Number(b.dataset.speed);
      for (const x of speedButtons) x.setAttribute('aria-pressed', String(x === b));
    });
  }
  slider.addEventListener('input', () => seek(Number(slider.value) / 1000));

  const showNotes = () => {
    replace(notes, ...cast.notes.map((t) => el('p', {}, t)));
    notes.hidden = cast.notes.length === 0;
  };

  const start = async () => {
    let text;
    try {
      const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) {
        status.textContent = res.status === 404 ? 'This recording is gone or you may not see it.'
          : `The recording could not be loaded (HTTP ${res.status}).`;
        return;
      }
      text = await res.text();
    } catch {
      status.textContent = 'The recording could not be loaded.';
      return;
    }
    if (gone) return;
    const parsed = parseCast(text);
    if (parsed.error) {
      status.textContent = parsed.error;
      return;
    }
    cast = parsed;
    let Terminal;
    try {
      Terminal = await loadXterm();
    } catch {
      status.textContent = 'The player could not be loaded (web/vendor is missing: run scripts/setup-web.sh).';
      return;
    }
    if (gone) return;
    term = new Terminal({
      cols: cast.cols, rows: cast.rows, disableStdin: true, cursorBlink: false,
      scrollback: 1000, linkHandler: { activate() {} },
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14,
    });
    term.open(screen);
    showNotes();
    // A whole number of steps, so that the slider's end is the end.
    slider.max = String(Math.ceil((cast.duration * 1000) / SLIDER_STEP_MS) * SLIDER_STEP_MS);
    controls.hidden = false;
    drawClock();
    setPlaying(cast.events.length > 0);
    if (!cast.events.length) status.textContent = 'This recording is empty.';
  };
  start();

  return {
    el: root,
    /** Stops playback where it is (the tab was left). */
    pause() {
      if (playing) setPlaying(false);
    },
    leave() {
      gone = true;
      cancelAnimationFrame(frame);
      if (term) term.dispose();
      replace(screen);
    },
  };
}
