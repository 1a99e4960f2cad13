// dom.js - the one way this app builds DOM: elements, properties and text
// nodes. Text always goes in through textContent / text nodes, never as
// HTML, so data from the server or the user cannot become markup.

/**
 * Creates an element.
 * @param {string} tag
 * @param {Object<string, *>} [props] element properties (className, type,
 *   id, ...); keys starting with "data-" or "aria-" and "for" become
 *   attributes; "on" + event name adds a listener.
 * @param {...(Node|string|null|undefined|false)} children strings become
 *   text nodes; null, undefined and false are skipped.
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'innerHTML' || key === 'outerHTML') {
      throw new Error('dom.js: refusing to set ' + key);
    }
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key.startsWith('data-') || key.startsWith('aria-') ||
               key === 'for' || key === 'role') {
      node.setAttribute(key, String(value));
    } else {
      node[key] = value;
    }
  }
  append(node, ...children);
  return node;
}

/** Appends children (strings as text nodes) to parent. */
export function append(parent, ...children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'string' ? document.createTextNode(child)
                                            : child);
  }
  return parent;
}

/** Replaces all children of parent. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, ...children);
}

/**
 * A date and time for people, in the browser's locale: from milliseconds
 * since 1970, seconds (values below 1e11), or an ISO-8601 string. Returns
 * '—' for a missing or unreadable value.
 */
export function fmtTime(value) {
  if (value === undefined || value === null || value === '') return '—';
  let d;
  if (typeof value === 'number') {
    d = new Date(value < 1e11 ? value * 1000 : value);
  } else {
    d = new Date(String(value));
  }
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** A short "3 min ago" style age of a time in milliseconds. */
export function fmtAge(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/**
 * A button that asks for a second click before acting: the first click
 * changes its label to confirmText for a few seconds. No native dialog
 * (confirm()) is used anywhere in the app.
 */
export function confirmButton(label, confirmText, action, props = {}) {
  let armed = false;
  let timer = 0;
  const button = el('button', { type: 'button', ...props }, label);
  button.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmText;
      button.classList.add('armed');
      timer = setTimeout(() => {
        armed = false;
        button.textContent = label;
        button.classList.remove('armed');
      }, 4000);
      return;
    }
    clearTimeout(timer);
    armed = false;
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      button.textContent = label;
      button.classList.remove('armed');
    }
  });
  return button;
}
