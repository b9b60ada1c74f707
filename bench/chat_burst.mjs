// SPDX-License-Identifier: MIT
// chat_burst.mjs - a chat room under bursts: 100 npm ws clients each send 5
// lines at once, the server hands every line to every client ("name: text"),
// 3 rounds per run. Measures the server's broadcast of many small lines.
//
//   node bench/chat_burst.mjs SERVER ARGS...
//       SERVER prints "http://127.0.0.1:PORT" once listening and serves a
//       chat room on ws://127.0.0.1:PORT/ws (the demo's chat_server with
//       --port 0 --rate 0, or bench/ws_chat_server.mjs: the same room with
//       npm ws, the peer)
//
// BENCH_REPS runs (default 3), each on a fresh server; prints progress on
// stderr and "RESULT burst <lines delivered per second, median>" on stdout.
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node bench/chat_burst.mjs SERVER ARGS...');
  process.exit(2);
}
const N = 100, LINES = 5, ROUNDS = 3;
const reps = Number(process.env.BENCH_REPS || 3);
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function once() {
  const server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((r) => server.on('exit', r));
  try {
    for (let i = 0; !/127\.0\.0\.1:(\d+)/.test(out); i++) {
      if (i > 200 || server.exitCode !== null) throw new Error(`${cmd} did not start: ${out}`);
      await delay(25);
    }
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)[1]);
    const clients = await Promise.all(Array.from({ length: N }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      ws.lines = 0;
      ws.on('message', (d) => { if (/: line /.test(String(d))) ws.lines++; });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })));
    await delay(300); // the join notices settle
    const start = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of clients) for (let i = 0; i < LINES; i++) c.send(`line ${round} ${i} ${'x'.repeat(100)}`);
      const want = N * LINES * (round + 1);
      for (let t = 0; !clients.every((c) => c.lines >= want); t++) {
        if (t > 6000) throw new Error(`round ${round}: not every client got its ${want} lines in 30 s`);
        await delay(5);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    for (const c of clients) c.terminate();
    return (N * N * LINES * ROUNDS) / seconds;
  } finally {
    server.kill('SIGKILL');
    await exited;
  }
}

const rates = [];
for (let i = 0; i < reps; i++) {
  rates.push(await once());
  console.error(`  run ${i + 1}/${reps}: ${Math.round(rates[i])} lines delivered/s`);
}
rates.sort((a, b) => a - b);
console.log(`RESULT burst ${Math.round(rates[Math.floor(rates.length / 2)])}`);
