// events.js - require('events'): Node.js's EventEmitter, the part cores use.
// Listeners run in the order added; a listener added or removed during an
// emit does not change that emit; emitting 'error' with no listener throws
// the error, as Node.js does.
function EventEmitter() {
  if (!(this instanceof EventEmitter)) return new EventEmitter();
  Object.defineProperty(this, '_events',
                        {value: {}, writable: true, enumerable: false});
}

function listOf(self, name) {
  if (!self._events) {
    Object.defineProperty(self, '_events',
                          {value: {}, writable: true, enumerable: false});
  }
  if (!Object.prototype.hasOwnProperty.call(self._events, name)) {
    self._events[name] = [];
  }
  return self._events[name];
}

EventEmitter.prototype.on = function(name, fn) {
  if (typeof fn !== 'function') throw new TypeError('listener must be a function');
  listOf(this, name).push({fn: fn, once: false});
  return this;
};
EventEmitter.prototype.addListener = EventEmitter.prototype.on;

EventEmitter.prototype.once = function(name, fn) {
  if (typeof fn !== 'function') throw new TypeError('listener must be a function');
  listOf(this, name).push({fn: fn, once: true});
  return this;
};

EventEmitter.prototype.removeListener = function(name, fn) {
  var l = listOf(this, name);
  for (var i = l.length - 1; i >= 0; i--) {
    if (l[i].fn === fn) {
      l.splice(i, 1);
      break;
    }
  }
  return this;
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

EventEmitter.prototype.removeAllListeners = function(name) {
  if (name === undefined) {
    this._events = {};
  } else if (this._events) {
    delete this._events[name];
  }
  return this;
};

EventEmitter.prototype.listeners = function(name) {
  return listOf(this, name).map(function(e) { return e.fn; });
};

EventEmitter.prototype.listenerCount = function(name) {
  return listOf(this, name).length;
};

EventEmitter.prototype.emit = function(name) {
  var l = listOf(this, name);
  if (l.length === 0) {
    if (name === 'error') {
      throw arguments[1] instanceof Error ? arguments[1]
                                          : new Error('Unhandled error: ' + arguments[1]);
    }
    return false;
  }
  var args = Array.prototype.slice.call(arguments, 1);
  var snapshot = l.slice();
  for (var i = 0; i < snapshot.length; i++) {
    var e = snapshot[i];
    if (e.once) {
      var at = l.indexOf(e);
      if (at >= 0) l.splice(at, 1);
    }
    e.fn.apply(this, args);
  }
  return true;
};

// inherits(Child, Parent): Child.prototype gets Parent.prototype's methods.
EventEmitter.inherits = function(ctor, parent) {
  ctor.prototype = Object.create(parent.prototype,
                                 {constructor: {value: ctor, writable: true, configurable: true}});
};

module.exports = EventEmitter;
module.exports.EventEmitter = EventEmitter;
