// SPDX-License-Identifier: MIT
// The wasm backend in Node: the emcc-built programs (build/wasm/progs, see
// lib_wasm.mjs) against our native echo server and against an npm ws server,
// plus the examples against the native example servers.
//
//   make wasm-progs examples && \
//   WSC_BUILD=build/native WSC_WASM=build/wasm node --test --test-concurrency=1 tests/wasm/
//
// The programs: tests/progs/client.c (scenario steps, see its header),
// tests/wasm/api_client.c (what client.c cannot express, see its header) and
// tests/wasm/frame_loop_client.c (no Asyncify, emscripten_set_main_loop).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { msgLines, closedLine, fnv1a, pattern } from '../interop/lib.mjs';
import {
  MiB, TEST_TIMEOUT, progFile, startWasm, runWasm, startWasm as startWasmBuild, runWasm as runWasmBuild, assertOk, assertFail, line,
  startServer, silentServer, closedPort, startExampleServer,
} from './lib_wasm.mjs';

const T = { timeout: TEST_TIMEOUT };

/** Asserts what the server saw of the close: code (and reason if given). */
async function assertPeerClose(server, proc, code, reason, which = 0) {
  const got = await server.peerClose(which);
  const msg = `the ${server.kind} server should see close ${code}${reason === undefined ? '' : ` "${reason}"`}, ` +
    `saw ${JSON.stringify(got)}\n${server.describe()}\n${proc ? proc.describe() : ''}`;
  assert.equal(got.code, code, msg);
  if (reason !== undefined) assert.equal(got.reason, reason, msg);
}

