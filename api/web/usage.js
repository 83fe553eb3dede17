// The Usage page (`/usage`): what the signed-in user (or, for an admin who asks, everyone)
// used — totals, requests over time, cost by day, latency percentiles by model. Charts are
// SVG drawn here with DOM calls (no library, nothing inline for the page's CSP to refuse),
// each with a table of the same numbers beside it.

import { h } from './dom.js';
import { get } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const INTERVALS = [['15M', '15 minutes (last day)'], ['1H', 'Hour (last 7 days)'], ['1D', 'Day (last 30 days)'], ['7D', 'Week (last 26 weeks)']];

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

const money = (usd) => (usd === 0 ? '$0' : `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`);
const ms = (v) => (v === null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`);
const count = (n) => n.toLocaleString();

export async function usageView(main, { me }) {
  const admin = me.roles.includes('admin');
  const interval = h('select', { id: 'usage-interval', 'aria-label': 'Buckets' },
    ...INTERVALS.map(([value, label]) => h('option', { value, selected: value === '1D' }, label)));
  const everyone = admin ? h('input', { type: 'checkbox', id: 'usage-everyone' }) : null;
  const body = h('div', { id: 'usage-body', 'aria-live': 'polite' });
  const controls = h('div.inline.usage-controls', {}, h('label', { for: 'usage-interval' }, 'By '), interval,
    everyone && h('label.check', { for: 'usage-everyone' }, everyone, 'Everyone (admin)'));
  main.replaceChildren(h('section.usage', { id: 'usage' }, h('h1', {}, 'Usage'), controls, body));
  const load = async () => {
    const base = everyone?.checked ? '/api/admin/usage' : '/api/usage';
    const q = `?interval=${interval.value}`;
    body.setAttribute('aria-busy', 'true');
    const [overview, series, cost, latency, errors] = await Promise.all([
      get(`${base}/overview${q}`), get(`${base}/timeseries${q}`), get(`${base}/cost?interval=1D`),
      get(`${base}/latency${q}`), get(`${base}/errors${q}`)]);
    body.replaceChildren(cards(overview), requestsChart(series), costChart(cost),
      latencyChart(latency), errorsTable(errors));
    body.removeAttribute('aria-busy');
  };
  interval.addEventListener('change', load);
  everyone?.addEventListener('change', load);
  await load();
}

function cards(o) {
  const card = (label, value, id) => h('div.stat', { id }, h('span.muted', {}, label), h('strong', {}, value));
  return h('div.cards', { id: 'usage-cards' },
    card('Requests', count(o.requests), 'usage-requests'),
    card('Errors', `${count(o.errors)} (${(o.error_rate * 100).toFixed(1)} %)`, 'usage-errors'),
    card('Tokens', `${count(o.input_tokens)} in · ${count(o.output_tokens)} out`, 'usage-tokens'),
    card('Cost', money(o.cost_usd), 'usage-cost'),
    card('First token p50 / p95', `${ms(o.ttft_ms.p50)} / ${ms(o.ttft_ms.p95)}`, 'usage-ttft'),
    card('Whole answer p50 / p95', `${ms(o.latency_ms.p50)} / ${ms(o.latency_ms.p95)}`, 'usage-latency'));
}

/** Bars of `values` (with a label per bar) in a 640 × 200 box, the largest at full height. */
function bars(title, labels, values, errors = null) {
  const [width, height, pad] = [640, 200, 24];
  const top = Math.max(...values, 0) || 1;
  const step = (width - pad) / Math.max(values.length, 1);
  const chart = s('svg', { viewBox: `0 0 ${width} ${height + pad}`, role: 'img', class: 'chart' }, s('title', {}, title));
  values.forEach((v, i) => {
    const barHeight = (v / top) * height;
    const x = pad + i * step;
    chart.append(s('rect', { x, y: height - barHeight, width: Math.max(step - 2, 1), height: barHeight, class: 'bar' },
      s('title', {}, `${labels[i]}: ${v}`)));
    if (errors && errors[i] > 0) {
      const errorHeight = (errors[i] / top) * height;
      chart.append(s('rect', { x, y: height - errorHeight, width: Math.max(step - 2, 1), height: errorHeight, class: 'bar error' }));
    }
  });
  chart.append(s('line', { x1: pad, x2: width, y1: height, y2: height, class: 'axis' }),
    s('text', { x: 0, y: 12, class: 'tick' }, String(top)), s('text', { x: 0, y: height, class: 'tick' }, '0'),
    s('text', { x: pad, y: height + 18, class: 'tick' }, labels[0] ?? ''),
    s('text', { x: width, y: height + 18, class: 'tick', 'text-anchor': 'end' }, labels[labels.length - 1] ?? ''));
  return chart;
}

const when = (iso, interval) => {
  const d = new Date(iso);
  return interval === '15M' || interval === '1H'
    ? d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
};

function requestsChart(series) {
  const labels = series.points.map((p) => when(p.start, series.interval));
  return h('div.section', { id: 'usage-requests-chart' }, h('h2', {}, 'Requests'),
    h('p.muted', {}, 'Errors in red.'),
    bars('Requests per bucket', labels, series.points.map((p) => p.requests), series.points.map((p) => p.errors)));
}

function costChart(cost) {
  const byDay = new Map();
  for (const p of cost.points) byDay.set(p.start, (byDay.get(p.start) ?? 0) + p.cost_usd);
  const days = [...byDay.keys()].sort();
  const models = new Map();
  for (const p of cost.points) models.set(p.model, (models.get(p.model) ?? 0) + p.cost_usd);
  const rows = [...models].sort((a, b) => b[1] - a[1]).map(([model, usd]) => h('tr', {}, h('td', {}, model), h('td.num', {}, money(usd))));
  return h('div.section', { id: 'usage-cost-chart' }, h('h2', {}, 'Cost by day'),
    [...byDay.values()].some((usd) => usd > 0) ? bars('Cost per day (USD)', days.map((d) => when(d, '1D')), days.map((d) => Number(byDay.get(d).toFixed(6))))
      : h('p.muted', {}, 'No cost in the last 30 days (models without a price in the server’s configuration cost nothing here).'),
    h('table.usage-table', { id: 'usage-cost-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Model'), h('th', {}, 'Cost, 30 days'))), h('tbody', {}, ...rows)));
}

function latencyChart(latency) {
  const [width, rowHeight, left] = [640, 22, 200];
  const top = Math.max(1, ...latency.items.map((m) => m.latency_ms.p99 ?? 0));
  const chart = s('svg', { viewBox: `0 0 ${width} ${Math.max(1, latency.items.length) * rowHeight * 2}`, role: 'img', class: 'chart' },
    s('title', {}, 'Latency percentiles by model'));
  latency.items.forEach((m, i) => {
    const y = i * rowHeight * 2;
    chart.append(s('text', { x: 0, y: y + 14, class: 'tick' }, `${m.provider ?? '?'}:${m.model}`));
    [['p99', 'p99'], ['p95', 'p95'], ['p50', 'p50']].forEach(([key, cls]) => {
      const v = m.latency_ms[key] ?? 0;
      chart.append(s('rect', { x: left, y: y + 2, width: ((width - left) * v) / top, height: rowHeight - 6, class: `bar ${cls}` },
        s('title', {}, `${key}: ${ms(m.latency_ms[key])}`)));
    });
  });
  const rows = latency.items.map((m) => h('tr', {}, h('td', {}, `${m.provider ?? '?'}:${m.model}`), h('td.num', {}, count(m.requests)),
    h('td.num', {}, `${ms(m.ttft_ms.p50)} / ${ms(m.ttft_ms.p95)} / ${ms(m.ttft_ms.p99)}`),
    h('td.num', {}, `${ms(m.latency_ms.p50)} / ${ms(m.latency_ms.p95)} / ${ms(m.latency_ms.p99)}`)));
  return h('div.section', { id: 'usage-latency-chart' }, h('h2', {}, 'Latency by model'),
    h('p.muted', {}, 'Whole answer: p50 darkest, then p95, p99.'), chart,
    h('table.usage-table', { id: 'usage-latency-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Model'), h('th', {}, 'Requests'),
      h('th', {}, 'First token p50 / p95 / p99'), h('th', {}, 'Whole answer p50 / p95 / p99'))), h('tbody', {}, ...rows)));
}

function errorsTable(errors) {
  const rows = errors.items.map((e) => h('tr', {}, h('td', {}, e.code), h('td.num', {}, count(e.count)), h('td.num', {}, `${(e.rate * 100).toFixed(2)} %`)));
  return h('div.section', { id: 'usage-errors-table' }, h('h2', {}, 'Errors by code'),
    rows.length ? h('table.usage-table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Code'), h('th', {}, 'Count'), h('th', {}, 'Of requests'))), h('tbody', {}, ...rows))
      : h('p.muted', {}, 'No errors.'));
}
