// app.js - the meshd web app's entry point (an ES module, no build step).
//
// First run: a setup form creates the first administrator (/api/setup).
// Then sign-in (/api/login sets an HttpOnly session cookie) and one
// /control.ashx WebSocket for everything else: device groups and devices
// with live online state, device details and events, group members and
// their rights, users, the event log and the account.
//
// Everything shown is built with dom.js: text from the server (device
// names, OS strings, user names, event messages) only ever goes into text
// nodes, never into markup, so an agent or a user cannot inject HTML.

import { AuthError, Control, apiCall } from './api.js';
import { confirmButton, el, fmtAge, fmtTime, replace } from './dom.js';

// ------------------------------------------------------------ constants

const SITE_ADMIN = 0xFFFFFFFF;
const SITE_MANAGE_USERS = 0x2;
const SITE_LOCKED = 0x20;
const SITE_NO_NEW_GROUPS = 0x40;
const MESH_ADMIN = 0xFFFFFFFF;
const MESH_MANAGE_USERS = 0x2;

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

// The choices offered when adding a member to a group.
const RIGHT_PRESETS = [
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

// Events that change the groups or the devices: re-read both lists.
const LIST_EVENTS = new Set(['addnode', 'changenode', 'removenode',
  'createmesh', 'deletemesh', 'meshchange']);

// ---------------------------------------------------------------- state

const state = {
  ctl: null,
  user: null,
  serverinfo: null,
  meshes: new Map(), // "mesh//id" -> group
  nodes: new Map(), // "node//id" -> device (with meshid added)
  loaded: false,
};

const root = document.getElementById('app');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
const banner = document.getElementById('conn-banner');

let current = null; // the view on screen: {el, update(what, ev), title}

const short = (id) => String(id).replace(/^[a-z]+\/\/?/, '');
const isAdmin = () => state.user?.siteadmin === SITE_ADMIN;
const canManageUsers = () => ((state.user?.siteadmin ?? 0) & SITE_MANAGE_USERS) !== 0;
const myRights = (mesh) => mesh?.links?.[state.user?._id]?.rights ?? 0;
const isOnline = (node) => ((node.conn ?? 0) & 1) !== 0;
const byName = (a, b) => String(a.name ?? '').localeCompare(String(b.name ?? ''),
  undefined, { sensitivity: 'base', numeric: true });

function rightsText(rights) {
  if (rights === MESH_ADMIN) return 'Full administrator';
  const preset = RIGHT_PRESETS.find((p) => p.rights === rights);
  if (preset) return preset.label;
  const names = MESH_RIGHTS.filter(([bit]) => (rights & bit) !== 0)
    .map(([, name]) => name);
  return names.length ? names.join(', ') : 'No rights';
}

function siteRightsText(siteadmin) {
  if (siteadmin === SITE_ADMIN) return 'Administrator';
  const parts = [];
  if (siteadmin & SITE_MANAGE_USERS) parts.push('manages users');
  if (siteadmin & SITE_LOCKED) parts.push('locked');
  if (siteadmin & SITE_NO_NEW_GROUPS) parts.push('cannot create groups');
  return parts.length ? `User (${parts.join(', ')})` : 'User';
}

function agentText(agent) {
  if (!agent) return '—';
  const type = AGENT_TYPES[agent.id] ?? `agent type ${agent.id}`;
  const parts = [type];
  if (agent.ver) parts.push(`version ${agent.ver}`);
  if (agent.build) parts.push(`built ${agent.build}`);
  return parts.join(', ');
}

// ------------------------------------------------------- small builders

function field(label, input, hint) {
  return el('div', { className: 'field' },
    el('label', { for: input.id }, label), input,
    hint ? el('p', { className: 'hint' }, hint) : null);
}

function errorBox(id) {
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

function option(value, label) {
  return el('option', { value }, label);
}

function stateBadge(node) {
  const on = isOnline(node);
  return el('span', { className: `badge ${on ? 'on' : 'off'}` },
    el('span', { className: 'dot', 'aria-hidden': 'true' }),
    on ? 'online' : 'offline');
}

function emptyState(text, ...more) {
  return el('div', { className: 'empty' }, el('p', {}, text), ...more);
}

function pageHead(title, ...tools) {
  return el('div', { className: 'page-head' }, el('h1', {}, title),
    tools.length ? el('div', { className: 'tools' }, ...tools) : null);
}

function loading() {
  return el('p', { className: 'muted loading' }, 'Loading…');
}

function eventsTable(events, withDevice) {
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

// ------------------------------------------------------ data and events

let refreshing = null;
let refreshAgain = false;

/** Re-reads groups and devices; concurrent calls coalesce into one more. */
async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      const [m, n] = await Promise.all([
        state.ctl.request({ action: 'meshes' }),
        state.ctl.request({ action: 'nodes' }),
      ]);
      const meshes = new Map();
      for (const g of Array.isArray(m.meshes) ? m.meshes : []) meshes.set(g._id, g);
      const nodes = new Map();
      for (const [meshid, list] of Object.entries(n.nodes ?? {})) {
        if (!Array.isArray(list)) continue;
        for (const node of list) nodes.set(node._id, { ...node, meshid });
      }
      state.meshes = meshes;
      state.nodes = nodes;
      state.loaded = true;
      notify('data');
    } while (refreshAgain);
  })();
  try {
    await refreshing;
  } catch {
    // The connection dropped; reconnecting refreshes again.
  } finally {
    refreshing = null;
  }
}

