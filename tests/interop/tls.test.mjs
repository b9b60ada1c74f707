// SPDX-License-Identifier: MIT
// TLS: our client against a `ws` server on node's https, our TLS echo_server
// against our client and a `ws` client, certificate and name failures, client
// certificates, plain peers on TLS ports, and tests/progs/tls_check (deadlines,
// timeout 0, a nonblocking dial, threads). The PKI comes from certs.mjs
// (openssl at test time); nothing is skipped when something is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import {
  BUILD, TEST_TIMEOUT, MiB, pattern, startEchoServer, startWsServer, runClient, assertClientOk,
  assertClientFail, closedLine, serverClosed, connectWs, rawRequest, upgradeRequest, startProc,
  nLines,
} from './lib.mjs';
import { makePki } from './certs.mjs';

const T = { timeout: TEST_TIMEOUT };
const pki = makePki();
const TLS_CHECK = path.join(BUILD, 'tests/progs/tls_check');

/**
 * A `ws` echo server on node's https server bound to host (default
 * 127.0.0.1) with the given certificate; records what it receives.
 */
async function startWssServer(t, { cert = pki.certFile, key = pki.keyFile, host = '127.0.0.1',
  requestCert = false, maxVersion } = {}) {
  const server = https.createServer({
    cert: fs.readFileSync(cert), key: fs.readFileSync(key), ...(maxVersion ? { maxVersion } : {}),
    ...(requestCert ? { requestCert: true, rejectUnauthorized: true, ca: fs.readFileSync(pki.caFile) } : {}),
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * MiB });
  const received = [];
  const closes = [];
  const reused = []; // per connection: whether its TLS session was resumed
  wss.on('connection', (ws, req) => {
    reused.push(req.socket.isSessionReused());
    ws.on('message', (data, isBinary) => {
      received.push({ data: Buffer.from(data), isBinary });
      if (!isBinary && data.toString().startsWith('close:')) {
        const [, code, reason] = data.toString().split(':');
        ws.close(Number(code), reason);
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    ws.on('error', () => {});
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections?.();
    return new Promise((r) => server.close(() => r()));
  });
  const { port } = server.address();
  return { port, host, received, closes, reused, url: `wss://${host}:${port}` };
}

/** Our echo_server with TLS; extra args appended. */
function startTlsEchoServer(t, args = []) {
  return startEchoServer(t, ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile, ...args]);
}

const CA = ['--ca', pki.caFile];

// ---- our client against ws on https -------------------------------------------

test('wss:// to ws on https with --ca: messages up to 1 MiB echo, close 4000 both ends see', T, async (t) => {
  const srv = await startWssServer(t);
  const c = await runClient(t, `wss://localhost:${srv.port}/`, [
    'send-text:hello', 'expect-echo', 'send-text:h\u00e9llo \u2603', 'expect-echo',
    'send-bin:0', 'expect-echo', 'send-bin:65536', 'expect-echo', `send-bin:${MiB}`, 'expect-echo',
    'send-frag:3:300000', 'expect-echo', 'close:4000:bye',
  ], { opts: [...CA, '--read-limit', '-1'] });
  assertClientOk(c);
  assert.match(c.stdout, /^CLOSE status=4000 reason=bye$/m); // ws echoes code and reason
  assert.deepEqual(srv.received.map((m) => m.data.length), [5, 10, 0, 65536, MiB, 300000]);
  assert.ok(srv.received[4].data.equals(pattern(MiB)), 'the 1 MiB payload arrived intact');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(srv.closes, [{ code: 4000, reason: 'bye' }]);
});

test('https:// URL and an IP literal (checked against the IP SAN) work too', T, async (t) => {
  const srv = await startWssServer(t);
  const c = await runClient(t, `https://127.0.0.1:${srv.port}/path?q=1`, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: CA });
  assertClientOk(c);
});

test('the server closes with 4001 over TLS: our client reports it', T, async (t) => {
  const srv = await startWssServer(t);
  const c = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:close:4001:server-bye', 'read-until-close'],
    { opts: CA });
  assertClientOk(c);
  assert.deepEqual(closedLine(c.stdout), { err: 'WSC_ECLOSED', status: 4001, reason: 'server-bye' });
});

