// pages/signin.js - the pages before a session: first-run setup of the
// administrator (/api/setup) and sign-in (/api/login, with the second
// factor when the server asks for it). Both draw into root and call
// enter(showError) once the server has set the session cookie.

import { apiCall } from '../api.js';
import { el, replace } from '../dom.js';
import { errorBox, field } from '../ui.js';

export function showSetup(root, enter) {
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
      showSignIn(root, 'This server is already set up. Sign in.', enter);
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

export function showSignIn(root, message, enter) {
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
