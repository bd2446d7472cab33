// forms.js: forms several pages share: publish a message, add a binding,
// the bindings table, the vhost picker.

import { h, action, table, argsEditor, select, parseValue, link, confirmButton } from './ui.js';
import { api, enc } from './api.js';

// publishForm publishes to exchange x of vhost v (rabbitmq: the default
// exchange is "amq.default" in the path); key is the default routing key.
export function publishForm(v, x, key = '') {
  const headers = argsEditor();
  headers.querySelector('legend').textContent = 'Headers';
  const f = h('form', { class: 'panel write', id: 'publish' },
    h('h2', null, 'Publish message'),
    h('div', { class: 'row' },
      h('label', null, 'Routing key', h('input', { type: 'text', name: 'routing_key', value: key })),
      select('Delivery mode', 'delivery_mode', [['2', '2 - persistent'], ['1', '1 - non-persistent']], '2'),
      h('label', null, 'Properties (JSON)', h('input', { type: 'text', name: 'props', placeholder: '{"content_type":"text/plain"}' })),
      select('Payload encoding', 'encoding', [['string', 'string'], ['base64', 'base64']], 'string')),
    headers,
    h('label', null, 'Payload', h('textarea', { name: 'payload', rows: 3 })),
    h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Publish message')));
  return action(f, async () => {
    const props = f.props.value.trim() ? parseValue(f.props.value, 'json') : {};
    props.delivery_mode = Number(f.delivery_mode.value);
    const hdrs = headers.values();
    if (Object.keys(hdrs).length) props.headers = hdrs;
    const r = await api('POST', `/exchanges/${enc(v)}/${enc(x || 'amq.default')}/publish`, {
      properties: props, routing_key: f.routing_key.value, payload: f.payload.value, payload_encoding: f.encoding.value,
    });
    return r && r.routed ? 'Message published.' : 'Message published, but not routed.';
  });
}

// bindingsTable lists bindings; the unbind button appears for writers.
export function bindingsTable(ctx, onChange) {
  const cols = [
    { label: 'From', cell: (b) => (b.source === '' ? '(default exchange)' : link(b.source, 'exchange', b.vhost, b.source)) },
    { label: 'To', cell: (b) => (b.destination_type === 'queue' ? link(b.destination, 'queue', b.vhost, b.destination) : link(b.destination, 'exchange', b.vhost, b.destination)) },
    { label: 'Type', cell: (b) => b.destination_type },
    { label: 'Routing key', cell: (b) => b.routing_key },
    { label: 'Arguments', cell: (b) => (b.arguments && Object.keys(b.arguments).length ? JSON.stringify(b.arguments) : '') },
  ];
  if (ctx.canWrite) {
    cols.push({ label: '', cell: (b) => (b.source === '' ? '' : unbindButton(b, onChange)) });
  }
  return table(cols, (b) => `${b.source}\u0000${b.destination_type}\u0000${b.destination}\u0000${b.properties_key}`, { empty: 'No bindings.' });
}

function unbindButton(b, onChange) {
  const kind = b.destination_type === 'queue' ? 'q' : 'e';
  return confirmButton('Unbind', 'Remove this binding?', async () => {
    await api('DELETE', `/bindings/${enc(b.vhost)}/e/${enc(b.source)}/${kind}/${enc(b.destination)}/${enc(b.properties_key)}`);
    onChange();
  });
}

// bindForm adds a binding from (mode "from": the form asks the source)
// or to (mode "to": it asks the destination) the object named.
export function bindForm(v, fixed, mode, onChange) {
  const args = argsEditor();
  const f = h('form', { class: 'panel write' },
    h('h2', null, mode === 'from' ? 'Add binding to this queue' : 'Add binding from this exchange'),
    h('div', { class: 'row' },
      mode === 'to' ? select('Destination type', 'dtype', [['q', 'queue'], ['e', 'exchange']], 'q') : null,
      h('label', null, mode === 'from' ? 'From exchange' : 'To', h('input', { type: 'text', name: 'other', required: true })),
      h('label', null, 'Routing key', h('input', { type: 'text', name: 'routing_key' }))),
    args,
    h('div', null, h('button', { type: 'submit' }, 'Bind')));
  return action(f, async () => {
    const body = { routing_key: f.routing_key.value, arguments: args.values() };
    if (mode === 'from') {
      await api('POST', `/bindings/${enc(v)}/e/${enc(f.other.value)}/q/${enc(fixed)}`, body);
    } else {
      await api('POST', `/bindings/${enc(v)}/e/${enc(fixed)}/${f.dtype.value}/${enc(f.other.value)}`, body);
    }
    onChange();
    return 'Bound.';
  });
}

// vhostPicker is a select of ctx.vhosts, with "All" when all is set.
export function vhostPicker(ctx, name, all, value) {
  const opts = (all ? [['', 'All vhosts']] : []).concat(ctx.vhosts.map((v) => [v, v]));
  return select('Virtual host', name, opts, value ?? (all ? '' : '/'));
}