let refreshTimer = 0;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 60);
}

function onEvent(ev) {
  const action = ev.action;
  if (action === 'nodeconnect') {
    const node = state.nodes.get(ev.nodeid);
    if (!node) {
      scheduleRefresh();
    } else {
      if (ev.conn) {
        node.conn = ev.conn;
        node.pwr = ev.pwr;
        node.agct = Date.now();
      } else {
        delete node.conn;
        delete node.pwr;
        delete node.agct;
      }
      notify('conn');
    }
  } else if (LIST_EVENTS.has(action)) {
    scheduleRefresh();
  }
  notify('event', ev);
}

function notify(what, ev) {
  if (current?.update) current.update(what, ev);
}

// ---------------------------------------------------------------- views

function devicesView() {
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

function deviceRow(node) {
  const on = isOnline(node);
  return el('li', { className: `device ${on ? 'online' : 'offline'}`, 'data-node': short(node._id) },
    el('a', { className: 'device-link', href: `#/device/${encodeURIComponent(short(node._id))}` },
      el('span', { className: 'dot', title: on ? 'online' : 'offline', 'aria-hidden': 'true' }),
      el('span', { className: 'device-name' }, String(node.name ?? '')),
      el('span', { className: 'sr-only state' }, on ? ' (online)' : ' (offline)')),
    el('span', { className: 'device-os muted' }, String(node.osdesc ?? '')),
    el('span', { className: 'device-ip muted' }, String(node.ip ?? '')));
}

function deviceView(sid) {
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

function groupsView() {
  const list = el('div', { id: 'group-list' });
  const err = errorBox('group-error');
  const name = el('input', { id: 'group-name', type: 'text', required: true, maxLength: 128 });
  const desc = el('input', { id: 'group-desc', type: 'text', maxLength: 1024 });
  const submit = el('button', { id: 'group-create', type: 'submit' }, 'Create group');
  const mayCreate = isAdmin() || !((state.user?.siteadmin ?? 0) & SITE_NO_NEW_GROUPS);

  const onSubmit = async (e) => {
    e.preventDefault();
    err.hide();
    const meshname = name.value.trim();
    if (!meshname) {
      err.show('Enter a name for the group.');
      return;
    }
    submit.disabled = true;
    try {
      const r = await state.ctl.request({
        action: 'createmesh', meshname, meshtype: 2,
        ...(desc.value.trim() ? { desc: desc.value.trim() } : {}),
      });
      if (r.result !== 'ok') {
        err.show(String(r.result ?? 'The group could not be created.'));
        return;
      }
      name.value = '';
      desc.value = '';
      await refresh();
      location.hash = `#/group/${encodeURIComponent(short(r.meshid))}`;
    } catch (x) {
      err.show(String(x.message));
    } finally {
      submit.disabled = false;
    }
  };

  const draw = () => {
    if (!state.loaded) {
      replace(list, loading());
      return;
    }
    const meshes = [...state.meshes.values()].sort(byName);
    if (!meshes.length) {
      replace(list, emptyState('You are not in any device group yet.'));
      return;
    }
    const counts = new Map();
    for (const n of state.nodes.values()) counts.set(n.meshid, (counts.get(n.meshid) ?? 0) + 1);
    replace(list, el('ul', { className: 'cards' }, ...meshes.map((m) =>
      el('li', { className: 'card-item', 'data-mesh': short(m._id) },
        el('a', { className: 'card-title', href: `#/group/${encodeURIComponent(short(m._id))}` },
          String(m.name ?? '')),
        m.desc ? el('p', { className: 'muted' }, String(m.desc)) : null,
        el('p', { className: 'small muted' },
          `${counts.get(m._id) ?? 0} devices · ${Object.keys(m.links ?? {}).length} members · ` +
          `you: ${rightsText(myRights(m))}`)))));
  };
  draw();
  return {
    title: 'Groups',
    el: el('section', { className: 'page' }, pageHead('Device groups'), list,
      mayCreate ? el('form', { id: 'group-form', className: 'panel form', noValidate: true, onsubmit: onSubmit },
        el('h2', {}, 'New group'),
        field('Name', name), field('Description (optional)', desc), err.el, submit) : null),
    update(what) {
      if (what === 'data' || what === 'conn') draw();
    },
  };
}

function groupView(sid) {
  const id = `mesh//${sid}`;
  const body = el('div');
  const err = errorBox('member-error');
  const note = el('p', { id: 'member-result', className: 'notice', role: 'status' });
  note.hidden = true;
  const user = el('input', {
    id: 'member-user', type: 'text', required: true, autocomplete: 'off',
    autocapitalize: 'none', spellcheck: false,
  });
  const rights = el('select', { id: 'member-rights' },
    ...RIGHT_PRESETS.map((p) => option(p.id, p.label)));
  rights.value = 'view';
  const submit = el('button', { id: 'member-add', type: 'submit' }, 'Add member');

  const onAdd = async (e) => {
    e.preventDefault();
    err.hide();
    note.hidden = true;
    const name = user.value.trim();
    if (!name) {
      err.show('Enter the user name of the new member.');
      return;
    }
    const preset = RIGHT_PRESETS.find((p) => p.id === rights.value);
    submit.disabled = true;
    try {
      const r = await state.ctl.request({
        action: 'addmeshuser', meshid: id, usernames: [name], meshadmin: preset.rights,
      });
      if (r.success > 0) {
        user.value = '';
        note.textContent = String(r.result);
        note.hidden = false;
        await refresh();
      } else {
        err.show(r.result === 'Nothing done' ? `There is no user called ${name}.`
          : String(r.result ?? 'The member could not be added.'));
      }
    } catch (x) {
      err.show(String(x.message));
    } finally {
      submit.disabled = false;
    }
  };

  const draw = () => {
    const mesh = state.meshes.get(id);
    if (!mesh) {
      replace(body, ...(state.loaded
        ? [pageHead('Group not found'),
          el('p', { className: 'muted' }, 'This group does not exist or you are not a member.')]
        : [loading()]));
      return;
    }
    document.title = `${mesh.name ?? 'Group'} · meshd`;
    const mine = myRights(mesh);
    const manage = (mine & MESH_MANAGE_USERS) !== 0;
    const members = Object.entries(mesh.links ?? {})
      .map(([uid, l]) => ({ uid, name: String(l?.name || short(uid)), rights: Number(l?.rights ?? 0) }))
      .sort(byName);
    const devices = [...state.nodes.values()].filter((n) => n.meshid === id).sort(byName);

    const memberRow = (m) => {
      const self = m.uid === state.user._id;
      const removable = manage && !self && (m.rights !== MESH_ADMIN || mine === MESH_ADMIN);
      return el('tr', { 'data-user': short(m.uid) },
        el('td', {}, m.name, self ? el('span', { className: 'muted' }, ' (you)') : null),
        el('td', {}, rightsText(m.rights)),
        el('td', { className: 'actions' }, removable
          ? confirmButton('Remove', 'Confirm remove', async () => {
            const r = await state.ctl.request({ action: 'removemeshuser', meshid: id, userid: m.uid });
            if (r.result !== 'ok') err.show(String(r.result));
            await refresh();
          }, { className: 'small danger' })
          : null));
    };

    replace(body,
      el('div', { className: 'page-head' },
        el('h1', { id: 'group-title' }, String(mesh.name ?? '')),
        mine === MESH_ADMIN ? el('div', { className: 'tools' },
          confirmButton('Delete group', 'Confirm delete', async () => {
            const r = await state.ctl.request({ action: 'deletemesh', meshid: id });
            if (r.result === 'ok') {
              await refresh();
              location.hash = '#/groups';
            } else {
              err.show(String(r.result));
            }
          }, { id: 'group-delete', className: 'danger' })) : null),
      mesh.desc ? el('p', { className: 'muted' }, String(mesh.desc)) : null,
      el('p', { className: 'small muted' }, `Your rights: ${rightsText(mine)}`),
      el('h2', {}, 'Devices'),
      devices.length
        ? el('ul', { className: 'devices' }, ...devices.map(deviceRow))
        : el('div', { className: 'empty' },
          el('p', {}, 'No devices yet. To add one, put this group\'s agent settings ',
            'beside meshagent as meshagent.msh and run “meshagent run”.')),
      el('p', { className: 'small' },
        el('a', {
          id: 'group-msh', download: 'meshagent.msh',
          href: `/meshsettings?id=${encodeURIComponent(short(mesh._id))}`,
        }, 'Download meshagent.msh'),
        el('span', { className: 'muted' }, ` or, on the server: meshd agent-config ${short(mesh._id)}`)),
      el('h2', {}, 'Members'),
      el('div', { className: 'table-wrap' },
        el('table', { id: 'member-table' },
          el('thead', {}, el('tr', {}, el('th', {}, 'User'), el('th', {}, 'Rights'), el('th', {}))),
          el('tbody', {}, ...members.map(memberRow)))),
      manage ? el('form', { id: 'member-form', className: 'panel form inline', noValidate: true, onsubmit: onAdd },
        el('h2', {}, 'Add a member'),
        el('div', { className: 'row' }, field('User name', user), field('Rights', rights)),
        err.el, note, submit) : err.el);
  };
  draw();
  return {
    title: 'Group',
    el: el('section', { className: 'page' },
      el('a', { className: 'back', href: '#/groups' }, '← Groups'), body),
    update(what) {
      // Redrawing would drop what is being typed into the member form.
      if (what === 'data' || what === 'conn') {
        const typed = user.value;
        const focused = document.activeElement === user;
        draw();
        user.value = typed;
        if (focused) user.focus();
      }
    },
  };
}

function usersView() {
  if (!canManageUsers()) {
    return {
      title: 'Users',
      el: el('section', { className: 'page' }, pageHead('Users'),
        el('p', { id: 'access-denied', className: 'notice' },
          'Only administrators can see the user accounts.')),
    };
  }
  const list = el('div', { id: 'user-list' }, loading());
  const err = errorBox('adduser-error');
  const name = el('input', { id: 'new-user', type: 'text', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: false });
  const email = el('input', { id: 'new-email', type: 'email', autocomplete: 'off' });
  const pass = el('input', { id: 'new-pass', type: 'password', required: true, autocomplete: 'new-password' });
  const role = el('select', { id: 'new-role' }, option('user', 'User'),
    isAdmin() ? option('admin', 'Administrator') : null);
  const submit = el('button', { id: 'adduser', type: 'submit' }, 'Add user');

  const load = async () => {
    try {
      const r = await state.ctl.request({ action: 'users' });
      if (r.result) {
        replace(list, emptyState(String(r.result)));
        return;
      }
      const users = (Array.isArray(r.users) ? r.users : []).sort(byName);
      replace(list, el('div', { className: 'table-wrap' }, el('table', { id: 'user-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'User'), el('th', {}, 'E-mail'),
          el('th', {}, 'Role'), el('th', {}, 'Created'), el('th', {}))),
        el('tbody', {}, ...users.map((u) => el('tr', { 'data-user': short(u._id) },
          el('td', {}, String(u.name ?? ''), u._id === state.user._id
            ? el('span', { className: 'muted' }, ' (you)') : null),
          el('td', {}, String(u.email ?? '')),
          el('td', {}, siteRightsText(u.siteadmin ?? 0)),
          el('td', { className: 'nowrap' }, fmtTime(u.creation)),
          el('td', { className: 'actions' }, u._id === state.user._id ? null
            : confirmButton('Remove', 'Confirm remove', async () => {
              const d = await state.ctl.request({ action: 'deleteuser', userid: u._id });
              if (d.result !== 'ok') err.show(String(d.result));
              load();
            }, { className: 'small danger' }))))))));
    } catch (x) {
      replace(list, emptyState(String(x.message)));
    }
  };

  const onSubmit = async (e) => {
    e.preventDefault();
    err.hide();
    if (!name.value.trim() || pass.value.length < 8) {
      err.show('Enter a user name and a password of at least 8 characters.');
      return;
    }
    submit.disabled = true;
    try {
      const r = await state.ctl.request({
        action: 'adduser', username: name.value.trim(), pass: pass.value,
        ...(email.value.trim() ? { email: email.value.trim() } : {}),
        ...(role.value === 'admin' ? { siteadmin: SITE_ADMIN } : {}),
      });
      if (r.result !== 'ok') {
        err.show(String(r.result ?? 'The user could not be added.'));
        return;
      }
      name.value = '';
      email.value = '';
      pass.value = '';
      role.value = 'user';
      load();
    } catch (x) {
      err.show(String(x.message));
    } finally {
      submit.disabled = false;
    }
  };

  load();
  return {
    title: 'Users',
    el: el('section', { className: 'page' }, pageHead('Users'), list,
      el('form', { id: 'adduser-form', className: 'panel form', noValidate: true, onsubmit: onSubmit },
        el('h2', {}, 'New user'),
        el('div', { className: 'row' }, field('User name', name), field('E-mail (optional)', email)),
        el('div', { className: 'row' }, field('Password', pass), field('Role', role)),
        err.el, submit)),
    update(what, ev) {
      if (what === 'event' && ev?.etype === 'user') load();
    },
  };
}

function eventsView() {
  const list = el('div', { id: 'event-list' }, loading());
  let events = [];
  const load = async () => {
    try {
      const r = await state.ctl.request({ action: 'events', limit: 500 });
      events = Array.isArray(r.events) ? r.events : [];
      replace(list, eventsTable(events, true));
    } catch (x) {
      replace(list, emptyState(String(x.message)));
    }
  };
  load();
  return {
    title: 'Events',
    el: el('section', { className: 'page' }, pageHead('Events'), list),
    update(what, ev) {
      // Stored events carry a time; the rest (nodeconnect) are live only.
      if (what === 'event' && ev?.time) {
        events = [ev, ...events].slice(0, 500);
        replace(list, eventsTable(events, true));
      }
    },
  };
}

function accountView() {
  const u = state.user;
  const err = errorBox('account-error');
  const note = el('p', { className: 'notice', role: 'status' });
  note.hidden = true;
  const row = (label, value) => [el('dt', {}, label), el('dd', {}, value)];
  const details = el('dl', { className: 'details' });
  const draw = () => replace(details,
    ...row('User name', String(u.name ?? '')),
    ...row('Account id', el('code', {}, String(u._id ?? ''))),
    ...row('E-mail', String(u.email ?? '—')),
    ...row('Real name', String(u.realname ?? '—')),
    ...row('Role', siteRightsText(u.siteadmin ?? 0)),
    ...row('Created', fmtTime(u.creation)),
    ...row('Password changed', u.passchange > 0 ? fmtTime(u.passchange) : '—'),
    ...row('Server', String(state.serverinfo?.name ?? location.host)));
  draw();

  let form = null;
  if (canManageUsers()) {
    const email = el('input', { id: 'account-email', type: 'email', value: u.email ?? '' });
    const realname = el('input', { id: 'account-realname', type: 'text', value: u.realname ?? '', maxLength: 256 });
    const save = el('button', { id: 'account-save', type: 'submit' }, 'Save');
    form = el('form', {
      id: 'account-form', className: 'panel form', noValidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        err.hide();
        note.hidden = true;
        save.disabled = true;
        try {
          const r = await state.ctl.request({
            action: 'edituser', userid: u._id, email: email.value.trim(), realname: realname.value.trim(),
          });
          if (r.result !== 'ok') {
            err.show(String(r.result));
            return;
          }
          u.email = email.value.trim() || undefined;
          u.realname = realname.value.trim() || undefined;
          draw();
          note.textContent = 'Saved.';
          note.hidden = false;
        } catch (x) {
          err.show(String(x.message));
        } finally {
          save.disabled = false;
        }
      },
    }, el('h2', {}, 'Profile'),
    el('div', { className: 'row' }, field('E-mail', email), field('Real name', realname)),
    err.el, note, save);
  }
  return {
    title: 'Account',
    el: el('section', { className: 'page' }, pageHead('Account'),
      el('div', { className: 'panel' }, details), form, passwordPanel(), otpPanel(u),
      el('div', { className: 'panel' },
        el('h2', {}, 'Session'),
        el('p', { className: 'muted' }, 'Sessions last 12 hours. Signing out ends this one.'),
        el('button', { id: 'account-signout', type: 'button', onclick: signOut }, 'Sign out'))),
  };
}

