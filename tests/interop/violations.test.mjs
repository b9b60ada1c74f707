// SPDX-License-Identifier: MIT
// violations.test.mjs - protocol-violation suite: a raw-TCP WebSocket peer
// (node's `net` plus the frame codec of tap.mjs) that misbehaves on purpose, in the
// spirit of Autobahn's case categories.
//
//   server side: spawns $WSC_BUILD/tests/progs/echo_server and talks to it as
//                a hand-written client, asserting the close code wsc sends.
//   client side: runs a hand-written server and spawns
//                $WSC_BUILD/tests/progs/read_client against it.
//
// Run: WSC_BUILD=build/native node --test --test-concurrency=1 tests/interop/
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { OP, RSV1, RSV2, RSV3, encodeFrame, parseFrame, closePayload, frameStr } from './tap.mjs';

const BUILD = process.env.WSC_BUILD || 'build/native';
const PROGS = path.resolve(BUILD, 'tests/progs');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hex(buf, max = 64) {
  const b = Buffer.from(buf);
  const s = b.subarray(0, max).toString('hex').replace(/(..)/g, '$1 ').trim();
  return b.length > max ? `${s} ... (${b.length} bytes)` : s || '(none)';
}

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

function isValidUtf8(buf) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

// ---- waiting on events -----------------------------------------------------

