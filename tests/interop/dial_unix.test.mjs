// SPDX-License-Identifier: MIT
// Dialing without a TCP connect of our own: ws+unix:// and wss+unix:// URLs
// (a Unix socket, as npm ws writes them) and wsc_dial_fd over a socket the
// caller connected (tests/progs/fd_client), against npm `ws` servers on
// node's http and https servers listening on a Unix socket or on TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { BUILD, TEST_TIMEOUT, runClient, assertClientOk, assertClientFail, startProc } from './lib.mjs';
import { makePki } from './certs.mjs';

const T = { timeout: TEST_TIMEOUT };
const pki = makePki();
const FD_CLIENT = path.join(BUILD, 'tests/progs/fd_client');

/**
 * A ws echo server on node's http (or https with the test PKI) server
 * listening on `where`: a Unix socket path, or 0 for a TCP port on
 * 127.0.0.1. Records each request's target and Host header.
 */
async function startServer(t, where, { tls = false } = {}) {
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) })
    : http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const requests = [];
  wss.on('connection', (ws, req) => {
    requests.push({ url: req.url, host: req.headers.host });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  if (typeof where === 'string') server.listen(where); else server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    return new Promise((r) => server.close(() => r()));
  });
  return { requests, port: typeof where === 'string' ? 0 : server.address().port };
}

function socketPath(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-unix-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'ws.sock');
}

for (const tls of [false, true]) {
  const scheme = tls ? 'wss+unix' : 'ws+unix';
  test(`${scheme}://: echo over a Unix socket, target and Host "localhost" reach the server`, T, async (t) => {
    const sock = socketPath(t);
    const srv = await startServer(t, sock, { tls });
    const c = await runClient(t, `${scheme}://${sock}:/chat?room=1`,
      ['send-text:hello unix', 'expect-echo', 'send-bin:70000', 'expect-echo', 'close:1000:'],
      { opts: ['--read-limit', '-1', ...(tls ? ['--ca', pki.caFile] : [])] });
    assertClientOk(c);
    assert.deepEqual(srv.requests, [{ url: '/chat?room=1', host: 'localhost' }]);
  });
}

test('ws+unix:// to a socket nobody listens on: WSC_ECONNECT naming the socket', T, async (t) => {
  const sock = socketPath(t);
  const c = await runClient(t, `ws+unix://${sock}:/x`, ['send-text:x']);
  assertClientFail(c, 'dial', 'WSC_ECONNECT');
  assert.ok(c.stdout.includes(`the Unix socket ${sock}`), c.describe());
});

test('ws+unix:// with a relative socket path: WSC_EINVAL', T, async (t) => {
  const c = await runClient(t, 'ws+unix://relative.sock:/x', ['send-text:x']);
  assertClientFail(c, 'dial', 'WSC_EINVAL');
  assert.match(c.stdout, /must be absolute/);
});

for (const [what, tls, unix] of [['ws:// over TCP', false, false], ['wss:// over TCP', true, false],
  ['ws:// over a Unix socket', false, true]]) {
  test(`wsc_dial_fd: ${what} connected by the caller; a failed dial closes the socket`, T, async (t) => {
    const sock = unix ? socketPath(t) : null;
    const srv = await startServer(t, unix ? sock : 0, { tls });
    const url = `${tls ? 'wss' : 'ws'}://localhost${unix ? '' : `:${srv.port}`}/fd?x=1`;
    const p = startProc(t, FD_CLIENT, [url, unix ? sock : `127.0.0.1:${srv.port}`, ...(tls ? ['--ca', pki.caFile] : [])]);
    await p.wait(10000);
    assert.equal(p.exitInfo.code, 0, p.describe());
    assert.match(p.stdout, /^CONNECTED\nOK\nFAILED_DIAL_CLOSED_FD$/m, p.describe());
    assert.equal(srv.requests[0]?.url, '/fd?x=1');
    assert.equal(srv.requests[0]?.host, unix ? 'localhost' : `localhost:${srv.port}`);
  });
}
