// SPDX-License-Identifier: MIT
// ws_chat_server.mjs - the chat demo's room with the npm `ws` package, the
// peer bench/chat_burst.mjs measures beside chat_server: every text a client
// sends goes to every client as "guest-N: text", each client's sends in one
// write per message as ws does. Prints "http://127.0.0.1:PORT" once listening.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
let next = 1;
wss.on('connection', (ws) => {
  const name = `guest-${next++}`;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const line = `${name}: ${data}`;
    for (const c of wss.clients) if (c.readyState === 1) c.send(line);
  });
});
wss.on('listening', () => console.log(`http://127.0.0.1:${wss.address().port}`));