// Something that changes on events: until(fn) re-evaluates fn after every
// change and resolves with its first result that is not undefined.
class Watch {
  constructor() {
    this._waiters = new Set();
  }
  _wake() {
    for (const w of [...this._waiters]) w();
  }
  // fn() -> value | undefined. dead() -> string | null: a reason to give up.
  until(fn, ms, what, dead = () => null) {
    return new Promise((resolve, reject) => {
      let timer;
      const done = () => {
        clearTimeout(timer);
        this._waiters.delete(check);
      };
      const check = () => {
        let v;
        try {
          v = fn();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v !== undefined) {
          done();
          resolve(v);
          return;
        }
        const why = dead();
        if (why) {
          done();
          reject(new Error(`${why} while waiting for ${what}${this.describe()}`));
        }
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}${this.describe()}`));
      }, ms);
      this._waiters.add(check);
      check();
    });
  }
  describe() {
    return '';
  }
}

// ---- HTTP heads --------------------------------------------------------------

function parseHead(text) {
  const lines = text.split('\r\n');
  const first = lines.shift();
  const headers = {};
  const raw = [];
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const name = l.slice(0, i).trim().toLowerCase();
    const value = l.slice(i + 1).trim();
    raw.push([name, value]);
    if (!(name in headers)) headers[name] = value;
  }
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(first);
  const r = /^(\S+) (\S+) HTTP\/1\.1$/.exec(first);
  return {
    first,
    status: m ? Number(m[1]) : null,
    method: r ? r[1] : null,
    target: r ? r[2] : null,
    headers,
    raw,
    text,
  };
}

// ---- a raw TCP peer ------------------------------------------------------------

const sockets = new Set();

class Peer extends Watch {
  constructor(sock) {
    super();
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.gotEnd = false;
    this.closed = false;
    this.err = null;
    this.seen = []; // every frame parsed, for error messages
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._wake();
    });
    sock.on('end', () => {
      this.gotEnd = true;
      this._wake();
    });
    sock.on('error', (e) => {
      this.err = e;
      this._wake();
    });
    sock.on('close', () => {
      this.closed = true;
      sockets.delete(sock);
      this._wake();
    });
  }
  describe() {
    const fr = this.seen.length ? `; frames so far: [${this.seen.map(frameStr).join(', ')}]` : '';
    return `${fr}; unparsed bytes: ${hex(this.buf)}${this.err ? `; socket error ${this.err.code}` : ''}`;
  }
  deadWhenClosed = () =>
    this.closed || this.gotEnd ? 'the peer closed the TCP connection' : null;

  write(b) {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(b);
  }
  // Sends b one byte per TCP write, `gap` ms apart.
  async writeBytewise(b, gap = 2) {
    for (let i = 0; i < b.length; i++) {
      this.write(b.subarray(i, i + 1));
      await sleep(gap);
    }
  }
  destroy() {
    this.sock.destroy();
  }

  readHead(ms = 5000, what = 'an HTTP head') {
    return this.until(
      () => {
        const i = this.buf.indexOf('\r\n\r\n');
        if (i < 0) return undefined;
        const head = parseHead(this.buf.subarray(0, i).toString('latin1'));
        this.buf = this.buf.subarray(i + 4);
        return head;
      },
      ms,
      what,
      this.deadWhenClosed,
    );
  }
  nextFrame(ms = 5000, what = 'a frame') {
    return this.until(
      () => {
        const r = parseFrame(this.buf);
        if (!r) return undefined;
        this.buf = r.rest;
        this.seen.push(r.frame);
        return r.frame;
      },
      ms,
      what,
      this.deadWhenClosed,
    );
  }
  // Frames up to and including the first close frame: { close, before }.
  async untilClose(ms = 5000) {
    const before = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()), 'a close frame');
      if (f.opcode === OP.CLOSE) return { close: f, before };
      before.push(f);
    }
  }
  // Next whole data message (frames reassembled); control frames go to `control`.
  async readMessage(ms = 5000, control = []) {
    const deadline = Date.now() + ms;
    let type = null;
    const parts = [];
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()), 'a data message');
      if (f.opcode >= 0x8) {
        if (f.opcode === OP.CLOSE) {
          throw new Error(`got a close frame instead of a data message: ${frameStr(f)}${this.describe()}`);
        }
        control.push(f);
        continue;
      }
      if (type === null) {
        assert.notEqual(f.opcode, OP.CONT, `message started with a continuation frame${this.describe()}`);
        type = f.opcode;
      } else {
        assert.equal(f.opcode, OP.CONT, `new data frame inside a fragmented message${this.describe()}`);
      }
      parts.push(f.payload);
      if (f.fin) return { type, payload: Buffer.concat(parts) };
    }
  }
  waitTcpClose(ms, what = 'the TCP connection to be closed by the peer') {
    return this.until(() => (this.closed || this.gotEnd ? true : undefined), ms, what);
  }
}

function connect(port, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`TCP connect to 127.0.0.1:${port} timed out`));
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      s.off('error', reject);
      resolve(new Peer(s));
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(new Error(`TCP connect to 127.0.0.1:${port} failed: ${e.message}`));
    });
  });
}

// ---- child processes -----------------------------------------------------------

const children = new Set();

function killAll() {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
  children.clear();
  for (const s of sockets) s.destroy();
  sockets.clear();
}
process.on('exit', killAll);

class Child extends Watch {
  constructor(name, args) {
    super();
    const bin = path.join(PROGS, name);
    if (!fs.existsSync(bin)) {
      throw new Error(`${bin} does not exist: build it with \`make ${path.relative(process.cwd(), bin)}\``);
    }
    this.name = name;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.exited = false;
    this.code = null;
    this.signal = null;
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.proc);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      this.stdout += d;
      this._wake();
    });
    this.proc.stderr.on('data', (d) => {
      this.stderr += d;
      this._wake();
    });
    this.proc.on('error', (e) => {
      this.spawnError = e;
      this._wake();
    });
    this.proc.on('close', (code, signal) => {
      this.exited = true;
      this.code = code;
      this.signal = signal;
      children.delete(this.proc);
      this._wake();
    });
  }
  describe() {
    return `; ${this.name} ${this.args.join(' ')}: ${this.exited ? `exited code=${this.code} signal=${this.signal}` : 'running'}; stdout=${JSON.stringify(this.stdout)} stderr=${JSON.stringify(this.stderr.slice(-2000))}`;
  }
  waitLine(re, ms, what) {
    return this.until(
      () => {
        for (const l of this.stdout.split('\n')) {
          const m = re.exec(l);
          if (m) return m;
        }
        return undefined;
      },
      ms,
      what,
      () => (this.spawnError ? `spawn failed: ${this.spawnError.message}` : this.exited ? 'the program exited' : null),
    );
  }
  async waitExit(ms) {
    try {
      return await this.until(() => (this.exited ? { code: this.code, signal: this.signal } : undefined), ms, `${this.name} to exit`);
    } catch (e) {
      this.kill();
      throw e;
    }
  }
  kill() {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/;

function assertNoSanitizerReport(child) {
  const m = SANITIZER_RE.exec(child.stderr);
  if (m) {
    const from = Math.max(0, m.index - 200);
    assert.fail(`${child.name} printed a sanitizer report: ${child.stderr.slice(from, from + 3000)}`);
  }
}

async function startEchoServer(args = []) {
  const c = new Child('echo_server', ['--port', '0', ...args]);
  const m = await c.waitLine(/^LISTENING (\d+)/, 5000, '"LISTENING <port>" from echo_server');
  c.port = Number(m[1]);
  return c;
}

// ---- server side helpers -------------------------------------------------------

function upgradeRequest(port, key, { method = 'GET', lines, version = 'HTTP/1.1', target = '/' } = {}) {
  const hdr = lines ?? [
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  return `${method} ${target} ${version}\r\n${hdr.join('\r\n')}\r\n\r\n`;
}

// Connects to the echo server and performs the upgrade, checking the 101.
async function openWs(port) {
  const p = await connect(port);
  const key = crypto.randomBytes(16).toString('base64');
  p.write(upgradeRequest(port, key));
  const res = await p.readHead(5000, 'the 101 response');
  assert.equal(res.status, 101, `expected 101 Switching Protocols, got: ${res.text}`);
  assert.equal(res.headers['sec-websocket-accept'], acceptFor(key), `bad Sec-WebSocket-Accept in: ${res.text}`);
  assert.match(res.headers['upgrade'] ?? '', /^websocket$/i, `bad Upgrade header in: ${res.text}`);
  assert.match(res.headers['connection'] ?? '', /\bupgrade\b/i, `bad Connection header in: ${res.text}`);
  return p;
}

// Expects the server to answer a violation with a close frame carrying
// `code` (no data echoed first), then to close the TCP connection.
async function expectServerFails(p, code, what) {
  const { close, before } = await p.untilClose(5000);
  const data = before.filter((f) => f.opcode < 0x8);
  assert.equal(data.length, 0, `${what}: the server echoed data before closing: [${before.map(frameStr).join(', ')}]`);
  assert.equal(close.masked, false, `${what}: the server's close frame is masked`);
  assert.equal(close.code, code, `${what}: expected close code ${code}, server sent ${frameStr(close)}`);
  const reason = close.payload.subarray(2);
  assert.ok(isValidUtf8(reason), `${what}: close reason is not valid UTF-8: ${hex(reason)}`);
  // Acknowledge like a well-behaved client, then the server must hang up.
  p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code) }));
  await p.waitTcpClose(6000, `${what}: the server to close the TCP connection after its close frame`);
  return close;
}

async function serverViolation(port, bytes, code, what) {
  const p = await openWs(port);
  try {
    p.write(bytes);
    await expectServerFails(p, code, what);
  } finally {
    p.destroy();
  }
}

// Sends a raw request head and returns the response head (then expects close).
async function rawRequest(port, request, what, { expectClose = true } = {}) {
  const p = await connect(port);
  let ok = false;
  try {
    p.write(request);
    const res = await p.readHead(5000, `the HTTP response to ${what}`);
    if (expectClose && res.status !== 101) {
      await p.waitTcpClose(5000, `the server to close the connection after its ${res.status} response to ${what}`);
    }
    ok = true;
    return { res, p };
  } finally {
    if (expectClose || !ok) p.destroy();
  }
}

