// connections.js: connections (list; one with its channels and a close
// with a reason) and channels.

import { h, table, fmtNum, fmtRate, link, kv, action } from './ui.js';
import { api, get, enc } from './api.js';

const connCols = [
  { label: 'Name', cell: (c) => link(c.name, 'connection', c.name) },
  { label: 'User', cell: (c) => c.user },
  { label: 'Vhost', cell: (c) => c.vhost },
  { label: 'State', cell: (c) => c.state },
  { label: 'Client', cell: (c) => ((c.client_properties || {}).product || '') + ' ' + ((c.client_properties || {}).version || '') },
  { label: 'Channels', cell: (c) => fmtNum(c.channels), num: true },
  { label: 'From client', cell: (c) => fmtNum(Math.round((c.recv_oct_details || {}).rate || 0)) + ' B/s', num: true },
  { label: 'To client', cell: (c) => fmtNum(Math.round((c.send_oct_details || {}).rate || 0)) + ' B/s', num: true },
];

const chanCols = [
  { label: 'Channel', cell: (c) => c.name },
  { label: 'User', cell: (c) => c.user },
  { label: 'Vhost', cell: (c) => c.vhost },
  { label: 'Mode', cell: (c) => [c.confirm ? 'confirm' : '', c.transactional ? 'tx' : ''].filter(Boolean).join(' ') },
  { label: 'Prefetch', cell: (c) => fmtNum(c.prefetch_count), num: true },
  { label: 'Consumers', cell: (c) => fmtNum(c.consumer_count), num: true },
  { label: 'Unacked', cell: (c) => fmtNum(c.messages_unacknowledged), num: true },
  { label: 'Publish', cell: (c) => fmtRate((c.message_stats || {}).publish_details), num: true },
  { label: 'Deliver/get', cell: (c) => fmtRate((c.message_stats || {}).deliver_get_details), num: true },
  { label: 'Ack', cell: (c) => fmtRate((c.message_stats || {}).ack_details), num: true },
];

export function connections() {
  const t = table(connCols, (c) => c.name, { empty: 'No connections.' });
  const el = h('div', null, h('h1', null, 'Connections'), t.el);
  return { title: 'Connections', el, refresh: async () => t.update(await get('/connections')) };
}

export function channels() {
  const t = table(chanCols, (c) => c.name, { empty: 'No channels.' });
  const el = h('div', null, h('h1', null, 'Channels'), t.el);
  return { title: 'Channels', el, refresh: async () => t.update(await get('/channels')) };
}

export function connection(ctx, [name]) {
  const info = h('section', { class: 'panel' });
  const t = table(chanCols, (c) => c.name, { empty: 'No channels.' });
  const closeForm = action(h('form', { class: 'panel write' },
    h('h2', null, 'Close this connection'),
    h('div', { class: 'row' },
      h('label', null, 'Reason', h('input', { type: 'text', name: 'reason', value: 'Closed via management plugin' })),
      h('button', { type: 'submit', class: 'danger' }, 'Force close'))),
  async (f) => {
    await api('DELETE', '/connections/' + enc(name), undefined, { 'X-Reason': f.reason.value });
    return 'Connection closed.';
  });
  const el = h('div', null, h('h1', null, 'Connection ', h('code', null, name)), info, h('h2', null, 'Channels'), t.el,
    ctx.canWrite ? closeForm : null);
  async function refresh() {
    let c;
    try {
      c = await get('/connections/' + enc(name));
    } catch (e) {
      if (e.status === 404) { kv(info, [['State', 'closed (no such connection)']]); t.update([]); return; }
      throw e;
    }
    const cp = c.client_properties || {};
    kv(info, [['User', c.user], ['Vhost', c.vhost], ['State', c.state], ['Protocol', c.protocol],
      ['Peer', `${c.peer_host}:${c.peer_port}`], ['Client', `${cp.product || ''} ${cp.version || ''} ${cp.platform || ''}`],
      ['Connection name', cp.connection_name || ''], ['Heartbeat', c.timeout + ' s'], ['Frame max', fmtNum(c.frame_max)],
      ['Channel max', fmtNum(c.channel_max)], ['TLS', c.ssl ? 'yes' : 'no'], ['Channels', fmtNum(c.channels)]]);
    t.update(await get('/connections/' + enc(name) + '/channels'));
  }
  return { title: 'Connection ' + name, el, refresh };
}
