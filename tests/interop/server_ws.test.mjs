// SPDX-License-Identifier: MIT
// A `ws` client (and raw HTTP requests) against our server (tests/progs/echo_server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import {
  TEST_TIMEOUT, MiB, pattern, startEchoServer, serverClosed, connectWs, wsRefused,
  rawRequest, upgradeRequest, nLines, withTimeout, WsPeer,
} from './lib.mjs';
import { makePki } from './certs.mjs';
import { WebSocket } from 'ws';

const T = { timeout: TEST_TIMEOUT };

async function expectEcho(peer, data, binary) {
  await peer.send(data, { binary });
  const m = await peer.nextMessage();
  assert.equal(m.isBinary, binary, `type of the echo of ${data.length} bytes`);
  assert.ok(m.data.equals(Buffer.from(data)), `echo of ${data.length} bytes should be identical`);
}

test('text, binary and empty messages echo', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, srv.url);
  await expectEcho(peer, 'hello', false);
  await expectEcho(peer, 'h\u00e9llo w\u00f6rld \u2603', false);
  await expectEcho(peer, pattern(10), true);
  await expectEcho(peer, '', false);
  await expectEcho(peer, Buffer.alloc(0), true);
  peer.ws.close(1000);
  assert.equal((await peer.waitClosed()).code, 1000);
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
});

test('frame size boundaries 125/126/127/65535/65536 and 1 MiB echo', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const peer = await connectWs(t, srv.url);
  for (const n of [125, 126, 127, 65535, 65536, MiB]) await expectEcho(peer, pattern(n), true);
  await expectEcho(peer, 'y'.repeat(65536), false);
});

test('16 MiB binary message both ways', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', String(16 * MiB)]);
  const peer = await connectWs(t, srv.url, [], { maxPayload: 32 * MiB });
  await expectEcho(peer, pattern(16 * MiB), true);
});

test('fragmented messages from ws are reassembled', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const peer = await connectWs(t, srv.url);
  peer.ws.send('ab', { fin: false });
  peer.ws.send('cd', { fin: false });
  peer.ws.send('ef', { fin: true });
  let m = await peer.nextMessage();
  assert.deepEqual([m.isBinary, m.data.toString()], [false, 'abcdef']);

  // binary in 4 fragments with a ping between them: the pong must come back
  const big = pattern(200000);
  const pong = peer.pingPong(Buffer.from('mid'));
  peer.ws.send(big.subarray(0, 1), { binary: true, fin: false });
  peer.ws.send(big.subarray(1, 100000), { binary: true, fin: false });
  peer.ws.send(big.subarray(100000, 199999), { binary: true, fin: false });
  peer.ws.send(big.subarray(199999), { binary: true, fin: true });
  m = await peer.nextMessage();
  assert.ok(m.isBinary && m.data.equals(big), 'binary fragments reassembled');
  await pong;

  // a UTF-8 character split across fragments
  const snow = Buffer.from('\u2603');
  peer.ws.send(snow.subarray(0, 1), { binary: false, fin: false });
  peer.ws.send(snow.subarray(1), { binary: false, fin: true });
  m = await peer.nextMessage();
  assert.deepEqual([m.isBinary, m.data.toString()], [false, '\u2603']);
});

test('our writer API sends fragments that ws reassembles', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, srv.url);
  await peer.send('cmd:fragmented 5 100000');
  let m = await peer.nextMessage();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.length, 100000);
  assert.ok(m.data.equals(Buffer.alloc(100000, 'x')));
  await peer.send('cmd:fragmented 1 0');
  m = await peer.nextMessage();
  assert.deepEqual([m.isBinary, m.data.length], [false, 0]);
  await peer.send('cmd:send 65536');
  m = await peer.nextMessage();
  assert.ok(m.isBinary && m.data.equals(pattern(65536)), 'cmd:send pattern');
});

test('ws pings us: the pong carries the payload', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, srv.url);
  await peer.pingPong(Buffer.from('ping-1'));
  await peer.pingPong(Buffer.alloc(0));
  await peer.pingPong(pattern(125));
});

test('we ping ws: wsc_ping returns once the pong arrives', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, srv.url);
  await peer.send('cmd:ping');
  const m = await peer.nextMessage();
  assert.equal(m.data.toString(), 'pong-ok');
  assert.equal(peer.pings.length, 1, 'ws saw one ping');
});

test('we close with 4000 "bye": ws sees 4000 "bye"', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, srv.url);
  await peer.send('cmd:close 4000 bye');
  assert.deepEqual(await peer.waitClosed(), { code: 4000, reason: 'bye' });
  // ws answers with the same code and reason
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 4000, reason: 'bye' });
});

