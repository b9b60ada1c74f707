// SPDX-License-Identifier: MIT
// browser.test.mjs - the wasm backend in Chromium (node --test, Node 20).
//
//   make wasm-progs && WSC_BUILD=build/native WSC_WASM=build/wasm \
//     node --test --test-concurrency=1 tests/wasm/
//
// An HTTP server in this process (127.0.0.1) serves tests/wasm/page/ and the
// programs of $WSC_WASM/progs (built by `make wasm-progs`). Each test opens a
// fresh page of one Chromium (launched once for the file with playwright-core
// and /usr/bin/chromium) at
//   /page/index.html?prog=NAME.js&args=[...argv]
// page/runner.js runs the program there and leaves its stdout, stderr and
// exit status in window.__result. The peers are our native test echo server
// ($WSC_BUILD/tests/progs/echo_server), an npm `ws` echo server in this
// process, and for the example the native examples/echo_server.
//
// What differs from the Node suite (tests/wasm/node.test.mjs) is what the
// browser imposes: WebSocket.close accepts only 1000 and 3000-4999, so the
// library sends 1001-1014 as 4001-4014 (wsc_close_now arrives as 4001, the
// read limit's 1009 as 4009); there is no ping frame (wsc_ping is a no-op);
// Chromium offers permessage-deflate itself; it fails a dial that offered
// subprotocols when the server picks none; it sends an Origin header, which
// our servers check (tests/progs/echo_server gets --origin for the page's
// host; examples/echo_server, which has no such option, is reached through a
// same-origin tunnel in the HTTP server).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  BUILD, MiB, closedLine, delay, fnv1a, msgLines, pattern, serverClosed, startEchoServer, startProc,
  startWsServer,
} from '../interop/lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGE_DIR = path.join(HERE, 'page');
const WASM = path.resolve(process.env.WSC_WASM || 'build/wasm');
const PROGS = path.join(WASM, 'progs');
const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE_SERVER = path.join(BUILD, 'examples/echo_server');
const T = { timeout: 30000 };

// ---- HTTP server for the page and the programs ------------------------------

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript',
  '.wasm': 'application/wasm',
};

function startHttp() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const m = url.pathname.match(/^\/(page|progs)\/([A-Za-z0-9_.-]+)$/);
    const file = m && path.join(m[1] === 'page' ? PAGE_DIR : PROGS, m[2]);
    const type = file && TYPES[path.extname(file)];
    if (req.method !== 'GET' || !type || !fs.existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`not found: ${url.pathname}\n`);
      return;
    }
    const body = fs.readFileSync(file);
    const headers = { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-store' };
    // A page asked with coi=1 is cross-origin isolated, as a -pthread build
    // needs for SharedArrayBuffer; its scripts and workers say so too.
    if (url.searchParams.get('coi') === '1' || m[1] === 'progs') {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    res.writeHead(200, headers);
    res.end(body);
  });
  // ws://127.0.0.1:<this port>/proxy/<port>/<path> is a byte-for-byte tunnel
  // to 127.0.0.1:<port>/<path>: the WebSocket server then sees the page's own
  // host in both Host and Origin, as behind a reverse proxy that also serves
  // the page (for servers without an Origin allow-list option).
  server.on('upgrade', (req, socket, head) => {
    const m = req.url.match(/^\/proxy\/(\d+)(\/.*)?$/);
    if (!m) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[1]), '127.0.0.1');
    let request = `${req.method} ${m[2] || '/'} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) request += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    upstream.write(request + '\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---- the browser -------------------------------------------------------------

let httpServer, base, context, profileDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/deps.sh as root`);
  assert.ok(fs.existsSync(path.join(PROGS, 'client.js')), `${PROGS}/client.js is missing: run make wasm-progs`);
  httpServer = await startHttp();
  base = `http://127.0.0.1:${httpServer.address().port}`;
  // A fresh profile (--user-data-dir) for every run of the file; playwright
  // passes it itself and refuses it in args.
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close().catch(() => {});
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  await new Promise((r) => (httpServer ? httpServer.close(() => r()) : r()));
});