const T = { timeout: 10000 };
const text = (s) => Buffer.from(s, 'utf8');

// ===================================================================================
// Against our server
// ===================================================================================

describe('server: protocol violations', { concurrency: 8 }, () => {
  let srv, limitSrv;
  before(async () => {
    srv = await startEchoServer(['--read-limit', '100000']);
    limitSrv = await startEchoServer(['--read-limit', '1000']);
  });
  after(() => {
    srv?.kill();
    limitSrv?.kill();
    for (const c of [srv, limitSrv]) if (c) assertNoSanitizerReport(c);
  });

  // ---- positive sanity cases (the codec of this file and the echo path) ----

  it('echoes text, 16-bit and 64-bit length messages, and an empty message', T, async () => {
    const p = await openWs(srv.port);
    try {
      const cases = [
        [OP.TEXT, text('hello')],
        [OP.BINARY, crypto.randomBytes(200)],
        [OP.BINARY, crypto.randomBytes(70000)],
        [OP.TEXT, Buffer.alloc(0)],
      ];
      for (const [op, payload] of cases) {
        p.write(encodeFrame({ opcode: op, payload }));
        const m = await p.readMessage(5000);
        assert.equal(m.type, op, `echo of a ${payload.length}-byte message has the wrong type`);
        assert.ok(m.payload.equals(payload), `echo of a ${payload.length}-byte message differs`);
      }
      p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000) }));
      const { close } = await p.untilClose(5000);
      assert.equal(close.code, 1000);
      await p.waitTcpClose(5000);
    } finally {
      p.destroy();
    }
  });

  // ---- framing ----

  it('unmasked client frame -> 1002', T, () =>
    serverViolation(srv.port, encodeFrame({ opcode: OP.TEXT, payload: text('hello'), mask: false }), 1002, 'unmasked frame'));

  it('after failing, the server hangs up even if the client never answers its close', T, async () => {
    const p = await openWs(srv.port);
    try {
      p.write(encodeFrame({ opcode: OP.TEXT, payload: text('hello'), mask: false }));
      const { close } = await p.untilClose(5000);
      assert.equal(close.code, 1002, `expected 1002, got ${frameStr(close)}`);
      await p.waitTcpClose(6000, 'the server to close the TCP connection (we never send a close reply)');
    } finally {
      p.destroy();
    }
  });

  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`reserved opcode 0x${op.toString(16)} -> 1002`, T, () =>
      serverViolation(srv.port, encodeFrame({ opcode: op, payload: text('x') }), 1002, `opcode 0x${op.toString(16)}`));
  }

  for (const [name, bit] of [['RSV1', RSV1], ['RSV2', RSV2], ['RSV3', RSV3]]) {
    it(`${name} set (no extension negotiated) -> 1002`, T, () =>
      serverViolation(srv.port, encodeFrame({ opcode: OP.TEXT, payload: text('hi'), rsv: bit }), 1002, name));
  }

  it('64-bit length with the most significant bit set -> 1002', T, () => {
    const b = Buffer.alloc(2 + 8 + 4);
    b[0] = 0x82;
    b[1] = 0x80 | 127;
    b[2] = 0x80; // length 0x8000000000000000
    crypto.randomBytes(4).copy(b, 10);
    return serverViolation(srv.port, b, 1002, '64-bit length with MSB set');
  });

  it('message larger than --read-limit (single frame) -> 1009', T, () =>
    serverViolation(limitSrv.port, encodeFrame({ opcode: OP.BINARY, payload: Buffer.alloc(2000, 1) }), 1009, 'message over the read limit'));

  it('message larger than --read-limit (fragments) -> 1009', T, () =>
    serverViolation(
      limitSrv.port,
      Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: Buffer.alloc(600, 0x61), fin: false }),
        encodeFrame({ opcode: OP.CONT, payload: Buffer.alloc(600, 0x61), fin: false }),
        encodeFrame({ opcode: OP.CONT, payload: Buffer.alloc(600, 0x61), fin: true }),
      ]),
      1009,
      'fragmented message over the read limit',
    ));

  it('message exactly at --read-limit is echoed', T, async () => {
    const p = await openWs(limitSrv.port);
    try {
      const payload = crypto.randomBytes(1000);
      p.write(encodeFrame({ opcode: OP.BINARY, payload }));
      const m = await p.readMessage(5000);
      assert.ok(m.payload.equals(payload), 'echo of a 1000-byte message (== read limit) differs');
    } finally {
      p.destroy();
    }
  });

  // ---- UTF-8 ----

  const badUtf8 = [
    ['surrogate ED A0 80', Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xed, 0xa0, 0x80, 0x65, 0x64])],
    ['overlong C0 AF', Buffer.from([0x61, 0xc0, 0xaf, 0x62])],
    ['byte FF', Buffer.from([0x61, 0xff, 0x62])],
    ['code point above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['truncated sequence at the end', Buffer.from([0x61, 0x62, 0xe2, 0x82])],
  ];
  for (const [name, bytes] of badUtf8) {
    it(`bad UTF-8 text message (${name}) -> 1007`, T, () =>
      serverViolation(srv.port, encodeFrame({ opcode: OP.TEXT, payload: bytes }), 1007, `bad UTF-8 (${name})`));
  }

  it('bad UTF-8 in the second fragment (valid first fragment) -> 1007', T, () =>
    serverViolation(
      srv.port,
      Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: text('Hello κόσμε '), fin: false }),
        encodeFrame({ opcode: OP.CONT, payload: Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62]), fin: true }),
      ]),
      1007,
      'bad UTF-8 in a continuation',
    ));

  it('bad UTF-8: sequence truncated by the final fragment -> 1007', T, () =>
    serverViolation(
      srv.port,
      Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: text('abc'), fin: false }),
        encodeFrame({ opcode: OP.CONT, payload: Buffer.from([0x64, 0xf0, 0x9f]), fin: true }),
      ]),
      1007,
      'truncated UTF-8 at the end of a fragmented message',
    ));

  it('valid UTF-8 split inside code points across fragments is echoed intact', T, async () => {
    const p = await openWs(srv.port);
    try {
      const whole = text('aé€😀z'); // 1 + 2 + 3 + 4 + 1 bytes
      // a c3 | a9 e2 82 | ac f0 9f | 98 | 80 7a
      const cuts = [2, 5, 8, 9];
      const frags = [];
      let prev = 0;
      for (const c of [...cuts, whole.length]) {
        frags.push(whole.subarray(prev, c));
        prev = c;
      }
      p.write(
        Buffer.concat(
          frags.map((f, i) =>
            encodeFrame({ opcode: i === 0 ? OP.TEXT : OP.CONT, payload: f, fin: i === frags.length - 1 }),
          ),
        ),
      );
      const m = await p.readMessage(5000);
      assert.equal(m.type, OP.TEXT, 'echo is not a text message');
      assert.ok(m.payload.equals(whole), `echo differs: got ${hex(m.payload)} want ${hex(whole)}`);
    } finally {
      p.destroy();
    }
  });

  // ---- fragmentation and control frames ----

  it('fragmented ping (FIN=0) -> 1002', T, () =>
    serverViolation(srv.port, encodeFrame({ opcode: OP.PING, payload: text('p'), fin: false }), 1002, 'ping with FIN=0'));

  it('ping with a 126-byte payload -> 1002', T, () =>
    serverViolation(srv.port, encodeFrame({ opcode: OP.PING, payload: Buffer.alloc(126, 0x70) }), 1002, '126-byte ping'));

  it('ping with a 125-byte payload gets a pong', T, async () => {
    const p = await openWs(srv.port);
    try {
      const payload = crypto.randomBytes(125);
      p.write(encodeFrame({ opcode: OP.PING, payload }));
      const f = await p.nextFrame(5000, 'the pong');
      assert.equal(f.opcode, OP.PONG, `expected a pong, got ${frameStr(f)}`);
      assert.ok(f.payload.equals(payload), 'pong payload differs from the ping payload');
    } finally {
      p.destroy();
    }
  });

  it('continuation frame without a start -> 1002', T, () =>
    serverViolation(srv.port, encodeFrame({ opcode: OP.CONT, payload: text('x') }), 1002, 'lone continuation'));

  it('new text frame while a fragmented message is in progress -> 1002', T, () =>
    serverViolation(
      srv.port,
      Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: text('first '), fin: false }),
        encodeFrame({ opcode: OP.TEXT, payload: text('second'), fin: true }),
      ]),
      1002,
      'text frame inside a fragmented message',
    ));

  it('ping inside a fragmented message: pong arrives, message echoed whole', T, async () => {
    const p = await openWs(srv.port);
    try {
      p.write(
        Buffer.concat([
          encodeFrame({ opcode: OP.TEXT, payload: text('Hello, '), fin: false }),
          encodeFrame({ opcode: OP.PING, payload: text('ping!') }),
          encodeFrame({ opcode: OP.CONT, payload: text('world'), fin: false }),
          encodeFrame({ opcode: OP.CONT, payload: text('!'), fin: true }),
        ]),
      );
      const control = [];
      const m = await p.readMessage(5000, control);
      if (!control.some((f) => f.opcode === OP.PONG)) {
        // The pong may also come after the echo.
        const f = await p.nextFrame(3000, 'the pong');
        control.push(f);
      }
      const pong = control.find((f) => f.opcode === OP.PONG);
      assert.ok(pong, `no pong received; control frames: [${control.map(frameStr).join(', ')}]`);
      assert.equal(pong.payload.toString(), 'ping!', 'pong payload differs');
      assert.equal(m.type, OP.TEXT);
      assert.equal(m.payload.toString(), 'Hello, world!', 'fragmented message not echoed whole');
    } finally {
      p.destroy();
    }
  });

  // ---- close frames ----

  it('close frame with a 1-byte payload -> 1002', T, () =>
    serverViolation(srv.port, encodeFrame({ opcode: OP.CLOSE, payload: Buffer.from([0x03]) }), 1002, '1-byte close payload'));

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
    it(`close code ${code} -> 1002`, T, () =>
      serverViolation(srv.port, encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code) }), 1002, `close code ${code}`));
  }

  for (const code of [1000, 1001, 3000, 4999]) {
    it(`valid close code ${code} is echoed back`, T, async () => {
      const p = await openWs(srv.port);
      try {
        p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code, 'ok') }));
        const { close, before } = await p.untilClose(5000);
        assert.equal(before.filter((f) => f.opcode < 8).length, 0, 'unexpected data before the close reply');
        assert.equal(close.masked, false, 'the server close frame is masked');
        assert.equal(close.code, code, `expected the close reply to carry ${code}, got ${frameStr(close)}`);
        await p.waitTcpClose(5000, 'the server to close the TCP connection after the close handshake');
      } finally {
        p.destroy();
      }
    });
  }

  it('close frame without a code gets a close reply (no code or 1000)', T, async () => {
    const p = await openWs(srv.port);
    try {
      p.write(encodeFrame({ opcode: OP.CLOSE }));
      const { close } = await p.untilClose(5000);
      assert.ok(close.code === null || close.code === 1000, `expected an empty close or 1000, got ${frameStr(close)}`);
      await p.waitTcpClose(5000);
    } finally {
      p.destroy();
    }
  });

  it('close reason with invalid UTF-8 -> 1007', T, () =>
    serverViolation(
      srv.port,
      encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000, Buffer.from([0x62, 0x79, 0xff, 0xfe])) }),
      1007,
      'close reason with invalid UTF-8',
    ));

  it('data after the client close frame is discarded', T, async () => {
    const p = await openWs(srv.port);
    try {
      p.write(
        Buffer.concat([
          encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000) }),
          encodeFrame({ opcode: OP.TEXT, payload: text('after close') }),
        ]),
      );
      const { close, before } = await p.untilClose(5000);
      assert.equal(before.length, 0, `frames before the close reply: [${before.map(frameStr).join(', ')}]`);
      assert.equal(close.code, 1000, `expected close reply 1000, got ${frameStr(close)}`);
      await p.waitTcpClose(5000);
      const rest = [];
      let r;
      while ((r = parseFrame(p.buf))) {
        rest.push(r.frame);
        p.buf = r.rest;
      }
      assert.equal(rest.length, 0, `frames after the close reply: [${rest.map(frameStr).join(', ')}]`);
    } finally {
      p.destroy();
    }
  });

  // ---- the HTTP handshake ----

  it('slow-loris request times out while other clients are served', { timeout: 20000 }, async (t) => {
    const slowSrv = await startEchoServer();
    const slow = await connect(slowSrv.port);
    const started = Date.now();
    try {
      const req = Buffer.from(upgradeRequest(slowSrv.port, crypto.randomBytes(16).toString('base64')));
      let stop = false;
      const dribble = (async () => {
        for (let i = 0; i < req.length && !stop && !slow.closed && !slow.gotEnd; i++) {
          slow.write(req.subarray(i, i + 1));
          await sleep(1000);
        }
      })();
      // Meanwhile a normal client must be served by the same server.
      await sleep(1500);
      const p = await openWs(slowSrv.port);
      try {
        p.write(encodeFrame({ opcode: OP.TEXT, payload: text('still serving') }));
        const m = await p.readMessage(5000);
        assert.equal(m.payload.toString(), 'still serving', 'echo during the slow handshake differs');
      } finally {
        p.destroy();
      }
      try {
        await slow.waitTcpClose(15000 - (Date.now() - started), 'the server to drop the slow-loris connection');
      } finally {
        stop = true;
        await dribble;
      }
      const elapsed = Date.now() - started;
      const head = slow.buf.toString('latin1').split('\r\n')[0];
      t.diagnostic(`slow-loris dropped after ${elapsed} ms; response: ${JSON.stringify(head)}`);
      assert.ok(!/^HTTP\/1\.1 101/.test(head), 'the slow request got a 101');
      assert.ok(head === '' || /^HTTP\/1\.1 408/.test(head), `expected no response or 408, got ${JSON.stringify(head)}`);
      assertNoSanitizerReport(slowSrv);
    } finally {
      slow.destroy();
      slowSrv.kill();
    }
  });

  it('request head larger than 8192 bytes -> 431 or 400, then close', T, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const req = upgradeRequest(srv.port, key, {
      lines: [
        `Host: 127.0.0.1:${srv.port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
        `X-Padding: ${'a'.repeat(9000)}`,
      ],
    });
    const { res } = await rawRequest(srv.port, req, 'a 9 KB request head');
    assert.ok([431, 400].includes(res.status), `expected 431 or 400, got ${res.first}`);
  });

  it('missing Sec-WebSocket-Key -> 400', T, async () => {
    const req = upgradeRequest(srv.port, null, {
      lines: [`Host: 127.0.0.1:${srv.port}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13'],
    });
    const { res } = await rawRequest(srv.port, req, 'a request without Sec-WebSocket-Key');
    assert.equal(res.status, 400, `expected 400, got ${res.first}`);
  });

  for (const [name, key] of [
    ['15 bytes', crypto.randomBytes(15).toString('base64')],
    ['17 bytes', crypto.randomBytes(17).toString('base64')],
    ['not base64', '!!!!!!!!!!!!!!!!!!!!!!=='],
  ]) {
    it(`Sec-WebSocket-Key of ${name} -> 400`, T, async () => {
      const { res } = await rawRequest(srv.port, upgradeRequest(srv.port, key), `a key of ${name}`);
      assert.equal(res.status, 400, `expected 400 for key ${JSON.stringify(key)}, got ${res.first}`);
    });
  }

  it('POST -> 405', T, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const { res } = await rawRequest(srv.port, upgradeRequest(srv.port, key, { method: 'POST' }), 'a POST');
    assert.equal(res.status, 405, `expected 405, got ${res.first}`);
  });

  it('Sec-WebSocket-Version: 8 -> 426 with Sec-WebSocket-Version: 13', T, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const req = upgradeRequest(srv.port, key, {
      lines: [`Host: 127.0.0.1:${srv.port}`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 8'],
    });
    const { res } = await rawRequest(srv.port, req, 'version 8');
    assert.equal(res.status, 426, `expected 426, got ${res.first}`);
    assert.match(res.headers['sec-websocket-version'] ?? '', /\b13\b/, `426 without Sec-WebSocket-Version: 13: ${res.text}`);
  });

  for (const [name, upgrade, connection] of [
    ['"Connection: keep-alive, Upgrade"', 'websocket', 'keep-alive, Upgrade'],
    ['"Upgrade: WebSocket"', 'WebSocket', 'Upgrade'],
    ['"Connection: UPGRADE" and "upgrade: WEBSOCKET"', 'WEBSOCKET', 'UPGRADE'],
    ['"Connection: keep-alive,upgrade" (no space)', 'websocket', 'keep-alive,upgrade'],
  ]) {
    it(`header tokens ${name} -> 101`, T, async () => {
      const key = crypto.randomBytes(16).toString('base64');
      const req = upgradeRequest(srv.port, key, {
        lines: [
          `host: 127.0.0.1:${srv.port}`,
          `Upgrade: ${upgrade}`,
          `Connection: ${connection}`,
          `sec-websocket-key: ${key}`,
          'SEC-WEBSOCKET-VERSION: 13',
        ],
      });
      const { res, p } = await rawRequest(srv.port, req, name, { expectClose: false });
      try {
        assert.equal(res.status, 101, `expected 101, got: ${res.text}`);
        assert.equal(res.headers['sec-websocket-accept'], acceptFor(key), 'bad Sec-WebSocket-Accept');
        p.write(encodeFrame({ opcode: OP.TEXT, payload: text('tokens ok') }));
        const m = await p.readMessage(5000);
        assert.equal(m.payload.toString(), 'tokens ok');
      } finally {
        p.destroy();
      }
    });
  }

  // ---- HTTP versions (issue 9 item 15): coder/websocket answers 426 below 1.1 ----

  for (const [version, status] of [['HTTP/1.0', 426], ['HTTP/0.9', 426], ['HTTP/1.9', 505], ['HTTP/2.0', 505]]) {
    it(`an upgrade request in ${version} -> ${status}`, T, async () => {
      const key = crypto.randomBytes(16).toString('base64');
      const { res } = await rawRequest(srv.port, upgradeRequest(srv.port, key, { version }), `a ${version} request`);
      assert.equal(res.status, status, `expected ${status} for ${version}, got: ${res.text}`);
    });
  }

  // ---- requests with a body, repeated headers, control characters (issue 9 item 16) ----

  const stdLines = (port, key) => [
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];

  it('a GET upgrade with Content-Length and a ping as its body -> 400, and no pong', T, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const ping = encodeFrame({ opcode: OP.PING, payload: text('body') });
    const req = upgradeRequest(srv.port, key, { lines: [...stdLines(srv.port, key), `Content-Length: ${ping.length}`] });
    const p = await connect(srv.port);
    try {
      p.write(Buffer.concat([Buffer.from(req, 'latin1'), ping]));
      const res = await p.readHead(5000, 'the response to an upgrade with a body');
      assert.equal(res.status, 400, `expected 400 for a body, got: ${res.text}`);
      await p.waitTcpClose(5000, 'the server to close after its 400');
      assert.ok(!p.buf.includes(Buffer.from([0x8a])), `the body's ping was answered: ${hex(p.buf)}`);
    } finally {
      p.destroy();
    }
  });

  for (const [name, extra] of [
    ['Transfer-Encoding: chunked', ['Transfer-Encoding: chunked']],
    ['Content-Length: 5', ['Content-Length: 5']],
    ['Content-Length: x', ['Content-Length: x']],
    ['two Sec-WebSocket-Key headers', [`Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`]],
    ['two Sec-WebSocket-Version: 13 headers', ['Sec-WebSocket-Version: 13']],
  ]) {
    it(`${name} -> 400`, T, async () => {
      const key = crypto.randomBytes(16).toString('base64');
      const req = upgradeRequest(srv.port, key, { lines: [...stdLines(srv.port, key), ...extra] });
      const { res } = await rawRequest(srv.port, req, name);
      assert.equal(res.status, 400, `expected 400 for ${name}, got: ${res.text}`);
    });
  }

  it('Content-Length: 0 -> 101', T, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const req = upgradeRequest(srv.port, key, { lines: [...stdLines(srv.port, key), 'Content-Length: 0'] });
    const { res, p } = await rawRequest(srv.port, req, 'Content-Length: 0', { expectClose: false });
    p.destroy();
    assert.equal(res.status, 101, `expected 101, got: ${res.text}`);
  });

  for (const [name, ch] of [['ESC', '\x1b'], ['BEL', '\x07'], ['a bare CR', '\r'], ['TAB', '\t'], ['DEL', '\x7f']]) {
    it(`${name} in the request target -> 400`, T, async () => {
      const key = crypto.randomBytes(16).toString('base64');
      const req = upgradeRequest(srv.port, key, { target: `/a${ch}[31mb` });
      const { res } = await rawRequest(srv.port, req, `${name} in the target`);
      assert.equal(res.status, 400, `expected 400 for ${name} in the target, got: ${res.text}`);
    });
  }

  // ---- a peer that resets the connection (issue 9 item 14) ----

  it('a client that resets the connection mid-request -> WSC_EHANDSHAKE naming the reset', T, async () => {
    const own = await startEchoServer();
    try {
      const p = await connect(own.port);
      p.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
      await sleep(100);
      p.sock.resetAndDestroy();
      const m = await own.until(
        () => /^ACCEPT_FAIL (\S+) (.*)$/m.exec(own.stderr) ?? undefined,
        5000,
        'an ACCEPT_FAIL line',
        () => (own.exited ? 'echo_server exited' : null),
      );
      assert.equal(m[1], 'WSC_EHANDSHAKE', `wsc_accept's error for a reset: ${m[0]}`);
      assert.match(m[2], /reset/i, `the detail does not say the connection was reset: ${m[0]}`);
    } finally {
      own.kill();
      assertNoSanitizerReport(own);
    }
  });
});

