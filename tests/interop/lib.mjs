// SPDX-License-Identifier: MIT
// Shared helpers for the interop suites (node --test, Node 20).
//
// WSC_BUILD names the build directory (default build/native); the programs
// under test are $WSC_BUILD/tests/progs/echo_server and .../client, whose
// command lines and output lines are documented at the top of their sources
// in tests/progs/.
//
// Peers: the npm `ws` package (in process) and Debian's python3-websockets
// 10.4 (run by /usr/bin/python3 with an inline script). Compression is off on
// every peer: permessage-deflate is not built into wsc yet.
//
// Every helper that starts something takes the test context `t` and stops it
// in t.after(), so a failing test leaves no process or server behind.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from 'ws';

export const BUILD = path.resolve(process.env.WSC_BUILD || 'build/native');

// Our client honours the proxy variables like curl: a developer's proxy must
// not carry the tests' 127.0.0.1 dials. (proxy.test.mjs sets its own.)
for (const name of ['http_proxy', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) {
  delete process.env[name];
}
export const ECHO_SERVER = path.join(BUILD, 'tests/progs/echo_server');
export const CLIENT = path.join(BUILD, 'tests/progs/client');
export const PYTHON = '/usr/bin/python3';
export const MiB = 1024 * 1024;
/** Per-test timeout for node:test. */
export const TEST_TIMEOUT = 20000;

const live = new Set();
process.on('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
});

// ---- data ------------------------------------------------------------------

/** n bytes with byte i = i % 251 (what the C programs send). */
export function pattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

/** 32-bit FNV-1a as 8 hex digits, as the C client prints it. */
export function fnv1a(buf) {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) {
    h ^= buf[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `what` after ms unless p settles first. */
export function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- processes ---------------------------------------------------------------

/** A child process whose stdout and stderr are collected. */
export class Proc {
  constructor(cmd, args, { stdin = 'ignore', env = process.env } = {}) {
    this.cmd = cmd;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.exitInfo = null;
    this._waiters = [];
    this.child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'], env });
    live.add(this);
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d) => { this.stdout += d; this._check(); });
    this.child.stderr.on('data', (d) => { this.stderr += d; this._check(); });
    this.exited = new Promise((resolve) => {
      // 'close' comes after both pipes are drained, so the output is complete.
      this.child.on('close', (code, signal) => {
        live.delete(this);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        this._check();
      });
      this.child.on('error', (err) => {
        this.stderr += `\n[spawn error: ${err.message}]`;
      });
    });
  }

  /** Human-readable summary for assertion messages. */
  describe() {
    const ex = this.exitInfo ? ` (exit ${this.exitInfo.code ?? this.exitInfo.signal})` : ' (running)';
    return `$ ${path.basename(this.cmd)} ${this.args.map((a) => (a.length > 120 ? '<script>' : JSON.stringify(a))).join(' ')}${ex}\n` +
      `--- stdout\n${this.stdout}--- stderr\n${this.stderr}---`;
  }

  _check() {
    this._waiters = this._waiters.filter((w) => {
      // only complete lines: a line may arrive in several chunks
      const all = w.stream();
      const text = this.exitInfo ? all : all.slice(0, all.lastIndexOf('\n') + 1);
      const m = typeof w.re === 'function' ? w.re(text) : text.match(w.re);
      if (m) { w.resolve(m); return false; }
      if (this.exitInfo) {
        w.reject(new Error(`process exited before printing ${typeof w.re === 'function' ? w.re.what || 'what was awaited' : w.re}\n${this.describe()}`));
        return false;
      }
      return true;
    });
  }

  /**
   * Resolves with the match once stdout (or stderr) matches re, a RegExp or a
   * function of the whole text returning a truthy value.
   */
  waitFor(re, { ms = 10000, stream = 'stdout' } = {}) {
    const p = new Promise((resolve, reject) => {
      this._waiters.push({ re, resolve, reject, stream: () => this[stream] });
      this._check();
    });
    return withTimeout(p, ms, `${typeof re === 'function' ? re.what || 'a condition' : re} on ${stream}`).catch((e) => {
      throw new Error(`${e.message}\n${this.describe()}`);
    });
  }

  /** Waits for the process to exit; kills it and throws after ms. */
  async wait(ms = 15000) {
    try {
      return await withTimeout(this.exited, ms, `${path.basename(this.cmd)} to exit`);
    } catch (e) {
      this.kill('SIGKILL');
      await this.exited;
      throw new Error(`${e.message}\n${this.describe()}`);
    }
  }

  kill(signal = 'SIGTERM') {
    if (!this.exitInfo) this.child.kill(signal);
  }
}

