#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// emcc-flags.js - the emcc flags for using wsc from C compiled to wasm, with
// absolute paths to where this package is (node_modules/wsc or a checkout
// after `make wasm`). Like pkg-config:
//
//   emcc -Oz app.c $(npx wsc-emcc-flags --asyncify) -o app.js
//
//   wsc-emcc-flags [--asyncify | --pthread] [--small] [--cflags | --libs] [--json]
//     (none)       compile and link flags: -I<include> <libwsc.a> --js-library <library_wsc.js>
//     --asyncify   also -sASYNCIFY -sASYNCIFY_IMPORTS=wsc_js_wait (blocking calls
//                  on the main thread)
//     --pthread    blocking calls on a Worker thread instead: -pthread (compile
//                  and link), <libwsc-mt.a>, -sPROXY_TO_PTHREAD (main() runs
//                  on a Worker; the page must be cross-origin isolated) and
//                  -sEXIT_RUNTIME=1 (else Node keeps running after main returns)
//     --small      the smallest build (about 2.5 KB less gzipped): -flto
//                  (compile and link) with <libwsc-lto.a>, LLVM bitcode that is
//                  optimized together with the app, and -sMALLOC=emmalloc (a
//                  smaller malloc for the whole program, slower with many small
//                  allocations). Not with --pthread.
//     --cflags     only the compile flags (-I...)
//     --libs       only the link flags (plus the Asyncify ones with --asyncify)
//     --json       a JSON array of arguments instead of one shell line
//
// From JavaScript: require('libwsc').emccFlags({asyncify, pthread, small, cflags, libs}) returns
// the same arguments as an array (no quoting needed for spawn/execFile).
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = __dirname;
const INCLUDE = path.join(ROOT, 'include');
const LIB = path.join(ROOT, 'build', 'wasm', 'libwsc.a');
const LIB_MT = path.join(ROOT, 'build', 'wasm', 'libwsc-mt.a'); // built with -pthread
const LIB_LTO = path.join(ROOT, 'build', 'wasm', 'libwsc-lto.a'); // LLVM bitcode, for -flto
const JS_LIBRARY = path.join(ROOT, 'js', 'library_wsc.js');
// The JS import that suspends the C stack under Asyncify (js/library_wsc.js).
// The list is written without brackets or quotes so that it survives unquoted
// shell expansion; emcc (3.1.6 and later) reads a comma-separated list.
const ASYNCIFY = ['-sASYNCIFY', '-sASYNCIFY_IMPORTS=wsc_js_wait'];
const PTHREAD = ['-pthread', '-sPROXY_TO_PTHREAD', '-sEXIT_RUNTIME=1'];
const SMALL = ['-flto', '-sMALLOC=emmalloc'];

function emccFlags(opts = {}) {
  if (opts.asyncify && opts.pthread) throw new Error('wsc-emcc-flags: --asyncify and --pthread are alternatives');
  if (opts.small && opts.pthread) throw new Error('wsc-emcc-flags: --small is not for --pthread builds');
  const cflags = ['-I' + INCLUDE];
  const libs = [opts.pthread ? LIB_MT : opts.small ? LIB_LTO : LIB, '--js-library', JS_LIBRARY];
  if (opts.asyncify) libs.push(...ASYNCIFY);
  if (opts.small) {
    cflags.push('-flto');
    libs.push(...SMALL);
  }
  if (opts.pthread) {
    cflags.push('-pthread');
    libs.push(...PTHREAD);
  }
  if (opts.cflags && !opts.libs) return cflags;
  if (opts.libs && !opts.cflags) return libs;
  return cflags.concat(libs);
}

module.exports = { emccFlags, include: INCLUDE, lib: LIB, libMt: LIB_MT, libLto: LIB_LTO, jsLibrary: JS_LIBRARY,
                   asyncify: ASYNCIFY, pthread: PTHREAD, small: SMALL };

function usage(out) {
  out.write('usage: wsc-emcc-flags [--asyncify | --pthread] [--small] [--cflags | --libs] [--json]\n' +
            'Prints the emcc flags for wsc (wasm), with paths to this package:\n' +
            '  emcc -Oz app.c $(wsc-emcc-flags --asyncify) -o app.js   # blocking on the main thread\n' +
            '  emcc -Oz app.c $(wsc-emcc-flags --pthread) -o app.js    # blocking on a Worker\n' +
            '  emcc -Oz app.c $(wsc-emcc-flags --small) -o app.js      # smallest (-flto, emmalloc)\n');
}

if (require.main === module) {
  const opts = {};
  let json = false;
  for (const a of process.argv.slice(2)) {
    if (a === '--asyncify') opts.asyncify = true;
    else if (a === '--pthread') opts.pthread = true;
    else if (a === '--small') opts.small = true;
    else if (a === '--cflags') opts.cflags = true;
    else if (a === '--libs') opts.libs = true;
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') { usage(process.stdout); process.exit(0); }
    else { process.stderr.write(`wsc-emcc-flags: unknown option ${a}\n`); usage(process.stderr); process.exit(2); }
  }
  if (opts.asyncify && opts.pthread) {
    process.stderr.write('wsc-emcc-flags: --asyncify and --pthread are alternatives: pick one\n');
    usage(process.stderr);
    process.exit(2);
  }
  if (opts.small && opts.pthread) {
    process.stderr.write('wsc-emcc-flags: --small is not for --pthread builds (there is no bitcode libwsc-mt)\n');
    usage(process.stderr);
    process.exit(2);
  }
  const flags = emccFlags(opts);
  const lib = opts.pthread ? LIB_MT : LIB;
  if (!opts.cflags || opts.libs) {
    if (!fs.existsSync(lib))
      process.stderr.write(`wsc-emcc-flags: warning: ${lib} is missing (in a checkout, run \`make wasm\`)\n`);
  }
  if (json) {
    process.stdout.write(JSON.stringify(flags) + '\n');
  } else {
    if (flags.some((f) => /\s/.test(f)))
      process.stderr.write('wsc-emcc-flags: warning: a path contains white space; use --json or require(\'libwsc\').emccFlags()\n');
    process.stdout.write(flags.join(' ') + '\n');
  }
}
