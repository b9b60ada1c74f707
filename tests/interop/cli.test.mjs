// SPDX-License-Identifier: MIT
// The wsc command-line tool ($WSC_BUILD/wsc, src/cli): as a client against an
// npm `ws` server and our echo_server, as a server (--listen) against a `ws`
// client and against itself, stdin/stdout piping both ways, wss with the
// throwaway PKI, and the documented exit codes and error lines (wsc.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import {
  BUILD, TEST_TIMEOUT, startProc, startEchoServer, startWsServer, connectWs, wsRefused, delay,
} from './lib.mjs';
import { makePki } from './certs.mjs';

const T = { timeout: TEST_TIMEOUT };
const WSC = path.join(BUILD, 'wsc');
const pki = makePki();

/** Starts the tool with stdin a pipe; `input`, if given, is written and stdin ended. */
function startTool(t, args, input) {
  const proc = startProc(t, WSC, args, { stdin: 'pipe' });
  proc.child.stdin.on('error', () => {});
  if (input !== undefined) proc.child.stdin.end(input);
  return proc;
}

/** Runs the tool to its end with `input` on stdin; returns the Proc. */
async function runTool(t, args, input = '', ms = 15000) {
  const proc = startTool(t, args, input);
  await proc.wait(ms);
  return proc;
}

function assertExit(proc, code) {
  assert.equal(proc.exitInfo.code, code, `exit status should be ${code}\n${proc.describe()}`);
}

/** A `ws` server echoing every message with its type. */
function startWsEcho(t, options = {}) {
  return startWsServer(t, options, (peer) => {
    peer.ws.on('message', (data, isBinary) => peer.ws.send(data, { binary: isBinary }));
  });
}

/** Starts `wsc --listen 127.0.0.1:0 ...`; resolves {proc, port}. */
async function startToolServer(t, args, input) {
  const proc = startTool(t, ['--listen', '127.0.0.1:0', ...args], input);
  const m = await proc.waitFor(/^wsc: listening on 127\.0\.0\.1:(\d+)/m, { stream: 'stderr', ms: 5000 });
  return { proc, port: Number(m[1]) };
}

/** A port nothing listens on (bound, then closed). */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// ---- client ------------------------------------------------------------------

test('client: stdin lines become text messages and the echoes are printed; exit 0', T, async (t) => {
  const server = await startWsEcho(t);
  const proc = await runTool(t, [`${server.url}/chat`], 'hello\nworld\n\nno newline at the end');
  assertExit(proc, 0);
  assert.equal(proc.stdout, 'hello\nworld\n\nno newline at the end\n');
  assert.equal(proc.stderr, '');
  const peer = await server.nextConnection();
  const closed = await peer.waitClosed();
  assert.equal(closed.code, 1000);
  assert.equal(peer.req.url, '/chat');
});

test('client: -H headers and --subprotocol reach the server', T, async (t) => {
  const server = await startWsEcho(t, { handleProtocols: (set) => (set.has('two') ? 'two' : false) });
  const proc = await runTool(t, ['-H', 'X-Debug: yes please', '--header', 'Authorization: Bearer x',
    '--subprotocol', 'one', '-s', 'two', '-v', server.url], 'ping\n');
  assertExit(proc, 0);
  const peer = await server.nextConnection();
  assert.equal(peer.req.headers['x-debug'], 'yes please');
  assert.equal(peer.req.headers.authorization, 'Bearer x');
  assert.equal(peer.req.headers['sec-websocket-protocol'], 'one, two');
  assert.equal(peer.ws.protocol, 'two');
  assert.match(proc.stderr, /^wsc: connected to ws:\/\/127\.0\.0\.1:\d+ \(subprotocol "two", extensions ""\)$/m);
  assert.equal(proc.stdout, 'ping\n');
});

test('client: --close 4000:bye is the close sent at stdin EOF; acknowledged means exit 0', T, async (t) => {
  const server = await startWsEcho(t);
  const proc = await runTool(t, ['--close', '4000:bye', server.url], 'x\n');
  const peer = await server.nextConnection();
  assert.deepEqual(await peer.waitClosed(), { code: 4000, reason: 'bye' });
  assertExit(proc, 0);
});

