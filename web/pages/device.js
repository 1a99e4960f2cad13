// pages/device.js - one device: its details, last connection and events.

import { el, fmtAge, fmtTime, replace } from '../dom.js';
import { isOnline, short, state } from '../state.js';
import { agentText, emptyState, eventsTable, loading, pageHead, stateBadge } from '../ui.js';

export function deviceView(sid) {
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

  draw();
  loadLast();
  loadEvents();
  return {
    title: 'Device',
    el: el('section', { className: 'page' },
      el('a', { className: 'back', href: '#/devices' }, '← Devices'),
      head, el('div', { className: 'panel' }, details),
      el('h2', {}, 'Events'), events),
    update(what, ev) {
      if (what === 'data' || what === 'conn') draw();
      if (what === 'event' && ev?.nodeid === id) {
        if (ev.action === 'nodeconnect') loadLast();
        else loadEvents();
      }
    },
  };
}
