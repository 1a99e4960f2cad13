// require('events') from a core.
var EventEmitter = require('events');

T.test('listeners run in order with their arguments', function() {
  var e = new EventEmitter(), seen = [];
  e.on('x', function(a, b) { seen.push('1' + a + b); });
  e.on('x', function(a) { seen.push('2' + a); });
  T.eq(e.emit('x', 'a', 'b'), true);
  T.eq(seen.join(), '1ab,2a');
  T.eq(e.emit('nobody'), false);
});

T.test('once fires once; removeListener and off remove one', function() {
  var e = new EventEmitter(), n = 0, m = 0;
  function inc() { n++; }
  e.once('x', function() { m++; });
  e.on('x', inc);
  e.on('x', inc);
  e.emit('x');
  e.emit('x');
  T.eq(m, 1);
  T.eq(n, 4);
  e.removeListener('x', inc);
  e.emit('x');
  T.eq(n, 5);
  e.off('x', inc);
  e.emit('x');
  T.eq(n, 5);
  T.eq(e.listenerCount('x'), 0);
});

T.test('a listener added or removed during emit waits for the next', function() {
  var e = new EventEmitter(), seen = [];
  function late() { seen.push('late'); }
  function b() { seen.push('b'); }
  e.on('x', function() {
    seen.push('a');
    e.on('x', late);
    e.removeListener('x', b);
  });
  e.on('x', b);
  e.emit('x');
  T.eq(seen.join(), 'a,b');
  seen = [];
  e.removeAllListeners('x');
  e.on('x', late);
  e.emit('x');
  T.eq(seen.join(), 'late');
});

T.test('this is the emitter; error without a listener throws', function() {
  var e = new EventEmitter(), self = null;
  e.on('x', function() { self = this; });
  e.emit('x');
  T.ok(self === e, 'this');
  var boom = new Error('boom');
  T.ok(T.throws(function() { e.emit('error', boom); }) === boom, 'same error');
  T.throws(function() { e.emit('error', 'text'); }, /Unhandled error: text/);
  var got = null;
  e.on('error', function(err) { got = err; });
  e.emit('error', boom);
  T.ok(got === boom);
  T.throws(function() { e.on('x', 42); }, /TypeError/);
});

T.test('inherits gives a constructor the emitter methods', function() {
  function Thing() { EventEmitter.call(this); }
  EventEmitter.inherits(Thing, EventEmitter);
  var t = new Thing(), n = 0;
  t.on('y', function(v) { n += v; });
  t.emit('y', 3);
  T.eq(n, 3);
  T.ok(t instanceof EventEmitter);
  T.eq(t.listeners('y').length, 1);
});
