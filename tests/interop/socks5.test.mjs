// SPDX-License-Identifier: MIT
// Our client (tests/progs/client) through a SOCKS5 proxy (socks5_proxy.mjs):
// socks5h:// (the proxy resolves names) and socks5:// (resolved here, an
// address sent), IPv6 targets, user name and password (RFC 1929), refusals
// by name, the environment as curl reads it (all_proxy, no_proxy), wss://
// through the tunnel, and the wsc tool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import {
  TEST_TIMEOUT, CLIENT, BUILD, startProc, startEchoServer, assertClientOk, assertClientFail,
} from './lib.mjs';
import { startSocks5Proxy } from './socks5_proxy.mjs';
import { makePki } from './certs.mjs';

const T = { timeout: TEST_TIMEOUT };
const PROXY_VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy',
  'ALL_PROXY', 'no_proxy', 'NO_PROXY'];
const ECHO = ['send-text:hello socks', 'expect-echo', 'send-bin:70000', 'expect-echo', 'close:1000:'];

/** Runs the client with exactly the proxy variables in env (others removed). */
async function runClientEnv(t, url, steps, { opts = [], env = {} } = {}) {
  const clean = { ...process.env };
  for (const k of PROXY_VARS) delete clean[k];
  const proc = startProc(t, CLIENT, [url, ...opts, ...steps], { env: { ...clean, ...env } });
  await proc.wait(15000);
  return proc;
}

test('socks5h:// sends the name, socks5:// an address resolved here', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const proxy = await startSocks5Proxy(t);
  const url = `ws://localhost:${srv.port}/via-socks`;
  const h = await runClientEnv(t, url, ECHO, { opts: ['--read-limit', '-1', '--proxy', proxy.url] });
  assertClientOk(h);
  assert.deepEqual(proxy.requests[0], { methods: [0], user: null, password: null, atyp: 'name',
    host: 'localhost', port: srv.port, rep: 0 });
  const local = await runClientEnv(t, url, ECHO,
    { opts: ['--read-limit', '-1', '--proxy', `socks5://127.0.0.1:${proxy.port}`] });
  assertClientOk(local);
  assert.equal(proxy.requests[1].atyp, 'ipv4');
  assert.ok(['127.0.0.1'].includes(proxy.requests[1].host), proxy.requests[1].host);
  // the Host header is still the server's name
  assert.match(srv.proc.stdout, /^ACCEPTED \/via-socks /m);
});

test('an IPv6 literal goes as an IPv6 address', T, async (t) => {
  const proxy = await startSocks5Proxy(t, { route: () => ({ host: '127.0.0.1', port: srv.port }) });
  const srv = await startEchoServer(t);
  const p = await runClientEnv(t, `ws://[::1]:${srv.port}/`, ['send-text:v6', 'expect-echo', 'close:1000:'],
    { opts: ['--proxy', proxy.url] });
  assertClientOk(p);
  assert.equal(proxy.requests[0].atyp, 'ipv6');
  assert.equal(proxy.requests[0].host, '::1');
});

test('user name and password: sent when the URL has them; wrong ones and none refused by name', T, async (t) => {
  const srv = await startEchoServer(t);
  const proxy = await startSocks5Proxy(t, { auth: { user: 'alice', password: 'p@ss:word/1' } });
  const good = `socks5h://alice:p%40ss%3Aword%2F1@127.0.0.1:${proxy.port}`;
  const ok = await runClientEnv(t, srv.url, ['send-text:x', 'expect-echo', 'close:1000:'], { opts: ['--proxy', good] });
  assertClientOk(ok);
  assert.deepEqual([proxy.requests[0].methods, proxy.requests[0].user, proxy.requests[0].password],
    [[0, 2], 'alice', 'p@ss:word/1']);

  const wrong = await runClientEnv(t, srv.url, ['close:1000:'],
    { opts: ['--proxy', `socks5h://alice:nope@127.0.0.1:${proxy.port}`] });
  assertClientFail(wrong, 'dial', 'WSC_ECONNECT');
  assert.match(wrong.stdout, /the SOCKS5 proxy 127\.0\.0\.1:\d+ \(from the proxy option\) did not open a tunnel to 127\.0\.0\.1:\d+: it rejected the user name and password/);
  assert.ok(!wrong.stdout.includes('nope'), 'the password is never printed');

  const none = await runClientEnv(t, srv.url, ['close:1000:'], { opts: ['--proxy', proxy.url] });
  assertClientFail(none, 'dial', 'WSC_ECONNECT');
  assert.match(none.stdout, /accepts none of the authentication methods offered \(none\): put user:password@ in the proxy URL/);
});

