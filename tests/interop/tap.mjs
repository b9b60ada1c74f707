// SPDX-License-Identifier: MIT
// tap.mjs - looking at permessage-deflate on the wire, for the deflate suites.
//
//   startTap(t, port)     a TCP relay on 127.0.0.1 in front of a WebSocket
//                         server: every byte is forwarded unchanged and counted,
//                         both HTTP heads are kept, and the frames of both
//                         directions are parsed (unmasked) into messages, so a
//                         test can see RSV1, frame counts and the compressed
//                         size of each message.
//   StrictInflater        an independent DEFLATE decoder (RFC 1951, written
//                         here after zlib's puff.c) that inflates a message
//                         stream as RFC 7692 defines it and reports what zlib
//                         does not: the largest back-reference distance (to
//                         check *_max_window_bits, which zlib's inflate does
//                         not enforce when it has the output in memory), the
//                         block types and BFINAL bits, and whether a message
//                         refers to the previous ones (context takeover).
//   parseExtensions()     a Sec-WebSocket-Extensions value as [{name, params}].
//   jsonText(size, n)     the repetitive JSON text the C client's send-json
//                         step sends (same algorithm), for peers we drive here.
//   frame codec           encodeFrame/parseFrame, shared with the raw-socket
//                         suite.
//
// Everything a tap starts is stopped in t.after().

import net from 'node:net';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { once } from 'node:events';
import { withTimeout } from './lib.mjs';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };
export const RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10;
/** The 4 bytes RFC 7692 7.2.1 removes from the end of a compressed message. */
export const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// ---- frames ------------------------------------------------------------------