/**
 * The Account page's password form: current, new and repeated. The two
 * new ones must match here; the server checks the current one and the
 * length and answers with a text that is shown as it is. A change ends
 * every session of the account (this one too), so the user signs in again.
 */
function passwordPanel() {
  const err = errorBox('password-error');
  const pw = (id, autocomplete) => el('input', {
    id, type: 'password', autocomplete, maxLength: 256, required: true,
  });
  const current = pw('password-current', 'current-password');
  const next = pw('password-new', 'new-password');
  const again = pw('password-repeat', 'new-password');
  const save = el('button', { id: 'password-save', type: 'submit' }, 'Change password');
  const clear = () => { current.value = ''; next.value = ''; again.value = ''; };
  return el('form', {
    id: 'password-form', className: 'panel form', noValidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.hide();
      if (next.value !== again.value) {
        err.show('The new passwords do not match.');
        return;
      }
      if (next.value.length < 8) {
        err.show('The new password needs at least 8 characters.');
        return;
      }
      save.disabled = true;
      try {
        const r = await state.ctl.request({
          action: 'changepassword', oldpass: current.value, newpass: next.value,
        });
        if (r.result !== 'ok') {
          err.show(String(r.result));
          return;
        }
        clear();
        await signOut('Password changed. Sign in again with the new password.');
      } catch (x) {
        err.show(String(x.message));
      } finally {
        save.disabled = false;
      }
    },
  }, el('h2', {}, 'Password'),
  el('div', { className: 'row' }, field('Current password', current)),
  el('div', { className: 'row' }, field('New password', next), field('Repeat new password', again)),
  err.el, save);
}

