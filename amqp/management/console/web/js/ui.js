// ui.js: DOM helpers. Everything is built with h() and text nodes (never
// innerHTML with data). Tables update rows in place by key, so focus,
// selection and scroll survive the 5-second refresh.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'textContent') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

// One formatter, made once: toLocaleString with options builds a new
// Intl.NumberFormat at every call (a millisecond each, in a 100-row table
// with 6 figures per row: most of a refresh).
const NF = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function fmtNum(n) {
  if (n === undefined || n === null || n === '') return '';
  if (typeof n !== 'number') return String(n);
  if (n === 0) return '0';
  return NF.format(n);
}

export function fmtRate(d) {
  const r = d && typeof d.rate === 'number' ? d.rate : 0;
  return (r === 0 ? '0' : NF.format(r)) + '/s';
}

export function fmtBytes(n) {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

export function vhostLabel(v) {
  return v;
}

// link builds an in-console link to #/path parts (each part encoded).
export function link(text, ...parts) {
  return h('a', { href: '#/' + parts.map(encodeURIComponent).join('/') }, text);
}

// table returns {el, update(rows)}: cols are {label, cell(row) -> string
// | Node, num, sort}. update keeps one <tr> per key(row) and touches a
// cell only when what it shows changed. onSort(col) is called when a
// sortable header is activated. opts.grid: the CSS lays the table out as
// a grid (app.css, table.queues), so its parts carry their table roles
// explicitly. opts.pending(row): the row has no figures yet (class
// pending: dimmed until an update gives them).
export function table(cols, key, opts = {}) {
  const role = (r) => (opts.grid ? r : null);
  const thead = h('thead', { role: role('rowgroup') }, h('tr', { role: role('row') }, cols.map((c) => {
    const th = h('th', { class: c.num ? 'num' : null, scope: 'col', role: role('columnheader') });
    if (c.sort && opts.onSort) {
      th.append(h('button', { type: 'button', class: 'sort', onclick: () => opts.onSort(c) }, c.label));
    } else {
      th.append(c.label);
    }
    c.th = th;
    return th;
  })));
  const tbody = h('tbody', { role: role('rowgroup') });
  const el = h('table', { class: opts.class || null, role: role('table') }, thead, tbody);
  const rows = new Map();
  let emptyRow = null;
  // apply brings the first count rows up to date (all of them when count
  // is items.length, which also drops the rows left over).
  function apply(items, keys, seen, count) {
    // Rows whose key is gone are recycled, in their order, for the new
    // keys: a filter keystroke rewrites the text of 100 rows in place
    // instead of removing 100 and building 100 (1,400 elements), which
    // saves the style recalculation and most of the layout.
    const free = [];
    for (const tr of tbody.children) {
      if (tr._key !== undefined && !seen.has(tr._key)) { free.push(tr); rows.delete(tr._key); }
    }
    free.reverse();
    let i = 0;
    if (items.length === 0) {
      if (!emptyRow) emptyRow = h('tr', { class: 'empty', role: role('row') }, h('td', { colspan: cols.length, role: role('cell') }, opts.empty || 'Nothing here.'));
    }
    for (let n = 0; n < count; n++) {
      const item = items[n], k = keys[n];
      let tr = rows.get(k);
      if (!tr) {
        tr = free.pop();
        if (!tr) {
          tr = h('tr', { role: role('row') });
          for (const c of cols) tr.append(h('td', { class: c.num ? 'num' : null, role: role('cell') }));
        }
        tr._key = k;
        tr.dataset.key = k;
        rows.set(k, tr);
      }
      cols.forEach((c, j) => {
        const td = tr.children[j];
        if (c.link) {
          // A link cell: [text, ...path parts]; compared as a string, built
          // only when it changed (cheaper than a node per refresh).
          const parts = c.link(item);
          const href = '#/' + parts.slice(1).map(encodeURIComponent).join('/');
          const sig = parts[0] + '\u0000' + href;
          if (td._sig !== sig) {
            td._sig = sig;
            let a = td.firstChild;
            if (!a || a.nodeName !== 'A') {
              clear(td);
              a = td.appendChild(document.createElement('a'));
            }
            a.href = href;
            a.textContent = parts[0];
          }
          return;
        }
        const v = c.cell(item);
        if (v instanceof Node) {
          const sig = v.outerHTML;
          if (td._sig !== sig) { td._sig = sig; clear(td); td.append(v); }
        } else {
          const s = v === undefined || v === null ? '' : String(v);
          if (td._sig !== s) { td._sig = s; td.textContent = s; }
        }
      });
      if (opts.pending) {
        const p = !!opts.pending(item);
        if (tr._pending !== p) { tr._pending = p; tr.classList.toggle('pending', p); }
      }
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
      i++;
    }
    if (items.length > 0 && emptyRow && emptyRow.parentNode) emptyRow.remove();
    if (count < items.length) return;
    for (const tr of free) tr.remove();
    if (items.length === 0 && emptyRow.parentNode !== tbody) tbody.append(emptyRow);
  }
  // update shows items. With opts.first (the rows of a screenful, or a
  // function that says how many rows are in view), a
  // longer list is shown in two frames: the first rows now, so that a
  // keystroke's visible answer costs the layout and paint of one
  // screenful, and the rest (the rows below, left as they were for one
  // frame) after that frame is painted. It returns a promise settled when
  // every row is up to date; a newer update supersedes the second half.
  let gen = 0;
  function update(items) {
    const my = ++gen;
    const keys = items.map(key);
    const seen = new Set(keys);
    const first = (typeof opts.first === 'function' ? opts.first() : opts.first) || items.length;
    // The first rows of a table are built in one frame: the list shows
    // whole at once (two frames cost a page load about 80 ms more).
    if (items.length <= first || rows.size === 0) {
      apply(items, keys, seen, items.length);
      return Promise.resolve(true);
    }
    apply(items, keys, seen, first);
    return new Promise((resolve) => {
      requestAnimationFrame(() => setTimeout(() => {
        if (my !== gen) return resolve(false);
        apply(items, keys, seen, items.length);
        resolve(true);
      }));
    });
  }
  return { el, tbody, update, cols };
}

// setSort marks the header of the column sorted by (aria-sort).
export function setSort(t, sortKey, reverse) {
  for (const c of t.cols) {
    if (!c.th) continue;
    if (c.sort && c.sort === sortKey) c.th.setAttribute('aria-sort', reverse ? 'descending' : 'ascending');
    else c.th.removeAttribute('aria-sort');
  }
}

// kv renders a definition list of [label, value] pairs in place.
export function kv(el, pairs) {
  const dl = h('dl', { class: 'kv' }, pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v instanceof Node ? v : String(v ?? ''))]));
  const sig = dl.outerHTML;
  if (el._sig === sig) return;
  el._sig = sig;
  clear(el);
  el.append(dl);
}