// The client scenarios run in the four ways a wasm program can wait:
//   Asyncify  client.js: blocking calls suspend the C stack
//   pthread   client.mt.js: main() blocks on a worker_threads Worker while
//             the socket lives on Node's main thread
//   events    client.sync.js --drive events: nothing blocks, the socket's
//             events (wsc_set_event_handler) resume the steps
//   loop      client.sync.js --drive loop: timeout-0 calls every frame
//             (emscripten_set_main_loop)
// Tests of api_client.c (the blocking API's corners) run in the first two.
// The way to wait and the server are independent: the other three ways run
// against the npm ws server only (make test's time).
for (const kind of ['native', 'ws']) for (const mode of ['Asyncify', 'pthread', 'events', 'loop']) {
  if (mode !== 'Asyncify' && kind !== 'ws') continue;
  describe(`wasm in Node (${mode}) against the ${kind} echo server`, () => {
    const mt = mode === 'pthread';
    const drive = mode === 'events' || mode === 'loop' ? mode : null;
    const blockingTest = drive ? () => {} : test;
    const withMode = (name, args, o) => {
      if (!drive || o.sync) return [name, args, { mt: mt && !o.sync, ...o }];
      assert.equal(name, 'client', `only client.c has --drive (${name})`);
      return [name, [args[0], '--drive', drive, ...args.slice(1)], { ...o, sync: true }];
    };
    const runWasm = (t, name, args, o = {}) => runWasmBuild(t, ...withMode(name, args, o));
    const startWasm = (t, name, args, o = {}) => startWasmBuild(t, ...withMode(name, args, o));
    test('text, binary and empty messages echo unchanged', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url,
        'send-text:hello', 'expect-echo', 'send-text:', 'expect-echo',
        'send-bin:0', 'expect-echo', 'send-bin:3', 'expect-echo',
        'send-text:h\u00e9llo w\u00f6rld \u20ac \u{1d11e}', 'expect-echo', 'close:1000:']);
      assertOk(p, 'every echo should match');
      await assertPeerClose(srv, p, 1000);
    });

    test('binary messages from 1 byte to 16 MiB (read limits lifted on both sides)', T, async (t) => {
      const srv = await startServer(t, kind, { readLimit: -1 });
      const sizes = [1, 125, 126, 127, 65535, 65536, 65537, MiB, 16 * MiB];
      const p = await runWasm(t, 'client', [srv.url, '--read-limit', '-1', '--timeout', '15000',
        ...sizes.flatMap((n) => [`send-bin:${n}`, 'expect-echo']), 'close:1000:'], { ms: 19000 });
      assertOk(p, `binary echoes of ${sizes.join(', ')} bytes should match`);
    });

    test('4 MiB messages in 64- and 256-byte frames (65,537 and 16,385 frames) arrive whole', T, async (t) => {
      // Autobahn's 9.4 cases: npm ws as Node's WebSocket refused more than
      // 16,384 frames per message with 1008 until wsc lifted its limits.
      const srv = await startServer(t, kind, { readLimit: -1 });
      const p = await runWasm(t, 'client', [srv.url, '--read-limit', '-1', '--timeout', '15000',
        'send-text:cmd:fragmented 65536 4194304', 'read', 'send-text:cmd:fragmented 16384 4194304', 'read',
        'close:1000:'], { ms: 19000 });
      assertOk(p, 'both fragmented messages should arrive');
      const want = { type: 'text', len: 4 * MiB, fnv: fnv1a(Buffer.alloc(4 * MiB, 'x')) };
      assert.deepEqual(msgLines(p).map(({ type, len, fnv }) => ({ type, len, fnv })), [want, want], p.describe());
    });

    blockingTest('UTF-8 text messages from 0 bytes to 16 MiB', T, async (t) => {
      const srv = await startServer(t, kind, { readLimit: -1 });
      const sizes = [0, 1, 2, 3, 4, 125, 126, 65535, 65536, MiB, 16 * MiB];
      const p = await runWasm(t, 'api_client', [srv.url, 'text-sizes', ...sizes.map(String)], { ms: 19000 });
      assertOk(p, 'text echoes should match');
      for (const n of sizes) line(p, new RegExp(`^ECHO text ${n}$`, 'm'));
    });

    blockingTest('NUL bytes inside text and binary messages round-trip', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'api_client', [srv.url, 'nul']);
      assertOk(p);
      line(p, /^ECHO text 23 with NULs$/m);
      line(p, /^ECHO text 1 NUL only$/m);
    });

    blockingTest('a text message starting with a UTF-8 BOM round-trips unchanged', T, async (t) => {
      // Outgoing text goes through TextDecoder, which drops a leading BOM
      // unless created with {ignoreBOM: true}; wsc_write must send the bytes.
      const srv = await startServer(t, kind);
      if (kind === 'ws') {
        // receiving one keeps it
        const bytes = Buffer.from('efbbbf424f4d', 'hex');
        const q = await runWasm(t, 'client', [srv.url, `send-text:cmd:text ${bytes.toString('hex')}`, 'read',
          'close:1000:']);
        assertOk(q);
        assert.equal(`${msgLines(q)[0]?.len} ${msgLines(q)[0]?.fnv}`, `6 ${fnv1a(bytes)}`,
          `a received text message starting with a BOM should keep it\n${q.describe()}`);
      }
      const p = await runWasm(t, 'api_client', [srv.url, 'bom']);
      if (kind === 'ws') {
        const c = await srv.conn(1);
        assert.equal(c.received[0]?.len, 12,
          `the server should receive the 12 bytes sent (BOM + "BOM first"), got ${c.received[0]?.len}: ` +
          `the BOM was dropped when sending\n${p.describe()}`);
      }
      assertOk(p, 'the BOM must not be stripped from outgoing text');
    });

    test('our close 4000 "bye" is seen by the server', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url, 'send-text:hi', 'expect-echo', 'close:4000:bye']);
      assertOk(p);
      line(p, /^CLOSE status=4000 reason=/m);
      await assertPeerClose(srv, p, 4000, 'bye');
    });

    test('the server closes with 4001 "x": wsc_close_status and wsc_close_reason', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url, '--print-control', 'send-text:cmd:close 4001 x', 'read-until-close']);
      assertOk(p);
      const c = closedLine(p.stdout);
      assert.deepEqual(c, { err: 'WSC_ECLOSED', status: 4001, reason: 'x' }, p.describe());
      assert.deepEqual(p.stdout.match(/^ON_CLOSE .*$/gm), ['ON_CLOSE 4001 x'], `on_close once\n${p.describe()}`);
    });

    test('server-initiated normal close after messages: they arrive, then WSC_ECLOSED 1000', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url, 'send-text:first', 'send-bin:10',
        'send-text:cmd:close 1000 bye-bye', 'read-until-close']);
      assertOk(p);
      assert.deepEqual(msgLines(p).map((m) => `${m.type} ${m.len}`), ['text 5', 'binary 10'], p.describe());
      assert.deepEqual(closedLine(p.stdout), { err: 'WSC_ECLOSED', status: 1000, reason: 'bye-bye' }, p.describe());
      await assertPeerClose(srv, p, 1000);
    });

    test('idle_timeout_ms: a server silent for 300 ms is closed with 1001 and the reason', T, async (t) => {
      const srv = await startServer(t, kind);
      const started = Date.now();
      // --heartbeat is ignored (no pings in wasm), so only the idle timeout acts
      const p = await runWasm(t, 'client', [srv.url, '--idle', '300', '--heartbeat', '50',
        'read-until-close']);
      assertOk(p);
      const took = Date.now() - started;
      // npm ws (Node's WebSocket here) sends 1001 as it is; browsers 4001
      const got = await srv.peerClose(0);
      assert.equal(got.code, 1001, `${JSON.stringify(got)}\n${p.describe()}`);
      assert.match(got.reason, /^nothing received for 300 ms \(idle timeout\)$/);
      assert.equal(closedLine(p.stdout).status, 1001, p.describe());
      assert.ok(took >= 300, `closed after ${took} ms`);
    });

    test('wsc_close_now: the server sees 1001', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url, 'send-text:hi', 'expect-echo', 'close-now']);
      assertOk(p);
      await assertPeerClose(srv, p, 1001);
    });

    test('subprotocol negotiation', T, async (t) => {
      const srv = await startServer(t, kind, { protocols: ['chat', 'echo'] });
      const p = await runWasm(t, 'client', [srv.url, '--subprotocol', 'x', '--subprotocol', 'echo',
        '--subprotocol', 'chat', 'send-text:cmd:subprotocol', 'read', 'close:1000:']);
      // the server's preference wins among those offered
      assertOk(p);
      line(p, /^CONNECTED subprotocol=chat extensions=$/m);
      assert.equal(msgLines(p)[0]?.text, 'chat', `the server should report "chat"\n${p.describe()}`);
      assert.equal((await srv.accepted(0)).protocol, 'chat');
      const q = await runWasm(t, 'client', [srv.url, '--subprotocol', 'echo', 'send-text:cmd:subprotocol', 'read',
        'close:1000:']);
      assertOk(q);
      line(q, /^CONNECTED subprotocol=echo extensions=$/m);
      assert.equal((await srv.accepted(1)).protocol, 'echo');
      // nothing offered, nothing chosen
      const r = await runWasm(t, 'client', [srv.url, 'send-text:cmd:subprotocol', 'read', 'close:1000:']);
      assertOk(r);
      line(r, /^CONNECTED subprotocol= extensions=$/m);
      assert.equal((await srv.accepted(2)).protocol, '');
    });

    test('read limit: a bigger message fails with WSC_EMSGSIZE and we close with 1009', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url, '--read-limit', '1000',
        'send-bin:1000', 'expect-echo', 'send-bin:1001', 'expect-echo']);
      assertFail(p, 'expect-echo', 'WSC_EMSGSIZE');
      await assertPeerClose(srv, p, 1009);
    });

    test('the default read limit is 32768 bytes', T, async (t) => {
      const srv = await startServer(t, kind, { readLimit: -1 });
      const p = await runWasm(t, 'client', [srv.url, 'send-bin:32768', 'expect-echo', 'send-bin:32769', 'expect-echo']);
      assertFail(p, 'expect-echo', 'WSC_EMSGSIZE');
      assert.equal((p.stdout.match(/^FAIL/gm) || []).length, 1);
      await assertPeerClose(srv, p, 1009);
    });

    blockingTest('wsc_accept is WSC_ENOTSUP, wsc_ping returns 0, request target and other browser limits', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'api_client', [`${srv.url}/a/b?q=1`, 'api']);
      assertOk(p);
      line(p, /^ACCEPT WSC_ENOTSUP/m);
      line(p, /^PING 0$/m);
      line(p, /^CORK 0$/m);
      assert.equal((await srv.accepted(0)).target, '/a/b?q=1');
      await assertPeerClose(srv, p, 1000);
      // client.c's ping step: wsc_close_read, then wsc_ping(5000) returns 0 at once
      const q = await runWasm(t, 'client', [srv.url, 'ping', 'close:1000:']);
      assertOk(q);
      line(q, /^PONG$/m);
    });

    test('the server vanishing: the read fails with WSC_ECLOSED and close status -1', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = startWasm(t, 'client', [srv.url, '--timeout', '15000', 'read-until-close']);
      await p.waitFor(/^CONNECTED/m);
      await srv.accepted(0);
      await srv.vanish();
      await p.wait(10000);
      assertOk(p);
      assert.deepEqual(closedLine(p.stdout), { err: 'WSC_ECLOSED', status: -1, reason: '' }, p.describe());
    });

    blockingTest('1000 messages queued while the C program is busy: none lost, order kept', T, async (t) => {
      const srv = await startServer(t, kind);
      if (kind === 'ws') {
        // the server sends them on open, unasked
        const p = await runWasm(t, 'api_client', [`${srv.url}/flood?n=1000`, 'busy', '1000', 'flood']);
        assertOk(p);
        line(p, /^GOT 1000 in order$/m);
      }
      // we send them first, then busy-loop and sleep before reading the echoes
      const q = await runWasm(t, 'api_client', [srv.url, 'busy', '1000', 'echo']);
      assertOk(q);
      line(q, /^GOT 1000 in order$/m);
    });

    test('writer API: the pieces arrive as one message', T, async (t) => {
      const srv = await startServer(t, kind, { readLimit: -1 });
      const p = await runWasm(t, 'client', [srv.url, '--read-limit', '-1',
        'send-frag:4:100000', 'expect-echo', 'send-frag:3:10', 'expect-echo', 'send-frag:1:0', 'expect-echo',
        'close:1000:']);
      assertOk(p, 'the echo of each writer message should be the whole message');
      if (kind === 'ws') {
        const c = await srv.conn(0);
        assert.deepEqual(c.received.map((m) => `${m.isBinary ? 'binary' : 'text'} ${m.len}`),
          ['binary 100000', 'binary 10', 'binary 0'], 'the ws server should receive exactly one message per writer');
      }
    });

    blockingTest('stream API: bytes across message boundaries, a 1000 close is end of stream', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'api_client', [srv.url, 'stream']);
      assertOk(p);
      line(p, /^STREAM 21108 eof/m);
      await assertPeerClose(srv, p, 1000);
    });

    blockingTest('stream API: a message of the other type fails with WSC_EPROTO, closed with 1003', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'api_client', [srv.url, 'stream-mismatch']);
      assertOk(p);
      line(p, /^STREAM_READ WSC_EPROTO/m);
      await assertPeerClose(srv, p, 1003);
    });

    for (const when of ['before', 'after']) {
      blockingTest(`wsc_close_read, then a data message (${when === 'before' ? 'already queued' : 'arriving later'}): the server sees 1008`, T, async (t) => {
        const srv = await startServer(t, kind);
        const p = await runWasm(t, 'api_client', [srv.url, 'close-read', when]);
        assertOk(p);
        await assertPeerClose(srv, p, 1008);
        line(p, /^CLOSED status=1008 /m);
        line(p, /^CONN_ERROR -5 closed with 1008: /m); // wsc_conn_error: WSC_ECLOSED and the close
      });
    }

    // Only against the ws server, which can stop reading: a reader as fast
    // as the writer can keep Node's queue empty (seen once in CI).
    if (kind === 'ws') blockingTest('wsc_buffered_amount follows npm ws\'s bufferedAmount; wsc_flush waits for it to drain', T, async (t) => {
      const srv = await startServer(t, kind, { readLimit: -1 });
      const p = await runWasm(t, 'api_client', [srv.url, 'buffered', 'pause'], { ms: 30000 });
      assertOk(p);
      line(p, /^BUFFERED \d+$/m);
      line(p, /^FLUSHED$/m);
    });

    if (mode === 'Asyncify') for (const sync of [false, true]) {
      test(`event handler${sync ? ' (no Asyncify)' : ''}: open, 100 echoes, an 8 MiB echo, the drain event, close, free inside it`, T, async (t) => {
        const srv = await startServer(t, kind, { readLimit: -1 });
        const p = await runWasm(t, 'event_client', [srv.url, '100'], { sync, ms: 30000 });
        assertOk(p);
        for (const re of [/^OPEN$/m, /^ECHOED 100$/m, /^DRAINED$/m, /^BIG ECHOED$/m, /^CLOSED status=1000 events=\d+$/m]) line(p, re);
        await assertPeerClose(srv, p, 1000);
      });
    }

    blockingTest('read timeouts: WSC_EAGAIN, WSC_ETIMEDOUT, and the connection still works', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'api_client', [srv.url, 'timeout']);
      assertOk(p);
    });

    if (mode === 'Asyncify') test('frame loop without Asyncify: nonblocking dial, emscripten_set_main_loop, timeout-0 calls', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'frame_loop_client', [srv.url, '50'], { sync: true });
      assertOk(p);
      line(p, /^DIALING state=0$/m);
      line(p, /^ECHOED 50$/m);
      line(p, /^CLOSED status=1000 /m);
      const f = line(p, /^FRAMES (\d+) idle=(\d+)$/m);
      assert.ok(Number(f[1]) > 50 && Number(f[2]) > 0, `the loop should run over many frames\n${p.describe()}`);
      await assertPeerClose(srv, p, 1000, 'done');
    });

    if (mode === 'Asyncify') test('blocking calls without Asyncify fail with WSC_ENOTSUP (.sync.js)', T, async (t) => {
      const srv = await startServer(t, kind);
      const p = await runWasm(t, 'client', [srv.url, 'send-text:x'], { sync: true });
      assertFail(p, 'dial', 'WSC_ENOTSUP');
      assert.match(p.stdout, /ASYNCIFY/, 'the detail should name -sASYNCIFY');
      const q = await runWasm(t, 'api_client', [srv.url, 'sync'], { sync: true });
      assertOk(q);
      line(q, /^READ_BLOCKING WSC_ENOTSUP/m);
    });
  });
}

