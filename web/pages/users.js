// pages/users.js - the user accounts (for those who manage users): list,
// add and remove.

import { confirmButton, el, fmtTime, replace } from '../dom.js';
import { SITE_ADMIN, byName, canManageUsers, isAdmin, short, state } from '../state.js';
import { emptyState, errorBox, field, loading, option, pageHead, siteRightsText } from '../ui.js';

export function usersView() {
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
