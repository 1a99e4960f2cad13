// pages/settings.js - server settings, for full administrators: whether
// every account must use two-factor sign-in, how long events are kept,
// and whether sessions may go direct over WebRTC (docs/user-api.md §7.22).

import { el, replace } from '../dom.js';
import { state } from '../state.js';
import { errorBox, field, loading, pageHead } from '../ui.js';

export function settingsView() {
  const body = el('div', { id: 'settings' }, loading());
  const err = errorBox('settings-error');
  const note = el('p', { className: 'notice', role: 'status', id: 'settings-saved' });
  note.hidden = true;

  const draw = (cur) => {
    const require2fa = el('input', { id: 'settings-2fa', type: 'checkbox', checked: !!cur.require2fa });
    const days = el('input', {
      id: 'settings-retention', type: 'number', min: 0, max: 36500, step: 1,
      value: String(cur.eventRetentionDays ?? 365),
    });
    const webrtc = el('input', { id: 'settings-webrtc', type: 'checkbox', checked: !!cur.webrtc });
    const save = el('button', { id: 'settings-save', type: 'submit' }, 'Save');
    const form = el('form', {
      className: 'panel form', noValidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        err.hide();
        note.hidden = true;
        const n = Number(days.value);
        if (!Number.isInteger(n) || n < 0 || n > 36500) {
          err.show('Keep events for a whole number of days from 0 to 36500.');
          return;
        }
        save.disabled = true;
        try {
          const r = await state.ctl.request({
            action: 'setserversettings', require2fa: require2fa.checked, eventRetentionDays: n,
            webrtc: webrtc.checked,
          });
          if (r.result !== 'ok') {
            err.show(String(r.result));
            return;
          }
          note.textContent = 'Saved.';
          note.hidden = false;
        } catch (x) {
          err.show(String(x.message));
        } finally {
          save.disabled = false;
        }
      },
    },
    el('h2', {}, 'Sign-in'),
    el('label', { className: 'check' }, require2fa,
      ' Require two-factor sign-in for every account'),
    el('p', { className: 'muted' },
      'Accounts without it can then only set it up; tools such as meshctrl cannot sign in to them until they do.'),
    el('h2', {}, 'Events'),
    field('Keep events for (days, 0 = forever)', days),
    el('h2', {}, 'Sessions'),
    el('label', { className: 'check' }, webrtc,
      ' Let desktop and file sessions connect directly (WebRTC)'),
    el('p', { className: 'muted' },
      'When the browser can reach the device, the session leaves the server\'s relay for a direct, encrypted channel. Recorded sessions always stay on the relay.'),
    err.el, note, save);
    replace(body, form);
  };

  (async () => {
    try {
      const r = await state.ctl.request({ action: 'getserversettings' });
      if (!r.settings) {
        replace(body, el('p', { className: 'muted' }, String(r.result ?? 'Not available')));
        return;
      }
      draw(r.settings);
    } catch (x) {
      replace(body, el('p', { className: 'muted' }, String(x.message)));
    }
  })();
  return { title: 'Settings', el: el('section', { className: 'page' }, pageHead('Server settings'), body) };
}
