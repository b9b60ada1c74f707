// SPDX-License-Identifier: MIT
// wsc_dial_options.max_redirects: our client (tests/progs/client) against
// Node HTTP(S) servers that answer upgrade requests with redirects and hand
// the final one to an npm ws server (handleUpgrade): relative and absolute
// Locations, a change of host (credentials dropped), the limit, no
// redirect-following by default, never from TLS to plain, ws to wss allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { TEST_TIMEOUT, runClient, assertClientOk, startProc, BUILD } from './lib.mjs';
import path from 'node:path';

const WSC = path.join(BUILD, 'wsc');
import { makePki } from './certs.mjs';

const T = { timeout: TEST_TIMEOUT };

/**
 * An HTTP (or HTTPS, with tls) server whose upgrade requests are answered by
 * routes[path] = [status, location] (location null: none), or accepted by a
 * ws echo server. Every request is recorded: {path, headers}.
 */
async function redirectServer(t, routes, tls = null) {
  const seen = [];
  const wss = new WebSocketServer({ noServer: true });
  const server = tls ? https.createServer(tls) : http.createServer();
  server.on('upgrade', (req, socket, head) => {
    seen.push({ path: req.url, headers: req.headers });
    const route = routes[req.url];
    if (route) {
      const [status, location] = route;
      socket.end(`HTTP/1.1 ${status} Moved\r\n${location ? `Location: ${location}\r\n` : ''}` +
        'Content-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d, bin) => ws.send(d, { binary: bin })));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections?.();
    return new Promise((r) => server.close(() => r()));
  });
  return { seen, port: server.address().port };
}

test('relative and absolute Locations are followed; another host gets no credentials', T, async (t) => {
  const b = await redirectServer(t, {});
  const a = await redirectServer(t, {
    '/a': [302, '/b'],
    '/b': [301, 'c?q=1'],
    '/c?q=1': [307, `ws://localhost:${b.port}/final?x=1`],
  });
  const p = await runClient(t, `ws://127.0.0.1:${a.port}/a`, ['send-text:hi', 'expect-echo', 'close:1000:'], {
    opts: ['--max-redirects', '5', '--header', 'Authorization: Bearer secret', '--header', 'X-Keep: 1'],
  });
  assertClientOk(p);
  assert.match(p.stdout, new RegExp(`^URL ws://localhost:${b.port}/final\\?x=1$`, 'm'));
  assert.deepEqual(a.seen.map((s) => s.path), ['/a', '/b', '/c?q=1']);
  assert.ok(a.seen.every((s) => s.headers.authorization === 'Bearer secret'), 'same host: credentials kept');
  assert.equal(b.seen.length, 1);
  assert.equal(b.seen[0].path, '/final?x=1');
  assert.equal(b.seen[0].headers.authorization, undefined, 'another host: no Authorization');
  assert.equal(b.seen[0].headers['x-keep'], '1', 'other headers kept');
  assert.equal(b.seen[0].headers.host, `localhost:${b.port}`);
});

test('without max_redirects a redirect fails the dial and names the Location', T, async (t) => {
  const a = await redirectServer(t, { '/old': [308, '/new'] });
  const p = await runClient(t, `ws://127.0.0.1:${a.port}/old`, ['close:1000:']);
  assert.equal(p.exitInfo.code, 1, p.describe());
  assert.match(p.stdout, /^FAIL dial WSC_EHANDSHAKE.*answered 308 Moved, a redirect to \/new \(not followed: set max_redirects\) status=308$/m);
  assert.equal(a.seen.length, 1);
});

test('more redirects than max_redirects: too many redirects', T, async (t) => {
  const a = await redirectServer(t, { '/loop': [302, '/loop'] });
  const p = await runClient(t, `ws://127.0.0.1:${a.port}/loop`, ['close:1000:'], { opts: ['--max-redirects', '3'] });
  assert.equal(p.exitInfo.code, 1, p.describe());
  assert.match(p.stdout, /^FAIL dial WSC_EHANDSHAKE.*too many redirects: 3 followed, then .* answered 302 to \/loop status=302$/m);
  assert.equal(a.seen.length, 4, 'the first request and three redirects');
});

test('a redirect without a Location fails the dial', T, async (t) => {
  const a = await redirectServer(t, { '/': [302, null] });
  const p = await runClient(t, `ws://127.0.0.1:${a.port}/`, ['close:1000:'], { opts: ['--max-redirects', '3'] });
  assert.match(p.stdout, /^FAIL dial WSC_EHANDSHAKE.*answered 302, a redirect without a Location/m, p.describe());
});

test('never from wss to ws; from ws to wss yes', T, async (t) => {
  const pki = makePki();
  const tls = { cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) };
  const plain = await redirectServer(t, {});
  const secure = await redirectServer(t, { '/down': [302, `ws://127.0.0.1:${plain.port}/x`] }, tls);
  const down = await runClient(t, `wss://localhost:${secure.port}/down`, ['close:1000:'],
    { opts: ['--max-redirects', '3', '--ca', pki.caFile] });
  assert.match(down.stdout, /^FAIL dial WSC_EHANDSHAKE.*refused the redirect from wss:\/\/localhost:\d+\/down to ws:\/\/127\.0\.0\.1:\d+\/x: it would drop TLS/m,
    down.describe());
  assert.equal(plain.seen.length, 0, 'nothing sent in plain text');

  const up = await redirectServer(t, { '/up': [301, `wss://localhost:${secure.port}/secure`] });
  const p = await runClient(t, `ws://127.0.0.1:${up.port}/up`, ['send-text:tls', 'expect-echo', 'close:1000:'],
    { opts: ['--max-redirects', '1', '--ca', pki.caFile] });
  assertClientOk(p);
  assert.match(p.stdout, new RegExp(`^URL wss://localhost:${secure.port}/secure$`, 'm'));
});

test('the wsc tool follows redirects with --max-redirects', T, async (t) => {
  const b = await redirectServer(t, {});
  const a = await redirectServer(t, { '/a': [302, `ws://127.0.0.1:${b.port}/b`] });
  const tool = startProc(t, WSC, [`ws://127.0.0.1:${a.port}/a`, '--max-redirects', '2'], { stdin: 'pipe' });
  tool.child.stdin.end('through\n');
  await tool.wait(10000);
  assert.equal(tool.exitInfo.code, 0, tool.describe());
  assert.equal(tool.stdout, 'through\n');
  assert.deepEqual(b.seen.map((s) => s.path), ['/b']);
  const refused = startProc(t, WSC, [`ws://127.0.0.1:${a.port}/a`], { stdin: 'pipe' });
  refused.child.stdin.end('x\n');
  await refused.wait(10000);
  assert.notEqual(refused.exitInfo.code, 0, refused.describe());
  assert.match(refused.stderr, /a redirect to ws:\/\/127\.0\.0\.1:\d+\/b \(not followed: set max_redirects\)/);
});
