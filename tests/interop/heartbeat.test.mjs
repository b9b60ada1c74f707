// SPDX-License-Identifier: MIT
// Heartbeat and idle timeout (heartbeat_ms, idle_timeout_ms) against real
// peers: our client (tests/progs/client) against npm ws servers that answer
// pings or do not (autoPong: false) and stay silent; our server
// (tests/progs/echo_server) against a ws client that does not answer and a
// python websockets client that does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import {
  TEST_TIMEOUT, startWsServer, startEchoServer, runClient, assertClientOk, msgLines, WsPeer,
  withTimeout, serverClosed, runPyClient, PY_CONNECT, delay,
} from './lib.mjs';

const T = { timeout: TEST_TIMEOUT };

test('client heartbeat: pings a silent server that answers, and stays', T, async (t) => {
  const srv = await startWsServer(t);
  srv.wss.on('connection', (ws) => setTimeout(() => ws.send('done'), 800));
  const proc = await runClient(t, srv.url, ['read'], { opts: ['--heartbeat', '100'] });
  assertClientOk(proc);
  assert.equal(msgLines(proc)[0].text, 'done');
  const peer = await srv.nextConnection();
  // a ping after every 100 ms of silence: about 7 in 800 ms
  assert.ok(peer.pings.length >= 4 && peer.pings.length <= 9, `pings seen: ${peer.pings.length}`);
  assert.ok(peer.pings.every((p) => p.length === 0), 'empty payloads');
});

test('client heartbeat: a server that stops answering is cut with 1001', T, async (t) => {
  const srv = await startWsServer(t, { autoPong: false });
  const started = Date.now();
  const proc = await runClient(t, srv.url, ['read-until-close'], { opts: ['--heartbeat', '150'] });
  const took = Date.now() - started;
  assertClientOk(proc);
  assert.match(proc.stdout, /^CLOSED WSC_ECLOSED status=-1 reason=$/m);
  const peer = await srv.nextConnection();
  const closed = await peer.waitClosed();
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, /^no pong within 1[5-9]\d ms of our heartbeat ping$/);
  assert.equal(peer.pings.length, 1, 'one ping, then the end');
  assert.ok(took < 5000, `cut after ${took} ms`);
});

test('client idle timeout without heartbeat: a silent server is cut, a chatty one is not', T, async (t) => {
  const srv = await startWsServer(t);
  const proc = await runClient(t, srv.url, ['read-until-close'], { opts: ['--idle', '300'] });
  assertClientOk(proc);
  assert.match(proc.stdout, /^CLOSED WSC_ECLOSED status=-1 reason=$/m);
  const peer = await srv.nextConnection();
  const closed = await peer.waitClosed();
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, /^nothing received for 3\d\d ms \(idle timeout\)$/);
  assert.equal(peer.pings.length, 0, 'no pings without heartbeat_ms');

  // messages every 100 ms keep it open past the idle timeout
  const srv2 = await startWsServer(t);
  srv2.wss.on('connection', (ws) => {
    let n = 0;
    const timer = setInterval(() => ws.send(n === 8 ? 'last' : `tick ${n}`, () => {}) || n++, 100);
    ws.on('close', () => clearInterval(timer));
  });
  const steps = Array(9).fill('read');
  const proc2 = await runClient(t, srv2.url, steps, { opts: ['--idle', '300'] });
  assertClientOk(proc2);
  assert.equal(msgLines(proc2).at(-1).text, 'last');
});

test('server heartbeat: a ws client that does not answer pings is cut with 1001', T, async (t) => {
  const srv = await startEchoServer(t, ['--heartbeat', '100']);
  const ws = new WebSocket(srv.url, { perMessageDeflate: false, autoPong: false });
  t.after(() => ws.terminate());
  const peer = new WsPeer(ws);
  await withTimeout(new Promise((r) => ws.once('open', r)), 5000, 'open');
  const closed = await peer.waitClosed(5000);
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, /^no pong within \d+ ms of our heartbeat ping$/);
  assert.equal(peer.pings.length, 1);
  const server = await serverClosed(srv);
  assert.deepEqual([server.err, server.status], ['WSC_ECLOSED', -1]);
});

test('server heartbeat: python answers the pings and stays through a silence', T, async (t) => {
  const srv = await startEchoServer(t, ['--heartbeat', '100']);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await asyncio.sleep(1.0)
    await ws.send('still here')
    out('ECHO', await ws.recv())
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['ECHO still here']);
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
});

test('server idle timeout: a ws client that answers pings but sends nothing is cut', T, async (t) => {
  // The idle timeout counts anything received, pongs included: without our
  // own pings, a silent client is idle.
  const srv = await startEchoServer(t, ['--idle', '300']);
  const ws = new WebSocket(srv.url, { perMessageDeflate: false });
  t.after(() => ws.terminate());
  const peer = new WsPeer(ws);
  await withTimeout(new Promise((r) => ws.once('open', r)), 5000, 'open');
  await delay(150);
  await peer.send('keep');          // resets the clock
  assert.equal((await peer.nextMessage()).data.toString(), 'keep');
  const closed = await peer.waitClosed(5000);
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, /^nothing received for 3\d\d ms \(idle timeout\)$/);
});