/**
 * The Account page's two-factor panel: set up (the secret and its
 * otpauth URL shown as text, confirmed with a code), the recovery codes
 * shown once, and turning it off with a code. The server keeps the new
 * secret in this connection only until a right code confirms it.
 */
function otpPanel(u) {
  const panel = el('div', { id: 'otp-panel', className: 'panel' });
  const err = errorBox('otp-error');
  const codeInput = (id) => el('input', {
    id, type: 'text', inputMode: 'numeric', autocomplete: 'one-time-code',
    maxLength: 16, spellcheck: false,
  });
  const busy = async (button, fn) => {
    err.hide();
    button.disabled = true;
    try {
      await fn();
    } catch (x) {
      err.show(String(x.message));
    } finally {
      button.disabled = false;
    }
  };
  const head = () => el('h2', {}, 'Two-factor sign-in');

  const showOff = () => {
    const start = el('button', { id: 'otp-setup', type: 'button' }, 'Set up two-factor sign-in');
    start.onclick = () => busy(start, async () => {
      const r = await state.ctl.request({ action: 'otp-setup' });
      if (r.result !== 'ok') { err.show(String(r.result)); return; }
      showSetup(String(r.secret ?? ''), String(r.url ?? ''), r.qr);
    });
    replace(panel, head(),
      el('p', { className: 'muted', id: 'otp-state' },
        'Off. With it on, signing in also asks for a code from an authenticator app.'),
      err.el, start);
  };

  /** Draws the server's QR module matrix on a canvas (4-module margin). */
  const qrCanvas = (qr) => {
    const n = Number(qr?.size);
    const mods = typeof qr?.modules === 'string' ? qr.modules : '';
    if (!Number.isInteger(n) || n < 21 || n > 177 || mods.length !== n * n) return null;
    const scale = 4, margin = 4, side = (n + 2 * margin) * scale;
    const canvas = el('canvas', {
      id: 'otp-qr', width: side, height: side, className: 'qr',
      'aria-label': 'QR code of the otpauth link',
    });
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, side, side);
    g.fillStyle = '#000';
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        if (mods[y * n + x] === '1') g.fillRect((x + margin) * scale, (y + margin) * scale, scale, scale);
      }
    }
    return canvas;
  };

  const showSetup = (secret, url, qr) => {
    const code = codeInput('otp-code');
    const confirm = el('button', { id: 'otp-confirm', type: 'submit' }, 'Turn on');
    const form = el('form', {
      className: 'form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        busy(confirm, async () => {
          const r = await state.ctl.request({ action: 'otp-confirm', token: code.value.trim() });
          code.value = '';
          if (r.result !== 'ok') { err.show(String(r.result)); return; }
          u.otpsecret = 1;
          showRecovery(Array.isArray(r.recovery) ? r.recovery : []);
        });
      },
    }, field('Code from the app', code), err.el, confirm);
    replace(panel, head(),
      el('p', {}, 'Scan the QR code with your authenticator app (or type the key below), ' +
        'then enter the 6-digit code it shows.'),
      qrCanvas(qr),
      el('dl', { className: 'details' },
        el('dt', {}, 'Key'), el('dd', {}, el('code', { id: 'otp-secret' }, secret)),
        el('dt', {}, 'Link'), el('dd', {}, el('code', { id: 'otp-url' }, url))),
      form);
    code.focus();
  };

  const showRecovery = (codes) => {
    const done = el('button', { id: 'otp-done', type: 'button', onclick: () => showOn() }, 'Done');
    replace(panel, head(),
      el('p', { className: 'notice', role: 'status' },
        'Two-factor sign-in is on. Keep these recovery codes somewhere safe: ' +
        'each one signs in once instead of a code. They are shown only now.'),
      el('ul', { id: 'otp-recovery', className: 'codes' },
        ...codes.map((c) => el('li', {}, el('code', {}, String(c))))),
      done);
  };

  const showOn = () => {
    const code = codeInput('otp-remove-code');
    const off = el('button', { id: 'otp-remove', type: 'submit' }, 'Turn off');
    const form = el('form', {
      className: 'form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        busy(off, async () => {
          const r = await state.ctl.request({ action: 'otp-remove', token: code.value.trim() });
          code.value = '';
          if (r.result !== 'ok') { err.show(String(r.result)); return; }
          delete u.otpsecret;
          showOff();
        });
      },
    }, field('Code or recovery code', code), err.el, off);
    replace(panel, head(),
      el('p', { id: 'otp-state' }, 'On: signing in asks for a code from your authenticator app.'),
      form);
  };

  if (u.otpsecret) showOn();
  else showOff();
  return panel;
}

