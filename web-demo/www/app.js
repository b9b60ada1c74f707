// SPDX-License-Identifier: MIT
// app.js - the chat page's UI: shows what the C client (chat.js) reports and
// hands it what the user types. Message text is only ever set with
// textContent, never parsed as HTML.
'use strict';

const $ = (id) => document.getElementById(id);

function show(line) {
  const li = document.createElement('li');
  if (line.startsWith('* ')) li.className = 'notice';
  li.textContent = line;
  const log = $('log');
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.appendChild(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function setStatus(text) {
  const el = $('status');
  el.textContent = text;
  el.className = 'status ' + text.split(' ')[0];
  if (text === 'connected') $('error').textContent = '';
}

// Drains the C client's events: "M" chat line, "S" state, "E" error (shown
// until connected again), "N" the client's own notice for the log. Called
// by the C client whenever it has some (no timer).
function pump() {
  for (;;) {
    const p = Module._chat_poll();
    if (!p) return;
    const ev = Module.UTF8ToString(p);
    const text = ev.slice(1);
    if (ev[0] === 'M') show(text);
    else if (ev[0] === 'S') setStatus(text);
    else if (ev[0] === 'E') $('error').textContent = text;
    else if (ev[0] === 'N') show('* ' + text);
  }
}

// Calls fn with a C copy of the JS string s (heap, not stack: s may be long).
function withString(s, fn) {
  const n = Module.lengthBytesUTF8(s) + 1;
  const p = Module._malloc(n);
  Module.stringToUTF8(s, p, n);
  try { return fn(p); } finally { Module._free(p); }
}

function send(text) {
  const rc = withString(text, (p) => Module._chat_send(p));
  pump();
  return rc;
}

var Module = {
  onRuntimeInitialized() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    Module.onChatEvents = pump; // C calls it whenever it queued events
    withString(url, (p) => Module._chat_connect(p));
    pump();
    $('form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('input');
      if (input.value === '') return;
      if (send(input.value) === 0) {
        input.value = '';
        $('error').textContent = '';
      }
    });
  },
};