/** One frame. rsv: RSV1|RSV2|RSV3 bits; client frames are masked (mask: true). */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), fin = true, rsv = 0, mask = true }) {
  payload = Buffer.from(payload);
  const len = payload.length;
  const b0 = (fin ? 0x80 : 0) | rsv | opcode;
  let head;
  if (len < 126) {
    head = Buffer.from([b0, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** Parses one frame off the front of buf: {frame, rest} or null if incomplete. */
export function parseFrame(buf) {
  if (buf.length < 2) return null;
  const b0 = buf[0], b1 = buf[1];
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > 1n << 40n) throw new Error(`frame with 64-bit length ${big}`);
    len = Number(big);
    off = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  let key = null;
  if (masked) {
    if (buf.length < off + 4) return null;
    key = buf.subarray(off, off + 4);
    off += 4;
  }
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
  const frame = {
    fin: (b0 & 0x80) !== 0,
    rsv: b0 & 0x70,
    rsv1: (b0 & RSV1) !== 0,
    opcode: b0 & 0x0f,
    masked,
    payload,
    wireLen: off + len,
  };
  if (frame.opcode === OP.CLOSE) {
    frame.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
    frame.reason = payload.subarray(2).toString();
  }
  return { frame, rest: buf.subarray(off + len) };
}

export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code, 0);
  return Buffer.concat([b, Buffer.from(reason)]);
}

export function frameStr(f) {
  const names = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  let s = `${names[f.opcode] ?? 'op' + f.opcode}${f.rsv1 ? '+RSV1' : ''}${f.fin ? '' : '(FIN=0)'}` +
    `${f.masked ? '(masked)' : ''}`;
  if (f.opcode === OP.CLOSE) s += ` code=${f.code} reason=${JSON.stringify(f.reason)}`;
  else s += ` ${f.payload.length}B`;
  return s;
}

// ---- Sec-WebSocket-Extensions ------------------------------------------------

/**
 * "permessage-deflate; a; b=1, x" -> [{name:'permessage-deflate', params:{a:true, b:'1'}}, {name:'x', params:{}}].
 * Quoted values are unquoted. Throws on a repeated parameter.
 */
export function parseExtensions(value) {
  if (value === undefined || value === null || value.trim() === '') return [];
  return value.split(',').map((ext) => {
    const [name, ...ps] = ext.split(';').map((s) => s.trim());
    const params = {};
    for (const p of ps) {
      if (!p) continue;
      const i = p.indexOf('=');
      const k = (i < 0 ? p : p.slice(0, i)).trim();
      let v = i < 0 ? true : p.slice(i + 1).trim();
      if (typeof v === 'string' && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      if (k in params) throw new Error(`repeated parameter ${k} in ${JSON.stringify(value)}`);
      params[k] = v;
    }
    return { name, params };
  });
}

/**
 * What a negotiated permessage-deflate value means:
 * {serverNoTakeover, clientNoTakeover, serverBits, clientBits} (bits 15 when absent),
 * or null when the value is empty. Asserts a single permessage-deflate.
 */
export function pmdParams(value) {
  const exts = parseExtensions(value);
  if (exts.length === 0) return null;
  if (exts.length !== 1 || exts[0].name !== 'permessage-deflate') {
    throw new Error(`expected one permessage-deflate, got ${JSON.stringify(value)}`);
  }
  const p = exts[0].params;
  for (const k of Object.keys(p)) {
    if (!['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'].includes(k)) {
      throw new Error(`unknown parameter ${k} in ${JSON.stringify(value)}`);
    }
  }
  const bits = (v) => (v === undefined || v === true ? 15 : Number(v));
  return {
    serverNoTakeover: !!p.server_no_context_takeover,
    clientNoTakeover: !!p.client_no_context_takeover,
    serverBits: bits(p.server_max_window_bits),
    clientBits: bits(p.client_max_window_bits),
    raw: p,
  };
}

// ---- data --------------------------------------------------------------------

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];
const SKUS = ['BK-1042', 'PN-2210', 'MG-0007', 'TS-3141', 'CB-2718'];
const p2 = (n) => String(n).padStart(2, '0');

/** The text of the C client's send-json:SIZE for its msg-th send-json (0-based). */
export function jsonText(size, msg) {
  if (size < 2) return ' '.repeat(size);
  let s = '[';
  for (let k = 0; ; k++) {
    const id = msg * 1000 + k;
    const rec = `${k ? ',' : ''}{"id":${id},"user":"${NAMES[id % 7]}","active":${id % 3 ? 'true' : 'false'},` +
      `"score":${(id * 7919) % 1000},"items":[{"sku":"${SKUS[id % 5]}","qty":${id % 4 + 1}},` +
      `{"sku":"${SKUS[(id + 2) % 5]}","qty":${id % 9 + 1}}],"tags":["alpha","beta"],` +
      `"ts":"2024-05-${p2(id % 28 + 1)}T12:${p2(id % 60)}:${p2((id * 7) % 60)}Z"}`;
    if (rec.length > size - 1 - s.length) break;
    s += rec;
  }
  s += ']';
  return s + ' '.repeat(size - s.length);
}

/**
 * The bytes of the C client's send-random:SIZE steps (next(size), the PRNG
 * state carried across calls) and of send-random:SIZE:SEED[:PERIOD]
 * (next(size, seed, period)).
 */
export class RandomBytes {
  constructor() { this.x = 0x2545f491; }
  next(size, seed = 0, period = 0) {
    const b = Buffer.alloc(size);
    let x = seed ? seed >>> 0 : this.x;
    const n = period && period < size ? period : size;
    for (let i = 0; i < n; i++) {
      x = (x ^ (x << 13)) >>> 0;
      x = (x ^ (x >>> 17)) >>> 0;
      x = (x ^ (x << 5)) >>> 0;
      b[i] = (x >>> 11) & 0xff;
    }
    for (let i = n; i < size; i++) b[i] = b[i - n];
    if (!seed) this.x = x;
    return b;
  }
}

// ---- the tap -------------------------------------------------------------------

/** One direction of a tapped connection. */
export class TapDir {
  constructor(name) {
    this.name = name;
    this.bytes = 0;          // every byte, HTTP head included
    this.headBytes = 0;
    this.head = null;        // the HTTP head (text), once complete
    this.frames = [];
    this.messages = [];      // data messages: {opcode, rsv1, frames, wireBytes, data}
    this.controls = [];      // control frames
    this.error = null;
    this._buf = Buffer.alloc(0);
    this._cur = null;
    this._waiters = [];
  }

  feed(chunk) {
    this.bytes += chunk.length;
    this._buf = this._buf.length ? Buffer.concat([this._buf, chunk]) : chunk;
    try {
      if (this.head === null) {
        const i = this._buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        this.head = this._buf.subarray(0, i).toString('latin1');
        this.headBytes = i + 4;
        this._buf = this._buf.subarray(i + 4);
      }
      for (;;) {
        const r = parseFrame(this._buf);
        if (!r) break;
        this._buf = r.rest;
        this._frame(r.frame);
      }
    } catch (e) {
      this.error = e;
    } finally {
      for (const w of [...this._waiters]) w();
    }
  }

  _frame(f) {
    this.frames.push(f);
    if (f.opcode >= 8) {
      this.controls.push(f);
      return;
    }
    if (f.opcode !== OP.CONT) {
      if (this._cur) throw new Error(`${this.name}: new data frame inside a fragmented message`);
      this._cur = { opcode: f.opcode, rsv1: f.rsv1, frames: [], wireBytes: 0, parts: [] };
    } else if (!this._cur) {
      throw new Error(`${this.name}: continuation frame without a message`);
    }
    const m = this._cur;
    m.frames.push(f);
    m.wireBytes += f.wireLen;
    m.parts.push(f.payload);
    if (f.fin) {
      m.data = Buffer.concat(m.parts);
      delete m.parts;
      this._cur = null;
      this.messages.push(m);
    }
  }

  /** Resolves once n data messages have passed. */
  waitMessages(n, ms = 10000) {
    return withTimeout(new Promise((resolve) => {
      const check = () => {
        if (this.messages.length >= n) {
          this._waiters = this._waiters.filter((w) => w !== check);
          resolve(this.messages);
        }
      };
      this._waiters.push(check);
      check();
    }), ms, `${n} message(s) through the tap (${this.name})`);
  }

  describe() {
    return `${this.name}: ${this.bytes} bytes, messages [${this.messages.map((m) =>
      `${m.opcode === 1 ? 'text' : 'bin'}${m.rsv1 ? '+RSV1' : ''} ${m.data.length}B/${m.frames.length}fr`).join(', ')}]` +
      `${this.error ? ` parse error: ${this.error.message}` : ''}`;
  }
}

/** A tapped TCP connection: up (client -> server) and down (server -> client). */
export class TapConn {
  constructor() {
    this.up = new TapDir('client->server');
    this.down = new TapDir('server->client');
    this.closed = null;
  }
  /** The request's Sec-WebSocket-Extensions header lines, joined with ", ". */
  get offered() { return headerValue(this.up.head, 'sec-websocket-extensions'); }
  /** The response's Sec-WebSocket-Extensions value (undefined when absent). */
  get answered() { return headerValue(this.down.head, 'sec-websocket-extensions'); }
  describe() { return `${this.up.describe()}\n${this.down.describe()}\n--- response head\n${this.down.head}`; }
}

/** The value of a header in an HTTP head (all lines of that name joined with ", "). */
export function headerValue(head, name) {
  if (!head) return undefined;
  const vals = [];
  for (const l of head.split('\r\n').slice(1)) {
    const i = l.indexOf(':');
    if (i > 0 && l.slice(0, i).trim().toLowerCase() === name) vals.push(l.slice(i + 1).trim());
  }
  return vals.length ? vals.join(', ') : undefined;
}

/**
 * A counting, parsing relay 127.0.0.1:<tap.port> -> 127.0.0.1:targetPort.
 * tap.conns lists the connections in order; tap.nextConn() waits for one.
 */
export async function startTap(t, targetPort) {
  const conns = [];
  const waiting = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    const conn = new TapConn();
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    let pending = 2;
    conn.closed = new Promise((resolve) => {
      const done = () => { if (--pending === 0) resolve(); };
      client.on('close', () => { sockets.delete(client); upstream.destroy(); done(); });
      upstream.on('close', () => { sockets.delete(upstream); client.destroy(); done(); });
    });
    client.on('data', (d) => { conn.up.feed(d); upstream.write(d); });
    upstream.on('data', (d) => { conn.down.feed(d); client.write(d); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    conns.push(conn);
    const w = waiting.shift();
    if (w) w(conn);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  });
  let taken = 0;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    conns,
    /** The next connection not yet returned by nextConn(). */
    nextConn(ms = 10000) {
      const i = taken++;
      if (conns[i]) return Promise.resolve(conns[i]);
      return withTimeout(new Promise((r) => waiting.push(() => r(conns[i]))), ms, 'a connection through the tap');
    },
  };
}

