// pages/device.js - one device: its details, last connection and events
// (the Overview tab), and, for users with the rights, its Terminal,
// Desktop, Files and Recordings tabs. The address names the tab (#/device/ID/terminal),
// so a reload comes back to it; switching tabs keeps each tab's session.

import { el, fmtAge, fmtTime, replace } from '../dom.js';
import { MESH_ADMIN, MESH_NO_DESKTOP, MESH_NO_FILES, MESH_NO_TERMINAL, MESH_REMOTE_CONTROL,
  MESH_REMOTE_VIEW_ONLY, isOnline, myRights, short, state } from '../state.js';
import { agentText, emptyState, eventsTable, loading, pageHead, stateBadge } from '../ui.js';
import { desktopTab } from './desktop.js';
import { filesTab } from './files.js';
import { recordingsTab } from './recordings.js';
import { terminalTab } from './terminal.js';

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'terminal', label: 'Terminal', make: terminalTab, deny: MESH_NO_TERMINAL },
  // View-only rights open the desktop too (watching, no input: spec §4.3).
  { id: 'desktop', label: 'Desktop', make: desktopTab, deny: MESH_NO_DESKTOP,
    need: MESH_REMOTE_CONTROL | MESH_REMOTE_VIEW_ONLY },
  { id: 'files', label: 'Files', make: filesTab, deny: MESH_NO_FILES },
  // A recording shows what the terminal showed: the terminal's rights.
  { id: 'recordings', label: 'Recordings', make: recordingsTab, deny: MESH_NO_TERMINAL },
];

/** Whether rights on a group allow a session tab (docs/sessions.md §3):
 * one of the `need` bits (remote control unless the tab says otherwise)
 * and none of `deny`. Only the group's rights count, for site
 * administrators too: the relay and the recordings API decide so. */
function mayOpen(rights, tab) {
  if (rights === MESH_ADMIN) return true;
  return (rights & (tab.need ?? MESH_REMOTE_CONTROL)) !== 0 && (rights & tab.deny) === 0;
}