/**
 * Runs build/wasm/progs/PROG in a fresh page with argv ARGS. Resolves with
 * {status, how, stdout, stderr, error, console} (see page/runner.js); a
 * program that does not finish within ms gives how "timeout" and what it
 * printed so far.
 */
async function runPage(t, prog, args, { ms = 20000 } = {}) {
  assert.ok(fs.existsSync(path.join(PROGS, prog)), `${PROGS}/${prog} is missing: run make wasm-progs`);
  const page = await context.newPage();
  t.after(() => page.close().catch(() => {}));
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  // exit() called from a callback stops the C stack by throwing ExitStatus out
  // of it (Emscripten's way): not an error worth showing.
  page.on('pageerror', (e) => { if (e.message !== 'ExitStatus') consoleLines.push(`pageerror: ${e.message}`); });
  let q = `prog=${encodeURIComponent(prog)}&args=${encodeURIComponent(JSON.stringify(args))}`;
  if (prog.endsWith('.mt.js')) q += '&coi=1';
  await page.goto(`${base}/page/index.html?${q}`);
  let res;
  try {
    await page.waitForFunction(() => window.__result !== null, null, { timeout: ms, polling: 50 });
    res = await page.evaluate(() => window.__result);
  } catch (e) {
    const partial = await page.evaluate(() => window.__out).catch(() => null);
    res = { status: null, how: 'timeout', stdout: partial?.stdout ?? '', stderr: partial?.stderr ?? '',
            error: `no result within ${ms} ms (${e.message.split('\n')[0]})` };
  }
  res.console = consoleLines;
  const argv = args.map((a) => (a.length > 80 ? `${a.slice(0, 77)}...` : a)).join(' ');
  res.describe = () => `$ ${prog} ${argv} (in Chromium: ${res.how} ${res.status})` +
    `${res.error ? `\nerror: ${res.error}` : ''}\n--- stdout\n${res.stdout}--- stderr\n${res.stderr}` +
    `--- console\n${consoleLines.join('\n')}\n---`;
  return res;
}

function assertOk(res) {
  assert.ok(res.status === 0 && /^OK$/m.test(res.stdout), `the program should succeed\n${res.describe()}`);
}

/** The program failed at `step` with `err` (e.g. WSC_EMSGSIZE), exit 1. */
function assertFail(res, step, err) {
  const m = res.stdout.match(/^FAIL (\S+) (WSC_E[A-Z]+)/m);
  assert.ok(res.status === 1 && m, `should fail at ${step} with ${err}\n${res.describe()}`);
  assert.equal(`${m[1]} ${m[2]}`, `${step} ${err}`, `wrong failure\n${res.describe()}`);
}

function line(res, re) {
  const m = res.stdout.match(re);
  assert.ok(m, `no line matching ${re}\n${res.describe()}`);
  return m;
}

// ---- peers ---------------------------------------------------------------------

/** i-th message of api_client's "busy" scenario: even text "n=i", odd 4-byte LE binary i. */
function numbered(i) {
  if (i % 2 === 0) return { data: Buffer.from(`n=${i}`), binary: false };
  const b = Buffer.alloc(4);
  b.writeUInt32LE(i);
  return { data: b, binary: true };
}

/**
 * A `ws` echo server speaking the commands the test programs use:
 *   "cmd:close CODE REASON"  closes with CODE (0: no code) and REASON
 *   "cmd:vanish"             drops the TCP connection without a close frame
 *   path /flood?n=N          sends N numbered messages at once on connect
 * Every other data message is echoed with its type.
 */
