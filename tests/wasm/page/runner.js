// SPDX-License-Identifier: MIT
// runner.js - loads one Emscripten-built wasm test program into this page and
// reports what it did (used by tests/wasm/browser.test.mjs).
//
// Query: prog=NAME.js (a file of build/wasm/progs, served under /progs/) and
// args=<JSON array of strings> (argv after the program name).
//
// While it runs, window.__out holds {stdout, stderr} so far. When it ends,
// window.__result = {status, how, stdout, stderr, error}:
//   status  the exit status (null when it crashed)
//   how     "exit"    the program called exit() (or main returned, no Asyncify)
//           "return"  main returned after an Asyncify suspension: emcc 3.1.6
//                     drops that return value and never calls onExit, so this
//                     page picks it up from Asyncify's last rewind itself
//           "abort"   abort() or a wasm trap; error says what
//           "error"   an exception escaped, or the script failed to load
(function () {
  'use strict';
  var q = new URLSearchParams(location.search);
  var prog = q.get('prog') || '';
  var args = JSON.parse(q.get('args') || '[]');
  var out = { stdout: '', stderr: '' };
  window.__out = out;
  window.__result = null;

  function finish(status, how, error) {
    if (window.__result) return;
    window.__result = { status: status, how: how, stdout: out.stdout, stderr: out.stderr,
                        error: error || null };
  }

  function isExitStatus(e) {
    return e && typeof e === 'object' && e.name === 'ExitStatus';
  }

  // Main's return after an Asyncify suspension: Asyncify.doRewind returns what
  // the rewound export returned; when that leaves no saved stack (currData
  // null) the export ran to its end. The only export that suspends in these
  // programs is main.
  function hookAsyncify() {
    var A = window.Asyncify;
    if (!A || typeof A.doRewind !== 'function') return;
    var doRewind = A.doRewind;
    A.doRewind = function (ptr) {
      var r = doRewind.call(this, ptr);
      if (!A.currData && A.state === A.State.Normal) {
        // Like Emscripten's own exit(ret, true): run atexit and flush stdio.
        setTimeout(function () {
          if (window.__result) return;
          try {
            if (typeof window.exitRuntime === 'function' && !window.runtimeExited) window.exitRuntime();
          } catch (e) { /* the status is what matters */ }
          finish(r | 0, 'return');
        }, 0);
      }
      return r;
    };
  }

  window.Module = {
    arguments: args,
    print: function (s) { out.stdout += s + '\n'; },
    printErr: function (s) { out.stderr += s + '\n'; },
    preRun: [hookAsyncify],
    onExit: function (code) { finish(code, 'exit'); },
    onAbort: function (what) { finish(null, 'abort', String(what)); },
    // quit_ must throw toThrow (code after exit() must not run); an ExitStatus
    // also passes here when main suspends, which is not the end.
    quit: function (status, toThrow) {
      if (!isExitStatus(toThrow)) finish(null, 'error', String(toThrow && toThrow.stack || toThrow));
      throw toThrow;
    },
  };

  window.addEventListener('error', function (ev) {
    if (isExitStatus(ev.error) || ev.error === 'unwind') return;
    finish(null, 'error', String(ev.error && ev.error.stack || ev.message));
  });
  window.addEventListener('unhandledrejection', function (ev) {
    if (isExitStatus(ev.reason)) return;
    finish(null, 'error', String(ev.reason && ev.reason.stack || ev.reason));
  });

  if (!/^[A-Za-z0-9_.-]+\.js$/.test(prog)) {
    finish(null, 'error', 'bad prog ' + JSON.stringify(prog));
    return;
  }
  var s = document.createElement('script');
  s.src = '/progs/' + prog;
  s.onerror = function () { finish(null, 'error', 'could not load /progs/' + prog); };
  document.body.appendChild(s);
})();
