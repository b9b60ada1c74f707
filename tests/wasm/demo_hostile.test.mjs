// SPDX-License-Identifier: MIT
// demo_hostile.test.mjs - the chat demo's server (web-demo/server) and the
// example servers (examples/*_server.c) against hostile clients: malformed
// and trickling request heads, a full fd table, control bytes meant for the
// terminal, floods and join storms (issue 9, items 16 in part and 19-22).
// Each server must refuse or shed the load at once and keep serving.
//
//   make demo-build examples BUILD=build/native
//   WSC_BUILD=build/native node --test tests/wasm/demo_hostile.test.mjs
//
// Raw sockets (node:net) and npm ws clients; no browser. Every server is
// started per test on port 0 and killed after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { BUILD, delay, rawRequest, startProc, upgradeRequest, withTimeout } from '../interop/lib.mjs';

const CHAT = path.join(BUILD, 'demo/chat_server');
const EXAMPLES = path.join(BUILD, 'examples');
const EXAMPLE_SERVERS = ['echo_server', 'write_only_server', 'cross_origin_server', 'epoll_echo_server',
  'libuv_echo_server'];
const T = { timeout: 30000 };

/** After the test has stopped proc: nothing from ASan or UBSan (SAN=1 builds). */
function checkSanitizers(t, proc) {
  t.after(async () => {
    await proc.exited;
    assert.doesNotMatch(proc.stderr, /Sanitizer|runtime error/, proc.describe());
  });
}

/** Starts chat_server with args (under `prlimit --nofile=N:N` when nofile). */
async function startChat(t, args = [], { nofile = 0 } = {}) {
  assert.ok(fs.existsSync(CHAT), `${CHAT} is missing: run make demo-build`);
  const argv = ['--port', '0', '--www', 'web-demo/www', ...args];
  const proc = nofile ? startProc(t, 'prlimit', [`--nofile=${nofile}:${nofile}`, CHAT, ...argv])
    : startProc(t, CHAT, argv);
  checkSanitizers(t, proc);
  const m = await proc.waitFor(/chat: serving http:\/\/127\.0\.0\.1:(\d+)/, { ms: 5000 });
  return { proc, port: Number(m[1]) };
}

/** Starts an example server (examples/NAME.c, positional port 0), like startChat. */
async function startExample(t, name, { nofile = 0 } = {}) {
  const bin = path.join(EXAMPLES, name);
  assert.ok(fs.existsSync(bin), `${bin} is missing: run make examples`);
  const proc = nofile ? startProc(t, 'prlimit', [`--nofile=${nofile}:${nofile}`, bin, '0'])
    : startProc(t, bin, ['0']);
  checkSanitizers(t, proc);
  const m = await proc.waitFor(/listening on ws:\/\/127\.0\.0\.1:(\d+)\//, { ms: 5000 });
  return { proc, port: Number(m[1]) };
}

/** The number of threads of process pid (from /proc). */
const threadsOf = (pid) =>
  Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

/** CPU time (user + system) of a process so far, in clock ticks. */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

/** A raw TCP connection, resolved once connected; `data` collects what it got. */
function rawSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => { sock.data += d; });
    sock.ended = new Promise((r) => sock.on('close', r));
    sock.once('error', reject);
    sock.once('connect', () => { sock.removeListener('error', reject); sock.on('error', () => {}); resolve(sock); });
  });
}

/** The status of the response sock got once the server answered and closed (or ms passed). */
async function statusOf(sock, ms) {
  await withTimeout(sock.ended, ms, 'the server to answer and close');
  const m = sock.data.match(/^HTTP\/1\.1 (\d{3}) /);
  assert.ok(m, `no HTTP response: ${JSON.stringify(sock.data)}`);
  return Number(m[1]);
}

// ---- item 22: malformed request heads are answered at once ------------------