test('ws closes with 4001 "x": the server reports status=4001 reason=x', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, srv.url);
  await expectEcho(peer, 'before', false);
  peer.ws.close(4001, 'x');
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 4001, reason: 'x' });
  assert.equal((await peer.waitClosed()).code, 4001, 'we answer the close with its code');
});

test('read limit: limit bytes pass, limit+1 closes with 1009', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '1000']);
  const peer = await connectWs(t, srv.url);
  await expectEcho(peer, pattern(1000), true);
  await peer.send(pattern(1001));
  assert.equal((await peer.waitClosed()).code, 1009, 'ws should see close code 1009');
  assert.equal((await serverClosed(srv)).err, 'WSC_EMSGSIZE');
});

test('read limit applies to the whole fragmented message', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '1000']);
  const peer = await connectWs(t, srv.url);
  peer.ws.send(pattern(600), { binary: true, fin: false });
  peer.ws.send(pattern(600), { binary: true, fin: true });
  assert.equal((await peer.waitClosed()).code, 1009);
  assert.equal((await serverClosed(srv)).err, 'WSC_EMSGSIZE');
});

test('subprotocol negotiation follows the server preference', T, async (t) => {
  const srv = await startEchoServer(t, ['--subprotocol', 'chat2', '--subprotocol', 'chat1']);
  const peer = await connectWs(t, srv.url, ['chat1', 'chat2']);
  assert.equal(peer.ws.protocol, 'chat2');
  await peer.send('cmd:subprotocol');
  assert.equal((await peer.nextMessage()).data.toString(), 'chat2');
  const peer2 = await connectWs(t, srv.url, ['chat1', 'other']);
  assert.equal(peer2.ws.protocol, 'chat1');
  const peer3 = await connectWs(t, srv.url);
  assert.equal(peer3.ws.protocol, '');
  await peer3.send('cmd:subprotocol');
  assert.equal((await peer3.nextMessage()).data.toString(), '');
  // nothing in common: 101 without a Sec-WebSocket-Protocol header
  const r = await rawRequest(srv.port, upgradeRequest(srv.port, { 'Sec-WebSocket-Protocol': 'other, more' }));
  assert.equal(r.status, 101, r.raw);
  assert.equal(r.headers['sec-websocket-protocol'], undefined, r.raw);
});

test('request headers are visible to the server', T, async (t) => {
  const srv = await startEchoServer(t);
  const peer = await connectWs(t, `${srv.url}/chat/room?id=7`, [], { headers: { 'X-Custom': 'value 1', Authorization: 'Bearer t0k' } });
  const ask = async (cmd) => { await peer.send(cmd); return (await peer.nextMessage()).data.toString(); };
  assert.equal(await ask('cmd:headers X-Custom'), 'value 1');
  assert.equal(await ask('cmd:headers x-custom'), 'value 1', 'names are case-insensitive');
  assert.equal(await ask('cmd:headers Authorization'), 'Bearer t0k');
  assert.equal(await ask('cmd:headers X-Missing'), '(null)');
  assert.match(srv.proc.stdout, /^ACCEPTED \/chat\/room\?id=7 subprotocol= extensions=$/m);
});

