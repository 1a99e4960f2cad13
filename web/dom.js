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
