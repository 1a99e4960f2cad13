// pages/files.js - the device page's Files tab: browse the device's
// folders, make, rename and delete entries, and upload (button or drag
// and drop) and download files with progress, over a files session
// (files_session.js). Every name from the device goes into text nodes.

import { confirmButton, el, replace } from '../dom.js';
import { FilesSession, joinPath } from '../files_session.js';
import { state } from '../state.js';

const TYPE_DRIVE = 1;
const TYPE_DIR = 2;

/** "1.5 MB" style sizes. */
function fmtSize(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Why a new name is refused, or '' when it is fine (one path component). */
function badName(name) {
  if (!name) return 'Enter a name.';
  if (name === '.' || name === '..') return 'That name is not allowed.';
  if (name.includes('/') || name.includes('\0')) return 'A name cannot contain “/”.';
  return '';
}

/** Saves a Blob as a file named name through a temporary object URL. */
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has taken the blob by the next task; give it time anyway.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** The Files tab of device nodeid: {el, show(), hide(), leave()}. */
export function filesTab(nodeid) {
  const status = el('p', { id: 'files-status', className: 'muted', role: 'status' });
  const error = el('p', { id: 'files-error', className: 'error', role: 'alert' });
  error.hidden = true;
  const crumbs = el('nav', { id: 'files-path', className: 'crumbs', 'aria-label': 'Folder' });
  const up = el('button', { id: 'files-up', type: 'button', className: 'small' }, 'Up');
  const refreshButton = el('button', { id: 'files-refresh', type: 'button', className: 'small' }, 'Refresh');
  const picker = el('input', { id: 'files-pick', type: 'file', multiple: true, className: 'sr-only', tabIndex: -1 });
  const uploadButton = el('button', { id: 'files-upload', type: 'button', className: 'small' }, 'Upload…');
  const mkdirName = el('input', {
    id: 'files-mkdir-name', type: 'text', placeholder: 'New folder name', maxLength: 255,
    autocomplete: 'off', spellcheck: false, 'aria-label': 'New folder name',
  });
  const mkdirForm = el('form', { id: 'files-mkdir', className: 'files-mkdir', noValidate: true },
    mkdirName, el('button', { type: 'submit', className: 'small' }, 'New folder'));
  const list = el('div', { id: 'files-list', className: 'files-list', tabIndex: -1 });
  const transfers = el('ul', { id: 'files-transfers', className: 'transfers', 'aria-label': 'Transfers' });
  const connect = el('button', { id: 'files-connect', type: 'button', className: 'small' }, 'Connect');
  connect.hidden = true;
  const root = el('div', { className: 'files' },
    el('div', { className: 'row-tools' }, connect, status),
    el('div', { className: 'files-bar row-tools' }, up, crumbs),
    el('div', { className: 'files-bar row-tools' }, uploadButton, picker, mkdirForm, refreshButton),
    error, list, transfers,
    el('p', { className: 'small muted' }, 'Drop files on the list to upload them into this folder.'));

  let session = null;
  let tried = false;
  let cwd = ''; // the folder shown ('' until the first listing)
  let entries = [];
  let lastReq = 0;
  let renaming = null; // the entry name being renamed
  let pendingError = ''; // a failed change's reason, shown with the listing
  const transferRows = new Map(); // transfer -> its <li>

  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  const setOpen = (on) => {
    for (const b of [up, refreshButton, uploadButton, ...mkdirForm.elements]) b.disabled = !on;
    connect.hidden = on;
  };
  setOpen(false);

  const go = (path) => {
    if (!session?.open) return;
    showError('');
    renaming = null;
    lastReq = session.list(path);
  };
  const relist = () => go(cwd);
  const parentOf = (path) => {
    const i = path.replace(/\/+$/, '').lastIndexOf('/');
    return i <= 0 ? '/' : path.slice(0, i);
  };

  const drawCrumbs = () => {
    const parts = cwd.split('/').filter(Boolean);
    const items = [el('button', { type: 'button', className: 'link', onclick: () => go('/') }, '/')];
    let path = '';
    parts.forEach((p, i) => {
      path += `/${p}`;
      const target = path;
      if (i > 0) items.push(el('span', { className: 'muted', 'aria-hidden': 'true' }, ' / '));
      items.push(i === parts.length - 1
        ? el('span', { 'aria-current': 'location' }, p)
        : el('button', { type: 'button', className: 'link', onclick: () => go(target) }, p));
    });
    replace(crumbs, ...items);
    up.disabled = !session?.open || cwd === '/' || cwd === '';
  };

  const renameForm = (entry) => {
    const input = el('input', {
      type: 'text', value: entry.n, maxLength: 255, autocomplete: 'off', spellcheck: false,
      className: 'files-rename-input', 'aria-label': `New name for ${entry.n}`,
    });
    const form = el('form', {
      className: 'files-rename', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const name = input.value.trim();
        const why = badName(name);
        if (why) {
          showError(why);
          return;
        }
        renaming = null;
        if (name !== entry.n) {
          session.rename(cwd, entry.n, name);
          relist();
        } else {
          drawList();
        }
      },
    }, input, el('button', { type: 'submit', className: 'small' }, 'Save'),
    el('button', {
      type: 'button', className: 'small ghost-border',
      onclick: () => { renaming = null; drawList(); },
    }, 'Cancel'));
    setTimeout(() => input.select(), 0);
    return form;
  };

  const drawList = () => {
    if (!entries.length) {
      replace(list, el('p', { className: 'muted empty-folder' }, 'This folder is empty.'));
      return;
    }
    const rows = entries.map((e) => {
      const folder = e.t === TYPE_DIR || e.t === TYPE_DRIVE;
      const name = String(e.n);
      const nameCell = renaming === name ? renameForm(e)
        : folder ? el('button', {
          type: 'button', className: 'link entry-name',
          onclick: () => go(joinPath(cwd, name)),
        }, name)
          : el('span', { className: 'entry-name' }, name);
      const actions = [];
      if (!folder) {
        actions.push(el('button', {
          type: 'button', className: 'small', 'data-action': 'download',
          onclick: () => session.download(cwd, name, Number(e.s)),
        }, 'Download'));
      }
      if (e.t !== TYPE_DRIVE) {
        actions.push(el('button', {
          type: 'button', className: 'small ghost-border', 'data-action': 'rename',
          onclick: () => { renaming = name; drawList(); },
        }, 'Rename'));
        actions.push(confirmButton('Delete', 'Confirm delete', async () => {
          session.remove(cwd, [name], folder);
          relist();
        }, { className: 'small danger', 'data-action': 'delete' }));
      }
      return el('tr', { 'data-name': name, className: folder ? 'folder' : 'file' },
        el('td', { className: 'kind', 'aria-label': folder ? 'folder' : 'file' },
          el('span', { className: folder ? 'icon-folder' : 'icon-file', 'aria-hidden': 'true' })),
        el('td', { className: 'name' }, nameCell),
        el('td', { className: 'nowrap size' }, folder ? '' : fmtSize(Number(e.s))),
        el('td', { className: 'nowrap muted' }, String(e.d ?? '').replace('T', ' ').replace(/Z$/, '')),
        el('td', { className: 'actions' }, ...actions));
    });
    replace(list, el('div', { className: 'table-wrap' }, el('table', { id: 'files-table' },
      el('thead', {}, el('tr', {}, el('th', {}, el('span', { className: 'sr-only' }, 'Type')),
        el('th', {}, 'Name'), el('th', {}, 'Size'), el('th', {}, 'Modified'), el('th', {}))),
      el('tbody', {}, ...rows))));
  };

  const drawTransfer = (t) => {
    let li = transferRows.get(t);
    if (!li) {
      li = el('li', { className: 'transfer' });
      transferRows.set(t, li);
      transfers.append(li);
    }
    const total = t.size || 0;
    const at = t.kind === 'upload' ? t.acked : t.got;
    const what = t.kind === 'upload' ? 'Upload' : 'Download';
    const text = {
      waiting: 'waiting',
      running: total ? `${Math.floor((100 * at) / total)}%` : fmtSize(at),
      done: 'done',
      cancelled: 'cancelled',
      error: `failed: ${t.error}`,
    }[t.state];
    const bar = el('progress', { max: Math.max(total, 1), value: t.state === 'done' ? Math.max(total, 1) : at });
    bar.setAttribute('aria-label', `${what} of ${t.name}`);
    li.dataset.state = t.state;
    li.dataset.kind = t.kind;
    replace(li, el('span', { className: 'transfer-name' }, `${what} ${t.name}`), bar,
      el('span', { className: 'transfer-state small muted' }, text),
      t.state === 'waiting' || t.state === 'running'
        ? el('button', {
          type: 'button', className: 'small ghost-border', onclick: () => session.cancel(t),
        }, 'Cancel') : null);
  };

  const onChange = () => {
    for (const t of [...session.queue, ...session.done]) {
      if (t.kind === 'download' && t.state === 'done' && t.blob) {
        saveBlob(t.blob, t.name);
        t.blob = null;
      }
      if (t.kind === 'upload' && t.state === 'done' && !t.listed) {
        t.listed = true;
        if (t.path === cwd) relist();
      }
      drawTransfer(t);
    }
  };

  const uploadFiles = (files) => {
    if (!session?.open || !cwd) return;
    for (const f of files) session.upload(cwd, f);
  };

  const start = async () => {
    if (session) return;
    connect.disabled = true;
    showError('');
    status.textContent = 'Connecting…';
    const s = new FilesSession(state.ctl, nodeid);
    session = s;
    s.onopen = () => {
      status.textContent = 'Connected.';
      setOpen(true);
      go(cwd || '');
    };
    s.tunnel.ontransport = () => {
      status.textContent = 'Connected directly (WebRTC).';
    };
    s.onlist = (path, dir, reqid, why) => {
      if (reqid !== lastReq) return;
      if (dir === null) {
        // Unreadable or gone: show why, and go up (as the stock viewer).
        showError(`Cannot open ${path}${why ? `: ${why}` : ''}.`);
        if (path !== '/' && path !== '') lastReq = s.list(parentOf(path));
        return;
      }
      cwd = path || '/';
      showError(pendingError);
      pendingError = '';
      entries = dir.filter((e) => e && typeof e.n === 'string')
        .sort((a, b) => ((b.t !== 3) - (a.t !== 3)) ||
          a.n.localeCompare(b.n, undefined, { numeric: true }));
      drawCrumbs();
      drawList();
    };
    // The agent's status line: "Waiting for user to grant access..." while
    // the device's user is asked, cleared (null) once they allow it.
    s.onconsole = (text) => showError(text ?? '');
    // The listing that follows every change clears the error: keep it.
    s.onerror = (text) => { pendingError = text; showError(text); };
    s.onchange = onChange;
    s.onclose = ({ reason, opened }) => {
      if (session === s) session = null;
      setOpen(false);
      connect.disabled = false;
      connect.textContent = 'Reconnect';
      status.textContent = opened
        ? `Session ended${reason && reason !== 'closed here' ? `: ${reason}` : ''}.`
        : `No session: ${reason || 'the device did not answer'}.`;
    };
    try {
      await s.start();
    } catch (x) {
      if (session === s) session = null;
      s.close();
      status.textContent = `No session: ${x.message}.`;
    }
  };

  connect.addEventListener('click', start);
  up.addEventListener('click', () => go(parentOf(cwd)));
  refreshButton.addEventListener('click', relist);
  uploadButton.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => {
    uploadFiles([...picker.files]);
    picker.value = '';
  });
  mkdirForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = mkdirName.value.trim();
    const why = badName(name);
    if (why) {
      showError(why);
      return;
    }
    mkdirName.value = '';
    session.mkdir(joinPath(cwd, name));
    relist();
  });
  // Drag and drop: files dropped on the listing go into this folder.
  list.addEventListener('dragover', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    list.classList.add('drop');
  });
  list.addEventListener('dragleave', () => list.classList.remove('drop'));
  list.addEventListener('drop', (e) => {
    list.classList.remove('drop');
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    uploadFiles([...e.dataTransfer.files]);
  });

  return {
    el: root,
    show() {
      // The first look connects; later ones keep what is there.
      if (!tried) {
        tried = true;
        start();
      }
    },
    leave() {
      if (session) session.close();
    },
  };
}
