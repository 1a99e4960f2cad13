// tunnel.js - one relay session between this browser and a device's agent
// (docs/sessions.md §1; spec sessions.md §2.3-§2.4, §3, §4.1).
//
// The order matters: the relay accepts the tunnel id only after the
// agent was asked to open it, so start() first gets the relay cookies
// (authcookie), then asks the server to send the agent the tunnel request
// (msg/tunnel) and waits for its "OK", and only then opens its own side
// of the relay. Nothing may go to the agent before the relay says "c" (or
// "cr" when it records): the agent drops it. Then the session options go
// as one text frame and the protocol number as another, in that order.

/** The magic value marking control messages inside a tunnel (§3.1). */
export const CTRL = '102938';

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ID_LEN = 16; // docs/sessions.md: at least 8 of [A-Za-z0-9]

/** A random tunnel id from the browser's CSPRNG. */
function tunnelId() {
  const bytes = crypto.getRandomValues(new Uint8Array(ID_LEN));
  // 256 % 62 != 0 biases a little toward the first letters; harmless for
  // an id that is also bound to the user and lives for seconds.
  return Array.from(bytes, (b) => ID_CHARS[b % ID_CHARS.length]).join('');
}

/**
 * One tunnel. Set the handlers, then call start(). Handlers:
 *   onopen(recorded)  the agent is there and the protocol was chosen;
 *   ondata(bytes)     a binary frame (Uint8Array);
 *   ontext(text)      a text frame that is not a control message;
 *   onctrl(msg)       a control message (object with ctrlChannel);
 *   onclose(info)     once, at the end: {code, reason, opened}.
 */
export class Tunnel {
  /**
   * @param {import('./api.js').Control} ctl the signed-in control connection
   * @param {string} nodeid the device ("node//...")
   * @param {number} protocol 1 terminal, 5 files
   */
  constructor(ctl, nodeid, protocol) {
    this.ctl = ctl;
    this.nodeid = nodeid;
    this.protocol = protocol;
    this.ws = null;
    this.opened = false;
    this.closed = false;
    this.onopen = null;
    this.ondata = null;
    this.ontext = null;
    this.onctrl = null;
    this.onclose = null;
    // WebRTC (docs/sessions.md §9): set rtcConfig to an RTCPeerConnection
    // configuration before start() to try a direct data channel.
    this.rtcConfig = null;
    this.ontransport = null; // (name) when the session moves to 'webrtc'
    this.rtc = null;
  }