async function startWsEcho(t, { subprotocols = [], options = {} } = {}) {
  const opts = { maxPayload: 64 * MiB, ...options };
  if (subprotocols.length) {
    opts.handleProtocols = (offered) => subprotocols.find((p) => offered.has(p)) ?? false;
  }
  return startWsServer(t, opts, (peer) => {
    const ws = peer.ws;
    const url = new URL(peer.req.url, 'http://x');
    if (url.pathname === '/flood') {
      const n = Number(url.searchParams.get('n'));
      for (let i = 0; i < n; i++) {
        const m = numbered(i);
        ws.send(m.data, { binary: m.binary });
      }
    }
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.length < 200) {
        const s = data.toString();
        const m = s.match(/^cmd:close (\d+) ?([^]*)$/);
        if (m) {
          if (Number(m[1])) ws.close(Number(m[1]), m[2]); else ws.close();
          return;
        }
        if (s === 'cmd:vanish') {
          ws.terminate();
          return;
        }
      }
      ws.send(data, { binary: isBinary });
    });
  });
}

/**
 * The two echo peers, with one interface: {url, closed()} where closed()
 * resolves with {code, reason} of the close the server received (-1: none).
 */
const PEERS = {
  async native(t, { subprotocols = [], readLimit, extra = [] } = {}) {
    // The page comes from our HTTP server, another origin than the echo
    // server's: allow it explicitly (Origin host:port is not the Host).
    const args = ['--origin', new URL(base).host];
    for (const s of subprotocols) args.push('--subprotocol', s);
    if (readLimit !== undefined) args.push('--read-limit', String(readLimit));
    const s = await startEchoServer(t, [...args, ...extra]);
    return {
      url: s.url,
      server: s,
      async closed() {
        const c = await serverClosed(s);
        return { code: c.status, reason: c.reason };
      },
    };
  },
  async ws(t, { subprotocols = [], options } = {}) {
    const s = await startWsEcho(t, { subprotocols, options });
    return {
      url: s.url,
      server: s,
      async closed() {
        const peer = await s.nextConnection();
        return peer.waitClosed();
      },
    };
  },
};
const BOTH = ['native', 'ws'];
// The four ways a wasm program waits: [title suffix, file suffix, --drive].
// Asyncify (NAME.js) and -pthread (NAME.mt.js, in a cross-origin isolated
// page) block; client.sync.js --drive events|loop never blocks (see
// tests/progs/client.c). api_client.c's tests run in the blocking two; the
// three other than Asyncify against the npm ws server only (the way to wait
// and the server are independent; make test's time).
const BUILDS = [['', '', null], [' (pthread)', '.mt', null], [' (events)', '.sync', 'events'],
  [' (loop)', '.sync', 'loop']];
/** client.c's argv with --drive MODE after the URL when drive is set. */
const drv = (drive, args) => (drive ? [args[0], '--drive', drive, ...args.slice(1)] : args);

// ---- messages ------------------------------------------------------------------

