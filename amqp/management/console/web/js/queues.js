// queues.js: the queues list. The API pages, filters and sorts (page,
// page_size, name, use_regex, sort, sort_reverse, columns), so the page
// costs the same at 10 queues as at 10,000: one request per keystroke
// for at most page_size rows; a newer request cancels the one before.
// A keystroke is answered at once from an index of the names (every
// queue's name and vhost, fetched with each refresh: no figures), which
// the page filters as the API does: the matching rows show in the same
// frame, with the figures last seen for them (or none yet, dimmed), and
// the API's answer fills them in when it comes.

import { h, table, fmtNum, fmtRate, action, argsEditor, select, check, setSort } from './ui.js';
import { api, get, enc } from './api.js';
import { vhostPicker } from './forms.js';

export const QUEUE_ARGS = [
  ['x-dead-letter-exchange', 'string'], ['x-dead-letter-routing-key', 'string'], ['x-message-ttl', 'number'],
  ['x-expires', 'number'], ['x-max-length', 'number'], ['x-max-length-bytes', 'number'], ['x-overflow', 'string'],
  ['x-single-active-consumer', 'boolean'], ['x-max-priority', 'number'], ['x-queue-mode', 'string'],
];

// FIRST_ROWS is a screenful at 1366x768 and more: at most these rows are
// painted in the frame after an answer arrives (those down to the bottom
// of the window: inView), the rest of the page in the next.
const FIRST_ROWS = 30;

const COLUMNS = 'name,vhost,type,durable,auto_delete,exclusive,arguments,policy,state,consumers,messages_ready,messages_unacknowledged,messages,' +
  'message_stats.publish_details.rate,message_stats.deliver_get_details.rate,message_stats.ack_details.rate';

