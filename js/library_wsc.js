// SPDX-License-Identifier: MIT
// library_wsc.js - the JavaScript half of wsc's wasm backend (an Emscripten
// --js-library). It owns the WebSocket objects: a table of sockets, each with
// the queue of messages that arrived and the close event once it came. The C
// half (src/wasm/) pulls messages out of the queue. Blocking waits suspend
// the C stack with Asyncify when the program is linked with -sASYNCIFY; in
// other builds wsc_js_wait answers WSC_ENOTSUP (-13) at once.
//
// In a -pthread build every wsc_js_* function but wsc_js_wait runs on the
// main thread (`__proxy: 'sync'`), where the sockets and their events live;
// a Worker thread waiting for an event sleeps on the socket's signal word in
// shared memory (src/wasm/conn.c), which wake() bumps and notifies.
//
// In browsers the global WebSocket is used; in Node the global one when it
// exists (Node 22+, or 20 with --experimental-websocket), else npm `ws`.
//
// An event handler (wsc_set_event_handler) is a C function the socket's
// events call: open, error, close, each message, and the send queue
// draining once wsc_buffered_amount reported bytes queued (no browser fires
// that: a timer looks until they went).

mergeInto(LibraryManager.library, {
  $WSC__deps: ['$getWasmTableEntry'],
  $WSC: {
    socks: {},
    next: 1,
    impl: null,
    options: undefined,
    copySend: false, // npm ws may frame a message after send() returned
    enc: null,
    dec: null,

    WebSocketClass: function() {
      if (WSC.impl) return WSC.impl;
      if (typeof WebSocket !== 'undefined') {
        WSC.impl = WebSocket;
#if ENVIRONMENT_MAY_BE_NODE
      } else if (typeof require === 'function') {
        try {
          WSC.impl = require('ws');
          // No limits of ws's own, as in browsers: the read limit is ours to
          // enforce, and ws's default of 16,384 frames per message closed
          // 4 MiB messages sent in 64-byte frames with 1008.
          WSC.options = {maxPayload: 0, maxFragments: 0, maxBufferedChunks: 0};
          WSC.copySend = true;
        } catch (e) {
          throw new Error('wsc: this Node has no global WebSocket; install the npm package "ws"');
        }
#endif
      } else {
        throw new Error('wsc: no WebSocket implementation available');
      }
      WSC.enc = new TextEncoder();
      WSC.dec = new TextDecoder('utf-8', {ignoreBOM: true}); // keep a leading BOM
      return WSC.impl;
    },

    // Wakes whatever waits for the socket's next event: a Worker thread
    // (-pthread) or C suspended by Asyncify. Builds with neither have
    // nothing to wake.
    wake: function(s) {
#if USE_PTHREADS
      if (s.signal) {
        Atomics.add(HEAP32, s.signal >> 2, 1);
        Atomics.notify(HEAP32, s.signal >> 2);
      }
#endif
#if ASYNCIFY
      var w = s.waiter;
      if (w) {
        s.waiter = null;
        w(0);
      }
#endif
    },

    // Calls the C handler, if any. Never while C is suspended in a blocking
    // call (Asyncify): then once it has resumed.
    fire: function(s) {
      if (!s.fn) return;
#if ASYNCIFY
      if (Asyncify.currData) {
        if (!s.deferred) {
          s.deferred = true;
          setTimeout(function() { s.deferred = false; WSC.fire(s); }, 0);
        }
        return;
      }
#endif
      {{{ makeDynCall('vii', 's.fn') }}}(s.conn, s.user);
    },

    // The idle timeout: closes with 1001 (4001) once nothing arrived for
    // s.idle ms. One timer, re-armed for what is left when it fires, so a
    // message costs only a clock read.
    armIdle: function(s) {
      var left = s.lastRx + s.idle - performance.now();
      s.idleTimer = setTimeout(function() {
        s.idleTimer = null;
        if (s.ws.readyState !== 1 || s.closing) return;
        if (s.lastRx + s.idle > performance.now()) {
          WSC.armIdle(s);
          return;
        }
        WSC.close(s, 1001, 'nothing received for ' + s.idle + ' ms (idle timeout)');
        WSC.wake(s);
        WSC.fire(s);
      }, left > 0 ? left : 0);
    },

    // close(code, reason) that never throws: browsers accept only 1000 and
    // 3000-4999, so 1001-1014 go out as 4001-4014 (documented in wsc.h).
    close: function(s, code, reason) {
      s.closing = true;
      if (!code) {
        s.ws.close();
        return 0;
      }
      try {
        s.ws.close(code, reason);
        return code;
      } catch (e) {
        var mapped = code >= 1001 && code <= 1014 ? 3000 + code : 4000;
        try {
          s.ws.close(mapped, reason);
        } catch (e2) {
          s.ws.close();
        }
        return mapped;
      }
    },

    onmessage: function(s, data) {
      if (s.idle) s.lastRx = performance.now();
      if (s.closing) return; // data arriving during the close handshake is dropped
      if (s.closeRead) {
        s.queue.length = 0;
        WSC.close(s, 1008, 'unexpected data message');
        WSC.wake(s);
        return;
      }
      var type, bytes;
      if (typeof data === 'string') {
        type = 1;
        bytes = WSC.enc.encode(data);
      } else {
        type = 2;
        bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
                                         : new Uint8Array(data);
      }
      if (s.limit >= 0 && bytes.length > s.limit) {
        s.queue.push({type: -1, bytes: null});
        WSC.close(s, 1009, 'message too big');
      } else {
        s.queue.push({type: type, bytes: bytes});
      }
      WSC.wake(s);
      WSC.fire(s);
    },
  },

  wsc_js_open__deps: ['$WSC'],
  wsc_js_open__proxy: 'sync',
  wsc_js_open: function(urlPtr, protosPtr, nProtos, signal, whyPtr, whyCap) {
    var raw = UTF8ToString(urlPtr), protos = [], u, ws;
    for (var i = 0; i < nProtos; i++) protos.push(UTF8ToString(HEAPU32[(protosPtr >> 2) + i]));
    try {
      // The native parser's rules (src/proto/url.c), the rest is URL's.
      if (/[\0- \x7f]/.test(raw)) throw new Error('a space or control character');
      if (!/^(wss?|https?):\/\/[^\/?#]/i.test(raw)) throw new Error('not ws://, wss://, http:// or https:// and a host');
      u = new URL(raw);
      if (u.port === '0') throw new Error('port 0 out of range (1-65535)');
      var Impl = WSC.WebSocketClass();
      ws = new Impl((/^(https|wss)/.test(u.protocol) ? 'wss://' : 'ws://') + u.host + u.pathname + u.search,
                    protos, WSC.options);
    } catch (e) {
      stringToUTF8((u ? 'the browser refused to open a WebSocket to ' + raw : 'bad URL "' + raw + '"') +
                   ': ' + e.message, whyPtr, whyCap);
      return -1; // WSC_EINVAL
    }
    ws.binaryType = 'arraybuffer';
    var id = WSC.next++;
    // Fields not set here start out undefined (false, none): opened, closing,
    // closeRead, waiter, fn/conn/user, deferred, limit (wsc_dial sets it),
    // idle and its timer, drainTimer.
    var s = {ws: ws, target: u.pathname + u.search, signal: signal, queue: [], code: -1, reason: ''};
    WSC.socks[id] = s;
    ws.onopen = function() {
      s.opened = true;
      if (s.idle) {
        s.lastRx = performance.now();
        WSC.armIdle(s);
      }
      WSC.wake(s);
      WSC.fire(s);
    };
    ws.onerror = function() { WSC.wake(s); WSC.fire(s); };
    ws.onclose = function(ev) {
      s.code = ev.code;
      s.reason = ev.reason || '';
      WSC.wake(s);
      WSC.fire(s);
    };
    ws.onmessage = function(ev) { WSC.onmessage(s, ev.data); };
    return id;
  },

  wsc_js_state__deps: ['$WSC'],
  wsc_js_state__proxy: 'sync',
  wsc_js_state: function(id) {
    var s = WSC.socks[id];
    return s ? s.ws.readyState : 3;
  },

  wsc_js_opened__deps: ['$WSC'],
  wsc_js_opened__proxy: 'sync',
  wsc_js_opened: function(id) {
    var s = WSC.socks[id];
    return s && s.opened ? 1 : 0;
  },

  wsc_js_wait__deps: ['$WSC'],
  wsc_js_wait: function(id, timeout) {
#if ASYNCIFY
    return Asyncify.handleSleep(function(wakeUp) {
      var s = WSC.socks[id];
      var timer = null;
      s.waiter = function(v) {
        if (timer !== null) clearTimeout(timer);
        wakeUp(v);
      };
      if (timeout >= 0) {
        timer = setTimeout(function() {
          s.waiter = null;
          wakeUp(-4); // WSC_ETIMEDOUT
        }, timeout);
      }
    });
#else
    return -13; // WSC_ENOTSUP: blocking needs -sASYNCIFY
#endif
  },

  wsc_js_next__deps: ['$WSC'],
  wsc_js_next__proxy: 'sync',
  wsc_js_next: function(id, dst, cap, typePtr, lenPtr) {
    var s = WSC.socks[id];
    if (!s || s.queue.length === 0) return s && s.ws.readyState !== 3 ? 0 : -1;
    var m = s.queue[0], n = m.bytes ? m.bytes.length : 0;
    HEAP32[typePtr >> 2] = m.type;
    HEAPU32[lenPtr >> 2] = n;
    if (n > cap) return 2;
    if (n) HEAPU8.set(m.bytes, dst);
    s.queue.shift();
    return 1;
  },

  wsc_js_send__deps: ['$WSC'],
  wsc_js_send__proxy: 'sync',
  wsc_js_send: function(id, type, ptr, len) {
    var s = WSC.socks[id];
    if (s && s.ws.readyState === 0) return -3; // WSC_EAGAIN: still connecting
    if (!s || s.ws.readyState !== 1 || s.closing) return -5; // WSC_ECLOSED
    var bytes = HEAPU8.subarray(ptr, ptr + len);
    // A browser copies what send() is given before it returns, but send()
    // and TextDecoder refuse views of shared memory, as a -pthread build
    // has, and npm ws may frame a message after send() returned.
#if USE_PTHREADS
    bytes = bytes.slice();
#elif ENVIRONMENT_MAY_BE_NODE
    if (WSC.copySend && type !== 1) bytes = bytes.slice();
#endif
    s.ws.send(type === 1 ? WSC.dec.decode(bytes) : bytes);
    return 0;
  },

  wsc_js_close__deps: ['$WSC'],
  wsc_js_close__proxy: 'sync',
  wsc_js_close: function(id, code, reasonPtr) {
    return WSC.close(WSC.socks[id], code, UTF8ToString(reasonPtr));
  },

  wsc_js_close_code__deps: ['$WSC'],
  wsc_js_close_code__proxy: 'sync',
  wsc_js_close_code: function(id) {
    var s = WSC.socks[id];
    return s ? s.code : -1;
  },

  // Copies a string of the socket (NUL-terminated, cut to cap) and returns
  // its whole length in UTF-8 bytes: which 0 the close reason, 1 the
  // subprotocol, 2 the extensions, 3 the request target.
  wsc_js_string__deps: ['$WSC'],
  wsc_js_string__proxy: 'sync',
  wsc_js_string: function(id, which, buf, cap) {
    var s = WSC.socks[id];
    var str = [s.reason, s.ws.protocol, s.ws.extensions, s.target][which] || '';
    stringToUTF8(str, buf, cap);
    return lengthBytesUTF8(str);
  },

  wsc_js_set_read_limit__deps: ['$WSC'],
  wsc_js_set_read_limit__proxy: 'sync',
  wsc_js_set_read_limit: function(id, limit) {
    WSC.socks[id].limit = limit;
  },

  wsc_js_set_idle__deps: ['$WSC'],
  wsc_js_set_idle__proxy: 'sync',
  wsc_js_set_idle: function(id, ms) {
    var s = WSC.socks[id];
    s.idle = ms; // armed when the socket opens...
    // ...unless it opened already: from a Worker (-pthread) each call is a
    // round trip to the main thread, which may run the open event between
    // wsc_js_open and this call.
    if (s.opened && !s.idleTimer) {
      s.lastRx = performance.now();
      WSC.armIdle(s);
    }
  },

  wsc_js_close_read__deps: ['$WSC'],
  wsc_js_close_read__proxy: 'sync',
  wsc_js_close_read: function(id) {
    var s = WSC.socks[id];
    s.closeRead = true;
    if (s.queue.length && !s.closing) {
      s.queue.length = 0;
      WSC.close(s, 1008, 'unexpected data message');
    }
  },

  // Also, for an event handler, looks every 4 ms while bytes are queued
  // whether they went (no browser has an event for that).
  wsc_js_buffered_amount__deps: ['$WSC'],
  wsc_js_buffered_amount__proxy: 'sync',
  wsc_js_buffered_amount: function(id) {
    var s = WSC.socks[id];
    if (!s) return 0;
    if (s.fn && !s.drainTimer && s.ws.bufferedAmount > 0) {
      s.drainTimer = setTimeout(function check() {
        s.drainTimer = null;
        if (s.ws.readyState !== 1) return;
        if (s.ws.bufferedAmount > 0) {
          s.drainTimer = setTimeout(check, 4);
          return;
        }
        WSC.fire(s);
      }, 4);
    }
    return s.ws.bufferedAmount;
  },

  wsc_js_set_handler__deps: ['$WSC'],
  wsc_js_set_handler__proxy: 'sync',
  wsc_js_set_handler: function(id, fn, conn, user) {
    var s = WSC.socks[id];
    s.fn = fn;
    s.conn = conn;
    s.user = user;
  },

  wsc_js_free__deps: ['$WSC'],
  wsc_js_free__proxy: 'sync',
  wsc_js_free: function(id) {
    var s = WSC.socks[id];
    if (!s) return;
    s.fn = 0;
    s.signal = 0; // the C side frees it next
    if (s.drainTimer) clearTimeout(s.drainTimer);
    if (s.idleTimer) clearTimeout(s.idleTimer);
    if (s.ws.readyState < 2) WSC.close(s, 1001, '');
    s.ws.onopen = s.ws.onclose = s.ws.onmessage = null;
    s.ws.onerror = function() {}; // npm ws reports closing a CONNECTING socket as an error
    delete WSC.socks[id];
  },
});