for (const kind of BOTH) for (const [mt, ext, drive] of BUILDS) if (!ext || kind === 'ws') {
  test(`${kind}${mt}: text, binary and empty messages echo; close 1000 with a reason`, T, async (t) => {
    const peer = await PEERS[kind](t);
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, 'send-text:hello', 'expect-echo',
      'send-text:h\u00e9llo \u20ac \u{1d11e}', 'expect-echo', 'send-bin:1000', 'expect-echo',
      'send-text:', 'expect-echo', 'send-bin:0', 'expect-echo', 'close:1000:bye']));
    assertOk(res);
    assert.match(res.stdout, /^CONNECTED subprotocol= extensions=$/m);
    assert.equal(Number(line(res, /^CLOSE status=(-?\d+)/m)[1]), 1000, res.describe());
    assert.deepEqual(await peer.closed(), { code: 1000, reason: 'bye' });
  });

  test(`${kind}${mt}: binary messages of 1 B to 16 MiB echo intact`, T, async (t) => {
    const peer = await PEERS[kind](t, { readLimit: -1 });
    const steps = [];
    for (const n of [1, 125, 126, 127, 65535, 65536, MiB, 16 * MiB]) steps.push(`send-bin:${n}`, 'expect-echo');
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, '--read-limit', '-1', ...steps, 'close:1000:']));
    assertOk(res);
  });

  if (!drive) test(`${kind}${mt}: UTF-8 text of 0 B to 4 MiB echoes intact`, T, async (t) => {
    const peer = await PEERS[kind](t, { readLimit: -1 });
    const sizes = ['0', '1', '2', '125', '126', '65535', '65536', String(MiB + 3), String(4 * MiB)];
    const res = await runPage(t, `api_client${ext}.js`, [peer.url, 'text-sizes', ...sizes]);
    assertOk(res);
    for (const n of sizes) assert.match(res.stdout, new RegExp(`^ECHO text ${n}$`, 'm'), res.describe());
  });

  if (!drive) test(`${kind}${mt}: wsc_buffered_amount is the browser's bufferedAmount; wsc_flush waits for it to drain`, T, async (t) => {
    const peer = await PEERS[kind](t, { readLimit: -1 });
    const res = await runPage(t, `api_client${ext}.js`, [peer.url, 'buffered']);
    assertOk(res);
    assert.match(res.stdout, /^BUFFERED \d+$/m);
    assert.match(res.stdout, /^FLUSHED$/m);
  });

  if (!ext) test(`${kind}: the event handler drives a connection without a frame loop or Asyncify`, T, async (t) => {
    const peer = await PEERS[kind](t, { readLimit: -1 });
    const res = await runPage(t, 'event_client.sync.js', [peer.url, '100']);
    assertOk(res);
    for (const re of [/^OPEN$/m, /^ECHOED 100$/m, /^DRAINED$/m, /^BIG ECHOED$/m, /^CLOSED status=1000 events=\d+$/m]) {
      assert.match(res.stdout, re, res.describe());
    }
  });

  if (!drive) test(`${kind}${mt}: NUL bytes inside text and binary messages echo intact`, T, async (t) => {
    const peer = await PEERS[kind](t);
    const res = await runPage(t, `api_client${ext}.js`, [peer.url, 'nul']);
    assertOk(res);
    assert.match(res.stdout, /^ECHO text \d+ with NULs$/m);
    assert.match(res.stdout, /^ECHO text 1 NUL only$/m);
  });

  if (!drive) test(`${kind}${mt}: a text message starting with a UTF-8 BOM echoes intact`, T, async (t) => {
    const peer = await PEERS[kind](t);
    const res = await runPage(t, `api_client${ext}.js`, [peer.url, 'bom']);
    assertOk(res);
  });
}

test('ws: a text message starting with a UTF-8 BOM from the server reads whole', T, async (t) => {
  const text = Buffer.from('\ufeffBOM first', 'utf8');
  const s = await startWsServer(t, {}, (peer) => peer.ws.send(text, { binary: false }));
  const res = await runPage(t, 'client.js', [s.url, 'read', 'close:1000:']);
  assertOk(res);
  assert.deepEqual(msgLines(res)[0], { type: 'text', len: 12, fnv: fnv1a(text), text: '\ufeffBOM first' },
    res.describe());
});

test('ws: a text message with NULs from the server reads whole (length and hash)', T, async (t) => {
  const s = await startWsServer(t, {}, (peer) => peer.ws.send(Buffer.from('a\0b\0\0c\u00e9', 'utf8'), { binary: false }));
  const res = await runPage(t, 'client.js', [s.url, 'read', 'close:1000:']);
  assertOk(res);
  const want = Buffer.from('a\0b\0\0c\u00e9', 'utf8');
  assert.deepEqual(msgLines(res)[0], { type: 'text', len: want.length, fnv: fnv1a(want), text: 'a.b..c\u00e9' });
});

test('native: a fragmented text message from the server arrives as one message', T, async (t) => {
  const peer = await PEERS.native(t, { readLimit: -1 });
  const res = await runPage(t, 'client.js', [peer.url, '--read-limit', '-1',
    'send-text:cmd:fragmented 7 100000', 'read', 'send-text:cmd:send 300000', 'read', 'close:1000:']);
  assertOk(res);
  const msgs = msgLines(res);
  assert.deepEqual(msgs.map((m) => [m.type, m.len]), [['text', 100000], ['binary', 300000]], res.describe());
  assert.equal(msgs[0].fnv, fnv1a(Buffer.alloc(100000, 'x')));
  assert.equal(msgs[1].fnv, fnv1a(pattern(300000)));
});

