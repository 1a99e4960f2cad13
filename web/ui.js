// ui.js - small pieces the pages share: form fields, error boxes, page
// heads, device rows, the events table and the texts for rights and agent
// types. Server strings only ever become text nodes (see dom.js).

import { el, fmtTime } from './dom.js';
import { MESH_ADMIN, SITE_ADMIN, SITE_LOCKED, SITE_MANAGE_USERS, SITE_NO_NEW_GROUPS,
  isOnline, short, state } from './state.js';

// Device group rights (MESHRIGHT bits, docs/user-api.md §4.1).
const MESH_RIGHTS = [
  [0x1, 'edit group'], [0x2, 'manage users'], [0x4, 'manage devices'],
  [0x8, 'remote control'], [0x10, 'agent console'], [0x20, 'server files'],
  [0x40, 'wake devices'], [0x80, 'edit notes'], [0x100, 'desktop view only'],
  [0x200, 'no terminal'], [0x400, 'no files'], [0x800, 'no Intel AMT'],
  [0x1000, 'limited desktop input'], [0x2000, 'own events only'],
  [0x4000, 'chat and notify'], [0x8000, 'remove devices'],
  [0x10000, 'no desktop'], [0x20000, 'remote commands'],
  [0x40000, 'reset and power off'], [0x80000, 'guest sharing'],
  [0x100000, 'device details'], [0x200000, 'relay'],
];

/** The choices offered when adding a member to a group. */
export const RIGHT_PRESETS = [
  { id: 'admin', label: 'Full administrator', rights: MESH_ADMIN },
  {
    id: 'manage', label: 'Manage devices',
    rights: 0x4 + 0x8 + 0x10 + 0x40 + 0x80 + 0x4000 + 0x8000 + 0x100000,
  },
  { id: 'view', label: 'View only', rights: 0x100000 },
];

// Agent types (agent.id) as meshctrl names them.
const AGENT_TYPES = {
  1: 'Windows 32-bit', 2: 'Windows 64-bit', 3: 'Windows 64-bit',
  4: 'Windows 32-bit', 5: 'Linux 32-bit', 6: 'Linux 64-bit', 7: 'Linux MIPS',
  9: 'Linux ARM', 16: 'macOS 64-bit', 25: 'Linux ARM hard-float',
  26: 'Linux ARM 64-bit', 29: 'macOS ARM 64-bit',
};

export function rightsText(rights) {
  if (rights === MESH_ADMIN) return 'Full administrator';
  const preset = RIGHT_PRESETS.find((p) => p.rights === rights);
  if (preset) return preset.label;
  const names = MESH_RIGHTS.filter(([bit]) => (rights & bit) !== 0)
    .map(([, name]) => name);
  return names.length ? names.join(', ') : 'No rights';
}

export function siteRightsText(siteadmin) {
  if (siteadmin === SITE_ADMIN) return 'Administrator';
  const parts = [];
  if (siteadmin & SITE_MANAGE_USERS) parts.push('manages users');
  if (siteadmin & SITE_LOCKED) parts.push('locked');
  if (siteadmin & SITE_NO_NEW_GROUPS) parts.push('cannot create groups');
  return parts.length ? `User (${parts.join(', ')})` : 'User';
}

export function agentText(agent) {
  if (!agent) return '—';
  const type = AGENT_TYPES[agent.id] ?? `agent type ${agent.id}`;
  const parts = [type];
  if (agent.ver) parts.push(`version ${agent.ver}`);
  if (agent.build) parts.push(`built ${agent.build}`);
  return parts.join(', ');
}

export function field(label, input, hint) {
  return el('div', { className: 'field' },
    el('label', { for: input.id }, label), input,
    hint ? el('p', { className: 'hint' }, hint) : null);
}

/** A hidden alert paragraph with show(text) and hide(). */
export function errorBox(id) {
  const box = el('p', { id, className: 'error', role: 'alert' });
  box.hidden = true;
  return {
    el: box,
    show(text) {
      box.textContent = text;
      box.hidden = false;
    },
    hide() {
      box.hidden = true;
    },
  };
}

export function option(value, label) {
  return el('option', { value }, label);
}

export function stateBadge(node) {
  const on = isOnline(node);
  return el('span', { className: `badge ${on ? 'on' : 'off'}` },
    el('span', { className: 'dot', 'aria-hidden': 'true' }),
    on ? 'online' : 'offline');
}

export function emptyState(text, ...more) {
  return el('div', { className: 'empty' }, el('p', {}, text), ...more);
}

export function pageHead(title, ...tools) {
  return el('div', { className: 'page-head' }, el('h1', {}, title),
    tools.length ? el('div', { className: 'tools' }, ...tools) : null);
}

export function loading() {
  return el('p', { className: 'muted loading' }, 'Loading…');
}

export function eventsTable(events, withDevice) {
  if (!events.length) return emptyState('No events yet.');
  const rows = events.map((e) => {
    const dev = withDevice && e.nodeid ? state.nodes.get(e.nodeid) : null;
    return el('tr', {},
      el('td', { className: 'nowrap' }, fmtTime(e.time)),
      el('td', {}, String(e.action ?? '')),
      el('td', {}, String(e.username ?? e.userid ?? '')),
      el('td', { className: 'msg' }, String(e.msg ?? ''),
        dev ? el('span', { className: 'muted' }, ' — ',
          el('a', { href: `#/device/${encodeURIComponent(short(dev._id))}` },
            String(dev.name ?? ''))) : null));
  });
  return el('div', { className: 'table-wrap' },
    el('table', { className: 'events' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Time'), el('th', {}, 'Event'),
        el('th', {}, 'By'), el('th', {}, 'Message'))),
      el('tbody', {}, ...rows)));
}

export function deviceRow(node) {
  const on = isOnline(node);
  return el('li', { className: `device ${on ? 'online' : 'offline'}`, 'data-node': short(node._id) },
    el('a', { className: 'device-link', href: `#/device/${encodeURIComponent(short(node._id))}` },
      el('span', { className: 'dot', title: on ? 'online' : 'offline', 'aria-hidden': 'true' }),
      el('span', { className: 'device-name' }, String(node.name ?? '')),
      el('span', { className: 'sr-only state' }, on ? ' (online)' : ' (offline)')),
    el('span', { className: 'device-os muted' }, String(node.osdesc ?? '')),
    el('span', { className: 'device-ip muted' }, String(node.ip ?? '')));
}