describe('wasm in Node: environment and failures', () => {
  test('the programs find npm ws from build/wasm/progs without NODE_PATH', T, async (t) => {
    assert.equal(process.env.NODE_PATH, undefined, 'lib_wasm.mjs removes NODE_PATH for the children');
    const resolved = createRequire(progFile('client')).resolve('ws');
    assert.equal(resolved, path.resolve('node_modules/ws/index.js'));
    const srv = await startServer(t, 'ws');
    const p = await runWasm(t, 'client', [srv.url, 'send-text:found', 'expect-echo', 'close:1000:']);
    assertOk(p);
  });

  test('an unreachable server: WSC_ECONNECT and exit status 1', T, async (t) => {
    const port = await closedPort();
    const p = await runWasm(t, 'client', [`ws://127.0.0.1:${port}/`, 'send-text:x']);
    assertFail(p, 'dial', 'WSC_ECONNECT');
    const q = await runWasm(t, 'read_client', [`ws://127.0.0.1:${port}/`]);
    assert.equal(q.exitInfo.code, 1, `read_client must exit 1 on a failed dial\n${q.describe()}`);
    line(q, /^DIAL_FAIL WSC_ECONNECT/m);
  });

  test('a handshake timeout fails the dial with WSC_ETIMEDOUT and Node keeps running', T, async (t) => {
    const srv = await silentServer(t);
    const p = await runWasm(t, 'api_client', [srv.url, 'dial-timeout']);
    assertOk(p, 'freeing the aborted WebSocket must not crash Node (unhandled "error" event of npm ws)');
    line(p, /^DIAL WSC_ETIMEDOUT/m);
  });

  test('read_client echoes what the ws server sends and reports its close', T, async (t) => {
    const srv = await startServer(t, 'ws');
    const p = startWasm(t, 'read_client', [srv.url]);
    const c = await srv.conn(0);
    const got = new Promise((resolve) => c.ws.once('message', (d, isBinary) => resolve({ d, isBinary })));
    c.ws.send(pattern(5000), { binary: true });
    const echo = await got;
    assert.ok(echo.isBinary && fnv1a(echo.d) === fnv1a(pattern(5000)), 'the echo should be the same 5000 bytes');
    c.ws.close(1000, 'enough');
    await p.wait(10000);
    assert.equal(p.exitInfo.code, 0, p.describe());
    line(p, /^CLOSED WSC_ECLOSED: .* status=1000 reason=enough$/m);
  });
});