test('ws with permessage-deflate: Chromium compresses, messages echo intact', T, async (t) => {
  const peer = await PEERS.ws(t, { options: { perMessageDeflate: true } });
  const res = await runPage(t, 'client.js', [peer.url, '--read-limit', '-1', 'send-text:compress me',
    'expect-echo', 'send-bin:1000000', 'expect-echo', 'close:1000:']);
  assertOk(res);
  const conn = await peer.server.nextConnection();
  assert.match(conn.ws.extensions, /permessage-deflate/, 'Chromium should have negotiated permessage-deflate');
});

for (const mode of ['takeover', 'no-takeover']) {
  test(`native with permessage-deflate (${mode}): wsc_extensions reports what the server answered`, T,
    async (t) => {
      const peer = await PEERS.native(t, { readLimit: -1, extra: ['--compress', mode] });
      const res = await runPage(t, 'client.js', [peer.url, '--read-limit', '-1', 'send-text:compress me',
        'expect-echo', 'send-bin:1000000', 'expect-echo', 'send-text:cmd:send 300000', 'read', 'close:1000:']);
      assertOk(res);
      const proc = peer.server.proc;
      await proc.waitFor((text) => /^ACCEPTED /m.test(text), { ms: 5000 });
      const answered = proc.stdout.match(/^ACCEPTED \S+ subprotocol=\S* extensions=(.*)$/m)[1];
      assert.match(answered, /^permessage-deflate/, `the server should have negotiated it\n${res.describe()}`);
      const reported = line(res, /^CONNECTED subprotocol= extensions=(.*)$/m)[1];
      assert.equal(reported, answered, res.describe());
    });
}

// ---- closing -------------------------------------------------------------------

for (const kind of BOTH) for (const [mt, ext, drive] of BUILDS) if (!ext || kind === 'ws') {
  // [steps, code the server must see, reason, what the client's CLOSE line says]
  const cases = [
    ['close:4000:custom reason', 4000, 'custom reason'],
    ['close:3000:', 3000, ''],
    ['close:1000:h\u00e9llo \u2713', 1000, 'h\u00e9llo \u2713'],
    // Browsers refuse 1001-1014 in WebSocket.close: the library sends 40xx.
    ['close:1001:going', 4001, 'going'],
    ['close:1008:policy', 4008, 'policy'],
    ['close:1011:oops', 4011, 'oops'],
    ['close-now', 4001, ''],
    ['close:0:', 1005, ''],
  ];
  // The code mapping is the same JS whatever waits: the other three ways
  // run one case of each kind.
  const some = (list) => (ext ? list.filter((c, i) => i % 3 === 0) : list);
  for (const [step, code, reason] of some(cases)) {
    test(`${kind}${mt}: client ${step} reaches the server as ${code}`, T, async (t) => {
      const peer = await PEERS[kind](t);
      const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, 'send-text:x', 'expect-echo', step]));
      assertOk(res);
      const got = await peer.closed();
      assert.equal(got.code, code, `close code the server received\n${res.describe()}`);
      assert.equal(got.reason, reason);
      if (step.startsWith('close:')) {
        // wsc_close waited for the close event: the server's answering code
        const st = Number(line(res, /^CLOSE status=(-?\d+)/m)[1]);
        assert.equal(st, code, res.describe());
      }
    });
  }

  test(`${kind}${mt}: idle_timeout_ms closes a silent server's connection with 4001 and the reason`, T, async (t) => {
    const peer = await PEERS[kind](t);
    // (no message first: a Worker may start later than 300 ms after the open)
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, '--idle', '300',
      'read-until-close']));
    assertOk(res);
    const got = await peer.closed();
    assert.equal(got.code, 4001, `close code the server received\n${res.describe()}`);
    assert.equal(got.reason, 'nothing received for 300 ms (idle timeout)');
    assert.equal(closedLine(res.stdout).status, 4001, res.describe());
  });

  for (const [code, reason] of some([[4321, 'bye from server'], [1001, 'going away'], [1008, ''], [1000, '']])) {
    test(`${kind}${mt}: server closes with ${code}: read fails WSC_ECLOSED with its code and reason`, T, async (t) => {
      const peer = await PEERS[kind](t);
      const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, `send-text:cmd:close ${code} ${reason}`, 'read-until-close']));
      assertOk(res);
      assert.deepEqual(closedLine(res.stdout), { err: 'WSC_ECLOSED', status: code, reason }, res.describe());
    });
  }
}

