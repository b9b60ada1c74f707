// SPDX-License-Identifier: MIT
// deflate_violations.test.mjs - permessage-deflate (RFC 7692) conformance with
// a raw-socket peer (node's net and zlib, frames made by hand), in the spirit
// of Autobahn's sections 12-13 and the RSV/UTF-8 cases of 3 and 6.
//
//   against our server ($WSC_BUILD/tests/progs/echo_server --compress ...):
//     RSV1 misuse (continuation, control frames, not negotiated) -> 1002,
//     undecodable data and compressed invalid UTF-8 -> 1007, a zip bomb
//     against the read limit -> 1009 quickly and without inflating it, every
//     DEFLATE block type, BFINAL, fragmented compressed messages, plain
//     messages inside a context-takeover stream, and the server's choice
//     among offers (invalid ones declined, not fatal), including 8-bit windows.
//   against our client ($WSC_BUILD/tests/progs/client --compress ...): every
//     invalid Sec-WebSocket-Extensions answer fails the dial with
//     WSC_EHANDSHAKE; valid ones (8-bit windows, no context takeover) are
//     honoured on the wire; the same receive-side violations as the server's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { once } from 'node:events';
import {
  startEchoServer, runClient, assertClientOk, assertClientFail, msgLines, closedLine, fnv1a, pattern, delay, MiB,
} from './lib.mjs';
import {
  OP, RSV1, RSV2, RSV3, TRAILER, encodeFrame, parseFrame, closePayload, frameStr, StrictInflater, pmdParams,
  jsonText, RandomBytes, headerValue,
} from './tap.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const T = { timeout: 20000 };
const acceptFor = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');
const text = (s) => Buffer.from(s, 'utf8');

// ---- compressing by hand -------------------------------------------------------

/** Raw DEFLATE of data ending with a sync flush, the 00 00 ff ff removed (RFC 7692 7.2.1). */
function deflateMsg(data, opts = {}) {
  const c = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, ...opts });
  assert.ok(c.subarray(-4).equals(TRAILER));
  return c.subarray(0, c.length - 4);
}

/** Raw DEFLATE ending with a BFINAL=1 block (Z_FINISH), nothing removed. */
const deflateFinal = (data, opts = {}) => zlib.deflateRawSync(data, opts);

/** A context-takeover compressor: each call is one message. */
class Compressor {
  constructor(opts = {}) {
    this.z = zlib.createDeflateRaw(opts);
    this.chunks = [];
    this.z.on('data', (c) => this.chunks.push(c));
  }
  async msg(data) {
    this.z.write(data);
    await new Promise((r) => this.z.flush(zlib.constants.Z_SYNC_FLUSH, r));
    const c = Buffer.concat(this.chunks.splice(0));
    assert.ok(c.subarray(-4).equals(TRAILER));
    return c.subarray(0, c.length - 4);
  }
  close() { this.z.close(); }
}

/**
 * A fixed-Huffman block whose first symbol is a match (length 3, distance 1):
 * it refers to data that does not exist.
 */
function fixedBlockMatchFirst() {
  const bits = [];
  const put = (v, n) => { for (let i = 0; i < n; i++) bits.push((v >> i) & 1); };          // LSB first
  const code = (v, n) => { for (let i = n - 1; i >= 0; i--) bits.push((v >> i) & 1); };    // Huffman: MSB first
  put(0, 1); put(1, 2);          // BFINAL=0, BTYPE=01
  code(1, 7);                    // symbol 257: length 3
  code(0, 5);                    // distance code 0: distance 1
  code(0, 7);                    // end of block
  put(0, 1); put(0, 2);          // an empty stored block header (the trailer completes it)
  while (bits.length % 8) bits.push(0);
  const out = Buffer.alloc(bits.length / 8);
  bits.forEach((b, i) => { out[i >> 3] |= b << (i & 7); });
  return out;
}

// ---- a raw peer ------------------------------------------------------------------

const sockets = new Set();
process.on('exit', () => { for (const s of sockets) s.destroy(); });

class Peer {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.seen = [];
    this.waiters = new Set();
    sockets.add(sock);
    sock.setNoDelay(true);
    const wake = () => { for (const w of [...this.waiters]) w(); };
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); wake(); });
    sock.on('end', () => { this.closed = true; wake(); });
    sock.on('close', () => { this.closed = true; sockets.delete(sock); wake(); });
    sock.on('error', () => { this.closed = true; wake(); });
  }
  describe() {
    return `; frames so far: [${this.seen.map(frameStr).join(', ')}]; unparsed: ${this.buf.length} bytes`;
  }
  until(fn, ms, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v;
        try { v = fn(); } catch (e) { done(); reject(e); return; }
        if (v !== undefined) { done(); resolve(v); return; }
        if (this.closed) { done(); reject(new Error(`the connection closed while waiting for ${what}${this.describe()}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${ms} ms waiting for ${what}${this.describe()}`)); }, ms);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }
  write(b) { if (!this.sock.destroyed) this.sock.write(b); }
  destroy() { this.sock.destroy(); }
  readHead(ms = 5000, what = 'an HTTP head') {
    return this.until(() => {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return undefined;
      const head = this.buf.subarray(0, i).toString('latin1');
      this.buf = this.buf.subarray(i + 4);
      const first = head.split('\r\n')[0];
      const m = /^HTTP\/1\.1 (\d{3})/.exec(first);
      return { head, first, status: m ? Number(m[1]) : null, header: (n) => headerValue(head, n.toLowerCase()) };
    }, ms, what);
  }
  nextFrame(ms = 5000, what = 'a frame') {
    return this.until(() => {
      const r = parseFrame(this.buf);
      if (!r) return undefined;
      this.buf = r.rest;
      this.seen.push(r.frame);
      return r.frame;
    }, ms, what);
  }
  async untilClose(ms = 5000) {
    const before = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()), 'a close frame');
      if (f.opcode === OP.CLOSE) return { close: f, before };
      before.push(f);
    }
  }
  /** The next data message: {opcode, rsv1, frames, data} (control frames go to `control`). */
  async readMessage(ms = 5000, control = []) {
    const deadline = Date.now() + ms;
    let m = null;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()), 'a data message');
      if (f.opcode >= 8) {
        if (f.opcode === OP.CLOSE) throw new Error(`got ${frameStr(f)} instead of a data message${this.describe()}`);
        control.push(f);
        continue;
      }
      if (!m) {
        assert.notEqual(f.opcode, OP.CONT, `message starts with a continuation frame${this.describe()}`);
        m = { opcode: f.opcode, rsv1: f.rsv1, frames: [], parts: [] };
      } else {
        assert.equal(f.opcode, OP.CONT, `new data frame inside a fragmented message${this.describe()}`);
      }
      m.frames.push(f);
      m.parts.push(f.payload);
      if (f.fin) { m.data = Buffer.concat(m.parts); return m; }
    }
  }
  waitTcpClose(ms, what = 'the TCP connection to close') {
    return this.until(() => (this.closed ? true : undefined), ms, what).catch((e) => {
      if (this.closed) return true;
      throw e;
    });
  }
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.off('error', reject); resolve(new Peer(s)); });
    s.once('error', reject);
  });
}

