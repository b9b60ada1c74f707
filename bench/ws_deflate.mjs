// SPDX-License-Identifier: MIT
// ws_deflate.mjs - deflate_bench.c's workloads for the npm `ws` package.
//
//   node bench/ws_deflate.mjs takeover|no-takeover|off [stream] [rt]
//
// A ws echo server runs in a child process, the ws client here, over
// 127.0.0.1, both with perMessageDeflate {threshold: 0} and, for no-takeover,
// serverNoContextTakeover and clientNoContextTakeover (off: perMessageDeflate
// false). The messages are deflate_bench.c's pool of 256 JSON orders (same
// generator; both print `RESULT pool <fnv>` to show it). Output as
// deflate_bench: progress on stderr, RESULT msgs|mbs|up|down|rt|pool lines on
// stdout, medians of BENCH_REPS (default 5) runs of BENCH_SECONDS (default 1).
// Wire bytes: socket.bytesWritten of the sender (client for up, server for
// down) against the payload it sent. Streaming keeps up to 256 KiB of sends
// queued on the client, as bench/ws_echo.mjs does.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const MODES = {
  off: false,
  takeover: { threshold: 0 },
  'no-takeover': { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
};

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const STATUS = ['pending', 'paid', 'shipped', 'delivered'];
const SKUS = ['BK-1042', 'PN-2210', 'MG-0007', 'TS-3141', 'CB-2718', 'HD-9001'];
const p2 = (n) => String(n).padStart(2, '0');

/** deflate_bench.c's make_json(n). */
function makeJson(n) {
  let s = `{"id":${100000 + n},"type":"order","user":{"id":${5000 + n % 97},"name":"${NAMES[n % 8]}","email":"${NAMES[n % 8]}@example.com"},` +
    `"created":"2024-05-${p2(n % 28 + 1)}T${p2(n % 24)}:${p2(n * 7 % 60)}:${p2(n * 13 % 60)}Z","status":"${STATUS[n % 4]}","items":[`;
  let total = 0;
  for (let k = 0; k < 14; k++) {
    const price = 199 + (n * 31 + k * 17) % 5000, qty = 1 + (n + k) % 5;
    s += `${k ? ',' : ''}{"sku":"${SKUS[(n + k) % 6]}","qty":${qty},"price":${Math.floor(price / 100)}.${p2(price % 100)},"gift":${(n + k) % 3 ? 'false' : 'true'}}`;
    total += qty * price;
  }
  s += `],"total":${Math.floor(total / 100)}.${p2(total % 100)},"currency":"EUR","notes":"deliver between 9 and 17, ring twice","tags":["web","priority-${n % 3}"]}`;
  return s;
}

function fnv(bufs) {
  let h = 0x811c9dc5;
  for (const b of bufs) for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h;
}

const mode = process.argv[2];
if (!(mode in MODES)) {
  process.stderr.write('usage: node bench/ws_deflate.mjs takeover|no-takeover|off [stream] [rt]\n');
  process.exit(2);
}

function now() { return Number(process.hrtime.bigint()) / 1e9; }

function clientOpts() { return { perMessageDeflate: MODES[mode], maxPayload: 4 << 20 }; }

function checkNegotiated(ws) {
  const want = mode === 'off' ? '' : 'permessage-deflate';
  if (ws.extensions !== want) throw new Error(`negotiated "${ws.extensions}", expected "${want}"`);
}

function runStream(url, pool, seconds, server) {
  const serverStats = new Promise((resolve) => server.once('message', resolve));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, clientOpts());
    const window = Math.max(2, Math.floor((256 * 1024) / 1000));
    let queued = 0, bytes = 0, msgs = 0, t0 = 0, res = null, stop = false, scheduled = false, i = 0, payload = 0, w0 = 0;
    const pump = () => {
      scheduled = false;
      while (!stop && queued < window) {
        queued++;
        const m = pool[i++ % pool.length];
        payload += m.length;
        ws.send(m, { binary: false }, sent);
      }
    };
    const sent = (err) => {
      queued--;
      if (err) { if (!stop) reject(err); return; }
      if (!scheduled) { scheduled = true; setImmediate(pump); }
    };
    ws.on('open', () => {
      try { checkNegotiated(ws); } catch (e) { reject(e); return; }
      w0 = ws._socket.bytesWritten;
      t0 = now();
      pump();
    });
    ws.on('message', (data) => {
      bytes += data.length;
      msgs++;
      if (!res) {
        const t = now();
        if (t - t0 >= seconds) {
          res = { msgs: msgs / (t - t0), mbs: bytes / (t - t0) / 1e6 };
          stop = true;
          ws.close(1000);
        }
      }
    });
    ws.on('close', async () => {
      if (!res) { reject(new Error('closed early')); return; }
      res.up = (ws._socket.bytesWritten - w0) / payload;
      const s = await serverStats;
      res.down = s.sent / s.payload;
      resolve(res);
    });
    ws.on('error', reject);
  });
}

