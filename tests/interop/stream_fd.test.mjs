// SPDX-License-Identifier: MIT
// wsc_stream_fd against a `ws` server: tests/progs/stream_fd_client writes
// into the stream fd, half-closes it, reads it to end of stream and prints
// what wsc_stream_fd_error says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BUILD, TEST_TIMEOUT, MiB, pattern, fnv1a, startProc, startWsServer } from './lib.mjs';

const T = { timeout: TEST_TIMEOUT };
const STREAM_FD_CLIENT = path.join(BUILD, 'tests/progs/stream_fd_client');

/** Runs stream_fd_client to its end; returns the Proc and its parsed lines. */
async function runStreamClient(t, url, args) {
  const proc = startProc(t, STREAM_FD_CLIENT, [url, ...args]);
  await proc.wait(15000);
  const received = proc.stdout.match(/^RECEIVED (\d+) fnv=([0-9a-f]{8})$/m);
  const end = proc.stdout.match(/^END (WSC_[A-Z]+).*? status=(-?\d+) detail=(.*)$/m);
  assert.ok(received && end, `stream_fd_client should report its end\n${proc.describe()}`);
  return {
    proc,
    received: { len: Number(received[1]), fnv: received[2] },
    end: { err: end[1], status: Number(end[2]), detail: end[3] },
  };
}

test('half-close: every echo of 4 MiB arrives before end of stream', T, async (t) => {
  const size = 4 * MiB;
  let echoed = 0;
  const srv = await startWsServer(t, {}, (peer) => {
    peer.ws.on('message', (data, isBinary) => {
      echoed += data.length;
      peer.ws.send(data, { binary: isBinary });
    });
  });
  const run = await runStreamClient(t, srv.url, ['--send', String(size)]);
  const peer = await srv.nextConnection();
  const closed = await peer.waitClosed();
  assert.equal(echoed, size, 'the ws server should get every byte written before the half-close');
  assert.deepEqual(run.received, { len: size, fnv: fnv1a(pattern(size)) },
    `every echo should come out of the fd\n${run.proc.describe()}`);
  assert.equal(run.end.err, 'WSC_OK', `a clean end\n${run.proc.describe()}`);
  assert.equal(run.end.status, 1000);
  assert.equal(closed.code, 1000, 'the ws server sees 1000');
  assert.equal(run.proc.exitInfo.code, 0);
});

test('a message over the server\'s maxPayload: the stream reports its 1009', T, async (t) => {
  const srv = await startWsServer(t, { maxPayload: 1000 });
  const run = await runStreamClient(t, srv.url, ['--send', String(MiB)]);
  const peer = await srv.nextConnection();
  await peer.waitClosed(); // ws reports 1006 there: it stops parsing after its 1009
  assert.match(String(peer.error), /Max payload size exceeded/, 'ws refused the message');
  assert.equal(run.end.err, 'WSC_ECLOSED', `the stream ended with the peer's close\n${run.proc.describe()}`);
  assert.equal(run.end.status, 1009, `wsc_close_status should be 1009, not 1006\n${run.proc.describe()}`);
  assert.match(run.end.detail, /1009/);
  assert.equal(run.proc.exitInfo.code, 1);
});

test('a text message on a binary stream is not delivered: 1003', T, async (t) => {
  const srv = await startWsServer(t, {}, (peer) => peer.ws.send('not binary'));
  const run = await runStreamClient(t, srv.url, ['--keep-open']);
  const peer = await srv.nextConnection();
  const closed = await peer.waitClosed();
  assert.equal(closed.code, 1003, 'ws sees 1003');
  assert.equal(run.received.len, 0, `nothing comes out of the fd\n${run.proc.describe()}`);
  assert.equal(run.end.err, 'WSC_EPROTO', `${run.proc.describe()}`);
  assert.match(run.end.detail, /expected binary messages, got text/);
  assert.equal(run.proc.exitInfo.code, 1);
});
