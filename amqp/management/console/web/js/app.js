// app.js: login, the hash router (#/page/arg/...), the 5-second refresh
// and the keyboard shortcuts. A page is a function (ctx, args) returning
// {title, el, refresh}: el is built once, refresh() updates it in place.

import { api, setCredentials, clearCredentials, hasCredentials, ApiError } from './api.js';
import { h, clear, action } from './ui.js';
import { History } from './chart.js';
import { overview } from './overview.js';
import { connections, connection, channels } from './connections.js';
import { exchanges, exchangePage } from './exchanges.js';
import { queues } from './queues.js';
import { queuePage } from './queue.js';
import { deadLetters } from './deadletters.js';
import { vhosts, users, permissions } from './access.js';
import { policies, definitions } from './policies.js';

export const REFRESH_MS = 5000;

const pages = {
  overview, connections, connection, channels, exchanges, exchange: exchangePage,
  queues, queue: queuePage, deadletters: deadLetters, vhosts, users, permissions, policies, definitions,
};

const main = document.getElementById('main');
const status = document.getElementById('status');
const ctx = { user: null, canWrite: false, isAdmin: false, history: new History(), vhosts: [] };
let current = null;
let generation = 0;
let timer = null;

function showLogin(message) {
  document.getElementById('top').hidden = true;
  document.body.classList.remove('readonly');
  current = null;
  generation++;
  clear(main);
  const form = h('form', { class: 'panel login', id: 'login' },
    h('h1', null, 'Warren'),
    h('p', { class: 'muted' }, 'Log in with a user of the management API.'),
    h('label', null, 'Username', h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true })),
    h('label', null, 'Password', h('input', { type: 'password', name: 'password', autocomplete: 'current-password' })),
    h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  action(form, async (f) => {
    setCredentials(f.username.value, f.password.value);
    try {
      await start();
    } catch (e) {
      clearCredentials();
      if (e instanceof ApiError && e.status === 401) throw new ApiError(401, e.message === 'Login failed' ? 'Login failed: wrong username or password' : e.message);
      throw e;
    }
  });
  if (message) form.querySelector('.err').textContent = message;
  main.append(form);
  form.username.focus();
}

async function start() {
  const who = await api('GET', '/whoami');
  ctx.user = who;
  const tags = who.tags || [];
  ctx.isAdmin = tags.includes('administrator');
  // rabbitmq: monitoring sees everything and changes nothing here.
  ctx.canWrite = tags.some((t) => t === 'administrator' || t === 'management' || t === 'policymaker');
  ctx.canPolicy = ctx.isAdmin || tags.includes('policymaker');
  try {
    ctx.vhosts = (await api('GET', '/vhosts?columns=name')).map((v) => v.name);
  } catch { ctx.vhosts = ['/']; }
  document.getElementById('top').hidden = false;
  document.body.classList.toggle('readonly', !ctx.canWrite);
  const whoEl = document.getElementById('who');
  whoEl.textContent = `${who.name} (${tags.join(', ') || 'no tags'})${ctx.canWrite ? '' : ' \u00b7 read-only'}`;
  route();
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter((p, i) => i === 0 || p !== '' || true);
  const name = parts[0] || 'overview';
  const args = parts.slice(1).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { name, args };
}

function route() {
  if (!ctx.user) return;
  const { name, args } = parseHash();
  const make = pages[name];
  generation++;
  clear(main);
  for (const a of document.querySelectorAll('#nav a')) {
    const on = a.dataset.page === name || (a.dataset.page + 's') === name ||
      (name === 'queue' && a.dataset.page === 'queues') || (name === 'exchange' && a.dataset.page === 'exchanges') ||
      (name === 'connection' && a.dataset.page === 'connections');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!make) {
    main.append(h('h1', null, 'Not found'), h('p', null, 'No page ', h('code', null, name), '.'));
    current = null;
    return;
  }
  current = make(ctx, args);
  document.title = current.title + ' \u00b7 Warren';
  main.append(current.el);
  refresh(true);
}

async function refresh(first) {
  clearTimeout(timer);
  const g = generation;
  const page = current;
  if (page && page.refresh && (first || !document.hidden)) {
    try {
      await page.refresh();
      if (g === generation) status.textContent = 'Updated ' + new Date().toLocaleTimeString() + ' \u00b7 every 5 s';
    } catch (e) {
      if (g === generation) status.textContent = 'Refresh failed: ' + e.message;
    }
  }
  if (g === generation) timer = setTimeout(() => refresh(false), REFRESH_MS);
}

window.addEventListener('hashchange', route);
window.addEventListener('warren:logout', () => {
  if (!ctx.user) return; // a refused login says so in its own form
  clearCredentials(); ctx.user = null; showLogin('Your session ended: log in again.'); });
document.addEventListener('visibilitychange', () => { if (!document.hidden && current) refresh(false); });
document.getElementById('logout').addEventListener('click', () => {
  clearCredentials();
  ctx.user = null;
  showLogin();
});
// Keyboard: "/" focuses the page's filter; "g" then a letter goes to a
// page (o overview, c connections, h channels, e exchanges, q queues,
// d dead letters, v vhosts, u users, p permissions, l policies).
let pendingG = false;
let slashDown = false;
document.addEventListener('keyup', (ev) => {
  if (ev.key !== '/' || !slashDown) return;
  slashDown = false;
  const f = main.querySelector('input[type=search]');
  if (f) { f.focus(); f.select(); }
});
document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
  if (ev.key === '/') {
    // The filter is focused at keyup, after the key's character went
    // (nowhere): focusing at keydown would type the "/" into it.
    if (main.querySelector('input[type=search]')) { ev.preventDefault(); slashDown = true; }
    return;
  }
  if (pendingG) {
    pendingG = false;
    const to = { o: 'overview', c: 'connections', h: 'channels', e: 'exchanges', q: 'queues', d: 'deadletters', v: 'vhosts', u: 'users', p: 'permissions', l: 'policies' }[ev.key];
    if (to) { location.hash = '#/' + to; main.focus(); }
    return;
  }
  if (ev.key === 'g') pendingG = true;
});

if (hasCredentials()) {
  start().catch((e) => showLogin(e.message));
} else {
  showLogin();
}