/** Spawns a process stopped at the end of the test. */
export function startProc(t, cmd, args, opts) {
  const p = new Proc(cmd, args, opts);
  t.after(async () => {
    if (p.exitInfo) return;
    p.kill('SIGTERM');
    const done = await Promise.race([p.exited, delay(2000).then(() => null)]);
    if (!done) { p.kill('SIGKILL'); await p.exited; }
  });
  return p;
}

// ---- our programs ----------------------------------------------------------

/** Starts echo_server with extra args; returns {proc, port, url}. */
export async function startEchoServer(t, args = []) {
  const proc = startProc(t, ECHO_SERVER, ['--port', '0', ...args]);
  const m = await proc.waitFor(/^LISTENING (\d+)$/m, { ms: 5000 });
  const port = Number(m[1]);
  return { proc, port, url: `ws://127.0.0.1:${port}` };
}

/**
 * Runs the scenario client to completion: client URL [...opts] STEP...
 * Returns the Proc (stdout, stderr, exitInfo). Never hangs: killed after ms.
 */
export async function runClient(t, url, steps, { opts = [], ms = 15000 } = {}) {
  const proc = startProc(t, CLIENT, [url, ...opts, ...steps]);
  await proc.wait(ms);
  return proc;
}

/** Asserts the client ran every step and printed OK. */
export function assertClientOk(proc) {
  assert.ok(proc.exitInfo.code === 0 && /^OK$/m.test(proc.stdout),
    `client should succeed\n${proc.describe()}`);
}

/** Asserts the client failed at `step` with error `err` (e.g. WSC_EHANDSHAKE). */
export function assertClientFail(proc, step, err) {
  const m = proc.stdout.match(/^FAIL (\S+) (WSC_E[A-Z]+)/m);
  assert.ok(proc.exitInfo.code === 1 && m,
    `client should fail at ${step} with ${err}\n${proc.describe()}`);
  assert.equal(`${m[1]} ${m[2]}`, `${step} ${err}`, `wrong failure\n${proc.describe()}`);
}

/** All "MSG type len fnv=hash [text]" lines of a client's output. */
export function msgLines(proc) {
  return [...proc.stdout.matchAll(/^MSG (\S+) (\d+) fnv=([0-9a-f]{8})(?: (.*))?$/gm)]
    .map((m) => ({ type: m[1], len: Number(m[2]), fnv: m[3], text: m[4] ?? '' }));
}

/** Parses the "CLOSED err status=n reason=r" line of a client or the server. */
export function closedLine(text, { which = 0 } = {}) {
  const all = [...text.matchAll(/^CLOSED (\S+) status=(-?\d+) reason=(.*)$/gm)];
  const m = all[which];
  return m ? { err: m[1], status: Number(m[2]), reason: m[3] } : null;
}

/** A waitFor predicate: at least n lines match re (a RegExp with /gm). */
export function nLines(re, n) {
  const f = (text) => [...text.matchAll(re)].length >= n;
  f.what = `${n} line(s) matching ${re}`;
  return f;
}

/** Waits for the echo server's n-th (0-based) CLOSED line and parses it. */
export async function serverClosed(server, { which = 0, ms = 10000 } = {}) {
  await server.proc.waitFor(nLines(/^CLOSED .*$/gm, which + 1), { ms });
  return closedLine(server.proc.stdout, { which });
}

// ---- ws peers ----------------------------------------------------------------

