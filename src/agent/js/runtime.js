// runtime.js - run once per core before it: the globals the stock agent
// gives its cores (process, console) and the hooks the C side calls into
// (module.exports: deliver, connected, uncaught). native is the C side's
// small helper object (js.c: log, pid, env).
var EventEmitter = require('events');

var proc = new EventEmitter();
proc.platform = 'linux';
proc.arch = 'x64';
proc.pid = native.pid;
proc.env = native.env;
proc.nextTick = function(fn) {
  var args = Array.prototype.slice.call(arguments, 1);
  return setImmediate(function() { fn.apply(null, args); });
};
global.process = proc;

function text(args) {
  var parts = [];
  for (var i = 0; i < args.length; i++) {
    var v = args[i];
    if (typeof v === 'string') {
      parts.push(v);
    } else {
      try {
        parts.push(v instanceof Error ? String(v) : JSON.stringify(v));
      } catch (e) {
        parts.push(String(v));
      }
    }
  }
  return parts.join(' ');
}
global.console = {
  log: function() { native.log(0, text(arguments)); },
  info: function() { native.log(0, text(arguments)); },
  warn: function() { native.log(1, text(arguments)); },
  error: function() { native.log(2, text(arguments)); }
};

module.exports = {
  // One JSON text from the server (the C side checked it is an object).
  deliver: function(s) { require('MeshAgent').emit('Command', JSON.parse(s)); },
  connected: function(up) { require('MeshAgent').emit('Connected', up); },
  // A throw nobody caught: true when the core's own handler took it.
  uncaught: function(err) {
    if (proc.listenerCount('uncaughtException') === 0) return false;
    proc.emit('uncaughtException', err);
    return true;
  }
};
