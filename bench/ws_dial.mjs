// SPDX-License-Identifier: MIT
// The npm `ws` client's side of dial_bench: starts the server command (it
// prints "listening ... 127.0.0.1:PORT"), then makes new connections one
// after another to ws://127.0.0.1:PORT/bench (open, close 1000, the server's
// close frame) for BENCH_SECONDS (default 1), BENCH_REPS (default 3) runs,
// and prints the median as "RESULT dials_per_s N".
//
//   node bench/ws_dial.mjs [--tls [--resume]] SERVER_COMMAND...
//
// --tls: wss://127.0.0.1:PORT/bench (a server started with its certificate),
// trusting the CA in BENCH_TLS_CA; a full TLS handshake each time, unless
// --resume: then through an https.Agent, whose session cache resumes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { WebSocket } from 'ws';

const args = process.argv.slice(2);
const tls = args[0] === '--tls';
if (tls) args.shift();
const resume = tls && args[0] === '--resume';
if (resume) args.shift();
const ca = tls ? fs.readFileSync(process.env.BENCH_TLS_CA) : undefined;
const agent = resume ? new https.Agent({ ca, maxCachedSessions: 100 }) : undefined;
const server = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let out = '';
  const look = (d) => {
    out += d;
    const m = out.match(/(?:listening|serving).*127\.0\.0\.1:(\d+)/);
    if (m) resolve(Number(m[1]));
  };
  server.stdout.on('data', look);
  server.stderr.on('data', look);
  server.once('exit', () => reject(new Error(`the server exited: ${out}`)));
});
const seconds = Number(process.env.BENCH_SECONDS || 1);
const reps = Number(process.env.BENCH_REPS || 3);

function one() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/bench`,
      { perMessageDeflate: false, ca, agent });
    ws.once('open', () => ws.close(1000));
    ws.once('close', resolve);
    ws.once('error', reject);
  });
}

const rates = [];
for (let k = 0; k < reps; k++) {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    await one();
    n++;
    t = performance.now();
  } while (t - t0 < seconds * 1000);
  rates.push(n / ((t - t0) / 1000));
  process.stderr.write(`  ws_dial: run ${k + 1}: ${Math.round(rates[k])} connections/s\n`);
}
rates.sort((a, b) => a - b);
console.log(`RESULT dials_per_s ${Math.round(rates[Math.floor(reps / 2)])}`);
server.kill('SIGTERM');
