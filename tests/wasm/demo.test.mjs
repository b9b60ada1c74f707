// SPDX-License-Identifier: MIT
// demo.test.mjs - the web demo (`make demo`) end to end in Chromium.
//
//   make demo-build && WSC_BUILD=build/native node --test tests/wasm/demo.test.mjs
//
// Starts $WSC_BUILD/demo/chat_server on port 0, serving web-demo/www and the
// wasm client build/demo/www (chat.js, chat.wasm), and drives chat pages in
// one Chromium (playwright-core, /usr/bin/chromium): messages reach every
// page, join and leave notices, text shown literally, the size limit, a page
// closed for sending too fast (it says why), SIGTERM (exit 0, the log
// written out), and a server restart on the same port (reconnecting, then
// connected again).
// Last, it writes web-demo/screenshot.png: two chatting pages side by side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.resolve(process.env.WSC_BUILD || 'build/native');
const SERVER = path.join(BUILD, 'demo/chat_server');
const WWW = [path.join(ROOT, 'web-demo/www'), path.join(ROOT, 'build/demo/www')];
const SCREENSHOT = path.join(ROOT, 'web-demo/screenshot.png');
const CHROMIUM = '/usr/bin/chromium';
const T = { timeout: 30000 };

let server, port, base, context, profileDir;

// Spawns chat_server on `p` (0: any) with extra args; resolves with
// {child, port, out} where out() is what it printed so far.
function spawnServer(p, args = []) {
  const child = spawn(SERVER, ['--port', String(p), ...WWW.flatMap((d) => ['--www', d]), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/chat: serving http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve({ child, port: Number(m[1]), out: () => out });
    });
    child.once('exit', (code) => reject(new Error(`chat_server exited ${code}: ${out}`)));
  });
}

// Starts the shared chat_server on `p` (0: any); resolves with its port.
async function startServer(p) {
  const s = await spawnServer(p);
  server = s.child;
  return s.port;
}

function stopServer() {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGKILL'); });
}

async function openChat() {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  return page;
}

async function say(page, text, how = 'enter') {
  await page.fill('#input', text);
  if (how === 'enter') await page.press('#input', 'Enter');
  else await page.click('#send');
}

const logLines = (page) => page.locator('#log li').allTextContents();

async function waitLine(page, pred, what) {
  await page.waitForFunction(
    ([src]) => [...document.querySelectorAll('#log li')].some((li) => new Function('t', src)(li.textContent)),
    [`return ${pred};`], { timeout: 10000 },
  ).catch(async (e) => { throw new Error(`${what}: ${e.message}\nlog: ${JSON.stringify(await logLines(page))}`); });
}

before(async () => {
  assert.ok(fs.existsSync(SERVER), `${SERVER} is missing: run make demo-build`);
  assert.ok(fs.existsSync(path.join(WWW[1], 'chat.wasm')), 'build/demo/www/chat.wasm is missing: run make demo-build');
  port = await startServer(0);
  base = `http://127.0.0.1:${port}`;
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close().catch(() => {});
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  await stopServer();
});

test('the server serves the page and its files, and nothing else', T, async () => {
  for (const [p, type] of [['/', 'text/html; charset=utf-8'], ['/app.js', 'text/javascript; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'], ['/chat.wasm', 'application/wasm']]) {
    const r = await fetch(base + p);
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get('content-type'), type, p);
    assert.equal(Number(r.headers.get('content-length')), (await r.arrayBuffer()).byteLength, p);
  }
  assert.equal((await fetch(`${base}/nope.html`)).status, 404);
  assert.equal((await fetch(`${base}/%2e%2e/Makefile`)).status, 404);
  assert.equal((await fetch(`${base}/`, { method: 'POST', body: 'x' })).status, 405);
});

let a, b;