for (const mt of [false, true]) describe(`examples in wasm (${mt ? 'pthread' : 'Asyncify'}) against the native example servers`, () => {
  const runWasm = (t, name, args, o = {}) => runWasmBuild(t, name, args, { mt, ...o });
  test('echo_client against examples/echo_server', T, async (t) => {
    const srv = await startExampleServer(t, 'echo_server');
    const p = await runWasm(t, 'echo_client', [srv.url]);
    assert.equal(p.exitInfo.code, 0, p.describe());
    line(p, /^connected to .*, subprotocol "echo"$/m);
    line(p, /^sent "goodbye", received text "goodbye"$/m);
    line(p, /^closed$/m);
    await srv.proc.waitFor(/echoed 3 messages, client closed normally/m);
  });

  test('producer_client against examples/echo_server: backpressure with wsc_buffered_amount', T, async (t) => {
    const srv = await startExampleServer(t, 'echo_server');
    const p = await runWasm(t, 'producer_client', [srv.url, '200', '16384', '65536'], { ms: 30000 });
    assert.equal(p.exitInfo.code, 0, p.describe());
    const m = line(p, /^sent 200 messages of 16384 bytes, 200 echoes checked, at most (\d+) bytes queued \(limit 65536\)$/m);
    // checked before each write: the queue passes the limit by one message at most
    assert.ok(Number(m[1]) <= 65536 + 16384, p.describe());
    await srv.proc.waitFor(/echoed 200 messages, client closed normally/m);
  });

  test('ping_client against examples/echo_server (wsc_ping is a no-op in wasm)', T, async (t) => {
    const srv = await startExampleServer(t, 'echo_server');
    const p = await runWasm(t, 'ping_client', [srv.url]);
    assert.equal(p.exitInfo.code, 0, p.describe());
    assert.equal((p.stdout.match(/^ping \d: [\d.]+ ms$/gm) || []).length, 5, p.describe());
    await srv.proc.waitFor(/echoed 0 messages, client closed normally/m);
  });

  test('close_status_client against examples/cross_origin_server (closes with 1000)', T, async (t) => {
    const srv = await startExampleServer(t, 'cross_origin_server');
    const p = await runWasm(t, 'close_status_client', [srv.url]);
    assert.equal(p.exitInfo.code, 0, p.describe());
    line(p, /^server closed with 1000 NormalClosure, reason "cross origin WebSocket accepted"$/m);
  });

  test('close_status_client against examples/echo_server: 1008 is not 1000, exit status 1', T, async (t) => {
    // echo_server refuses clients without the "echo" subprotocol with 1008.
    const srv = await startExampleServer(t, 'echo_server');
    const p = await runWasm(t, 'close_status_client', [srv.url]);
    assert.equal(p.exitInfo.code, 1, `the status must survive the build's way of blocking\n${p.describe()}`);
    assert.match(p.stderr, /expected NormalClosure, server closed with 1008 PolicyViolation/, p.describe());
  });
});