/** Wraps a `ws` WebSocket (either side): queues messages, pings, pongs, close. */
export class WsPeer {
  constructor(ws, req) {
    this.ws = ws;
    this.req = req;
    this.messages = [];
    this.pings = [];
    this.pongs = [];
    this._waiting = [];
    this.error = null;
    ws.on('message', (data, isBinary) => {
      const msg = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data), isBinary };
      const w = this._waiting.shift();
      if (w) w(msg); else this.messages.push(msg);
    });
    ws.on('ping', (d) => this.pings.push(Buffer.from(d)));
    ws.on('pong', (d) => this.pongs.push(Buffer.from(d)));
    ws.on('error', (e) => { this.error = e; });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  /** The next message {data: Buffer, isBinary}. */
  nextMessage(ms = 10000) {
    if (this.messages.length) return Promise.resolve(this.messages.shift());
    const p = new Promise((resolve) => this._waiting.push(resolve));
    return withTimeout(p, ms, 'a message from the peer');
  }

  /** The close event {code, reason}. */
  waitClosed(ms = 10000) {
    return withTimeout(this.closed, ms, 'the close event');
  }

  send(data, opts = {}) {
    return new Promise((resolve, reject) => this.ws.send(data, opts, (e) => (e ? reject(e) : resolve())));
  }

  /** Sends a ping and resolves once a pong with the same payload came. */
  async pingPong(payload = Buffer.from('wsc'), ms = 5000) {
    const got = new Promise((resolve) => {
      const on = (d) => { if (Buffer.from(d).equals(payload)) { this.ws.off('pong', on); resolve(); } };
      this.ws.on('pong', on);
    });
    this.ws.ping(payload);
    await withTimeout(got, ms, 'a pong');
  }
}

/**
 * Starts a ws WebSocketServer on 127.0.0.1:0 (no compression).
 * onConnection(peer) runs synchronously for each connection; nextConnection()
 * resolves with the peers in order.
 */
export async function startWsServer(t, options = {}, onConnection = () => {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, ...options });
  const peers = [];
  const waiting = [];
  let count = 0;
  wss.on('connection', (ws, req) => {
    const peer = new WsPeer(ws, req);
    count++;
    onConnection(peer);
    const w = waiting.shift();
    if (w) w(peer); else peers.push(peer);
  });
  await once(wss, 'listening');
  const port = wss.address().port;
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((r) => wss.close(() => r()));
  });
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    get connections() { return count; },
    nextConnection(ms = 10000) {
      if (peers.length) return Promise.resolve(peers.shift());
      return withTimeout(new Promise((r) => waiting.push(r)), ms, 'a connection to the ws server');
    },
  };
}

/** Connects a ws client (no compression); resolves with a WsPeer once open. */
export async function connectWs(t, url, protocols = [], options = {}) {
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...options });
  const peer = new WsPeer(ws);
  t.after(() => ws.terminate());
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  }), 5000, `ws client to open ${url}`);
  return peer;
}

/** A ws client that must be refused: resolves {status, headers, body} of the answer. */
export async function wsRefused(t, url, protocols = [], options = {}) {
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...options });
  t.after(() => ws.terminate());
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the connection was accepted')));
    ws.once('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() });
        req.destroy();
      });
    });
    ws.on('error', () => {});
  }), 5000, `refusal of ${url}`);
}

// ---- raw HTTP ----------------------------------------------------------------

/**
 * Sends `request` (a string) on a new TCP connection to 127.0.0.1:port and
 * resolves with the response head {status, headers (lower-case names), raw}
 * once the head is complete (or the server closed the connection).
 */
export function rawRequest(port, request, ms = 5000) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const finish = () => {
      sock.destroy();
      const head = buf.split('\r\n\r\n')[0];
      const lines = head.split('\r\n');
      const m = lines[0].match(/^HTTP\/1\.1 (\d{3})/);
      if (!m) { reject(new Error(`no HTTP response, got ${JSON.stringify(buf)}`)); return; }
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers, raw: buf });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d) => { buf += d; if (buf.includes('\r\n\r\n')) finish(); });
    sock.on('end', finish);
    sock.on('error', (e) => (buf ? finish() : reject(e)));
    sock.write(request);
  }), ms, `an HTTP response on port ${port}`);
}

