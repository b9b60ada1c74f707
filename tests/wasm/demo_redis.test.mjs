// SPDX-License-Identifier: MIT
// demo_redis.test.mjs - the chat demo beyond one process: two chat_server
// processes share one room through one Redis (Debian's redis-server, on a
// Unix socket of its own), with chat pages in Chromium on both.
//
//   make demo-build && WSC_BUILD=build/native node --test tests/wasm/demo_redis.test.mjs
//
// Checks that every line reaches every page exactly once whichever server
// its sender is on, that restarting one server loses none of the other
// server's clients (they stay connected and keep chatting), that the
// restarted server's pages come back into the shared room, and that a
// server whose Redis goes away keeps chatting alone and rejoins the room
// when Redis is back, and that one whose Redis stops answering (SIGSTOP)
// neither piles up what it publishes nor goes silent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
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
const REDIS = '/usr/bin/redis-server';
const T = { timeout: 60000 };

let dir, sock, redis, context;
const servers = [];

function waitOutput(proc, re, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not seen in ${ms} ms\n${proc.out()}`)), ms);
    const check = () => {
      const m = proc.out().match(re);
      if (m) { clearTimeout(timer); proc.child.stdout.off('data', check); resolve(m); }
    };
    proc.child.stdout.on('data', check);
    check();
  });
}

function spawnProc(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  return { child, out: () => out };
}

function startRedis() {
  redis = spawnProc(REDIS, ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no',
    '--dir', dir]);
  return waitOutput(redis, /ready to accept connections/i, 'redis-server ready');
}

function stopRedis() {
  const r = redis;
  return new Promise((resolve) => { r.child.once('exit', resolve); r.child.kill('SIGKILL'); });
}

/** A chat_server on port p (0: any) sharing the room, with more args;
 * resolves {child, port, out}. */
async function startChat(p = 0, args = []) {
  const s = spawnProc(SERVER, ['--port', String(p), ...WWW.flatMap((d) => ['--www', d]), '--redis', sock, ...args]);
  servers.push(s);
  s.port = Number((await waitOutput(s, /chat: serving http:\/\/127\.0\.0\.1:(\d+)/, 'chat_server'))[1]);
  await waitOutput(s, /chat: sharing the room through Redis/, 'joining the shared room');
  return s;
}

function stopChat(s) {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve(s.child.exitCode);
    s.child.once('exit', resolve);
    s.child.kill('SIGTERM');
  });
}

async function openChat(port) {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  return page;
}

const logLines = (page) => page.locator('#log li').allTextContents();

async function say(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

/** Waits until every page shows every line (as "name: line"), then checks each once. */
async function everyoneHears(pages, lines) {
  for (const page of pages) {
    for (const line of lines) {
      await page.waitForFunction(
        (l) => [...document.querySelectorAll('#log li')].some((li) => li.textContent.endsWith(`: ${l}`)),
        line, { timeout: 10000 },
      ).catch(async (e) => { throw new Error(`"${line}" did not reach a page: ${e.message}\nlog: ${JSON.stringify(await logLines(page))}`); });
    }
  }
  for (const [i, page] of pages.entries()) {
    const log = await logLines(page);
    for (const line of lines) {
      const n = log.filter((l) => l.endsWith(`: ${line}`)).length;
      assert.equal(n, 1, `page ${i} shows "${line}" ${n} times\n${JSON.stringify(log)}`);
    }
  }
}

before(async () => {
  assert.ok(fs.existsSync(SERVER), `${SERVER} is missing: run make demo-build`);
  assert.ok(fs.existsSync(REDIS), `${REDIS} is missing: run make deps (it installs redis-server)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-redis-'));
  sock = path.join(dir, 'redis.sock');
  await startRedis();
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close().catch(() => {});
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  if (redis && redis.child.exitCode === null) redis.child.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('two servers, one room: every line reaches every page once; a restart loses no one else', T, async () => {
  const a = await startChat();
  const b = await startChat();
  const pa = [await openChat(a.port), await openChat(a.port)];
  const pb = [await openChat(b.port), await openChat(b.port)];
  const pages = [...pa, ...pb];
  // joins are announced room-wide: a page on A sees B's guests join
  const bName = (await waitOutput(b, /^(guest-[0-9a-f]{4}-\d+) joined$/m, 'a guest on B'))[1];
  await pa[0].waitForFunction((n) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === `* ${n} joined`),
    bName, { timeout: 10000 });

  const first = pages.map((p, i) => `hello from page ${i} ${Math.random().toString(36).slice(2, 8)}`);
  for (const [i, p] of pages.entries()) await say(p, first[i]);
  await everyoneHears(pages, first);

  // A restarts on its port: B's pages stay connected all along
  const bWatch = pb.map((p) => p.evaluate(() => new Promise((resolve) => {
    const st = document.querySelector('#status');
    const seen = [];
    const obs = new MutationObserver(() => seen.push(st.textContent));
    obs.observe(st, { childList: true, characterData: true, subtree: true });
    window.__stopWatch = () => { obs.disconnect(); resolve(seen); };
  })));
  assert.equal(await stopChat(a), 0, `A exits 0 on SIGTERM\n${a.out()}`);
  const again = await startChat(a.port);
  for (const p of pa) await p.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 15000 });
  const second = pages.map((p, i) => `after the restart ${i} ${Math.random().toString(36).slice(2, 8)}`);
  for (const [i, p] of pages.entries()) await say(p, second[i]);
  await everyoneHears(pages, second);
  for (const p of pb) await p.evaluate(() => window.__stopWatch());
  const bStatus = await Promise.all(bWatch);
  assert.deepEqual(bStatus, [[], []], `B's pages never left "connected": ${JSON.stringify(bStatus)}`);
  assert.doesNotMatch(b.out(), /left/, `no client of B left\n${b.out()}`);
  assert.match(again.out(), /sharing the room through Redis/);
});