// ---- inflating ---------------------------------------------------------------

/**
 * Inflates one compressed message with zlib on its own (no context): the
 * check that a message does not depend on earlier ones. Throws if it cannot.
 */
export function inflateAlone(data, windowBits = 15) {
  return zlib.inflateRawSync(Buffer.concat([data, TRAILER]), { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

class BitReader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;     // next byte
    this.bitbuf = 0;
    this.bitcnt = 0;
  }
  bits(n) {
    let val = this.bitbuf;
    while (this.bitcnt < n) {
      if (this.pos >= this.buf.length) throw new InflateError('input ends inside a block');
      val |= this.buf[this.pos++] << this.bitcnt;
      this.bitcnt += 8;
    }
    this.bitbuf = val >>> n;
    this.bitcnt -= n;
    return val & ((1 << n) - 1);
  }
  align() {
    this.bitbuf = 0;
    this.bitcnt = 0;
  }
  get atEnd() { return this.pos >= this.buf.length && this.bitcnt < 8; }
}

export class InflateError extends Error {}

function buildHuffman(lengths) {
  const count = new Uint16Array(16);
  for (const l of lengths) count[l]++;
  count[0] = 0;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + count[len];
  const symbol = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s]) symbol[offs[lengths[s]]++] = s;
  // over-subscription check, as puff does
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left <<= 1;
    left -= count[len];
    if (left < 0) throw new InflateError('over-subscribed Huffman code');
  }
  return { count, symbol };
}