  /**
   * Asks for the tunnel and opens the relay; options (an object) are sent
   * as {type:'options', ...options} once the agent is there. Rejects with
   * an Error whose message is for people when the server refuses.
   */
  async start(options) {
    if (!this.ctl) throw new Error('not connected to the server');
    const auth = await this.ctl.request({ action: 'authcookie' });
    if (typeof auth.cookie !== 'string' || typeof auth.rcookie !== 'string') {
      throw new Error(String(auth.result ?? 'the server gave no session cookie'));
    }
    if (this.closed) return;
    const id = tunnelId();
    const p = this.protocol;
    // The stock viewer's form: the ids and cookies are URL-safe as they
    // are (base64 with '@' and '$'), and the agent rewrites "*/" itself.
    const r = await this.ctl.request({
      action: 'msg', type: 'tunnel', nodeid: this.nodeid, usage: p,
      value: `*/meshrelay.ashx?p=${p}&nodeid=${this.nodeid}&id=${id}&rauth=${auth.rcookie}`,
    });
    if (r.result !== 'OK') {
      throw new Error(r.result === 'Unable to route' ? 'the device is offline'
        : String(r.result ?? 'the server refused the session'));
    }
    if (this.closed) return;
    const ws = new WebSocket(`wss://${location.host}/meshrelay.ashx?browser=1&p=${p}` +
      `&nodeid=${this.nodeid}&id=${id}&auth=${auth.cookie}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let refusal = null; // {action:'close'} sent by the relay before closing
    ws.onmessage = (m) => {
      if (this.closed) return;
      if (this.opened) {
        this.receive(m.data);
        return;
      }
      if (typeof m.data !== 'string') return;
      if (m.data === 'c' || m.data === 'cr') {
        this.opened = true;
        ws.send(JSON.stringify({ type: 'options', ...options }));
        ws.send(String(p));
        if (this.onopen) this.onopen(m.data === 'cr');
        // A recorded session stays on the relay, where it is recorded.
        if (this.rtcConfig && m.data === 'c') this.offerWebRTC();
        return;
      }
      const msg = parseJson(m.data);
      if (msg?.action === 'close') refusal = msg;
    };
    ws.onclose = (ev) => {
      const reason = ev.reason || refusal?.msg || refusal?.cause || '';
      this.finish({ code: ev.code, reason: String(reason) });
    };
  }

  /** One message from the agent, from the relay or the data channel. */
  receive(data) {
    if (typeof data !== 'string') {
      if (this.ondata) this.ondata(new Uint8Array(data));
      return;
    }
    const msg = data.startsWith('{') ? parseJson(data) : null;
    // Loose comparison on purpose: peers send the magic as a number too.
    if (msg && msg.ctrlChannel == CTRL) {
      if (msg.type === 'ping') this.sendCtrl({ type: 'pong' });
      else if (this.rtc?.ctrl(msg)) return;
      else if (this.onctrl) this.onctrl(msg);
    } else if (this.ontext) {
      this.ontext(data);
    }
  }

  /** Offers the agent a data channel; the session stays on the relay
   * until the switch-over completes, and carries on there if it fails. */
  offerWebRTC() {
    this.rtc = new RtcSwitch(this, this.rtcConfig);
    this.rtc.start().catch(() => this.dropWebRTC());
  }

  dropWebRTC() {
    const r = this.rtc;
    this.rtc = null;
    if (!r) return;
    r.close();
    // After the switch the agent's output has no other way to us.
    if (r.active && !this.closed) {
      if (this.ws) this.ws.close(1000);
      this.finish({ code: 1000, reason: 'the WebRTC channel closed' });
    }
  }

  /** Which path the session's data takes: 'relay' or 'webrtc'. */
  get transport() {
    return this.rtc?.active ? 'webrtc' : 'relay';
  }

  /** Sends bytes (a Uint8Array) as one binary message, once open. */
  send(bytes) {
    if (!this.opened || this.closed) return;
    if (this.rtc?.active) this.rtc.dc.send(bytes);
    else this.ws.send(bytes);
  }

  /** Sends one text frame, once open. */
  sendText(text) {
    if (this.opened && !this.closed) this.ws.send(text);
  }

  /** Sends a control message ({type, ...}), once open. */
  sendCtrl(msg) {
    this.sendText(JSON.stringify({ ctrlChannel: CTRL, ...msg }));
  }

  /** Bytes waiting in the browser to go out (for flow control). */
  get buffered() {
    if (this.rtc?.active) return this.rtc.dc.bufferedAmount;
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  /** Ends the session from this side; onclose still runs, once. */
  close() {
    if (this.closed) return;
    if (this.opened) this.sendCtrl({ type: 'close' });
    if (this.ws) this.ws.close(1000);
    this.rtc?.close();
    this.finish({ code: 1000, reason: 'closed here' });
  }

  finish(info) {
    if (this.closed) return;
    this.closed = true;
    this.rtc?.close();
    if (this.onclose) this.onclose({ ...info, opened: this.opened });
  }
}

/** How long the agent has to answer and the channel to open. */
const RTC_SETUP_MS = 15000;

/**
 * The switch-over of one tunnel (spec sessions.md §8.1). Every handshake
 * message goes on the relay WebSocket. Our output moves to the channel
 * only when the agent's webrtc2 shows it has seen our webrtc1 and reads
 * the channel, so nothing sent meanwhile is lost; the agent's output
 * arrives on either path and goes to the same handler.
 */
class RtcSwitch {
  constructor(tunnel, config) {
    this.tunnel = tunnel;
    this.pc = new RTCPeerConnection(config);
    this.dc = this.pc.createDataChannel('DataChannel');
    this.dc.binaryType = 'arraybuffer';
    this.channelOpen = false;
    this.agentReady = false; // the agent's webrtc0
    this.sentSwitch = false;
    this.active = false;
    this.closed = false;
    this.timer = setTimeout(() => {
      if (!this.active) tunnel.dropWebRTC();
    }, RTC_SETUP_MS);
    this.dc.onopen = () => {
      this.channelOpen = true;
      this.maybeSwitch();
    };
    this.dc.onmessage = (m) => {
      if (!tunnel.closed) tunnel.receive(m.data);
    };
    this.dc.onclose = () => {
      if (tunnel.rtc === this) tunnel.dropWebRTC();
    };
    this.pc.oniceconnectionstatechange = () => {
      const st = this.pc.iceConnectionState;
      if ((st === 'failed' || st === 'disconnected') && tunnel.rtc === this) {
        tunnel.dropWebRTC();
      }
    };
  }

  async start() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    // The agent does not take trickled candidates: send them all at once.
    await new Promise((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      this.pc.addEventListener('icegatheringstatechange', () => {
        if (this.pc.iceGatheringState === 'complete') resolve();
      });
      setTimeout(resolve, 3000);
    });
    if (this.closed) return;
    this.tunnel.sendText(JSON.stringify({ type: 'offer', sdp: this.pc.localDescription.sdp }));
  }

  /** Handles a control message of the switch-over; true if it was one. */
  ctrl(msg) {
    switch (msg.type) {
      case 'answer':
        if (typeof msg.sdp === 'string') {
          this.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp })
            .catch(() => this.tunnel.dropWebRTC());
        }
        return true;
      case 'webrtc0':
        this.agentReady = true;
        this.maybeSwitch();
        return true;
      case 'webrtc1': // the agent sends nothing more on the relay
        this.tunnel.sendCtrl({ type: 'webrtc2' });
        return true;
      case 'webrtc2': // the agent reads the channel: move our output there
        this.active = true;
        clearTimeout(this.timer);
        this.tunnel.ontransport?.('webrtc');
        return true;
      default:
        return false;
    }
  }

  maybeSwitch() {
    if (!this.channelOpen || !this.agentReady || this.sentSwitch) return;
    this.sentSwitch = true;
    this.tunnel.sendCtrl({ type: 'webrtc0' });
    this.tunnel.sendCtrl({ type: 'webrtc1' });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    try {
      this.dc.close();
      this.pc.close();
    } catch {
      // already closed
    }
  }
}

function parseJson(text) {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
