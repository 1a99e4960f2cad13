// api.js - how the web app talks to meshd: three small JSON endpoints
// under /api/ (sign-in, sign-out, first-run setup) and, once signed in,
// the /control.ashx WebSocket (docs/user-api.md), which the session
// cookie opens. The browser sends the cookie and the Origin by itself.

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/**
 * POSTs (or GETs, without body) JSON to an /api/ path. Resolves to
 * {status, body} where body is the parsed JSON answer ({} if none);
 * status 0 means no answer at all (network down, server gone).
 */
export async function apiCall(path, body) {
  const init = { credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers = JSON_HEADERS;
    init.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(path, init);
    let data = {};
    try {
      data = await res.json();
    } catch {
      // Not JSON (a proxy's error page): keep the status only.
    }
    return { status: res.status, body: data };
  } catch {
    return { status: 0, body: {} };
  }
}

/** Thrown when the server refuses the session (sign in again). */
export class AuthError extends Error {}

const REQUEST_TIMEOUT_MS = 20000;

/**
 * One /control.ashx connection. open() resolves once the server has sent
 * serverinfo and userinfo (the session is signed in), or rejects with an
 * AuthError when the cookie opens no session. request() sends a command
 * and resolves with its reply: every request carries a unique responseid
 * and tag, and meshd echoes one of them in every reply (list replies carry
 * the tag, command replies the responseid).
 */
export class Control {
  constructor() {
    this.ws = null;
    this.seq = 0;
    this.pending = new Map();
    /** Called with each pushed event object. */
    this.onevent = null;
    this.onserverinfo = null;
    /** Called once when an open connection ends: (code, reason). */
    this.onclose = null;
    this.closing = false;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://${location.host}/control.ashx`);
      const info = {};
      let signedIn = false;
      this.ws = ws;
      ws.onmessage = (m) => {
        let msg;
        try {
          msg = JSON.parse(m.data);
        } catch {
          return;
        }
        if (!msg || typeof msg !== 'object') return;
        if (!signedIn) {
          if (msg.action === 'serverinfo') {
            info.serverinfo = msg.serverinfo;
          } else if (msg.action === 'userinfo') {
            info.userinfo = msg.userinfo;
            signedIn = true;
            resolve(info);
          } else if (msg.action === 'close') {
            signedIn = null;
            reject(new AuthError(String(msg.msg || 'noauth')));
          }
          return;
        }
        this.dispatch(msg);
      };
      ws.onclose = (ev) => {
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error('connection closed'));
        }
        this.pending.clear();
        if (signedIn === false) {
          reject(new Error('no connection to the server'));
        } else if (signedIn && !this.closing && this.onclose) {
          this.onclose(ev.code, ev.reason);
        }
      };
    });
  }

  dispatch(msg) {
    if (msg.action === 'event') {
      if (msg.event && this.onevent) this.onevent(msg.event);
      return;
    }
    if (msg.action === 'serverinfo') {
      if (msg.serverinfo && this.onserverinfo) this.onserverinfo(msg.serverinfo);
      return;
    }
    const id = typeof msg.responseid === 'string' ? msg.responseid
      : typeof msg.tag === 'string' ? msg.tag : null;
    const p = id && this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  /** Sends one command (an object with action); resolves with the reply. */
  request(cmd) {
    const id = `w${++this.seq}`;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${cmd.action}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...cmd, responseid: id, tag: id }));
    });
  }

  /** Closes on purpose (sign-out): onclose is not called. */
  close() {
    this.closing = true;
    if (this.ws) this.ws.close(1000);
  }
}
