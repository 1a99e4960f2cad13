// term_css.js - lets xterm.js style itself under meshd's Content Security
// Policy (style-src 'self', no inline styles).
//
// xterm's DOM renderer puts its theme, cell sizes and scrollbar colours in
// <style> elements it creates, and sets truecolour cells with
// setAttribute('style'). The policy blocks both (and logs an error each
// time). Styles applied through the CSSOM are not blocked, so:
//   - document.createElement('style') returns a hidden <meshd-style>
//     element instead, whose text is mirrored into a constructed
//     stylesheet adopted by the document while the element is connected;
//   - setAttribute('style', v) goes through element.style.cssText.
// Markup injected into the page still gets no styles (the parser's
// attributes and <style> elements are still refused); only script that
// already runs here can use these two doors, and it needs none.

let installed = false;

class MeshdStyle extends HTMLElement {
  constructor() {
    super();
    this.sheet = new CSSStyleSheet();
    this.observer = new MutationObserver(() => this.sync());
    this.observer.observe(this, { childList: true, characterData: true, subtree: true });
  }

  sync() {
    this.sheet.replaceSync(this.textContent);
  }

  connectedCallback() {
    this.hidden = true;
    this.sync();
    if (!document.adoptedStyleSheets.includes(this.sheet)) {
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, this.sheet];
    }
  }

  disconnectedCallback() {
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== this.sheet);
  }
}

/** Installs both detours; safe to call again. */
export function installTermCss() {
  if (installed) return;
  installed = true;
  customElements.define('meshd-style', MeshdStyle);
  const create = Document.prototype.createElement;
  document.createElement = function createElement(tag, options) {
    if (String(tag).toLowerCase() === 'style') return create.call(this, 'meshd-style');
    return create.call(this, tag, options);
  };
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function setAttr(name, value) {
    if (String(name).toLowerCase() === 'style' && this.style) {
      this.style.cssText = String(value);
      return;
    }
    setAttribute.call(this, name, value);
  };
}