// ===================================================================================
// Against our client
// ===================================================================================

const CLOSED_RE = /^CLOSED (.*) status=(-?\d+) reason=(.*)$/m;

// Runs read_client against a hand-written server. scenario(peer, request)
// drives the connection after the request head was read. Returns the child.
async function withRawServer(scenario, { args = [], path: urlPath = '/' } = {}) {
  const server = net.createServer();
  const conns = [];
  let child;
  server.on('connection', (s) => {
    conns.push(s);
    child?._wake();
  });
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', res);
  });
  const port = server.address().port;
  let peer;
  try {
    child = new Child('read_client', [`ws://127.0.0.1:${port}${urlPath}`, ...args]);
    const sock = await child.until(
      () => conns[0],
      5000,
      'read_client to connect',
      () => (child.exited ? 'read_client exited' : null),
    );
    peer = new Peer(sock);
    const req = await peer.readHead(5000, "read_client's upgrade request");
    await scenario(peer, req, child);
    return child;
  } finally {
    peer?.destroy();
    for (const s of conns) s.destroy();
    server.close();
    child?.kill();
  }
}

function response101(req, extra = []) {
  const key = req.headers['sec-websocket-key'];
  return ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`, ...extra, '', ''].join('\r\n');
}

async function expectClosedLine(child, errRe, what) {
  const ex = await child.waitExit(6000);
  assertNoSanitizerReport(child);
  assert.equal(ex.code, 0, `${what}: read_client exit status${child.describe()}`);
  const m = CLOSED_RE.exec(child.stdout);
  assert.ok(m, `${what}: no CLOSED line${child.describe()}`);
  assert.match(m[1], errRe, `${what}: unexpected read error in ${JSON.stringify(m[0])}`);
  return { err: m[1], status: Number(m[2]), reason: m[3] };
}

// Sends `bytes` after a good handshake; expects a masked close frame with
// `code` from the client and a CLOSED line with an error matching errRe.
async function clientViolation(bytes, code, errRe, what, opts = {}) {
  return withRawServer(async (p, req, child) => {
    p.write(response101(req));
    p.write(bytes);
    const { close } = await p.untilClose(5000);
    assert.equal(close.masked, true, `${what}: the client's close frame is not masked`);
    assert.equal(close.code, code, `${what}: expected close code ${code}, client sent ${frameStr(close)}`);
    // Server closes the TCP connection (no close reply: the client failed it).
    p.sock.end();
    await expectClosedLine(child, errRe, what);
  }, opts);
}