test('a refused CONNECT names the reason', T, async (t) => {
  for (const [rep, text] of [[5, 'connection refused \\(5\\)'], [2, 'connection not allowed by ruleset \\(2\\)'],
    [4, 'host unreachable \\(4\\)']]) {
    const proxy = await startSocks5Proxy(t, { reply: rep });
    const p = await runClientEnv(t, 'ws://example.invalid/', ['close:1000:'], { opts: ['--proxy', proxy.url] });
    assertClientFail(p, 'dial', 'WSC_ECONNECT');
    assert.match(p.stdout, new RegExp(`did not open a tunnel to example\\.invalid:80: ${text}`));
  }
  const socks4 = await runClientEnv(t, 'ws://127.0.0.1:9/', ['close:1000:'], { opts: ['--proxy', 'socks4://127.0.0.1:1'] });
  assertClientFail(socks4, 'dial', 'WSC_ENOTSUP');
  assert.match(socks4.stdout, /SOCKS4 proxies are not supported: use socks5:\/\/ or socks5h:\/\//);
});

test('from the environment: all_proxy=socks5h://..., and no_proxy', T, async (t) => {
  const srv = await startEchoServer(t);
  const proxy = await startSocks5Proxy(t);
  const p = await runClientEnv(t, srv.url, ['send-text:env', 'expect-echo', 'close:1000:'], { env: { all_proxy: proxy.url } });
  assertClientOk(p);
  assert.equal(proxy.requests.length, 1);
  const direct = await runClientEnv(t, srv.url, ['close:1000:'], { env: { all_proxy: proxy.url, no_proxy: '127.0.0.1' } });
  assertClientOk(direct);
  assert.equal(proxy.requests.length, 1, 'no_proxy: not through the proxy');
  // a proxy that is not there: the failure names it and where it came from
  const gone = await runClientEnv(t, srv.url, ['close:1000:'], { env: { ALL_PROXY: 'socks5h://127.0.0.1:9' } });
  assertClientFail(gone, 'dial', 'WSC_ECONNECT');
  assert.match(gone.stdout, /the proxy 127\.0\.0\.1:9 \(from ALL_PROXY\)/);
});

test('wss:// through a SOCKS5 tunnel, and the wsc tool', T, async (t) => {
  const pki = makePki();
  const server = https.createServer({ cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (d, bin) => ws.send(d, { binary: bin })));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); return new Promise((r) => server.close(() => r())); });
  const port = server.address().port;
  const proxy = await startSocks5Proxy(t, { route: (host) => (host === 'secure.test' ? { host: '127.0.0.1', port } : null) });
  // The name exists only for the proxy: socks5h:// is what lets it through.
  const p = await runClientEnv(t, `wss://secure.test:${port}/`, ['send-text:tls in socks', 'expect-echo', 'close:1000:'],
    { opts: ['--proxy', proxy.url, '--insecure'] });
  assertClientOk(p);
  assert.equal(proxy.requests[0].host, 'secure.test');

  const tool = startProc(t, path.join(BUILD, 'wsc'), [`wss://localhost:${port}/`, '--proxy', proxy.url, '--ca', pki.caFile],
    { stdin: 'pipe' });
  tool.child.stdin.end('through socks\n');
  await tool.wait(10000);
  assert.equal(tool.exitInfo.code, 0, tool.describe());
  assert.equal(tool.stdout, 'through socks\n');
  assert.equal(proxy.requests.at(-1).atyp, 'name');
});
