// SPDX-License-Identifier: MIT
// Our client (tests/progs/client) against our server (tests/progs/echo_server),
// and the native examples against each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BUILD, TEST_TIMEOUT, MiB, pattern, fnv1a, startEchoServer, serverClosed, runClient,
  assertClientOk, assertClientFail, msgLines, closedLine, startProc, nLines,
} from './lib.mjs';

const T = { timeout: TEST_TIMEOUT };

test('text, binary, empty and boundary sizes echo', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const sizes = [125, 126, 127, 65535, 65536, MiB];
  const c = await runClient(t, srv.url, [
    'send-text:hello', 'expect-echo',
    'send-text:h\u00e9llo \u2603', 'expect-echo',
    'send-text:', 'expect-echo',
    'send-bin:0', 'expect-echo',
    ...sizes.flatMap((n) => [`send-bin:${n}`, 'expect-echo']),
    'close:1000:',
  ], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  assert.match(c.stdout, /^CLOSE status=1000 reason=$/m);
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
});

test('16 MiB binary message both ways', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', String(16 * MiB)]);
  const c = await runClient(t, srv.url, ['send-bin:16777216', 'expect-echo', 'close:1000:'],
    { opts: ['--read-limit', String(16 * MiB)] });
  assertClientOk(c);
});

test('fragmented messages both ways', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const c = await runClient(t, srv.url, [
    'send-frag:3:100000', 'expect-echo',
    'send-text:cmd:fragmented 4 10', 'read',
    'send-text:cmd:send 300', 'read',
    'close:1000:',
  ], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  assert.deepEqual(msgLines(c), [
    { type: 'text', len: 10, fnv: fnv1a(Buffer.from('xxxxxxxxxx')), text: 'xxxxxxxxxx' },
    { type: 'binary', len: 300, fnv: fnv1a(pattern(300)), text: '' },
  ]);
});

test('ping/pong both ways', T, async (t) => {
  const srv = await startEchoServer(t);
  // the server pings while our client reads
  const c1 = await runClient(t, srv.url, ['send-text:cmd:ping', 'read', 'close:1000:']);
  assertClientOk(c1);
  assert.equal(msgLines(c1)[0]?.text, 'pong-ok', c1.stdout);
  // the client pings (its pong is read by wsc_close_read's reader)
  const c2 = await runClient(t, srv.url, ['ping', 'close:1000:']);
  assertClientOk(c2);
  assert.match(c2.stdout, /^PONG$/m);
});

test('close codes and reasons both ways', T, async (t) => {
  const srv = await startEchoServer(t);
  const c1 = await runClient(t, srv.url, ['close:4000:bye']);
  assertClientOk(c1);
  assert.deepEqual(await serverClosed(srv, { which: 0 }), { err: 'WSC_ECLOSED', status: 4000, reason: 'bye' });

  const c2 = await runClient(t, srv.url, ['send-text:cmd:close 4001 x', 'read-until-close']);
  assertClientOk(c2);
  assert.deepEqual(closedLine(c2.stdout), { err: 'WSC_ECLOSED', status: 4001, reason: 'x' });
  assert.equal((await serverClosed(srv, { which: 1 })).err, 'WSC_ECLOSED');

  const reason = 'r'.repeat(123);
  const c3 = await runClient(t, srv.url, [`close:3000:${reason}`]);
  assertClientOk(c3);
  assert.deepEqual(await serverClosed(srv, { which: 2 }), { err: 'WSC_ECLOSED', status: 3000, reason });

  const c4 = await runClient(t, srv.url, [`close:3000:${reason}r`]);
  assertClientFail(c4, 'close:3000:' + reason + 'r', 'WSC_EINVAL');
});

test('close-now: the server sees an abnormal end', T, async (t) => {
  const srv = await startEchoServer(t);
  const c = await runClient(t, srv.url, ['send-text:a', 'expect-echo', 'close-now']);
  assertClientOk(c);
  const closed = await serverClosed(srv);
  assert.equal(closed.status, -1, 'no close frame was received');
  assert.ok(['WSC_ECLOSED', 'WSC_EIO'].includes(closed.err), `read error ${closed.err}`);
});