test('a message typed in one page appears in both; join and leave notices', T, async () => {
  a = await openChat();
  b = await openChat();
  await say(a, 'hello from a');
  await waitLine(a, "t.endsWith(': hello from a')", 'a sees its message');
  await waitLine(b, "t.endsWith(': hello from a')", 'b sees a\'s message');
  await say(b, 'hi from b', 'click');
  await waitLine(a, "t.endsWith(': hi from b')", 'a sees b\'s message');
  assert.equal(await a.inputValue('#input'), '', 'input cleared after sending');

  const c = await openChat();
  const joined = (await logLines(c)).find((t) => / joined$/.test(t));
  assert.ok(joined, 'c sees its own join notice');
  const name = joined.match(/^\* (guest-\d+) joined$/)[1];
  await waitLine(a, `t === '* ${name} joined'`, 'a sees c join');
  await waitLine(b, `t === '* ${name} joined'`, 'b sees c join');
  await c.close();
  await waitLine(a, `t === '* ${name} left'`, 'a sees c leave');
  await waitLine(b, `t === '* ${name} left'`, 'b sees c leave');
});

test('message text is shown literally, never as HTML', T, async () => {
  await say(a, '<b>x</b>');
  await waitLine(b, "t.endsWith(': <b>x</b>')", 'b shows the tags as text');
  assert.equal(await b.locator('#log b').count(), 0, 'no <b> element was made');
});

test('an oversized message is refused with a visible error', T, async () => {
  await say(a, 'y'.repeat(5000));
  await a.locator('#error', { hasText: 'message too long (5000 bytes, max 4096)' }).waitFor({ timeout: 5000 });
  assert.ok(await a.locator('#error').isVisible());
  assert.equal(await a.inputValue('#input'), 'y'.repeat(5000), 'the text stays in the input');
  await say(a, 'z'.repeat(4096));
  await waitLine(b, "t.endsWith('z'.repeat(4096))", 'a message of exactly 4096 bytes passes');
});

test('a page closed for sending too fast says why, until it is connected again', T, async () => {
  const c = await openChat();
  await c.evaluate(() => { for (let i = 0; i < 40; i++) send(`too fast ${i}`); }); // app.js's send
  const why = /^disconnected: 1008 sending too fast; reconnecting in 2\.0 s$/;
  await c.locator('#error', { hasText: why }).waitFor({ timeout: 5000 }).catch(async (e) => {
    throw new Error(`${e.message}\nerror line: ${JSON.stringify(await c.locator('#error').textContent())}` +
      `\nlog: ${JSON.stringify((await logLines(c)).slice(-3))}`);
  });
  await c.waitForTimeout(1500);
  assert.match(await c.locator('#error').textContent(), why, 'still shown while it waits');
  await c.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  assert.equal(await c.locator('#error').textContent(), '', 'cleared once connected');
  assert.ok((await logLines(c)).includes('* disconnected: 1008 sending too fast'), 'the log keeps it');
  await c.close();
});

// A ws client of the hub on `p`; resolves once open. `closed` resolves with the code.
function wsClient({ paused = false, p = port, deflate = false } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${p}/ws`, { origin: `http://127.0.0.1:${p}`, perMessageDeflate: deflate });
  ws.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      if (paused) ws._socket.pause(); // reads nothing: the server's queue for it fills
      resolve(ws);
    });
  });
}

test('a long line reaches compressing and plain clients alike (one prepared message)', T, async () => {
  const zipped = await wsClient({ deflate: true });
  const plain = await wsClient();
  assert.match(zipped.extensions, /permessage-deflate/, 'the hub accepts compression');
  assert.equal(plain.extensions, '');
  const heard = (ws, want) => new Promise((resolve) => ws.on('message', (d) => {
    if (d.toString().endsWith(want)) resolve(d.toString());
  }));
  const line = 'lorem ipsum dolor sit amet '.repeat(120); // 3240 bytes: compressed for zipped
  const got = [heard(zipped, line), heard(plain, line)];
  plain.send(line);
  const [a, b] = await Promise.all(got);
  assert.equal(a, b, 'both received the same line');
  assert.ok(a.endsWith(`: ${line}`), a.slice(0, 40));
  // the compressed one travelled compressed: ws counts the bytes it received
  assert.ok(zipped._socket.bytesRead < plain._socket.bytesRead - 2000,
    `compressed ${zipped._socket.bytesRead} B vs plain ${plain._socket.bytesRead} B`);
  zipped.close(1000);
  plain.close(1000);
  await Promise.all([zipped.closed, plain.closed]);
});

