// SPDX-License-Identifier: MIT
// deflate_tuning.test.mjs - wsc_deflate_options (level, mem_level,
// window_bits, peer_window_bits) and wsc_set_write_compression against real
// peers, checked on the wire by the tap (tap.mjs): the windows negotiated
// and actually used (a strict inflater refuses a distance past the window),
// and RSV1 per message.
//
//   our client (smaller windows asked and used) <-> npm ws server
//   npm ws client and python websockets client <-> our echo_server asking
//     clients for a 9-bit window
//   wsc_set_write_compression off and on again <-> npm ws server
//   a server that answers a larger window than asked, bad option values
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import {
  TEST_TIMEOUT, startWsServer, startEchoServer, runClient, assertClientOk, runPyClient,
  withTimeout, WsPeer,
} from './lib.mjs';
import { startTap, StrictInflater, jsonText } from './tap.mjs';

const T = { timeout: TEST_TIMEOUT };

/** Every compressed message of a tap direction inflates with `bits`; returns the longest distance. */
function strictly(dir, bits) {
  const inf = new StrictInflater({ windowBits: bits, takeover: true });
  let longest = 0;
  dir.messages.forEach((m, i) => {
    assert.ok(m.rsv1, `${dir.name} message ${i} should be compressed\n${dir.describe()}`);
    let r;
    try { r = inf.inflate(m.data); } catch (e) {
      assert.fail(`${dir.name} message ${i} does not inflate with a ${bits}-bit window: ${e.message}`);
    }
    longest = Math.max(longest, r.maxDist);
  });
  return longest;
}

function echoServer(t) {
  return startWsServer(t, { perMessageDeflate: { threshold: 0 } }, (peer) => {
    peer.ws.on('message', (data, isBinary) => peer.ws.send(data, { binary: isBinary }));
  });
}

test('client: peer_window_bits 10 asks ws for a 10-bit window, window_bits 9 is used', T, async (t) => {
  const srv = await echoServer(t);
  const tap = await startTap(t, srv.port);
  const steps = [];
  for (let i = 0; i < 6; i++) steps.push('send-json:20000', 'expect-echo');
  const p = await runClient(t, tap.url, [...steps, 'close:1000:'], {
    opts: ['--compress', 'takeover', '--peer-window-bits', '10', '--window-bits', '9',
      '--level', '9', '--mem-level', '2'],
  });
  assertClientOk(p);
  const conn = await tap.nextConn();
  assert.match(conn.offered, /server_max_window_bits=10/, conn.describe());
  assert.match(conn.answered, /server_max_window_bits=10/, conn.describe());
  const up = strictly(conn.up, 9);
  const down = strictly(conn.down, 10);
  assert.ok(up <= 512 && down <= 1024, `distances within the windows: ${up}, ${down}`);
  assert.ok(down > 512, `ws used its 10-bit window (longest distance ${down})`);
  // 20 KB of JSON in a 512-byte window still shrinks a lot
  const ratio = conn.up.messages.reduce((a, m) => a + m.data.length, 0) / (6 * 20000);
  assert.ok(ratio < 0.5, `client->server ratio ${ratio.toFixed(3)}`);
});

test('server: peer_window_bits 9 gives ws and python clients a 9-bit window', T, async (t) => {
  const srv = await startEchoServer(t, ['--compress', 'takeover', '--threshold', '-1',
    '--peer-window-bits', '9', '--window-bits', '11', '--read-limit', '-1']);
  const tap = await startTap(t, srv.port);

  const ws = new WebSocket(tap.url, { perMessageDeflate: { threshold: 0 } });
  t.after(() => ws.terminate());
  const peer = new WsPeer(ws);
  await withTimeout(new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }), 5000, 'open');
  const sent = [];
  for (let i = 0; i < 5; i++) {
    const msg = jsonText(30000, i);
    sent.push(msg);
    await peer.send(msg);
    assert.equal((await peer.nextMessage()).data.toString(), msg);
  }
  ws.close(1000);
  await peer.waitClosed();
  const conn = await tap.nextConn();
  assert.match(conn.answered, /client_max_window_bits=9/, conn.describe());
  assert.ok(strictly(conn.up, 9) <= 512, 'ws compressed within 9 bits');
  const down = strictly(conn.down, 11);
  assert.ok(down > 512, `our server used its 11-bit window (longest distance ${down})`);

  const py = await runPyClient(t, tap.url, `
async with websockets.connect(url, ping_interval=None, max_size=None) as ws:
    for i in range(3):
        msg = 'abcdefghij' * 50 + str(i) * 3000
        await ws.send(msg)
        out('ECHO', (await ws.recv()) == msg)
`);
  assert.deepEqual(py.stdout.trim().split('\n'), ['ECHO True', 'ECHO True', 'ECHO True']);
  const pyConn = await tap.nextConn();
  assert.match(pyConn.answered, /client_max_window_bits=9/, pyConn.describe());
  strictly(pyConn.up, 9);
});

test('wsc_set_write_compression: off sends messages plain, on compresses again', T, async (t) => {
  const srv = await echoServer(t);
  const tap = await startTap(t, srv.port);
  const p = await runClient(t, tap.url, ['send-json:5000', 'expect-echo', 'compress:off', 'send-json:5000',
    'expect-echo', 'send-text:still plain and long enough to pass any threshold at all', 'expect-echo',
    'compress:on', 'send-json:5000', 'expect-echo', 'close:1000:'], { opts: ['--compress', 'takeover'] });
  assertClientOk(p);
  const conn = await tap.nextConn();
  assert.deepEqual(conn.up.messages.map((m) => m.rsv1), [true, false, false, true], conn.describe());
  assert.ok(conn.up.messages[1].data.length === 5000, 'the plain one went whole');
});

test('a server answering a larger window than asked fails the dial', T, async (t) => {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', (d) => {
      const key = /sec-websocket-key: *(\S+)/i.exec(d.toString())[1];
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((r) => server.close(() => r())));
  const p = await runClient(t, `ws://127.0.0.1:${server.address().port}`, ['close:1000:'],
    { opts: ['--compress', 'takeover', '--peer-window-bits', '10'] });
  assert.match(p.stdout, /^FAIL dial WSC_EHANDSHAKE.*server_max_window_bits=12, more than the 10 asked for/m, p.describe());
});

test('deflate options out of range fail with WSC_EINVAL', T, async (t) => {
  for (const opts of [['--level', '10'], ['--mem-level', '-1'], ['--window-bits', '8'], ['--peer-window-bits', '16']]) {
    const p = await runClient(t, 'ws://127.0.0.1:9/', ['close:1000:'], { opts: ['--compress', 'takeover', ...opts] });
    assert.match(p.stdout, /^FAIL dial WSC_EINVAL.*deflate option .* out of range/m, p.describe());
  }
});