test('the 101 response is well formed', T, async (t) => {
  const srv = await startEchoServer(t);
  const r = await rawRequest(srv.port, upgradeRequest(srv.port));
  assert.equal(r.status, 101, r.raw);
  assert.equal(r.headers.upgrade?.toLowerCase(), 'websocket');
  assert.equal(r.headers.connection?.toLowerCase(), 'upgrade');
  // RFC 6455 section 1.3 example key and accept value
  assert.equal(r.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.equal(r.headers['sec-websocket-extensions'], undefined, 'no extension negotiated');
});

test('a refused origin gets 403', T, async (t) => {
  const srv = await startEchoServer(t, ['--origin', 'good.example']);
  const refused = await wsRefused(t, srv.url, [], { origin: 'http://evil.example' });
  assert.equal(refused.status, 403);
  const raw = await rawRequest(srv.port, upgradeRequest(srv.port, { Origin: 'http://evil.example' }));
  assert.equal(raw.status, 403, raw.raw);
  await srv.proc.waitFor(/ACCEPT_FAIL/, { stream: 'stderr' });
  // allowed: a matching pattern, the request's own host, no Origin at all
  const good = await connectWs(t, srv.url, [], { origin: 'http://good.example' });
  good.ws.close(1000);
  const same = await connectWs(t, srv.url, [], { origin: `http://127.0.0.1:${srv.port}` });
  same.ws.close(1000);
  const none = await rawRequest(srv.port, upgradeRequest(srv.port));
  assert.equal(none.status, 101);
});

test('a Host not in --allow-host gets 403 even with a matching Origin (DNS rebinding)', T, async (t) => {
  const srv = await startEchoServer(t, ['--allow-host', '127.0.0.1', '--allow-host', 'chat.test']);
  // A page of evil.example whose name now resolves to us: Host and Origin agree.
  const refused = await wsRefused(t, srv.url, [], { headers: { Host: `evil.example:${srv.port}` },
    origin: `http://evil.example:${srv.port}` });
  assert.equal(refused.status, 403);
  const raw = await rawRequest(srv.port, upgradeRequest(srv.port, { Host: 'evil.example' }));
  assert.equal(raw.status, 403, raw.raw);
  assert.match(raw.raw, /Host "evil\.example" is not a name this server answers to/);
  await srv.proc.waitFor(/ACCEPT_FAIL WSC_EHANDSHAKE.*evil\.example/, { stream: 'stderr' });
  // allowed: a listed name with or without a port, and its same-origin page
  const ip = await connectWs(t, srv.url, [], { origin: `http://127.0.0.1:${srv.port}` });
  ip.ws.close(1000);
  const named = await connectWs(t, srv.url, [], { headers: { Host: `chat.test:${srv.port}` },
    origin: `http://chat.test:${srv.port}` });
  named.ws.close(1000);
  assert.equal((await rawRequest(srv.port, upgradeRequest(srv.port, { Host: 'CHAT.test' }))).status, 101);
});

test('accept hook: 401 with WWW-Authenticate and a JSON body, or in with its subprotocol and header', T, async (t) => {
  const srv = await startEchoServer(t, ['--require-token', 's3cret', '--pick-last-subprotocol']);
  const refused = await wsRefused(t, srv.url, ['a', 'b']);
  assert.equal(refused.status, 401);
  assert.equal(refused.headers['www-authenticate'], 'Bearer realm="echo"');
  assert.equal(refused.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(refused.body), { error: 'a bearer token is required' });
  await srv.proc.waitFor(/ACCEPT_FAIL WSC_EHANDSHAKE .*the accept hook refused the upgrade with 401/,
    { stream: 'stderr' });
  const wrong = await wsRefused(t, srv.url, [], { headers: { Authorization: 'Bearer s3cre' } });
  assert.equal(wrong.status, 401);

  const ws = new WebSocket(srv.url + '/room?x=1', ['chat.v1', 'chat.v2', 'mqtt'],
    { perMessageDeflate: false, headers: { Authorization: 'Bearer s3cret' } });
  const peer = new WsPeer(ws);
  t.after(() => ws.terminate());
  let upgrade;
  ws.once('upgrade', (res) => { upgrade = res; });
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected ${res.statusCode}`)));
  }), 5000, 'open');
  assert.equal(ws.protocol, 'mqtt', 'the hook chose the last offered subprotocol');
  const port = ws._socket.localPort;
  assert.equal(upgrade.headers['x-peer'], `127.0.0.1:${port}`, 'the hook saw the peer address');
  await srv.proc.waitFor(new RegExp(`^HOOK /room\\?x=1 peer=127\\.0\\.0\\.1:${port} tls=0 offered=chat\\.v1,chat\\.v2,mqtt$`, 'm'));
  await peer.send('cmd:subprotocol');
  assert.equal((await peer.nextMessage()).data.toString(), 'mqtt');
  await expectEcho(peer, 'after the hook', false);
  // browsers cannot set headers: the token in the query
  const q = await connectWs(t, `${srv.url}/?token=s3cret`);
  await expectEcho(q, 'query', false);
});

test('accept hook over TLS, the first bytes of the ClientHello read by the server (--peek)', T, async (t) => {
  const pki = makePki();
  const srv = await startEchoServer(t, ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile,
    '--require-token', 'tok', '--peek', '5']);
  const url = `wss://127.0.0.1:${srv.port}`;
  const refused = await wsRefused(t, url, [], { ca: fs.readFileSync(pki.caFile) });
  assert.equal(refused.status, 401);
  assert.deepEqual(JSON.parse(refused.body), { error: 'a bearer token is required' });
  const peer = await connectWs(t, url, [], { ca: fs.readFileSync(pki.caFile), headers: { Authorization: 'Bearer tok' } });
  await expectEcho(peer, pattern(30000), true);
  await srv.proc.waitFor(/^HOOK \/ peer=127\.0\.0\.1:\d+ tls=1 offered=$/m);
  peer.ws.close(1000);
  assert.equal((await peer.waitClosed()).code, 1000);
});

test('wsc_group_close: every connection closed with 1001; later ones too', T, async (t) => {
  const srv = await startEchoServer(t);
  const peers = [];
  for (let i = 0; i < 5; i++) peers.push(await connectWs(t, srv.url));
  // in the group: the server says ACCEPTED after wsc_group_add (a client's
  // open can come first)
  await srv.proc.waitFor(nLines(/^ACCEPTED /gm, 5));
  peers[2].ws.send('cmd:shutdown 5000');
  const closes = await Promise.all(peers.map((p) => p.waitClosed()));
  for (const c of closes) assert.deepEqual(c, { code: 1001, reason: 'server shutting down' });
  await srv.proc.waitFor(/^SHUTDOWN OK 5$/m);
  // a connection accepted after the shutdown began is closed at once
  const late = await connectWs(t, srv.url);
  assert.deepEqual(await late.waitClosed(), { code: 1001, reason: 'server shutting down' });
});

test('wsc_group_close: a peer that never answers the close is cut at the deadline', T, async (t) => {
  const srv = await startEchoServer(t);
  const silent = net.connect(srv.port, '127.0.0.1');
  let got = Buffer.alloc(0);
  silent.on('data', (d) => { got = Buffer.concat([got, d]); });
  const ended = new Promise((r) => silent.on('close', r));
  silent.write(upgradeRequest(srv.port));
  await srv.proc.waitFor(/^ACCEPTED /m);
  const ws = await connectWs(t, srv.url);
  const started = Date.now();
  ws.ws.send('cmd:shutdown 1000');
  assert.deepEqual(await ws.waitClosed(), { code: 1001, reason: 'server shutting down' });
  await srv.proc.waitFor(/^SHUTDOWN WSC_ETIMEDOUT 2$/m, { ms: 5000 });
  await withTimeout(ended, 3000, 'the silent peer\'s socket closed');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 4000, `cut after the 1000 ms deadline, not ${elapsed} ms`);
  // it got the 101, then our close frame (1001), then the end
  const i = got.indexOf('\r\n\r\n') + 4;
  assert.equal(got[i], 0x88, `a close frame after the 101: ${got.subarray(i).toString('hex')}`);
  assert.equal(got.readUInt16BE(i + 2), 1001);
});