async function clientDialFails(respond, problemRe, what) {
  await withRawServer(async (p, req, child) => {
    await respond(p, req);
    const ex = await child.waitExit(6000);
    assertNoSanitizerReport(child);
    assert.equal(ex.code, 1, `${what}: read_client should exit 1${child.describe()}`);
    const m = /^DIAL_FAIL (.*)$/m.exec(child.stdout);
    assert.ok(m, `${what}: no DIAL_FAIL line${child.describe()}`);
    assert.match(m[1], /WSC_EHANDSHAKE/, `${what}: expected WSC_EHANDSHAKE in ${JSON.stringify(m[0])}`);
    assert.match(m[1], problemRe, `${what}: the detail does not name the problem: ${JSON.stringify(m[0])}`);
  });
}

const EPROTO = /WSC_EPROTO/;

describe('client: protocol violations', { concurrency: 8 }, () => {
  it('sends a well-formed upgrade request, echoes, and closes on a 1000 close', T, async () => {
    await withRawServer(async (p, req, child) => {
      assert.equal(req.method, 'GET', `request line: ${req.first}`);
      assert.equal(req.target, '/', `request line: ${req.first}`);
      assert.match(req.headers['upgrade'] ?? '', /^websocket$/i, `Upgrade header: ${req.text}`);
      assert.match(req.headers['connection'] ?? '', /\bupgrade\b/i, `Connection header: ${req.text}`);
      assert.equal(req.headers['sec-websocket-version'], '13', `Sec-WebSocket-Version: ${req.text}`);
      assert.ok(req.headers['host'], `no Host header: ${req.text}`);
      const key = req.headers['sec-websocket-key'] ?? '';
      assert.equal(Buffer.from(key, 'base64').length, 16, `Sec-WebSocket-Key ${JSON.stringify(key)} is not 16 bytes`);
      assert.equal(Buffer.from(key, 'base64').toString('base64'), key, `Sec-WebSocket-Key ${JSON.stringify(key)} is not canonical base64`);
      p.write(response101(req));
      for (const [op, payload] of [
        [OP.TEXT, text('hello κόσμε')],
        [OP.BINARY, crypto.randomBytes(300)],
        [OP.BINARY, crypto.randomBytes(20000)],
      ]) {
        p.write(encodeFrame({ opcode: op, payload, mask: false }));
        const f = await p.nextFrame(5000, 'the echo');
        assert.equal(f.masked, true, 'client frame not masked');
        assert.equal(f.opcode, op, `echo has the wrong opcode: ${frameStr(f)}`);
        const m = f.fin ? f.payload : (await p.readMessage(5000)).payload; // single frame expected
        assert.ok(m.equals(payload), `echo of ${payload.length} bytes differs`);
      }
      p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000), mask: false }));
      const { close } = await p.untilClose(5000);
      assert.equal(close.masked, true, "the client's close frame is not masked");
      assert.equal(close.code, 1000, `close reply: ${frameStr(close)}`);
      p.sock.end();
      const r = await expectClosedLine(child, /WSC_ECLOSED/, '1000 close');
      assert.equal(r.status, 1000);
    });
  });

  it('after failing, the client exits even if the server never answers or hangs up', T, async () => {
    await withRawServer(async (p, req, child) => {
      p.write(response101(req));
      p.write(encodeFrame({ opcode: OP.TEXT, payload: Buffer.from([0xff]), mask: false }));
      const { close } = await p.untilClose(5000);
      assert.equal(close.code, 1007, `expected 1007, got ${frameStr(close)}`);
      // No close reply, TCP left open: read_client must still finish.
      await expectClosedLine(child, EPROTO, 'unanswered close');
    });
  });

  it('masked server frame -> 1002', T, () =>
    clientViolation(encodeFrame({ opcode: OP.TEXT, payload: text('masked'), mask: true }), 1002, EPROTO, 'masked server frame'));

  it('bad UTF-8 text -> 1007', T, () =>
    clientViolation(encodeFrame({ opcode: OP.TEXT, payload: Buffer.from([0x61, 0xed, 0xa0, 0x80]), mask: false }), 1007, EPROTO, 'bad UTF-8'));

  it('bad UTF-8 in the second fragment -> 1007', T, () =>
    clientViolation(
      Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: text('ok '), fin: false, mask: false }),
        encodeFrame({ opcode: OP.CONT, payload: Buffer.from([0xc0, 0xaf]), mask: false }),
      ]),
      1007,
      EPROTO,
      'bad UTF-8 in a continuation',
    ));

  for (const op of [3, 0xb]) {
    it(`reserved opcode 0x${op.toString(16)} -> 1002`, T, () =>
      clientViolation(encodeFrame({ opcode: op, payload: text('x'), mask: false }), 1002, EPROTO, `opcode 0x${op.toString(16)}`));
  }

  for (const [name, bit] of [['RSV1', RSV1], ['RSV3', RSV3]]) {
    it(`${name} set -> 1002`, T, () =>
      clientViolation(encodeFrame({ opcode: OP.TEXT, payload: text('x'), rsv: bit, mask: false }), 1002, EPROTO, name));
  }

  it('close code 1005 -> 1002', T, () =>
    clientViolation(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1005), mask: false }), 1002, EPROTO, 'close code 1005'));

  it('ping with a 126-byte payload -> 1002', T, () =>
    clientViolation(encodeFrame({ opcode: OP.PING, payload: Buffer.alloc(126, 1), mask: false }), 1002, EPROTO, '126-byte ping'));

  it('message over --read-limit -> 1009', T, () =>
    clientViolation(encodeFrame({ opcode: OP.BINARY, payload: Buffer.alloc(200, 1), mask: false }), 1009, /WSC_EMSGSIZE/, 'read limit', {
      args: ['--read-limit', '100'],
    }));

  it('a server frame split into 1-byte TCP writes still works', T, async () => {
    await withRawServer(async (p, req, child) => {
      p.write(response101(req));
      for (const payload of [text('byte by byte'), crypto.randomBytes(130)]) {
        const op = payload.length > 125 ? OP.BINARY : OP.TEXT;
        await p.writeBytewise(encodeFrame({ opcode: op, payload, mask: false }), 1);
        const m = await p.readMessage(5000);
        assert.ok(m.payload.equals(payload), `echo of a bytewise-sent ${payload.length}-byte frame differs`);
      }
      await p.writeBytewise(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000), mask: false }), 1);
      const { close } = await p.untilClose(5000);
      assert.equal(close.code, 1000, `close reply: ${frameStr(close)}`);
      p.sock.end();
      const r = await expectClosedLine(child, /WSC_ECLOSED/, 'bytewise close');
      assert.equal(r.status, 1000);
    });
  });

  it('a 101 response split into 1-byte TCP writes still works', T, async () => {
    await withRawServer(async (p, req, child) => {
      await p.writeBytewise(Buffer.from(response101(req)), 1);
      p.write(encodeFrame({ opcode: OP.TEXT, payload: text('after slow head'), mask: false }));
      const m = await p.readMessage(5000);
      assert.equal(m.payload.toString(), 'after slow head');
      p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000), mask: false }));
      await p.untilClose(5000);
      p.sock.end();
      await expectClosedLine(child, /WSC_ECLOSED/, 'slow head close');
    });
  });

  it('server close 4000 "bye": client replies 4000 and reports status=4000 reason=bye', T, async () => {
    await withRawServer(async (p, req, child) => {
      p.write(response101(req));
      p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(4000, 'bye'), mask: false }));
      const { close } = await p.untilClose(5000);
      assert.equal(close.masked, true, "the client's close frame is not masked");
      assert.equal(close.code, 4000, `expected the client to echo 4000, got ${frameStr(close)}`);
      p.sock.end();
      const r = await expectClosedLine(child, /WSC_ECLOSED/, 'close 4000');
      assert.equal(r.status, 4000, `CLOSED line status`);
      assert.equal(r.reason, 'bye', `CLOSED line reason`);
    });
  });

  // ---- handshake failures ----

  it('wrong Sec-WebSocket-Accept -> DIAL_FAIL', T, () =>
    clientDialFails(
      (p) =>
        p.write(
          response101({ headers: { 'sec-websocket-key': crypto.randomBytes(16).toString('base64') } }),
        ),
      /accept/i,
      'wrong accept',
    ));

  it('the server resets the connection instead of answering -> DIAL_FAIL WSC_EHANDSHAKE', T, () =>
    clientDialFails((p) => p.sock.resetAndDestroy(), /reset by peer while waiting for the upgrade response/i, 'a reset'));

  it('an HTTP/1.0 101 -> DIAL_FAIL', T, () =>
    clientDialFails((p, req) => p.write(response101(req).replace('HTTP/1.1 101', 'HTTP/1.0 101')), /HTTP\/1\.0/, 'HTTP/1.0 101'));

  it('two Sec-WebSocket-Accept headers (both right) -> DIAL_FAIL', T, () =>
    clientDialFails(
      (p, req) => p.write(response101(req, [`Sec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'])}`])),
      /Sec-WebSocket-Accept/,
      'two accept headers',
    ));

  it('status 200 instead of 101 -> DIAL_FAIL', T, () =>
    clientDialFails(
      (p) => p.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'),
      /\b200\b/,
      'status 200',
    ));

  it('missing Upgrade header -> DIAL_FAIL', T, () =>
    clientDialFails(
      (p, req) =>
        p.write(
          ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'])}`, '', ''].join('\r\n'),
        ),
      /upgrade/i,
      'missing Upgrade',
    ));

  it('a subprotocol that was not offered -> DIAL_FAIL', T, () =>
    clientDialFails((p, req) => p.write(response101(req, ['Sec-WebSocket-Protocol: chat'])), /protocol/i, 'unoffered subprotocol'));

  it('an extension that was not offered -> DIAL_FAIL', T, () =>
    clientDialFails(
      (p, req) => p.write(response101(req, ['Sec-WebSocket-Extensions: permessage-deflate'])),
      /extension/i,
      'unoffered extension',
    ));
});

after(killAll);
