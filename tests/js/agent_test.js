// require('MeshAgent') and require('tunnel') from a core, without a server.
T.test('MeshAgent facts', function() {
  var m = require('MeshAgent');
  T.eq(m.NodeId, 'testnode');
  T.eq(m.Hostname, 'testhost');
  T.eq(m.ServerUrl, null);
  T.eq(m.isControlChannelConnected, false);
  T.eq(typeof m.on, 'function');
});

T.test('tunnel.open refuses without a control channel; bad requests throw', function() {
  var t = require('tunnel');
  T.eq(t.count(), 0);
  T.eq(t.open({value: '*/meshrelay.ashx?id=1', userid: 'user//a', rights: 8}), false);
  T.throws(function() { t.open({userid: 'u'}); }, /string value/);
  T.throws(function() { t.open('x'); }, /request object/);
  T.eq(t.count(), 0);
});

T.test('console writes to the agent log, process has the basics', function() {
  console.log('hello from a core', {a: 1});
  console.error(new Error('logged, not thrown'));
  T.eq(process.platform, 'linux');
  T.eq(typeof process.env.PATH, 'string');
});
