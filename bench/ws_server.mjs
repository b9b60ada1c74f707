// SPDX-License-Identifier: MIT
// An npm `ws` echo server for conns_bench: one process, one thread, and
// "listening on 127.0.0.1:PORT" on stderr as `wsc --listen` prints it.
// --tls: over HTTPS with BENCH_TLS_CERT / BENCH_TLS_KEY.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { WebSocketServer } from 'ws';

const tls = process.argv.includes('--tls');
const server = tls
  ? https.createServer({ cert: fs.readFileSync(process.env.BENCH_TLS_CERT), key: fs.readFileSync(process.env.BENCH_TLS_KEY) })
  : http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(0, '127.0.0.1', () => process.stderr.write(`listening on 127.0.0.1:${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
