// SPDX-License-Identifier: MIT
// An npm `ws` echo server for conns_bench: one process, one thread, and
// "listening on 127.0.0.1:PORT" on stderr as `wsc --listen` prints it.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => process.stderr.write(`listening on 127.0.0.1:${wss.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
