// chart.js: small line charts on a canvas, and the history they draw.
// A page's first request asks the API for its sampled history (RabbitMQ's
// ?lengths_age=600&lengths_incr=5&msg_rates_age=600&msg_rates_incr=5:
// HISTORY_QUERY), so a chart is drawn at once; each 5 s refresh then adds
// the figures of now. The console keeps 10 minutes per object.

import { h, clear, fmtNum } from './ui.js';

const SPAN_MS = 10 * 60 * 1000;
export const COLORS = ['#2457a6', '#d9822b', '#2e9e55', '#b03a8a', '#7a6cd1', '#9a9a2e'];

export const HISTORY_QUERY = 'lengths_age=600&lengths_incr=5&msg_rates_age=600&msg_rates_incr=5';

// fromSamples turns the API's sampled history into points, oldest first:
// src is {series name: a *_details object with samples (newest first)};
// gauges are drawn as sampled, counters (rates) as the per-second change
// between two samples.
export function fromSamples(src, counters) {
  const names = Object.keys(src);
  const base = names.map((n) => (src[n] && src[n].samples) || []).find((s) => s.length) || [];
  const pts = [];
  for (let i = base.length - (counters ? 2 : 1); i >= 0; i--) {
    const t = base[i].timestamp;
    const v = {};
    for (const n of names) {
      const s = (src[n] && src[n].samples) || [];
      if (!s[i]) { v[n] = 0; continue; }
      if (!counters) { v[n] = s[i].sample; continue; }
      const dt = (t - base[i + 1].timestamp) / 1000;
      v[n] = s[i + 1] && dt > 0 ? Math.max(0, (s[i].sample - s[i + 1].sample) / dt) : 0;
    }
    pts.push({ t, v });
  }
  return pts;
}

// History holds points per key: [{t, v: {name: number}}].
export class History {
  constructor() { this.byKey = new Map(); }
  // set replaces a key's points (the API's history is the whole story).
  set(key, pts) { this.byKey.set(key, pts.slice()); }
  add(key, values, t = Date.now()) {
    let pts = this.byKey.get(key);
    if (!pts) { pts = []; this.byKey.set(key, pts); }
    pts.push({ t, v: values });
    while (pts.length && pts[0].t < t - SPAN_MS) pts.shift();
  }
  points(key) { return this.byKey.get(key) || []; }
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtAxis(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 ? 1 : 0) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(v % 1e3 ? 1 : 0) + 'k';
  return String(Math.round(v * 10) / 10);
}

// draw paints the series names of points on canvas (its CSS size, at the
// screen's pixel ratio) and fills legend with the latest value of each.
export function draw(canvas, legend, points, names, unit = '') {
  canvas.dataset.points = String(points.length);
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 600;
  const ht = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(ht * dpr)) canvas.height = Math.round(ht * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, ht);
  const left = 48, right = 8, top = 8, bottom = 20;
  const pw = w - left - right, ph = ht - top - bottom;
  const now = Date.now();
  let max = 0;
  for (const p of points) for (const n of names) max = Math.max(max, p.v[n] || 0);
  max = niceMax(max);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#5b6673';
  ctx.strokeStyle = '#e3e7ec';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + ph - (ph * i) / 4;
    ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + pw, y + 0.5); ctx.stroke();
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    ctx.fillText(fmtAxis((max * i) / 4) + unit, left - 4, y);
  }
  // The time axis spans 1, 2, 5 or 10 minutes: the least that holds
  // what was read, so a page open for 20 s shows a line, not a spike.
  const age = points.length ? now - points[0].t : 0;
  const spanMin = [1, 2, 5, 10].find((m) => m * 60000 >= age) || 10;
  const span = spanMin * 60000;
  ctx.textBaseline = 'top';
  for (let k = 0; k <= 4; k++) {
    const sec = (spanMin * 60 * k) / 4;
    const x = left + pw - (pw * sec * 1000) / span;
    ctx.textAlign = k === 0 ? 'right' : k === 4 ? 'left' : 'center';
    ctx.fillText(k === 0 ? 'now' : sec < 60 || sec % 60 ? `-${sec} s` : `-${sec / 60} min`, x, top + ph + 4);
  }
  const xOf = (t) => left + pw - (pw * (now - t)) / span;
  const yOf = (v) => top + ph - (ph * (v || 0)) / max;
  names.forEach((n, i) => {
    ctx.strokeStyle = COLORS[i % COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, j) => {
      const x = xOf(p.t), y = yOf(p.v[n]);
      if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    if (points.length === 1) {
      const p = points[0];
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillRect(xOf(p.t) - 2, yOf(p.v[n]) - 2, 4, 4);
    }
    ctx.stroke();
  });
  if (legend) {
    const last = points.length ? points[points.length - 1].v : {};
    const kids = names.map((n, i) => {
      const sw = h('i');
      sw.style.background = COLORS[i % COLORS.length];
      const v = last[n];
      const txt = v === undefined ? '' : fmtNum(v) + unit;
      return h('span', null, sw, `${n} ${txt}`);
    });
    clear(legend);
    legend.append(...kids);
  }
}
