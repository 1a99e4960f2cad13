// pages/account.js - the signed-in user's account: details, profile,
// password and two-factor sign-in, and signing out.

import { el, fmtTime, replace } from '../dom.js';
import { canManageUsers, state } from '../state.js';
import { errorBox, field, pageHead, siteRightsText } from '../ui.js';

export function accountView(_arg, app) {
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
  // The server requires a second factor and this account has none: say so
  // first (the rest of the app opens once one is set up).
  const required = state.serverinfo?.require2fa && !u.otpsecret
    ? el('p', { className: 'notice', id: 'otp-required', role: 'status' },
      'This server requires two-factor sign-in. Set it up below to continue.')
    : null;
  return {
    title: 'Account',
    el: el('section', { className: 'page' }, pageHead('Account'),
      required, el('div', { className: 'panel' }, details), form, passwordPanel(app.signOut),
      otpPanel(u, app.enrolled),
      el('div', { className: 'panel' },
        el('h2', {}, 'Session'),
        el('p', { className: 'muted' }, 'Sessions last 12 hours. Signing out ends this one.'),
        el('button', { id: 'account-signout', type: 'button', onclick: () => app.signOut() }, 'Sign out'))),
  };
}

/**
 * The Account page's password form: current, new and repeated. The two
 * new ones must match here; the server checks the current one and the
 * length and answers with a text that is shown as it is. A change ends
 * every session of the account (this one too), so the user signs in again.
 */
function passwordPanel(signOut) {
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
function otpPanel(u, onEnrolled) {
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
    const done = el('button', {
      id: 'otp-done', type: 'button',
      onclick: () => {
        showOn();
        document.getElementById('otp-required')?.remove();
        if (onEnrolled) onEnrolled();
      },
    }, 'Done');
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
