// child_process.js - require('child_process'): spawn and execFile on the
// native _spawn (js_child.c). spawn throws at once when the file cannot be
// started (err.code 'ENOENT' and so on); execFile hands that error to its
// callback instead, on a later turn of the loop.
var EventEmitter = require('events');
var native = {spawn: exports._spawn, write: exports._write, end: exports._end,
              kill: exports._kill};
delete exports._spawn;
delete exports._write;
delete exports._end;
delete exports._kill;

exports.spawn = function(file, args, options) {
  if (!Array.isArray(args)) {
    options = args;
    args = [];
  }
  var child = new EventEmitter();
  child.stdout = new EventEmitter();
  child.stderr = new EventEmitter();
  child.stdin = {
    write: function(data) { return native.write.call(child, data); },
    end: function(data) {
      if (data !== undefined) native.write.call(child, data);
      native.end.call(child);
    }
  };
  child.kill = function(sig) { return native.kill.call(child, sig); };
  native.spawn(file, args.map(String), options || {}, child);
  return child;
};

// execFile(file[, args][, options], callback(err, stdout, stderr)): the
// output as strings (or Buffers with {encoding: 'buffer'}); err set when
// the exit code is not 0 (err.code) or a signal ended it (err.signal).
exports.execFile = function(file, args, options, callback) {
  if (typeof args === 'function') {
    callback = args;
    args = [];
    options = {};
  } else if (typeof options === 'function') {
    callback = options;
    options = Array.isArray(args) ? {} : args;
    args = Array.isArray(args) ? args : [];
  }
  options = options || {};
  var out = [], err = [];
  var child;
  try {
    child = exports.spawn(file, args, options);
  } catch (e) {
    setImmediate(function() { if (callback) callback(e, '', ''); });
    return null;
  }
  child.stdout.on('data', function(b) { out.push(b); });
  child.stderr.on('data', function(b) { err.push(b); });
  child.on('close', function(code, signal) {
    var so = Buffer.concat(out), se = Buffer.concat(err);
    if (options.encoding !== 'buffer') {
      so = so.toString();
      se = se.toString();
    }
    var e = null;
    if (code !== 0) {
      e = new Error('Command failed: ' + [file].concat(args).join(' '));
      e.code = code;
      e.signal = signal;
    }
    if (callback) callback(e, so, se);
  });
  return child;
};
