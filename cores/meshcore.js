// meshcore.js - meshd's default agent core (docs/cores-and-updates.md).
//
// meshd sends this file to every agent that runs cores, unless an
// administrator chose otherwise for the device (setcore). It runs in the
// agent's runtime (docs/agent-runtime.md): it answers the JSON actions
// meshd sends and tells the server about the device; the sessions
// themselves (relay tunnels, terminal, files) stay native, and the core
// only hands them a request through require('tunnel').
//
// Keep-alive pings are answered by the agent itself, core or not, so an
// agent whose core is broken still looks alive to the server.
var agent = require('MeshAgent');
var fs = require('fs');

var VERSION = 'meshd-core/1';

function readText(path) {
  try {
    return String(fs.readFileSync(path, 'utf8'));
  } catch (e) {
    return null;
  }
}

// "Debian GNU/Linux 12 (bookworm)", from os-release's PRETTY_NAME.
function osDescription() {
  var text = readText('/etc/os-release') || readText('/usr/lib/os-release');
  var m = text && /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m ? m[1] : 'Linux';
}

function hostName() {
  var name = readText('/proc/sys/kernel/hostname');
  return name ? name.trim() : '';
}

function sendCoreInfo() {
  agent.SendCommand({
    action: 'coreinfo',
    value: VERSION,
    osdesc: osDescription(),
    name: hostName()
  });
}

// netif2 as the stock server stores it: {ifname: [{address, family, mac,
// netmask, index}]}, from `ip -j addr` (iproute2's JSON output).
function cidrToMask(bits, v6) {
  if (v6) return '/' + bits;
  var parts = [];
  for (var i = 0; i < 4; i++) {
    var n = Math.max(0, Math.min(8, bits - 8 * i));
    parts.push(256 - Math.pow(2, 8 - n));
  }
  return parts.join('.');
}

function netif2Of(list) {
  var out = {};
  for (var i = 0; i < list.length; i++) {
    var it = list[i];
    if (!it || typeof it.ifname !== 'string') continue;
    var addrs = it.addr_info || [];
    var rows = [];
    for (var j = 0; j < addrs.length; j++) {
      var a = addrs[j];
      var v6 = a.family === 'inet6';
      rows.push({
        address: a.local,
        family: v6 ? 'IPv6' : 'IPv4',
        mac: it.address || '00:00:00:00:00:00',
        netmask: cidrToMask(a.prefixlen, v6),
        index: it.ifindex
      });
    }
    if (rows.length) out[it.ifname] = rows;
  }
  return out;
}

function sendNetInfo() {
  var cp;
  try {
    cp = require('child_process');
  } catch (e) {
    return;
  }
  cp.execFile('/sbin/ip', ['-j', 'addr'], function(err, stdout) {
    if (err) return;
    var list;
    try {
      list = JSON.parse(String(stdout));
    } catch (e) {
      return;
    }
    agent.SendCommand({action: 'netinfo', netif2: netif2Of(list)});
  });
}

function onMsg(cmd) {
  switch (cmd.type) {
    case 'tunnel':
      // The native side checks the request (relay URL, certificate hash,
      // rights) exactly as it does without a core, and logs a refusal. A
      // malformed request must not count as an error of the core: meshd
      // clears a core that keeps failing.
      try {
        require('tunnel').open(cmd);
      } catch (e) {
        console.warn('tunnel request refused: ' + e.message);
      }
      break;
    default:
      break;
  }
}

agent.on('Command', function(cmd) {
  if (!cmd || typeof cmd.action !== 'string') return;
  switch (cmd.action) {
    case 'msg':
      onMsg(cmd);
      break;
    case 'serverInfo': // meshd's "core is stable": tell it who we are
      sendCoreInfo();
      sendNetInfo();
      break;
    case 'sysinfo':
    case 'netinfo':
      sendNetInfo();
      break;
    default:
      break;
  }
});

agent.on('Connected', function(up) {
  if (up) sendCoreInfo();
});

sendCoreInfo();
