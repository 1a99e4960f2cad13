// state.js - what the signed-in app knows: the control connection, the
// user, the device groups and devices (kept fresh from pushed events), and
// the view on screen, which is told when any of that changes.

// Site rights (siteadmin bits, docs/user-api.md).
export const SITE_ADMIN = 0xFFFFFFFF;
export const SITE_MANAGE_USERS = 0x2;
export const SITE_LOCKED = 0x20;
export const SITE_NO_NEW_GROUPS = 0x40;
// Device group rights (MESHRIGHT bits, docs/user-api.md §4.1).
export const MESH_ADMIN = 0xFFFFFFFF;
export const MESH_EDIT_GROUP = 0x1;
export const MESH_MANAGE_USERS = 0x2;
export const MESH_MANAGE_DEVICES = 0x4;
export const MESH_REMOTE_CONTROL = 0x8;
export const MESH_REMOTE_VIEW_ONLY = 0x100;
export const MESH_NO_TERMINAL = 0x200;
export const MESH_NO_FILES = 0x400;
export const MESH_DESK_LIMITED_INPUT = 0x1000;
export const MESH_NO_DESKTOP = 0x10000;

// Events that change the groups or the devices: re-read both lists.
const LIST_EVENTS = new Set(['addnode', 'changenode', 'removenode',
  'createmesh', 'deletemesh', 'meshchange']);

export const state = {
  ctl: null,
  user: null,
  serverinfo: null,
  meshes: new Map(), // "mesh//id" -> group
  nodes: new Map(), // "node//id" -> device (with meshid added)
  loaded: false,
  /** The view on screen: {el, title, update(what, ev)?, leave()?}. */
  current: null,
};

/** An id without its "node//" / "mesh//" / "user//" prefix. */
export const short = (id) => String(id).replace(/^[a-z]+\/\/?/, '');
export const isAdmin = () => state.user?.siteadmin === SITE_ADMIN;
export const canManageUsers = () => ((state.user?.siteadmin ?? 0) & SITE_MANAGE_USERS) !== 0;
export const myRights = (mesh) => mesh?.links?.[state.user?._id]?.rights ?? 0;
/** The RTCPeerConnection configuration for desktop and files sessions, or
 * null when the server keeps sessions on its relay (docs/sessions.md §9). */
export const rtcConfig = () => (state.serverinfo?.webrtc === true ? { iceServers: [] } : null);
export const isOnline = (node) => ((node.conn ?? 0) & 1) !== 0;
export const byName = (a, b) => String(a.name ?? '').localeCompare(String(b.name ?? ''),
  undefined, { sensitivity: 'base', numeric: true });

/** Tells the view on screen what changed: 'data', 'conn' or 'event'. */
export function notify(what, ev) {
  if (state.current?.update) state.current.update(what, ev);
}

let refreshing = null;
let refreshAgain = false;

/** Re-reads groups and devices; concurrent calls coalesce into one more. */
export async function refresh() {
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

/** Handles one event pushed on the control connection. */
export function onEvent(ev) {
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

/** Forgets everything of the signed-out user. */
export function clearState() {
  state.ctl = null;
  state.user = null;
  state.meshes = new Map();
  state.nodes = new Map();
  state.loaded = false;
  state.current = null;
}