test('the static server answers malformed request heads at once with 400 / 414', T, async (t) => {
  const { port } = await startChat(t);
  const cases = [
    ['a NUL in the request line', 'GET /\0index.html HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a NUL in a header', 'GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n', 400],
    ['an LF-only head', 'GET / HTTP/1.1\nHost: x\n\n', 400],
    ['a target over 1023 bytes', `GET /${'a'.repeat(1100)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['an endless request line', `GET /${'a'.repeat(3000)}`, 414],
    ['HTTP/0.9 (no version)', 'GET /\r\n', 400],
    ['HTTP/0.9 with a blank line', 'GET /\r\n\r\n', 400],
    ['an unknown version', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['an ESC in the target', 'GET /\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ];
  for (const [what, request, status] of cases) {
    const r = await rawRequest(port, request, 2000).catch((e) => { throw new Error(`${what}: ${e.message}`); });
    assert.equal(r.status, status, what);
  }
  const ok = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
  assert.equal(ok.status, 200, 'a well-formed request is still served');
});

test('a client still sending a long bad request reads its 414 (no reset destroys it)', T, async (t) => {
  const { port } = await startChat(t);
  // answered after the first KiB; closing with the rest unread would reset the connection
  const r = await rawRequest(port, `GET /${'a'.repeat(3000)}${'b'.repeat(16 << 20)}`, 10000);
  assert.equal(r.status, 414);
});

test('chat_server prints a refused upgrade without raw control bytes', T, async (t) => {
  const { proc, port } = await startChat(t);
  // U+009B (C2 9B) is CSI for some terminals; the library quotes the Origin it refuses
  const r = await rawRequest(port, Buffer.from(upgradeRequest(port, { Origin: 'http://x\xc2\x9b31m.example.com' },
    { target: '/ws' }), 'latin1'), 2000);
  assert.equal(r.status, 403);
  await proc.waitFor(/ws handshake failed/, { ms: 2000 });
  assert.doesNotMatch(proc.stdout, /[\x00-\x08\x0b-\x1f\x7f-\xff]/, 'no raw control byte reaches the terminal');
  assert.match(proc.stdout, /x\\xc2\\x9b31m\.example\.com/, 'the Origin is printed escaped');
});

test('chat_server answers only to its own names: a rebinding page (Host and Origin evil.example) gets 403', T, async (t) => {
  const { proc, port } = await startChat(t, ['--allow-host', 'chat.test']);
  const status = async (host) => (await rawRequest(port, upgradeRequest(port,
    { Host: host, Origin: `http://${host}` }, { target: '/ws' }), 2000)).status;
  assert.equal(await status(`evil.example:${port}`), 403, 'evil.example pointed at 127.0.0.1');
  await proc.waitFor(/ws handshake failed: .*Host "evil\.example:\d+" is not a name this server answers to/, { ms: 2000 });
  for (const ok of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'chat.test']) {
    assert.equal(await status(ok), 101, `Host ${ok} is the server's own`);
  }
});

// ---- item 20: the request head has a deadline, handshakes are capped --------

/** Sockets the process pid has open (its fds that are sockets). */
function socketCount(pid) {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++; } catch { /* closed meanwhile */ }
  }
  return n;
}

/** Waits until the process pid has at least n sockets open. */
async function untilSockets(pid, n, ms) {
  const until = Date.now() + ms;
  while (socketCount(pid) < n) {
    if (Date.now() > until) throw new Error(`the server has ${socketCount(pid)} sockets, not ${n}, after ${ms} ms`);
    await delay(20);
  }
}

