// SPDX-License-Identifier: MIT
// browser.test.mjs - Chromium's own WebSocket (plain JavaScript in a page,
// no wasm) against our echo_server: with permessage-deflate, and over TLS
// (Chromium's BoringSSL against our TLS 1.3 record layer, src/net/tls13.c).
//
// Chromium (/usr/bin/chromium driven by playwright-core, as in
// tests/wasm/browser.test.mjs) always offers
// "permessage-deflate; client_max_window_bits". A page served by an HTTP
// server in this process connects through a tap (tap.mjs) to
// $WSC_BUILD/tests/progs/echo_server --compress takeover|no-takeover, echoes
// large compressible text and binary messages and runs the server's commands;
// the test checks ws.extensions in the page against what the server reports
// and sent, and that both directions were really compressed on the wire.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { MiB, startEchoServer, serverClosed, nLines } from './lib.mjs';
import { startTap, StrictInflater, pmdParams, jsonText } from './tap.mjs';
import { makePki } from './certs.mjs';

const CHROMIUM = '/usr/bin/chromium';
const T = { timeout: 60000 };

let httpServer, base, browser, profileDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/deps.sh as root`);
  httpServer = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('<!doctype html><meta charset="utf-8"><title>wsc deflate</title><p>deflate test page</p>');
  });
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${httpServer.address().port}`;
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-browser-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--ignore-certificate-errors'], // the TLS test's certificate is made here
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  await new Promise((r) => (httpServer ? httpServer.close(() => r()) : r()));
});

/**
 * Runs in the page: connects, echoes `messages` ({kind:'text', text} or
 * {kind:'bin', size}: byte i = i % 251), sends `commands` and checks their
 * replies, closes. Returns {extensions, results} or {error}.
 */
async function pageScenario({ url, messages, commands }) {
  const pattern = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = i % 251; return b; };
  const eq = (a, b) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let waiter = null;
  ws.onmessage = (e) => { if (waiter) { const w = waiter; waiter = null; w(e.data); } else queue.push(e.data); };
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r, j) => {
    waiter = r;
    setTimeout(() => j(new Error('no message within 10 s')), 10000);
  }));
  try {
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('WebSocket error')); });
    const results = [];
    for (const m of messages) {
      const data = m.kind === 'text' ? m.text : pattern(m.size);
      ws.send(data);
      const got = await next();
      const ok = m.kind === 'text' ? got === m.text : got instanceof ArrayBuffer && eq(new Uint8Array(got), data);
      results.push({ ok, len: typeof got === 'string' ? got.length : got.byteLength });
    }
    for (const c of commands) {
      ws.send(c.cmd);
      const got = await next();
      const ok = c.kind === 'text' ? got === 'x'.repeat(c.size) : got instanceof ArrayBuffer && eq(new Uint8Array(got), pattern(c.size));
      results.push({ ok, len: typeof got === 'string' ? got.length : got.byteLength });
    }
    const closed = new Promise((r) => { ws.onclose = (e) => r(e.code); });
    ws.close(1000);
    return { extensions: ws.extensions, results, closeCode: await closed };
  } catch (e) {
    return { error: String(e), extensions: ws.extensions };
  }
}

