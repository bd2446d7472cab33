// exchanges.js: the exchanges list (create, filter by vhost) and an
// exchange's page (bindings in and out, publish, delete).

import { h, table, fmtRate, link, kv, action, argsEditor, select, check, confirmButton } from './ui.js';
import { api, get, enc } from './api.js';
import { publishForm, bindingsTable, bindForm, vhostPicker } from './forms.js';

export function exchanges(ctx) {
  const t = table([
    { label: 'Vhost', cell: (x) => x.vhost },
    { label: 'Name', cell: (x) => link(x.name === '' ? '(AMQP default)' : x.name, 'exchange', x.vhost, x.name === '' ? 'amq.default' : x.name) },
    { label: 'Type', cell: (x) => x.type },
    { label: 'Features', cell: (x) => [x.durable ? 'D' : '', x.auto_delete ? 'AD' : '', x.internal ? 'I' : '', Object.keys(x.arguments || {}).length ? 'Args' : ''].filter(Boolean).join(' ') },
    { label: 'Policy', cell: (x) => x.policy || '' },
    { label: 'In', cell: (x) => fmtRate((x.message_stats || {}).publish_in_details), num: true },
    { label: 'Out', cell: (x) => fmtRate((x.message_stats || {}).publish_out_details), num: true },
  ], (x) => x.vhost + '\u0000' + x.name, { empty: 'No exchanges.' });
  const filter = h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', true),
    h('label', null, 'Filter', h('input', { type: 'search', name: 'filter', placeholder: 'name contains\u2026' })));
  const vsel = filter.querySelector('select'), fin = filter.querySelector('input');
  const args = argsEditor([['alternate-exchange', 'string']]);
  const create = action(h('form', { class: 'panel write', id: 'add-exchange' },
    h('h2', null, 'Add a new exchange'),
    h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', false),
      h('label', null, 'Name', h('input', { type: 'text', name: 'name', required: true })),
      select('Type', 'type', ['direct', 'fanout', 'headers', 'topic', 'x-delayed-message'], 'direct'),
      check('Durable', { name: 'durable', checked: true }), check('Auto delete', { name: 'auto_delete' }),
      check('Internal', { name: 'internal' })),
    args, h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Add exchange'))),
  async (f) => {
    await api('PUT', `/exchanges/${enc(f.vhost.value)}/${enc(f.name.value)}`, {
      type: f.type.value, durable: f.durable.checked, auto_delete: f.auto_delete.checked, internal: f.internal.checked, arguments: args.values(),
    });
    refresh();
    return `Exchange ${f.name.value} added.`;
  });
  const el = h('div', null, h('h1', null, 'Exchanges'), filter, t.el, ctx.canWrite ? create : null);
  let all = [];
  const show = () => {
    const s = fin.value.toLowerCase();
    t.update(all.filter((x) => (!vsel.value || x.vhost === vsel.value) && x.name.toLowerCase().includes(s)));
  };
  vsel.addEventListener('change', show);
  fin.addEventListener('input', show);
  async function refresh() {
    all = await get('/exchanges?columns=name,vhost,type,durable,auto_delete,internal,arguments,policy,message_stats');
    show();
  }
  return { title: 'Exchanges', el, refresh };
}

export function exchangePage(ctx, [v, name]) {
  const info = h('section', { class: 'panel' });
  const out = bindingsTable(ctx, () => refresh());
  const inn = bindingsTable(ctx, () => refresh());
  const del = h('section', { class: 'panel write' }, h('h2', null, 'Delete this exchange'),
    confirmButton('Delete', `Delete exchange ${name}?`, async () => {
      await api('DELETE', `/exchanges/${enc(v)}/${enc(name)}`);
      location.hash = '#/exchanges';
    }));
  const isDefault = name === 'amq.default';
  const el = h('div', null, h('h1', null, 'Exchange ', h('code', null, isDefault ? '(AMQP default)' : name), h('span', { class: 'muted' }, ' in ' + v)),
    info, h('h2', null, 'Bindings from this exchange (out)'), out.el, h('h2', null, 'Bindings to this exchange (in)'), inn.el,
    ctx.canWrite && !isDefault ? bindForm(v, name, 'to', () => refresh()) : null,
    ctx.canWrite ? publishForm(v, name) : null,
    ctx.canWrite && !isDefault && !name.startsWith('amq.') ? del : null);
  async function refresh() {
    const x = await get(`/exchanges/${enc(v)}/${enc(name)}`);
    kv(info, [['Type', x.type], ['Durable', String(x.durable)], ['Auto delete', String(x.auto_delete)], ['Internal', String(x.internal)],
      ['Arguments', JSON.stringify(x.arguments || {})], ['Policy', x.policy || ''],
      ['Publish in', fmtRate((x.message_stats || {}).publish_in_details)], ['Publish out', fmtRate((x.message_stats || {}).publish_out_details)]]);
    if (isDefault) { out.update([]); inn.update([]); return; }
    const [o, i] = await Promise.all([get(`/exchanges/${enc(v)}/${enc(name)}/bindings/source`), get(`/exchanges/${enc(v)}/${enc(name)}/bindings/destination`)]);
    out.update(o);
    inn.update(i);
  }
  return { title: 'Exchange ' + name, el, refresh };
}