test('trickling request heads get 408 at the deadline, not before', T, async (t) => {
  const { port } = await startChat(t, ['--head-timeout', '1000']);
  const start = Date.now();
  const tricklers = [];
  for (let i = 0; i < 8; i++) {
    const s = await rawSocket(port);
    s.write('GET / HTTP/1.1\r\n');
    tricklers.push(s);
  }
  const timer = setInterval(() => { for (const s of tricklers) if (!s.destroyed) s.write('X'); }, 100);
  t.after(() => clearInterval(timer));
  for (const s of tricklers) assert.equal(await statusOf(s, 15000), 408, 'a trickling head times out');
  const took = Date.now() - start;
  // trickling does not extend the deadline; the upper bound is loose for a loaded machine
  assert.ok(took >= 1000 && took < 10000, `the 408s came after ${took} ms (deadline 1000 ms)`);
  clearInterval(timer);
  const ok = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
  assert.equal(ok.status, 200, 'the server serves again');
});

test('past --max-pending a request gets 503 at once; the server serves again when they go', T, async (t) => {
  const { proc, port } = await startChat(t, ['--head-timeout', '60000', '--max-pending', '8']);
  const base = socketCount(proc.child.pid); // the listening socket
  const silent = [];
  for (let i = 0; i < 8; i++) silent.push(await rawSocket(port));
  await untilSockets(proc.child.pid, base + 8, 10000); // all eight accepted: the cap is full

  const extra = await rawSocket(port);
  extra.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await statusOf(extra, 5000), 503, 'a request past the cap is refused at once (no head read)');

  for (const s of silent) s.destroy();
  let ok = null;
  for (let i = 0; i < 100 && ok?.status !== 200; i++) { // the eight slots are given back as their threads see the close
    ok = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
    if (ok.status !== 200) await delay(50);
  }
  assert.equal(ok.status, 200, 'the server serves again');
});

// ---- item 21: accept() at the fd limit backs off ----------------------------

/** Fills the fd table of the server at pid with idle connections and checks
 * that it sleeps (CPU, log) until they go, then that `serves()` works. */
async function checkFdLimit(proc, port, serves) {
  const socks = [];
  for (let i = 0; i < 60; i++) socks.push(await rawSocket(port));
  await delay(300);
  const cpu0 = cpuTicks(proc.child.pid);
  const log0 = proc.stdout.length + proc.stderr.length;
  await delay(2000);
  const cpu = cpuTicks(proc.child.pid) - cpu0;
  const log = proc.stdout.length + proc.stderr.length - log0;
  assert.ok(cpu <= 10, `the server used ${cpu} clock ticks in 2 s at the fd limit`);
  assert.ok(log < 1000, `the server logged ${log} bytes in 2 s at the fd limit`);
  assert.ok(/Too many open files/.test(proc.stdout + proc.stderr), `the fd limit is reached and logged\n${proc.describe().slice(0, 2000)}`);
  for (const s of socks) s.destroy();
  await serves();
}

test('chat_server at the fd limit backs off, logs once, serves again', T, async (t) => {
  const { proc, port } = await startChat(t, ['--max-pending', '1000', '--head-timeout', '30000'], { nofile: 32 });
  await checkFdLimit(proc, port, async () => {
    const ok = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 4000);
    assert.equal(ok.status, 200, 'the server serves again');
  });
});

for (const name of EXAMPLE_SERVERS) {
  test(`examples/${name} at the fd limit backs off, logs once, serves again`, T, async (t) => {
    const { proc, port } = await startExample(t, name, { nofile: 32 });
    await checkFdLimit(proc, port, async () => {
      const r = await rawRequest(port, upgradeRequest(port, { 'Sec-WebSocket-Protocol': 'echo' }), 4000);
      assert.equal(r.status, 101, 'the server serves again');
    });
  });
}

// ---- item 16 (part): the examples print what clients send escaped ----------

/** Sends an upgrade request (headers, target) to an example server, hangs
 * up once answered, and checks that what it printed has no raw control byte
 * and, when it was accepted, contains `printed`. */
