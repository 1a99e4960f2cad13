// child_process from a core.
var cp = require('child_process');

T.test('spawn: stdout, stderr, exit code, then close', function(done) {
  var out = '', err = '', events = [];
  var c = cp.spawn('/bin/sh', ['-c', 'echo out; echo err >&2; exit 3']);
  T.ok(c.pid > 0, 'pid');
  c.stdout.on('data', function(b) { out += b.toString(); });
  c.stderr.on('data', function(b) { err += b.toString(); });
  c.on('exit', function(code, sig) { events.push('exit' + code + sig); });
  c.on('close', T.guard(done, function(code, sig) {
    events.push('close' + code + sig);
    T.eq(out, 'out\n');
    T.eq(err, 'err\n');
    T.eq(events.join(), 'exit3null,close3null');
    done();
  }));
});

T.test('spawn: stdin is piped, end closes it', function(done) {
  var c = cp.spawn('/bin/cat'), out = '';
  c.stdout.on('data', function(b) { out += b.toString(); });
  c.on('close', T.guard(done, function(code) {
    T.eq(code, 0);
    T.eq(out, 'one two');
    done();
  }));
  T.ok(c.stdin.write('one '));
  c.stdin.end(Buffer.from('two'));
});

T.test('kill: the signal is reported', function(done) {
  var c = cp.spawn('/bin/sleep', ['30']);
  c.on('exit', T.guard(done, function(code, sig) {
    T.eq(code, null);
    T.eq(sig, 'SIGTERM');
    T.eq(c.kill(), false, 'kill after exit');
    done();
  }));
  T.ok(c.kill());
  T.throws(function() { c.kill('SIGNOPE'); }, /unknown signal/);
});

T.test('spawn options: env and cwd', function(done) {
  cp.execFile('/bin/sh', ['-c', 'echo "$FOO" && pwd'],
              {env: {FOO: 'bar baz'}, cwd: '/'}, T.guard(done, function(err, out) {
    T.eq(err, null);
    T.eq(out, 'bar baz\n/\n');
    done();
  }));
});

T.test('execFile: output, and err.code for a failing command', function(done) {
  cp.execFile('/bin/echo', ['a', 'b c'], T.guard(done, function(err, out, errout) {
    T.eq(err, null);
    T.eq(out, 'a b c\n');
    T.eq(errout, '');
    cp.execFile('/bin/sh', ['-c', 'printf x >&2; exit 7'], T.guard(done, function(e2, o2, s2) {
      T.eq(e2.code, 7);
      T.eq(o2, '');
      T.eq(s2, 'x');
      done();
    }));
  }));
});

T.test('execFile: a missing file reaches the callback, spawn throws', function(done) {
  T.eq(T.throws(function() { cp.spawn('/no/such/binary'); }).code, 'ENOENT');
  cp.execFile('/no/such/binary', [], T.guard(done, function(err) {
    T.eq(err.code, 'ENOENT');
    done();
  }));
});
