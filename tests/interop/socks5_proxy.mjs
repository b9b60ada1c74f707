// SPDX-License-Identifier: MIT
// A small SOCKS5 proxy (RFC 1928, RFC 1929 user name and password) for the
// interop tests (socks5.test.mjs).
//
//   const proxy = await startSocks5Proxy(t, { auth, reply, route });
//   proxy.url        'socks5h://127.0.0.1:PORT' (no credentials in it)
//   proxy.port
//   proxy.requests   one record per connection, in order:
//                      { methods, user, password, atyp, host, port, rep }
//                    methods: what the greeting offered; atyp: 'ipv4',
//                    'name' or 'ipv6'; rep: the reply code sent (0: success)
//
// Options:
//   auth   { user, password }: only the user name and password method is
//          accepted (a greeting without it gets 0xff); wrong credentials
//          get status 1 and the connection is closed.
//   reply  a SOCKS reply code (1-8) to refuse every CONNECT with.
//   route  (host, port) => { host, port } | null: where to connect instead.
//
// A granted CONNECT connects to the target, replies success with the bound
// address and pipes bytes both ways. A target that cannot be reached gets
// reply 5 (connection refused). The proxy is closed in t.after().

import net from 'node:net';
import { once } from 'node:events';

/** Reads exactly n bytes from a paused socket's stream (null at its end). */
function reader(sock) {
  let buf = Buffer.alloc(0);
  let want = null;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (want && buf.length >= want.n) {
      const w = want;
      want = null;
      const out = buf.subarray(0, w.n);
      buf = buf.subarray(w.n);
      w.resolve(out);
    }
  });
  sock.on('end', () => { if (want) { want.resolve(null); want = null; } });
  return {
    read(n) {
      if (buf.length >= n) {
        const out = buf.subarray(0, n);
        buf = buf.subarray(n);
        return Promise.resolve(out);
      }
      return new Promise((resolve) => { want = { n, resolve }; });
    },
    rest() { const r = buf; buf = Buffer.alloc(0); return r; },
  };
}

export async function startSocks5Proxy(t, { auth = null, reply = 0, route = () => null } = {}) {
  const requests = [];
  const sockets = new Set();
  const track = (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };

  async function serve(client) {
    const rec = { methods: [], user: null, password: null, atyp: null, host: null, port: null, rep: null };
    requests.push(rec);
    const r = reader(client);
    const hello = await r.read(2);
    if (!hello || hello[0] !== 5) return client.destroy();
    const methods = await r.read(hello[1]);
    if (!methods) return client.destroy();
    rec.methods = [...methods];
    const method = auth ? 2 : 0;
    if (!rec.methods.includes(method)) return client.end(Buffer.from([5, 0xff]));
    client.write(Buffer.from([5, method]));
    if (method === 2) {
      const h = await r.read(2);
      if (!h) return client.destroy();
      const user = await r.read(h[1]);
      const plen = await r.read(1);
      const password = await r.read(plen[0]);
      rec.user = user.toString();
      rec.password = password.toString();
      if (rec.user !== auth.user || rec.password !== auth.password) return client.end(Buffer.from([1, 1]));
      client.write(Buffer.from([1, 0]));
    }
    const head = await r.read(4);
    if (!head || head[0] !== 5 || head[1] !== 1) return client.destroy();
    if (head[3] === 1) {
      rec.atyp = 'ipv4';
      rec.host = [...(await r.read(4))].join('.');
    } else if (head[3] === 4) {
      rec.atyp = 'ipv6';
      const a = await r.read(16);
      rec.host = [...Array(8).keys()].map((i) => a.readUInt16BE(2 * i).toString(16)).join(':')
        .replace(/(^|:)0(:0)+(:|$)/, '::');
    } else if (head[3] === 3) {
      rec.atyp = 'name';
      const n = await r.read(1);
      rec.host = (await r.read(n[0])).toString();
    } else {
      return client.destroy();
    }
    rec.port = (await r.read(2)).readUInt16BE(0);
    const answer = (rep) => {
      rec.rep = rep;
      return Buffer.from([5, rep, 0, 1, 127, 0, 0, 1, 0, 0]);
    };
    if (reply) return client.end(answer(reply));
    const dest = route(rec.host, rec.port) || { host: rec.host, port: rec.port };
    const upstream = net.connect({ host: dest.host, port: dest.port, autoSelectFamily: true });
    track(upstream);
    upstream.once('connect', () => {
      client.write(answer(0));
      const early = r.rest();
      if (early.length) upstream.write(early);
      client.removeAllListeners('data');
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.once('error', () => { if (rec.rep === null) client.end(answer(5)); });
  }

  const server = net.createServer((client) => {
    track(client);
    serve(client).catch(() => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return { port, url: `socks5h://127.0.0.1:${port}`, requests };
}
