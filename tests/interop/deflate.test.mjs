// SPDX-License-Identifier: MIT
// deflate.test.mjs - permessage-deflate (RFC 7692) against real peers.
//
//   our client  <-> npm ws server      every parameter ws can answer with
//   npm ws client <-> our echo_server  the offers ws can make, both server modes
//   our client  <-> python3-websockets server (its default 12-bit windows, and others)
//   python3-websockets client <-> our echo_server
//   ours <-> ours                      3 x 3 modes, thresholds, the read limit
//
// Every connection goes through a tap (tap.mjs) that parses the frames on the
// wire, so besides the echoes each test checks what RFC 7692 requires on the
// wire: RSV1 exactly on compressed messages (first frame only), messages
// under the threshold sent plain, the compressed bytes decoding (with an
// independent inflater that enforces the negotiated window size and, without
// context takeover, that a message does not refer to earlier ones) to what
// was sent, and real savings: compressible messages take far fewer bytes and,
// with context takeover, a repeated message costs almost nothing.
//
// ws's perMessageDeflate options map to the parameters as follows (see
// acceptAsServer in node_modules/ws/lib/permessage-deflate.js): the matrix
// uses serverNoContextTakeover true or unset (ws's default, false); an
// explicit false makes ws refuse any offer containing
// server_no_context_takeover with 400, which has its own test.
//
// The ws server matrix is the full product (128 runs, about 45 s: `make
// deflate-full`); WSC_DEFLATE_PAIRWISE=1 runs a pairwise-covering subset of
// it (20 runs), as `make test` does.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import zlib from 'node:zlib';
import { WebSocket, WebSocketServer } from 'ws';
import {
  MiB, pattern, fnv1a, startEchoServer, runClient, assertClientOk, assertClientFail, msgLines,
  startProc, PYTHON, PY_PRELUDE, withTimeout, WsPeer, serverClosed, closedLine, nLines,
} from './lib.mjs';
import { startTap, StrictInflater, pmdParams, jsonText, RandomBytes, inflateAlone } from './tap.mjs';

const T = { timeout: 30000 };
const DEFAULT_THRESHOLD = { takeover: 128, 'no-takeover': 512 };
const MODES = ['disabled', 'takeover', 'no-takeover'];

// ---- what a client run sends -------------------------------------------------

/**
 * The scenario our client runs: a list of items, each one step sending a
 * message (with the bytes it sends and whether wsc must compress it), then
 * either 'expect-echo' or 'read' (a server command whose reply is described).
 *   threshold   the client's threshold (what the steps are sized around)
 *   repeat      {size, period} of the message sent twice (context takeover): a
 *               random block of `period` bytes repeated, so that it compresses
 *               on its own (and is sent compressed) and its repeat, with
 *               context takeover, refers to the whole first message
 *   big         size of the large binary message
 *   commands    also send cmd:send / cmd:fragmented (our echo_server only)
 */
function clientPlan({ threshold, repeat = { size: 2000, period: 100 }, big = MiB, commands = false }) {
  const rnd = new RandomBytes();
  const items = [];
  let json = 0;
  const text = (s, tag) => items.push({ step: `send-text:${s}`, data: Buffer.from(s), isText: true, writer: false, tag });
  text('hello', 'small');
  text('b'.repeat(threshold - 1), 'under');
  text('c'.repeat(threshold), 'at');
  const sendJson = (size, tag) => items.push({ step: `send-json:${size}`, data: Buffer.from(jsonText(size, json++)), isText: true, writer: false, tag });
  sendJson(4000, 'json1');
  text('hi', 'between');                       // plain, between compressed ones
  sendJson(4000, 'json2');
  const r = `send-random:${repeat.size}:7:${repeat.period}`;
  items.push({ step: r, data: rnd.next(repeat.size, 7, repeat.period), isText: false, writer: false, tag: 'rep1' });
  items.push({ step: r, data: rnd.next(repeat.size, 7, repeat.period), isText: false, writer: false, tag: 'rep2' });
  items.push({ step: `send-bin:${big}`, data: pattern(big), isText: false, writer: false, tag: 'big' });
  sendJson(big, 'bigtext');
  items.push({ step: 'send-frag:4:100000', data: pattern(100000), isText: false, writer: true, tag: 'frag' });
  items.push({ step: 'send-frag:3:10', data: pattern(10), isText: false, writer: true, tag: 'fragsmall' });
  items.push({ step: 'send-random:50000', data: rnd.next(50000), isText: false, writer: false, tag: 'random' });
  if (commands) {
    const cmd = (c, reply, tag) => items.push({ step: `send-text:cmd:${c}`, data: Buffer.from(`cmd:${c}`), isText: true, writer: false, tag, reply });
    cmd('send 100000', { data: pattern(100000), isText: false, writer: false }, 'cmdsend');
    cmd('send 10', { data: pattern(10), isText: false, writer: false }, 'cmdsendsmall');
    cmd('fragmented 4 100000', { data: Buffer.alloc(100000, 'x'), isText: true, writer: true }, 'cmdfrag');
    cmd('fragmented 1 0', { data: Buffer.alloc(0), isText: true, writer: true }, 'cmdfragempty');
    cmd('send 70000', { data: pattern(70000), isText: false, writer: false }, 'cmdsend2');
  }
  for (const it of items) it.compress = (s) => it.writer || it.data.length >= s;  // s: the sender's threshold
  const steps = items.flatMap((it) => [it.step, it.reply ? 'read' : 'expect-echo']);
  return { items, steps: [...steps, 'close:1000:'] };
}

/** What the peer's echo server sends back for a plan: echoes and command replies. */
function repliesOf(items) {
  return items.map((it) => (it.reply ? { ...it.reply, tag: `${it.tag}-reply` }
    : { data: it.data, isText: it.isText, writer: false, tag: `${it.tag}-echo` }));
}

// ---- checking one direction of the wire ---------------------------------------

/**
 * Checks the data messages of one tapped direction against `expected` (items
 * with data, isText, writer, tag): type, RSV1 (negotiated and, for wsc_write,
 * at least `threshold` bytes; always for the writer API), RSV1 only on the
 * first frame, and the payload decoding to the bytes sent with a window of
 * `bits` and, without `takeover`, without reference to earlier messages.
 * Returns per-tag {wire, payload, inflated} for size checks.
 * threshold === null: don't check RSV1 (a peer whose choice it is).
 */