test('origin patterns: globs and scheme://host', T, async (t) => {
  const srv = await startEchoServer(t, ['--origin', '*.good.example', '--origin', 'https://exact.example']);
  const status = async (origin) => (await rawRequest(srv.port, upgradeRequest(srv.port, { Origin: origin }))).status;
  assert.equal(await status('https://a.good.example'), 101);
  assert.equal(await status('http://A.GOOD.EXAMPLE'), 101, 'case-insensitive');
  assert.equal(await status('https://exact.example'), 101);
  assert.equal(await status('http://exact.example'), 403, 'scheme must match');
  assert.equal(await status('https://good.example.evil.example'), 403);
});

test('a wrong version gets 426 with Sec-WebSocket-Version: 13', T, async (t) => {
  const srv = await startEchoServer(t);
  const r = await rawRequest(srv.port, upgradeRequest(srv.port, { 'Sec-WebSocket-Version': '8' }));
  assert.equal(r.status, 426, r.raw);
  assert.equal(r.headers['sec-websocket-version'], '13', r.raw);
  await srv.proc.waitFor(/ACCEPT_FAIL/, { stream: 'stderr' });
});

test('malformed requests: 405 for POST, 400 without a key', T, async (t) => {
  const srv = await startEchoServer(t);
  const post = await rawRequest(srv.port, upgradeRequest(srv.port, {}, { method: 'POST' }));
  assert.equal(post.status, 405, post.raw);
  const nokey = await rawRequest(srv.port, upgradeRequest(srv.port, { 'Sec-WebSocket-Key': null }));
  assert.equal(nokey.status, 400, nokey.raw);
});

test('concurrent connections are served independently', T, async (t) => {
  const srv = await startEchoServer(t);
  const peers = await Promise.all([0, 1, 2, 3, 4].map(() => connectWs(t, srv.url)));
  await Promise.all(peers.map(async (peer, i) => {
    for (let k = 0; k < 20; k++) await expectEcho(peer, `conn ${i} msg ${k}`, false);
  }));
  peers.forEach((peer, i) => peer.ws.close(4000 + i, `c${i}`));
  await srv.proc.waitFor(nLines(/^CLOSED .*$/gm, 5));
  const closed = [...srv.proc.stdout.matchAll(/^CLOSED (\S+) status=(\d+) reason=(.*)$/gm)]
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
  assert.deepEqual(closed, [0, 1, 2, 3, 4].map((i) => `WSC_ECLOSED ${4000 + i} c${i}`));
});
