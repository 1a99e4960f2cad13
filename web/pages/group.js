// pages/group.js - one device group: its devices, how to add one, and its
// members with their rights (added and removed by those who manage users);
// whether its terminal sessions are recorded and what the device's local
// user is asked or told when a session starts (both changed by those who
// may edit the group, docs/user-api.md §7.9, docs/sessions.md "Consent").

import { confirmButton, el, replace } from '../dom.js';
import { MESH_ADMIN, MESH_EDIT_GROUP, MESH_MANAGE_DEVICES, MESH_MANAGE_USERS, byName, myRights, refresh, short, state } from '../state.js';
import { RIGHT_PRESETS, deviceRow, errorBox, field, loading, option, pageHead, rightsText } from '../ui.js';
import { addDevicePanel } from './add_device.js';

export function groupView(sid) {
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

  // Recording switch: the group object says whether it is on; while a
  // change is on its way the switch stays disabled through redraws.
  const recordErr = errorBox('record-error');
  let saving = false;
  const recordPanel = (mesh) => {
    const on = mesh.recordSessions === true;
    const input = el('input', {
      id: 'group-record', type: 'checkbox', role: 'switch', checked: on, disabled: saving,
      'aria-describedby': 'group-record-hint',
    });
    input.addEventListener('change', async () => {
      recordErr.hide();
      saving = true;
      input.disabled = true;
      try {
        const r = await state.ctl.request({ action: 'editmesh', meshid: id, recordSessions: input.checked });
        if (r.result !== 'ok') recordErr.show(String(r.result ?? 'The change was not saved.'));
      } catch (x) {
        recordErr.show(String(x.message));
      } finally {
        saving = false;
      }
      await refresh(); // redraws with what the server has
    });
    return el('div', { className: 'panel record-panel' },
      el('label', { className: 'check' }, input, 'Record terminal sessions'),
      el('p', { id: 'group-record-hint', className: 'hint' },
        'Every terminal session on this group\'s devices is saved; members who may open a terminal ' +
        'play them back on the device\'s Recordings tab.'),
      recordErr.el);
  };

  // Consent bits (spec sessions.md §9.2): one checkbox each, saved
  // together; bits this page does not know are kept as they are.
  const CONSENT_BITS = [
    ['desktop', 'Remote desktop', [[8, 'Ask the local user first'], [1, 'Notify the local user'], [64, 'Show a privacy bar with a Disconnect button']]],
    ['terminal', 'Terminal', [[16, 'Ask the local user first'], [2, 'Notify the local user']]],
    ['files', 'Files', [[32, 'Ask the local user first'], [4, 'Notify the local user']]],
  ];
  const consentErr = errorBox('consent-error');
  const consentNote = el('p', { id: 'consent-result', className: 'notice', role: 'status' });
  consentNote.hidden = true;
  let consentSaving = false;
  let consentEdited = null; // the unsaved bits, kept through redraws
  const consentPanel = (mesh) => {
    const stored = Number(mesh.consent ?? 0) >>> 0;
    const bits = consentEdited ?? stored;
    const boxes = [];
    const groups = CONSENT_BITS.map(([key, label, items]) => el('fieldset', { className: 'consent-kind' },
      el('legend', {}, label),
      ...items.map(([bit, text]) => {
        const input = el('input', {
          id: `consent-${key}-${bit}`, type: 'checkbox', checked: (bits & bit) !== 0,
          disabled: consentSaving, 'data-bit': String(bit),
        });
        input.addEventListener('change', () => {
          consentNote.hidden = true;
          consentEdited = boxes.reduce((v, b) => (b.checked ? v | Number(b.dataset.bit) : v & ~Number(b.dataset.bit)), bits) >>> 0;
        });
        boxes.push(input);
        return el('label', { className: 'check' }, input, text);
      })));
    const save = el('button', { id: 'consent-save', type: 'submit', disabled: consentSaving }, 'Save consent settings');
    const onSave = async (e) => {
      e.preventDefault();
      consentErr.hide();
      consentNote.hidden = true;
      const value = boxes.reduce((v, b) => (b.checked ? v | Number(b.dataset.bit) : v & ~Number(b.dataset.bit)), stored) >>> 0;
      consentSaving = true;
      save.disabled = true;
      try {
        const r = await state.ctl.request({ action: 'editmesh', meshid: id, consent: value });
        if (r.result === 'ok') {
          consentEdited = null;
          consentNote.textContent = 'Saved. New sessions follow these settings.';
          consentNote.hidden = false;
        } else {
          consentErr.show(String(r.result ?? 'The change was not saved.'));
        }
      } catch (x) {
        consentErr.show(String(x.message));
      } finally {
        consentSaving = false;
      }
      await refresh();
    };
    return el('form', { id: 'consent-form', className: 'panel form', noValidate: true, onsubmit: onSave },
      el('h2', {}, 'User consent'),
      el('p', { className: 'hint' },
        'What the person at a device sees when a member opens a session on it. When asked, they have ' +
        '30 seconds to allow it; a device with no display refuses sessions that need an answer.'),
      ...groups, consentErr.el, consentNote, save);
  };
  // For members who cannot change it: what applies, in words.
  const consentText = (mesh) => {
    const bits = Number(mesh.consent ?? 0);
    const asked = CONSENT_BITS.filter(([, , items]) => bits & items[0][0]).map(([, l]) => l.toLowerCase());
    if (!asked.length) return null;
    return el('p', { id: 'group-consent', className: 'small muted' },
      `The local user is asked before ${asked.length > 1
        ? `${asked.slice(0, -1).join(', ')} and ${asked.at(-1)}` : asked[0]} sessions start.`);
  };

  let addPanel = null; // "Add a device", for those who may manage devices
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
    // Built once: it asks the server for an install command.
    if (!addPanel && (mine & MESH_MANAGE_DEVICES) !== 0) addPanel = addDevicePanel(mesh);
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
      (mine & MESH_EDIT_GROUP) !== 0 ? recordPanel(mesh)
        : mesh.recordSessions === true
          ? el('p', { id: 'group-recorded', className: 'small muted' }, 'Terminal sessions in this group are recorded.')
          : null,
      (mine & MESH_EDIT_GROUP) !== 0 ? consentPanel(mesh) : consentText(mesh),
      el('h2', {}, 'Devices'),
      devices.length
        ? el('ul', { className: 'devices' }, ...devices.map(deviceRow))
        : el('div', { className: 'empty' }, el('p', {}, addPanel
          ? 'No devices yet. Add one as shown below.' : 'No devices yet.')),
      addPanel,
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
        const switchFocused = document.activeElement?.id === 'group-record';
        draw();
        user.value = typed;
        if (focused) user.focus();
        if (switchFocused) body.querySelector('#group-record')?.focus();
      }
    },
  };
}