test('without --ca the system store does not know the CA: WSC_ETLS with an issuer detail', T, async (t) => {
  const srv = await startWssServer(t);
  const c = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:x']);
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /certificate verify failed for localhost:\d+: unable to get local issuer certificate \(pass the CA with ca_file\)/);
  const other = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:x'], { opts: ['--ca', pki.otherCaFile] });
  assertClientFail(other, 'dial', 'WSC_ETLS');
  assert.match(other.stdout, /issuer/);
});

test('a certificate not valid for the name dialled: WSC_ETLS host name mismatch', T, async (t) => {
  const srv = await startWssServer(t, { host: '127.0.0.2' });
  const c = await runClient(t, `wss://127.0.0.2:${srv.port}/`, ['send-text:x'], { opts: CA });
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /host name mismatch: the certificate is not valid for 127\.0\.0\.2 \(it is for DNS:localhost, IP:127\.0\.0\.1\)/);
  // --insecure skips the check
  const ok = await runClient(t, `wss://127.0.0.2:${srv.port}/`, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: ['--insecure'] });
  assertClientOk(ok);
});

test('an expired certificate: WSC_ETLS "certificate has expired"; --insecure accepts it', T, async (t) => {
  const srv = await startWssServer(t, { cert: pki.expiredCertFile, key: pki.expiredKeyFile });
  const c = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:x'], { opts: CA });
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /certificate verify failed for localhost:\d+: certificate has expired/);
  const ok = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: ['--insecure'] });
  assertClientOk(ok);
});

test('ws on https asking for a client certificate: ours is accepted', T, async (t) => {
  const srv = await startWssServer(t, { requestCert: true });
  const c = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: [...CA, '--cert', pki.clientCertFile, '--key', pki.clientKeyFile] });
  assertClientOk(c);
});

test('wss:// to a plain ws server: WSC_ETLS that says the peer is not speaking TLS', T, async (t) => {
  const srv = await startWsServer(t);
  const c = await runClient(t, `wss://127.0.0.1:${srv.port}/`, ['send-text:x'], { opts: CA });
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /TLS handshake with 127\.0\.0\.1:\d+ failed: .*\(is the peer speaking TLS on this port\?\)/);
});

test('bad client TLS options fail the dial clearly', T, async (t) => {
  const srv = await startWssServer(t);
  const url = `wss://localhost:${srv.port}/`;
  let c = await runClient(t, url, ['send-text:x'], { opts: ['--ca', '/nonexistent/ca.pem'] });
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /cannot read the CA file \/nonexistent\/ca\.pem: No such file or directory/);
  c = await runClient(t, url, ['send-text:x'], { opts: [...CA, '--cert', pki.clientCertFile] });
  assertClientFail(c, 'dial', 'WSC_EINVAL');
  assert.match(c.stdout, /cert_file and key_file go together/);
  c = await runClient(t, url, ['send-text:x'], { opts: [...CA, '--cert', pki.clientCertFile, '--key', pki.keyFile] });
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /does not match the certificate/);
  c = await runClient(t, url, ['send-text:x'], { opts: ['--ca-dir', '/nonexistent-dir'] });
  assertClientFail(c, 'dial', 'WSC_ETLS');
  assert.match(c.stdout, /CA directory \/nonexistent-dir/);
});

test('--ca-dir with a hashed directory works', T, async (t) => {
  const dir = fs.mkdtempSync(path.join(pki.dir, 'cadir-'));
  const { execFileSync } = await import('node:child_process');
  const hash = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', pki.caFile]).toString().trim();
  fs.copyFileSync(pki.caFile, path.join(dir, `${hash}.0`));
  const srv = await startWssServer(t);
  const c = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: ['--ca-dir', dir] });
  assertClientOk(c);
});

// ---- our TLS server ------------------------------------------------------------

test('our TLS server <-> our client: echo up to 4 MiB, ping, close codes both ways', T, async (t) => {
  const srv = await startTlsEchoServer(t, ['--read-limit', '-1']);
  const url = `wss://localhost:${srv.port}/x`;
  const c = await runClient(t, url, [
    'send-text:hi', 'expect-echo', 'send-bin:1', 'expect-echo', `send-bin:${MiB}`, 'expect-echo',
    `send-bin:${4 * MiB}`, 'expect-echo', 'send-frag:5:100000', 'expect-echo', 'ping', 'close:4000:bye',
  ], { opts: [...CA, '--read-limit', '-1'] });
  assertClientOk(c);
  assert.match(c.stdout, /^PONG$/m);
  assert.match(c.stdout, /^CLOSE status=4000 reason=$/m); // the echo of our close
  assert.match(srv.proc.stdout, /^ACCEPTED \/x subprotocol= extensions=$/m);
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 4000, reason: 'bye' });

  const c2 = await runClient(t, `wss://127.0.0.1:${srv.port}/`, ['send-text:cmd:close 4002 srv', 'read-until-close'],
    { opts: CA });
  assertClientOk(c2);
  assert.deepEqual(closedLine(c2.stdout), { err: 'WSC_ECLOSED', status: 4002, reason: 'srv' });
});