test('native: server closes without a code: status 1005', T, async (t) => {
  const peer = await PEERS.native(t);
  const res = await runPage(t, 'client.js', [peer.url, 'send-text:cmd:close 0 ', 'read-until-close']);
  assertOk(res);
  assert.deepEqual(closedLine(res.stdout), { err: 'WSC_ECLOSED', status: 1005, reason: '' }, res.describe());
});

test('native: server process killed: read fails WSC_ECLOSED, status -1 (1006)', T, async (t) => {
  const peer = await PEERS.native(t);
  const run = runPage(t, 'client.js', [peer.url, '--timeout', '15000', 'send-text:x', 'expect-echo', 'read-until-close']);
  await peer.server.proc.waitFor(/^ACCEPTED /m);
  await delay(300);
  peer.server.proc.kill('SIGKILL');
  const res = await run;
  assertOk(res);
  assert.deepEqual(closedLine(res.stdout), { err: 'WSC_ECLOSED', status: -1, reason: '' }, res.describe());
});

test('ws: server drops the TCP connection: read fails WSC_ECLOSED, status -1 (1006)', T, async (t) => {
  const peer = await PEERS.ws(t);
  const res = await runPage(t, 'client.js', [peer.url, 'send-text:cmd:vanish', 'read-until-close']);
  assertOk(res);
  assert.deepEqual(closedLine(res.stdout), { err: 'WSC_ECLOSED', status: -1, reason: '' }, res.describe());
});

test('native: a page from another origin is refused (403): WSC_ECONNECT', T, async (t) => {
  const s = await startEchoServer(t);
  const res = await runPage(t, 'client.js', [s.url, 'send-text:x']);
  assertFail(res, 'dial', 'WSC_ECONNECT');
  assert.ok(res.console.some((l) => /Unexpected response code: 403/.test(l)), res.describe());
  await s.proc.waitFor(/^ACCEPT_FAIL .*Origin/m, { stream: 'stderr' });
});

test('dial: nothing listening: WSC_ECONNECT', T, async (t) => {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  const res = await runPage(t, 'client.js', [`ws://127.0.0.1:${port}/`, 'send-text:x']);
  assertFail(res, 'dial', 'WSC_ECONNECT');
});

