// SPDX-License-Identifier: MIT
// Our client (tests/progs/client) against a python3-websockets 10.4 server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TEST_TIMEOUT, pattern, fnv1a, startPyServer, pyServerClosed, runClient,
  assertClientOk, assertClientFail, msgLines, closedLine,
} from './lib.mjs';

const T = { timeout: TEST_TIMEOUT };

// Echoes every message, printing "GOT <text|binary> <len> <fnv>" for each.
const ECHO = `
async for msg in ws:
    b = msg.encode() if isinstance(msg, str) else msg
    out('GOT', 'text' if isinstance(msg, str) else 'binary', len(b), fnv(b))
    await ws.send(msg)
`;

function gotLines(proc) {
  return [...proc.stdout.matchAll(/^GOT (\S+) (\d+) (\S+)$/gm)].map((m) => ({ type: m[1], len: Number(m[2]), fnv: m[3] }));
}

test('text, binary, empty and boundary sizes echo', T, async (t) => {
  const srv = await startPyServer(t, ECHO);
  const sizes = [125, 126, 65535, 65536, 1 << 20];
  const c = await runClient(t, srv.url, [
    'send-text:hello', 'expect-echo',
    'send-text:\u00fcnic\u00f8de \u2603', 'expect-echo',
    'send-text:', 'expect-echo',
    'send-bin:0', 'expect-echo',
    ...sizes.flatMap((n) => [`send-bin:${n}`, 'expect-echo']),
    'close:1000:',
  ], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  const got = gotLines(srv.proc);
  assert.deepEqual(got.slice(0, 4), [
    { type: 'text', len: 5, fnv: fnv1a(Buffer.from('hello')) },
    { type: 'text', len: Buffer.byteLength('\u00fcnic\u00f8de \u2603'), fnv: fnv1a(Buffer.from('\u00fcnic\u00f8de \u2603')) },
    { type: 'text', len: 0, fnv: fnv1a(Buffer.alloc(0)) },
    { type: 'binary', len: 0, fnv: fnv1a(Buffer.alloc(0)) },
  ]);
  assert.deepEqual(got.slice(4), sizes.map((n) => ({ type: 'binary', len: n, fnv: fnv1a(pattern(n)) })));
  assert.deepEqual(await pyServerClosed(srv), { code: 1000, reason: '' });
});

test('our fragmented message is reassembled by python', T, async (t) => {
  const srv = await startPyServer(t, ECHO);
  const c = await runClient(t, srv.url, ['send-frag:5:70000', 'expect-echo', 'close:1000:'], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  assert.deepEqual(gotLines(srv.proc), [{ type: 'binary', len: 70000, fnv: fnv1a(pattern(70000)) }]);
});

test('fragmented messages from python', T, async (t) => {
  const srv = await startPyServer(t, `
await ws.send(['ab', 'cd', 'ef'])
await ws.send([pattern(100000)[i:i + 25000] for i in range(0, 100000, 25000)])
await ws.recv()
`);
  const c = await runClient(t, srv.url, ['read', 'read', 'send-text:done', 'close:1000:'], { opts: ['--read-limit', '-1'] });
  assertClientOk(c);
  assert.deepEqual(msgLines(c), [
    { type: 'text', len: 6, fnv: fnv1a(Buffer.from('abcdef')), text: 'abcdef' },
    { type: 'binary', len: 100000, fnv: fnv1a(pattern(100000)), text: '' },
  ]);
});

test('python pings us: we answer with a pong', T, async (t) => {
  const srv = await startPyServer(t, `
waiter = await ws.ping(b'py-ping')
await asyncio.wait_for(waiter, 5)
await ws.send('got-pong')
await ws.recv()
`);
  const c = await runClient(t, srv.url, ['read', 'close:1000:']);
  assertClientOk(c);
  assert.equal(msgLines(c)[0]?.text, 'got-pong', `${c.stdout}\n${srv.proc.stderr}`);
});

test('we ping python: wsc_ping returns once the pong arrives', T, async (t) => {
  const srv = await startPyServer(t, ECHO);
  const c = await runClient(t, srv.url, ['ping', 'close:1000:']);
  assertClientOk(c);
  assert.match(c.stdout, /^PONG$/m);
});

test('we close with 4000 "bye": python sees 4000 "bye"', T, async (t) => {
  const srv = await startPyServer(t, ECHO);
  const c = await runClient(t, srv.url, ['send-text:x', 'expect-echo', 'close:4000:bye']);
  assertClientOk(c);
  assert.deepEqual(await pyServerClosed(srv), { code: 4000, reason: 'bye' });
  assert.match(c.stdout, /^CLOSE status=4000 reason=bye$/m, 'python echoes the close code');
});

test('python closes with 4001 "x": we report status=4001 reason=x', T, async (t) => {
  const srv = await startPyServer(t, `await ws.close(4001, 'x')`);
  const c = await runClient(t, srv.url, ['read-until-close']);
  assertClientOk(c);
  assert.deepEqual(closedLine(c.stdout), { err: 'WSC_ECLOSED', status: 4001, reason: 'x' });
});

test('read limit: limit+1 bytes from python closes with 1009', T, async (t) => {
  const srv = await startPyServer(t, `
await ws.send(pattern(1000))
await ws.send(pattern(1001))
await ws.wait_closed()
`);
  const c = await runClient(t, srv.url, ['read', 'read-until-close'], { opts: ['--read-limit', '1000'] });
  assertClientOk(c);
  assert.equal(msgLines(c)[0]?.len, 1000, c.stdout);
  assert.equal(closedLine(c.stdout)?.err, 'WSC_EMSGSIZE', c.stdout);
  assert.equal((await pyServerClosed(srv)).code, 1009, srv.proc.describe());
});

test('subprotocol negotiation', T, async (t) => {
  const srv = await startPyServer(t, `
await ws.send(ws.subprotocol or '')
await ws.recv()
`, "subprotocols=['chat2', 'chat1']");
  const c1 = await runClient(t, srv.url, ['read', 'close:1000:'], { opts: ['--subprotocol', 'chat1', '--subprotocol', 'chat2'] });
  assertClientOk(c1);
  assert.match(c1.stdout, /^CONNECTED subprotocol=chat(1|2) extensions=$/m);
  const chosen = c1.stdout.match(/^CONNECTED subprotocol=(\S+) extensions=$/m)[1];
  assert.equal(msgLines(c1)[0]?.text, chosen, 'both sides agree');
  const c2 = await runClient(t, srv.url, ['read', 'close:1000:'], { opts: ['--subprotocol', 'other'] });
  assertClientOk(c2);
  assert.match(c2.stdout, /^CONNECTED subprotocol= extensions=$/m);
});

test('custom headers and the request target reach python', T, async (t) => {
  const srv = await startPyServer(t, `
await ws.send(json.dumps([ws.path, ws.request_headers.get('X-Test'), ws.request_headers.get('Authorization')]))
await ws.recv()
`);
  const c = await runClient(t, `${srv.url}/p/q?x=1`, ['read', 'close:1000:'],
    { opts: ['--header', 'X-Test: hello world', '--header', 'Authorization: Bearer abc'] });
  assertClientOk(c);
  assert.deepEqual(JSON.parse(msgLines(c)[0].text), ['/p/q?x=1', 'hello world', 'Bearer abc']);
});

test('a refused upgrade fails the dial with the HTTP status', T, async (t) => {
  // python refuses requests without an allowed Origin (ours sends none) with 403
  const srv = await startPyServer(t, 'pass', "origins=['http://only.example']");
  const c = await runClient(t, srv.url, ['close:1000:']);
  assertClientFail(c, 'dial', 'WSC_EHANDSHAKE');
  assert.match(c.stdout, /status=403/);
});
