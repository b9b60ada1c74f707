// SPDX-License-Identifier: MIT
// Our client (tests/progs/client) through an HTTP CONNECT proxy
// (connect_proxy.mjs): the --proxy option, the proxy environment variables
// as curl reads them, no_proxy, Basic credentials, refusals, an unreachable
// proxy, and wss:// through the tunnel.
//
// Every client runs with the proxy variables of this process removed and
// only the ones a test names set, so a developer's own http_proxy cannot
// change the results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import https from 'node:https';
import fs from 'node:fs';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import {
  TEST_TIMEOUT, CLIENT, startProc, startEchoServer, startWsServer, assertClientOk,
  assertClientFail,
} from './lib.mjs';
import { startConnectProxy } from './connect_proxy.mjs';

const T = { timeout: TEST_TIMEOUT };
const PROXY_VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy',
  'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

/**
 * Runs the client like lib.mjs's runClient, with exactly the proxy variables
 * in `env` (all others removed). spawn() copies process.env synchronously, so
 * the variables are changed only around that call.
 */
async function runClientEnv(t, url, steps, { opts = [], env = {}, ms = 15000 } = {}) {
  for (const k of Object.keys(env)) assert.ok(PROXY_VARS.includes(k), `not a proxy variable: ${k}`);
  const saved = {};
  for (const k of PROXY_VARS) {
    saved[k] = process.env[k];
    delete process.env[k];
  }
  let proc;
  try {
    Object.assign(process.env, env);
    proc = startProc(t, CLIENT, [url, ...opts, ...steps]);
  } finally {
    for (const k of PROXY_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  await proc.wait(ms);
  return proc;
}

const ECHO = ['send-text:hello proxy', 'expect-echo', 'send-bin:70000', 'expect-echo', 'close:1000:'];

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** The client's "FAIL dial ..." line. */
function failLine(proc) {
  return (proc.stdout.match(/^FAIL dial .*$/m) || [''])[0];
}

test('ws:// through the proxy given with --proxy', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const proxy = await startConnectProxy(t);
  const c = await runClientEnv(t, srv.url, ECHO, { opts: ['--proxy', proxy.url, '--read-limit', '-1'] });
  assertClientOk(c);
  const target = `127.0.0.1:${srv.port}`;
  assert.deepEqual(proxy.connects, [{ method: 'CONNECT', target, host: target, auth: null, status: 200 }]);
});

test('the upgrade request through the tunnel keeps the server\'s Host and target', T, async (t) => {
  const srv = await startWsServer(t);
  const proxy = await startConnectProxy(t);
  const c = await runClientEnv(t, `${srv.url}/chat?room=1`, ['close:1000:'],
    { opts: ['--proxy', proxy.url.replace('http://', '')] }); // scheme-less, as curl allows
  assertClientOk(c);
  const peer = await srv.nextConnection();
  assert.equal(peer.req.headers.host, `127.0.0.1:${srv.port}`);
  assert.equal(peer.req.url, '/chat?room=1');
  assert.equal(proxy.connects.length, 1);
  assert.equal(proxy.connects[0].target, `127.0.0.1:${srv.port}`);
});

test('ws:// through http_proxy from the environment; HTTP_PROXY is ignored', T, async (t) => {
  const srv = await startEchoServer(t, ['--read-limit', '-1']);
  const proxy = await startConnectProxy(t);
  const c1 = await runClientEnv(t, srv.url, ECHO, { opts: ['--read-limit', '-1'], env: { http_proxy: proxy.url } });
  assertClientOk(c1);
  assert.equal(proxy.connects.length, 1, 'http_proxy was used');
  assert.equal(proxy.connects[0].target, `127.0.0.1:${srv.port}`);

  const c2 = await runClientEnv(t, srv.url, ['close:1000:'], { env: { HTTP_PROXY: proxy.url } });
  assertClientOk(c2);
  assert.equal(proxy.connects.length, 1, 'HTTP_PROXY was not used (curl ignores it too)');

  const c3 = await runClientEnv(t, srv.url, ['close:1000:'], { env: { ALL_PROXY: proxy.url } });
  assertClientOk(c3);
  assert.equal(proxy.connects.length, 2, 'ALL_PROXY was used');

  const c4 = await runClientEnv(t, srv.url, ['close:1000:'], { env: { https_proxy: proxy.url } });
  assertClientOk(c4);
  assert.equal(proxy.connects.length, 2, 'https_proxy is not for ws://');
});

test('no_proxy bypasses the proxy', T, async (t) => {
  const srv = await startEchoServer(t);
  const proxy = await startConnectProxy(t);
  for (const env of [
    { http_proxy: proxy.url, no_proxy: '127.0.0.1' },
    { http_proxy: proxy.url, no_proxy: 'example.com, 127.0.0.1:9' },
    { http_proxy: proxy.url, NO_PROXY: '127.0.0.0/8' },
    { http_proxy: proxy.url, no_proxy: '*' },
  ]) {
    const c = await runClientEnv(t, srv.url, ['send-text:direct', 'expect-echo', 'close:1000:'], { env });
    assertClientOk(c);
    assert.deepEqual(proxy.connects, [], `the proxy saw nothing with ${JSON.stringify(env)}`);
  }
  const c = await runClientEnv(t, srv.url, ['close:1000:'], { env: { http_proxy: proxy.url, no_proxy: '127.0.0.2,localhost' } });
  assertClientOk(c);
  assert.equal(proxy.connects.length, 1, 'a no_proxy without this host leaves the proxy in use');
});

test('--proxy "" ignores the environment', T, async (t) => {
  const srv = await startEchoServer(t);
  const proxy = await startConnectProxy(t);
  const c = await runClientEnv(t, srv.url, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: ['--proxy', ''], env: { http_proxy: proxy.url, all_proxy: proxy.url } });
  assertClientOk(c);
  assert.deepEqual(proxy.connects, []);
});