async function checkEscaped(t, name, headers, target, printed) {
  const { proc, port } = await startExample(t, name);
  const s = await rawSocket(port);
  s.write(Buffer.from(upgradeRequest(port, headers, { target }), 'latin1'));
  await withTimeout(new Promise((r) => { const i = setInterval(() => { if (s.data.includes('\r\n\r\n')) { clearInterval(i); r(); } }, 10); }), 2000, 'a response');
  s.destroy();
  const status = Number(s.data.slice(9, 12));
  if (status === 101) {
    await proc.waitFor((text) => text.includes(printed), { ms: 3000 });
  } else {
    assert.equal(status, 400, 'the library refuses it, or it is served');
    await delay(300);
  }
  assert.doesNotMatch(proc.stdout + proc.stderr, /[\x00-\x08\x0b-\x1f\x7f-\xff]/, 'no raw control byte reaches the terminal');
}

const HOSTILE = '/\x1b[31mred\x07\x7f\xc3\xa9'; // ESC, BEL, DEL, UTF-8 é
const HOSTILE_PRINTED = '/\\x1b[31mred\\x07\\x7f\\xc3\\xa9';

test('examples/echo_server prints request targets with control bytes escaped', T, async (t) => {
  await checkEscaped(t, 'echo_server', { 'Sec-WebSocket-Protocol': 'echo' }, HOSTILE, `${HOSTILE_PRINTED}: echoed 0`);
});

for (const name of ['epoll_echo_server', 'libuv_echo_server']) {
  test(`examples/${name} prints request targets with control bytes escaped`, T, async (t) => {
    await checkEscaped(t, name, { 'Sec-WebSocket-Protocol': 'echo' }, HOSTILE, `${HOSTILE_PRINTED}: echoed 0`);
  });

  test(`examples/${name} echoes 1,000 messages sent at once in order (gathered), then 30,000 bytes`, T, async (t) => {
    const { port } = await startExample(t, name);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['echo']);
    t.after(() => ws.terminate());
    await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }),
      5000, 'open');
    const got = [];
    const all = new Promise((resolve) => ws.on('message', (d) => { got.push(Buffer.from(d)); if (got.length === 1001) resolve(); }));
    for (let i = 0; i < 1000; i++) ws.send(`m${i}`);
    const big = Buffer.alloc(30000); // under the examples' 32 KiB read limit
    for (let i = 0; i < big.length; i += 100) big[i] = i / 100;
    ws.send(big);
    await withTimeout(all, 20000, 'the echoes');
    assert.deepEqual(got.slice(0, 1000).map(String), Array.from({ length: 1000 }, (_, i) => `m${i}`));
    assert.ok(got[1000].equals(big), 'the 30,000-byte echo');
  });

  test(`examples/${name} serves 200 clients from one thread while a silent client waits`, T, async (t) => {
    const { proc, port } = await startExample(t, name);
    const silent = await rawSocket(port); // accepted first, sends nothing
    const cs = await Promise.all(Array.from({ length: 200 }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['echo']);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })));
    await Promise.all(cs.map(async (ws, i) => {
      for (let k = 0; k < 3; k++) {
        const text = `client ${i} message ${k} ${'x'.repeat(k * 3000)}`;
        const got = new Promise((resolve) => ws.once('message', (d) => resolve(String(d))));
        ws.send(text);
        assert.equal(await withTimeout(got, 10000, `echo ${i}.${k}`), text);
      }
    }));
    assert.equal(threadsOf(proc.child.pid), 1, 'one server thread');
    await Promise.all(cs.map((ws) => new Promise((resolve) => { ws.once('close', resolve); ws.close(1000); })));
    await proc.waitFor((text) => (text.match(/client closed normally/g) || []).length === 200, { ms: 10000 });
    silent.destroy();
  });
}

test('examples/write_only_server prints request targets with control bytes escaped', T, async (t) => {
  await checkEscaped(t, 'write_only_server', {}, HOSTILE, `${HOSTILE_PRINTED}: sent `);
});

test('examples/cross_origin_server prints the Origin with control bytes escaped', T, async (t) => {
  // U+009B (CSI in UTF-8: C2 9B) is a control character for some terminals
  await checkEscaped(t, 'cross_origin_server', { Origin: 'http://x\xc2\x9b31m.example.com' }, '/',
    'Origin: http://x\\xc2\\x9b31m.example.com');
});

