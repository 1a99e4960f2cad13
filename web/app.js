// app.js - the meshd web app's entry point and shell (an ES module, no
// build step): the router, the top bar, and the session's life.
//
// First run: a setup form creates the first administrator (/api/setup).
// Then sign-in (/api/login sets an HttpOnly session cookie) and one
// /control.ashx WebSocket for everything else. Each page lives in
// pages/NAME.js and exports a view factory, view(arg, app), returning
// {el, title, update(what, ev)?, leave()?}; state.js holds what the pages
// share and tells the page on screen when it changes.
//
// Everything shown is built with dom.js: text from the server (device
// names, OS strings, user names, event messages) only ever goes into text
// nodes, never into markup, so an agent or a user cannot inject HTML.

import { AuthError, Control, apiCall } from './api.js';
import { el, replace } from './dom.js';
import { canManageUsers, clearState, isAdmin, onEvent, refresh, state } from './state.js';
import { pageHead } from './ui.js';
import { accountView } from './pages/account.js';
import { deviceView } from './pages/device.js';
import { devicesView } from './pages/devices.js';
import { eventsView } from './pages/events.js';
import { groupView } from './pages/group.js';
import { groupsView } from './pages/groups.js';
import { showSetup, showSignIn as signInPage } from './pages/signin.js';
import { settingsView } from './pages/settings.js';
import { usersView } from './pages/users.js';

const root = document.getElementById('app');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
const banner = document.getElementById('conn-banner');

// Page name in the URL (#/name/arg) -> view factory.
const VIEWS = {
  devices: devicesView, device: deviceView, groups: groupsView,
  group: groupView, users: usersView, events: eventsView, account: accountView,
  settings: settingsView,
};
// A page under a top-bar entry: its entry is marked as the current one.
const NAV_PARENT = { device: 'devices', group: 'groups' };

// What the pages may ask of the shell.
const app = { signOut, enrolled };

/** The server requires two-factor sign-in and this account has none yet:
 * the server allows nothing but enrolling, so only the Account page is
 * shown (docs/user-api.md §7.22). */
const mustEnrol = () => state.serverinfo?.require2fa === true && !state.user?.otpsecret;

/** The Account page set up a second factor: the rest of the app opens. */
function enrolled() {
  if (!state.ctl) return;
  buildShell();
  refresh();
}

/** The page name and its argument in the address (#/name/arg). */
function fromHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const slash = hash.indexOf('/');
  const name = slash < 0 ? hash : hash.slice(0, slash);
  let arg = slash < 0 ? '' : hash.slice(slash + 1);
  try {
    arg = decodeURIComponent(arg);
  } catch {
    arg = '';
  }
  return { name, arg };
}

/** Marks the top-bar entry of page name as the current one. */
function markNav(name) {
  const navName = VIEWS[name] ? NAV_PARENT[name] ?? name : 'devices';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.view === navName) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  if (!state.ctl) return;
  const { name, arg } = fromHash();
  leaveView();
  const make = mustEnrol() ? accountView : VIEWS[name || 'devices'];
  const view = make ? make(arg, app) : {
    title: 'Not found',
    el: el('section', { className: 'page' }, pageHead('Not found'),
      el('p', {}, el('a', { href: '#/devices' }, 'Go to the devices'))),
  };
  state.current = view;
  replace(root, view.el);
  root.className = 'app wide';
  if (view.title !== 'Device' && view.title !== 'Group') {
    document.title = `${view.title} · meshd`;
  }
  markNav(name);
  closeMenu();
  window.scrollTo(0, 0);
}

/** Lets the page on screen end what it started (sessions, timers). */
function leaveView() {
  const view = state.current;
  state.current = null;
  if (view?.leave) view.leave();
}

function showSignIn(message) {
  signInPage(root, message, enter);
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
  if (mustEnrol()) replace(nav);
  else {
    replace(nav, link('devices', 'Devices'), link('groups', 'Groups'),
      canManageUsers() ? link('users', 'Users') : null, link('events', 'Events'),
      isAdmin() ? link('settings', 'Settings') : null);
  }
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
  leaveView();
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
  ctl.onserverinfo = (info) => { // the administrator changed a setting
    const before = mustEnrol();
    state.serverinfo = info;
    if (mustEnrol() !== before) {
      buildShell();
      route();
    }
  };
  ctl.onclose = onLost;
  reconnectDelay = 1000;
  banner.hidden = true;
  // After a reconnect the page on screen stays, and with it any terminal
  // or files session: those run on relay connections of their own.
  const keep = state.current !== null && !mustEnrol();
  buildShell();
  if (keep) markNav(fromHash().name);
  else route();
  if (!mustEnrol()) await refresh();
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
  clearShell();
  clearState();
  history.replaceState(null, '', location.pathname);
  showSignIn(typeof message === 'string' ? message : undefined);
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
    showSetup(root, enter);
    return;
  }
  try {
    await startSession();
  } catch {
    showSignIn();
  }
}

start();

