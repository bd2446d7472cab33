// overview.js: the node at a glance: charts of queued messages and
// message rates, object counts, memory, disk and alarms, listeners.

import { h, table, fmtNum, fmtBytes, clear, chartBox } from './ui.js';
import { draw, fromSamples, HISTORY_QUERY } from './chart.js';
import { get } from './api.js';

const rate = (ms, k) => (ms && ms[k + '_details'] ? ms[k + '_details'].rate : 0);

export function overview(ctx) {
  const cards = h('div', { class: 'cards', id: 'totals' });
  const node = h('div', { class: 'cards', id: 'node' });
  const queued = chartBox('Queued messages');
  const rates = chartBox('Message rates');
  const listeners = table([
    { label: 'Protocol', cell: (l) => l.protocol },
    { label: 'Address', cell: (l) => l.ip_address },
    { label: 'Port', cell: (l) => l.port, num: true },
  ], (l) => l.protocol + ' ' + l.ip_address + ':' + l.port);
  const el = h('div', { id: 'overview' }, h('h1', null, 'Overview'), h('p', { class: 'muted', id: 'ident' }),
    cards, node, h('div', { class: 'grid' }, queued.el, rates.el),
    h('h2', null, 'Listeners'), listeners.el);
  const card = (n, label, alarm) => h('div', { class: 'card' + (alarm ? ' alarm' : '') }, h('div', { class: 'n' }, n), h('div', { class: 'l' }, label));
  const qNames = ['Ready', 'Unacked', 'Total'];
  const rNames = ['Publish', 'Deliver/get', 'Ack', 'Redelivered', 'Unroutable'];
  let seeded = false;
  async function refresh() {
    // The first request asks for the last 10 minutes (the charts are
    // drawn at once); the refreshes only for now.
    const first = !seeded;
    const [o, nodes] = await Promise.all([get('/overview' + (first ? '?' + HISTORY_QUERY : '')), get('/nodes').catch(() => [])]);
    const qt = o.queue_totals || {}, ms = o.message_stats || {}, ot = o.object_totals || {};
    if (first) {
      seeded = true;
      ctx.history.set('overview/q', fromSamples({ Ready: qt.messages_ready_details, Unacked: qt.messages_unacknowledged_details, Total: qt.messages_details }, false));
      const d = (k) => ms[k + '_details'];
      ctx.history.set('overview/r', fromSamples({ Publish: d('publish'), 'Deliver/get': d('deliver_get'), Ack: d('ack'),
        Redelivered: d('redeliver'), Unroutable: d('drop_unroutable') }, true));
    }
    ctx.history.add('overview/q', { Ready: qt.messages_ready || 0, Unacked: qt.messages_unacknowledged || 0, Total: qt.messages || 0 });
    ctx.history.add('overview/r', {
      Publish: rate(ms, 'publish'), 'Deliver/get': rate(ms, 'deliver_get'), Ack: rate(ms, 'ack'),
      Redelivered: rate(ms, 'redeliver'), Unroutable: rate(ms, 'drop_unroutable'),
    });
    el.querySelector('#ident').textContent = `${o.product_name || 'Warren'} ${o.product_version || ''} \u00b7 node ${o.node} \u00b7 cluster ${o.cluster_name}`;
    clear(cards);
    cards.append(card(fmtNum(ot.connections), 'Connections'), card(fmtNum(ot.channels), 'Channels'),
      card(fmtNum(ot.exchanges), 'Exchanges'), card(fmtNum(ot.queues), 'Queues'), card(fmtNum(ot.consumers), 'Consumers'),
      card(fmtNum(qt.messages || 0), 'Messages'));
    clear(node);
    const n = nodes[0];
    if (n) {
      node.append(
        card(fmtBytes(n.mem_used), 'Memory used' + (n.mem_limit ? ' of ' + fmtBytes(n.mem_limit) : ''), n.mem_alarm),
        card(n.disk_free || n.disk_free_limit ? fmtBytes(n.disk_free) : 'n/a', 'Disk free' + (n.disk_free_limit ? ' (limit ' + fmtBytes(n.disk_free_limit) + ')' : ''), n.disk_free_alarm),
        card(n.mem_alarm || n.disk_free_alarm ? [n.mem_alarm ? 'memory' : '', n.disk_free_alarm ? 'disk' : ''].filter(Boolean).join(', ') : 'none', 'Alarms', n.mem_alarm || n.disk_free_alarm),
        card(fmtNum(n.fd_used), 'File descriptors'),
        card(fmtNum(Math.round((n.uptime || 0) / 60000)) + ' min', 'Uptime'));
    }
    draw(queued.canvas, queued.legend, ctx.history.points('overview/q'), qNames);
    draw(rates.canvas, rates.legend, ctx.history.points('overview/r'), rNames, '/s');
    listeners.update(o.listeners || []);
    el.dataset.samples = String(ctx.history.points('overview/q').length);
  }
  return { title: 'Overview', el, refresh };
}