// ===================================================================================
// Against our server
// ===================================================================================

function upgradeRequest(port, key, extLines) {
  const lines = [`GET / HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
    ...[].concat(extLines ?? []).map((v) => `Sec-WebSocket-Extensions: ${v}`)];
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Upgrades with the given offer(s) (a string per header line); returns {p, res, ext}. */
async function openWs(port, offer = 'permessage-deflate; client_max_window_bits') {
  const p = await connect(port);
  const key = crypto.randomBytes(16).toString('base64');
  p.write(upgradeRequest(port, key, offer));
  const res = await p.readHead(5000, 'the 101 response');
  assert.equal(res.status, 101, `expected 101, got: ${res.head}`);
  assert.equal(res.header('sec-websocket-accept'), acceptFor(key));
  return { p, res, ext: res.header('sec-websocket-extensions') };
}

/** Expects a close frame with `code` and no data before it, answers it, expects the TCP close. */
async function expectServerFails(p, code, what) {
  const { close, before } = await p.untilClose(5000);
  const data = before.filter((f) => f.opcode < 8);
  assert.equal(data.length, 0, `${what}: the server sent data before closing: [${before.map(frameStr).join(', ')}]`);
  assert.equal(close.code, code, `${what}: expected close code ${code}, the server sent ${frameStr(close)}`);
  p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code) }));
  await p.waitTcpClose(6000, `${what}: the server to close the TCP connection`);
  return close;
}

async function serverViolation(port, frames, code, what, offer) {
  const { p, ext } = await openWs(port, offer);
  try {
    if (offer !== null) assert.ok(ext?.startsWith('permessage-deflate'), `${what}: compression not negotiated: ${ext}`);
    p.write(Buffer.concat([].concat(frames)));
    return await expectServerFails(p, code, what);
  } finally {
    p.destroy();
  }
}

/** Sends a message (frames) and returns the echo, decoded with inf if compressed. */
async function echo(p, frames, inf) {
  p.write(Buffer.concat([].concat(frames)));
  const m = await p.readMessage(5000);
  m.plain = m.rsv1 ? inf.inflate(m.data).data : m.data;
  return m;
}

const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/;
function assertNoSanitizerReport(proc) {
  const m = SANITIZER_RE.exec(proc.stderr);
  if (m) assert.fail(`${proc.cmd} printed a sanitizer report: ${proc.stderr.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
}

/** Whether a process runs with AddressSanitizer (its allocator keeps freed memory: RSS means less). */
function underAsan(pid) {
  return /libasan|libclang_rt\.asan/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

/** Peak resident set (VmHWM) of a process, in bytes. */
function vmHWM(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

describe('server: receiving compressed frames', () => {
  // node:test's t.after is per test; these servers live for the suite.
  const hooks = [];
  const fakeT = { after: (f) => hooks.push(f) };
  let tk, ntk, off, limit;
  before(async () => {
    tk = await startEchoServer(fakeT, ['--compress', 'takeover', '--read-limit', String(4 * MiB)]);
    ntk = await startEchoServer(fakeT, ['--compress', 'no-takeover', '--read-limit', String(4 * MiB)]);
    off = await startEchoServer(fakeT, ['--read-limit', String(4 * MiB)]);
    limit = await startEchoServer(fakeT, ['--compress', 'takeover', '--read-limit', String(MiB)]);
  });
  after(async () => {
    for (const f of hooks) await f();
    for (const s of [tk, ntk, off, limit]) if (s) assertNoSanitizerReport(s.proc);
  });

  it('sanity: compressed text and binary echo, replies decode', T, async () => {
    const { p, ext } = await openWs(tk.port);
    assert.equal(ext, 'permessage-deflate');
    const inf = new StrictInflater({ takeover: true });
    for (const data of [text(jsonText(3000, 0)), pattern(70000), text('short'), Buffer.alloc(0)]) {
      const op = data.length === 70000 ? OP.BINARY : OP.TEXT;
      const m = await echo(p, encodeFrame({ opcode: op, payload: deflateMsg(data), rsv: RSV1 }), inf);
      assert.equal(m.opcode, op);
      assert.ok(m.plain.equals(data), `echo of ${data.length} bytes`);
    }
    p.destroy();
  });

  it('RSV1 on a continuation frame -> 1002', T, () => {
    const c = deflateMsg(text(jsonText(2000, 1)));
    return serverViolation(tk.port, [
      encodeFrame({ opcode: OP.TEXT, payload: c.subarray(0, 100), rsv: RSV1, fin: false }),
      encodeFrame({ opcode: OP.CONT, payload: c.subarray(100), rsv: RSV1 }),
    ], 1002, 'RSV1 on the continuation of a compressed message');
  });

  it('RSV1 on a continuation frame of an uncompressed message -> 1002', T, () =>
    serverViolation(tk.port, [
      encodeFrame({ opcode: OP.TEXT, payload: text('plain '), fin: false }),
      encodeFrame({ opcode: OP.CONT, payload: deflateMsg(text('then compressed')), rsv: RSV1 }),
    ], 1002, 'RSV1 on a continuation frame'));

  for (const [name, op] of [['ping', OP.PING], ['pong', OP.PONG], ['close', OP.CLOSE]]) {
    it(`RSV1 on a ${name} -> 1002`, T, () =>
      serverViolation(tk.port, encodeFrame({ opcode: op, payload: op === OP.CLOSE ? closePayload(1000) : text('x'), rsv: RSV1 }),
        1002, `RSV1 on a ${name}`));
  }

  it('RSV1 on a ping between the fragments of a compressed message -> 1002', T, () => {
    const c = deflateMsg(text(jsonText(2000, 2)));
    return serverViolation(tk.port, [
      encodeFrame({ opcode: OP.TEXT, payload: c.subarray(0, 50), rsv: RSV1, fin: false }),
      encodeFrame({ opcode: OP.PING, payload: text('p'), rsv: RSV1 }),
      encodeFrame({ opcode: OP.CONT, payload: c.subarray(50) }),
    ], 1002, 'RSV1 on an interleaved ping');
  });

  it('RSV1 when the client offered nothing -> 1002', T, () =>
    serverViolation(tk.port, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(text('hello')), rsv: RSV1 }), 1002,
      'RSV1 without an offer', null));

  it('RSV1 when the server has compression disabled (offer declined) -> 1002', T, async () => {
    const { p, ext } = await openWs(off.port);
    try {
      assert.equal(ext, undefined, 'a disabled server answers no extension');
      p.write(encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(text('hello')), rsv: RSV1 }));
      await expectServerFails(p, 1002, 'RSV1 on a server with compression off');
    } finally {
      p.destroy();
    }
  });

  for (const [name, bit] of [['RSV2', RSV2], ['RSV3', RSV3], ['RSV1|RSV2', RSV1 | RSV2]]) {
    it(`${name} with compression negotiated -> 1002`, T, () =>
      serverViolation(tk.port, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(text('hello')), rsv: bit }), 1002, name));
  }

  const garbage = [
    ['block type 3', Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['stored block with a bad length complement', Buffer.from([0x00, 0x05, 0x00, 0x05, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65])],
    ['a match before any output', fixedBlockMatchFirst()],
    ['random bytes', crypto.createHash('sha256').update('wsc').digest()],
  ];
  for (const [name, bytes] of garbage) {
    it(`undecodable deflate data (${name}) -> 1007`, T, async () => {
      // make sure the sample really is invalid for zlib
      assert.throws(() => zlib.inflateRawSync(Buffer.concat([bytes, TRAILER]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }));
      await serverViolation(tk.port, encodeFrame({ opcode: OP.BINARY, payload: bytes, rsv: RSV1 }), 1007, `garbage: ${name}`);
    });
  }

  it('undecodable data in the second fragment -> 1007', T, () => {
    // the first fragment is valid and ends on a block boundary; the second starts a block of type 3
    const c = deflateMsg(pattern(5000));
    return serverViolation(ntk.port, [
      encodeFrame({ opcode: OP.BINARY, payload: c, rsv: RSV1, fin: false }),
      encodeFrame({ opcode: OP.CONT, payload: Buffer.from([0xff, 0xff, 0xff]) }),
    ], 1007, 'garbage in a continuation');
  });

  // A message whose DEFLATE data stops inside a block: the 4-byte trailer does
  // not end it. Accepting it would make the inflater take the trailer (and,
  // with context takeover, the next message) as the rest of the block.
  for (const [name, opts] of [['stored', { level: 0 }], ['dynamic', {}]]) {
    it(`truncated compressed data (ends inside a ${name} block) -> 1007`, T, () => {
      const c = deflateMsg(text(jsonText(3000, 9)), opts);
      return serverViolation(tk.port, encodeFrame({ opcode: OP.TEXT, payload: c.subarray(0, c.length >> 1), rsv: RSV1 }), 1007,
        `compressed data cut in half (${name})`);
    });
  }

  const badUtf8 = [
    ['surrogate ED A0 80', Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])],
    ['overlong C0 AF', Buffer.from([0x61, 0xc0, 0xaf])],
    ['truncated at the end', Buffer.concat([text('x'.repeat(1000)), Buffer.from([0xe2, 0x82])])],
  ];
  for (const [name, bytes] of badUtf8) {
    it(`compressed invalid UTF-8 text (${name}) -> 1007`, T, () =>
      serverViolation(tk.port, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(bytes), rsv: RSV1 }), 1007, `compressed bad UTF-8 (${name})`));
  }

  it('compressed invalid UTF-8 split across compressed fragments -> 1007; valid split code points echo', T, async () => {
    const good = text('aé€😀z'.repeat(200));
    const c = deflateMsg(good);
    const { p } = await openWs(ntk.port);
    const inf = new StrictInflater({ takeover: false });
    const cuts = [0, 7, 13, c.length];
    const m = await echo(p, [0, 1, 2].map((i) => encodeFrame({
      opcode: i ? OP.CONT : OP.TEXT, payload: c.subarray(cuts[i], cuts[i + 1]), rsv: i ? 0 : RSV1, fin: i === 2,
    })), inf);
    assert.ok(m.plain.equals(good));
    p.destroy();
    const bad = Buffer.concat([text('é'.repeat(300)), Buffer.from([0xed, 0xb0, 0x80])]);
    const cb = deflateMsg(bad);
    await serverViolation(ntk.port, [
      encodeFrame({ opcode: OP.TEXT, payload: cb.subarray(0, 5), rsv: RSV1, fin: false }),
      encodeFrame({ opcode: OP.CONT, payload: cb.subarray(5) }),
    ], 1007, 'bad UTF-8 in a fragmented compressed message');
  });

  it('compressed binary with bytes that are not UTF-8 is fine', T, async () => {
    const { p } = await openWs(tk.port);
    const data = Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80, 0xc0, 0xaf].concat(Array(500).fill(0xff)));
    const m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: deflateMsg(data), rsv: RSV1 }), new StrictInflater());
    assert.ok(m.plain.equals(data));
    p.destroy();
  });

  it('zip bomb: 10 MB of zeros in ~10 KB against --read-limit 1 MiB -> 1009 fast, not inflated, server healthy', T, async (t) => {
    const bomb = deflateMsg(Buffer.alloc(10 * 1000 * 1000));
    assert.ok(bomb.length < 12000, `bomb is ${bomb.length} bytes`);
    const hwm0 = vmHWM(limit.proc.child.pid);
    const t0 = Date.now();
    await serverViolation(limit.port, encodeFrame({ opcode: OP.BINARY, payload: bomb, rsv: RSV1 }), 1009, 'zip bomb');
    const ms = Date.now() - t0;
    assert.ok(ms < 1500, `the bomb took ${ms} ms to refuse`);
    const grew = vmHWM(limit.proc.child.pid) - hwm0;
    t.diagnostic(`refused in ${ms} ms; server peak RSS +${(grew / MiB).toFixed(1)} MiB`);
    if (underAsan(limit.proc.child.pid)) {
      // ASan's quarantine and shadow memory blur RSS: the 100 MB bomb below still checks it
      t.diagnostic('AddressSanitizer build: peak RSS not checked for this 10 MB bomb');
    } else {
      assert.ok(grew < 6 * MiB, `the server's peak RSS grew by ${(grew / MiB).toFixed(1)} MiB: it inflated past the limit`);
    }
    // a second client is served at once
    const { p } = await openWs(limit.port);
    const m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(text(jsonText(5000, 3))), rsv: RSV1 }), new StrictInflater());
    assert.equal(m.plain.toString(), jsonText(5000, 3));
    p.destroy();
  });

  it('zip bomb: 100 MB in ~100 KB over 50 fragments -> 1009 without inflating it', T, async (t) => {
    const bomb = deflateMsg(Buffer.alloc(100 * 1000 * 1000));
    const hwm0 = vmHWM(limit.proc.child.pid);
    const n = 50, step = Math.ceil(bomb.length / n);
    const frames = [];
    for (let i = 0; i < n; i++) {
      frames.push(encodeFrame({ opcode: i ? OP.CONT : OP.BINARY, payload: bomb.subarray(i * step, (i + 1) * step), rsv: i ? 0 : RSV1, fin: i === n - 1 }));
    }
    const t0 = Date.now();
    const { p } = await openWs(limit.port);
    try {
      p.write(Buffer.concat(frames));
      await expectServerFails(p, 1009, 'fragmented zip bomb');
    } finally {
      p.destroy();
    }
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    const grew = vmHWM(limit.proc.child.pid) - hwm0;
    t.diagnostic(`server peak RSS +${(grew / MiB).toFixed(1)} MiB`);
    const bound = underAsan(limit.proc.child.pid) ? 24 * MiB : 6 * MiB;
    assert.ok(grew < bound, `peak RSS grew by ${(grew / MiB).toFixed(1)} MiB: it inflated past the limit`);
  });

  it('a compressed message inflating to exactly the read limit is accepted; one byte more -> 1009', T, async () => {
    const { p } = await openWs(limit.port);
    const data = Buffer.alloc(MiB, 'a');
    const m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(data), rsv: RSV1 }), new StrictInflater());
    assert.ok(m.plain.equals(data));
    p.destroy();
    await serverViolation(limit.port, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(Buffer.alloc(MiB + 1, 'a')), rsv: RSV1 }), 1009, 'limit + 1');
  });

  for (const mode of ['takeover', 'no-takeover']) {
    it(`${mode}: a message ending with a BFINAL=1 block is understood, and later messages still work`, T, async () => {
      const srv = mode === 'takeover' ? tk : ntk;
      const { p, ext } = await openWs(srv.port);
      const inf = new StrictInflater({ takeover: !pmdParams(ext).serverNoTakeover });
      const a = text(jsonText(3000, 4)), b = text(jsonText(3000, 5)), c = text('after the final block '.repeat(20));
      let m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(a), rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(a));
      const fin = deflateFinal(b);
      assert.equal(new StrictInflater({ takeover: false }).inflate(fin).blocks.at(-1).final, true, 'sample ends with BFINAL');
      m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: fin, rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(b), `${ext}: the BFINAL message`);
      m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(c), rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(c), `${ext}: the message after the BFINAL one`);
      m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: deflateFinal(pattern(1000)), rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(pattern(1000)));
      m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: deflateFinal(pattern(1000)), rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(pattern(1000)), 'two BFINAL messages in a row');
      p.destroy();
    });
  }

  it('stored, fixed-Huffman and dynamic-Huffman blocks, and a mix in one message', T, async () => {
    const { p } = await openWs(tk.port);
    const inf = new StrictInflater();
    const data = text(jsonText(6000, 6));
    for (const [type, opts] of [['stored', { level: 0 }], ['fixed', { strategy: zlib.constants.Z_FIXED }], ['dynamic', {}]]) {
      const c = deflateMsg(data, opts);
      const blocks = new StrictInflater({ takeover: false }).inflate(c).blocks;
      assert.ok(blocks.some((b) => b.type === type), `sample has a ${type} block: ${JSON.stringify(blocks)}`);
      const m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: c, rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(data), `${type} blocks`);
    }
    // one message: a stored part, a fixed part, a dynamic part (three zlib streams' blocks concatenated
    // is not valid; build it with one stream and parameter changes)
    const z = zlib.createDeflateRaw({ level: 0 });
    const parts = [];
    z.on('data', (d) => parts.push(d));
    z.write(data.subarray(0, 2000));
    await new Promise((r) => z.flush(zlib.constants.Z_SYNC_FLUSH, r));
    await new Promise((r) => z.params(9, zlib.constants.Z_FIXED, r));
    z.write(data.subarray(2000, 4000));
    await new Promise((r) => z.flush(zlib.constants.Z_SYNC_FLUSH, r));
    await new Promise((r) => z.params(9, zlib.constants.Z_DEFAULT_STRATEGY, r));
    z.write(data.subarray(4000));
    await new Promise((r) => z.flush(zlib.constants.Z_SYNC_FLUSH, r));
    z.close();
    let c = Buffer.concat(parts);
    c = c.subarray(0, c.length - 4);
    const types = new Set(new StrictInflater({ takeover: false }).inflate(c).blocks.map((b) => b.type));
    assert.ok(types.has('stored') && types.has('fixed') && types.has('dynamic'), `mixed sample: ${[...types]}`);
    const m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: c, rsv: RSV1 }), inf);
    assert.ok(m.plain.equals(data), 'mixed block types');
    p.destroy();
  });

  it('a compressed message in 3 fragments (RSV1 on the first only, cut mid-symbol) and with a ping inside', T, async () => {
    const { p } = await openWs(tk.port);
    const inf = new StrictInflater();
    const data = text(jsonText(20000, 7));
    const c = deflateMsg(data);
    const cuts = [0, 1, Math.floor(c.length / 2) + 3, c.length];
    const frames = [0, 1, 2].map((i) => encodeFrame({ opcode: i ? OP.CONT : OP.TEXT, payload: c.subarray(cuts[i], cuts[i + 1]), rsv: i ? 0 : RSV1, fin: i === 2 }));
    let m = await echo(p, frames, inf);
    assert.ok(m.plain.equals(data), '3 fragments');
    // with a ping between fragments and an empty continuation
    const control = [];
    p.write(Buffer.concat([frames[0], encodeFrame({ opcode: OP.PING, payload: text('mid') }), frames[1],
      encodeFrame({ opcode: OP.CONT, payload: Buffer.alloc(0), fin: false }), frames[2]]));
    m = await p.readMessage(5000, control);
    assert.ok(inf.inflate(m.data).data.equals(data), 'with a ping inside');
    assert.ok(control.some((f) => f.opcode === OP.PONG && f.payload.toString() === 'mid'), 'the pong came back');
    p.destroy();
  });

  it('context takeover: messages refer to earlier ones, a plain message in between does not count', T, async () => {
    const { p, ext } = await openWs(tk.port);
    assert.equal(ext, 'permessage-deflate');
    const comp = new Compressor();
    const inf = new StrictInflater();
    const rnd = new RandomBytes();
    const r = rnd.next(3000, 99);
    const c1 = await comp.msg(r);
    let m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: c1, rsv: RSV1 }), inf);
    assert.ok(m.plain.equals(r));
    // plain message (not fed to our compressor): the server must not add it to its window
    const plainMsg = rnd.next(3000);
    m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: plainMsg }), inf);
    assert.ok(m.plain.equals(plainMsg));
    const c2 = await comp.msg(r); // refers to message 1
    assert.ok(c2.length < 100, `takeover sample: ${c2.length}`);
    m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: c2, rsv: RSV1 }), inf);
    assert.ok(m.plain.equals(r), 'the message referring to the one before the plain one');
    // also a compressed empty message in the stream
    const c3 = await comp.msg(Buffer.alloc(0));
    m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: c3, rsv: RSV1 }), inf);
    assert.equal(m.plain.length, 0);
    const c4 = await comp.msg(r);
    m = await echo(p, encodeFrame({ opcode: OP.BINARY, payload: c4, rsv: RSV1 }), inf);
    assert.ok(m.plain.equals(r), 'after an empty compressed message');
    comp.close();
    p.destroy();
  });

  for (const mode of ['takeover', 'no-takeover']) {
    it(`${mode}: an empty message from the writer API, between compressed ones, is a valid compressed message`, T, async () => {
      // RFC 7692 7.2.1: the data must end with an empty stored block (removed
      // 00 00 ff ff); for an empty message that leaves at least one byte.
      const { p, ext } = await openWs((mode === 'takeover' ? tk : ntk).port);
      const inf = new StrictInflater({ takeover: !pmdParams(ext).serverNoTakeover });
      const replies = [];
      for (const cmd of ['cmd:send 1000', 'cmd:fragmented 1 0', 'cmd:send 1000', 'cmd:fragmented 2 0', 'cmd:fragmented 1 600']) {
        p.write(encodeFrame({ opcode: OP.TEXT, payload: text(cmd) }));
        const m = await p.readMessage(5000);
        let r;
        try {
          r = m.rsv1 ? inf.inflate(m.data).data : m.data;
        } catch (e) {
          assert.fail(`the reply to ${cmd} (${m.rsv1 ? 'RSV1, ' : ''}${m.data.length} bytes on the wire) does not decode: ${e.message}`);
        }
        replies.push([cmd, m.rsv1, m.data.length, r.length]);
      }
      assert.deepEqual(replies.map((x) => x[3]), [1000, 0, 1000, 0, 600], JSON.stringify(replies));
      assert.ok(replies.filter((x) => x[1]).every((x) => x[2] > 0), `a compressed message with an empty payload: ${JSON.stringify(replies)}`);
      p.destroy();
    });
  }

  it('client_no_context_takeover offered: the server still decodes messages that are independent', T, async () => {
    const { p, ext } = await openWs(tk.port, 'permessage-deflate; client_no_context_takeover');
    assert.deepEqual(pmdParams(ext).raw, { client_no_context_takeover: true });
    const inf = new StrictInflater();
    for (let i = 0; i < 3; i++) {
      const d = text(jsonText(2000, 10));
      const m = await echo(p, encodeFrame({ opcode: OP.TEXT, payload: deflateMsg(d), rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(d));
    }
    p.destroy();
  });
});