test('Basic credentials from the proxy URL, percent-decoded', T, async (t) => {
  const srv = await startEchoServer(t);
  const auth = { user: 'us er@corp', password: 'p@ss:w/rd%\u00e9' };
  const proxy = await startConnectProxy(t, { auth });
  const url = `http://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@127.0.0.1:${proxy.port}`;
  const c = await runClientEnv(t, srv.url, ['send-text:authorised', 'expect-echo', 'close:1000:'],
    { opts: ['--proxy', url] });
  assertClientOk(c);
  assert.equal(proxy.connects.length, 1);
  assert.equal(proxy.connects[0].auth,
    'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64'));
  assert.equal(proxy.connects[0].status, 200);

  // The same URL from the environment (all_proxy).
  const c2 = await runClientEnv(t, srv.url, ['close:1000:'], { env: { all_proxy: url } });
  assertClientOk(c2);
  assert.equal(proxy.connects[1].status, 200);
});

test('a proxy that wants credentials: a clear 407 error', T, async (t) => {
  const srv = await startEchoServer(t);
  const proxy = await startConnectProxy(t, { auth: { user: 'u', password: 'right' } });
  const c = await runClientEnv(t, srv.url, ['close:1000:'], { opts: ['--proxy', proxy.url] });
  assertClientFail(c, 'dial', 'WSC_ECONNECT');
  assert.ok(failLine(c).includes(`the proxy 127.0.0.1:${proxy.port} refused CONNECT to 127.0.0.1:${srv.port}: ` +
    '407 Proxy Authentication Required (the proxy wants credentials: put user:password in the proxy URL)'),
  c.describe());
  assert.match(failLine(c), / status=0$/, 'the proxy\'s answer is not the server\'s response');
  assert.equal(proxy.connects[0].status, 407);

  const wrong = `http://u:wrong-secret@127.0.0.1:${proxy.port}`;
  const c2 = await runClientEnv(t, srv.url, ['close:1000:'], { opts: ['--proxy', wrong] });
  assertClientFail(c2, 'dial', 'WSC_ECONNECT');
  assert.ok(failLine(c2).includes('407 Proxy Authentication Required (the proxy did not accept the user name and ' +
    'password in the proxy URL)'), c2.describe());
  assert.ok(!c2.stdout.includes('wrong-secret') && !c2.stderr.includes('wrong-secret'),
    `the password must not be printed\n${c2.describe()}`);
});

test('a denied target: a clear 403 error', T, async (t) => {
  const srv = await startEchoServer(t);
  const proxy = await startConnectProxy(t, { deny: (target) => target === `127.0.0.1:${srv.port}` });
  const c = await runClientEnv(t, srv.url, ['close:1000:'], { env: { http_proxy: proxy.url } });
  assertClientFail(c, 'dial', 'WSC_ECONNECT');
  assert.ok(failLine(c).includes(`the proxy 127.0.0.1:${proxy.port} refused CONNECT to 127.0.0.1:${srv.port}: ` +
    '403 Forbidden'), c.describe());
  assert.equal(proxy.connects[0].status, 403);
});