function decodeSym(br, h) {
  let code = 0, first = 0, index = 0;
  for (let len = 1; len < 16; len++) {
    code |= br.bits(1);
    const count = h.count[len];
    if (code - count < first) return h.symbol[index + (code - first)];
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  throw new InflateError('invalid Huffman code');
}

const LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
  4097, 6145, 8193, 12289, 16385, 24577];
const DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
let FIXED = null;

function fixedTables() {
  if (!FIXED) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
    FIXED = { lit: buildHuffman(l), dist: buildHuffman(new Uint8Array(30).fill(5)) };
  }
  return FIXED;
}

/**
 * Inflates the messages of one direction of a permessage-deflate stream, one
 * call per message, like a receiver would: the 4-byte trailer is appended,
 * and with takeover the previous messages' output is the window.
 * inflate(data) -> {data: Buffer, maxDist, minDistFromStart, blocks: [{type, final}]}
 *   maxDist          the longest back-reference
 *   refsBefore       whether a reference reached before this message's start
 *                    (only possible with takeover)
 * Distances are checked against `windowBits` (a reference further back is an
 * InflateError), and, without takeover, against the message start.
 */
export class StrictInflater {
  constructor({ windowBits = 15, takeover = true, maxOutput = 64 * 1024 * 1024 } = {}) {
    this.windowBits = windowBits;
    this.takeover = takeover;
    this.maxOutput = maxOutput;
    this.window = Buffer.alloc(0);   // previous output (takeover), at most 32 KiB
    this.ended = false;               // a BFINAL block ended the stream
  }