// ---- item 19: floods and join storms ----------------------------------------

/** A ws client of the chat hub, resolved once it is in the hub: when its
 * first message (a join notice) arrives. got: the messages it received;
 * closed: resolves with {code, reason}. */
function chatClient(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  ws.got = [];
  ws.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (d) => { ws.got.push(String(d)); if (ws.got.length === 1) resolve(ws); });
    ws.once('close', () => reject(new Error('closed before its first message')));
  });
}

/** Waits until every client in cs has a message matching re. */
async function allGot(cs, re, ms, what) {
  const until = Date.now() + ms;
  while (!cs.every((c) => c.got.some((m) => re.test(m)))) {
    if (Date.now() > until) {
      const missing = cs.filter((c) => !c.got.some((m) => re.test(m)));
      const first = missing[0];
      throw new Error(`${what}: ${missing.length} of ${cs.length} clients did not get ${re}; ` +
        `one has readyState ${first.readyState}, its last messages: ${JSON.stringify(first.got.slice(-3).map((m) => m.slice(0, 60)))}`);
    }
    await delay(20);
  }
}

test('SIGTERM: chat_server closes every client with 1001, then exits 0; one that never answers does not hold it', T, async (t) => {
  const { proc, port } = await startChat(t);
  const cs = [];
  for (let i = 0; i < 3; i++) cs.push(await chatClient(port));
  // a client that joined but will never answer the close (reads nothing)
  const silent = net.connect(port, '127.0.0.1');
  const silentClosed = new Promise((r) => silent.on('close', r));
  silent.on('error', () => {});
  silent.resume(); // takes what arrives (its end included), answers nothing
  silent.write(upgradeRequest(port, {}, { target: '/ws' }));
  await proc.waitFor(/(?:joined[^]*){4}/, { ms: 5000 });
  const t0 = Date.now();
  proc.kill('SIGTERM');
  for (const c of cs) assert.deepEqual(await c.closed, { code: 1001, reason: 'server shutting down' });
  const exit = await withTimeout(proc.exited, 5000, 'chat_server to exit');
  const took = Date.now() - t0;
  assert.equal(exit.code, 0, proc.describe());
  assert.ok(took < 4000, `exited ${took} ms after SIGTERM (bound: 2 s)`);
  assert.match(proc.stdout, /^chat: closing 4 clients \(1001\)$/m, proc.describe());
  await withTimeout(silentClosed, 2000, 'the silent client\'s socket to close');
});

test('a flooding client is slowed and closed with 1008; the others are not affected', T, async (t) => {
  const { proc, port } = await startChat(t);
  const good = [];
  for (let i = 0; i < 4; i++) good.push(await chatClient(port));
  const flooder = await chatClient(port);
  for (let i = 0; i < 600; i++) flooder.send(`flood ${i} ${'f'.repeat(4000)}`);
  await delay(1000);
  for (let i = 0; i < good.length; i++) good[i].send(`good ${i}`);
  for (let i = 0; i < good.length; i++) await allGot(good, new RegExp(`: good ${i}$`), 5000, 'after the flood');
  for (const c of good) {
    assert.equal(c.readyState, WebSocket.OPEN, 'a well-behaved client stays connected');
    const flood = c.got.filter((m) => / flood \d+ /.test(m)).length;
    assert.ok(flood <= 10, `a well-behaved client got ${flood} flood messages (burst 8)`);
  }
  assert.doesNotMatch(proc.stdout, /too slow|queue full/);
  const closed = await withTimeout(flooder.closed, 5000, 'the flooder to be closed');
  assert.deepEqual(closed, { code: 1008, reason: 'sending too fast' });
  assert.ok(flooder.got.some((m) => /^\* you are sending too fast/.test(m)), 'the flooder was told');
  for (const c of good) c.close(1000);
});

