// SPDX-License-Identifier: MIT
// A small HTTP CONNECT proxy for the interop tests (proxy.test.mjs).
//
//   const proxy = await startConnectProxy(t, { auth, deny });
//   proxy.url        'http://127.0.0.1:PORT' (no credentials in it)
//   proxy.port
//   proxy.connects   one record per request, in order:
//                      { method, target, host, auth, status }
//                    target and host: the request target and Host header;
//                    auth: the Proxy-Authorization value or null;
//                    status: what the proxy answered (200, 403, 407, 502...)
//
// Options:
//   auth  { user, password }: requests must carry
//         "Proxy-Authorization: Basic base64(user:password)", else 407 with
//         'Proxy-Authenticate: Basic realm="wsc-test"'.
//   deny  (target) => bool: targets to refuse with 403 Forbidden.
//   route (target) => { host, port } | null: where to connect instead of the
//         target itself (lets a test send "wss://some.name/" to a local
//         server without that name resolving anywhere).
//
// A granted CONNECT connects to the target, answers 200 and pipes bytes both
// ways until either side closes. A target that cannot be reached gets 502.
// Anything but CONNECT gets 405. The proxy is closed in t.after().

import net from 'node:net';
import { once } from 'node:events';

const MAX_HEAD = 16384;

/** "host:port" or "[v6]:port" to { host, port }, or null. */
function splitTarget(target) {
  const m = target.match(/^\[([^\]]+)\]:(\d+)$/) || target.match(/^([^:[\]]+):(\d+)$/);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1], port } : null;
}

/** Parses a request head (without the blank line). */
function parseHead(head) {
  const [line, ...rest] = head.split('\r\n');
  const m = line.match(/^(\S+) (\S+) HTTP\/1\.[01]$/);
  const headers = {};
  for (const l of rest) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { method: m ? m[1] : null, target: m ? m[2] : null, headers };
}

export async function startConnectProxy(t, { auth = null, deny = () => false, route = () => null } = {}) {
  const connects = [];
  const sockets = new Set();
  const wantAuth = auth
    ? 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')
    : null;

  const track = (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };

  function refuse(client, rec, status, reason, extra = '') {
    rec.status = status;
    const body = `${status} ${reason}\n`;
    client.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  }

  function tunnel(client, rec, dest, early) {
    // autoSelectFamily: "localhost" may resolve to ::1 first while servers
    // listen on 127.0.0.1.
    const upstream = net.connect({ port: dest.port, host: dest.host, autoSelectFamily: true });
    track(upstream);
    upstream.once('connect', () => {
      rec.status = 200;
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (early.length) upstream.write(early);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('error', () => {
      if (!rec.status) refuse(client, rec, 502, 'Bad Gateway');
      else client.destroy();
    });
    upstream.once('close', () => { if (rec.status === 200) client.end(); });
    client.once('close', () => upstream.destroy());
  }

  function handle(client, head, early) {
    const req = parseHead(head);
    const rec = {
      method: req.method,
      target: req.target,
      host: req.headers.host ?? null,
      auth: req.headers['proxy-authorization'] ?? null,
      status: 0,
    };
    connects.push(rec);
    if (req.method !== 'CONNECT') return refuse(client, rec, 405, 'Method Not Allowed');
    const dest = splitTarget(req.target);
    if (!dest) return refuse(client, rec, 400, 'Bad Request');
    if (wantAuth && rec.auth !== wantAuth) {
      return refuse(client, rec, 407, 'Proxy Authentication Required',
        'Proxy-Authenticate: Basic realm="wsc-test"\r\n');
    }
    if (deny(req.target)) return refuse(client, rec, 403, 'Forbidden');
    tunnel(client, rec, route(req.target) || dest, early);
  }

  const server = net.createServer((client) => {
    track(client);
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      handle(client, buf.subarray(0, end).toString('latin1'), buf.subarray(end + 4));
    };
    client.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  });
  return { port, url: `http://127.0.0.1:${port}`, connects, server };
}
