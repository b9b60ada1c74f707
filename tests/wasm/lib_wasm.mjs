// SPDX-License-Identifier: MIT
// Shared helpers for the wasm suites: running the emcc-built programs in Node
// and the echo servers they talk to. Builds on tests/interop/lib.mjs.
//
// WSC_WASM names the wasm build directory (default build/wasm): `make
// wasm-progs` puts build/wasm/progs/NAME.js (linked with Asyncify) and
// NAME.sync.js (without) there for tests/progs/client.c, read_client.c,
// tests/wasm/*.c and examples/*_client.c, and NAME.mt.js (-pthread: main()
// blocks on a Worker thread, in Node a worker_threads Worker) for the
// blocking ones. WSC_BUILD (default build/native)
// gives the native servers: tests/progs/echo_server and examples/*_server.
//
// In Node 20 there is no global WebSocket, so the programs require('ws'),
// which Node resolves by walking up from build/wasm/progs to the repository's
// node_modules. NODE_PATH is removed from the environment the programs get so
// that the tests prove it.
//
// Both echo servers (native and ws) echo every data message with its type and
// bytes and obey the text commands "cmd:close CODE REASON" and "cmd:send SIZE"
// (see tests/progs/echo_server.c). Their handles look alike:
//   { kind, url, peerClose(which) -> {code, reason}, vanish(), describe() }
// so one scenario can be checked against both.

import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import {
  BUILD, MiB, Proc, delay, withTimeout, startEchoServer, serverClosed, pattern,
} from '../interop/lib.mjs';

export { BUILD, MiB, delay, withTimeout, pattern };
export const WASM = path.resolve(process.env.WSC_WASM || 'build/wasm');
export const PROGS = path.join(WASM, 'progs');
export const EXAMPLES = path.join(BUILD, 'examples');
/** Per-test timeout for node:test. */
export const TEST_TIMEOUT = 20000;

delete process.env.NODE_PATH;

// ---- wasm programs -----------------------------------------------------------

/** build/wasm/progs/NAME.js, NAME.sync.js (no Asyncify) with sync, or
 * NAME.mt.js (-pthread) with mt. */
export function progFile(name, { sync = false, mt = false } = {}) {
  return path.join(PROGS, `${name}${sync ? '.sync' : mt ? '.mt' : ''}.js`);
}

/** Long lines (Node prints the whole minified line of a JS exception) cut. */
function clip(text) {
  return text.split('\n').map((l) => (l.length > 400 ? `${l.slice(0, 400)}... [${l.length} chars]` : l)).join('\n');
}

/** A Proc whose description stays readable when Node dumps minified JS. */
class WasmProc extends Proc {
  describe() {
    const ex = this.exitInfo ? ` (exit ${this.exitInfo.code ?? this.exitInfo.signal})` : ' (running)';
    const args = this.args.slice(2).map((a) => JSON.stringify(a)).join(' ');
    return `$ node ${this.args[0]} ${path.relative(process.cwd(), this.args[1])} ${args}${ex}\n` +
      `--- stdout\n${clip(this.stdout)}--- stderr\n${clip(this.stderr)}---`;
  }
}

/**
 * Starts `node --no-experimental-fetch PROGS/NAME[.sync].js ARGS` (fetch off:
 * emcc 3.1.6 output would fetch() its .wasm in Node 20); stopped after the test.
 */
export function startWasm(t, name, args = [], { sync = false, mt = false } = {}) {
  const p = new WasmProc(process.execPath, ['--no-experimental-fetch', progFile(name, { sync, mt }), ...args]);
  t.after(async () => {
    if (p.exitInfo) return;
    p.kill('SIGTERM');
    const done = await Promise.race([p.exited, delay(2000).then(() => null)]);
    if (!done) { p.kill('SIGKILL'); await p.exited; }
  });
  return p;
}

/** Runs a wasm program to its end (killed and failed after ms). */
export async function runWasm(t, name, args = [], { sync = false, mt = false, ms = 15000 } = {}) {
  const p = startWasm(t, name, args, { sync, mt });
  await p.wait(ms);
  return p;
}