test('client: --binary sends lines as binary; binary is printed as hex, or as is with --raw', T, async (t) => {
  const server = await startWsEcho(t);
  const proc = await runTool(t, ['--binary', server.url], 'abc\n\u00ff\n');
  assertExit(proc, 0);
  const peer = await server.nextConnection();
  // the echo server's queue holds what it received
  assert.deepEqual(peer.messages.map((m) => [m.isBinary, m.data.toString('hex')]),
    [[true, '616263'], [true, 'c3bf']]);
  assert.equal(proc.stdout, '616263\nc3bf\n');

  const raw = await runTool(t, ['--binary', '--raw', server.url], 'abc\ndef\n');
  assertExit(raw, 0);
  assert.equal(raw.stdout, 'abcdef');
});

test('client: the peer closing normally ends the tool with 0 while stdin is still open', T, async (t) => {
  const server = await startWsServer(t, {}, (peer) => {
    peer.ws.send('bye soon');
    peer.ws.close(1001, 'going');
  });
  const proc = startTool(t, [server.url]); // stdin stays open
  await proc.wait();
  assertExit(proc, 0);
  assert.equal(proc.stdout, 'bye soon\n');
});

test('client: the peer closing with an error code gives exit 6 and says so', T, async (t) => {
  const server = await startWsServer(t, {}, (peer) => peer.ws.close(4001, 'nope'));
  const proc = startTool(t, [server.url]);
  await proc.wait();
  assertExit(proc, 6);
  assert.match(proc.stderr, /^wsc: the peer closed the connection with 4001 StatusCode\(4001\) "nope"$/m);
});

test('client: a connection dropped without a close frame gives exit 7', T, async (t) => {
  const server = await startWsServer(t, {}, (peer) => setTimeout(() => peer.ws.terminate(), 100));
  const proc = startTool(t, [server.url]);
  await proc.wait();
  assertExit(proc, 7);
  assert.match(proc.stderr, /^wsc: connection lost: /m);
});

test('client: a message over --max-size gives exit 8 (we closed with 1009)', T, async (t) => {
  const server = await startWsServer(t, {}, (peer) => peer.ws.send('x'.repeat(100)));
  const proc = startTool(t, ['--max-size', '10', server.url]);
  await proc.wait();
  assertExit(proc, 8);
  assert.match(proc.stderr, /^wsc: WSC_EMSGSIZE: /m);
  const peer = await server.nextConnection();
  assert.equal((await peer.waitClosed()).code, 1009);
});

test('client: --ping-interval pings the server while stdin is open', T, async (t) => {
  const server = await startWsEcho(t);
  const proc = startTool(t, ['--ping-interval', '0.1', server.url]);
  const peer = await server.nextConnection();
  await delay(450);
  proc.child.stdin.end('done\n');
  await proc.wait();
  assertExit(proc, 0);
  assert.ok(peer.pings.length >= 2, `expected pings, got ${peer.pings.length}`);
  assert.equal(proc.stdout, 'done\n');
});

test('client: a slow stdout loses no echo: all 30 MB arrive and exit 0, or exit non-zero saying so', { timeout: 40000 }, async (t) => {
  const server = await startWsEcho(t);
  const body = 'y'.repeat(1000);
  const input = Array.from({ length: 30000 }, (_, i) => `${String(i).padStart(8, '0')} ${body}\n`).join('');
  const proc = startTool(t, [server.url]);
  proc.child.stdout.pause(); // the tool's reader blocks in write(2) on a full pipe
  await new Promise((resolve) => proc.child.stdin.end(input, resolve));
  await delay(6500); // longer than the 5 s end-of-input ping barrier
  proc.child.stdout.resume();
  await proc.wait(25000);
  const got = proc.stdout.length;
  if (proc.exitInfo.code === 0) {
    assert.ok(proc.stdout === input, `exit 0 but ${input.length - got} of ${input.length} bytes are missing\n${proc.stderr}`);
  } else {
    assert.match(proc.stderr, /^wsc: .*(lost|discard)/m, `exit ${proc.exitInfo.code} without saying what was lost`);
  }
});

test('client: --ping-interval does not take a slow stdout for a dead peer', T, async (t) => {
  const server = await startWsEcho(t);
  const input = Array.from({ length: 5000 }, (_, i) => `${i} ${'z'.repeat(1000)}\n`).join('');
  const proc = startTool(t, ['--ping-interval', '0.3', server.url]);
  proc.child.stdout.pause();
  await new Promise((resolve) => proc.child.stdin.write(input, resolve));
  await delay(1500); // five ping intervals with the reader blocked on stdout
  proc.child.stdout.resume();
  for (let i = 0; i < 200 && proc.stdout.length < input.length && !proc.exitInfo; i++) await delay(50);
  proc.child.stdin.end();
  await proc.wait();
  assert.equal(proc.exitInfo.code, 0, proc.stderr);
  assert.ok(proc.stdout === input, `${input.length - proc.stdout.length} of ${input.length} bytes missing`);
});

