// app.js - the meshd web app's entry point (an ES module, no build step).
//
// For now it shows the sign-in form and posts {user, pass} as JSON to
// /api/login. Everything shown is built with dom.js (textContent only).

import { el, replace } from './dom.js';

const LOGIN_URL = '/api/login';

/** Posts the credentials; resolves to the HTTP status (0 = no answer). */
async function login(user, pass) {
  try {
    const res = await fetch(LOGIN_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user, pass }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    return res.status;
  } catch {
    return 0;
  }
}

function signedInView(user) {
  return el('section', { className: 'card', 'aria-labelledby': 'done-title' },
    el('h1', { id: 'done-title' }, 'Signed in'),
    el('p', { className: 'muted' }, 'Welcome, ', el('strong', {}, user), '.'));
}

function signInView(onSignedIn) {
  const user = el('input', {
    id: 'user', name: 'user', type: 'text', required: true,
    autocomplete: 'username', autocapitalize: 'none', spellcheck: false,
  });
  const pass = el('input', {
    id: 'pass', name: 'pass', type: 'password', required: true,
    autocomplete: 'current-password',
  });
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
    const status = await login(name, pass.value);
    button.disabled = false;
    button.textContent = 'Sign in';
    if (status === 200) {
      pass.value = '';
      onSignedIn(name);
      return;
    }
    pass.value = '';
    pass.focus();
    showError(status === 0 ? 'sign-in failed (no answer from the server)'
                           : `sign-in failed (${status})`);
  };

  return el('section', { className: 'card', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title' }, 'Sign in'),
    el('p', { className: 'muted' }, 'Manage your devices with meshd.'),
    el('form', { id: 'signin-form', method: 'post', noValidate: true,
                 onsubmit: onSubmit },
      el('label', { for: 'user' }, 'User name'), user,
      el('label', { for: 'pass' }, 'Password'), pass,
      error,
      button));
}

function start() {
  const root = document.getElementById('app');
  const show = (view) => replace(root, view);
  show(signInView((name) => show(signedInView(name))));
  document.getElementById('user')?.focus();
}

start();