function checkDirection(dir, expected, { negotiated, threshold, bits = 15, takeover, who }) {
  const ctx = () => `\n${dir.describe()}`;
  assert.equal(dir.error, null, `${who}: the tap could not parse the stream: ${dir.error?.message}${ctx()}`);
  assert.equal(dir.messages.length, expected.length, `${who}: number of data messages${ctx()}`);
  const inf = new StrictInflater({ windowBits: bits, takeover });
  const out = {};
  expected.forEach((e, i) => {
    const m = dir.messages[i];
    const what = `${who}: message ${i} (${e.tag}, ${e.data.length} bytes)`;
    assert.equal(m.opcode, e.isText ? 1 : 2, `${what}: opcode${ctx()}`);
    if (threshold !== null) {
      const want = negotiated && (e.writer || e.data.length >= threshold);
      if (want && !m.rsv1 && !e.writer) {
        // wsc_write may send a message that does not shrink as it is: only
        // when deflating it (on its own) saves less than 1%
        const alone = zlib.deflateRawSync(e.data, { windowBits: Math.max(9, bits), finishFlush: zlib.constants.Z_SYNC_FLUSH }).length - 4;
        assert.ok(alone >= e.data.length * 0.99,
          `${what}: sent uncompressed although it deflates to ${alone} bytes (threshold ${threshold})${ctx()}`);
      } else {
        assert.equal(m.rsv1, want, `${what}: RSV1 is ${m.rsv1}, expected ${want} (negotiated=${negotiated}, threshold ${threshold}, writer API ${e.writer})${ctx()}`);
      }
    } else if (!negotiated) {
      assert.equal(m.rsv1, false, `${what}: RSV1 without compression negotiated${ctx()}`);
    }
    m.frames.slice(1).forEach((f, k) => assert.equal(f.rsv1, false, `${what}: RSV1 set on continuation frame ${k + 1}${ctx()}`));
    let data = m.data;
    let info = null;
    if (m.rsv1) {
      try {
        info = inf.inflate(m.data);
      } catch (err) {
        assert.fail(`${what}: the compressed payload (${m.data.length} bytes) does not decode with a ${bits}-bit window` +
          `${takeover ? '' : ' and no context takeover'}: ${err.message}${ctx()}`);
      }
      data = info.data;
    }
    assert.equal(data.length, e.data.length, `${what}: decoded length${ctx()}`);
    assert.ok(data.equals(e.data), `${what}: decoded bytes differ from what was sent (fnv ${fnv1a(data)} vs ${fnv1a(e.data)})${ctx()}`);
    out[e.tag] = { wire: m.wireBytes, payload: m.data.length, size: e.data.length, frames: m.frames.length, rsv1: m.rsv1, info };
  });
  return out;
}

/**
 * Size checks on a direction that was compressed (tags from clientPlan or
 * repliesOf with `suffix`): compressible messages shrink, incompressible ones
 * do not grow much, and the repeated message is almost free with context
 * takeover and not without.
 */
function checkSavings(sizes, { takeover, bits = 15, suffix = '', who }) {
  const g = (tag) => sizes[tag + suffix];
  const show = JSON.stringify(Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, `${v.payload}/${v.size}`])));
  // Incompressible data may grow by the deflate block headers only (zlib with
  // its default memLevel: 5 bytes per 16 KiB stored block).
  const grewOk = (x) => x.payload <= x.size + x.size / 256 + 64;
  if (g('json1')) assert.ok(g('json1').payload < g('json1').size / 3, `${who}: 4000 bytes of JSON should compress to < 1/3: ${show}`);
  if (g('bigtext')) {
    const r = bits >= 10 ? 5 : 3;  // a 256- or 512-byte window finds fewer of the repeats
    assert.ok(g('bigtext').payload < g('bigtext').size / r, `${who}: 1 MiB of JSON should compress to < 1/${r}: ${show}`);
  }
  // pattern() repeats every 251 bytes: out of reach of a 256- or 512-byte
  // window (zlib matches at most window - 262 bytes back), compressible with more.
  for (const [tag, ratio] of [['big', 50], ['frag', 20]]) {
    if (!g(tag)) continue;
    if (bits >= 10) assert.ok(g(tag).payload < g(tag).size / ratio, `${who}: the repetitive ${tag} message should compress to < 1/${ratio}: ${show}`);
    else assert.ok(grewOk(g(tag)), `${who}: with a ${bits}-bit window the ${tag} message grew too much: ${show}`);
  }
  if (g('random')) assert.ok(grewOk(g('random')), `${who}: incompressible data grew too much (more than 0.4% + 64 bytes): ${show}`);
  const r1 = g('rep1'), r2 = g('rep2');
  if (r1 && r2) {
    assert.ok(r2.rsv1, `${who}: the second repeated message is compressed: ${show}`);
    assert.ok(r1.rsv1 && r1.payload < r1.size / 2, `${who}: the first repeated message compresses on its own: ${show}`);
    if (takeover) {
      assert.ok(r2.payload < r1.payload / 4,
        `${who}: with context takeover (${bits}-bit window) the repeated ${r1.size}-byte message should cost little: ${r2.payload} vs ${r1.payload} bytes`);
      assert.ok(r2.info.refsBefore, `${who}: the repeated message should refer to the previous one`);
    } else {
      assert.ok(r2.payload > r1.payload * 0.9, `${who}: without context takeover the repeated message cannot shrink: ${r2.payload} vs ${r1.payload}`);
    }
  }
}

function connectedExt(proc) {
  const m = proc.stdout.match(/^CONNECTED subprotocol=\S* extensions=(.*)$/m);
  assert.ok(m, `no CONNECTED line\n${proc.describe()}`);
  return m[1];
}

async function acceptedExt(srv, which = 0) {
  await srv.proc.waitFor(nLines(/^ACCEPTED .*$/gm, which + 1), { ms: 5000 });
  const all = [...srv.proc.stdout.matchAll(/^ACCEPTED \S+ subprotocol=\S* extensions=(.*)$/gm)];
  assert.ok(all[which], `no ACCEPTED line ${which}\n${srv.proc.describe()}`);
  return all[which][1];
}

