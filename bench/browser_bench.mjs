// SPDX-License-Identifier: MIT
// browser_bench.mjs - echo round trips per second and connect time in
// Chromium: wsc (wasm) against the same loop in plain JavaScript in the same
// kind of page.
//
//   node bench/browser_bench.mjs        (bench/run.sh runs it; needs emcc,
//                                         /usr/bin/chromium, npm ws and
//                                         playwright-core, build/wasm/libwsc.a)
//
// Workload: a 1 KiB binary message, sent, its echo awaited, repeated (one in
// flight) for BENCH_SECONDS (default 1) per run; the median of
// BENCH_BROWSER_REPS (default 5) runs per variant after one unmeasured run
// each, the variants interleaved run by run. Connect time: each run first
// makes 10 connections one after another, each closed once open, and takes
// the median ms from the dial call (new WebSocket in JS) to the open; the
// table gives the median of the runs'. Each run is a fresh page of one
// Chromium (playwright-core, /usr/bin/chromium, a fresh profile) loading
// bench/browser_bench.html.
//
// The echo server is the npm `ws` server of bench/ws_echo.mjs (--server) in
// its own process on 127.0.0.1, permessage-deflate off (Chromium offers it,
// the server declines). Not our native server: `make bench` does not build the
// test programs, and the page's origin would need allowing.
//
// Variants (bench/*.c built here with -DECHO_BENCH, emcc -O3 -sENVIRONMENT=web,
// into build/wasm/bench/; libwsc.a itself is the -Oz build of `make wasm`):
//   JavaScript        new WebSocket, onmessage -> send
//   wsc Asyncify      bench/wsc_echo_client_min.c -DWSC_MIN_BLOCKING:
//                     wsc_write + blocking wsc_read, linked with -sASYNCIFY
//   wsc poll loop     bench/wsc_echo_client_min.c: nonblocking, wsc_read(c, 0)
//                     from emscripten_set_main_loop at setImmediate pace (no
//                     Asyncify). At the default animation-frame pace a frame
//                     loop gets at most one echo per frame (~60/s).
//   wsc events        bench/wsc_echo_client_min.c -DUSE_EVENTS: the same loop
//                     run by wsc_set_event_handler (no timer), built without
//                     and with -sASYNCIFY
//   emscripten ws.h   bench/emws_echo_client.c: <emscripten/websocket.h>
//                     callbacks
// Prints a table; exits 1 if a variant failed every run.
import { spawnSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'build/wasm/bench');
const CHROMIUM = '/usr/bin/chromium';
const SECONDS = Number(process.env.BENCH_SECONDS) > 0 ? Number(process.env.BENCH_SECONDS) : 1;
const REPS = Math.min(15, Number(process.env.BENCH_BROWSER_REPS) > 0 ? Math.floor(Number(process.env.BENCH_BROWSER_REPS)) : 5);

const WSC = ['-Iinclude', 'build/wasm/libwsc.a', '--js-library', 'js/library_wsc.js'];
const VARIANTS = [
  { name: 'js', label: 'JavaScript WebSocket (same page)' },
  { name: 'wsc_async', label: 'wsc blocking (Asyncify)', src: 'bench/wsc_echo_client_min.c',
    flags: ['-DWSC_MIN_BLOCKING', '-sASYNCIFY', '-sASYNCIFY_IMPORTS=["wsc_js_wait"]', ...WSC] },
  { name: 'wsc_loop', label: 'wsc poll loop (no Asyncify)', src: 'bench/wsc_echo_client_min.c', flags: WSC },
  { name: 'wsc_events', label: 'wsc event handler (no Asyncify)', src: 'bench/wsc_echo_client_min.c',
    flags: ['-DUSE_EVENTS', ...WSC] },
  { name: 'wsc_events_async', label: 'wsc event handler (Asyncify build)', src: 'bench/wsc_echo_client_min.c',
    flags: ['-DUSE_EVENTS', '-sASYNCIFY', '-sASYNCIFY_IMPORTS=["wsc_js_wait"]', ...WSC] },
  { name: 'wsc_pthread', label: 'wsc blocking (pthread, Worker)', src: 'bench/wsc_echo_client_min.c',
    flags: ['-DWSC_MIN_BLOCKING', '-Iinclude', '-pthread', 'build/wasm/libwsc-mt.a', '--js-library', 'js/library_wsc.js',
      '-sPROXY_TO_PTHREAD', '-sEXIT_RUNTIME=1', '-sENVIRONMENT=web,worker'] },
  { name: 'emws', label: 'emscripten websocket.h', src: 'bench/emws_echo_client.c', flags: ['-lwebsocket.js'] },
];

function log(s) { process.stderr.write(`${s}\n`); }