// action wires a form: on submit it runs fn(form) and shows the result
// (a string) or the API's error in the form's own message line, where
// the user acted.
export function action(form, fn) {
  const err = h('div', { class: 'err', role: 'alert' });
  const ok = h('div', { class: 'ok', role: 'status' });
  form.append(err, ok);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    ok.textContent = '';
    const btns = form.querySelectorAll('button[type=submit]');
    btns.forEach((b) => { b.disabled = true; });
    try {
      const msg = await fn(form, ev.submitter);
      if (msg) ok.textContent = msg;
    } catch (e) {
      err.textContent = e.status ? `${e.message} (HTTP ${e.status})` : e.message;
    } finally {
      btns.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}

// confirmButton is a button that asks again in place (no modal dialog):
// the first press turns it into "Really ...?" with Yes/No.
export function confirmButton(label, question, fn, cls = 'danger') {
  const wrap = h('span', { class: 'confirm' });
  const btn = h('button', { type: 'button', class: cls }, label);
  const err = h('span', { class: 'err', role: 'alert' });
  const showAsk = () => {
    clear(wrap);
    const yes = h('button', { type: 'button', class: 'danger', onclick: async () => {
      yes.disabled = true;
      try {
        await fn();
        reset();
      } catch (e) {
        reset();
        err.textContent = `${e.message}${e.status ? ' (HTTP ' + e.status + ')' : ''}`;
      }
    } }, 'Yes, ' + label.toLowerCase());
    const no = h('button', { type: 'button', onclick: () => { reset(); btn.focus(); } }, 'No');
    wrap.append(h('span', null, question + ' '), yes, ' ', no);
    yes.focus();
  };
  const reset = () => { clear(wrap); wrap.append(btn, err); };
  btn.addEventListener('click', () => { err.textContent = ''; showAsk(); });
  reset();
  return wrap;
}

// field is a labelled input.
export function field(label, attrs) {
  return h('label', null, label, h('input', { type: 'text', ...attrs }));
}

export function check(label, attrs) {
  return h('label', { class: 'inline' }, h('input', { type: 'checkbox', ...attrs }), label);
}

export function select(label, name, options, value) {
  return h('label', null, label, h('select', { name },
    options.map((o) => {
      const [v, t] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, t);
    })));
}

// parseValue reads an argument's text as RabbitMQ's UI does for its
// "Number" / "String" / "Boolean" / "List" choice.
export function parseValue(text, type) {
  switch (type) {
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) throw new Error(`"${text}" is not a number`);
      return n;
    }
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw new Error(`"${text}" is not true or false`);
      return text === 'true';
    case 'json':
      try { return JSON.parse(text); } catch (e) { throw new Error(`not JSON: ${e.message}`); }
    default:
      return text;
  }
}

// argsEditor is a list of key = value (type) rows; quick adds fill a key.
export function argsEditor(quick) {
  const rows = h('div');
  const addRow = (k = '', type = 'string') => {
    const row = h('div', { class: 'argrow' },
      h('input', { type: 'text', class: 'argk', placeholder: 'argument', 'aria-label': 'argument name', value: k }),
      h('input', { type: 'text', class: 'argv', placeholder: 'value', 'aria-label': 'argument value' }),
      h('select', { class: 'argt', 'aria-label': 'argument type' },
        ['string', 'number', 'boolean', 'json'].map((t) => h('option', { value: t, selected: t === type }, t))),
      h('button', { type: 'button', 'aria-label': 'remove argument', onclick: () => row.remove() }, '\u00d7'));
    rows.append(row);
    return row;
  };
  const el = h('fieldset', { class: 'args' }, h('legend', null, 'Arguments'), rows,
    h('div', { class: 'row' },
      h('button', { type: 'button', onclick: () => addRow().querySelector('input').focus() }, 'Add argument'),
      quick && quick.length ? h('span', { class: 'muted' }, ' Add: ') : null,
      (quick || []).map(([k, t]) => h('button', { type: 'button', class: 'quick', onclick: () => {
        addRow(k, t).querySelector('.argv').focus();
      } }, k))));
  el.values = () => {
    const out = {};
    for (const r of rows.children) {
      const k = r.querySelector('.argk').value.trim();
      if (!k) continue;
      out[k] = parseValue(r.querySelector('.argv').value, r.querySelector('.argt').value);
    }
    return out;
  };
  el.reset = () => clear(rows);
  return el;
}

// chartBox is a titled canvas chart with its legend.
export function chartBox(title) {
  const canvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': title });
  const legend = h('div', { class: 'legend' });
  const el = h('section', { class: 'panel' }, h('h3', null, title), canvas, legend);
  return { el, canvas, legend };
}