export function queues(ctx) {
  // The list's place (vhost, filter, sort, page) lives in ctx, so coming
  // back from a queue's page finds it as it was left.
  const st = ctx.queuesState || (ctx.queuesState = { vhost: '', filter: '', regex: false, sort: '', reverse: false, page: 1, size: 100 });
  const onSort = (c) => {
    if (st.sort === c.sort) st.reverse = !st.reverse; else { st.sort = c.sort; st.reverse = c.num; }
    st.page = 1;
    load();
  };
  const ms = (q) => q.message_stats || {};
  const key = (q) => q.vhost + '\u0000' + q.name;
  const rate = (q, k) => (q.pending ? '' : fmtRate(ms(q)[k]));
  const t = table([
    { label: 'Vhost', cell: (q) => q.vhost, sort: 'vhost' },
    { label: 'Name', link: (q) => [q.name, 'queue', q.vhost, q.name], sort: 'name' },
    { label: 'Type', cell: (q) => (q.pending ? '' : q.type || 'classic'), sort: 'type' },
    { label: 'Features', cell: (q) => [q.durable ? 'D' : '', q.auto_delete ? 'AD' : '', q.exclusive ? 'Excl' : '',
      Object.keys(q.arguments || {}).map((k) => k.replace(/^x-/, '')).join(' ')].filter(Boolean).join(' ') },
    { label: 'Policy', cell: (q) => q.policy || '', sort: 'policy' },
    { label: 'State', cell: (q) => q.state || '', sort: 'state' },
    { label: 'Consumers', cell: (q) => fmtNum(q.consumers), num: true, sort: 'consumers' },
    { label: 'Ready', cell: (q) => fmtNum(q.messages_ready), num: true, sort: 'messages_ready' },
    { label: 'Unacked', cell: (q) => fmtNum(q.messages_unacknowledged), num: true, sort: 'messages_unacknowledged' },
    { label: 'Total', cell: (q) => fmtNum(q.messages), num: true, sort: 'messages' },
    { label: 'Incoming', cell: (q) => rate(q, 'publish_details'), num: true, sort: 'message_stats.publish_details.rate' },
    { label: 'Deliver/get', cell: (q) => rate(q, 'deliver_get_details'), num: true, sort: 'message_stats.deliver_get_details.rate' },
    { label: 'Ack', cell: (q) => rate(q, 'ack_details'), num: true, sort: 'message_stats.ack_details.rate' },
  ], key, { onSort, empty: 'No queues match.', class: 'queues', grid: true, first: () => inView(), pending: (q) => q.pending });
  t.el.id = 'queues-table';
  // inView is how many rows, from the first, reach down to the bottom of
  // the window (the rows have one fixed height: app.css), at most
  // FIRST_ROWS; a table scrolled past its first rows gets them all.
  const inView = () => {
    const row = t.tbody.firstElementChild;
    if (!row) return FIRST_ROWS;
    const r = row.getBoundingClientRect();
    if (r.top < 0 || r.height === 0) return 0;
    return Math.min(FIRST_ROWS, Math.max(1, Math.ceil((innerHeight - r.top) / r.height)));
  };

  const vsel = vhostPicker(ctx, 'vhost', true, st.vhost);
  const filter = h('input', { type: 'search', id: 'queue-filter', name: 'filter', value: st.filter, placeholder: 'name contains\u2026  ( / )', 'aria-label': 'Filter queues by name' });
  const regex = h('input', { type: 'checkbox', checked: st.regex });
  const size = select('Per page', 'size', ['50', '100', '200', '500'], String(st.size));
  const info = h('span', { class: 'muted', id: 'queue-count' });
  const prev = h('button', { type: 'button', onclick: () => { st.page--; load(); } }, '\u2190 Previous');
  const next = h('button', { type: 'button', onclick: () => { st.page++; load(); } }, 'Next \u2192');
  const pageNo = h('input', { type: 'number', min: 1, value: st.page, 'aria-label': 'Page', class: 'pageno' });
  pageNo.addEventListener('change', () => { st.page = Math.max(1, Number(pageNo.value) || 1); load(); });
  const err = h('div', { class: 'err', role: 'alert' });
  vsel.querySelector('select').addEventListener('change', (e) => { st.vhost = e.target.value; st.page = 1; load(); loadIndex(); });
  filter.addEventListener('input', () => {
    if (filter.value === st.filter) return; // no change, no request
    st.filter = filter.value; st.page = 1;
    local();
    load();
  });
  regex.addEventListener('change', () => { st.regex = regex.checked; st.page = 1; load(); });
  size.querySelector('select').addEventListener('change', (e) => { st.size = Number(e.target.value); st.page = 1; load(); });

  const args = argsEditor(QUEUE_ARGS);
  const create = action(h('form', { class: 'panel write', id: 'add-queue' },
    h('h2', null, 'Add a new queue'),
    h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', false),
      select('Type', 'type', ['classic', 'quorum', 'stream'], 'classic'),
      h('label', null, 'Name', h('input', { type: 'text', name: 'name', required: true })),
      select('Durability', 'durable', [['true', 'Durable'], ['false', 'Transient']], 'true'),
      check('Auto delete', { name: 'auto_delete' })),
    args, h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Add queue'))),
  async (f) => {
    const a = args.values();
    if (f.type.value !== 'classic') a['x-queue-type'] = f.type.value;
    await api('PUT', `/queues/${enc(f.vhost.value)}/${enc(f.name.value)}`, {
      durable: f.durable.value === 'true', auto_delete: f.auto_delete.checked, arguments: a,
    });
    load();
    return `Queue ${f.name.value} added.`;
  });

  const el = h('div', null, h('h1', null, 'Queues'),
    h('div', { class: 'row' }, vsel, h('label', null, 'Filter', filter), h('label', { class: 'inline' }, regex, 'Regex'), size),
    h('div', { class: 'pager' }, prev, h('label', { class: 'inline' }, 'Page', pageNo), next, info), err,
    t.el, ctx.canWrite ? create : null);

  // Each load cancels the one before it (a keystroke, a page, the 5 s
  // refresh): typing fast sends one request per keystroke, but only the
  // newest is still answered, and a stale answer is never drawn.
  let seq = 0;
  let inflight = null;
  // seen: the rows of the API's last answers, by key (figures for the
  // index's rows); index: every name of st.vhost's listing, as the API
  // orders it (vhost, then name), each with its lower case.
  const seen = new Map();
  let index = null;
  async function loadIndex() {
    const vhost = st.vhost;
    let names;
    try {
      names = await get('/queues' + (vhost ? '/' + enc(vhost) : '') + '?columns=name,vhost');
    } catch {
      index = null; // the API alone, as before
      return;
    }
    if (vhost !== st.vhost || !Array.isArray(names)) return;
    for (const q of names) q.lower = q.name.toLowerCase();
    index = { vhost, names };
    t.el.dataset.index = String(names.length);
  }
  // local shows the first page of the filter's matches from the index,
  // as the API will (a substring of the name, whatever its case; in the
  // API's order, or by name), when the page can: not for a regular
  // expression (the API's syntax is Go's) nor a sort by a figure.
  function local() {
    if (!index || index.vhost !== st.vhost || st.regex || st.page !== 1 || (st.sort && st.sort !== 'name')) return;
    const f = st.filter.toLowerCase();
    let m = f ? index.names.filter((q) => q.lower.includes(f)) : index.names;
    if (st.sort === 'name') {
      const by = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      m = m.slice().sort(st.reverse ? (a, b) => by(b, a) : by);
    } else if (st.reverse) {
      m = m.slice().reverse();
    }
    const rows = m.slice(0, st.size).map((q) => seen.get(key(q)) || { name: q.name, vhost: q.vhost, pending: true });
    t.update(rows);
    const pages = Math.max(1, Math.ceil(m.length / st.size));
    pager(pages, `${fmtNum(m.length)} of ${fmtNum(index.names.length)} queues \u00b7 page 1 of ${pages}`);
    t.el.dataset.filter = st.filter;
    t.el.dataset.rows = String(rows.length);
    performance.mark('queues-local');
  }
  // The pager is written only where it changed: a keystroke that keeps
  // the page costs no layout of the inputs above the table.
  function pager(pages, text) {
    const set = (el, k, v) => { if (el[k] !== v) el[k] = v; };
    set(pageNo, 'value', String(st.page));
    set(pageNo, 'max', String(pages));
    set(prev, 'disabled', st.page <= 1);
    set(next, 'disabled', st.page >= pages);
    set(info, 'textContent', text);
  }
  async function load() {
    const my = ++seq;
    if (inflight) inflight.abort();
    const ac = inflight = new AbortController();
    const p = new URLSearchParams({ page: String(st.page), page_size: String(st.size), columns: COLUMNS });
    if (st.filter) { p.set('name', st.filter); p.set('use_regex', String(st.regex)); }
    if (st.sort) { p.set('sort', st.sort); p.set('sort_reverse', String(st.reverse)); }
    let r;
    try {
      r = await get('/queues' + (st.vhost ? '/' + enc(st.vhost) : '') + '?' + p, ac.signal);
    } catch (e) {
      if (my !== seq || e.aborted) return;
      if (e.status === 400 && st.page > 1) { st.page = 1; return load(); }
      err.textContent = e.message;
      throw e;
    }
    if (my !== seq) return; // a newer keystroke's answer wins
    inflight = null;
    err.textContent = '';
    if (r.page_count > 0 && st.page > r.page_count) { st.page = r.page_count; return load(); }
    const t0 = performance.now();
    if (seen.size > 5000) seen.clear();
    for (const q of r.items) seen.set(key(q), q);
    const complete = t.update(r.items);
    setSort(t, st.sort, st.reverse);
    pager(Math.max(1, r.page_count), `${fmtNum(r.filtered_count)} of ${fmtNum(r.total_count)} queues \u00b7 page ${st.page} of ${Math.max(1, r.page_count)}`);
    t.el.dataset.filter = st.filter;
    t.el.dataset.rows = String(r.items.length);
    performance.measure('queues-update', { start: t0 });
    performance.mark('queues-rendered');
    // data-complete: every row of the page is up to date (a screenful is
    // shown first: data-filter above).
    if (await complete && my === seq) t.el.dataset.complete = st.filter;
  }
  // Each refresh (every 5 s, and the first) brings the index up to date
  // too, in parallel with the page's own request: the page's first
  // keystroke finds it.
  const refresh = () => Promise.all([load(), loadIndex()]);
  return { title: 'Queues', el, refresh };
}
