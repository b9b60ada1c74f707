#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// scripts/man.mjs - the library's man pages (section 3), generated from
// include/wsc.h: one page per section of the header ("/* ---- Dialing
// (client) ---- */" -> wsc_dial.3) holding that section's declarations and
// their comments as they are, plus wsc.3 (the header's conventions and the
// list of pages). They are kept in include/man3 (make install copies them,
// no node needed there); make test checks that they still match the header.
//
//   node scripts/man.mjs            rewrites include/man3/*.3 (make man)
//   node scripts/man.mjs --check    include/man3 is what the header gives;
//                                   every WSC_API function is on exactly one
//                                   page; groff renders each without a
//                                   warning (make test)
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEADER = path.join(ROOT, 'include/wsc.h');
const MAN_DIR = path.join(ROOT, 'include/man3');

// The page of each header section: its best-known function.
const PAGE_OF = {
  Errors: 'wsc_strerror',
  'Types and constants': 'wsc_status_string',
  'Dialing (client)': 'wsc_dial',
  'Accepting (server)': 'wsc_accept',
  Reading: 'wsc_read',
  Writing: 'wsc_write',
  'Events (browser)': 'wsc_set_event_handler',
  Closing: 'wsc_close',
  "Groups: closing a server's connections together": 'wsc_group_close',
  'State and introspection': 'wsc_get_state',
  "Byte streams over messages (Go's NetConn)": 'wsc_stream_open',
};