test('the server closes a message over its limit with 1009', T, async () => {
  const ws = await wsClient();
  ws.send('y'.repeat(5000));
  assert.equal(await ws.closed, 1009);
});

test('a client that stops reading is closed with 1008; the others go on', T, async (t) => {
  // A server of its own without the send limit: one sender fills the queue.
  const own = await spawnServer(0, ['--rate', '0']);
  t.after(() => own.child.kill('SIGKILL'));
  const slow = await wsClient({ paused: true, p: own.port });
  const fast = await wsClient({ p: own.port });
  let got = 0;
  fast.on('message', () => { got++; });
  // 4000-byte messages until the slow client's socket buffers and then its
  // 64-message queue are full (the server says so), in paced batches so the
  // fast client keeps up.
  for (let i = 0; i < 1000 && !/queue full/.test(own.out()); i++) {
    for (let k = 0; k < 25; k++) fast.send(`${i}-${k} ` + 'z'.repeat(3990));
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(own.out(), /queue full/, 'the slow client\'s queue should have filled');
  slow._socket.resume();
  assert.equal(await slow.closed, 1008, 'the slow client should be closed with 1008');
  assert.ok(got > 0 && fast.readyState === WebSocket.OPEN, 'the fast client keeps its connection');
  fast.close(1000);
  await fast.closed;
});

test('SIGTERM ends the server with exit status 0 and its log written out', T, async () => {
  // The log is written every 100 ms tick: a join just before SIGTERM must
  // still reach stdout, and the server says it ended cleanly.
  const own = await spawnServer(0);
  const ws = new WebSocket(`ws://127.0.0.1:${own.port}/ws`);
  // listening from the start: the notice may come with the 101
  const notice = await new Promise((resolve, reject) => {
    ws.once('message', (d) => resolve(String(d)));
    ws.once('error', reject);
  });
  const name = notice.match(/^\* (guest-\d+) joined$/)[1];
  const exited = new Promise((resolve) => own.child.once('exit', (code, sig) => resolve({ code, sig })));
  own.child.kill('SIGTERM');
  const { code, sig } = await exited;
  assert.deepEqual({ code, sig }, { code: 0, sig: null }, 'exit status 0 on SIGTERM');
  assert.match(own.out(), new RegExp(`^${name} joined$`, 'm'), 'the join was logged before the end');
  ws.terminate();
});

test('after a server restart the pages reconnect and chat again', T, async () => {
  await stopServer();
  for (const p of [a, b]) await p.locator('#status', { hasText: /^reconnecting in / }).waitFor({ timeout: 10000 });
  assert.equal(await startServer(port), port);
  for (const p of [a, b]) await p.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 15000 });
  await say(b, 'back again');
  await waitLine(a, "t.endsWith(': back again')", 'a sees b after the restart');
  await waitLine(b, "t.endsWith(': back again')", 'b sees itself after the restart');
});

test('screenshot: two chatting pages side by side', T, async () => {
  await a.close();
  await b.close();
  const shot = await context.newPage();
  await shot.setViewportSize({ width: 1100, height: 520 });
  await shot.setContent(`<!doctype html><body style="margin:0;display:flex;gap:8px;background:#888">
    <iframe id="l" src="${base}/" style="flex:1;height:512px;border:0"></iframe>
    <iframe id="r" src="${base}/" style="flex:1;height:512px;border:0"></iframe></body>`);
  const [l, r] = [shot.frameLocator('#l'), shot.frameLocator('#r')];
  for (const f of [l, r]) await f.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  const lines = [[l, 'Hi! Is this chat written in C?'], [r, 'Both ends: a native wsc server and wsc compiled to wasm.'],
    [l, 'And <b>tags</b> stay text.'], [r, 'Nice.']];
  for (const [f, text] of lines) {
    await f.locator('#input').fill(text);
    await f.locator('#input').press('Enter');
    for (const g of [l, r]) await g.locator('#log li', { hasText: text }).first().waitFor({ timeout: 5000 });
  }
  await shot.screenshot({ path: SCREENSHOT });
  assert.ok(fs.statSync(SCREENSHOT).size > 1000);
  await shot.close();
});