/** An expected params object in pmdParams form, for assert.deepEqual. */
function params({ sNT = false, cNT = false, sBits, cBits }) {
  const raw = {};
  if (sNT) raw.server_no_context_takeover = true;
  if (cNT) raw.client_no_context_takeover = true;
  if (sBits !== undefined) raw.server_max_window_bits = String(sBits);
  if (cBits !== undefined) raw.client_max_window_bits = String(cBits);
  return { serverNoTakeover: sNT, clientNoTakeover: cNT, serverBits: sBits ?? 15, clientBits: cBits ?? 15, raw };
}

function assertParams(value, want, what) {
  let got;
  try {
    got = pmdParams(value);
  } catch (e) {
    assert.fail(`${what}: ${e.message}`);
  }
  assert.deepEqual(got, want, `${what}: negotiated ${JSON.stringify(value)}`);
}

/**
 * The repeated message: at least the sender's threshold, and within its
 * window to be found again (zlib reaches window - 262 bytes back).
 */
const repeatFor = (bits, threshold) => (bits >= 12 ? { size: 2000, period: 100 }
  : { size: threshold > 200 ? 600 : 200, period: 50 });

// ---- ws server ----------------------------------------------------------------

/** A ws echo server with perMessageDeflate {threshold: 0, ...pmd}. */
async function startWsDeflateServer(t, pmd) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0, ...pmd }, maxPayload: 64 * MiB });
  const state = { answered: [], received: [], errors: [] };
  wss.on('headers', (headers) => {
    const h = headers.find((l) => /^sec-websocket-extensions:/i.test(l));
    state.answered.push(h ? h.slice(h.indexOf(':') + 1).trim() : '');
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      state.received.push({ data: Buffer.from(data), isBinary });
      ws.send(data, { binary: isBinary });
    });
    ws.on('error', (e) => state.errors.push(e.message));
  });
  await once(wss, 'listening');
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((r) => wss.close(() => r()));
  });
  return { wss, port: wss.address().port, ...state, state };
}

// The matrix: client mode x serverNoContextTakeover (true | unset) x
// clientNoContextTakeover (true | false) x serverMaxWindowBits x clientMaxWindowBits.
const WS_FACTORS = [
  ['mode', ['takeover', 'no-takeover']],
  ['sNCT', [true, undefined]],
  ['cNCT', [true, false]],
  ['sMWB', [8, 12, 15, undefined]],
  ['cMWB', [8, 12, 15, undefined]],
];

function product(factors) {
  let rows = [{}];
  for (const [name, values] of factors) rows = rows.flatMap((r) => values.map((v) => ({ ...r, [name]: v })));
  return rows;
}

/** A deterministic greedy pairwise-covering subset of the product. */
function pairwise(factors) {
  const all = product(factors);
  const key = (a, va, b, vb) => `${a}=${va}|${b}=${vb}`;
  const pairsOf = (r) => {
    const ks = [];
    for (let i = 0; i < factors.length; i++) {
      for (let j = i + 1; j < factors.length; j++) {
        const [a] = factors[i], [b] = factors[j];
        ks.push(key(a, r[a], b, r[b]));
      }
    }
    return ks;
  };
  const uncovered = new Set(all.flatMap(pairsOf));
  const chosen = [];
  while (uncovered.size) {
    let best = null, bestN = -1;
    for (const r of all) {
      const n = pairsOf(r).filter((k) => uncovered.has(k)).length;
      if (n > bestN) { best = r; bestN = n; }
    }
    chosen.push(best);
    for (const k of pairsOf(best)) uncovered.delete(k);
  }
  return chosen;
}

const wsRows = process.env.WSC_DEFLATE_PAIRWISE === '1' ? pairwise(WS_FACTORS) : product(WS_FACTORS);

/** What ws answers to our offer (the rules of acceptAsServer for the offers we make). */
function wsServerAnswer(row) {
  const noTk = row.mode === 'no-takeover';
  return params({
    sNT: !!row.sNCT || noTk,
    cNT: !!row.cNCT || noTk,
    sBits: row.sMWB,
    cBits: row.cMWB,
  });
}

const rowName = (r) => `client ${r.mode}; ws serverNoContextTakeover=${r.sNCT ?? 'unset'} clientNoContextTakeover=${r.cNCT} ` +
  `serverMaxWindowBits=${r.sMWB ?? 'unset'} clientMaxWindowBits=${r.cMWB ?? 'unset'}`;