test('a steady flood is held to the limit; the flooder is told once, the others see the rest', T, async (t) => {
  const { proc, port } = await startChat(t);
  const reader = await chatClient(port);
  const flooder = await chatClient(port);
  const start = Date.now();
  for (let i = 0; i < 60; i++) { // 30 a second for 2 s
    flooder.send(`steady ${i}`);
    await delay(33);
  }
  await delay(300);
  const seconds = (Date.now() - start) / 1000;
  const passed = reader.got.filter((m) => / steady \d+$/.test(m)).length;
  assert.ok(passed >= 18 && passed <= 8 + 10 * seconds + 1, `${passed} of 60 passed in ${seconds} s (10/s, burst 8)`);
  const told = flooder.got.filter((m) => /^\* you are sending too fast/.test(m)).length;
  assert.equal(told, 1, 'the flooder is told once, not at every drop');
  assert.equal(flooder.readyState, WebSocket.OPEN, 'a steady flood is slowed, not closed');
  assert.doesNotMatch(proc.stdout, /too slow|queue full/);
  for (const c of [reader, flooder]) c.close(1000);
});

/** n characters that compression cannot shrink (the hub deflates what it
 * sends, and a run of one letter would fill no socket buffer). */
const noise = (n) => crypto.randomBytes(n).toString('base64').slice(0, n);

/** Bytes in flight between the server and a client's socket: the server's
 * send queue plus the client's unread receive queue (from /proc/net/tcp). */
function bytesInFlight(serverPort, clientPort) {
  const hexPort = (p) => p.toString(16).toUpperCase().padStart(4, '0');
  let total = 0;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const [local, remote] = [f[1].split(':')[1], f[2].split(':')[1]];
    const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16));
    if (local === hexPort(serverPort) && remote === hexPort(clientPort)) total += tx;
    if (local === hexPort(clientPort) && remote === hexPort(serverPort)) total += rx;
  }
  return total;
}

/** Has sender send "fill N <noise>" (4000 bytes of noise), 20 at a time,
 * until the paused client stalled's buffers take no whole one more twice in
 * a row: the server's writer for it waits for room, 20 to 40 of them in its
 * queue (which holds 64). */
async function fillUntilStalled(port, stalled, sender) {
  let before = 0, stalls = 0, sent = 0;
  for (let i = 0; i < 2000 && stalls < 2; i++) {
    for (let k = 0; k < 20; k++) sender.send(`fill ${sent++} ${noise(4000)}`);
    await delay(40);
    const now = bytesInFlight(port, stalled._socket.localPort);
    stalls = now - before < 4000 ? stalls + 1 : 0;
    before = now;
  }
}

test('a reader that stalls is not closed for join and leave notices', T, async (t) => {
  const { proc, port } = await startChat(t, ['--rate', '0']);
  const stalled = await chatClient(port);
  stalled._socket.pause(); // its socket buffers fill, then its writer blocks
  const sender = await chatClient(port);
  await fillUntilStalled(port, stalled, sender);
  assert.doesNotMatch(proc.stdout, /queue full/, 'the stalled reader is not too slow yet');
  const joining = []; // a burst of notices while its writer is blocked
  for (let i = 0; i < 100; i++) joining.push(chatClient(port));
  const joined = await Promise.all(joining);
  await delay(200);
  stalled._socket.resume();
  sender.send('after the notices');
  await allGot([stalled], /: after the notices$/, 10000, 'the stalled reader reads again');
  assert.equal(stalled.readyState, WebSocket.OPEN, 'the stalled reader stays connected');
  // the notices that found its queue busy, as one line once the queue is sent
  await allGot([stalled], /^\* \(\d+ more joined or left\)$/, 5000, 'skipped notices are counted');
  assert.doesNotMatch(proc.stdout, /queue full/);
  for (const c of [stalled, sender, ...joined]) c.close(1000);
});

