// Buffer from a core: Duktape's own plus js_buffer.c.
T.test('from and toString in hex, base64, latin1, utf8', function() {
  var b = Buffer.from('h\u00e9llo');
  T.eq(b.length, 6);
  T.eq(b.toString('hex'), '68c3a96c6c6f');
  T.eq(b.toString('base64'), 'aMOpbGxv');
  T.eq(b.toString(), 'h\u00e9llo');
  T.eq(Buffer.from('68c3a96c6c6f', 'hex').toString(), 'h\u00e9llo');
  T.eq(Buffer.from('aMOpbGxv', 'base64').toString('utf8'), 'h\u00e9llo');
  var l = Buffer.from('\u00ff\u0001A', 'latin1');
  T.eq(l.toString('hex'), 'ff0141');
  T.eq(l.toString('latin1'), '\u00ff\u0001A');
  T.eq(Buffer.from([1, 255, 256, -1]).toString('hex'), '01ff00ff');
  T.eq(Buffer.from(Buffer.from('abc')).toString(), 'abc');
  T.eq(Buffer.from('').length, 0);
  T.eq(Buffer.from('', 'hex').toString('base64'), '');
});

T.test('toString start and end are clamped', function() {
  var b = Buffer.from('abcdef');
  T.eq(b.toString('utf8', 1, 3), 'bc');
  T.eq(b.toString('hex', 4), '6566');
  T.eq(b.toString('hex', 4, 100), '6566');
  T.eq(b.toString('hex', -5, 1), '61');
  T.eq(b.toString('hex', 3, 2), '');
});

T.test('alloc, fill, concat, slice, read and write', function() {
  var z = Buffer.alloc(4);
  T.eq(z.toString('hex'), '00000000');
  T.eq(Buffer.alloc(3, 0x41).toString(), 'AAA');
  var c = Buffer.concat([Buffer.from('ab'), Buffer.from('cd')]);
  T.eq(c.toString(), 'abcd');
  T.eq(c.slice(1, 3).toString(), 'bc');
  var w = Buffer.alloc(6);
  w.writeUInt32BE(0x01020304, 0);
  w.writeUInt16LE(0xbeef, 4);
  T.eq(w.toString('hex'), '01020304efbe');
  T.eq(w.readUInt16LE(4), 0xbeef);
  T.ok(Buffer.isBuffer(w));
});

T.test('bad input throws', function() {
  T.throws(function() { Buffer.from('abc', 'nope'); }, /unknown encoding/);
  T.throws(function() { Buffer.from('zz', 'hex'); });
  T.throws(function() { Buffer.alloc(-1); }, /RangeError/);
  T.throws(function() { Buffer.from(42); }, /TypeError/);
});