/** Builds NAME.js/.wasm unless built before with the same flags and inputs. */
function build(v) {
  const js = path.join(OUT, `${v.name}.js`);
  const args = ['-O3', '-sENVIRONMENT=web', '-DECHO_BENCH', v.src, ...v.flags, '-o', js];
  const hash = createHash('sha256').update(args.join('\0'));
  for (const f of [v.src, 'build/wasm/libwsc.a', 'build/wasm/libwsc-mt.a', 'js/library_wsc.js']) hash.update(fs.readFileSync(path.join(ROOT, f)));
  const stamp = `${js}.stamp`;
  const want = hash.digest('hex');
  if (fs.existsSync(js) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  log(`-- emcc ${args.join(' ')}`);
  const r = spawnSync('emcc', args, { cwd: ROOT, encoding: 'utf8',
    env: { ...process.env, NODE_PATH: '/usr/share/nodejs' } });
  if (r.status !== 0) throw new Error(`emcc failed for ${v.name}:\n${r.stdout}${r.stderr}`);
  fs.writeFileSync(stamp, want);
}

function startHttp() {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'application/javascript', '.wasm': 'application/wasm' };
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    let file = null;
    if (p === '/browser_bench.html') file = path.join(ROOT, 'bench/browser_bench.html');
    const m = p.match(/^\/wasm\/([A-Za-z0-9_.-]+)$/);
    if (m) file = path.join(OUT, m[1]);
    const type = file && types[path.extname(file)];
    if (!type || !fs.existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
      return;
    }
    const body = fs.readFileSync(file);
    // Cross-origin isolated (COOP/COEP), as the -pthread build needs for
    // SharedArrayBuffer: every variant runs in such a page.
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-store',
                         'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function startEchoServer() {
  const child = fork(path.join(ROOT, 'bench/ws_echo.mjs'), ['--server'], { stdio: 'inherit' });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`ws echo server exited with ${code}`)));
  });
  return { child, url: `ws://127.0.0.1:${port}/` };
}

async function runOnce(context, base, v, url) {
  const q = v.name === 'js'
    ? `mode=js&url=${encodeURIComponent(url)}&seconds=${SECONDS}`
    : `mode=wasm&prog=${v.name}.js&args=${encodeURIComponent(JSON.stringify([url, String(SECONDS)]))}`;
  const page = await context.newPage();
  try {
    await page.goto(`${base}/browser_bench.html?${q}`);
    await page.waitForFunction(() => window.__result !== null, null, { timeout: (SECONDS + 20) * 1000, polling: 50 });
    const r = await page.evaluate(() => window.__result);
    if (r.error) throw new Error(r.error);
    return r;
  } finally {
    await page.close().catch(() => {});
  }
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (scripts/deps.sh)`);
  const mk = spawnSync('make', ['-s', '--no-print-directory', 'wasm'], { cwd: ROOT, encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`make wasm failed:\n${mk.stdout}${mk.stderr}`);
  fs.mkdirSync(OUT, { recursive: true });
  for (const v of VARIANTS) if (v.src) build(v);

  const echo = await startEchoServer();
  const httpServer = await startHttp();
  const base = `http://127.0.0.1:${httpServer.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-bench-chromium-'));
  let context;
  const rates = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  const connects = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  const errors = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    log(`== browser echo benchmark: Chromium ${context.browser()?.version() ?? ''}, ws echo server ${echo.url}, ` +
        `1 KiB binary, one in flight, ${SECONDS} s per run, median of ${REPS}`);
    // One unmeasured run of each: the echo server's JIT, Chromium's caches.
    for (const v of VARIANTS) await runOnce(context, base, v, echo.url).catch(() => {});
    for (let i = 0; i < REPS; i++) {
      for (const v of VARIANTS) {
        try {
          const r = await runOnce(context, base, v, echo.url);
          rates[v.name].push(r.rate);
          connects[v.name].push(r.connect);
          log(`  ${v.name.padEnd(10)} run ${i + 1}/${REPS}: ${r.rate.toFixed(0)} round trips/s, connected in ${r.connect.toFixed(2)} ms`);
        } catch (e) {
          errors[v.name].push(e.message.split('\n')[0]);
          log(`  ${v.name.padEnd(10)} run ${i + 1}/${REPS}: FAILED ${e.message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    await context?.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    httpServer.close();
    echo.child.disconnect();
  }

  const js = rates.js.length ? median(rates.js) : 0;
  const jsConnect = connects.js.length ? median(connects.js) : 0;
  console.log(`== browser echo: round trips/s, 1 KiB binary, one in flight, and ms from the dial call to the open ` +
    `(Chromium, npm ws echo server; median of ${REPS} x ${SECONDS} s)`);
  console.log(`${'variant'.padEnd(36)} | ${'round trips/s'.padStart(13)} | ${'runs'.padStart(4)} | ${'vs JS'.padStart(6)} | ` +
    `${'connect ms'.padStart(10)} | ${'vs JS'.padStart(6)}`);
  console.log(`${'-'.repeat(37)}|${'-'.repeat(15)}|${'-'.repeat(6)}|${'-'.repeat(8)}|${'-'.repeat(12)}|${'-'.repeat(7)}`);
  let failed = 0;
  for (const v of VARIANTS) {
    const r = rates[v.name];
    if (!r.length) failed = 1;
    const m = r.length ? median(r) : 0;
    const c = r.length ? median(connects[v.name]) : 0;
    console.log(`${v.label.padEnd(36)} | ${(r.length ? m.toFixed(0) : '-').padStart(13)} | ` +
      `${String(r.length).padStart(4)} | ${(r.length && js ? (m / js).toFixed(2) : '-').padStart(6)} | ` +
      `${(r.length ? c.toFixed(2) : '-').padStart(10)} | ${(r.length && jsConnect ? (c / jsConnect).toFixed(2) : '-').padStart(6)}`);
  }
  for (const v of VARIANTS) if (errors[v.name].length) console.log(`${v.name}: ${errors[v.name].length} failed run(s): ${errors[v.name][0]}`);
  return failed;
}

main().then((failed) => process.exit(failed), (e) => {
  console.error(`browser_bench: ${e.stack || e}`);
  process.exit(1);
});