test('dial: a server that never answers: WSC_ETIMEDOUT after handshake_timeout_ms', T, async (t) => {
  const socks = new Set();
  const srv = net.createServer((s) => { socks.add(s); s.on('error', () => {}); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => { for (const s of socks) s.destroy(); srv.close(); });
  const res = await runPage(t, 'api_client.js', [`ws://127.0.0.1:${srv.address().port}/`, 'dial-timeout']);
  assertOk(res);
  assert.match(res.stdout, /^DIAL WSC_ETIMEDOUT/m);
});

// ---- subprotocols, read limit --------------------------------------------------

for (const kind of BOTH) for (const [mt, ext, drive] of BUILDS) if (!ext || kind === 'ws') {
  test(`${kind}${mt}: subprotocol: the server's choice is reported; none offered, none chosen`, T, async (t) => {
    const peer = await PEERS[kind](t, { subprotocols: ['chat'] });
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, '--subprotocol', 'x-unknown', '--subprotocol', 'chat',
      'send-text:hi', 'expect-echo', 'close:1000:']));
    assertOk(res);
    assert.match(res.stdout, /^CONNECTED subprotocol=chat extensions=$/m);
    const none = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, 'close:1000:']));
    assertOk(none);
    assert.match(none.stdout, /^CONNECTED subprotocol= extensions=$/m);
  });

  // Natively the dial succeeds with subprotocol "" (RFC 6455 allows it);
  // Chromium fails the connection instead.
  test(`${kind}${mt}: subprotocols offered, the server picks none: Chromium refuses (WSC_ECONNECT)`, T, async (t) => {
    const peer = await PEERS[kind](t, { subprotocols: ['chat'] });
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, '--subprotocol', 'x-unknown', 'close:1000:']));
    assertFail(res, 'dial', 'WSC_ECONNECT');
    assert.ok(res.console.some((l) => /Sec-WebSocket-Protocol/.test(l)), res.describe());
  });

  test(`${kind}${mt}: read limit: a message over it fails WSC_EMSGSIZE, the server sees 4009`, T, async (t) => {
    const peer = await PEERS[kind](t);
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, '--read-limit', '100', 'send-bin:100', 'expect-echo',
      'send-bin:101', 'expect-echo']));
    assertFail(res, 'expect-echo', 'WSC_EMSGSIZE');
    const got = await peer.closed();
    assert.equal(got.code, 4009, 'the browser cannot send 1009: the library maps it to 4009');
  });

  test(`${kind}${mt}: default read limit is 32768`, T, async (t) => {
    const peer = await PEERS[kind](t, { readLimit: -1 });
    const res = await runPage(t, `client${ext}.js`, drv(drive, [peer.url, 'send-bin:32768', 'expect-echo', 'send-bin:32769', 'expect-echo']));
    assertFail(res, 'expect-echo', 'WSC_EMSGSIZE');
    assert.equal((await peer.closed()).code, 4009);
  });
}

// ---- the API where the browser differs -----------------------------------------

for (const kind of BOTH) {
  test(`${kind}: api: accept/stream_fd ENOTSUP, ping no-op, fd -1, long reason EINVAL`, T, async (t) => {
    const peer = await PEERS[kind](t);
    const res = await runPage(t, 'api_client.js', [`${peer.url}/some/path?q=1`, 'api']);
    assertOk(res);
    assert.match(res.stdout, /^PING 0$/m);
    assert.match(res.stdout, /^ACCEPT WSC_ENOTSUP/m);
    assert.match(res.stdout, /^CORK 0$/m);
  });
}

test('ws: ping step: wsc_ping returns 0 and sends nothing (browsers cannot ping)', T, async (t) => {
  const peer = await PEERS.ws(t);
  const res = await runPage(t, 'client.js', [peer.url, 'send-text:x', 'expect-echo', 'ping', 'close:1000:']);
  assertOk(res);
  assert.match(res.stdout, /^PONG$/m);
  const conn = await peer.server.nextConnection();
  await conn.waitClosed();
  assert.equal(conn.pings.length, 0, 'no ping frame may reach the server');
});

test('native: the server pings the browser: Chromium answers with a pong', T, async (t) => {
  const peer = await PEERS.native(t);
  const res = await runPage(t, 'client.js', [peer.url, 'send-text:cmd:ping', 'read', 'close:1000:']);
  assertOk(res);
  assert.equal(msgLines(res)[0]?.text, 'pong-ok', res.describe());
});

for (const [mt, ext, drive] of BUILDS) {
  if (!drive) test(`native${mt}: timeouts: read 0 is EAGAIN, read 200 ms ETIMEDOUT, the connection still works`, T, async (t) => {
    const peer = await PEERS.native(t);
    const res = await runPage(t, `api_client${ext}.js`, [peer.url, 'timeout']);
    assertOk(res);
    assert.match(res.stdout, /^TIMEOUT after \d+ ms$/m);
  });
}

test('native: wsc_stream over binary messages; a text message fails it with EPROTO (1003)', T, async (t) => {
  const peer = await PEERS.native(t);
  const res = await runPage(t, 'api_client.js', [peer.url, 'stream']);
  assertOk(res);
  assert.match(res.stdout, /^STREAM 21108 eof/m);
  const peer2 = await PEERS.native(t);
  const bad = await runPage(t, 'api_client.js', [peer2.url, 'stream-mismatch']);
  assertOk(bad);
  assert.match(bad.stdout, /^STREAM_READ WSC_EPROTO/m);
  // 1003 is one of the codes a browser refuses: it goes out as 4003
  assert.equal((await peer2.closed()).code, 4003, bad.describe());
});