test('a target the proxy cannot reach: 502', T, async (t) => {
  const proxy = await startConnectProxy(t);
  const port = await closedPort();
  const c = await runClientEnv(t, `ws://127.0.0.1:${port}/`, ['close:1000:'], { opts: ['--proxy', proxy.url] });
  assertClientFail(c, 'dial', 'WSC_ECONNECT');
  assert.ok(failLine(c).includes(`refused CONNECT to 127.0.0.1:${port}: 502 Bad Gateway (the proxy could not ` +
    'reach the server)'), c.describe());
});

test('a proxy that is not listening: an error naming the proxy', T, async (t) => {
  const srv = await startEchoServer(t);
  const port = await closedPort();
  const c = await runClientEnv(t, srv.url, ['close:1000:'],
    { opts: ['--proxy', `http://user:top-secret@127.0.0.1:${port}`] });
  assertClientFail(c, 'dial', 'WSC_ECONNECT');
  assert.ok(failLine(c).includes(`could not connect to the proxy 127.0.0.1:${port} (from the proxy option): ` +
    'Connection refused'), c.describe());
  assert.ok(!c.stdout.includes('top-secret'), `the password must not be printed\n${c.describe()}`);

  const c2 = await runClientEnv(t, srv.url, ['close:1000:'], { env: { http_proxy: `127.0.0.1:${port}` } });
  assertClientFail(c2, 'dial', 'WSC_ECONNECT');
  assert.ok(failLine(c2).includes(`could not connect to the proxy 127.0.0.1:${port} (from http_proxy)`),
    c2.describe());
});

test('unsupported proxy schemes fail with a clear error', T, async (t) => {
  const srv = await startEchoServer(t);
  const c = await runClientEnv(t, srv.url, ['close:1000:'], { opts: ['--proxy', 'socks4://u:pw-x@127.0.0.1:1080'] });
  assertClientFail(c, 'dial', 'WSC_ENOTSUP');
  assert.ok(failLine(c).includes('SOCKS4 proxies are not supported') && !c.stdout.includes('pw-x'), c.describe());
  const c2 = await runClientEnv(t, srv.url, ['close:1000:'], { env: { http_proxy: 'ftp://127.0.0.1:21' } });
  assertClientFail(c2, 'dial', 'WSC_EINVAL');
  assert.ok(failLine(c2).includes('from http_proxy') && failLine(c2).includes('unknown proxy scheme "ftp"'),
    c2.describe());
});

/** A `ws` echo server over https with the test PKI's localhost certificate. */
async function startWssEcho(t) {
  const { makePki } = await import('./certs.mjs');
  const pki = await makePki();
  const server = https.createServer({ cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((r) => server.close(() => r()));
  });
  return { pki, port: server.address().port };
}

// Needs TLS (src/net/tls.c) and tests/interop/certs.mjs.
test('wss:// through https_proxy: TLS runs over the tunnel', T, async (t) => {
  const { pki, port } = await startWssEcho(t);
  const proxy = await startConnectProxy(t);
  const dead = `http://127.0.0.1:${await closedPort()}`;
  for (const host of ['127.0.0.1', 'localhost']) {
    const c = await runClientEnv(t, `wss://${host}:${port}/secure`, ECHO, {
      opts: ['--ca', pki.caFile, '--read-limit', '-1'],
      env: { https_proxy: proxy.url, http_proxy: dead }, // http_proxy is not for wss://
    });
    assertClientOk(c);
    assert.deepEqual(proxy.connects.at(-1), {
      method: 'CONNECT', target: `${host}:${port}`, host: `${host}:${port}`, auth: null, status: 200,
    });
  }
  assert.equal(proxy.connects.length, 2);
});

test('wss:// through a proxy checks the certificate against the server\'s name', T, async (t) => {
  const { pki, port } = await startWssEcho(t);
  // Every tunnel leads to the local TLS server, whatever name was asked for:
  // names under .invalid resolve nowhere, so only the proxy can "reach" them.
  const proxy = await startConnectProxy(t, { route: () => ({ host: '127.0.0.1', port }) });
  const ok = await runClientEnv(t, 'wss://localhost/', ['send-text:sni', 'expect-echo', 'close:1000:'],
    { opts: ['--ca', pki.caFile], env: { HTTPS_PROXY: proxy.url } });
  assertClientOk(ok);
  assert.equal(proxy.connects[0].target, 'localhost:443', 'the default wss port in CONNECT');

  const bad = await runClientEnv(t, 'wss://wsc-test.invalid/', ['close:1000:'],
    { opts: ['--ca', pki.caFile], env: { HTTPS_PROXY: proxy.url } });
  assertClientFail(bad, 'dial', 'WSC_ETLS');
  assert.equal(proxy.connects[1].target, 'wsc-test.invalid:443');
  assert.equal(proxy.connects[1].status, 200, 'the tunnel opened; TLS refused the certificate');
});
