// The live activity panel and progress: the query API's event stream (SSE). It is read with
// fetch rather than EventSource, because the stream names each message after its event type
// and EventSource delivers only the names it is told of in advance. The reader resumes after a
// break from the last id it saw (`Last-Event-ID`). Pages subscribe to redraw when something
// of theirs changes, instead of polling.

import { h, clear, fmt } from './dom.js';
import { t } from './i18n.js';

const listeners = new Set();
const recent = [];
let panel = null;
let running = null;
let lastId = null;

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function start(where) {
  panel = where;
  draw();
  if (running) return;
  running = new AbortController();
  read(running.signal);
}

export function stop() {
  if (running) running.abort();
  running = null;
  recent.length = 0;
  lastId = null;
}

async function read(signal) {
  let wait = 500;
  while (!signal.aborted) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const response = await fetch('/api/query/v1/events/stream', { headers, signal, credentials: 'same-origin' });
      if (response.status === 401 || response.status === 403) return;
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      connected(true);
      wait = 500;
      await consume(response.body.getReader(), signal);
    } catch (_) {
      if (signal.aborted) return;
    }
    connected(false);
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 10000);
  }
}

async function consume(reader, signal) {
  const decoder = new TextDecoder();
  let buffer = '';
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      dispatch(block);
    }
  }
}

function dispatch(block) {
  let id = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith('id:')) id = line.slice(3).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (id) lastId = id;
  if (data.length === 0) return;
  let event;
  try { event = JSON.parse(data.join('\n')); } catch (_) { return; }
  recent.unshift(event);
  recent.length = Math.min(recent.length, 20);
  draw();
  for (const listener of listeners) listener(event);
}

// Where each kind of aggregate is read: a page redraws once the view shows the event (its
// `min_version`), not merely once the event is in the stream.
const views = {
  site: '/v1/sites/', backup: '/v1/backups/', restore: '/v1/restores/', certificate: '/v1/certificates/',
  node: '/v1/nodes/', zone: '/v1/zones/', invoice: '/v1/invoices/',
};

async function caughtUp(event) {
  const view = views[event.aggregate_type];
  if (!view || !event.sequence) return;
  try {
    await fetch(`/api/query${view}${encodeURIComponent(event.aggregate_id)}?min_version=${event.sequence}`,
      { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  } catch (_) { /* the page reads what there is */ }
}

/**
 * Calls `redraw` once the views show the events `relevant` picks, at most once per burst:
 * events arriving together (a saga's steps) cost one redraw, and only the newest event of
 * each aggregate is waited for. Requests count against the API's per-token limit.
 */
export function redrawOn(onEvent, relevant, redraw, quiet = 300) {
  const newest = new Map();
  let timer = null;
  onEvent((event) => {
    if (!relevant(event)) return;
    const seen = newest.get(event.aggregate_id);
    if (!seen || seen.sequence < event.sequence) newest.set(event.aggregate_id, event);
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const waiting = [...newest.values()];
      newest.clear();
      await Promise.all(waiting.map(caughtUp));
      redraw();
    }, quiet);
  });
}

function connected(yes) {
  if (panel) panel.setAttribute('data-connected', String(yes));
}

function draw() {
  if (!panel) return;
  clear(panel,
    h('h2', {}, t('live.title')),
    recent.length === 0
      ? h('p', { class: 'empty' }, t('live.quiet'))
      : h('ol', {}, recent.map((e) => h('li', {},
        h('span', { class: 'event' }, e.event_type), ' ',
        h('span', { class: 'muted' }, `${e.aggregate_type} · ${fmt.date(e.recorded_at)}`)))));
}

/** Whether `event` is about `id` (its own stream, or one that names it). */
export function concerns(event, id) {
  if (!id) return false;
  if (event.aggregate_id === id) return true;
  return JSON.stringify(event.payload || {}).includes(id);
}
