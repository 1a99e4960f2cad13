// Timers from a core.
T.test('setTimeout passes its arguments; equal delays keep their order', function(done) {
  var seen = [];
  setTimeout(function(a, b) { seen.push(a + b); }, 5, 'x', 'y');
  setTimeout(function() { seen.push(1); }, 5);
  setTimeout(function() { seen.push(2); }, 5);
  setTimeout(T.guard(done, function() {
    T.eq(seen.join(), 'xy,1,2');
    done();
  }), 30);
});

T.test('clearTimeout inside another timer stops it', function(done) {
  var fired = false, victim = setTimeout(function() { fired = true; }, 20);
  setTimeout(function() { clearTimeout(victim); }, 1);
  setTimeout(T.guard(done, function() {
    T.ok(!fired, 'cleared timer fired');
    done();
  }), 50);
});

T.test('setInterval repeats until cleared from inside', function(done) {
  var n = 0, iv = setInterval(function() {
    if (++n === 4) clearInterval(iv);
  }, 2);
  setTimeout(T.guard(done, function() {
    T.eq(n, 4);
    done();
  }), 100);
});

T.test('setImmediate and process.nextTick run on a later turn', function(done) {
  var order = [];
  setImmediate(function(v) { order.push(v); }, 'imm');
  process.nextTick(function(v) { order.push(v); }, 'tick');
  order.push('now');
  setTimeout(T.guard(done, function() {
    T.eq(order[0], 'now');
    T.eq(order.length, 3);
    done();
  }), 20);
});

T.test('clearing junk is ignored', function() {
  clearTimeout(undefined);
  clearTimeout({});
  clearInterval(7);
  clearImmediate(null);
  T.throws(function() { setTimeout('code', 1); }, /TypeError/);
});
