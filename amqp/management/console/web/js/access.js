// access.js: vhosts, users and permissions (administrators change them;
// others see what the API shows them).

import { h, table, fmtNum, action, check, confirmButton } from './ui.js';
import { api, get, enc } from './api.js';
import { vhostPicker } from './forms.js';

export function vhosts(ctx) {
  const cols = [
    { label: 'Name', cell: (v) => v.name },
    { label: 'Description', cell: (v) => v.description || '' },
    { label: 'Tags', cell: (v) => (v.tags || []).join(', ') },
    { label: 'Ready', cell: (v) => fmtNum(v.messages_ready), num: true },
    { label: 'Unacked', cell: (v) => fmtNum(v.messages_unacknowledged), num: true },
    { label: 'Total', cell: (v) => fmtNum(v.messages), num: true },
  ];
  if (ctx.isAdmin) cols.push({ label: '', cell: (v) => confirmButton('Delete', `Delete vhost ${v.name} and all in it?`, async () => { await api('DELETE', '/vhosts/' + enc(v.name)); refresh(); }) });
  const t = table(cols, (v) => v.name);
  const add = action(h('form', { class: 'panel', id: 'add-vhost' }, h('h2', null, 'Add a virtual host'),
    h('div', { class: 'row' }, h('label', null, 'Name', h('input', { type: 'text', name: 'name', required: true })),
      h('label', null, 'Description', h('input', { type: 'text', name: 'description' })),
      h('label', null, 'Tags', h('input', { type: 'text', name: 'tags', placeholder: 'comma separated' })),
      h('button', { type: 'submit', class: 'primary' }, 'Add virtual host'))),
  async (f) => {
    await api('PUT', '/vhosts/' + enc(f.name.value), { description: f.description.value, tags: f.tags.value });
    refresh();
    return `Virtual host ${f.name.value} added.`;
  });
  const el = h('div', null, h('h1', null, 'Virtual hosts'), t.el, ctx.isAdmin ? add : null);
  async function refresh() {
    const vs = await get('/vhosts');
    ctx.vhosts = vs.map((v) => v.name);
    t.update(vs);
  }
  return { title: 'Virtual hosts', el, refresh };
}

export function users(ctx) {
  const cols = [
    { label: 'Name', cell: (u) => u.name },
    { label: 'Tags', cell: (u) => h('span', null, (Array.isArray(u.tags) ? u.tags : String(u.tags || '').split(',')).filter(Boolean).map((t) => h('span', { class: 'tag' }, t))) },
    { label: 'Password', cell: (u) => (u.password_hash ? 'set' : 'none') },
  ];
  if (ctx.isAdmin) cols.push({ label: '', cell: (u) => confirmButton('Delete', `Delete user ${u.name}?`, async () => { await api('DELETE', '/users/' + enc(u.name)); refresh(); }) });
  const t = table(cols, (u) => u.name);
  const add = action(h('form', { class: 'panel', id: 'add-user' }, h('h2', null, 'Add or update a user'),
    h('div', { class: 'row' }, h('label', null, 'Username', h('input', { type: 'text', name: 'name', required: true })),
      h('label', null, 'Password', h('input', { type: 'password', name: 'password', autocomplete: 'new-password' })),
      h('label', null, 'Tags', h('input', { type: 'text', name: 'tags', placeholder: 'administrator, monitoring, management, policymaker' })),
      h('button', { type: 'submit', class: 'primary' }, 'Save user'))),
  async (f) => {
    const body = { tags: f.tags.value };
    if (f.password.value) body.password = f.password.value; else body.password_hash = '';
    await api('PUT', '/users/' + enc(f.name.value), body);
    refresh();
    return `User ${f.name.value} saved.`;
  });
  const el = h('div', null, h('h1', null, 'Users'), t.el, ctx.isAdmin ? add : null);
  const refresh = async () => {
    if (!ctx.isAdmin) { t.update([{ name: ctx.user.name, tags: ctx.user.tags }]); return; }
    t.update(await get('/users'));
  };
  return { title: 'Users', el, refresh };
}

export function permissions(ctx) {
  const cols = [
    { label: 'User', cell: (p) => p.user },
    { label: 'Vhost', cell: (p) => p.vhost },
    { label: 'Configure', cell: (p) => p.configure },
    { label: 'Write', cell: (p) => p.write },
    { label: 'Read', cell: (p) => p.read },
  ];
  if (ctx.isAdmin) cols.push({ label: '', cell: (p) => confirmButton('Clear', `Clear ${p.user}'s permissions in ${p.vhost}?`, async () => { await api('DELETE', `/permissions/${enc(p.vhost)}/${enc(p.user)}`); refresh(); }) });
  const t = table(cols, (p) => p.vhost + '\u0000' + p.user, { empty: 'No permissions.' });
  const set = action(h('form', { class: 'panel', id: 'set-permission' }, h('h2', null, 'Set permission'),
    h('div', { class: 'row' }, h('label', null, 'User', h('input', { type: 'text', name: 'user', required: true })), vhostPicker(ctx, 'vhost', false),
      h('label', null, 'Configure regexp', h('input', { type: 'text', name: 'configure', value: '.*' })),
      h('label', null, 'Write regexp', h('input', { type: 'text', name: 'write', value: '.*' })),
      h('label', null, 'Read regexp', h('input', { type: 'text', name: 'read', value: '.*' })),
      h('button', { type: 'submit', class: 'primary' }, 'Set permission'))),
  async (f) => {
    await api('PUT', `/permissions/${enc(f.vhost.value)}/${enc(f.user.value)}`, { configure: f.configure.value, write: f.write.value, read: f.read.value });
    refresh();
    return 'Permission set.';
  });
  const el = h('div', null, h('h1', null, 'Permissions'), t.el, ctx.isAdmin ? set : null);
  async function refresh() {
    t.update(ctx.isAdmin ? await get('/permissions') : await get('/users/' + enc(ctx.user.name) + '/permissions').catch(() => []));
  }
  return { title: 'Permissions', el, refresh };
}

export { check };