for (const when of ['before', 'after']) {
  test(`ws: close_read, a data message arriving ${when}: closed with 1008 (sent as 4008)`, T, async (t) => {
    const peer = await PEERS.ws(t);
    const res = await runPage(t, 'api_client.js', [peer.url, 'close-read', when]);
    assertOk(res);
    assert.equal((await peer.closed()).code, 4008, res.describe());
  });
}

// ---- many messages while C is busy -----------------------------------------------

for (const [kind, mode] of [['native', 'echo'], ['ws', 'echo'], ['ws', 'flood']]) for (const [mt, ext, drive] of BUILDS) {
  if (!drive) test(`${kind}${mt}: 1000 messages arrive while C busy-loops and sleeps (${mode}): all, in order`, T, async (t) => {
    const peer = await PEERS[kind](t);
    const url = mode === 'flood' ? `${peer.url}/flood?n=1000` : peer.url;
    const res = await runPage(t, `api_client${ext}.js`, [url, 'busy', '1000', mode]);
    assertOk(res);
    assert.match(res.stdout, /^GOT 1000 in order$/m);
  });
}

// ---- without Asyncify ------------------------------------------------------------

test('no Asyncify (.sync.js): blocking calls fail with WSC_ENOTSUP naming -sASYNCIFY', T, async (t) => {
  const peer = await PEERS.native(t);
  const res = await runPage(t, 'client.sync.js', [peer.url, 'send-text:x', 'expect-echo']);
  assertFail(res, 'dial', 'WSC_ENOTSUP');
  assert.match(res.stdout, /ASYNCIFY/);
  const api = await runPage(t, 'api_client.sync.js', [peer.url, 'sync']);
  assertOk(api);
  assert.match(api.stdout, /^BLOCKING_DIAL WSC_ENOTSUP/m);
  assert.match(api.stdout, /^READ_BLOCKING WSC_ENOTSUP/m);
});

for (const kind of BOTH) {
  test(`${kind}: frame loop without Asyncify (frame_loop_client.sync.js): 50 echoes, close 1000`,
    T, async (t) => {
      const peer = await PEERS[kind](t);
      const res = await runPage(t, 'frame_loop_client.sync.js', [peer.url, '50']);
      assertOk(res);
      assert.match(res.stdout, /^ECHOED 50$/m);
      assert.equal(Number(line(res, /^CLOSED status=(-?\d+)/m)[1]), 1000, res.describe());
      assert.deepEqual(await peer.closed(), { code: 1000, reason: 'done' });
    });
}

// ---- the example -------------------------------------------------------------------

test('examples/echo_client.c (wasm) against the native examples/echo_server', T, async (t) => {
  const server = startProc(t, EXAMPLE_SERVER, ['0']);
  const port = Number((await server.waitFor(/^listening on ws:\/\/127\.0\.0\.1:(\d+)\//m, { ms: 5000 }))[1]);
  // The example server allows same-origin pages only: reach it through the
  // page's own host:port.
  const url = `ws://${new URL(base).host}/proxy/${port}/`;
  const res = await runPage(t, 'echo_client.js', [url]);
  assert.equal(res.status, 0, res.describe());
  assert.match(res.stdout, /^connected to .*, subprotocol "echo"$/m);
  for (const m of ['hello', 'wsc speaks WebSocket', 'goodbye']) {
    assert.match(res.stdout, new RegExp(`^sent "${m}", received text "${m}"$`, 'm'), res.describe());
  }
  assert.match(res.stdout, /^closed$/m);
  await server.waitFor(/echoed 3 messages, client closed normally/);
  // The same example without Asyncify cannot block: it says so and exits 1.
  const sync = await runPage(t, 'echo_client.sync.js', [url]);
  assert.equal(sync.status, 1, sync.describe());
  assert.match(sync.stderr, /^dial: .*ASYNCIFY.*WSC_ENOTSUP/m, sync.describe());
});