test('our TLS server <-> a ws client (wss with ca): echo and close both ways', T, async (t) => {
  const srv = await startTlsEchoServer(t, ['--read-limit', '-1']);
  const ca = fs.readFileSync(pki.caFile);
  const peer = await connectWs(t, `wss://127.0.0.1:${srv.port}/`, [], { ca });
  for (const [data, binary] of [['hello', false], [pattern(100000), true], [pattern(2 * MiB), true]]) {
    await peer.send(data, { binary });
    const m = await peer.nextMessage();
    assert.equal(m.isBinary, binary);
    assert.ok(m.data.equals(Buffer.from(data)), `echo of ${data.length} bytes`);
  }
  await peer.pingPong();
  peer.ws.close(4000, 'from-ws');
  assert.deepEqual(await peer.waitClosed(), { code: 4000, reason: '' }); // our echo
  assert.deepEqual(await serverClosed(srv), { err: 'WSC_ECLOSED', status: 4000, reason: 'from-ws' });

  const peer2 = await connectWs(t, `wss://localhost:${srv.port}/`, [], { ca });
  await peer2.send('cmd:close 4003 bye-ws');
  assert.deepEqual(await peer2.waitClosed(), { code: 4003, reason: 'bye-ws' });
});

test('client certificates required: without one the handshake fails, with one it passes', T, async (t) => {
  const srv = await startTlsEchoServer(t, ['--tls-client-ca', pki.caFile]);
  const url = `wss://localhost:${srv.port}/`;
  const bad = await runClient(t, url, ['send-text:x', 'expect-echo'], { opts: CA });
  assertClientFail(bad, 'dial', 'WSC_ETLS');
  assert.match(bad.stdout, /alert certificate required \(the server wants a client certificate: cert_file and key_file\)/);
  await srv.proc.waitFor(/^ACCEPT_FAIL WSC_ETLS .*peer did not return a certificate/m, { stream: 'stderr' });

  const good = await runClient(t, url, ['send-text:x', 'expect-echo', 'close:1000:'],
    { opts: [...CA, '--cert', pki.clientCertFile, '--key', pki.clientKeyFile] });
  assertClientOk(good);

  // a ws client with our client certificate, and one without
  const ca = fs.readFileSync(pki.caFile);
  const peer = await connectWs(t, `wss://127.0.0.1:${srv.port}/`, [], {
    ca, cert: fs.readFileSync(pki.clientCertFile), key: fs.readFileSync(pki.clientKeyFile),
  });
  await peer.send('via-ws');
  assert.equal((await peer.nextMessage()).data.toString(), 'via-ws');
  await assert.rejects(connectWs(t, `wss://127.0.0.1:${srv.port}/`, [], { ca }));
});

test('plain clients on the TLS port fail cleanly; the server keeps serving', T, async (t) => {
  const srv = await startTlsEchoServer(t);
  const res = await rawRequest(srv.port, upgradeRequest(srv.port), 3000);
  assert.equal(res.status, 400, 'a plain request gets a plain 400');
  assert.match(res.raw, /Client sent an HTTP request to an HTTPS server/);
  await srv.proc.waitFor(/^ACCEPT_FAIL WSC_ETLS .*http request \(a plain HTTP client on the TLS port\?\)/m,
    { stream: 'stderr' });
  const plain = await runClient(t, `ws://127.0.0.1:${srv.port}/`, ['send-text:x']);
  assertClientFail(plain, 'dial', 'WSC_EHANDSHAKE');
  assert.match(plain.stdout, /status=400$/m);
  await srv.proc.waitFor(nLines(/^ACCEPT_FAIL WSC_ETLS/gm, 2), { stream: 'stderr' });
  const c = await runClient(t, `wss://localhost:${srv.port}/`, ['send-text:still-here', 'expect-echo', 'close:1000:'],
    { opts: CA });
  assertClientOk(c);
  assert.equal(srv.proc.exitInfo, null, 'the server is still running');
});

