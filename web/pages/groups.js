// pages/groups.js - the device groups the user is in, and a form to
// create one (unless the site forbids it).

import { el, replace } from '../dom.js';
import { SITE_NO_NEW_GROUPS, byName, isAdmin, myRights, refresh, short, state } from '../state.js';
import { emptyState, errorBox, field, loading, pageHead, rightsText } from '../ui.js';

export function groupsView() {
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
