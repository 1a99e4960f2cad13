// pages/recordings.js - the device page's Recordings tab: the terminal
// sessions meshd recorded on this device (docs/user-api.md §7.24), newest
// first, each played back in the page (player.js) or downloaded as its
// .cast file. Shown to those who may open a terminal on the device, the
// rule the server applies to the list and the files.
//
// The list follows the sessions live: the relay pushes a relaylog event
// when a terminal session starts and ends. The end event comes before
// meshd has written the recording's final size and duration (that happens
// when the file is closed, off the event loop), so after an end the list
// is read again a few times until no entry is left unfinished.

import { el, fmtTime, replace } from '../dom.js';
import { state } from '../state.js';
import { emptyState, loading } from '../ui.js';
import { castPlayer, fmtClock } from '../player.js';

const TERMINAL_PROTOCOLS = new Set([1, 6, 8, 9]); // recorded ones (§7.24)
const RELOAD_DELAY_MS = 250;
const SETTLE_MS = 600; // between reads while a recording is unfinished
const SETTLE_TRIES = 8;

/** Bytes for people: "812 B", "3.4 KB", "1.2 MB". */
function fmtBytes(n) {
  const v = Number(n) || 0;
  if (v < 1000) return `${v} B`;
  if (v < 1e6) return `${(v / 1e3).toFixed(1)} KB`;
  return `${(v / 1e6).toFixed(1)} MB`;
}

/** The relay's and server's id of a recording: hex (checked, since it
 * goes into a URL and a file name). */
const idOk = (id) => typeof id === 'string' && /^[0-9a-f]{1,64}$/.test(id);

/** The download address of recording id. */
const recordingUrl = (id) => `/api/recording?id=${encodeURIComponent(id)}`;

/**
 * The Recordings tab of device nodeid. Returns {el, show(), hide(),
 * update(what, ev), leave()}: show reads the list again, hide pauses
 * playback, update takes the events the device page passes on, leave
 * ends playback.
 */
export function recordingsTab(nodeid) {
  const list = el('div', { id: 'rec-list' }, loading());
  const slot = el('div', { id: 'rec-player-slot' });
  const root = el('div', { className: 'recordings' }, slot, list);
  let player = null;
  let playingId = null;
  let reloadTimer = 0;
  let settleTries = 0;
  let loadSeq = 0; // only the newest answer is drawn

  const closePlayer = () => {
    if (player) player.leave();
    player = null;
    playingId = null;
    replace(slot);
    for (const tr of list.querySelectorAll('tr[aria-current]')) tr.removeAttribute('aria-current');
  };

  const openPlayer = (rec, tr) => {
    closePlayer();
    playingId = rec.id;
    tr.setAttribute('aria-current', 'true');
    player = castPlayer(recordingUrl(rec.id), `${rec.id}.cast`);
    const close = el('button', { id: 'rec-close', type: 'button', className: 'small ghost-border' }, 'Close player');
    close.addEventListener('click', closePlayer);
    replace(slot, el('div', { className: 'panel' },
      el('div', { className: 'page-head' },
        el('h2', {}, `Session of ${fmtTime(rec.start)}`), close),
      player.el));
  };

  const row = (rec) => {
    const tr = el('tr', { 'data-id': rec.id },
      el('td', { className: 'nowrap' }, fmtTime(rec.start)),
      el('td', {}, fmtClock(rec.duration)),
      el('td', {}, String(rec.user || rec.userid || '')),
      el('td', { className: 'nowrap' }, fmtBytes(rec.size)),
      el('td', {}, rec.truncated === true
        ? el('span', { className: 'badge warn', title: 'The rest of the session was left out' }, 'truncated')
        : ''),
      el('td', { className: 'actions' }));
    tr.lastChild.append(
      el('button', { type: 'button', className: 'small', 'data-action': 'play', onclick: () => openPlayer(rec, tr) },
        'Play'),
      ' ',
      el('a', { href: recordingUrl(rec.id), download: `${rec.id}.cast`, 'data-action': 'download' }, 'Download'));
    if (rec.id === playingId) tr.setAttribute('aria-current', 'true');
    return tr;
  };

  const draw = (recs) => {
    if (!recs.length) {
      replace(list, emptyState('No recordings yet. When the group records terminal sessions, ' +
        'each session on this device shows here.'));
      return;
    }
    replace(list, el('div', { className: 'table-wrap' },
      el('table', { id: 'rec-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Started'), el('th', {}, 'Duration'),
          el('th', {}, 'User'), el('th', {}, 'Size'), el('th', {}, el('span', { className: 'sr-only' }, 'Flags')),
          el('th', {}, el('span', { className: 'sr-only' }, 'Actions')))),
        el('tbody', {}, ...recs.map(row)))));
  };

  const load = async () => {
    const seq = ++loadSeq;
    let r;
    try {
      r = await state.ctl.request({ action: 'recordings', nodeid });
    } catch {
      if (seq === loadSeq) replace(list, emptyState('The recordings could not be loaded.'));
      return;
    }
    if (seq !== loadSeq) return;
    if (!Array.isArray(r.recordings)) {
      replace(list, emptyState(r.result === 'Access denied'
        ? 'You may not see the recordings of this device.'
        : `The recordings could not be loaded: ${String(r.result ?? 'no answer')}.`));
      return;
    }
    const recs = r.recordings.filter((x) => x && idOk(x.id))
      .sort((a, b) => (Number(b.start) || 0) - (Number(a.start) || 0));
    draw(recs);
    // A session that ended is final once its file is closed; until then
    // its size and duration read 0.
    const unfinished = recs.some((x) => !x.size && !x.duration);
    if (settleTries > 0 && unfinished) {
      settleTries--;
      schedule(SETTLE_MS);
    } else {
      settleTries = 0;
    }
  };

  function schedule(ms) {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, ms);
  }

  return {
    el: root,
    show() {
      load();
    },
    hide() {
      if (player) player.pause();
    },
    update(what, ev) {
      if (what !== 'event' || ev?.action !== 'relaylog' || ev.nodeid !== nodeid ||
          !TERMINAL_PROTOCOLS.has(Number(ev.protocol))) return;
      // msgArgs carry the seconds only at the end of a session.
      if (Array.isArray(ev.msgArgs) && ev.msgArgs.length > 3) settleTries = SETTLE_TRIES;
      schedule(RELOAD_DELAY_MS);
    },
    leave() {
      clearTimeout(reloadTimer);
      loadSeq++;
      closePlayer();
    },
  };
}