function runRt(url, pool, seconds, server) {
  const serverDone = new Promise((resolve) => server.once('message', resolve));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, clientOpts());
    let n = 0, t0 = 0, rate = -1;
    ws.on('open', () => {
      try { checkNegotiated(ws); } catch (e) { reject(e); return; }
      t0 = now();
      ws.send(pool[0], { binary: false });
    });
    ws.on('message', (data) => {
      if (data.length !== pool[n % pool.length].length) { reject(new Error(`bad echo: ${data.length} bytes`)); return; }
      n++;
      const t = now();
      if (t - t0 < seconds) ws.send(pool[n % pool.length], { binary: false });
      else { rate = n / (t - t0); ws.close(1000); }
    });
    ws.on('close', async () => {
      await serverDone;
      if (rate < 0) reject(new Error('closed early')); else resolve(rate);
    });
    ws.on('error', reject);
  });
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const seconds = Number(process.env.BENCH_SECONDS) > 0 ? Number(process.env.BENCH_SECONDS) : 1;
  const reps = Math.min(15, Number(process.env.BENCH_REPS) > 0 ? Math.floor(Number(process.env.BENCH_REPS)) : 5);
  const wanted = process.argv.slice(3);
  const pool = [];
  for (let n = 0; n < 256; n++) pool.push(Buffer.from(makeJson(n)));
  const h = fnv(pool);
  process.stderr.write(`  pool: 256 JSON messages, ${Math.floor(pool.reduce((a, b) => a + b.length, 0) / 256)} bytes on average, fnv ${h.toString(16).padStart(8, '0')}\n`);
  console.log(`RESULT pool ${h}`);
  const server = fork(fileURLToPath(import.meta.url), [mode, '--server'], { stdio: 'inherit' });
  const { port } = await new Promise((resolve, reject) => {
    server.once('message', resolve);
    server.once('exit', (code) => reject(new Error(`ws server exited with ${code}`)));
  });
  const url = `ws://127.0.0.1:${port}/`;
  try {
    if (!wanted.length || wanted.includes('stream')) {
      const runs = [];
      for (let i = 0; i < reps; i++) {
        const r = await runStream(url, pool, seconds, server);
        runs.push(r);
        process.stderr.write(`  ws  ${mode.padEnd(11)} stream run ${i + 1}/${reps}: ${r.msgs.toFixed(0)} msgs/s, ${r.mbs.toFixed(1)} MB/s, ` +
          `wire/payload ${r.up.toFixed(3)} up ${r.down.toFixed(3)} down\n`);
      }
      console.log(`RESULT msgs ${median(runs.map((r) => r.msgs)).toFixed(0)}`);
      console.log(`RESULT mbs ${median(runs.map((r) => r.mbs)).toFixed(1)}`);
      console.log(`RESULT up ${median(runs.map((r) => r.up)).toFixed(4)}`);
      console.log(`RESULT down ${median(runs.map((r) => r.down)).toFixed(4)}`);
    }
    if (!wanted.length || wanted.includes('rt')) {
      const v = [];
      for (let i = 0; i < reps; i++) {
        v.push(await runRt(url, pool, seconds, server));
        process.stderr.write(`  ws  ${mode.padEnd(11)} rt run ${i + 1}/${reps}: ${v[i].toFixed(0)} round trips/s\n`);
      }
      console.log(`RESULT rt ${median(v).toFixed(0)}`);
    }
  } finally {
    server.disconnect();
  }
}

if (process.argv[3] === '--server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: MODES[mode], maxPayload: 4 << 20 });
  wss.on('connection', (ws) => {
    const sock = ws._socket;
    const w0 = sock.bytesWritten;
    let payload = 0;
    ws.on('message', (data, isBinary) => {
      payload += data.length;
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', () => {
      // after the close handshake everything the server wrote is counted
      setImmediate(() => process.send({ sent: sock.bytesWritten - w0, payload }));
    });
    ws.on('error', () => {});
  });
  wss.on('listening', () => process.send({ port: wss.address().port }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}
