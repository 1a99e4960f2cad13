// require('ffi') from a core: libc by name, and the agent itself.
var ffi = require('ffi');

T.test('libc strlen, abs, getpid, strtoul', function() {
  var libc = ffi.open('libc.so.6');
  var strlen = libc.func('strlen', 'size_t', ['string']);
  T.eq(strlen('hello'), 5);
  T.eq(strlen(''), 0);
  T.eq(libc.func('abs', 'int', ['int'])(-42), 42);
  T.eq(libc.func('getpid', 'int', [])(), process.pid);
  T.eq(libc.func('labs', 'long', ['long'])(-5000000000), 5000000000);
  T.eq(libc.func('strtoul', 'ulong', ['string', 'pointer', 'int'])('ff', null, 16), 255);
  T.eq(libc.func('getenv', 'string', ['string'])('NO_SUCH_VAR_HOPEFULLY'), null);
  libc.close();
});

T.test('a buffer argument is written by the callee', function() {
  var libc = ffi.open('libc.so.6');
  var snprintf = libc.func('snprintf', 'int', ['buffer', 'size_t', 'string', 'int']);
  var b = Buffer.alloc(16);
  T.eq(snprintf(b, 16, 'n=%d', 42), 4);
  T.eq(b.toString('utf8', 0, 4), 'n=42');
  libc.close();
  var libm = ffi.open('libm.so.6');
  T.eq(libm.func('floor', 'double', ['double'])(2.7), 2);
  T.eq(libm.func('sqrtf', 'float', ['float'])(6.25), 2.5);
  libm.close();
});

T.test('open(null) is the agent process itself', function() {
  var self = ffi.open(null);
  T.eq(self.func('strlen', 'size_t', ['string'])('abc'), 3);
});

T.test('mistakes throw instead of calling', function() {
  var libc = ffi.open('libc.so.6');
  T.throws(function() { libc.func('no_such_function_x', 'int', []); }, /no symbol/);
  T.throws(function() { libc.func('abs', 'banana', ['int']); }, /bad return type/);
  T.throws(function() { libc.func('abs', 'int', ['void']); }, /bad argument type/);
  var abs = libc.func('abs', 'int', ['int']);
  T.throws(function() { abs(); }, /1 arguments expected/);
  libc.close();
  T.throws(function() { abs(1); }, /library closed/);
  T.throws(function() { libc.func('abs', 'int', ['int']); }, /library closed/);
  T.throws(function() { ffi.open('/no/such/lib.so'); }, /ffi:/);
});