/** An upgrade request with the given header overrides (null removes one). */
export function upgradeRequest(port, overrides = {}, { method = 'GET', target = '/' } = {}) {
  const h = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  let s = `${method} ${target} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== null) s += `${k}: ${v}\r\n`;
  return s + '\r\n';
}

// ---- python3-websockets ------------------------------------------------------

/** The start of every inline python3-websockets script: imports, out(), pattern(), fnv(). */
export const PY_PRELUDE = `
import asyncio, json, sys
import websockets

def out(*args):
    sys.stdout.write(' '.join(str(a) for a in args) + '\\n')
    sys.stdout.flush()

def pattern(n):
    return (bytes(range(251)) * (n // 251 + 1))[:n]

def fnv(b):
    h = 0x811c9dc5
    for x in b:
        h = ((h ^ x) * 0x01000193) & 0xffffffff
    return '%08x' % h
`;

/** Removes the common indentation of code, then indents it by 4 spaces. */
function indent(code) {
  const lines = code.replace(/^\s*\n/, '').replace(/\s+$/, '').split('\n');
  const common = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
  return lines.map((l) => '    ' + l.slice(common)).join('\n');
}

/**
 * Starts a python3-websockets 10.4 server on 127.0.0.1:0 whose connection
 * handler is `body` (Python statements, indented freely at column 0, with `ws`
 * the connection; helpers out(), pattern(), fnv() are defined). When the
 * handler ends, the server waits for the close and prints
 *   PEER_CLOSED <code> <reason as JSON>
 * serveArgs is Python keyword-argument text added to websockets.serve().
 */
export async function startPyServer(t, body, serveArgs = '') {
  const script = `${PY_PRELUDE}
async def handler(ws):
${indent(body)}

async def wrapped(ws):
    try:
        out('PEER_OPEN', json.dumps(ws.path), json.dumps(ws.subprotocol))
        await handler(ws)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    out('PEER_CLOSED', ws.close_code, json.dumps(ws.close_reason))

async def main():
    async with websockets.serve(wrapped, '127.0.0.1', 0, compression=None, max_size=None,
                                ping_interval=None, ${serveArgs}) as server:
        out('LISTENING', list(server.sockets)[0].getsockname()[1])
        await asyncio.Future()

asyncio.run(main())
`;
  const proc = startProc(t, PYTHON, ['-c', script]);
  const m = await proc.waitFor(/^LISTENING (\d+)$/m, { ms: 10000 });
  const port = Number(m[1]);
  return { proc, port, url: `ws://127.0.0.1:${port}` };
}

/** Parses the python server's n-th PEER_CLOSED line: {code, reason}. */
export async function pyServerClosed(server, { which = 0, ms = 10000 } = {}) {
  await server.proc.waitFor(nLines(/^PEER_CLOSED .*$/gm, which + 1), { ms });
  const all = [...server.proc.stdout.matchAll(/^PEER_CLOSED (\S+) (.*)$/gm)];
  const m = all[which];
  assert.ok(m, `no PEER_CLOSED line ${which}\n${server.proc.describe()}`);
  return { code: m[1] === 'None' ? null : Number(m[1]), reason: JSON.parse(m[2]) };
}

/**
 * Runs a python3-websockets client: `body` is the body of
 * `async def main(url)` (helpers out(), pattern(), fnv() available), bounded
 * by a 15 s asyncio timeout. Resolves with the finished Proc; asserts that it
 * exited 0 unless allowFail.
 */
export async function runPyClient(t, url, body, { allowFail = false, ms = 18000 } = {}) {
  const script = `${PY_PRELUDE}
async def main(url):
${indent(body)}

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 15))
`;
  const proc = startProc(t, PYTHON, ['-c', script, url]);
  await proc.wait(ms);
  if (!allowFail) assert.equal(proc.exitInfo.code, 0, `python client failed\n${proc.describe()}`);
  return proc;
}

/** Python keyword arguments for websockets.connect() without compression. */
export const PY_CONNECT = 'compression=None, max_size=None, ping_interval=None';
