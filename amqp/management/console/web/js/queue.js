// queue.js: one queue's page: figures and charts, consumers, bindings,
// the policy in effect, publish, get messages (RabbitMQ UI's ack modes),
// purge and delete.

import { h, table, fmtNum, fmtRate, fmtBytes, kv, action, select, confirmButton, chartBox, clear, link } from './ui.js';
import { draw, fromSamples, HISTORY_QUERY } from './chart.js';
import { api, get, enc } from './api.js';
import { publishForm, bindingsTable, bindForm } from './forms.js';

// rabbitmq: the UI's "Ack mode" choices, in its words.
export const ACK_MODES = [
  ['ack_requeue_true', 'Nack message requeue true'],
  ['ack_requeue_false', 'Automatic ack'],
  ['reject_requeue_true', 'Reject requeue true'],
  ['reject_requeue_false', 'Reject requeue false'],
];

// messageView shows one message the API's get returned.
export function messageView(m, i) {
  const p = m.properties || {};
  const { headers, ...rest } = p;
  return h('section', { class: 'panel message' },
    h('h3', null, `Message ${i + 1}`),
    h('dl', { class: 'kv' },
      h('dt', null, 'Exchange'), h('dd', null, m.exchange === '' ? '(AMQP default)' : m.exchange),
      h('dt', null, 'Routing key'), h('dd', null, m.routing_key),
      h('dt', null, 'Redelivered'), h('dd', null, String(m.redelivered)),
      h('dt', null, 'Properties'), h('dd', null, h('pre', null, JSON.stringify(rest, null, 1))),
      headers ? [h('dt', null, 'Headers'), h('dd', null, h('pre', { class: 'headers' }, JSON.stringify(headers, null, 1)))] : null,
      h('dt', null, `Payload (${fmtNum(m.payload_bytes)} bytes, ${m.payload_encoding})`), h('dd', null, h('pre', { class: 'payload' }, m.payload))));
}