const VIEWS = {
  devices: devicesView, device: deviceView, groups: groupsView,
  group: groupView, users: usersView, events: eventsView, account: accountView,
};

function route() {
  if (!state.ctl) return;
  const hash = location.hash.replace(/^#\/?/, '');
  const slash = hash.indexOf('/');
  const name = slash < 0 ? hash : hash.slice(0, slash);
  let arg = slash < 0 ? '' : hash.slice(slash + 1);
  try {
    arg = decodeURIComponent(arg);
  } catch {
    arg = '';
  }
  const make = VIEWS[name || 'devices'];
  current = make ? make(arg) : {
    title: 'Not found',
    el: el('section', { className: 'page' }, pageHead('Not found'),
      el('p', {}, el('a', { href: '#/devices' }, 'Go to the devices'))),
  };
  replace(root, current.el);
  root.className = 'app wide';
  if (current.title !== 'Device' && current.title !== 'Group') {
    document.title = `${current.title} · meshd`;
  }
  for (const a of nav.querySelectorAll('a')) {
    const active = a.dataset.view === (VIEWS[name] ? name : 'devices') ||
      (a.dataset.view === 'devices' && name === 'device') ||
      (a.dataset.view === 'groups' && name === 'group');
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  closeMenu();
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------- shell

let menuOpen = false;
function closeMenu() {
  menuOpen = false;
  const menu = document.getElementById('account-menu');
  const button = document.getElementById('account-button');
  if (menu) menu.hidden = true;
  if (button) button.setAttribute('aria-expanded', 'false');
}

function buildShell() {
  const link = (view, label) => el('a', { href: `#/${view}`, 'data-view': view }, label);
  replace(nav, link('devices', 'Devices'), link('groups', 'Groups'),
    canManageUsers() ? link('users', 'Users') : null, link('events', 'Events'));
  nav.hidden = false;
  const button = el('button', {
    id: 'account-button', type: 'button', className: 'ghost',
    'aria-haspopup': 'true', 'aria-expanded': 'false',
  }, el('span', { className: 'avatar', 'aria-hidden': 'true' },
    String(state.user.name ?? '?').slice(0, 1).toUpperCase()),
  el('span', { className: 'account-name' }, String(state.user.name ?? '')));
  const menu = el('div', { id: 'account-menu', className: 'menu', role: 'menu' },
    el('a', { href: '#/account', role: 'menuitem' }, 'Account settings'),
    el('button', { id: 'signout', type: 'button', role: 'menuitem', className: 'ghost', onclick: signOut }, 'Sign out'));
  menu.hidden = true;
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    menuOpen = !menuOpen;
    menu.hidden = !menuOpen;
    button.setAttribute('aria-expanded', String(menuOpen));
  });
  replace(account, button, menu);
  account.hidden = false;
}

function clearShell() {
  replace(nav);
  replace(account);
  nav.hidden = true;
  account.hidden = true;
  banner.hidden = true;
  root.className = 'app';
}

let reconnectTimer = 0;
let reconnectDelay = 1000;

/** Opens /control.ashx with the session cookie; throws when refused. */
async function startSession() {
  const ctl = new Control();
  const info = await ctl.open();
  state.ctl = ctl;
  state.user = info.userinfo;
  state.serverinfo = info.serverinfo;
  state.loaded = false;
  ctl.onevent = onEvent;
  ctl.onclose = onLost;
  reconnectDelay = 1000;
  banner.hidden = true;
  buildShell();
  route();
  await refresh();
}

function onLost(code, reason) {
  state.ctl = null;
  if (code === 1008) { // the server ended the session (account removed)
    clearShell();
    showSignIn(`You were signed out: ${reason || 'session ended'}.`);
    return;
  }
  banner.textContent = 'Connection to the server lost. Reconnecting…';
  banner.hidden = false;
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(async () => {
    try {
      await startSession();
    } catch (x) {
      if (x instanceof AuthError) {
        clearShell();
        showSignIn('Your session has ended. Sign in again.');
      } else {
        reconnectDelay = Math.min(reconnectDelay * 2, 30000);
        onLost(1006, '');
      }
    }
  }, reconnectDelay);
}

/** Signs out; message (when a string) is shown above the sign-in form. */
async function signOut(message) {
  const ctl = state.ctl;
  state.ctl = null;
  clearTimeout(reconnectTimer);
  await apiCall('/api/logout', {});
  if (ctl) ctl.close();
  state.user = null;
  state.meshes = new Map();
  state.nodes = new Map();
  state.loaded = false;
  current = null;
  clearShell();
  history.replaceState(null, '', location.pathname);
  showSignIn(typeof message === 'string' ? message : undefined);
}

// --------------------------------------------------- setup and sign-in

function showSetup() {
  document.title = 'Set up · meshd';
  const user = el('input', {
    id: 'setup-user', type: 'text', required: true, autocomplete: 'username',
    autocapitalize: 'none', spellcheck: false, maxLength: 64,
  });
  const email = el('input', { id: 'setup-email', type: 'email', autocomplete: 'email' });
  const pass = el('input', { id: 'setup-pass', type: 'password', required: true, autocomplete: 'new-password' });
  const pass2 = el('input', { id: 'setup-pass2', type: 'password', required: true, autocomplete: 'new-password' });
  const button = el('button', { id: 'setup-submit', type: 'submit' }, 'Create administrator');
  const err = errorBox('setup-error');

  const onSubmit = async (e) => {
    e.preventDefault();
    err.hide();
    const name = user.value.trim();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
      err.show('A user name is 1 to 64 letters, digits, dots, dashes or underscores.');
      return;
    }
    if (pass.value.length < 8) {
      err.show('The password needs at least 8 characters.');
      return;
    }
    if (pass.value !== pass2.value) {
      err.show('The two passwords differ.');
      return;
    }
    button.disabled = true;
    button.textContent = 'Creating…';
    const r = await apiCall('/api/setup', {
      user: name, pass: pass.value, ...(email.value.trim() ? { email: email.value.trim() } : {}),
    });
    button.disabled = false;
    button.textContent = 'Create administrator';
    if (r.status === 200) {
      pass.value = '';
      pass2.value = '';
      await enter();
      return;
    }
    if (r.status === 409) {
      showSignIn('This server is already set up. Sign in.');
      return;
    }
    err.show(r.body?.error ? String(r.body.error)
      : r.status === 0 ? 'No answer from the server.' : `Setup failed (${r.status}).`);
  };

  replace(root, el('section', { className: 'card', 'aria-labelledby': 'setup-title' },
    el('h1', { id: 'setup-title' }, 'Welcome to meshd'),
    el('p', { className: 'muted' }, 'Create the first administrator account for this server.'),
    el('form', { id: 'setup-form', method: 'post', noValidate: true, onsubmit: onSubmit },
      field('User name', user), field('E-mail (optional)', email),
      field('Password', pass, 'At least 8 characters.'), field('Repeat the password', pass2),
      err.el, button)));
  user.focus();
}

