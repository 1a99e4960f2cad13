// fs from a core, in TEST_TMP (an empty directory js_core_test.c made).
var fs = require('fs');
var dir = TEST_TMP;

T.test('write, read, append, exists, stat', function() {
  var p = dir + '/a.txt';
  T.ok(!fs.existsSync(p));
  fs.writeFileSync(p, 'h\u00e9llo');
  T.ok(fs.existsSync(p));
  T.eq(fs.readFileSync(p, 'utf8'), 'h\u00e9llo');
  T.eq(fs.readFileSync(p, {encoding: 'hex'}), '68c3a96c6c6f');
  var b = fs.readFileSync(p);
  T.ok(Buffer.isBuffer(b));
  T.eq(b.length, 6);
  fs.appendFileSync(p, Buffer.from([0x21]));
  T.eq(fs.readFileSync(p).toString(), 'h\u00e9llo!');
  fs.writeFileSync(p, 'x', {flag: 'a'});
  T.eq(fs.readFileSync(p, 'latin1').length, 8);
  var st = fs.statSync(p);
  T.eq(st.size, 8);
  T.eq(st.type, 'file');
  T.ok(st.mtimeMs > 1e12, 'mtimeMs');
  T.eq(fs.statSync(dir).type, 'directory');
});

T.test('mode, mkdir, readdir, rename, unlink, rmdir', function() {
  fs.writeFileSync(dir + '/secret', 'k', {mode: 384});
  T.eq(fs.statSync(dir + '/secret').mode & 511, 384);
  fs.chmodSync(dir + '/secret', 420);
  T.eq(fs.statSync(dir + '/secret').mode & 511, 420);
  fs.mkdirSync(dir + '/sub');
  fs.writeFileSync(dir + '/sub/one', '1');
  fs.renameSync(dir + '/sub/one', dir + '/sub/two');
  T.eq(fs.readdirSync(dir + '/sub').join(), 'two');
  T.eq(fs.readdirSync(dir).sort().join(), 'a.txt,secret,sub');
  fs.unlinkSync(dir + '/sub/two');
  fs.rmdirSync(dir + '/sub');
  T.ok(!fs.existsSync(dir + '/sub'));
});

T.test('errors carry code, syscall and path', function() {
  var e = T.throws(function() { fs.readFileSync(dir + '/none'); }, /ENOENT/);
  T.eq(e.code, 'ENOENT');
  T.eq(e.syscall, 'open');
  T.eq(e.path, dir + '/none');
  T.eq(T.throws(function() { fs.mkdirSync(dir); }).code, 'EEXIST');
  T.eq(T.throws(function() { fs.rmdirSync(dir + '/a.txt'); }).code, 'ENOTDIR');
  T.eq(T.throws(function() { fs.readdirSync(dir + '/a.txt'); }).code, 'ENOTDIR');
  T.throws(function() { fs.writeFileSync(dir + '/x', 42); }, /TypeError/);
  T.throws(function() { fs.readFileSync(dir + '/a.txt', 'nope'); }, /unknown encoding/);
});

T.test('readFile and writeFile run on the thread pool', function(done) {
  var big = new Array(200001).join('z');
  var sync = true;
  fs.writeFile(dir + '/big', big, T.guard(done, function(err) {
    T.eq(err, null);
    T.ok(!sync, 'callback ran later');
    fs.readFile(dir + '/big', 'utf8', T.guard(done, function(err2, data) {
      T.eq(err2, null);
      T.eq(data.length, 200000);
      fs.readFile(dir + '/big', T.guard(done, function(err3, buf) {
        T.ok(Buffer.isBuffer(buf));
        T.eq(buf.length, 200000);
        fs.appendFile(dir + '/big', 'END', T.guard(done, function() {
          T.eq(fs.statSync(dir + '/big').size, 200003);
          done();
        }));
      }));
    }));
  }));
  sync = false;
});

T.test('async errors reach the callback', function(done) {
  fs.readFile(dir + '/none', T.guard(done, function(err, data) {
    T.eq(err.code, 'ENOENT');
    T.eq(data, undefined);
    fs.writeFile(dir + '/no/such/dir', 'x', T.guard(done, function(err2) {
      T.eq(err2.code, 'ENOENT');
      fs.readFile(dir + '/a.txt', 'nope', T.guard(done, function(err3) {
        T.ok(/unknown encoding/.test(String(err3)), String(err3));
        done();
      }));
    }));
  }));
});