describe('our client <-> ws server', () => {
  for (const row of wsRows) {
    test(rowName(row), T, async (t) => {
      const pmd = { clientNoContextTakeover: row.cNCT };
      if (row.sNCT !== undefined) pmd.serverNoContextTakeover = row.sNCT;
      if (row.sMWB !== undefined) pmd.serverMaxWindowBits = row.sMWB;
      if (row.cMWB !== undefined) pmd.clientMaxWindowBits = row.cMWB;
      const srv = await startWsDeflateServer(t, pmd);
      const tap = await startTap(t, srv.port);
      const want = wsServerAnswer(row);
      const threshold = DEFAULT_THRESHOLD[row.mode];
      const plan = clientPlan({ threshold, repeat: repeatFor(want.clientBits, threshold) });
      const c = await runClient(t, tap.url, plan.steps, { opts: ['--compress', row.mode, '--read-limit', '-1'], ms: 20000 });
      assertClientOk(c);
      const conn = tap.conns[0];
      const ext = connectedExt(c);
      assert.equal(ext, srv.answered[0], 'wsc_extensions() is the value ws answered with');
      assert.equal(ext, conn.answered, 'wsc_extensions() is the header on the wire');
      assertParams(ext, want, 'negotiated');
      assert.deepEqual(srv.received.map((m) => fnv1a(m.data)), plan.items.map((it) => fnv1a(it.data)), 'ws received what we sent');
      // Our side: threshold, RSV1, decoding with our window, takeover as allowed.
      const clientTakeover = row.mode === 'takeover' && !want.clientNoTakeover;
      const up = checkDirection(conn.up, plan.items, {
        negotiated: true, threshold, bits: want.clientBits, takeover: clientTakeover, who: 'client->ws',
      });
      checkSavings(up, { takeover: clientTakeover, bits: want.clientBits, who: 'client->ws' });
      // ws compresses every message (threshold 0): our client inflated them all.
      checkDirection(conn.down, repliesOf(plan.items), {
        negotiated: true, threshold: null, bits: want.serverBits, takeover: !want.serverNoTakeover, who: 'ws->client',
      });
      assert.ok(conn.down.messages.every((m) => m.rsv1), `ws compressed every message${conn.describe()}`);
      assert.deepEqual(srv.errors, []);
    });
  }

  test('ws with serverNoContextTakeover: false refuses our no-takeover offer (400); our takeover offer works', T, async (t) => {
    const srv = await startWsDeflateServer(t, { serverNoContextTakeover: false });
    const tap = await startTap(t, srv.port);
    const c1 = await runClient(t, tap.url, ['send-text:x', 'expect-echo', 'close:1000:'], { opts: ['--compress', 'no-takeover'] });
    assertClientFail(c1, 'dial', 'WSC_EHANDSHAKE');
    assert.match(c1.stdout, /status=400/);
    assert.match(tap.conns[0].offered, /^permessage-deflate; *server_no_context_takeover; *client_no_context_takeover; *client_max_window_bits$/);
    const c2 = await runClient(t, tap.url, ['send-json:3000', 'expect-echo', 'close:1000:'], { opts: ['--compress', 'takeover'] });
    assertClientOk(c2);
    assert.equal(connectedExt(c2), 'permessage-deflate');
    assert.ok(tap.conns[1].up.messages[0].rsv1);
  });

  test('our offers, exactly', T, async (t) => {
    const srv = await startWsDeflateServer(t, {});
    const tap = await startTap(t, srv.port);
    for (const mode of MODES) {
      const c = await runClient(t, tap.url, ['close:1000:'], { opts: ['--compress', mode] });
      assertClientOk(c);
    }
    const offers = tap.conns.map((cn) => cn.offered);
    assert.equal(offers[0], undefined, 'disabled: no Sec-WebSocket-Extensions header');
    assert.deepEqual(pmdParams(offers[1]).raw, { client_max_window_bits: true }, offers[1]);
    assert.deepEqual(pmdParams(offers[2]).raw,
      { server_no_context_takeover: true, client_no_context_takeover: true, client_max_window_bits: true }, offers[2]);
    // exactly one extension offered, one header line
    for (const cn of tap.conns.slice(1)) {
      assert.equal(cn.up.head.match(/^sec-websocket-extensions:/gim).length, 1, cn.up.head);
    }
  });

  test('our client with compression disabled, ws with compression on: nothing negotiated or compressed', T, async (t) => {
    // compression disabled on our side: ws (compression on) must not answer with
    // the extension, and nothing is compressed in either direction.
    const srv = await startWsDeflateServer(t, {});
    const tap = await startTap(t, srv.port);
    const c = await runClient(t, tap.url, ['send-json:4000', 'expect-echo', 'send-bin:100000', 'expect-echo', 'close:1000:'],
      { opts: ['--read-limit', '-1'] });
    assertClientOk(c);
    assert.equal(connectedExt(c), '');
    assert.equal(tap.conns[0].answered, undefined);
    assert.ok(tap.conns[0].up.messages.every((m) => !m.rsv1) && tap.conns[0].down.messages.every((m) => !m.rsv1));
  });
});

// ---- ws client -> our server ------------------------------------------------

const WS_CLIENT_CONFIGS = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 8 },
  { clientMaxWindowBits: 8 },
  { serverMaxWindowBits: 12, clientMaxWindowBits: 10 },
  { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
  { clientMaxWindowBits: false },
  { serverMaxWindowBits: 9, clientMaxWindowBits: 8, serverNoContextTakeover: true },
];

/** Our server's answer to ws's offer for `pmd` in `mode` (the spec of the answer). */
function ourAnswerToWs(pmd, mode) {
  const noTk = mode === 'no-takeover';
  return params({
    sNT: !!pmd.serverNoContextTakeover || noTk,
    cNT: !!pmd.clientNoContextTakeover || noTk,
    sBits: typeof pmd.serverMaxWindowBits === 'number' ? pmd.serverMaxWindowBits : undefined,
    cBits: typeof pmd.clientMaxWindowBits === 'number' ? pmd.clientMaxWindowBits : undefined,
  });
}

async function connectWsDeflate(t, url, pmd, options = {}) {
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0, ...pmd }, maxPayload: 64 * MiB, ...options });
  let answered;
  ws.on('upgrade', (res) => { answered = res.headers['sec-websocket-extensions']; });
  const peer = new WsPeer(ws);
  t.after(() => ws.terminate());
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  }), 5000, `ws client to open ${url}`);
  peer.answered = answered;
  return peer;
}

/**
 * Runs the ws client's scenario against an echo_server, through the tap: the
 * messages it sends (the same kinds as clientPlan) and the server commands.
 * Returns {up: items ws sent, down: what our server sent back}.
 */
