// SPDX-License-Identifier: MIT
// A python3-websockets 10.4 client against our server (tests/progs/echo_server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_TIMEOUT, startEchoServer, serverClosed, runPyClient, PY_CONNECT } from './lib.mjs';

const T = { timeout: TEST_TIMEOUT };

// The python helpers: out(), pattern(n), fnv(b); `url` is the server's URL.
// Each client prints one line per check and the test compares them.

test('text, binary, empty and boundary sizes echo', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    for msg in ['hello', 'h\\u00e9llo \\u2603', '', b'', pattern(10)] + [pattern(n) for n in (125, 126, 127, 65535, 65536, 1 << 20)]:
        await ws.send(msg)
        echo = await ws.recv()
        out('ECHO', type(echo).__name__, len(echo), echo == msg)
    await ws.close(1000)
`);
  const lines = py.stdout.trim().split('\n');
  assert.deepEqual(lines, [
    'ECHO str 5 True', 'ECHO str 7 True', 'ECHO str 0 True', 'ECHO bytes 0 True', 'ECHO bytes 10 True',
    'ECHO bytes 125 True', 'ECHO bytes 126 True', 'ECHO bytes 127 True', 'ECHO bytes 65535 True',
    'ECHO bytes 65536 True', `ECHO bytes ${1 << 20} True`,
  ]);
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 1000, reason: '' });
});

test('fragmented messages from python are reassembled', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await ws.send(['ab', 'cd', 'ef'])
    out('TEXT', await ws.recv())
    big = pattern(100000)
    await ws.send([big[i:i + 30000] for i in range(0, 100000, 30000)])
    out('BIN', (await ws.recv()) == big)
    async def fragments():
        for piece in ('a', 'b', '', 'c'):
            yield piece
    await ws.send(fragments())
    out('ASYNC', await ws.recv())
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['TEXT abcdef', 'BIN True', 'ASYNC abc']);
});

test('our writer API sends fragments that python reassembles', T, async (t) => {
  const srv = await startEchoServer(t);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await ws.send('cmd:fragmented 7 100000')
    m = await ws.recv()
    out('FRAG', type(m).__name__, len(m), m == 'x' * 100000)
    await ws.send('cmd:send 70000')
    m = await ws.recv()
    out('SEND', type(m).__name__, len(m), m == pattern(70000))
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['FRAG str 100000 True', 'SEND bytes 70000 True']);
});

test('ping/pong both ways', T, async (t) => {
  const srv = await startEchoServer(t);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    waiter = await ws.ping(b'from-python')
    await asyncio.wait_for(waiter, 5)
    out('PYPING ok')
    await ws.send('cmd:ping')
    out('OURPING', await ws.recv())
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['PYPING ok', 'OURPING pong-ok']);
});

test('we close with 4000 "bye": python sees 4000 "bye"', T, async (t) => {
  const srv = await startEchoServer(t);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await ws.send('cmd:close 4000 bye')
    try:
        await ws.recv()
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    out('CLOSED', ws.close_code, ws.close_reason)
`);
  assert.equal(py.stdout.trim(), 'CLOSED 4000 bye');
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 4000, reason: 'bye' });
});

test('python closes with 4001 "x": the server reports status=4001 reason=x', T, async (t) => {
  const srv = await startEchoServer(t);
  await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await ws.close(4001, 'x')
    out('CLOSED', ws.close_code)
`);
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 4001, reason: 'x' });
});

test('read limit: limit+1 bytes from python closes with 1009', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '1000']);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await ws.send(pattern(1000))
    out('ECHO', (await ws.recv()) == pattern(1000))
    await ws.send(pattern(1001))
    try:
        await ws.recv()
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    out('CLOSED', ws.close_code)
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['ECHO True', 'CLOSED 1009']);
  assert.equal((await serverClosed(srv)).err, 'WSC_EMSGSIZE');
});

test('subprotocol negotiation', T, async (t) => {
  const srv = await startEchoServer(t, ['--subprotocol', 'chat2', '--subprotocol', 'chat1']);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, subprotocols=['chat1', 'chat2'], ${PY_CONNECT}) as ws:
    await ws.send('cmd:subprotocol')
    out('A', ws.subprotocol, await ws.recv())
async with websockets.connect(url, subprotocols=['other'], ${PY_CONNECT}) as ws:
    await ws.send('cmd:subprotocol')
    out('B', ws.subprotocol, repr(await ws.recv()))
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['A chat2 chat2', "B None ''"]);
});

test('request headers are visible to the server', T, async (t) => {
  const srv = await startEchoServer(t);
  const py = await runPyClient(t, `${srv.url}/py?a=b`, `
async with websockets.connect(url, extra_headers={'X-Custom': 'py value'}, ${PY_CONNECT}) as ws:
    for name in ('X-Custom', 'x-custom', 'Sec-WebSocket-Version', 'X-Missing'):
        await ws.send('cmd:headers ' + name)
        out(await ws.recv())
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['py value', 'py value', '13', '(null)']);
  assert.match(srv.proc.stdout, /^ACCEPTED \/py\?a=b subprotocol= extensions=$/m);
});

test('on_close: the server sees the client\'s close code and reason once', T, async (t) => {
  const srv = await startEchoServer(t);
  const py = await runPyClient(t, srv.url, `
async with websockets.connect(url, ${PY_CONNECT}) as ws:
    await ws.send('hi')
    out(await ws.recv())
    await ws.close(4002, 'python leaves')
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['hi']);
  await srv.proc.waitFor(/^CLOSED /m);
  assert.deepEqual(srv.proc.stdout.match(/^ON_CLOSE .*$/gm), ['ON_CLOSE 4002 python leaves'], srv.proc.stdout);
});

test('a refused origin gets 403', T, async (t) => {
  const srv = await startEchoServer(t, ['--origin', 'good.example']);
  const py = await runPyClient(t, srv.url, `
try:
    async with websockets.connect(url, origin='http://evil.example', ${PY_CONNECT}) as ws:
        out('OPENED')
except websockets.InvalidStatusCode as e:
    out('STATUS', e.status_code)
async with websockets.connect(url, origin='http://good.example', ${PY_CONNECT}) as ws:
    out('GOOD')
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['STATUS 403', 'GOOD']);
});

test('accept hook: python sees the 401 and its headers, then gets in with the token', T, async (t) => {
  const srv = await startEchoServer(t, ['--require-token', 'py-tok', '--pick-last-subprotocol']);
  const py = await runPyClient(t, srv.url, `
try:
    async with websockets.connect(url, ${PY_CONNECT}) as ws:
        out('OPENED')
except websockets.InvalidStatusCode as e:
    out('REFUSED', e.status_code, e.headers['WWW-Authenticate'], e.headers['Content-Type'])
async with websockets.connect(url + '/py', ${PY_CONNECT}, subprotocols=['one', 'two'],
                              extra_headers={'Authorization': 'Bearer py-tok'}) as ws:
    out('PROTOCOL', ws.subprotocol, ws.response_headers['X-Peer'].startswith('127.0.0.1:'))
    await ws.send('hello')
    out('ECHO', await ws.recv())
`);
  assert.deepEqual(py.stdout.trim().split('\n'), [
    'REFUSED 401 Bearer realm="echo" application/json', 'PROTOCOL two True', 'ECHO hello',
  ]);
  await srv.proc.waitFor(/^HOOK \/py peer=127\.0\.0\.1:\d+ tls=0 offered=one,two$/m);
});