// ---- the server's choice among offers ----------------------------------------------

describe('server: negotiation', () => {
  const hooks = [];
  const fakeT = { after: (f) => hooks.push(f) };
  let tk, ntk, off;
  before(async () => {
    tk = await startEchoServer(fakeT, ['--compress', 'takeover', '--read-limit', '-1']);
    ntk = await startEchoServer(fakeT, ['--compress', 'no-takeover', '--read-limit', '-1']);
    off = await startEchoServer(fakeT, ['--read-limit', '-1']);
  });
  after(async () => {
    for (const f of hooks) await f();
    for (const s of [tk, ntk, off]) if (s) assertNoSanitizerReport(s.proc);
  });

  // [offer header line(s), expected raw params on a takeover server (null: declined), on a no-takeover server]
  const NT = { server_no_context_takeover: true, client_no_context_takeover: true };
  const cases = [
    ['permessage-deflate', {}, NT],
    ['permessage-deflate; client_max_window_bits', {}, NT],
    ['permessage-deflate; client_max_window_bits=10', { client_max_window_bits: '10' }, { ...NT, client_max_window_bits: '10' }],
    ['permessage-deflate; server_max_window_bits=8', { server_max_window_bits: '8' }, { ...NT, server_max_window_bits: '8' }],
    ['permessage-deflate; server_max_window_bits=15; client_max_window_bits=15', { server_max_window_bits: '15', client_max_window_bits: '15' },
      { ...NT, server_max_window_bits: '15', client_max_window_bits: '15' }],
    ['permessage-deflate; server_no_context_takeover', { server_no_context_takeover: true }, NT],
    ['permessage-deflate; client_no_context_takeover', { client_no_context_takeover: true }, NT],
    ['permessage-deflate;server_no_context_takeover ;  client_no_context_takeover', NT, NT],
    ['permessage-deflate; client_max_window_bits="10"', { client_max_window_bits: '10' }, { ...NT, client_max_window_bits: '10' }],
    // several offers: the first acceptable one wins
    ['permessage-deflate; foo=1, permessage-deflate; server_no_context_takeover', { server_no_context_takeover: true }, NT],
    ['permessage-deflate; client_max_window_bits=7, permessage-deflate; client_max_window_bits=9', { client_max_window_bits: '9' }, { ...NT, client_max_window_bits: '9' }],
    [['permessage-deflate; server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=12'], { server_max_window_bits: '12' }, { ...NT, server_max_window_bits: '12' }],
    ['x-webkit-deflate-frame, permessage-deflate', {}, NT],
    [['x-unknown; a=1', 'permessage-deflate; client_max_window_bits=12'], { client_max_window_bits: '12' }, { ...NT, client_max_window_bits: '12' }],
    ['permessage-deflate; server_max_window_bits=10, permessage-deflate', { server_max_window_bits: '10' }, { ...NT, server_max_window_bits: '10' }],
    // declined: nothing acceptable, the handshake still succeeds
    ['permessage-deflate; client_max_window_bits=7', null, null],
    ['permessage-deflate; client_max_window_bits=16', null, null],
    ['permessage-deflate; server_max_window_bits=7', null, null],
    ['permessage-deflate; server_max_window_bits', null, null],
    ['permessage-deflate; server_max_window_bits=abc', null, null],
    ['permessage-deflate; server_max_window_bits=', null, null],
    ['permessage-deflate; client_max_window_bits=08', null, null],
    ['permessage-deflate; client_max_window_bits=1e1', null, null],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', null, null],
    ['permessage-deflate; client_max_window_bits; client_max_window_bits=10', null, null],
    ['permessage-deflate; server_no_context_takeover=1', null, null],
    ['permessage-deflate; client_no_context_takeover=true', null, null],
    ['permessage-deflate; foo', null, null],
    ['permessage-deflate; foo, permessage-deflate; bar=2', null, null],
    ['x-webkit-deflate-frame', null, null],
  ];
  for (const [offer, wantTk, wantNtk] of cases) {
    it(`offer ${JSON.stringify(offer)}`, T, async () => {
      for (const [srv, want, mode] of [[tk, wantTk, 'takeover'], [ntk, wantNtk, 'no-takeover'], [off, null, 'disabled']]) {
        const { p, ext } = await openWs(srv.port, offer);
        try {
          if (want === null) {
            assert.equal(ext, undefined, `${mode} server: the offer must be declined, got ${JSON.stringify(ext)}`);
          } else {
            assert.ok(ext !== undefined, `${mode} server: the offer must be accepted`);
            assert.deepEqual(pmdParams(ext).raw, want, `${mode} server answered ${JSON.stringify(ext)}`);
            assert.doesNotMatch(ext, /,/, 'one extension in the answer');
          }
          // the connection works either way (plain message echo)
          p.write(encodeFrame({ opcode: OP.TEXT, payload: text('ok') }));
          const m = await p.readMessage(5000);
          assert.equal(m.data.toString(), 'ok');
        } finally {
          p.destroy();
        }
      }
    });
  }

  it('server_max_window_bits=8: the server compresses within a 256-byte window (with and without takeover)', T, async () => {
    for (const [srv, takeover] of [[tk, true], [ntk, false]]) {
      const { p, ext } = await openWs(srv.port, 'permessage-deflate; server_max_window_bits=8');
      assert.equal(pmdParams(ext).serverBits, 8);
      const inf = new StrictInflater({ windowBits: 8, takeover });
      // JSON records (similar text 100-400 bytes back) and a random 1000-byte
      // block 4 times (repeats 1000 bytes back): a larger window would be used
      const block = new RandomBytes().next(1000, 5);
      const samples = [
        [text(jsonText(8000, 11)), true], [Buffer.concat([block, block, block, block]), false],
        [text(jsonText(8000, 12)), true], [text(jsonText(30000, 13)), true], [pattern(100000), false],
      ];
      let maxDist = 0;
      for (const [d, compressible] of samples) {
        p.write(encodeFrame({ opcode: OP.BINARY, payload: d }));
        const m = await p.readMessage(5000);
        if (!m.rsv1) {
          assert.ok(!compressible, `the reply to ${d.length} bytes of JSON should be compressed`);
          assert.ok(m.data.equals(d));
          continue;
        }
        let r;
        try {
          r = inf.inflate(m.data);
        } catch (e) {
          assert.fail(`reply to ${d.length} bytes (takeover=${takeover}): ${e.message}`);
        }
        assert.ok(r.data.equals(d));
        maxDist = Math.max(maxDist, r.maxDist);
      }
      assert.ok(maxDist > 0 && maxDist <= 256, `largest distance ${maxDist}`);
      p.destroy();
    }
  });

  it('client_max_window_bits=8: the server inflates our 8-bit-window data (zlib makes it with 9 bits, distances <= 250)', T, async () => {
    const { p, ext } = await openWs(tk.port, 'permessage-deflate; client_max_window_bits=8');
    assert.equal(pmdParams(ext).clientBits, 8);
    const comp = new Compressor({ windowBits: 8 });
    const inf = new StrictInflater();
    for (const d of [text(jsonText(8000, 13)), pattern(50000), text(jsonText(8000, 14))]) {
      const c = await comp.msg(d);
      const m = await echo(p, encodeFrame({ opcode: d.length === 50000 ? OP.BINARY : OP.TEXT, payload: c, rsv: RSV1 }), inf);
      assert.ok(m.plain.equals(d));
    }
    comp.close();
    p.destroy();
  });

  it('several Sec-WebSocket-Extensions lines and offers: one answer line', T, async () => {
    const { p, res } = await openWs(tk.port, ['x-a', 'permessage-deflate; client_max_window_bits=11, permessage-deflate', 'x-b']);
    const lines = res.head.split('\r\n').filter((l) => /^sec-websocket-extensions:/i.test(l));
    assert.equal(lines.length, 1, res.head);
    assert.deepEqual(pmdParams(res.header('sec-websocket-extensions')).raw, { client_max_window_bits: '11' });
    p.destroy();
  });
});

