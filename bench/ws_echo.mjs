// SPDX-License-Identifier: MIT
// ws_echo.mjs - the echo benchmarks of echo_bench.c, for the npm `ws` package.
//
//   node bench/ws_echo.mjs [--tls] [WORKLOAD...]   (needs node_modules/ws: npm install)
//
// --tls: wss over node's https server, with the certificate, key and CA
// from BENCH_TLS_CERT, BENCH_TLS_KEY and BENCH_TLS_CA (as echo_bench wss).
//
// A `ws` echo server runs in a child process (node is single-threaded, and
// echo_bench's client and server run on their own threads too); the `ws`
// client runs here and talks to it over 127.0.0.1, permessage-deflate off.
// Workloads, BENCH_SECONDS, BENCH_REPS and the output (progress on stderr,
// `RESULT <workload> <value>` on stdout) are those of echo_bench.c. Streaming
// keeps up to 256 KiB of sends (at least 2 messages) queued on the client,
// refilled as the socket takes them, like echo_bench's blocking writer thread.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const tls = process.argv.includes('--tls');
const tlsFile = (name) => {
  if (!process.env[name]) throw new Error(`ws_echo.mjs --tls: set ${name}`);
  return fs.readFileSync(process.env[name]);
};
// Client options: no compression; over TLS, trust the bench CA.
const clientOpts = { perMessageDeflate: false, ...(tls ? { ca: tlsFile('BENCH_TLS_CA') } : {}) };

if (process.argv[2] === '--server') {
  const opts = { perMessageDeflate: false, maxPayload: 4 << 20 };
  let wss, listening;
  if (tls) {
    const server = https.createServer({ cert: tlsFile('BENCH_TLS_CERT'), key: tlsFile('BENCH_TLS_KEY') });
    wss = new WebSocketServer({ server, ...opts });
    listening = server;
    server.listen(0, '127.0.0.1');
  } else {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...opts });
    listening = wss;
  }
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  listening.on('listening', () => process.send({ port: listening.address().port }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

function now() { return Number(process.hrtime.bigint()) / 1e9; }

function runRt(url, size, seconds) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, clientOpts);
    const msg = Buffer.alloc(size, 'x');
    let n = 0, t0 = 0, rate = -1;
    ws.on('open', () => { t0 = now(); ws.send(msg); });
    ws.on('message', (data) => {
      if (data.length !== size) return reject(new Error(`bad echo: ${data.length} bytes`));
      n++;
      const t = now();
      if (t - t0 < seconds) ws.send(msg);
      else { rate = n / (t - t0); ws.close(1000); }
    });
    ws.on('close', () => (rate < 0 ? reject(new Error('closed early')) : resolve(rate)));
    ws.on('error', reject);
  });
}

function runStream(url, size, seconds) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, clientOpts);
    const msg = Buffer.alloc(size, 'x');
    const window = Math.max(2, Math.floor((256 * 1024) / size));
    let queued = 0, bytes = 0, t0 = 0, rate = -1, stop = false, scheduled = false;
    const pump = () => {
      scheduled = false;
      while (!stop && queued < window) {
        queued++;
        ws.send(msg, { binary: true }, sent);
      }
    };
    // Refill from setImmediate: send callbacks of writes that completed at once
    // come from process.nextTick, and refilling there would starve the reads.
    const sent = (err) => {
      queued--;
      if (err) { if (!stop) reject(err); return; }
      if (!scheduled) { scheduled = true; setImmediate(pump); }
    };
    ws.on('open', () => { t0 = now(); pump(); });
    ws.on('message', (data) => {
      bytes += data.length;
      if (rate < 0) {
        const t = now();
        if (t - t0 >= seconds) {
          rate = bytes / (t - t0) / 1e6;
          stop = true;
          ws.close(1000);
        }
      }
    });
    ws.on('close', () => (rate < 0 ? reject(new Error('closed early')) : resolve(rate)));
    ws.on('error', reject);
  });
}

async function main() {
  const seconds = Number(process.env.BENCH_SECONDS) > 0 ? Number(process.env.BENCH_SECONDS) : 1;
  const reps = Math.min(15, Number(process.env.BENCH_REPS) > 0 ? Math.floor(Number(process.env.BENCH_REPS)) : 3);
  const workloads = [
    ['rt16', false, 16, 'round trips/s'],
    ['rt1k', false, 1024, 'round trips/s'],
    ['st64', true, 64, 'MB/s'],
    ['st16k', true, 16 * 1024, 'MB/s'],
    ['st1m', true, 1024 * 1024, 'MB/s'],
  ];
  const wanted = process.argv.slice(2).filter((a) => a !== '--tls');

  const server = fork(fileURLToPath(import.meta.url), ['--server', ...(tls ? ['--tls'] : [])],
                      { stdio: 'inherit' });
  const { port } = await new Promise((resolve, reject) => {
    server.once('message', resolve);
    server.once('exit', (code) => reject(new Error(`ws server exited with ${code}`)));
  });
  const url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/`;
  try {
    for (const [name, stream, size, unit] of workloads) {
      if (wanted.length && !wanted.includes(name)) continue;
      const v = [];
      for (let i = 0; i < reps; i++) {
        v.push(await (stream ? runStream : runRt)(url, size, seconds));
        process.stderr.write(`  ${tls ? 'wss' : 'ws '} ${name.padEnd(5)} run ${i + 1}/${reps}: ${v[i].toFixed(1)} ${unit}\n`);
      }
      v.sort((a, b) => a - b);
      const median = reps % 2 ? v[(reps - 1) / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
      console.log(`RESULT ${name} ${median.toFixed(1)}`);
    }
  } finally {
    server.disconnect();
  }
}
