// SPDX-License-Identifier: MIT
// Our client (tests/progs/client) against a `ws` WebSocketServer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TEST_TIMEOUT, MiB, pattern, fnv1a, startWsServer, runClient, assertClientOk,
  assertClientFail, msgLines, closedLine,
} from './lib.mjs';

const T = { timeout: TEST_TIMEOUT };

/** A ws server echoing every message with the same type; records them. */
async function echoServer(t, options = {}) {
  const received = [];
  const srv = await startWsServer(t, options, (peer) => {
    peer.ws.on('message', (data, isBinary) => {
      received.push({ data: Buffer.from(data), isBinary });
      peer.ws.send(data, { binary: isBinary });
    });
  });
  srv.received = received;
  return srv;
}

test('text, binary and empty messages echo', T, async (t) => {
  const srv = await echoServer(t);
  const c = await runClient(t, srv.url, [
    'send-text:hello', 'expect-echo',
    'send-text:h\u00e9llo w\u00f6rld \u2603', 'expect-echo',
    'send-bin:10', 'expect-echo',
    'send-text:', 'expect-echo',
    'send-bin:0', 'expect-echo',
    'close:1000:',
  ]);
  assertClientOk(c);
  assert.match(c.stdout, /^CONNECTED subprotocol= extensions=$/m);
  const r = srv.received;
  assert.equal(r.length, 5, 'the ws server should get 5 messages');
  assert.deepEqual(r.map((m) => m.isBinary), [false, false, true, false, true]);
  assert.equal(r[0].data.toString(), 'hello');
  assert.equal(r[1].data.toString(), 'h\u00e9llo w\u00f6rld \u2603');
  assert.deepEqual(r[2].data, pattern(10));
  assert.equal(r[3].data.length, 0);
  assert.equal(r[4].data.length, 0);
});