// ===================================================================================
// Against our client
// ===================================================================================

/**
 * A one-connection raw server for our client: answers the upgrade with
 * Sec-WebSocket-Extensions `ext` (a string, an array of lines, or null for
 * none) and hands the Peer to scenario(p, req). Runs `client URL args...`.
 */
async function withClient(ext, clientArgs, scenario = async () => {}) {
  const server = net.createServer();
  const conns = [];
  const waiting = [];
  server.on('connection', (s) => { conns.push(s); waiting.splice(0).forEach((w) => w()); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  const hooks = [];
  const t = { after: (f) => hooks.push(f) };
  let p;
  try {
    const run = runClient(t, `ws://127.0.0.1:${port}/`, clientArgs, { ms: 15000 });
    if (!conns.length) await Promise.race([new Promise((r) => waiting.push(r)), delay(5000)]);
    assert.ok(conns.length, 'the client did not connect');
    p = new Peer(conns[0]);
    const req = await p.readHead(5000, "the client's request");
    const key = headerValue(req.head, 'sec-websocket-key');
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`,
      ...(ext === null ? [] : [].concat(ext).map((v) => `Sec-WebSocket-Extensions: ${v}`))];
    p.write(lines.join('\r\n') + '\r\n\r\n');
    const result = await scenario(p, req);
    const proc = await run;
    assertNoSanitizerReport(proc);
    return { proc, req, result };
  } finally {
    p?.destroy();
    for (const s of conns) s.destroy();
    server.close();
    for (const f of hooks) await f();
  }
}

/** Reads our client's messages until its close frame, answers it; returns the messages. */
async function collectUntilClose(p) {
  const msgs = [];
  const control = [];
  for (;;) {
    const f = await p.nextFrame(10000, 'a frame from the client');
    if (f.opcode === OP.CLOSE) {
      p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(f.code ?? 1000), mask: false }));
      p.sock.end();
      return { msgs, close: f, control };
    }
    if (f.opcode >= 8) { control.push(f); continue; }
    if (f.opcode !== OP.CONT) msgs.push({ opcode: f.opcode, rsv1: f.rsv1, frames: [f], parts: [f.payload] });
    else { msgs.at(-1).frames.push(f); msgs.at(-1).parts.push(f.payload); }
    if (f.fin) msgs.at(-1).data = Buffer.concat(msgs.at(-1).parts);
  }
}

describe('client: the server\'s answer', () => {
  const bad = [
    ['an extension we did not offer', 'x-unknown'],
    ['an extension we did not offer, besides permessage-deflate', 'permessage-deflate, x-unknown'],
    ['permessage-deflate twice in one header', 'permessage-deflate, permessage-deflate'],
    ['permessage-deflate twice in two headers', ['permessage-deflate', 'permessage-deflate; server_no_context_takeover']],
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['an unknown parameter with a value', 'permessage-deflate; foo=1'],
    ['a duplicate parameter', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
    ['a duplicate window parameter', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10'],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
    ['server_max_window_bits=abc', 'permessage-deflate; server_max_window_bits=abc'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['server_max_window_bits=-9', 'permessage-deflate; server_max_window_bits=-9'],
    ['client_max_window_bits=7', 'permessage-deflate; client_max_window_bits=7'],
    ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
    ['client_max_window_bits=x', 'permessage-deflate; client_max_window_bits=x'],
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits'],
    ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1'],
    ['a value on client_no_context_takeover', 'permessage-deflate; client_no_context_takeover=true'],
  ];
  for (const mode of ['takeover', 'no-takeover']) {
    for (const [i, [name, ext]] of bad.entries()) {
      it(`${mode}: ${name} -> the dial fails with WSC_EHANDSHAKE`, T, async () => {
        // The server hangs up after its answer (but for the first case): the
        // client then need not wait for the body it looks for after a failed
        // handshake (up to 1 s).
        const { proc } = await withClient(ext, ['--compress', mode, 'send-text:x', 'close:1000:'], async (p) => {
          if (i > 0) p.sock.end();
        });
        assertClientFail(proc, 'dial', 'WSC_EHANDSHAKE');
        assert.match(proc.stdout, /extension|permessage-deflate|window|parameter/i, `the detail should say what was wrong\n${proc.describe()}`);
      });
    }
  }

  it('compression disabled: an answer with permessage-deflate fails the dial', T, async () => {
    for (const ext of ['permessage-deflate', 'permessage-deflate; server_no_context_takeover']) {
      const { proc, req } = await withClient(ext, ['send-text:x', 'close:1000:']);
      assert.equal(headerValue(req.head, 'sec-websocket-extensions'), undefined, 'no offer when disabled');
      assertClientFail(proc, 'dial', 'WSC_EHANDSHAKE');
    }
  });

  const good = [
    ['takeover', 'permessage-deflate', { sNT: false, cNT: false, c: 15 }],
    ['takeover', 'permessage-deflate; server_no_context_takeover', { sNT: true, cNT: false, c: 15 }],
    ['takeover', 'permessage-deflate; client_no_context_takeover', { sNT: false, cNT: true, c: 15 }],
    ['takeover', 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8', { sNT: false, cNT: false, c: 8, s: 8 }],
    ['takeover', 'permessage-deflate; client_max_window_bits=9', { sNT: false, cNT: false, c: 9 }],
    ['takeover', 'permessage-deflate; client_max_window_bits=11; server_max_window_bits=13', { sNT: false, cNT: false, c: 11, s: 13 }],
    ['takeover', 'permessage-deflate ; client_max_window_bits = 10 ;server_no_context_takeover', { sNT: true, cNT: false, c: 10 }],
    ['takeover', 'permessage-deflate; client_max_window_bits="10"', { sNT: false, cNT: false, c: 10 }],
    ['no-takeover', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover', { sNT: true, cNT: true, c: 15 }],
    ['no-takeover', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8',
      { sNT: true, cNT: true, c: 8, s: 8 }],
    ['no-takeover', 'permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=12', { sNT: true, cNT: true, c: 12 }],
  ];
  for (const [mode, ext, w] of good) {
    it(`${mode}: ${JSON.stringify(ext)} is accepted and honoured on the wire`, T, async () => {
      // the repeated message: a 50-byte random block 4 times, compressible
      // on its own, its repeat within reach of an 8-bit window
      const steps = ['send-json:6000', 'send-random:200:3:50', 'send-random:200:3:50', 'send-bin:20000', 'send-frag:3:5000',
        'read', 'read', 'read', 'read', 'close:1000:'];
      const rnd = new RandomBytes();
      const sent = [text(jsonText(6000, 0)), rnd.next(200, 3, 50), rnd.next(200, 3, 50), pattern(20000), pattern(5000)];
      const block = new RandomBytes().next(600, 8);
      const fromServer = [text(jsonText(9000, 20)), Buffer.concat([block, block, block]), text('tiny'), pattern(30000)];
      const { proc, result } = await withClient(ext, ['--compress', mode, '--threshold', '100', ...steps], async (p) => {
        // the server's messages: compressed within its window, with takeover unless it said otherwise
        const comp = w.sNT ? null : new Compressor({ windowBits: Math.max(9, w.s ?? 15) });
        for (const d of fromServer) {
          const c = comp ? await comp.msg(d) : deflateMsg(d, { windowBits: Math.max(9, w.s ?? 15) });
          p.write(encodeFrame({ opcode: OP.BINARY, payload: c, rsv: RSV1, mask: false }));
        }
        comp?.close();
        return collectUntilClose(p);
      });
      assertClientOk(proc);
      assert.equal(proc.stdout.match(/^CONNECTED subprotocol=\S* extensions=(.*)$/m)?.[1], ext, 'wsc_extensions() is the answer as sent');
      assert.deepEqual(msgLines(proc).map((m) => m.fnv), fromServer.map((d) => fnv1a(d)), 'the server\'s compressed messages were read');
      const { msgs, close } = result;
      assert.equal(close.code, 1000);
      assert.equal(msgs.length, sent.length);
      const takeover = mode === 'takeover' && !w.cNT;
      const inf = new StrictInflater({ windowBits: w.c, takeover });
      for (const [i, m] of msgs.entries()) {
        if (!m.rsv1 && i === 3 && w.c < 10) {
          // pattern() repeats every 251 bytes: out of reach of a 256/512-byte
          // window, so it may go out as it is
          assert.ok(m.data.equals(sent[i]), 'the uncompressed message');
          continue;
        }
        assert.ok(m.rsv1, `message ${i} compressed (threshold 100)`);
        assert.ok(m.frames.slice(1).every((f) => !f.rsv1), `message ${i}: RSV1 on a continuation frame`);
        let r;
        try {
          r = inf.inflate(m.data);
        } catch (e) {
          assert.fail(`message ${i}: ${e.message} (window ${w.c} bits, takeover ${takeover})`);
        }
        assert.ok(r.data.equals(sent[i]), `message ${i} decodes to what was sent`);
        assert.ok(r.maxDist <= 2 ** w.c, `message ${i}: distance ${r.maxDist} beyond ${w.c} bits`);
      }
      // the repeated 200-byte message: almost free with takeover, not without
      if (takeover) assert.ok(msgs[2].data.length < msgs[1].data.length / 4, `repeat with takeover: ${msgs[2].data.length} vs ${msgs[1].data.length} bytes`);
      else assert.ok(msgs[2].data.length > msgs[1].data.length * 0.9, `repeat without takeover: ${msgs[2].data.length} vs ${msgs[1].data.length} bytes`);
    });
  }

  for (const mode of ['takeover', 'no-takeover']) {
    it(`${mode}: an empty message from the writer API, between compressed ones, is a valid compressed message`, T, async () => {
      const ext = mode === 'takeover' ? 'permessage-deflate' : 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
      const { proc, result } = await withClient(ext, ['--compress', mode, 'send-json:1000', 'send-frag:1:0', 'send-json:1000',
        'send-frag:3:0', 'send-json:1000', 'close:1000:'], (p) => collectUntilClose(p));
      assertClientOk(proc);
      const inf = new StrictInflater({ takeover: mode === 'takeover' });
      const lens = result.msgs.map((m, i) => {
        assert.ok(m.rsv1, `message ${i} is compressed`);
        assert.ok(m.data.length > 0, `message ${i}: RSV1 with an empty payload (not a DEFLATE block)`);
        try {
          return inf.inflate(m.data).data.length;
        } catch (e) {
          return assert.fail(`message ${i} (${m.data.length} bytes) does not decode: ${e.message}`);
        }
      });
      assert.deepEqual(lens, [1000, 0, 1000, 0, 1000]);
    });
  }

  it('no-takeover client, server keeps its context (no server_no_context_takeover in the answer): if accepted, honoured', T, async () => {
    const block = new RandomBytes().next(500, 4);
    const { proc, result } = await withClient('permessage-deflate', ['--compress', 'no-takeover', '--threshold', '100',
      'send-random:2000:3:100', 'send-random:2000:3:100', 'read', 'read', 'close:1000:'], async (p) => {
      const comp = new Compressor();
      for (let i = 0; i < 2; i++) p.write(encodeFrame({ opcode: OP.BINARY, payload: await comp.msg(block), rsv: RSV1, mask: false }));
      comp.close();
      return collectUntilClose(p).catch((e) => ({ error: e }));
    });
    if (/^FAIL dial/m.test(proc.stdout)) {
      // RFC 7692 7.1.1.1: the server must include server_no_context_takeover; refusing is correct too
      assertClientFail(proc, 'dial', 'WSC_EHANDSHAKE');
      return;
    }
    assertClientOk(proc);
    assert.deepEqual(msgLines(proc).map((m) => m.len), [500, 500], 'the second message refers to the first: the client kept its window');
    const inf = new StrictInflater({ takeover: false });
    assert.equal(result.msgs.length, 2);
    for (const m of result.msgs) {
      assert.ok(m.rsv1, 'compressed');
      assert.doesNotThrow(() => inf.inflate(m.data), 'our messages stay independent');
    }
  });
});

describe('client: receiving compressed frames', () => {
  /** Our client, compression `mode`, reads until the close; the server sends `bytes`. Returns the close frame and output. */
  async function clientReceives(ext, bytes, { mode = 'takeover', args = [] } = {}) {
    return withClient(ext, ['--compress', mode, ...args, 'read-until-close'], async (p) => {
      p.write(Buffer.concat([].concat(bytes)));
      const { close } = await p.untilClose(5000);
      p.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(close.code ?? 1000), mask: false }));
      p.sock.end();
      return close;
    });
  }
  const srvFrame = (o) => encodeFrame({ mask: false, ...o });

  it('RSV1 on a continuation frame -> 1002', T, async () => {
    const c = deflateMsg(text(jsonText(2000, 1)));
    const { result, proc } = await clientReceives('permessage-deflate', [
      srvFrame({ opcode: OP.TEXT, payload: c.subarray(0, 100), rsv: RSV1, fin: false }),
      srvFrame({ opcode: OP.CONT, payload: c.subarray(100), rsv: RSV1 }),
    ]);
    assert.equal(result.code, 1002, proc.describe());
    assert.equal(closedLine(proc.stdout)?.err, 'WSC_EPROTO');
  });

  it('RSV1 on a ping -> 1002', T, async () => {
    const { result, proc } = await clientReceives('permessage-deflate', srvFrame({ opcode: OP.PING, payload: text('x'), rsv: RSV1 }));
    assert.equal(result.code, 1002, proc.describe());
  });

  it('RSV1 when compression was not negotiated -> 1002', T, async () => {
    const { result, proc } = await clientReceives(null, srvFrame({ opcode: OP.TEXT, payload: deflateMsg(text('hello')), rsv: RSV1 }));
    assert.equal(result.code, 1002, proc.describe());
    const r2 = await clientReceives(null, srvFrame({ opcode: OP.TEXT, payload: deflateMsg(text('hello')), rsv: RSV1 }), { mode: 'disabled' });
    assert.equal(r2.result.code, 1002, r2.proc.describe());
  });

  it('undecodable data -> 1007; compressed invalid UTF-8 -> 1007', T, async () => {
    let r = await clientReceives('permessage-deflate', srvFrame({ opcode: OP.BINARY, payload: Buffer.from([0xff, 0xff, 0xff]), rsv: RSV1 }));
    assert.equal(r.result.code, 1007, r.proc.describe());
    r = await clientReceives('permessage-deflate', srvFrame({ opcode: OP.TEXT, payload: deflateMsg(Buffer.from([0x61, 0xed, 0xa0, 0x80])), rsv: RSV1 }));
    assert.equal(r.result.code, 1007, r.proc.describe());
  });

  it('zip bomb against --read-limit 1 MiB -> 1009 quickly', T, async () => {
    const t0 = Date.now();
    const r = await clientReceives('permessage-deflate', srvFrame({ opcode: OP.BINARY, payload: deflateMsg(Buffer.alloc(10 * 1000 * 1000)), rsv: RSV1 }),
      { args: ['--read-limit', String(MiB)] });
    assert.equal(r.result.code, 1009, r.proc.describe());
    assert.equal(closedLine(r.proc.stdout)?.err, 'WSC_EMSGSIZE');
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  });

  it('BFINAL messages, stored/fixed/dynamic blocks, fragments, a plain message in a takeover stream', T, async () => {
    const data = text(jsonText(5000, 30));
    const comp = new Compressor();
    const a = await comp.msg(data);
    const b = await comp.msg(data); // refers to a
    comp.close();
    const cF = deflateMsg(data);
    const frames = [
      srvFrame({ opcode: OP.TEXT, payload: a, rsv: RSV1 }),
      srvFrame({ opcode: OP.TEXT, payload: text('plain in between') }),
      srvFrame({ opcode: OP.TEXT, payload: b, rsv: RSV1 }),
      srvFrame({ opcode: OP.TEXT, payload: deflateFinal(data), rsv: RSV1 }),               // BFINAL, fresh stream
      srvFrame({ opcode: OP.TEXT, payload: deflateMsg(data, { level: 0 }), rsv: RSV1 }),  // stored
      srvFrame({ opcode: OP.TEXT, payload: deflateMsg(data, { strategy: zlib.constants.Z_FIXED }), rsv: RSV1 }),
      srvFrame({ opcode: OP.TEXT, payload: cF.subarray(0, 3), rsv: RSV1, fin: false }),
      srvFrame({ opcode: OP.PING, payload: text('in') }),
      srvFrame({ opcode: OP.CONT, payload: cF.subarray(3, 200), fin: false }),
      srvFrame({ opcode: OP.CONT, payload: cF.subarray(200) }),
      srvFrame({ opcode: OP.CLOSE, payload: closePayload(1000) }),
    ];
    const { proc } = await withClient('permessage-deflate', ['--compress', 'takeover', 'read-until-close'], async (p) => {
      p.write(Buffer.concat(frames));
      const { close, before } = await p.untilClose(5000);
      p.sock.end();
      return { close, before };
    });
    assertClientOk(proc);
    const want = [data, text('plain in between'), data, data, data, data, data];
    assert.deepEqual(msgLines(proc).map((m) => [m.len, m.fnv]), want.map((d) => [d.length, fnv1a(d)]), proc.describe());
  });
});