test('without Redis a server chats alone, and rejoins the room when Redis is back', T, async () => {
  const a = await startChat();
  const b = await startChat();
  const pa = await openChat(a.port);
  const pb = await openChat(b.port);
  await stopRedis();
  await waitOutput(a, /lost Redis at .*chatting alone, retrying every second/, 'A notices');
  await waitOutput(b, /lost Redis/, 'B notices');
  const alone = `alone on A ${Math.random().toString(36).slice(2, 8)}`;
  await say(pa, alone);
  await everyoneHears([pa], [alone]);
  await startRedis();
  await waitOutput(a, /lost Redis[^]*sharing the room through Redis/, 'A back in the room', 15000);
  await waitOutput(b, /lost Redis[^]*sharing the room through Redis/, 'B back in the room', 15000);
  const together = `together again ${Math.random().toString(36).slice(2, 8)}`;
  await say(pb, together);
  await everyoneHears([pa, pb], [together]);
  assert.ok(!(await logLines(pb)).some((l) => l.endsWith(`: ${alone}`)), 'B never got the line said while alone');
});

/** An npm ws client of chat server s; resolves once it has its first line. */
function wsChat(s) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
  ws.got = [];
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (d) => { ws.got.push(String(d)); if (ws.got.length === 1) resolve(ws); });
  });
}

async function hears(ws, line, what, ms = 10000) {
  const until = Date.now() + ms;
  while (!ws.got.some((l) => l.endsWith(`: ${line}`))) {
    if (Date.now() > until) throw new Error(`${what}: "${line}" did not arrive; last lines ${JSON.stringify(ws.got.slice(-3).map((l) => l.slice(0, 60)))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const rssKiB = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

test('a Redis that stops answering: the server chats alone within seconds and publishes no more than 1 MiB into it', T, async (t) => {
  const a = await startChat(0, ['--rate', '0']);
  const [x, y] = [await wsChat(a), await wsChat(a)];
  const frozen = redis;
  const thaw = () => { if (frozen.child.exitCode === null) frozen.child.kill('SIGCONT'); };
  t.after(thaw);
  frozen.child.kill('SIGSTOP');
  // One line into a Redis that does not answer: after 2 s without an
  // answer the server gives the room up and chats alone.
  x.send('into the void');
  await waitOutput(a, /Redis at .* has not answered for 2 s: chatting alone/, 'A notices the silence', 6000);
  x.send('heard alone');
  await hears(y, 'heard alone', 'a line said while Redis is silent');
  thaw();
  await waitOutput(a, /not answered[^]*sharing the room through Redis/, 'A back in the room', 15000);
  x.send('back together');
  await hears(y, 'back together', 'through Redis again');

  // A flood into a silent Redis stops at 1 MiB waiting for answers: the
  // rest is chatted alone at once, and the server's memory stays put.
  const before = rssKiB(a.child.pid);
  frozen.child.kill('SIGSTOP');
  const noise = (n) => crypto.randomBytes(n).toString('base64').slice(0, n);
  for (let i = 0; i < 1500; i++) x.send(`flood ${i} ${noise(4000)}`);
  x.send('after the flood');
  await waitOutput(a, /Redis at .* has 1 MiB of lines waiting for its answer: chatting alone/, 'A notices the pile', 6000);
  await hears(y, 'after the flood', 'a line after the flood', 15000);
  const grew = rssKiB(a.child.pid) - before;
  assert.ok(grew < 4096, `the server grew by ${grew} KiB for a 6 MB flood into a silent Redis`);
  thaw();
  await waitOutput(a, /lines waiting[^]*sharing the room through Redis/, 'A back in the room after the flood', 15000);
  x.close();
  y.close();
});