test('frame size boundaries 125/126/65535/65536 and 1 MiB echo', T, async (t) => {
  const srv = await echoServer(t);
  const sizes = [125, 126, 127, 65535, 65536, MiB];
  const steps = sizes.flatMap((n) => [`send-bin:${n}`, 'expect-echo']);
  const c = await runClient(t, srv.url, [...steps, 'close:1000:'], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  assert.deepEqual(srv.received.map((m) => m.data.length), sizes);
  for (const m of srv.received) assert.ok(m.data.equals(pattern(m.data.length)), `payload of ${m.data.length} bytes`);
});

test('16 MiB binary message both ways', T, async (t) => {
  const srv = await echoServer(t, { maxPayload: 32 * MiB });
  const c = await runClient(t, srv.url, ['send-bin:16777216', 'expect-echo', 'close:1000:'],
    { opts: ['--read-limit', String(16 * MiB)] });
  assertClientOk(c);
  assert.equal(srv.received.length, 1);
  assert.equal(srv.received[0].data.length, 16 * MiB);
  assert.ok(srv.received[0].data.equals(pattern(16 * MiB)), 'the ws server got the right bytes');
});

test('our fragmented message is reassembled by ws', T, async (t) => {
  const srv = await echoServer(t);
  const c = await runClient(t, srv.url, ['send-frag:4:100000', 'expect-echo', 'send-frag:1:10', 'expect-echo', 'close:1000:'],
    { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  assert.equal(srv.received.length, 2);
  assert.ok(srv.received[0].data.equals(pattern(100000)));
  assert.ok(srv.received[0].isBinary);
  assert.ok(srv.received[1].data.equals(pattern(10)));
});

test('fragmented messages from ws, with a ping between fragments', T, async (t) => {
  const big = pattern(200000);
  const srv = await startWsServer(t, {}, (peer) => {
    // text in three fragments
    peer.ws.send('ab', { fin: false });
    peer.ws.send('cd', { fin: false });
    peer.ws.send('ef', { fin: true });
    // binary in 4 fragments with a ping in the middle
    peer.ws.send(big.subarray(0, 50000), { binary: true, fin: false });
    peer.ws.send(big.subarray(50000, 100000), { binary: true, fin: false });
    peer.ws.ping('mid');
    peer.ws.send(big.subarray(100000, 150000), { binary: true, fin: false });
    peer.ws.send(big.subarray(150000), { binary: true, fin: true });
  });
  const c = await runClient(t, srv.url, ['read', 'read', 'close:1000:'], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  const msgs = msgLines(c);
  assert.equal(msgs.length, 2, c.stdout);
  assert.deepEqual(msgs[0], { type: 'text', len: 6, fnv: fnv1a(Buffer.from('abcdef')), text: 'abcdef' });
  assert.deepEqual(msgs[1], { type: 'binary', len: big.length, fnv: fnv1a(big), text: '' });
  const peer = await srv.nextConnection();
  assert.equal(peer.pongs.map(String).join(), 'mid', 'our client answered the ping between fragments');
});

test('ws pings us: we answer with a pong carrying the payload', T, async (t) => {
  const srv = await startWsServer(t, {}, (peer) => {
    peer.ws.ping('hello-ping');
    peer.ws.once('pong', (d) => peer.ws.send(`got-pong:${d}`));
  });
  const c = await runClient(t, srv.url, ['read', 'close:1000:']);
  assertClientOk(c);
  assert.equal(msgLines(c)[0]?.text, 'got-pong:hello-ping', c.stdout);
});

test('we ping ws: wsc_ping returns once the pong arrives', T, async (t) => {
  const srv = await echoServer(t);
  const c = await runClient(t, srv.url, ['ping', 'close:1000:']);
  assertClientOk(c);
  assert.match(c.stdout, /^PONG$/m);
  const peer = await srv.nextConnection();
  assert.equal(peer.pings.length, 1, 'the ws server saw one ping');
});

test('wsc_send_ping and wsc_send_pong carry our payloads; ws\'s pong reaches on_pong', T, async (t) => {
  const got = [];
  const srv = await startWsServer(t, {}, (peer) => {
    peer.ws.on('ping', (d) => got.push(`ping:${d}`));
    peer.ws.on('pong', (d) => got.push(`pong:${d}`));
    peer.ws.on('message', (d, isBinary) => peer.ws.send(d, { binary: isBinary })); // after our control frames
  });
  const c = await runClient(t, srv.url, ['send-ping:are you there', 'send-pong:heartbeat', 'send-ping:',
    'send-text:sync', 'expect-echo', 'close:1000:'], { opts: ['--print-control'] });
  assertClientOk(c);
  assert.deepEqual(got, ['ping:are you there', 'pong:heartbeat', 'ping:']);
  // ws answered both pings; on_pong saw each answer, in order, before the echo
  assert.match(c.stdout, /^ON_PONG are you there\nON_PONG \n/m, c.describe());
  const big = await runClient(t, srv.url, [`send-ping:${'x'.repeat(126)}`], { opts: ['--print-control'] });
  assertClientFail(big, `send-ping:${'x'.repeat(126)}`, 'WSC_EINVAL');
  assert.match(big.stdout, /at most 125 bytes, not 126/);
});

test('on_close gets the peer\'s code and reason once, whoever closes first', T, async (t) => {
  const srv = await startWsServer(t, {}, (peer) => peer.ws.close(4001, 'server says bye'));
  const c = await runClient(t, srv.url, ['read-until-close'], { opts: ['--print-control'] });
  assertClientOk(c);
  assert.equal((c.stdout.match(/^ON_CLOSE .*$/gm) || []).join('|'), 'ON_CLOSE 4001 server says bye', c.describe());
  const echo = await echoServer(t);
  const d = await runClient(t, echo.url, ['send-text:x', 'expect-echo', 'close:4000:ours'], { opts: ['--print-control'] });
  assertClientOk(d);
  assert.equal((d.stdout.match(/^ON_CLOSE .*$/gm) || []).join('|'), 'ON_CLOSE 4000 ours', d.describe());
  const none = await startWsServer(t, {}, (peer) => peer.ws.close());
  const e = await runClient(t, none.url, ['read-until-close'], { opts: ['--print-control'] });
  assertClientOk(e);
  assert.match(e.stdout, /^ON_CLOSE 1005 $/m, e.describe());
});

test('we close with 4000 "bye": ws sees 4000 "bye"', T, async (t) => {
  const srv = await echoServer(t);
  const c = await runClient(t, srv.url, ['send-text:x', 'expect-echo', 'close:4000:bye']);
  assertClientOk(c);
  const peer = await srv.nextConnection();
  assert.deepEqual(await peer.waitClosed(), { code: 4000, reason: 'bye' });
  // ws echoes the code and reason of the close frame it received
  assert.match(c.stdout, /^CLOSE status=4000 reason=bye$/m);
});

test('ws closes with 4001 "x": we report status=4001 reason=x', T, async (t) => {
  const srv = await startWsServer(t, {}, (peer) => peer.ws.close(4001, 'x'));
  const c = await runClient(t, srv.url, ['read-until-close']);
  assertClientOk(c);
  assert.deepEqual(closedLine(c.stdout), { err: 'WSC_ECLOSED', status: 4001, reason: 'x' });
  const peer = await srv.nextConnection();
  const closed = await peer.waitClosed();
  assert.equal(closed.code, 4001, 'we answer the close with its code');
});

test('read limit: limit bytes pass, limit+1 closes with 1009', T, async (t) => {
  const srv = await startWsServer(t, {}, (peer) => {
    peer.ws.send(pattern(1000));
    peer.ws.send(pattern(1001));
  });
  const c = await runClient(t, srv.url, ['read', 'read-until-close'], { opts: ['--read-limit', '1000'] });
  assertClientOk(c);
  assert.equal(msgLines(c)[0]?.len, 1000, c.stdout);
  assert.equal(closedLine(c.stdout)?.err, 'WSC_EMSGSIZE', c.stdout);
  const peer = await srv.nextConnection();
  assert.equal((await peer.waitClosed()).code, 1009, 'ws should see close code 1009');
});

test('default read limit is 32768', T, async (t) => {
  const srv = await startWsServer(t, {}, (peer) => {
    peer.ws.send(pattern(32768));
    peer.ws.send(pattern(32769));
  });
  const c = await runClient(t, srv.url, ['read', 'read-until-close']);
  assertClientOk(c);
  assert.equal(msgLines(c)[0]?.len, 32768, c.stdout);
  assert.equal(closedLine(c.stdout)?.err, 'WSC_EMSGSIZE', c.stdout);
  const peer = await srv.nextConnection();
  assert.equal((await peer.waitClosed()).code, 1009);
});

test('subprotocol negotiation', T, async (t) => {
  const offered = [];
  const srv = await startWsServer(t, {
    handleProtocols: (protocols) => {
      offered.push([...protocols]);
      return protocols.has('chat2') ? 'chat2' : false;
    },
  });
  const c1 = await runClient(t, srv.url, ['close:1000:'], { opts: ['--subprotocol', 'chat1', '--subprotocol', 'chat2'] });
  assertClientOk(c1);
  assert.match(c1.stdout, /^CONNECTED subprotocol=chat2 extensions=$/m);
  assert.deepEqual(offered[0], ['chat1', 'chat2'], 'offered in order');
  const c2 = await runClient(t, srv.url, ['close:1000:'], { opts: ['--subprotocol', 'chat1'] });
  assertClientOk(c2);
  assert.match(c2.stdout, /^CONNECTED subprotocol= extensions=$/m);
});

test('a subprotocol we did not offer fails the dial', T, async (t) => {
  const srv = await startWsServer(t, { handleProtocols: () => 'bogus' });
  const c = await runClient(t, srv.url, ['close:1000:'], { opts: ['--subprotocol', 'chat1'] });
  assertClientFail(c, 'dial', 'WSC_EHANDSHAKE');
});

test('custom headers and the request target reach the server', T, async (t) => {
  const srv = await startWsServer(t);
  const c = await runClient(t, `${srv.url}/some/path?q=1&r=two`, ['close:1000:'], {
    opts: ['--header', 'X-Test: hello world', '--header', 'Authorization: Bearer abc123'],
  });
  assertClientOk(c);
  const peer = await srv.nextConnection();
  assert.equal(peer.req.url, '/some/path?q=1&r=two');
  assert.equal(peer.req.headers['x-test'], 'hello world');
  assert.equal(peer.req.headers.authorization, 'Bearer abc123');
  assert.equal(peer.req.headers['sec-websocket-version'], '13');
  assert.equal(peer.req.headers.host, `127.0.0.1:${srv.port}`);
});

test('a refused upgrade fails the dial with the HTTP status', T, async (t) => {
  const srv = await startWsServer(t, { verifyClient: (info, cb) => cb(false, 403, 'Forbidden') });
  const c = await runClient(t, srv.url, ['close:1000:']);
  assertClientFail(c, 'dial', 'WSC_EHANDSHAKE');
  assert.match(c.stdout, /status=403/);
});