/** Text for troff: backslashes escaped, no line taken for a request. */
function roff(line) {
  const s = line.replace(/\\/g, '\\e');
  return /^[.']/.test(s) ? `\\&${s}` : s;
}

/** The header cut into its top comment and its sections. */
function parseHeader(text) {
  const lines = text.split('\n');
  const top = [];
  let i = 1; // after the SPDX line
  if (lines[i].startsWith('/*')) {
    for (i++; i < lines.length && !lines[i].startsWith(' */'); i++) top.push(lines[i].replace(/^ \* ?/, ''));
  }
  const sections = [];
  let cur = null;
  for (const line of lines) {
    const m = line.match(/^\/\* ---- (.+?) -+ \*\/$/);
    if (m) {
      cur = { title: m[1], lines: [] };
      sections.push(cur);
    } else if (line.startsWith('#ifdef __cplusplus')) {
      cur = null; // extern "C" { before the sections, } after them
    } else if (cur) {
      cur.lines.push(line);
    }
  }
  for (const s of sections) {
    while (s.lines.length && !s.lines.at(-1).trim()) s.lines.pop();
    s.functions = [...s.lines.join('\n').matchAll(/^WSC_API\s[^;(]*?\b(wsc_\w+)\s*\(/gm)].map((m) => m[1]);
    s.page = PAGE_OF[s.title];
    if (!s.page) throw new Error(`scripts/man.mjs: no page name for header section "${s.title}" (add it to PAGE_OF)`);
  }
  return { top, sections };
}

/** The section's text: comments as paragraphs, code as no-fill blocks. */
function body(lines) {
  const out = [];
  let inComment = false, inCode = false;
  const code = (on) => {
    if (on && !inCode) out.push('.PP', '.nf', '.ft CR');
    if (!on && inCode) out.push('.ft R', '.fi');
    inCode = on;
  };
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, '');
    if (!inComment && /^\/\*/.test(line) && !/\*\/\s*$/.test(line.slice(2))) {
      // a comment block on its own lines
      code(false);
      inComment = true;
      out.push('.PP');
      const rest = line.replace(/^\/\*\s?/, '');
      if (rest) out.push(roff(rest));
      continue;
    }
    if (inComment) {
      const end = /\*\/\s*$/.test(line);
      const t = line.replace(/\*\/\s*$/, '').replace(/^\s*\* ?/, '');
      if (t.trim()) out.push(/^\s/.test(t) ? `.br\n${roff(t)}` : roff(t));
      if (end) inComment = false;
      continue;
    }
    if (/^\/\*.*\*\/$/.test(line)) { // a one-line comment
      code(false);
      out.push('.PP', roff(line.replace(/^\/\*\s?/, '').replace(/\s?\*\/$/, '')));
      continue;
    }
    if (!line.trim()) {
      code(false);
      continue;
    }
    code(true);
    out.push(roff(line.replace(/^WSC_API /, '')));
  }
  code(false);
  return out;
}

function page(name, title, names, lines, version, seeAlso) {
  return [
    '.\\" SPDX-License-Identifier: MIT',
    `.\\" Generated from include/wsc.h by scripts/man.mjs: edit the header, not this page.`,
    `.TH ${name.toUpperCase()} 3 "" "wsc ${version}" "wsc manual"`,
    '.SH NAME',
    `${names.map((n) => roff(n)).join(', ')} \\- ${roff(title)}`,
    '.SH SYNOPSIS',
    '.nf',
    '.B #include <wsc.h>',
    '.fi',
    '.PP',
    'Link with \\fB\\-lwsc\\fR (\\fBpkg\\-config \\-\\-libs wsc\\fR).',
    '.SH DESCRIPTION',
    ...lines,
    '.SH SEE ALSO',
    seeAlso.map((p) => `.BR ${p} (3)`).join(',\n'),
    '',
  ].join('\n');
}

function generate() {
  const text = fs.readFileSync(HEADER, 'utf8');
  const version = text.match(/#define WSC_VERSION_STRING "([^"]+)"/)?.[1] ?? '?';
  const { top, sections } = parseHeader(text);
  const pages = new Map();
  const all = ['wsc', ...sections.map((s) => s.page)];
  for (const s of sections) {
    const names = s.functions.length ? s.functions : [s.page];
    pages.set(`${s.page}.3`, page(s.page, s.title, names, body(s.lines), version, all.filter((p) => p !== s.page)));
  }
  const overview = [
    '.nf',
    ...top.map(roff),
    '.fi',
    '.PP',
    'The functions, one page per part of the header:',
    ...sections.map((s) => `.TP\n.BR ${s.page} (3)\n${roff(s.title)}: ${s.functions.join(', ')}`),
  ];
  pages.set('wsc.3', page('wsc', 'a WebSocket library in C', ['wsc'], overview, version, all.slice(1)));
  return { pages, sections, text };
}

function check() {
  const { pages, sections, text } = generate();
  const declared = [...text.matchAll(/^WSC_API\s[^;(]*?\b(wsc_\w+)\s*\(/gm)].map((m) => m[1]);
  const placed = sections.flatMap((s) => s.functions);
  const problems = [];
  const have = fs.existsSync(MAN_DIR) ? fs.readdirSync(MAN_DIR).filter((f) => f.endsWith('.3')).sort() : [];
  const want = [...pages.keys()].sort();
  if (have.join() !== want.join()) problems.push(`include/man3 holds [${have}], the header gives [${want}]`);
  for (const f of want) {
    if (have.includes(f) && fs.readFileSync(path.join(MAN_DIR, f), 'utf8') !== pages.get(f)) {
      problems.push(`include/man3/${f} is not what the header gives`);
    }
  }
  for (const f of declared) {
    const n = placed.filter((p) => p === f).length;
    if (n !== 1) problems.push(`${f} is on ${n} pages`);
  }
  const tmp = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'wsc-man-'));
  try {
    for (const [file, content] of pages) {
      const p = path.join(tmp, file);
      fs.writeFileSync(p, content);
      const lint = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', p], { encoding: 'utf8' });
      if (lint.error) throw new Error(`groff: ${lint.error.message} (scripts/deps.sh installs groff-base)`);
      if (lint.status !== 0 || lint.stderr.trim()) problems.push(`groff on ${file}: ${lint.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      if (file === 'wsc.3') continue;
      const shown = spawnSync('groff', ['-man', '-Tutf8', p], { encoding: 'utf8' }).stdout;
      for (const f of sections.find((s) => `${s.page}.3` === file).functions) {
        if (!shown.includes(f)) problems.push(`${file} does not show ${f}`);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (problems.length) {
    console.error(`man pages: ${problems.length} problem(s):\n  ${problems.join('\n  ')}\n` +
      'Run `make man` after editing include/wsc.h (and commit include/man3).');
    process.exit(1);
  }
  console.log(`man pages: ${pages.size} pages, ${declared.length} functions, each on one page; groff renders them without a warning`);
}

const arg = process.argv[2];
if (arg === '--check') {
  check();
} else if (!arg) {
  const { pages } = generate();
  fs.rmSync(MAN_DIR, { recursive: true, force: true });
  fs.mkdirSync(MAN_DIR, { recursive: true });
  for (const [file, content] of pages) fs.writeFileSync(path.join(MAN_DIR, file), content);
  console.log(`man pages: wrote ${pages.size} pages to include/man3`);
} else {
  console.error('usage: node scripts/man.mjs [--check]');
  process.exit(2);
}
