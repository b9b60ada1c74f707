// SPDX-License-Identifier: MIT
// Prepared messages (wsc_prepared_new, wsc_write_prepared) against real
// peers: our echo_server's cmd:broadcast writes one prepared message to
// every connection, whatever each negotiated: npm ws clients compressing
// without context takeover, with it, and not at all, and a python
// websockets client. The tap checks what went on each wire: RSV1 where
// compression was negotiated, payloads that inflate to the message, and
// the same compressed bytes on every no-takeover connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { TEST_TIMEOUT, startEchoServer, withTimeout, WsPeer, runPyClient, nLines } from './lib.mjs';
import { startTap, StrictInflater } from './tap.mjs';

const T = { timeout: TEST_TIMEOUT };

function expected(size) {
  const lorem = 'lorem ipsum ';
  let s = 'bcast ';
  while (s.length < size) s += lorem;
  return s.slice(0, size);
}

async function open(t, url, perMessageDeflate) {
  const ws = new WebSocket(url, { perMessageDeflate });
  t.after(() => ws.terminate());
  const peer = new WsPeer(ws);
  await withTimeout(new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }), 5000, 'open');
  return peer;
}

test('one prepared message reaches clients with and without compression, compressed once', T, async (t) => {
  const srv = await startEchoServer(t, ['--compress', 'no-takeover', '--read-limit', '-1']);
  const tap = await startTap(t, srv.port);
  const noTakeover = [
    await open(t, tap.url, { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 }),
    await open(t, tap.url, { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 }),
  ];
  const plain = await open(t, tap.url, false);
  const all = [...noTakeover, plain];
  const size = 50000;
  const want = expected(size);
  const got = all.map((p) => p.nextMessage());
  await plain.send(`cmd:broadcast ${size}`);
  for (const [i, m] of (await Promise.all(got)).entries())
    assert.ok(m.data.toString() === want, `client ${i} got the message (${m.data.length} bytes)`);
  await srv.proc.waitFor(/^BROADCAST 3 0$/m);

  const conns = tap.conns;
  assert.equal(conns.length, 3);
  const payloads = [];
  for (const [i, c] of conns.entries()) {
    const down = c.down.messages;
    assert.equal(down.length, 1, c.describe());
    if (i < 2) {
      assert.match(c.answered, /server_no_context_takeover/);
      assert.ok(down[0].rsv1, `client ${i}: compressed`);
      const inf = new StrictInflater({ takeover: false });
      assert.equal(inf.inflate(down[0].data).data.toString(), want);
      assert.ok(down[0].data.length < size / 10, `client ${i}: ${down[0].data.length} bytes on the wire`);
      payloads.push(down[0].data);
    } else {
      assert.equal(c.answered, undefined);
      assert.ok(!down[0].rsv1 && down[0].data.length === size, 'plain client: sent as it is');
    }
  }
  assert.ok(payloads[0].equals(payloads[1]), 'the same compressed bytes on both connections');
});

test('python websockets and a context-takeover ws client get the broadcast too', T, async (t) => {
  const srv = await startEchoServer(t, ['--compress', 'takeover', '--read-limit', '-1']);
  const ws = await open(t, srv.url, { threshold: 0 });
  assert.match(ws.ws.extensions, /permessage-deflate/);
  const py = runPyClient(t, srv.url, `
async with websockets.connect(url, ping_interval=None, max_size=None) as ws:
    await ws.send('hello')
    msgs = [await ws.recv(), await ws.recv()]
    out('BCAST', ('bcast ' + 'lorem ipsum ' * 3000)[:30000] in msgs, 'hello' in msgs)
`);
  // python's connection is served (ACCEPTED comes after it joined the list)
  await srv.proc.waitFor(nLines(/^ACCEPTED /gm, 2));
  const got = ws.nextMessage();
  await ws.send('cmd:broadcast 30000');
  assert.equal((await got).data.toString(), expected(30000));
  const p = await py;
  assert.deepEqual(p.stdout.trim().split('\n'), ['BCAST True True']);
});
