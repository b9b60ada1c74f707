#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// emcc-flags.js - the emcc flags for using wsc from C compiled to wasm, with
// absolute paths to where this package is (node_modules/wsc or a checkout
// after `make wasm`). Like pkg-config:
//
//   emcc -Oz app.c $(npx wsc-emcc-flags --asyncify) -o app.js
//
//   wsc-emcc-flags [--asyncify] [--cflags | --libs] [--json]
//     (none)       compile and link flags: -I<include> <libwsc.a> --js-library <library_wsc.js>
//     --asyncify   also -sASYNCIFY -sASYNCIFY_IMPORTS=wsc_js_wait (blocking calls)
//     --cflags     only the compile flags (-I...)
//     --libs       only the link flags (plus the Asyncify ones with --asyncify)
//     --json       a JSON array of arguments instead of one shell line
//
// From JavaScript: require('libwsc').emccFlags({asyncify, cflags, libs}) returns
// the same arguments as an array (no quoting needed for spawn/execFile).
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = __dirname;
const INCLUDE = path.join(ROOT, 'include');
const LIB = path.join(ROOT, 'build', 'wasm', 'libwsc.a');
const JS_LIBRARY = path.join(ROOT, 'js', 'library_wsc.js');
// The JS import that suspends the C stack under Asyncify (js/library_wsc.js).
// The list is written without brackets or quotes so that it survives unquoted
// shell expansion; emcc (3.1.6 and later) reads a comma-separated list.
const ASYNCIFY = ['-sASYNCIFY', '-sASYNCIFY_IMPORTS=wsc_js_wait'];

function emccFlags(opts = {}) {
  const cflags = ['-I' + INCLUDE];
  const libs = [LIB, '--js-library', JS_LIBRARY];
  if (opts.asyncify) libs.push(...ASYNCIFY);
  if (opts.cflags && !opts.libs) return cflags;
  if (opts.libs && !opts.cflags) return libs;
  return cflags.concat(libs);
}

module.exports = { emccFlags, include: INCLUDE, lib: LIB, jsLibrary: JS_LIBRARY, asyncify: ASYNCIFY };

function usage(out) {
  out.write('usage: wsc-emcc-flags [--asyncify] [--cflags | --libs] [--json]\n' +
            'Prints the emcc flags for wsc (wasm), with paths to this package:\n' +
            '  emcc -Oz app.c $(wsc-emcc-flags --asyncify) -o app.js\n');
}

if (require.main === module) {
  const opts = {};
  let json = false;
  for (const a of process.argv.slice(2)) {
    if (a === '--asyncify') opts.asyncify = true;
    else if (a === '--cflags') opts.cflags = true;
    else if (a === '--libs') opts.libs = true;
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') { usage(process.stdout); process.exit(0); }
    else { process.stderr.write(`wsc-emcc-flags: unknown option ${a}\n`); usage(process.stderr); process.exit(2); }
  }
  const flags = emccFlags(opts);
  if (!opts.cflags || opts.libs) {
    if (!fs.existsSync(LIB))
      process.stderr.write(`wsc-emcc-flags: warning: ${LIB} is missing (in a checkout, run \`make wasm\`)\n`);
  }
  if (json) {
    process.stdout.write(JSON.stringify(flags) + '\n');
  } else {
    if (flags.some((f) => /\s/.test(f)))
      process.stderr.write('wsc-emcc-flags: warning: a path contains white space; use --json or require(\'libwsc\').emccFlags()\n');
    process.stdout.write(flags.join(' ') + '\n');
  }
}