test('a bad certificate or key for the server: a clear TLS_FAIL', T, async (t) => {
  let p = startProc(t, path.join(BUILD, 'tests/progs/echo_server'),
    ['--tls-cert', pki.certFile, '--tls-key', pki.clientKeyFile]);
  await p.wait(5000);
  assert.equal(p.exitInfo.code, 1);
  assert.match(p.stderr, /TLS_FAIL WSC_ETLS.*the private key .*client\.key does not match the certificate .*server\.pem/);
  p = startProc(t, path.join(BUILD, 'tests/progs/echo_server'),
    ['--tls-cert', '/nonexistent/cert.pem', '--tls-key', pki.keyFile]);
  await p.wait(5000);
  assert.match(p.stderr, /TLS_FAIL WSC_ETLS.*\/nonexistent\/cert\.pem/);
});

test('deadlines, timeout 0, a nonblocking dial and threads over TLS (tls_check)', { timeout: 60000 }, async (t) => {
  // startProc takes no environment: pass it through env(1)
  const q = startProc(t, '/usr/bin/env', [
    `WSC_TLS_CA=${pki.caFile}`, `WSC_TLS_CERT=${pki.certFile}`, `WSC_TLS_KEY=${pki.keyFile}`,
    `WSC_TLS_OTHER_KEY=${pki.clientKeyFile}`, `WSC_TLS_OTHER_CA=${pki.otherCaFile}`, TLS_CHECK,
  ]);
  await q.wait(55000);
  assert.equal(q.exitInfo.code, 0, q.describe());
  assert.match(q.stdout, /^tls_check: \d+ checks passed$/m);
});

// ---- session resumption ----------------------------------------------------------

for (const maxVersion of ['TLSv1.3', 'TLSv1.2']) {
  test(`resumption, ${maxVersion}: our client resumes with ws on https; messages cross after`, T, async (t) => {
    const srv = await startWssServer(t, { host: 'localhost', maxVersion });
    const c = await runClient(t, `wss://localhost:${srv.port}/`, [
      'send-bin:100000', 'expect-echo', 'redial', `send-bin:${MiB}`, 'expect-echo', 'send-text:x',
      'expect-echo', 'redial', 'send-bin:20000', 'expect-echo', 'close:1000:',
    ], { opts: [...CA, '--read-limit', '-1'] });
    assertClientOk(c);
    assert.deepEqual([...c.stdout.matchAll(/^REDIALED resumed=(\d)$/gm)].map((m) => m[1]), ['1', '1']);
    assert.deepEqual(srv.reused, [false, true, true], 'the server saw the second and third resume');
  });

  test(`resumption, ${maxVersion}: a ws client resumes with our TLS server (https.Agent's cache)`, T, async (t) => {
    const srv = await startTlsEchoServer(t, ['--read-limit', '-1']);
    const ca = fs.readFileSync(pki.caFile);
    const agent = new https.Agent({ ca, maxVersion, maxCachedSessions: 10 });
    const used = [];
    for (let i = 0; i < 3; i++) {
      const peer = await connectWs(t, `wss://localhost:${srv.port}/`, [], { agent, ca });
      used.push(peer.ws._socket.isSessionReused());
      for (const data of [pattern(100), pattern(2 * MiB), pattern(20000)]) {
        await peer.send(data, { binary: true });
        assert.ok((await peer.nextMessage()).data.equals(data), `echo of ${data.length} bytes`);
      }
      peer.ws.close(1000);
      assert.equal((await peer.waitClosed()).code, 1000);
    }
    assert.deepEqual(used, [false, true, true]);
  });
}

test('compression over TLS: permessage-deflate negotiated and used', T, async (t) => {
  const srv = await startTlsEchoServer(t, ['--compress', 'takeover', '--read-limit', '-1']);
  const c = await runClient(t, `wss://localhost:${srv.port}/`, [
    'send-text:' + 'compress me '.repeat(200), 'expect-echo', `send-bin:${MiB}`, 'expect-echo', 'close:1000:',
  ], { opts: [...CA, '--compress', 'takeover', '--read-limit', '-1'] });
  assertClientOk(c);
  assert.match(c.stdout, /^CONNECTED subprotocol= extensions=permessage-deflate/m);
  assert.match(srv.proc.stdout, /^ACCEPTED \/ subprotocol= extensions=permessage-deflate/m);
});
