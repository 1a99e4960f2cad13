// pages/devices.js - the device list: every group with its devices, live
// online state, a name search and an online/offline filter.

import { el, replace } from '../dom.js';
import { byName, isOnline, short, state } from '../state.js';
import { deviceRow, emptyState, loading, option, pageHead } from '../ui.js';

export function devicesView() {
  const search = el('input', {
    id: 'device-search', type: 'search', placeholder: 'Search by name',
    autocomplete: 'off', spellcheck: false, 'aria-label': 'Search devices by name',
  });
  const filter = el('select', { id: 'device-filter', 'aria-label': 'Show' },
    option('all', 'All devices'), option('online', 'Online'),
    option('offline', 'Offline'));
  const summary = el('p', { id: 'device-summary', className: 'muted' });
  const list = el('div', { id: 'device-list' });

  const draw = () => {
    if (!state.loaded) {
      replace(list, loading());
      return;
    }
    const q = search.value.trim().toLowerCase();
    const want = filter.value;
    const byMesh = new Map();
    let total = 0;
    let online = 0;
    for (const node of state.nodes.values()) {
      total++;
      if (isOnline(node)) online++;
      if (!byMesh.has(node.meshid)) byMesh.set(node.meshid, []);
      byMesh.get(node.meshid).push(node);
    }
    summary.textContent = `${online} of ${total} device${total === 1 ? '' : 's'} online`;
    const meshes = [...state.meshes.values()].sort(byName);
    if (!meshes.length) {
      replace(list, emptyState('There are no device groups yet.',
        el('a', { className: 'button', href: '#/groups' }, 'Create a group')));
      return;
    }
    const filtering = q !== '' || want !== 'all';
    const sections = [];
    for (const mesh of meshes) {
      const all = (byMesh.get(mesh._id) ?? []).sort(byName);
      const shown = all.filter((n) => (!q || String(n.name ?? '').toLowerCase().includes(q)) &&
        (want === 'all' || (want === 'online') === isOnline(n)));
      if (filtering && !shown.length) continue;
      const on = all.filter(isOnline).length;
      sections.push(el('section', { className: 'group', 'data-mesh': short(mesh._id) },
        el('div', { className: 'group-head' },
          el('h2', {}, el('a', { href: `#/group/${encodeURIComponent(short(mesh._id))}` },
            String(mesh.name ?? ''))),
          el('span', { className: 'muted' }, `${on} of ${all.length} online`)),
        shown.length
          ? el('ul', { className: 'devices' }, ...shown.map(deviceRow))
          : el('p', { className: 'muted small' },
            'No devices yet. Open the group to see how to add one.')));
    }
    replace(list, ...(sections.length ? sections
      : [emptyState('No device matches.')]));
  };

  let frame = 0;
  const later = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  };
  search.addEventListener('input', later);
  filter.addEventListener('change', draw);
  draw();
  return {
    title: 'Devices',
    el: el('section', { className: 'page' },
      pageHead('Devices', search, filter), summary, list),
    update(what) {
      // At most one redraw per frame, however many agents come and go.
      if (what === 'data' || what === 'conn') later();
    },
  };
}