async function wsClientScenario(peer, conn, srv, { threshold, repeat }) {
  const rnd = new RandomBytes();
  const items = [];
  const next = (tag) => peer.nextMessage(5000).catch((e) => {
    throw new Error(`${e.message}: the answer to ${tag}\n${conn.describe()}\n${srv.proc.describe()}`);
  });
  const roundTrip = async (data, isText, tag) => {
    items.push({ data: Buffer.from(data), isText, writer: false, tag });
    await peer.send(data, { binary: !isText });
    const m = await next(tag);
    assert.equal(m.isBinary, !isText, `type of the echo of ${tag}`);
    assert.ok(m.data.equals(Buffer.from(data)), `echo of ${tag} (${Buffer.from(data).length} bytes) differs`);
  };
  await roundTrip('hello', true, 'small');
  await roundTrip('b'.repeat(threshold - 1), true, 'under');
  await roundTrip('c'.repeat(threshold), true, 'at');
  await roundTrip(jsonText(4000, 0), true, 'json1');
  await roundTrip('hi', true, 'between');
  await roundTrip(jsonText(4000, 1), true, 'json2');
  const rep = rnd.next(repeat.size, 7, repeat.period);
  await roundTrip(rep, false, 'rep1');
  await roundTrip(rep, false, 'rep2');
  await roundTrip(pattern(MiB), false, 'big');
  await roundTrip(new RandomBytes().next(50000), false, 'random');
  // fragmented by ws: compressed continuation frames
  const frag = pattern(200000);
  items.push({ data: frag, isText: false, writer: false, tag: 'wsfrag' });
  peer.ws.send(frag.subarray(0, 1), { binary: true, fin: false });
  peer.ws.send(frag.subarray(1, 100000), { binary: true, fin: false });
  peer.ws.send(frag.subarray(100000), { binary: true, fin: true });
  let m = await next('wsfrag');
  assert.ok(m.isBinary && m.data.equals(frag), 'echo of the message ws sent in 3 fragments');
  const down = items.map((it) => ({ ...it }));
  const cmd = async (c, reply, tag) => {
    items.push({ data: Buffer.from(`cmd:${c}`), isText: true, writer: false, tag });
    await peer.send(`cmd:${c}`);
    m = await next(`cmd:${c}`);
    assert.equal(m.isBinary, !reply.isText, `type of the reply to cmd:${c}`);
    assert.ok(m.data.equals(reply.data), `reply to cmd:${c} differs (${m.data.length} bytes)`);
    down.push({ ...reply, tag });
  };
  await cmd('send 100000', { data: pattern(100000), isText: false, writer: false }, 'cmdsend');
  await cmd(`send ${threshold - 1}`, { data: pattern(threshold - 1), isText: false, writer: false }, 'cmdunder');
  await cmd(`send ${threshold}`, { data: pattern(threshold), isText: false, writer: false }, 'cmdat');
  await cmd('fragmented 4 100000', { data: Buffer.alloc(100000, 'x'), isText: true, writer: true }, 'cmdfrag');
  await cmd('fragmented 1 0', { data: Buffer.alloc(0), isText: true, writer: true }, 'cmdfragempty');
  await cmd('fragmented 3 5', { data: Buffer.alloc(5, 'x'), isText: true, writer: true }, 'cmdfragsmall');
  return { up: items, down };
}

describe('ws client <-> our server', () => {
  for (const mode of ['takeover', 'no-takeover']) {
    for (const pmd of WS_CLIENT_CONFIGS) {
      test(`server ${mode}; ws client perMessageDeflate ${JSON.stringify(pmd)}`, T, async (t) => {
        const srv = await startEchoServer(t, ['--compress', mode, '--read-limit', '-1']);
        const tap = await startTap(t, srv.port);
        const peer = await connectWsDeflate(t, tap.url, pmd);
        const want = ourAnswerToWs(pmd, mode);
        const conn = tap.conns[0];
        const ext = (await acceptedExt(srv));
        assert.equal(ext, conn.answered, 'wsc_extensions() on the server is the header it sent');
        assert.equal(peer.answered, ext, 'ws got the same header');
        assertParams(ext, want, `our answer to ${JSON.stringify(conn.offered)}`);
        assert.equal(peer.ws.extensions, 'permessage-deflate', 'ws accepted it');
        const threshold = DEFAULT_THRESHOLD[mode];
        const serverTakeover = mode === 'takeover' && !want.serverNoTakeover;
        const { up, down } = await wsClientScenario(peer, conn, srv, { threshold, repeat: repeatFor(want.serverBits, threshold) });
        peer.ws.close(1000);
        assert.equal((await peer.waitClosed()).code, 1000);
        await conn.closed;
        const sizes = checkDirection(conn.down, down, {
          negotiated: true, threshold, bits: want.serverBits, takeover: serverTakeover, who: 'server->ws',
        });
        checkSavings(sizes, { takeover: serverTakeover, bits: want.serverBits, who: 'server->ws' });
        // ws's own messages: all compressed (threshold 0), with its window
        checkDirection(conn.up, up, {
          negotiated: true, threshold: null, bits: want.clientBits, takeover: !want.clientNoTakeover, who: 'ws->server',
        });
        assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
      });
    }
  }

  test('server disabled: ws offers, nothing is negotiated or compressed', T, async (t) => {
    const srv = await startEchoServer(t, ['--read-limit', '-1']);
    const tap = await startTap(t, srv.port);
    const peer = await connectWsDeflate(t, tap.url, {});
    assert.equal((await acceptedExt(srv)), '');
    assert.equal(tap.conns[0].answered, undefined, 'no Sec-WebSocket-Extensions in the response');
    assert.equal(peer.ws.extensions, '');
    await peer.send(jsonText(4000, 0));
    assert.equal((await peer.nextMessage()).data.toString(), jsonText(4000, 0));
    await peer.send('cmd:fragmented 2 1000');
    assert.equal((await peer.nextMessage()).data.length, 1000);
    assert.ok(tap.conns[0].down.messages.every((m) => !m.rsv1), tap.conns[0].describe());
  });
});

// ---- python3-websockets -------------------------------------------------------

const PY_DEFLATE_PRELUDE = `${PY_PRELUDE}
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory, ClientPerMessageDeflateFactory
`;

/**
 * A python echo server with compression: `extensions` is Python for the
 * extensions= argument (null: websockets' default deflate, 12-bit windows).
 * Prints "EXT <json of the response's Sec-WebSocket-Extensions>" and
 * "GOT <text|binary> <len> <fnv>" per message.
 */
async function startPyDeflateServer(t, extensions = null) {
  const comp = extensions ? `compression=None, extensions=${extensions}` : 'compression="deflate"';
  const script = `${PY_DEFLATE_PRELUDE}
async def handler(ws):
    out('EXT', json.dumps(ws.response_headers.get('Sec-WebSocket-Extensions')))
    try:
        async for msg in ws:
            b = msg.encode() if isinstance(msg, str) else msg
            out('GOT', 'text' if isinstance(msg, str) else 'binary', len(b), fnv(b))
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    out('PEER_CLOSED', ws.close_code)

async def main():
    async with websockets.serve(handler, '127.0.0.1', 0, max_size=None, ping_interval=None, ${comp}) as server:
        out('LISTENING', list(server.sockets)[0].getsockname()[1])
        await asyncio.Future()

asyncio.run(main())
`;
  const proc = startProc(t, PYTHON, ['-c', script]);
  const m = await proc.waitFor(/^LISTENING (\d+)$/m, { ms: 10000 });
  return { proc, port: Number(m[1]) };
}

function pyGot(proc) {
  return [...proc.stdout.matchAll(/^GOT (\S+) (\d+) (\S+)$/gm)].map((m) => ({ type: m[1], len: Number(m[2]), fnv: m[3] }));
}