test('read limit both ways', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '1000']);
  // the client sends too much: the server closes with 1009
  const c1 = await runClient(t, srv.url, ['send-bin:1000', 'expect-echo', 'send-bin:1001', 'read-until-close']);
  assertClientOk(c1);
  const cl = closedLine(c1.stdout);
  assert.deepEqual([cl?.err, cl?.status], ['WSC_ECLOSED', 1009], c1.stdout);
  assert.equal((await serverClosed(srv, { which: 0 })).err, 'WSC_EMSGSIZE');
  // the server sends too much: the client closes with 1009
  const c2 = await runClient(t, srv.url, ['send-text:cmd:send 1000', 'read', 'send-text:cmd:send 1001', 'read-until-close'],
    { opts: ['--read-limit', '1000'] });
  assertClientOk(c2);
  assert.equal(closedLine(c2.stdout)?.err, 'WSC_EMSGSIZE', c2.stdout);
  assert.equal((await serverClosed(srv, { which: 1 })).status, 1009);
});

test('subprotocol negotiation', T, async (t) => {
  const srv = await startEchoServer(t, ['--subprotocol', 'chat2', '--subprotocol', 'chat1']);
  const c1 = await runClient(t, srv.url, ['send-text:cmd:subprotocol', 'read', 'close:1000:'],
    { opts: ['--subprotocol', 'chat1', '--subprotocol', 'chat2'] });
  assertClientOk(c1);
  assert.match(c1.stdout, /^CONNECTED subprotocol=chat2 extensions=$/m);
  assert.equal(msgLines(c1)[0]?.text, 'chat2');
  const c2 = await runClient(t, srv.url, ['close:1000:'], { opts: ['--subprotocol', 'nope'] });
  assertClientOk(c2);
  assert.match(c2.stdout, /^CONNECTED subprotocol= extensions=$/m);
});

test('custom headers reach the server', T, async (t) => {
  const srv = await startEchoServer(t);
  const c = await runClient(t, `${srv.url}/a/b?c=d`, ['send-text:cmd:headers X-Custom', 'read', 'send-text:cmd:headers x-other', 'read', 'close:1000:'],
    { opts: ['--header', 'X-Custom: some value', '--header', 'X-Other: 2'] });
  assertClientOk(c);
  assert.deepEqual(msgLines(c).map((m) => m.text), ['some value', '2']);
  assert.match(srv.proc.stdout, /^ACCEPTED \/a\/b\?c=d subprotocol= extensions=$/m);
});

test('a refused origin fails the dial with 403', T, async (t) => {
  const srv = await startEchoServer(t, ['--origin', 'good.example']);
  const c = await runClient(t, srv.url, ['close:1000:'], { opts: ['--header', 'Origin: http://evil.example'] });
  assertClientFail(c, 'dial', 'WSC_EHANDSHAKE');
  assert.match(c.stdout, /status=403/);
  await srv.proc.waitFor(/^ACCEPT_FAIL /m, { stream: 'stderr' });
  const ok = await runClient(t, srv.url, ['close:1000:'], { opts: ['--header', 'Origin: http://good.example'] });
  assertClientOk(ok);
});

test('a server that is not there fails with WSC_ECONNECT', T, async (t) => {
  const srv = await startEchoServer(t, ['--max-conns', '1']);
  const c0 = await runClient(t, srv.url, ['close:1000:']);
  assertClientOk(c0);
  const ex = await srv.proc.wait(5000);
  assert.equal(ex.code, 0, '--max-conns 1 exits after one connection');
  const c = await runClient(t, srv.url, ['close:1000:']);
  assertClientFail(c, 'dial', 'WSC_ECONNECT');
});

test('examples/producer_client against examples/echo_server: backpressure with wsc_buffered_amount', T, async (t) => {
  const srv = startProc(t, path.join(BUILD, 'examples/echo_server'), ['0']);
  const port = Number((await srv.waitFor(/^listening on ws:\/\/127\.0\.0\.1:(\d+)\//m, { ms: 5000 }))[1]);
  // limit 0: every write waits for the queue to be empty; 30000-byte
  // messages fill the socket, so the queue is really used
  for (const [count, size, limit] of [[2000, 16384, 262144], [2000, 30000, 0]]) {
    const p = startProc(t, path.join(BUILD, 'examples/producer_client'),
      [`ws://127.0.0.1:${port}/`, String(count), String(size), String(limit)]);
    await p.wait(30000);
    assert.equal(p.exitInfo.code, 0, p.describe());
    const m = p.stdout.match(new RegExp(`^sent ${count} messages of ${size} bytes, ${count} echoes checked, ` +
      `at most (\\d+) bytes queued \\(limit ${limit}\\)$`, 'm'));
    assert.ok(m, p.describe());
    assert.ok(Number(m[1]) <= limit + size + 14, `the queue stayed within a message of the limit\n${p.describe()}`);
  }
  await srv.waitFor(nLines(/client closed normally/gm, 2));
});
