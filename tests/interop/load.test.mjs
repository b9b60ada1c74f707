// SPDX-License-Identifier: MIT
// Load (bounded, loopback only): 2,000 npm `ws` clients on the one-thread
// `wsc --listen --echo` server at once, each exchanging messages of several
// sizes, every echo checked; the server keeps one thread throughout and
// answers a new client afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BUILD, startProc, connectWs } from './lib.mjs';

const WSC = path.join(BUILD, 'wsc');
const CLIENTS = 2000;

const threadsOf = (pid) =>
  Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

/** Runs fn over items with at most `width` at a time. */
async function inBatches(items, width, fn) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

test(`load: ${CLIENTS} clients on the one-thread echo server, every message checked`, { timeout: 180000 }, async (t) => {
  const proc = startProc(t, WSC, ['--listen', '127.0.0.1:0', '--echo']);
  const m = await proc.waitFor(/^wsc: listening on 127\.0\.0\.1:(\d+)/m, { stream: 'stderr', ms: 5000 });
  const url = `ws://127.0.0.1:${m[1]}/load`;
  const pid = proc.child.pid;

  const peers = [];
  await inBatches(Array.from({ length: CLIENTS }, (_, i) => i), 200, async () => {
    peers.push(await connectWs(t, url));
  });
  t.diagnostic(`${peers.length} clients connected`);
  assert.equal(threadsOf(pid), 1, `one server thread with ${CLIENTS} clients`);

  // every client at once: 3 messages each (16 B text, 1 KiB binary, 40 KiB binary)
  let checked = 0;
  await Promise.all(peers.map(async (peer, i) => {
    const msgs = [Buffer.from(`client ${String(i).padStart(5, '0')} !!!`),
      Buffer.alloc(1024, i & 0xff), Buffer.alloc(40 * 1024, (i * 7) & 0xff)];
    for (const [k, data] of msgs.entries()) {
      const binary = k > 0;
      await peer.send(data, { binary });
      const got = await peer.nextMessage();
      assert.equal(got.isBinary, binary);
      assert.ok(Buffer.compare(Buffer.from(got.data), data) === 0, `client ${i} message ${k} came back whole`);
      checked++;
    }
  }));
  assert.equal(checked, 3 * CLIENTS);
  assert.equal(threadsOf(pid), 1, 'still one server thread after the exchange');
  t.diagnostic(`${checked} echoes checked`);

  await inBatches(peers, 500, async (peer) => {
    peer.ws.close(1000);
    assert.equal((await peer.waitClosed()).code, 1000);
  });
  const late = await connectWs(t, url);
  await late.send('after the crowd');
  assert.equal((await late.nextMessage()).data.toString(), 'after the crowd');
  assert.equal(proc.exitInfo, null, `the server exited\n${proc.describe()}`);
});