test('client: no pong to the end-of-input ping means exit 7, saying that later replies are lost', { timeout: 30000 }, async (t) => {
  const server = await startWsServer(t, { autoPong: false }, (peer) => {
    peer.ws.on('message', (data, isBinary) => peer.ws.send(data, { binary: isBinary }));
  });
  const proc = await runTool(t, [server.url], 'late\n');
  assertExit(proc, 7);
  assert.equal(proc.stdout, 'late\n');
  assert.match(proc.stderr, /^wsc: no pong to our end-of-input ping within 5 s: closing anyway; replies the peer sends after our close frame are lost$/m);
});

test('client: SIGINT closes with 1001 and exits 130, not 0: what was still to come is lost', T, async (t) => {
  const server = await startWsEcho(t);
  const proc = startTool(t, [server.url]); // stdin stays open
  const peer = await server.nextConnection();
  proc.child.stdin.write('hi\n');
  await proc.waitFor(/^hi$/m); // the session runs: its signal handlers are in place
  proc.kill('SIGINT');
  await proc.wait(5000);
  assertExit(proc, 130);
  assert.equal((await peer.waitClosed()).code, 1001);
});

test('client: SIGTERM during --wait closes with 1001 at once and exits 143', T, async (t) => {
  const server = await startWsEcho(t);
  const proc = startTool(t, ['--wait', '10', server.url], 'x\n');
  const peer = await server.nextConnection();
  await proc.waitFor(/^x$/m);
  await delay(300); // the end-of-input pong has come: the tool is in its --wait
  proc.kill('SIGTERM');
  await proc.wait(3000);
  assertExit(proc, 143);
  assert.equal((await peer.waitClosed()).code, 1001);
});

test('client: SIGINT during the end-of-input ping wait closes with 1001 at once and exits 130', T, async (t) => {
  const server = await startWsServer(t, { autoPong: false }); // our ping is never answered
  const proc = startTool(t, [server.url], 'x\n');
  const peer = await server.nextConnection();
  for (let i = 0; i < 200 && peer.pings.length === 0; i++) await delay(25);
  assert.equal(peer.pings.length, 1, 'the tool sent its end-of-input ping: it is in the wait');
  const start = Date.now();
  proc.kill('SIGINT');
  await proc.wait(6000);
  const took = Date.now() - start;
  assertExit(proc, 130);
  assert.ok(took < 1000, `the tool took ${took} ms to act on SIGINT`);
  assert.equal((await peer.waitClosed()).code, 1001);
});