test('a client that closes while its messages wait for room gets them all, then the close reply', T, async (t) => {
  const { proc, port } = await startChat(t, ['--rate', '0']);
  const stalled = await chatClient(port);
  stalled._socket.pause(); // its socket buffers fill, then its writer waits for room
  const sender = await chatClient(port);
  await fillUntilStalled(port, stalled, sender);
  assert.doesNotMatch(proc.stdout, /queue full/, 'the stalled reader is not too slow yet');
  stalled.close(1000, 'bye'); // its close frame reaches the server behind nothing
  await delay(300); // the server reads it while its output still waits
  stalled._socket.resume();
  const closed = await withTimeout(stalled.closed, 10000, 'the stalled client to close');
  // The server answers the close after the messages it had started: they
  // arrive whole and in order, then its close frame (not 1006: cut off).
  assert.equal(closed.code, 1000, proc.describe());
  const fills = stalled.got.filter((m) => /: fill \d+ /.test(m)).map((m) => Number(/: fill (\d+) /.exec(m)[1]));
  assert.ok(fills.length > 0, 'some messages reached it');
  assert.deepEqual(fills, fills.map((_, i) => i), 'a prefix of what was sent, in order');
  sender.close(1000);
});

test('clients joining in bursts are never kicked for join and leave notices', T, async (t) => {
  const { proc, port } = await startChat(t);
  const all = [];
  for (let burst = 0; burst < 3; burst++) {
    const joining = [];
    for (let i = 0; i < 100; i++) joining.push(chatClient(port));
    all.push(...await Promise.all(joining));
  }
  const kicked = [];
  for (const c of all) c.closed.then((e) => kicked.push(e));
  all[0].send('after the storm');
  await allGot(all, /: after the storm$/, 15000, 'after the join storm');
  assert.deepEqual(kicked, [], 'nobody was closed');
  assert.doesNotMatch(proc.stdout, /too slow|queue full/);
  for (const c of all.slice(0, 150)) c.close(1000); // a storm of leave notices too
  all[200].send('after the leaving');
  await allGot(all.slice(150), /: after the leaving$/, 15000, 'after the leave storm');
  assert.deepEqual(kicked.filter((e) => e.code !== 1000), [], 'only the leavers were closed');
  for (const c of all.slice(150)) c.close(1000);
});

test('load: 1,000 chat clients on the one-thread server; every message reaches every client once', { timeout: 180000 }, async (t) => {
  const N = 1000;
  const { proc, port } = await startChat(t, ['--rate', '0']);
  const cs = [];
  for (let i = 0; i < N; i += 100) {
    cs.push(...await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => chatClient(port))));
  }
  t.after(() => cs.forEach((c) => c.terminate()));
  assert.equal(threadsOf(proc.child.pid), 1, `one server thread with ${N} clients`);
  await allGot(cs, /^\* guest-\d+ joined$/, 10000, 'joined');
  // every client says one line at once: each must see all N lines, once each
  cs.forEach((c, i) => c.send(`line ${i}`));
  const until = Date.now() + 120000;
  const lines = (c) => c.got.filter((m) => / line \d+$/.test(m));
  while (!cs.every((c) => lines(c).length >= N) && Date.now() < until) await delay(100);
  for (const [i, c] of cs.entries()) {
    const seen = lines(c).map((m) => Number(/ line (\d+)$/.exec(m)[1])).sort((a, b) => a - b);
    assert.equal(seen.length, N, `client ${i} got ${seen.length} of ${N} lines\n${proc.describe().slice(0, 2000)}`);
    assert.deepEqual(seen, Array.from({ length: N }, (_, k) => k), `client ${i}: every line once`);
  }
  assert.equal(threadsOf(proc.child.pid), 1, 'still one server thread');
  assert.doesNotMatch(proc.stdout, /too slow|queue full/);
  assert.equal(proc.exitInfo, null, `the server exited\n${proc.describe().slice(0, 2000)}`);
});