export function deviceView(arg) {
  const [sid, wantTab] = arg.split('/');
  const id = `node//${sid}`;
  const head = el('div');
  const details = el('dl', { className: 'details' });
  const events = el('div', {}, loading());
  let last = null; // the lastconnect reply

  const loadLast = async () => {
    try {
      const r = await state.ctl.request({ action: 'lastconnect', nodeid: id });
      last = r.result ? null : r;
      draw();
    } catch {
      // Shown as unknown.
    }
  };
  const loadEvents = async () => {
    try {
      const r = await state.ctl.request({ action: 'events', nodeid: id, limit: 200 });
      replace(events, eventsTable(Array.isArray(r.events) ? r.events : [], false));
    } catch {
      replace(events, emptyState('The events could not be loaded.'));
    }
  };

  const row = (label, value) => [el('dt', {}, label), el('dd', {}, value)];
  const draw = () => {
    const node = state.nodes.get(id);
    if (!node) {
      replace(head, pageHead(state.loaded ? 'Device not found' : 'Device'));
      replace(details, ...(state.loaded
        ? [el('p', { className: 'muted' }, 'This device does not exist or you cannot see it.')]
        : [loading()]));
      return;
    }
    document.title = `${node.name ?? 'Device'} · meshd`;
    const mesh = state.meshes.get(node.meshid);
    replace(head, el('div', { className: 'page-head' },
      el('h1', { id: 'device-name' }, String(node.name ?? '')), stateBadge(node)));
    const lastText = isOnline(node) ? 'Connected now'
      : last?.time ? `${fmtTime(last.time)} (${fmtAge(last.time)})` : '—';
    replace(details,
      ...row('Group', mesh ? el('a', { href: `#/group/${encodeURIComponent(short(mesh._id))}` },
        String(mesh.name ?? '')) : '—'),
      ...row('Operating system', String(node.osdesc ?? '—')),
      ...row('IP address', String(node.ip ?? '—')),
      ...row('Agent', agentText(node.agent)),
      ...row('First connected', fmtTime(node.firstconnect)),
      ...row('Last connected', lastText),
      ...row('Last address', String(last?.addr ?? '—')),
      ...(node.desc ? row('Description', String(node.desc)) : []),
      ...(Array.isArray(node.tags) && node.tags.length
        ? row('Tags', node.tags.map(String).join(', ')) : []),
      ...row('Device id', el('code', {}, short(node._id))));
  };

  // Tabs: the bar is redrawn when the rights become known; each tab's
  // panel is made the first time it is shown and kept until leave().
  const bar = el('div', { className: 'tabs', role: 'tablist', 'aria-label': 'Device' });
  const overview = el('div', { id: 'tab-overview', role: 'tabpanel', 'aria-labelledby': 'tabbtn-overview' },
    el('div', { className: 'panel' }, details), el('h2', {}, 'Events'), events);
  const panels = el('div', {}, overview);
  const made = new Map([['overview', { el: overview }]]);
  let current = 'overview';
  let allowed = ['overview'];
  let pending = wantTab; // the tab the address asked for, until known

  const select = (tab, focus) => {
    if (!allowed.includes(tab)) tab = 'overview';
    const old = made.get(current);
    if (old?.hide && tab !== current) old.hide();
    current = tab;
    let t = made.get(tab);
    if (!t) {
      t = TABS.find((x) => x.id === tab).make(id);
      t.el.id = `tab-${tab}`;
      t.el.setAttribute('role', 'tabpanel');
      t.el.setAttribute('aria-labelledby', `tabbtn-${tab}`);
      made.set(tab, t);
      panels.append(t.el);
    }
    for (const [name, x] of made) x.el.hidden = name !== tab;
    for (const b of bar.children) {
      const on = b.dataset.tab === tab;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    history.replaceState(null, '', `#/device/${encodeURIComponent(sid)}` +
      (tab === 'overview' ? '' : `/${tab}`));
    if (t.show) t.show();
  };

  const drawTabs = () => {
    const node = state.nodes.get(id);
    const rights = node ? myRights(state.meshes.get(node.meshid)) : 0;
    const now = TABS.filter((t) => !t.deny || (node && mayOpen(rights, t))).map((t) => t.id);
    let tab = current;
    if (pending && now.includes(pending)) {
      tab = pending;
      pending = null;
    } else if (state.loaded) {
      pending = null; // not a tab this user may open here
    }
    if (now.join() === allowed.join() && bar.children.length && tab === current) return;
    allowed = now;
    replace(bar, ...TABS.filter((t) => allowed.includes(t.id)).map((t) => el('button', {
      id: `tabbtn-${t.id}`, type: 'button', role: 'tab', className: 'tab',
      'data-tab': t.id, 'aria-controls': `tab-${t.id}`,
      onclick: () => select(t.id),
    }, t.label)));
    bar.hidden = allowed.length < 2;
    select(tab);
  };
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  bar.addEventListener('keydown', (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const i = allowed.indexOf(current);
    select(allowed[(i + step + allowed.length) % allowed.length], true);
  });

  draw();
  drawTabs();
  loadLast();
  loadEvents();
  return {
    title: 'Device',
    el: el('section', { className: 'page' },
      el('a', { className: 'back', href: '#/devices' }, '← Devices'),
      head, bar, panels),
    update(what, ev) {
      if (what === 'data' || what === 'conn') {
        draw();
        drawTabs();
      }
      if (what === 'event' && ev?.nodeid === id) {
        if (ev.action === 'nodeconnect') loadLast();
        else loadEvents();
      }
      for (const t of made.values()) if (t.update) t.update(what, ev);
    },
    leave() {
      for (const t of made.values()) if (t.leave) t.leave();
    },
  };
}