function showSignIn(message) {
  document.title = 'Sign in · meshd';
  const user = el('input', {
    id: 'user', name: 'user', type: 'text', required: true,
    autocomplete: 'username', autocapitalize: 'none', spellcheck: false,
  });
  const pass = el('input', {
    id: 'pass', name: 'pass', type: 'password', required: true,
    autocomplete: 'current-password',
  });
  // The code field appears once the server says the account needs one.
  const token = el('input', {
    id: 'token', name: 'token', type: 'text', inputMode: 'numeric',
    autocomplete: 'one-time-code', maxLength: 16, spellcheck: false,
  });
  const tokenLabel = el('label', { for: 'token' }, 'Code from your authenticator app (or a recovery code)');
  const tokenBox = el('div', { id: 'token-box', className: 'token-box' }, tokenLabel, token);
  tokenBox.hidden = true;
  const button = el('button', { id: 'signin', type: 'submit' }, 'Sign in');
  const error = el('p', {
    id: 'signin-error', className: 'error', role: 'alert', 'aria-live': 'polite',
  });
  error.hidden = true;
  const showError = (text) => {
    error.textContent = text;
    error.hidden = false;
  };

  const onSubmit = async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const name = user.value.trim();
    if (!name || !pass.value) {
      showError('Enter a user name and a password.');
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    const body = { user: name, pass: pass.value };
    if (!tokenBox.hidden && token.value.trim()) body.token = token.value.trim();
    const r = await apiCall('/api/login', body);
    button.disabled = false;
    button.textContent = 'Sign in';
    token.value = '';
    if (r.status === 200) {
      pass.value = '';
      await enter(showError);
      return;
    }
    if (r.status === 401 && r.body.tokenRequired) {
      // The password was right: keep it and ask for the code.
      tokenBox.hidden = false;
      token.focus();
      showError(body.token ? 'Wrong code. Try again with the current one.'
        : 'Enter the code from your authenticator app.');
      return;
    }
    pass.value = '';
    pass.focus();
    if (r.status === 0) showError('sign-in failed (no answer from the server)');
    else if (r.status === 429) showError('Too many failed sign-ins. Wait a minute and try again.');
    else showError(`sign-in failed (${r.status})`);
  };

  replace(root, el('section', { className: 'card', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title' }, 'Sign in'),
    el('p', { className: 'muted' }, message || 'Manage your devices with meshd.'),
    el('form', { id: 'signin-form', method: 'post', noValidate: true, onsubmit: onSubmit },
      el('label', { for: 'user' }, 'User name'), user,
      el('label', { for: 'pass' }, 'Password'), pass,
      tokenBox,
      error,
      button)));
  user.focus();
}

/** After a successful sign-in or setup: open the session. */
async function enter(showError) {
  try {
    await startSession();
  } catch (x) {
    const text = x instanceof AuthError ? 'The server refused the session.'
      : 'No connection to the server.';
    if (showError) showError(text);
    else showSignIn(text);
  }
}

async function start() {
  document.addEventListener('click', (e) => {
    if (menuOpen && !account.contains(e.target)) closeMenu();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && menuOpen) closeMenu();
  });
  window.addEventListener('hashchange', route);
  const setup = await apiCall('/api/setup');
  if (setup.status === 200 && setup.body.needed === true) {
    showSetup();
    return;
  }
  try {
    await startSession();
  } catch {
    showSignIn();
  }
}

start();