describe('Chromium WebSocket <-> our server with permessage-deflate', () => {
  for (const mode of ['takeover', 'no-takeover']) {
    test(`server ${mode}`, T, async (t) => {
      const srv = await startEchoServer(t, ['--compress', mode, '--read-limit', '-1', '--origin', new URL(base).host]);
      const tap = await startTap(t, srv.port);
      const page = await browser.newPage();
      t.after(() => page.close().catch(() => {}));
      await page.goto(`${base}/`);
      const json = jsonText(200000, 1);
      const messages = [
        { kind: 'text', text: 'hello' },
        { kind: 'text', text: json },
        { kind: 'text', text: jsonText(200000, 2) },
        { kind: 'bin', size: MiB },
        { kind: 'text', text: 'h\u00e9llo w\u00f6rld \u2603 '.repeat(500) },
        { kind: 'bin', size: 100 },
      ];
      const commands = [
        { cmd: 'cmd:send 300000', kind: 'bin', size: 300000 },
        { cmd: 'cmd:fragmented 4 100000', kind: 'text', size: 100000 },
      ];
      const r = await page.evaluate(pageScenario, { url: tap.url, messages, commands });
      assert.equal(r.error, undefined, `the page failed: ${r.error}\n${tap.conns[0]?.describe()}\n${srv.proc.describe()}`);
      assert.deepEqual(r.results.map((x) => x.ok), r.results.map(() => true), `echoes: ${JSON.stringify(r.results)}`);
      assert.equal(r.closeCode, 1000);

      const conn = tap.conns[0];
      await srv.proc.waitFor(nLines(/^ACCEPTED .*$/gm, 1));
      const accepted = srv.proc.stdout.match(/^ACCEPTED \S+ subprotocol=\S* extensions=(.*)$/m)[1];
      assert.match(conn.offered, /^permessage-deflate; client_max_window_bits$/, 'Chromium\'s offer');
      assert.equal(r.extensions, accepted, 'ws.extensions in the page is what the server reports');
      assert.equal(conn.answered, accepted, 'and what it sent');
      const p = pmdParams(accepted);
      assert.deepEqual(p.raw, mode === 'takeover' ? {} : { server_no_context_takeover: true, client_no_context_takeover: true });

      // on the wire, both ways: RSV1 on the large messages, sizes far below the payloads
      const up = conn.up.messages, down = conn.down.messages;
      assert.equal(down.length, messages.length + commands.length, conn.describe());
      const inf = { up: new StrictInflater({ takeover: !p.clientNoTakeover }), down: new StrictInflater({ takeover: !p.serverNoTakeover }) };
      const sizes = [];
      for (const [dir, msgs] of [['up', up], ['down', down]]) {
        for (const [i, m] of msgs.entries()) {
          let plain = m.data;
          if (m.rsv1) {
            try { plain = inf[dir].inflate(m.data).data; } catch (e) { assert.fail(`${dir} message ${i}: ${e.message}\n${conn.describe()}`); }
          }
          sizes.push({ dir, i, wire: m.data.length, plain: plain.length, rsv1: m.rsv1 });
        }
      }
      const show = JSON.stringify(sizes);
      const big = (dir, i) => sizes.find((s) => s.dir === dir && s.i === i);
      for (const i of [1, 2, 3, 4]) {
        for (const dir of ['up', 'down']) {
          const s = big(dir, i);
          assert.ok(s.rsv1 && s.wire < s.plain / 5, `${dir} message ${i} should be compressed: ${show}`);
        }
      }
      // our server: 'hello' and 100 bytes under the threshold go plain
      assert.equal(big('down', 0).rsv1, false, show);
      assert.equal(big('down', 5).rsv1, false, show);
      for (const i of [6, 7]) assert.ok(big('down', i).rsv1 && big('down', i).wire < big('down', i).plain / 20, `command reply ${i}: ${show}`);
      // with takeover the second large JSON message costs less than the first
      if (mode === 'takeover') assert.ok(big('down', 2).wire < big('down', 1).wire, show);
      const total = { wire: conn.up.bytes + conn.down.bytes, payload: sizes.reduce((n, s) => n + s.plain, 0) };
      assert.ok(total.wire < total.payload / 10, `wire ${total.wire} bytes for ${total.payload} bytes of messages`);
      t.diagnostic(`${mode}: ${total.wire} bytes on the wire for ${total.payload} bytes of messages (${(100 * total.wire / total.payload).toFixed(2)}%)`);
      assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
    });
  }
});

describe('Chromium WebSocket <-> our server over TLS', () => {
  test('wss: messages of every size both ways, fragmented and whole, close 1000', T, async (t) => {
    const pki = makePki();
    const srv = await startEchoServer(t, ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile,
      '--read-limit', '-1', '--origin', new URL(base).host]);
    const page = await browser.newPage();
    t.after(() => page.close().catch(() => {}));
    await page.goto(`${base}/`);
    // around one TLS record (16 KiB) and many
    const messages = [1, 125, 126, 16379, 16380, 16384, 16385, 70000, MiB, 4 * MiB]
      .map((size) => ({ kind: 'bin', size }));
    messages.push({ kind: 'text', text: 'h\u00e9llo w\u00f6rld \u2603 '.repeat(3000) });
    const commands = [
      { cmd: 'cmd:send 300000', kind: 'bin', size: 300000 },
      { cmd: 'cmd:fragmented 7 100000', kind: 'text', size: 100000 },
    ];
    const r = await page.evaluate(pageScenario, { url: `wss://127.0.0.1:${srv.port}/`, messages, commands });
    assert.equal(r.error, undefined, `the page failed: ${r.error}\n${srv.proc.describe()}`);
    assert.deepEqual(r.results.map((x) => x.ok), r.results.map(() => true), `echoes: ${JSON.stringify(r.results)}`);
    assert.equal(r.closeCode, 1000);
    assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
  });
});
