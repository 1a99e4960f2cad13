// harness.js - put in front of every tests/js/*_test.js by
// tests/unit/js_core_test.c, which runs each file as a core and reads the
// results from SendCommand: {action:'test', name, ok, msg} per test, then
// {action:'done', n}. A test taking an argument is asynchronous and calls
// it when finished (with an error to fail); a throw anywhere, caught by
// process 'uncaughtException', fails the test that is running.
var T = (function() {
  var agent = require('MeshAgent');
  var tests = [], current = null, count = 0;

  function fail(msg) { throw new Error(msg); }
  function show(v) {
    try { return JSON.stringify(v); } catch (e) { return String(v); }
  }

  function next() {
    if (tests.length === 0) {
      agent.SendCommand({action: 'done', n: count});
      return;
    }
    var t = tests.shift(), finished = false;
    var timer = setTimeout(function() { done(new Error('timed out')); }, 10000);
    function done(err) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      current = null;
      count++;
      agent.SendCommand({action: 'test', name: t.name, ok: !err,
                         msg: err ? String(err.stack || err) : ''});
      setImmediate(next);
    }
    current = done;
    try {
      if (t.fn.length > 0) {
        t.fn(done);
      } else {
        t.fn();
        done();
      }
    } catch (e) {
      done(e);
    }
  }

  process.on('uncaughtException', function(e) {
    if (current) {
      current(e);
    } else {
      agent.SendCommand({action: 'test', name: '(between tests)', ok: false,
                         msg: String(e.stack || e)});
    }
  });
  setImmediate(next);

  return {
    test: function(name, fn) { tests.push({name: name, fn: fn}); },
    ok: function(c, msg) { if (!c) fail('not true: ' + (msg || '')); },
    eq: function(got, want, msg) {
      if (got !== want) {
        fail((msg ? msg + ': ' : '') + 'want ' + show(want) + ', got ' + show(got));
      }
    },
    throws: function(fn, pattern, msg) {
      try {
        fn();
      } catch (e) {
        if (pattern && !pattern.test(String(e))) {
          fail((msg || '') + ' threw ' + e + ', not ' + pattern);
        }
        return e;
      }
      fail((msg || '') + ' did not throw');
    },
    // Wraps a callback so that its throw fails the test at once.
    guard: function(done, fn) {
      return function() {
        try {
          return fn.apply(this, arguments);
        } catch (e) {
          done(e);
        }
      };
    }
  };
})();