export function queuePage(ctx, [v, name]) {
  const base = `/queues/${enc(v)}/${enc(name)}`;
  const info = h('section', { class: 'panel', id: 'queue-info' });
  const policy = h('section', { class: 'panel', id: 'queue-policy' });
  const queued = chartBox('Queued messages');
  const rates = chartBox('Message rates');
  const consumers = table([
    { label: 'Consumer tag', cell: (c) => c.consumer_tag },
    { label: 'Channel', cell: (c) => (c.channel_details || {}).name || '' },
    { label: 'Connection', cell: (c) => ((c.channel_details || {}).connection_name ? link((c.channel_details || {}).connection_name, 'connection', c.channel_details.connection_name) : '') },
    { label: 'Ack required', cell: (c) => String(c.ack_required) },
    { label: 'Exclusive', cell: (c) => String(c.exclusive) },
    { label: 'Prefetch', cell: (c) => fmtNum(c.prefetch_count), num: true },
    { label: 'Active', cell: (c) => String(c.active ?? true) },
  ], (c) => ((c.channel_details || {}).name || '') + '\u0000' + c.consumer_tag, { empty: 'No consumers.' });
  const bindings = bindingsTable(ctx, () => refresh());

  const got = h('div', { id: 'got' });
  const getForm = action(h('form', { class: 'panel write', id: 'get-messages' },
    h('h2', null, 'Get messages'),
    h('p', { class: 'muted' }, 'Getting messages is destructive with some ack modes: "Nack message requeue true" puts them back.'),
    h('div', { class: 'row' },
      select('Ack mode', 'ackmode', ACK_MODES, 'ack_requeue_true'),
      select('Encoding', 'encoding', [['auto', 'Auto string / base64'], ['base64', 'base64']], 'auto'),
      h('label', null, 'Messages', h('input', { type: 'number', name: 'count', value: 1, min: 1 })),
      h('button', { type: 'submit' }, 'Get message(s)'))),
  async (f) => {
    const ms = await api('POST', base + '/get', { count: Number(f.count.value), ackmode: f.ackmode.value, encoding: f.encoding.value, truncate: 50000 });
    clear(got);
    got.append(...ms.map(messageView));
    refresh();
    return ms.length ? `${ms.length} message(s) got.` : 'Queue is empty.';
  });
  getForm.append(got);

  const danger = h('section', { class: 'panel write' }, h('h2', null, 'Purge or delete'),
    h('div', { class: 'row' },
      confirmButton('Purge', 'Purge every ready message?', async () => { await api('DELETE', base + '/contents'); refresh(); }),
      ' ',
      confirmButton('Delete', `Delete queue ${name}?`, async () => { await api('DELETE', base); location.hash = '#/queues'; })));

  const el = h('div', null,
    h('h1', null, 'Queue ', h('code', { id: 'queue-name' }, name), h('span', { class: 'muted' }, ' in ' + v)),
    h('p', null, link('Dead letters and moving messages of this queue', 'deadletters', v, name)),
    info, h('div', { class: 'grid' }, queued.el, rates.el), policy,
    h('h2', null, 'Consumers'), consumers.el,
    h('h2', null, 'Bindings'), bindings.el,
    ctx.canWrite ? bindForm(v, name, 'from', () => refresh()) : null,
    ctx.canWrite ? publishForm(v, 'amq.default', name) : null,
    ctx.canWrite ? getForm : null,
    ctx.canWrite ? danger : null);

  const key = 'q/' + v + '/' + name;
  let seeded = false;
  async function refresh() {
    let q;
    const first = !seeded;
    try {
      q = await get(base + (first ? '?' + HISTORY_QUERY : ''));
    } catch (e) {
      if (e.status === 404) { kv(info, [['State', 'deleted (no such queue)']]); return; }
      throw e;
    }
    const ms = q.message_stats || {};
    const r = (k) => (ms[k + '_details'] || {}).rate || 0;
    if (first) {
      // The API's history of this queue (kept from the first time anyone
      // asked, for 10 minutes after the last ask).
      seeded = true;
      ctx.history.set(key + '/q', fromSamples({ Ready: q.messages_ready_details, Unacked: q.messages_unacknowledged_details, Total: q.messages_details }, false));
      const d = (k) => ms[k + '_details'];
      ctx.history.set(key + '/r', fromSamples({ Publish: d('publish'), 'Deliver/get': d('deliver_get'), Ack: d('ack'), Redelivered: d('redeliver') }, true));
    }
    ctx.history.add(key + '/q', { Ready: q.messages_ready || 0, Unacked: q.messages_unacknowledged || 0, Total: q.messages || 0 });
    ctx.history.add(key + '/r', { Publish: r('publish'), 'Deliver/get': r('deliver_get'), Ack: r('ack'), Redelivered: r('redeliver') });
    kv(info, [['Type', q.type || 'classic'], ['State', q.state || ''],
      ['Features', [q.durable ? 'durable' : 'transient', q.auto_delete ? 'auto-delete' : '', q.exclusive ? 'exclusive' : ''].filter(Boolean).join(', ')],
      ['Arguments', JSON.stringify(q.arguments || {})],
      ['Ready', h('span', { id: 'q-ready' }, fmtNum(q.messages_ready))], ['Unacked', h('span', { id: 'q-unacked' }, fmtNum(q.messages_unacknowledged))],
      ['Total', h('span', { id: 'q-total' }, fmtNum(q.messages))], ['Message bytes', fmtBytes(q.message_bytes)],
      ['Consumers', fmtNum(q.consumers)], ['Consumer utilisation', q.consumer_utilisation == null ? '' : Math.round(q.consumer_utilisation * 100) + '%'],
      ['Publish', fmtRate(ms.publish_details)], ['Deliver/get', fmtRate(ms.deliver_get_details)], ['Ack', fmtRate(ms.ack_details)]]);
    kv(policy, [['Policy', q.policy || '(none)'], ['Operator policy', q.operator_policy || '(none)'],
      ['Effective policy definition', h('pre', null, JSON.stringify(q.effective_policy_definition || {}, null, 1))]]);
    draw(queued.canvas, queued.legend, ctx.history.points(key + '/q'), ['Ready', 'Unacked', 'Total']);
    draw(rates.canvas, rates.legend, ctx.history.points(key + '/r'), ['Publish', 'Deliver/get', 'Ack', 'Redelivered'], '/s');
    consumers.update(q.consumer_details || []);
    bindings.update(await get(base + '/bindings'));
  }
  return { title: 'Queue ' + name, el, refresh };
}