  inflate(data) {
    const br = new BitReader(Buffer.concat([data, TRAILER]));
    const wsize = 1 << this.windowBits;
    const hist = this.takeover && !this.ended ? this.window : Buffer.alloc(0);
    this.ended = false;
    let out = Buffer.alloc(Math.max(1024, hist.length + data.length * 4));
    hist.copy(out, 0);
    let n = hist.length;
    const start = n;
    let maxDist = 0, refsBefore = false;
    const blocks = [];
    const need = (k) => {
      if (n + k > out.length) {
        if (n + k - start > this.maxOutput) throw new InflateError(`output over ${this.maxOutput} bytes`);
        const bigger = Buffer.alloc(Math.max(out.length * 2, n + k));
        out.copy(bigger, 0, 0, n);
        out = bigger;
      }
    };
    for (;;) {
      // Done after the appended empty stored block, or when the message
      // ended on a block boundary (then the trailer is not a block of its
      // own). An empty payload has no block: the trailer alone is then read
      // as zlib would, as the start of a stored block that never ends.
      if (br.atEnd || (blocks.length && br.pos * 8 - br.bitcnt >= data.length * 8)) break;
      const final = br.bits(1) === 1;
      const type = br.bits(2);
      blocks.push({ type: ['stored', 'fixed', 'dynamic', 'invalid'][type], final });
      if (type === 0) {
        br.align();
        if (br.pos + 4 > br.buf.length) throw new InflateError('input ends inside a stored block header');
        const len = br.buf.readUInt16LE(br.pos);
        const nlen = br.buf.readUInt16LE(br.pos + 2);
        if ((len ^ 0xffff) !== nlen) throw new InflateError('stored block length does not match its complement');
        br.pos += 4;
        if (br.pos + len > br.buf.length) throw new InflateError('input ends inside a stored block');
        need(len);
        br.buf.copy(out, n, br.pos, br.pos + len);
        n += len;
        br.pos += len;
      } else if (type === 3) {
        throw new InflateError('invalid block type 3');
      } else {
        let lit, dist;
        if (type === 1) {
          ({ lit, dist } = fixedTables());
        } else {
          const nlen = br.bits(5) + 257, ndist = br.bits(5) + 1, ncode = br.bits(4) + 4;
          if (nlen > 286 || ndist > 30) throw new InflateError('bad dynamic block counts');
          const cl = new Uint8Array(19);
          for (let i = 0; i < ncode; i++) cl[ORDER[i]] = br.bits(3);
          const clh = buildHuffman(cl);
          const lengths = new Uint8Array(nlen + ndist);
          for (let i = 0; i < nlen + ndist;) {
            const sym = decodeSym(br, clh);
            if (sym < 16) { lengths[i++] = sym; continue; }
            let len = 0, rep;
            if (sym === 16) {
              if (i === 0) throw new InflateError('repeat with no first length');
              len = lengths[i - 1];
              rep = 3 + br.bits(2);
            } else if (sym === 17) rep = 3 + br.bits(3);
            else rep = 11 + br.bits(7);
            if (i + rep > nlen + ndist) throw new InflateError('too many lengths');
            while (rep--) lengths[i++] = len;
          }
          if (lengths[256] === 0) throw new InflateError('no end-of-block code');
          lit = buildHuffman(lengths.subarray(0, nlen));
          dist = buildHuffman(lengths.subarray(nlen));
        }
        for (;;) {
          const sym = decodeSym(br, lit);
          if (sym < 256) { need(1); out[n++] = sym; continue; }
          if (sym === 256) break;
          const li = sym - 257;
          if (li >= 29) throw new InflateError('invalid length symbol');
          const len = LBASE[li] + br.bits(LEXT[li]);
          const ds = decodeSym(br, dist);
          if (ds >= 30) throw new InflateError('invalid distance symbol');
          const d = DBASE[ds] + br.bits(DEXT[ds]);
          if (d > wsize) throw new InflateError(`distance ${d} beyond the ${this.windowBits}-bit window (${wsize} bytes)`);
          if (d > n) throw new InflateError(`distance ${d} too far back (only ${n} bytes of history${this.takeover ? '' : ' in this message: no context takeover'})`);
          if (d > n - start) refsBefore = true;
          if (d > maxDist) maxDist = d;
          need(len);
          for (let i = 0; i < len; i++, n++) out[n] = out[n - d];
        }
      }
      if (final) { this.ended = true; break; }
    }
    const result = Buffer.from(out.subarray(start, n));
    if (this.takeover) {
      const keep = Math.min(32768, n);
      this.window = Buffer.from(out.subarray(n - keep, n));
    }
    return { data: result, maxDist, refsBefore, blocks };
  }
}