/** Exit status 0 and an "OK" line (client.c, api_client.c, frame_loop_client.c). */
export function assertOk(proc, what = 'the program should succeed') {
  assert.ok(proc.exitInfo.code === 0 && /^OK$/m.test(proc.stdout), `${what}\n${proc.describe()}`);
}

/** Exit status 1 and "FAIL <step> <WSC_E...>" as the first failure. */
export function assertFail(proc, step, err) {
  const m = proc.stdout.match(/^FAIL (\S+) (WSC_E[A-Z]+)/m);
  assert.ok(m, `should fail at ${step} with ${err}, but no FAIL line\n${proc.describe()}`);
  assert.equal(`${m[1]} ${m[2]}`, `${step} ${err}`, `wrong failure\n${proc.describe()}`);
  assert.equal(proc.exitInfo.code, 1, `a failure must exit with status 1\n${proc.describe()}`);
}

/** The first line matching re (a RegExp without /g), or a failed assertion. */
export function line(proc, re) {
  const m = proc.stdout.match(re);
  assert.ok(m, `no line matching ${re}\n${proc.describe()}`);
  return m;
}

// ---- echo servers ---------------------------------------------------------------

/** Our native tests/progs/echo_server (args: --read-limit, --subprotocol...). */
export async function nativeEcho(t, args = []) {
  const s = await startEchoServer(t, args);
  return {
    kind: 'native',
    url: s.url,
    port: s.port,
    proc: s.proc,
    /** The close code and reason the server read from us (its CLOSED line). */
    async peerClose(which = 0) {
      const c = await serverClosed(s, { which });
      return { code: c.status, reason: c.reason, err: c.err };
    },
    /** The n-th connection's request target and chosen subprotocol. */
    async accepted(which = 0) {
      await s.proc.waitFor((text) => [...text.matchAll(/^ACCEPTED .*$/gm)].length > which, { ms: 5000 });
      const m = [...s.proc.stdout.matchAll(/^ACCEPTED (\S+) subprotocol=(\S*) extensions=(.*)$/gm)][which];
      return { target: m[1], protocol: m[2], extensions: m[3] };
    },
    /** Kills the server process: the kernel closes its sockets, no close frame. */
    async vanish() {
      s.proc.kill('SIGKILL');
      await s.proc.exited;
    },
    describe() { return s.proc.describe(); },
  };
}

/** Numbered message i of a flood: even i text "n=<i>", odd i 4-byte LE binary. */
function numbered(i) {
  if (i % 2 === 0) return { data: `n=${i}`, binary: false };
  const b = Buffer.alloc(4);
  b.writeUInt32LE(i);
  return { data: b, binary: true };
}

/**
 * An in-process npm ws echo server (perMessageDeflate off) with the native
 * server's commands, plus:
 *   path /flood?n=N   sends N numbered messages (see api_client.c "busy") at once
 *   cmd:text HEX      sends the bytes HEX (hex digits) as a text message
 *   cmd:vanish        destroys the socket without a close frame
 *   cmd:pause MS      stops reading the socket for MS ms (no reply)
 *   cmd:fragmented N SIZE  as the native server: SIZE bytes of 'x' as one
 *                     text message in N data frames and an empty final one
 * protocols: supported subprotocols in order of preference (as wsc_accept: the
 * first of them that the client offers is chosen).
 * maxPayload: the server's read limit (default 64 MiB).
 */