describe('our client <-> python3-websockets server', () => {
  const cases = [
    // [name, python extensions (null: default), our mode, expected answer string]
    ['default deflate', null, 'takeover',
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'],
    ['default deflate', null, 'no-takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12'],
    ['9-bit windows, server_no_context_takeover', '[ServerPerMessageDeflateFactory(server_no_context_takeover=True, server_max_window_bits=9, client_max_window_bits=9)]', 'takeover',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9'],
    ['client_no_context_takeover, 10-bit client window', '[ServerPerMessageDeflateFactory(client_no_context_takeover=True, client_max_window_bits=10)]', 'takeover',
      'permessage-deflate; client_no_context_takeover; client_max_window_bits=10'],
    ['no parameters', '[ServerPerMessageDeflateFactory()]', 'takeover', 'permessage-deflate'],
  ];
  for (const [name, exts, mode, answer] of cases) {
    test(`python ${name}; client ${mode}`, T, async (t) => {
      const srv = await startPyDeflateServer(t, exts);
      const tap = await startTap(t, srv.port);
      const want = pmdParams(answer);
      const threshold = DEFAULT_THRESHOLD[mode];
      const plan = clientPlan({ threshold, repeat: repeatFor(want.clientBits, threshold) });
      // and 2 MiB more
      plan.items.push({ step: 'send-bin:2097152', data: pattern(2 * MiB), isText: false, writer: false, tag: 'big2' });
      plan.steps.splice(plan.steps.length - 1, 0, 'send-bin:2097152', 'expect-echo');
      const c = await runClient(t, tap.url, plan.steps, { opts: ['--compress', mode, '--read-limit', '-1'], ms: 25000 });
      assertClientOk(c);
      const conn = tap.conns[0];
      assert.equal(connectedExt(c), answer);
      assert.equal(conn.answered, answer);
      await srv.proc.waitFor(/^PEER_CLOSED 1000$/m);
      assert.deepEqual(pyGot(srv.proc), plan.items.map((it) => ({ type: it.isText ? 'text' : 'binary', len: it.data.length, fnv: fnv1a(it.data) })));
      const clientTakeover = mode === 'takeover' && !want.clientNoTakeover;
      const up = checkDirection(conn.up, plan.items, {
        negotiated: true, threshold, bits: want.clientBits, takeover: clientTakeover, who: 'client->python',
      });
      checkSavings(up, { takeover: clientTakeover, bits: want.clientBits, who: 'client->python' });
      if (want.clientBits >= 10) assert.ok(up.big2.payload < MiB / 20, `2 MiB compressed to ${up.big2.payload}`);
      else assert.ok(up.big2.payload <= 2 * MiB + 2 * MiB / 256 + 64, `2 MiB with a ${want.clientBits}-bit window grew to ${up.big2.payload}`);
      checkDirection(conn.down, repliesOf(plan.items), {
        negotiated: true, threshold: null, bits: want.serverBits, takeover: !want.serverNoTakeover, who: 'python->client',
      });
      assert.ok(conn.down.messages.every((m) => m.rsv1), 'python compresses every message');
    });
  }
});

/**
 * Runs a python client with `connectArgs` (Python keyword arguments for
 * websockets.connect) and `body` (statements inside `async with ... as ws`).
 * Prints "EXT <json>" first.
 */
async function runPyDeflateClient(t, url, connectArgs, body) {
  const indented = body.replace(/^\s*\n/, '').replace(/\s+$/, '').split('\n');
  const common = Math.min(...indented.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
  const script = `${PY_DEFLATE_PRELUDE}
async def main(url):
    async with websockets.connect(url, max_size=None, ping_interval=None, ${connectArgs}) as ws:
        out('EXT', json.dumps(ws.response_headers.get('Sec-WebSocket-Extensions')))
${indented.map((l) => '        ' + l.slice(common)).join('\n')}
        await ws.close(1000)
    out('DONE')

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 20))
`;
  const proc = startProc(t, PYTHON, ['-c', script, url]);
  await proc.wait(25000);
  assert.equal(proc.exitInfo.code, 0, `python client failed\n${proc.describe()}`);
  assert.match(proc.stdout, /^DONE$/m);
  return proc;
}

/** The python client's scenario; REP is the size of the repeated random message. */
const pyClientBody = (rep) => `
import random
async def rt(msg):
    await ws.send(msg)
    got = await ws.recv()
    assert got == msg, ('echo differs', len(got), len(msg))
await rt('hello')
await rt(json.dumps([{'id': i, 'user': 'user-%d' % (i % 7), 'items': [1, 2, 3]} for i in range(100)]))
await rt(pattern(1 << 20))
rep = random.Random(7).randbytes(50) * (${rep} // 50)
await rt(rep)
await rt(rep)
# fragmented: python compresses every frame, RSV1 on the first only
parts = [pattern(300000)[i:i + 100000] for i in range(0, 300000, 100000)]
await ws.send(parts)
got = await ws.recv()
assert got == pattern(300000)
await ws.send(['ab', 'c\\u00e9', 'd' * 1000])
got = await ws.recv()
assert got == 'abc\\u00e9' + 'd' * 1000
await ws.send('cmd:send 100000')
got = await ws.recv()
assert got == pattern(100000)
await ws.send('cmd:fragmented 4 100000')
got = await ws.recv()
assert got == 'x' * 100000
out('ALL_OK')
`;

describe('python3-websockets client <-> our server', () => {
  const cases = [
    // [name, connect args, expected params by server mode]
    ['default deflate', 'compression="deflate"', {
      takeover: params({}), 'no-takeover': params({ sNT: true, cNT: true }),
    }],
    ['no_context_takeover both, server 10 bits, client 9 bits',
      'compression=None, extensions=[ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=10, client_max_window_bits=9)]', {
        takeover: params({ sNT: true, cNT: true, sBits: 10, cBits: 9 }),
        'no-takeover': params({ sNT: true, cNT: true, sBits: 10, cBits: 9 }),
      }],
    ['server_max_window_bits=9 only',
      'compression=None, extensions=[ClientPerMessageDeflateFactory(server_max_window_bits=9)]', {
        takeover: params({ sBits: 9 }), 'no-takeover': params({ sNT: true, cNT: true, sBits: 9 }),
      }],
  ];
  for (const [name, args, wants] of cases) {
    for (const mode of ['takeover', 'no-takeover']) {
      test(`python client ${name}; server ${mode}`, T, async (t) => {
        const srv = await startEchoServer(t, ['--compress', mode, '--read-limit', '-1']);
        const tap = await startTap(t, srv.port);
        const thr = DEFAULT_THRESHOLD[mode];
        const rep = mode === 'takeover' ? 200 : 600;   // over the threshold; 50-byte period: fits a 9-bit window
        const py = await runPyDeflateClient(t, tap.url, args, pyClientBody(rep));
        assert.match(py.stdout, /^ALL_OK$/m);
        const conn = tap.conns[0];
        const ext = (await acceptedExt(srv));
        assert.equal(JSON.parse(py.stdout.match(/^EXT (.*)$/m)[1]), ext, 'python saw the header the server reports');
        assert.equal(conn.answered, ext);
        const want = wants[mode];
        assertParams(ext, want, `answer to ${conn.offered}`);
        await conn.closed;
        // What python sent (it compresses everything, with its own parameters) ...
        const ups = conn.up.messages;
        assert.equal(ups.length, 9, conn.describe());
        assert.ok(ups.every((m) => m.rsv1), 'python compresses every message');
        // python sends 3 data frames and an empty final one; RSV1 on the first only
        assert.ok(ups[5].frames.length >= 3 && ups[5].frames.slice(1).every((f) => !f.rsv1), `python's fragmented message\n${conn.describe()}`);
        const upInf = new StrictInflater({ windowBits: want.clientBits, takeover: !want.clientNoTakeover });
        const upData = ups.map((m, i) => {
          try { return upInf.inflate(m.data).data; } catch (e) { return assert.fail(`python message ${i}: ${e.message}`); }
        });
        // ... and what we sent back: echoes, then the two command replies.
        const expected = upData.slice(0, 7).map((d, i) => ({ data: d, isText: ups[i].opcode === 1, writer: false, tag: `echo${i}` }));
        expected.push({ data: pattern(100000), isText: false, writer: false, tag: 'cmdsend' });
        expected.push({ data: Buffer.alloc(100000, 'x'), isText: true, writer: true, tag: 'cmdfrag' });
        const serverTakeover = mode === 'takeover' && !want.serverNoTakeover;
        const sizes = checkDirection(conn.down, expected, {
          negotiated: true, threshold: thr, bits: want.serverBits, takeover: serverTakeover, who: 'server->python',
        });
        if (want.serverBits >= 10) assert.ok(sizes.echo2.payload < MiB / 50, `1 MiB echo took ${sizes.echo2.payload} bytes`);
        else assert.ok(sizes.echo2.payload <= MiB + MiB / 256 + 64, `1 MiB echo with a ${want.serverBits}-bit window grew to ${sizes.echo2.payload} bytes`);
        if (serverTakeover) assert.ok(sizes.echo4.payload < sizes.echo3.payload / 4, `repeated ${rep} B message with takeover: ${sizes.echo4.payload} vs ${sizes.echo3.payload}`);
        else assert.ok(sizes.echo4.payload > sizes.echo3.payload * 0.9, 'repeated message without takeover');
        assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
      });
    }
  }
});

// ---- ours <-> ours --------------------------------------------------------------

function expectedOursAnswer(clientMode, serverMode) {
  if (clientMode === 'disabled' || serverMode === 'disabled') return '';
  if (clientMode === 'no-takeover' || serverMode === 'no-takeover') return params({ sNT: true, cNT: true });
  return params({});
}

describe('ours <-> ours', () => {
  for (const cm of MODES) {
    for (const sm of MODES) {
      test(`client ${cm}, server ${sm}`, T, async (t) => {
        const srv = await startEchoServer(t, ['--compress', sm, '--read-limit', '-1']);
        const tap = await startTap(t, srv.port);
        const want = expectedOursAnswer(cm, sm);
        const negotiated = want !== '';
        const cThr = DEFAULT_THRESHOLD[cm] ?? 128, sThr = DEFAULT_THRESHOLD[sm] ?? 128;
        const plan = clientPlan({ threshold: cThr, commands: true });
        const c = await runClient(t, tap.url, plan.steps, { opts: ['--compress', cm, '--read-limit', '-1'], ms: 20000 });
        assertClientOk(c);
        const conn = tap.conns[0];
        const ext = connectedExt(c);
        assert.equal(ext, (await acceptedExt(srv)), 'both sides report the same value');
        assert.equal(conn.answered ?? '', ext, 'the value is the header on the wire');
        if (negotiated) assertParams(ext, want, 'negotiated');
        else assert.equal(ext, '');
        if (cm === 'disabled') assert.equal(conn.offered, undefined, 'a disabled client offers nothing');
        assert.deepEqual(msgLines(c).map((m) => [m.type, m.len, m.fnv]),
          plan.items.filter((it) => it.reply).map((it) => [it.reply.isText ? 'text' : 'binary', it.reply.data.length, fnv1a(it.reply.data)]));
        const p = negotiated ? pmdParams(ext) : null;
        const clientTakeover = negotiated && cm === 'takeover' && !p.clientNoTakeover;
        const serverTakeover = negotiated && sm === 'takeover' && !p.serverNoTakeover;
        const up = checkDirection(conn.up, plan.items, { negotiated, threshold: cThr, takeover: clientTakeover, who: 'client->server' });
        const down = checkDirection(conn.down, repliesOf(plan.items), { negotiated, threshold: sThr, takeover: serverTakeover, who: 'server->client' });
        if (negotiated) {
          checkSavings(up, { takeover: clientTakeover, who: 'client->server' });
          checkSavings(down, { takeover: serverTakeover, suffix: '-echo', who: 'server->client' });
          for (const tag of ['cmdsend-reply', 'cmdfrag-reply', 'cmdsend2-reply']) {
            assert.ok(down[tag].rsv1 && down[tag].payload < down[tag].size / 20, `server->client: ${tag} should compress: ${down[tag].payload}/${down[tag].size}`);
          }
        } else {
          // nothing compressed: the wire carries the payloads
          const payload = plan.items.reduce((n, it) => n + it.data.length, 0);
          assert.ok(conn.up.bytes > payload, `uncompressed: ${conn.up.bytes} wire bytes for ${payload} payload bytes`);
        }
        assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
      });
    }
  }

  test('thresholds: --threshold 1000 on both sides; 999 bytes plain, 1000 compressed', T, async (t) => {
    for (const mode of ['takeover', 'no-takeover']) {
      const srv = await startEchoServer(t, ['--compress', mode, '--threshold', '1000']);
      const tap = await startTap(t, srv.port);
      const c = await runClient(t, tap.url, [
        'send-json:999', 'expect-echo', 'send-json:1000', 'expect-echo',
        'send-text:cmd:send 999', 'read', 'send-text:cmd:send 1000', 'read',
        'send-frag:2:20', 'expect-echo', 'send-text:cmd:fragmented 2 20', 'read', 'close:1000:',
      ], { opts: ['--compress', mode, '--threshold', '1000'] });
      assertClientOk(c);
      const cn = tap.conns[0];
      assert.deepEqual(cn.up.messages.map((m) => m.rsv1), [false, true, false, false, true, false],
        `${mode}: client RSV1s (json 999, json 1000, 2 commands, writer's 20 bytes, command)\n${cn.describe()}`);
      assert.deepEqual(cn.down.messages.map((m) => m.rsv1), [false, true, false, true, false, true],
        `${mode}: server RSV1s (echo 999, echo 1000, send 999, send 1000, echo of the writer's 20, fragmented 20)\n${cn.describe()}`);
    }
  });

  test('default thresholds: 128 with takeover, 512 without', T, async (t) => {
    for (const [mode, thr] of [['takeover', 128], ['no-takeover', 512]]) {
      const srv = await startEchoServer(t, ['--compress', mode]);
      const tap = await startTap(t, srv.port);
      const c = await runClient(t, tap.url, [
        `send-text:${'a'.repeat(thr - 1)}`, 'expect-echo', `send-text:${'a'.repeat(thr)}`, 'expect-echo', 'close:1000:',
      ], { opts: ['--compress', mode] });
      assertClientOk(c);
      const cn = tap.conns[0];
      assert.deepEqual(cn.up.messages.map((m) => m.rsv1), [false, true], `${mode} client\n${cn.describe()}`);
      assert.deepEqual(cn.down.messages.map((m) => m.rsv1), [false, true], `${mode} server\n${cn.describe()}`);
    }
  });

  test('read limit applies to the inflated size (client side): 1009, also when the wire bytes are few', T, async (t) => {
    const srv = await startEchoServer(t, ['--compress', 'takeover']);
    const tap = await startTap(t, srv.port);
    // exactly at the limit: fine; one byte over (compressed to a few hundred bytes): 1009
    const c = await runClient(t, tap.url, ['send-text:cmd:send 100000', 'read', 'send-text:cmd:send 100001', 'read-until-close'],
      { opts: ['--compress', 'takeover', '--read-limit', '100000'] });
    assertClientOk(c);
    assert.equal(msgLines(c)[0]?.len, 100000, c.stdout);
    assert.equal(closedLine(c.stdout)?.err, 'WSC_EMSGSIZE', c.stdout);
    const over = tap.conns[0].down.messages[1];
    assert.ok(over.rsv1 && over.data.length < 2000, `the 100001-byte message took ${over.data.length} bytes on the wire`);
    const close = tap.conns[0].up.controls.find((f) => f.opcode === 8);
    assert.equal(close?.code, 1009, tap.conns[0].describe());
    assert.equal((await serverClosed(srv)).status, 1009);
  });

  test('many messages under context takeover stay in sync (mixed sizes, plain ones in between)', T, async (t) => {
    const srv = await startEchoServer(t, ['--compress', 'takeover', '--read-limit', '-1']);
    const tap = await startTap(t, srv.port);
    const steps = [];
    const kinds = [];  // per message: 'plain' (under 128 bytes), 'compressed', 'either' (incompressible)
    for (let i = 0; i < 60; i++) {
      const k = i % 5;
      if (k === 0) { steps.push(`send-json:${1000 + i * 37}`); kinds.push('compressed'); }
      else if (k === 1) { steps.push('send-text:tiny'); kinds.push('plain'); }
      else if (k === 2) { steps.push(`send-random:${100 + i}`); kinds.push(100 + i < 128 ? 'plain' : 'either'); }
      else if (k === 3) { steps.push(`send-bin:${40000 + i}`); kinds.push('compressed'); }
      else { steps.push(`send-frag:${1 + (i % 4)}:${300 + i}`); kinds.push('compressed'); }
      steps.push('expect-echo');
    }
    const c = await runClient(t, tap.url, [...steps, 'close:1000:'], { opts: ['--compress', 'takeover', '--read-limit', '-1'] });
    assertClientOk(c);
    const cn = tap.conns[0];
    // the whole stream decodes with one window per direction
    for (const dir of [cn.up, cn.down]) {
      assert.equal(dir.messages.length, 60, dir.describe());
      const inf = new StrictInflater({ takeover: true });
      for (const [i, m] of dir.messages.entries()) {
        const kind = kinds[i];  // the echo (wsc_write) follows the same rules
        if (kind === 'plain') assert.equal(m.rsv1, false, `${dir.name} message ${i} (${steps[2 * i]}) must be plain`);
        if (kind === 'compressed') assert.equal(m.rsv1, true, `${dir.name} message ${i} (${steps[2 * i]}) must be compressed`);
        if (!m.rsv1) continue;
        try { inf.inflate(m.data); } catch (e) { assert.fail(`${dir.name} message ${i}: ${e.message}`); }
      }
    }
  });

  test('compressed messages inflate on their own without takeover (zlib check)', T, async (t) => {
    const srv = await startEchoServer(t, ['--compress', 'no-takeover', '--read-limit', '-1']);
    const tap = await startTap(t, srv.port);
    const c = await runClient(t, tap.url, ['send-json:5000', 'expect-echo', 'send-json:5000', 'expect-echo', 'send-bin:300000', 'expect-echo', 'close:1000:'],
      { opts: ['--compress', 'no-takeover', '--read-limit', '-1'] });
    assertClientOk(c);
    for (const dir of [tap.conns[0].up, tap.conns[0].down]) {
      for (const m of dir.messages) {
        assert.ok(m.rsv1);
        assert.doesNotThrow(() => inflateAlone(m.data), `${dir.name}: a message needs context`);
      }
    }
  });
});