test('client: --compress negotiates permessage-deflate with our echo_server', T, async (t) => {
  const server = await startEchoServer(t, ['--compress', 'takeover']);
  const text = 'compress me '.repeat(200);
  const proc = await runTool(t, ['--compress', '-v', `${server.url}/z`], `${text}\nsmall\n`);
  assertExit(proc, 0);
  assert.equal(proc.stdout, `${text}\nsmall\n`);
  await server.proc.waitFor(/^ACCEPTED \/z subprotocol= extensions=permessage-deflate/m);
  assert.match(proc.stderr, /extensions "permessage-deflate/);

  const nt = await runTool(t, ['--compress=no-takeover', server.url], 'abc\n');
  assertExit(nt, 0);
  await server.proc.waitFor(/^ACCEPTED \/ subprotocol= extensions=permessage-deflate.*no_context_takeover/m);
});

test('client: a refused connection gives exit 3 and one clear line', T, async (t) => {
  const port = await closedPort();
  const proc = await runTool(t, [`ws://127.0.0.1:${port}/`]);
  assertExit(proc, 3);
  assert.match(proc.stderr,
    new RegExp(`^wsc: cannot connect to ws://127\\.0\\.0\\.1:${port}/: WSC_ECONNECT: .*Connection refused.*\\n$`));
  assert.equal(proc.stdout, '');
});

test('client: a bad URL or option gives exit 2', T, async (t) => {
  const bad = await runTool(t, ['ftp://example.com/']);
  assertExit(bad, 2);
  assert.match(bad.stderr, /^wsc: cannot connect to ftp:\/\/example\.com\/: WSC_EINVAL: bad URL/);
  const noUrl = await runTool(t, []);
  assertExit(noUrl, 2);
  const badClose = await runTool(t, ['--close', '1005', 'ws://127.0.0.1:1/']);
  assertExit(badClose, 2);
  const help = await runTool(t, ['--help']);
  assertExit(help, 0);
  assert.match(help.stdout, /Exit status: 0 normal close/);
});

test('client: a refused upgrade gives exit 4', T, async (t) => {
  const server = await startWsServer(t, { verifyClient: () => false });
  const proc = await runTool(t, [server.url]);
  assertExit(proc, 4);
  assert.match(proc.stderr, /^wsc: cannot connect to ws:\/\/127\.0\.0\.1:\d+: WSC_EHANDSHAKE: .*401/m);
});

// ---- server ------------------------------------------------------------------

test('server: --listen --echo serves several ws clients at once', T, async (t) => {
  const { port } = await startToolServer(t, ['--echo', '--subprotocol', 'echo']);
  const a = await connectWs(t, `ws://127.0.0.1:${port}/a`, ['echo']);
  const b = await connectWs(t, `ws://127.0.0.1:${port}/b`);
  assert.equal(a.ws.protocol, 'echo');
  await b.send('to b');
  await a.send(Buffer.from([1, 2, 3]), { binary: true });
  const mb = await b.nextMessage();
  const ma = await a.nextMessage();
  assert.deepEqual([mb.isBinary, mb.data.toString()], [false, 'to b']);
  assert.deepEqual([ma.isBinary, [...ma.data]], [true, [1, 2, 3]]);
  a.ws.close(1000);
  assert.equal((await a.waitClosed()).code, 1000);
  await b.send('still here');
  assert.equal((await b.nextMessage()).data.toString(), 'still here');
});

test('server: --echo sends the whole echo of a message larger than the socket buffers', T, async (t) => {
  // The write takes what the socket has room for; the rest goes out as the
  // client drains it, with no further message arriving to push it.
  const { port } = await startToolServer(t, ['--echo']);
  const a = await connectWs(t, `ws://127.0.0.1:${port}/`);
  const big = Buffer.alloc(8 << 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = i >> 12;
  await a.send(big, { binary: true });
  const m = await a.nextMessage();
  assert.equal(m.data.length, big.length);
  assert.ok(m.data.equals(big), 'the echo is the message');
});

/**
 * Starts `wsc ARGS` under a limit (prlimit options such as --nproc=4), stdin a
 * pipe. RLIMIT_NPROC does not bind root, so the tool runs as an otherwise
 * unused uid. Returns the Proc, or null when that cannot be done here (not
 * root, no setpriv).
 */
function startLimitedTool(t, limit, args) {
  if (process.getuid() !== 0 || !fs.existsSync('/usr/bin/setpriv') || !fs.existsSync('/usr/bin/prlimit')) return null;
  const uid = String(40000 + (process.pid % 20000));
  const proc = startProc(t, '/usr/bin/prlimit', [limit, '/usr/bin/setpriv', '--reuid', uid, '--regid', uid,
    '--clear-groups', '--', WSC, ...args], { stdin: 'pipe' });
  proc.child.stdin.on('error', () => {});
  return proc;
}

/** startLimitedTool with `--listen 127.0.0.1:0 ARGS`; resolves {proc, port} or null. */
async function startLimitedServer(t, limit, args) {
  const proc = startLimitedTool(t, limit, ['--listen', '127.0.0.1:0', ...args]);
  if (!proc) return null;
  const m = await proc.waitFor(/^wsc: listening on 127\.0\.0\.1:(\d+)/m, { stream: 'stderr', ms: 5000 });
  return { proc, port: Number(m[1]) };
}

/** How many lines of text match re (a RegExp with /gm). */
const countLines = (text, re) => [...text.matchAll(re)].length;

test('server: --echo disconnects a client that does not read its echoes within --timeout', T, async (t) => {
  const { proc, port } = await startToolServer(t, ['--echo', '--timeout', '0.5']);
  const stalled = await connectWs(t, `ws://127.0.0.1:${port}/stalled`);
  stalled.ws._socket.pause(); // reads nothing: the socket buffers fill, the echo write blocks
  const mib = Buffer.alloc(1 << 20, 'x');
  for (let i = 0; i < 40; i++) stalled.ws.send(mib, { binary: true }); // more than the buffers hold
  await proc.waitFor(/^wsc: 127\.0\.0\.1:\d+: an echo was not taken within 0\.5 s \(the client does not read\): disconnected$/m,
    { stream: 'stderr', ms: 15000 });
  stalled.ws._socket.resume();
  assert.equal((await stalled.waitClosed()).code, 1006, 'closed without a close frame');
  const other = await connectWs(t, `ws://127.0.0.1:${port}/other`);
  await other.send('still serving');
  assert.equal((await other.nextMessage()).data.toString(), 'still serving');
});

/** The number of threads of process pid (from /proc). */
function threadsOf(pid) {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

test('server: --echo serves 200 clients from its one thread while a silent client and a stalled reader hold nobody', { timeout: 60000 }, async (t) => {
  const { proc, port } = await startToolServer(t, ['--echo', '--timeout', '3']);
  const url = `ws://127.0.0.1:${port}/`;
  assert.equal(threadsOf(proc.child.pid), 1, 'one thread before any client');
  // accepted first: a client that never sends its request, and one that
  // stops reading while the server still has a lot to echo to it
  const silent = net.connect(port, '127.0.0.1');
  let silentGot = '';
  silent.on('data', (d) => { silentGot += d; });
  silent.on('error', () => {});
  t.after(() => silent.destroy());
  const stalled = await connectWs(t, `${url}stalled`);
  stalled.ws._socket.pause();
  const mib = Buffer.alloc(1 << 20, 'x');
  for (let i = 0; i < 16; i++) stalled.ws.send(mib, { binary: true });

  const peers = await Promise.all(Array.from({ length: 200 }, () => connectWs(t, url)));
  await Promise.all(peers.map(async (peer, i) => {
    for (let k = 0; k < 5; k++) {
      const text = `client ${i} message ${k}`;
      await peer.send(text);
      assert.equal((await peer.nextMessage()).data.toString(), text);
    }
  }));
  assert.equal(threadsOf(proc.child.pid), 1, 'still one thread with 202 clients');
  await proc.waitFor(/an echo was not taken within 3 s \(the client does not read\): disconnected$/m,
    { stream: 'stderr', ms: 15000 });
  const deadline = Date.now() + 10000;
  while (!/^HTTP\/1\.1 408 /.test(silentGot) && Date.now() < deadline) await delay(50);
  assert.match(silentGot, /^HTTP\/1\.1 408 /, 'the silent client got its 408 after --timeout');
  peers.forEach((peer) => peer.ws.close(1000));
  await Promise.all(peers.map(async (peer) => assert.equal((await peer.waitClosed()).code, 1000)));
  assert.equal(proc.exitInfo, null, `the server exited\n${proc.describe()}`);
});

test('server: --echo at the open-file limit backs off, logs once, and serves again when fds are free', T, async (t) => {
  const srv = await startLimitedServer(t, '--nofile=16', ['--echo', '--timeout', '30']);
  if (!srv) { t.skip('needs root, prlimit and setpriv'); return; }
  // silent TCP clients: each holds an fd in the handshake until it goes
  const silent = [];
  for (let i = 0; i < 30; i++) {
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => {});
    silent.push(sock);
  }
  t.after(() => silent.forEach((sock) => sock.destroy()));
  await srv.proc.waitFor(/Too many open files/, { stream: 'stderr' });
  await delay(2500);
  assert.equal(countLines(srv.proc.stderr, /Too many open files/gm), 1, srv.proc.describe());
  assert.equal(srv.proc.exitInfo, null, `the server exited\n${srv.proc.describe()}`);

  silent.forEach((sock) => sock.destroy());
  let peer = null;
  for (let i = 0; i < 50 && !peer; i++) {
    peer = await connectWs(t, `ws://127.0.0.1:${srv.port}/`).catch(() => null);
    if (!peer) await delay(100);
  }
  assert.ok(peer, `no client served once fds were free\n${srv.proc.describe()}`);
  await peer.send('fds back');
  assert.equal((await peer.nextMessage()).data.toString(), 'fds back');
});

test('client: --ping-interval without a thread left is an error, not silently no pings', T, async (t) => {
  const server = await startWsEcho(t);
  // 2 tasks for the tool's user: the main thread and one more, not two
  const proc = startLimitedTool(t, '--nproc=2', ['--ping-interval', '1', server.url]);
  if (!proc) { t.skip('needs root, prlimit and setpriv'); return; }
  proc.child.stdin.end('x\n');
  await proc.wait();
  assertExit(proc, 1);
  assert.match(proc.stderr, /^wsc: cannot start the (ping|reader) thread: .*ulimit -u/m);
});

test('server: tool to tool, --echo with --compress', T, async (t) => {
  const { proc: srv, port } = await startToolServer(t, ['--echo', '--compress', '-v']);
  const proc = await runTool(t, ['--compress', '-v', `ws://127.0.0.1:${port}/tt`], 'one\ntwo\n');
  assertExit(proc, 0);
  assert.equal(proc.stdout, 'one\ntwo\n');
  assert.match(proc.stderr, /extensions "permessage-deflate/);
  await srv.waitFor(/connected to \/tt \(subprotocol "", extensions "permessage-deflate/m, { stream: 'stderr' });
});

test('server: without --echo the first client is piped to stdin/stdout', T, async (t) => {
  const { proc: srv, port } = await startToolServer(t, []);
  const peer = await connectWs(t, `ws://127.0.0.1:${port}/`);
  await peer.send('from the client');
  await srv.waitFor(/^from the client$/m);
  srv.child.stdin.write('from the server\n');
  const m = await peer.nextMessage();
  assert.equal(m.data.toString(), 'from the server');
  srv.child.stdin.end();
  assert.equal((await peer.waitClosed()).code, 1000);
  await srv.wait();
  assertExit(srv, 0);
});

test('server: tool to tool over stdin/stdout, the client closes with 4000', T, async (t) => {
  const { proc: srv, port } = await startToolServer(t, []);
  const cli = startTool(t, ['--close', '4000:done', `ws://127.0.0.1:${port}/`]);
  cli.child.stdin.write('hi server\n');
  await srv.waitFor(/^hi server$/m);
  srv.child.stdin.write('hi client\n');
  await cli.waitFor(/^hi client$/m);
  cli.child.stdin.end();
  await cli.wait();
  assertExit(cli, 0);
  await srv.wait();
  assertExit(srv, 6); // the peer (our client) closed with 4000
  assert.match(srv.stderr, /closed the connection with 4000 StatusCode\(4000\) "done"/);
});

test('wss: tool server with --tls-cert/--tls-key, tool client with --ca', T, async (t) => {
  const { proc: srv, port } = await startToolServer(t,
    ['--echo', '--tls-cert', pki.certFile, '--tls-key', pki.keyFile]);
  assert.match(srv.stderr, /listening on 127\.0\.0\.1:\d+ \(TLS\)/);
  const ok = await runTool(t, ['--ca', pki.caFile, `wss://127.0.0.1:${port}/`], 'secret\n');
  assertExit(ok, 0);
  assert.equal(ok.stdout, 'secret\n');
  const local = await runTool(t, ['--ca', pki.caFile, `wss://localhost:${port}/`], 'by name\n');
  assertExit(local, 0);
  assert.equal(local.stdout, 'by name\n');

  const untrusted = await runTool(t, ['--ca', pki.otherCaFile, `wss://127.0.0.1:${port}/`]);
  assertExit(untrusted, 5);
  assert.match(untrusted.stderr, /^wsc: cannot connect to wss:\/\/127\.0\.0\.1:\d+\/: WSC_ETLS: /m);
  const insecure = await runTool(t, ['--insecure', `wss://127.0.0.1:${port}/`], 'anyway\n');
  assertExit(insecure, 0);
  assert.equal(insecure.stdout, 'anyway\n');
});

test('server: a bad --listen, a missing key or a reserved -H header gives exit 2; an unreadable certificate exit 5', T, async (t) => {
  assertExit(await runTool(t, ['--listen', 'nope']), 2);
  assertExit(await runTool(t, ['--listen', '0', '--tls-cert', pki.certFile]), 2);
  const bad = await runTool(t, ['--listen', '0', '--tls-cert', '/nonexistent.pem', '--tls-key', pki.keyFile]);
  assertExit(bad, 5);
  assert.match(bad.stderr, /^wsc: cannot load the TLS certificate: WSC_ETLS: /m);
  // A header wsc writes itself is refused at startup, not at every client.
  const hdr = await runTool(t, ['--listen', '127.0.0.1:0', '--echo', '-H', 'Connection: x']);
  assertExit(hdr, 2);
  assert.match(hdr.stderr, /header Connection is set by wsc itself/);
  assert.doesNotMatch(hdr.stderr, /listening/);
});