export async function wsEcho(t, { protocols = [], maxPayload = 64 * MiB } = {}) {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload,
    // like wsc_accept: the server's first supported one that the client offers
    handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
  });
  const conns = [];
  const waiting = [];
  wss.on('connection', (ws, req) => {
    const conn = { ws, target: req.url, protocol: ws.protocol, received: [] };
    conn.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {}); // e.g. a 1009 we provoke; the close event tells
    ws.on('message', (data, isBinary) => {
      conn.received.push({ len: data.length, isBinary });
      const text = isBinary ? '' : data.toString();
      if (!isBinary && text.startsWith('cmd:')) {
        const m = text.match(/^cmd:(\S+)(?: (.*))?$/s);
        const arg = m[2] ?? '';
        if (m[1] === 'close') {
          const mm = arg.match(/^(\d+)(?: (.*))?$/s);
          ws.close(Number(mm[1]), mm[2] ?? '');
        } else if (m[1] === 'send') {
          ws.send(pattern(Number(arg)), { binary: true });
        } else if (m[1] === 'text') {
          ws.send(Buffer.from(arg, 'hex'), { binary: false });
        } else if (m[1] === 'subprotocol') {
          ws.send(ws.protocol);
        } else if (m[1] === 'pause') {
          ws._socket.pause();
          setTimeout(() => ws._socket.resume(), Number(arg));
        } else if (m[1] === 'fragmented') {
          const [n, size] = arg.split(' ').map(Number);
          const piece = Math.floor(size / n);
          for (let i = 0, off = 0; i < n; i++, off += piece) {
            const len = i === n - 1 ? size - off : piece;
            ws.send(Buffer.alloc(len, 'x'), { binary: false, fin: false });
          }
          ws.send(Buffer.alloc(0), { binary: false, fin: true });
        } else if (m[1] === 'vanish') {
          ws.terminate();
        } else {
          ws.send('unknown-command');
        }
        return;
      }
      ws.send(data, { binary: isBinary });
    });
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/flood') {
      const n = Number(url.searchParams.get('n'));
      for (let i = 0; i < n; i++) {
        const { data, binary } = numbered(i);
        ws.send(data, { binary });
      }
    }
    conns.push(conn);
    for (const w of waiting.splice(0)) w();
  });
  await once(wss, 'listening');
  const port = wss.address().port;
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((r) => wss.close(() => r()));
  });
  const conn = (which) => withTimeout((async () => {
    while (conns.length <= which) await new Promise((r) => waiting.push(r));
    return conns[which];
  })(), 10000, `connection ${which} to the ws server`);
  return {
    kind: 'ws',
    url: `ws://127.0.0.1:${port}`,
    port,
    wss,
    conns,
    conn,
    /** The close code and reason the ws server's close event gave. */
    async peerClose(which = 0) {
      const c = await conn(which);
      return withTimeout(c.closed, 10000, `the ws server's close event (connection ${which})`);
    },
    async accepted(which = 0) {
      const c = await conn(which);
      return { target: c.target, protocol: c.protocol };
    },
    /** Destroys every connection's socket: no close frame. */
    async vanish() {
      for (const ws of wss.clients) ws.terminate();
    },
    describe() {
      return `ws server on port ${port}: ${conns.length} connection(s), received ` +
        JSON.stringify(conns.map((c) => c.received.length));
    },
  };
}

/** Starts the given kind of echo server ('native' or 'ws'). */
export function startServer(t, kind, { protocols = [], readLimit = null } = {}) {
  if (kind === 'native') {
    const args = [];
    for (const p of protocols) args.push('--subprotocol', p);
    if (readLimit !== null) args.push('--read-limit', String(readLimit));
    return nativeEcho(t, args);
  }
  return wsEcho(t, { protocols, maxPayload: readLimit === null || readLimit < 0 ? 64 * MiB : readLimit });
}

/** A TCP server that accepts connections and never answers (handshake timeouts). */
export async function silentServer(t) {
  const sockets = new Set();
  const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => srv.close(() => r()));
  });
  return { url: `ws://127.0.0.1:${srv.address().port}`, port: srv.address().port };
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
export async function closedPort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(() => r()));
  return port;
}

/**
 * Starts a native example server (examples/NAME; port 0) and resolves with
 * {proc, url} once it printed "listening on ws://...".
 */
export async function startExampleServer(t, name) {
  const proc = new Proc(path.join(EXAMPLES, name), ['0']);
  t.after(async () => {
    if (proc.exitInfo) return;
    proc.kill('SIGTERM');
    const done = await Promise.race([proc.exited, delay(2000).then(() => null)]);
    if (!done) { proc.kill('SIGKILL'); await proc.exited; }
  });
  const m = await proc.waitFor(/^listening on (ws:\/\/\S+)$/m, { ms: 5000 });
  return { proc, url: m[1] };
}
