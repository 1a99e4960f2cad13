// recovery.js - the recovery core meshd sends ahead of an update by core
// (spec control-channel.md §6.5; docs/cores-and-updates.md).
//
// It does one thing: when meshd sends {action:'agentupdate', url, hash,
// servertlshash}, it downloads the binary over HTTPS, accepting only the
// server that holds the control channel's certificate (or the one
// servertlshash names), checks its SHA-384, says agentupdatedownloaded,
// and hands the file to the agent's native installer, which test-starts
// it, swaps it in and restarts the agent. Any failure is reported as
// agentupdatefailed; the agent then carries on as it was.
var agent = require('MeshAgent');
var https = require('https');
var update = require('agentupdate');

var MAX_BYTES = 64 * 1024 * 1024; // what meshd serves at most
var busy = false;

function failed(reason) {
  busy = false;
  agent.SendCommand({ action: 'agentupdatefailed', reason: String(reason) });
}

function isHash(h) {
  return typeof h === 'string' && /^[0-9a-fA-F]{96}$/.test(h);
}

agent.on('Command', function (msg) {
  if (!msg || msg.action !== 'agentupdate' || busy) return;
  if (typeof msg.url !== 'string' || !isHash(msg.hash)) {
    failed('malformed agentupdate');
    return;
  }
  if (!update.path) {
    failed('updates are off on this agent');
    return;
  }
  var opts = { sha384: msg.hash, maxBytes: MAX_BYTES };
  if (isHash(msg.servertlshash)) opts.servertlshash = msg.servertlshash;
  busy = true;
  https.download(msg.url, update.path, opts, function (err) {
    if (err) {
      failed('download: ' + (err.code || err.message || err));
      return;
    }
    agent.SendCommand({ action: 'agentupdatedownloaded' });
    // On success the agent restarts and this core ends with it.
    if (!update.install(msg.hash)) failed('the agent refused to install');
  });
});

// Tells meshd the recovery core runs: it answers with agentupdate.
agent.SendCommand({ action: 'coreinfo', value: 'meshd-recovery/1' });
