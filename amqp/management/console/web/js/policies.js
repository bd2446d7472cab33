// policies.js: policies (list, add, delete) and definitions (download,
// upload).

import { h, table, action, select, confirmButton, parseValue, fmtNum } from './ui.js';
import { api, get, enc } from './api.js';
import { vhostPicker } from './forms.js';

export function policies(ctx) {
  const cols = [
    { label: 'Vhost', cell: (p) => p.vhost },
    { label: 'Name', cell: (p) => p.name },
    { label: 'Pattern', cell: (p) => p.pattern },
    { label: 'Apply to', cell: (p) => p['apply-to'] },
    { label: 'Definition', cell: (p) => JSON.stringify(p.definition) },
    { label: 'Priority', cell: (p) => fmtNum(p.priority), num: true },
  ];
  if (ctx.canPolicy) cols.push({ label: '', cell: (p) => confirmButton('Delete', `Delete policy ${p.name}?`, async () => { await api('DELETE', `/policies/${enc(p.vhost)}/${enc(p.name)}`); refresh(); }) });
  const t = table(cols, (p) => p.vhost + '\u0000' + p.name, { empty: 'No policies.' });
  const add = action(h('form', { class: 'panel', id: 'add-policy' }, h('h2', null, 'Add or update a policy'),
    h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', false),
      h('label', null, 'Name', h('input', { type: 'text', name: 'name', required: true })),
      h('label', null, 'Pattern', h('input', { type: 'text', name: 'pattern', required: true, placeholder: '^amq\\.' })),
      select('Apply to', 'applyto', ['all', 'queues', 'exchanges'], 'all'),
      h('label', null, 'Priority', h('input', { type: 'number', name: 'priority', value: 0 }))),
    h('label', null, 'Definition (JSON)', h('textarea', { name: 'definition', placeholder: '{"max-length": 1000}' })),
    h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Save policy'))),
  async (f) => {
    await api('PUT', `/policies/${enc(f.vhost.value)}/${enc(f.name.value)}`, {
      pattern: f.pattern.value, 'apply-to': f.applyto.value, priority: Number(f.priority.value), definition: parseValue(f.definition.value || '{}', 'json'),
    });
    refresh();
    return `Policy ${f.name.value} saved.`;
  });
  const el = h('div', null, h('h1', null, 'Policies'), t.el, ctx.canPolicy ? add : null);
  const refresh = async () => t.update(await get('/policies'));
  return { title: 'Policies', el, refresh };
}

export function definitions(ctx) {
  const down = action(h('form', { class: 'panel', id: 'download-defs' }, h('h2', null, 'Export definitions'),
    h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', true),
      h('button', { type: 'submit', class: 'primary' }, 'Download broker definitions'))),
  async (f) => {
    const v = f.vhost.value;
    const d = await get('/definitions' + (v ? '/' + enc(v) : ''));
    const blob = new Blob([JSON.stringify(d, null, 2)], { type: 'application/json' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `warren-definitions${v ? '-' + v.replace(/[^\w.-]/g, '_') : ''}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    return 'Definitions downloaded.';
  });
  const up = action(h('form', { class: 'panel', id: 'upload-defs' }, h('h2', null, 'Import definitions'),
    h('div', { class: 'row' }, vhostPicker(ctx, 'vhost', true),
      h('label', null, 'Definitions file', h('input', { type: 'file', name: 'file', accept: '.json,application/json', required: true })),
      h('button', { type: 'submit', class: 'primary' }, 'Upload broker definitions'))),
  async (f) => {
    const file = f.file.files[0];
    if (!file) throw new Error('Choose a file first.');
    const body = parseValue(await file.text(), 'json');
    const v = f.vhost.value;
    await api('POST', '/definitions' + (v ? '/' + enc(v) : ''), body);
    return 'Definitions imported.';
  });
  const el = h('div', null, h('h1', null, 'Definitions'), down, ctx.isAdmin ? up : null);
  return { title: 'Definitions', el, refresh: null };
}
