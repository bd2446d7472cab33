// deadletters.js: a dead-letter queue's messages grouped by why and
// where from (the newest x-death entry: reason, queue), their headers,
// and replay: move all or N messages back to their origin or to another
// queue (POST /api/queues/{v}/{q}/actions/move, Warren's own endpoint).
//
// Looking is a get with "Nack message requeue true" of at most "Look at"
// messages: it puts them back. It runs when asked, not every 5 s; the
// 5-second refresh only updates the queue's count.

import { h, table, fmtNum, action, select, clear, link } from './ui.js';
import { api, get, enc } from './api.js';
import { vhostPicker } from './forms.js';

function death(m) {
  const xd = ((m.properties || {}).headers || {})['x-death'];
  return Array.isArray(xd) && xd.length ? xd[0] : null;
}

export function deadLetters(ctx, [v, name]) {
  if (!name) return picker(ctx);
  const base = `/queues/${enc(v)}/${enc(name)}`;
  const count = h('span', { id: 'dl-count' });
  const groups = table([
    { label: 'Reason', cell: (g) => g.reason },
    { label: 'Origin queue', cell: (g) => (g.queue ? link(g.queue, 'queue', v, g.queue) : '(no x-death)') },
    { label: 'Origin exchange', cell: (g) => g.exchange },
    { label: 'Routing keys', cell: (g) => g.keys },
    { label: 'Messages', cell: (g) => fmtNum(g.n), num: true },
    { label: 'Deaths (x-death count)', cell: (g) => fmtNum(g.deaths), num: true },
  ], (g) => g.reason + '\u0000' + g.queue, { empty: 'No messages looked at yet, or the queue is empty.', class: 'groups' });
  groups.el.id = 'dl-groups';
  const msgs = h('div', { id: 'dl-messages' });
  const look = action(h('form', { class: 'row', id: 'dl-look' },
    h('label', null, 'Look at', h('input', { type: 'number', name: 'limit', value: 200, min: 1, max: 5000 })),
    h('button', { type: 'submit' }, 'Look at messages')),
  async (f) => {
    const ms = await api('POST', base + '/get', { count: Number(f.limit.value), ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 2000 });
    const by = new Map();
    for (const m of ms) {
      const d = death(m);
      const k = d ? d.reason + '\u0000' + d.queue : '\u0000';
      let g = by.get(k);
      if (!g) {
        g = { reason: d ? d.reason : '', queue: d ? d.queue : '', exchange: d ? (d.exchange === '' ? '(default)' : d.exchange) : '', keys: d ? (d['routing-keys'] || []).join(', ') : '', n: 0, deaths: 0, msgs: [] };
        by.set(k, g);
      }
      g.n++;
      g.deaths += d ? d.count || 1 : 0;
      g.msgs.push(m);
    }
    const list = [...by.values()].sort((a, b) => b.n - a.n);
    groups.update(list);
    clear(msgs);
    for (const g of list) {
      msgs.append(h('details', { class: 'panel' },
        h('summary', null, `${g.reason || 'no x-death'} from ${g.queue || '?'}: ${g.n} message(s)`),
        g.msgs.slice(0, 50).map((m, i) => h('div', { class: 'message' },
          h('h3', null, `Message ${i + 1}: ${m.routing_key}`),
          h('pre', { class: 'headers' }, JSON.stringify((m.properties || {}).headers || {}, null, 1)),
          h('pre', { class: 'payload' }, m.payload))),
        g.msgs.length > 50 ? h('p', { class: 'muted' }, `and ${g.msgs.length - 50} more`) : null));
    }
    return `Looked at ${ms.length} message(s) in ${list.length} group(s).`;
  });

  const mv = h('form', { class: 'panel write', id: 'dl-move' },
    h('h2', null, 'Replay: move messages'),
    h('div', { class: 'row' },
      select('How many', 'which', [['all', 'All messages'], ['n', 'The first N']], 'all'),
      h('label', null, 'N', h('input', { type: 'number', name: 'n', value: 1, min: 1 })),
      select('To', 'dest', [['origin', 'Back to their origin (x-death)'], ['queue', 'Another queue']], 'origin'),
      h('label', null, 'Queue', h('input', { type: 'text', name: 'queue', placeholder: 'queue name' })),
      h('button', { type: 'submit', class: 'primary' }, 'Move messages')));
  action(mv, async (f) => {
    const body = { destination: f.dest.value === 'origin' ? 'origin' : { queue: f.queue.value } };
    if (f.dest.value === 'queue' && !f.queue.value) throw new Error('Name the queue to move the messages to.');
    if (f.which.value === 'n') body.count = Number(f.n.value);
    const r = await api('POST', base + '/actions/move', body);
    refresh();
    look.querySelector('.ok').textContent = '';
    let s = `Moved ${r.moved} message(s) ` + (f.dest.value === 'origin' ? 'back to their origin' : `to queue ${f.queue.value}`);
    if (r.unroutable) s += `, ${r.unroutable} unroutable`;
    if (r.no_origin) s += `, ${r.no_origin} without an origin`;
    groups.update([]);
    clear(msgs);
    return s + '.';
  });

  const el = h('div', null, h('h1', null, 'Dead letters in ', h('code', null, name), h('span', { class: 'muted' }, ' in ' + v)),
    h('p', null, link('Queue page', 'queue', v, name), ' \u00b7 ', count),
    h('section', { class: 'panel' }, look, groups.el), msgs, ctx.canWrite ? mv : null);
  async function refresh() {
    const q = await get(base + '?columns=messages,messages_ready');
    count.textContent = `${fmtNum(q.messages)} message(s) in the queue`;
    count.dataset.messages = String(q.messages);
  }
  return { title: 'Dead letters ' + name, el, refresh };
}

function picker(ctx) {
  const f = h('form', { class: 'panel', id: 'dl-pick' },
    h('p', null, 'Pick a queue that dead-lettered messages land in (a queue with x-death messages).'),
    h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', false),
      h('label', null, 'Queue', h('input', { type: 'text', name: 'queue', required: true, list: 'dl-queues' })),
      h('datalist', { id: 'dl-queues' }),
      h('button', { type: 'submit', class: 'primary' }, 'Open')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = '#/deadletters/' + enc(f.vhost.value) + '/' + enc(f.queue.value);
  });
  const dl = f.querySelector('datalist');
  const el = h('div', null, h('h1', null, 'Dead letters'), f);
  async function refresh() {
    // Suggest queues whose name says dead letter, and queues holding messages.
    const p = new URLSearchParams({ page: '1', page_size: '100', name: 'dead|dlq|dlx|\\.dl|error|parking', use_regex: 'true', columns: 'name,vhost' });
    const r = await get('/queues?' + p);
    const names = r.items.map((q) => q.name);
    if (dl._sig === names.join('\u0000')) return;
    dl._sig = names.join('\u0000');
    clear(dl);
    dl.append(...names.map((n) => h('option', { value: n })));
  }
  return { title: 'Dead letters', el, refresh };
}
