// Markets × COVID: a series picker; the DAX close beside a COVID measure on one time axis (drag
// across it to choose a date range); the scatter of the lag-0 pairs with the regression line;
// the lag correlogram with its 5 % band; the rolling correlation; the strongest correlations.
// Every statistic shown is the API's: n and the plain p-value, and the inference that holds for
// time series (n_eff, the p-value adjusted for autocorrelation, the Benjamini–Hochberg q-value
// across series and lags). A result is marked significant only where q < 0.05.
import uPlot from 'uplot';
import { get } from './api.js';
import { criticalR, dateSeconds, regression } from './stats.js';
import { h, num, panel, pValue, select, showError, svg, table } from './ui.js';

const METRICS = [
  ['cases', 'New cases'],
  ['c7', 'New cases, 7-day average'],
  ['cases_per_100k', 'New cases per 100k'],
  ['c7_per_100k', 'New cases per 100k, 7-day average'],
  ['deaths', 'Deaths'],
  ['d7', 'Deaths, 7-day average'],
  ['deaths_per_100k', 'Deaths per 100k'],
  ['d7_per_100k', 'Deaths per 100k, 7-day average'],
];
const BUCKETS = [['day', 'Daily'], ['week', 'Weekly'], ['month', 'Monthly']];
const MEASURES = [['cases', 'Cases'], ['deaths', 'Deaths']];
const KINDS = [['levels', 'Levels: close vs 7-day average'], ['changes', 'Changes: log return vs growth']];
const WINDOWS = [['30', '30 trading days'], ['60', '60 trading days'], ['90', '90 trading days']];
const STATISTICS = [['pearson', 'Pearson'], ['spearman', 'Spearman']];
// Changes by default: levels of two trending series correlate whatever the cause.
const DEFAULTS = { series: 'DE', metric: 'c7', bucket: 'day', measure: 'cases', kind: 'changes', window: '30', by: 'pearson' };
const WHY = 'Why changes: two series that both trend — the DAX recovering through 2020 while cases rose — '
  + 'correlate in levels whatever the cause. Daily changes remove the trend. Each p-value is also '
  + 'adjusted for the series\' autocorrelation (n_eff: the independent pairs they are worth), and q '
  + 'for testing every series at every lag at once; only q < 0.05 is marked significant.';
const SIGNIFICANCE = 0.05;

/** The adjusted inference of coefficient `by` ('pearson' or 'spearman') in a row of the views. */
export function inference(row, by) {
  const nEff = by === 'pearson' ? row.n_eff : row.spearman_n_eff;
  const q = row[`${by}_q`];
  return { nEff, pAdj: row[`${by}_p_adj`], q, significant: q !== null && q !== undefined && q < SIGNIFICANCE };
}

/** The page's choices, kept in the address (`#/markets?series=IT&…`) so that links keep them. */
function readState() {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const state = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) if (query.get(key)) state[key] = query.get(key);
  return state;
}

function writeState(state) {
  history.replaceState(null, '', `#/markets?${new URLSearchParams(state)}`);
}

export function mount(main, ctx) {
  const state = readState();
  const charts = [];
  const picker = h('div', { class: 'picker' });
  const controls = h('div', { class: 'controls' });
  const timeSeries = h('div', { class: 'chart', id: 'time-series' });
  const scatter = h('div', { class: 'chart', id: 'scatter' });
  const correlogram = h('div', { class: 'chart', id: 'correlogram' });
  const rolling = h('div', { class: 'chart', id: 'rolling' });
  const strongest = h('div', { id: 'strongest' });
  const title = h('h1', {}, 'Markets × COVID');
  main.append(
    title,
    h('div', { class: 'toolbar' }, picker, controls),
    panel('DAX close and COVID-19', timeSeries),
    h('div', { class: 'grid' },
      panel('Scatter at lag 0', scatter),
      panel('Lag correlogram', correlogram)),
    panel('Rolling correlation at lag 0', rolling),
    panel('Strongest correlations across countries', strongest),
  );
  title.after(h('p', { class: 'note', id: 'why' }, WHY));

  let catalogue = [];
  const names = new Map();
  const change = (key) => (value) => {
    state[key] = value;
    writeState(state);
    refresh(key);
  };

  function renderControls() {
    controls.replaceChildren(
      select('Measure shown', 'metric', METRICS, state.metric, change('metric')),
      select('Buckets', 'bucket', BUCKETS, state.bucket, change('bucket')),
      select('Correlate', 'measure', MEASURES, state.measure, change('measure')),
      select('As', 'kind', KINDS, state.kind, change('kind')),
      select('Coefficient', 'by', STATISTICS, state.by, change('by')),
      select('Rolling window', 'window', WINDOWS, state.window, change('window')),
    );
  }

  function renderPicker() {
    const search = h('input', {
      id: 'series-search', type: 'search', placeholder: 'Search 214 countries and aggregates',
      autocomplete: 'off', 'aria-controls': 'series-list',
    });
    const list = h('select', { id: 'series-list', size: 8, 'aria-label': 'Country or aggregate' });
    const fill = () => {
      const q = search.value.trim().toLowerCase();
      const shown = catalogue.filter((s) => !q || displayName(s.series_name).toLowerCase().includes(q) || s.series.toLowerCase() === q);
      const groups = [['world', 'World'], ['eu27', 'European Union'], ['continent', 'Continents'], ['country', 'Countries']];
      list.replaceChildren(...groups.map(([kind, label]) => {
        const members = shown.filter((s) => s.kind === kind);
        return members.length ? h('optgroup', { label }, members.map((s) =>
          h('option', { value: s.series, selected: s.series === state.series }, displayName(s.series_name)))) : null;
      }).filter(Boolean));
    };
    search.addEventListener('input', fill);
    search.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') { list.focus(); e.preventDefault(); }
      if (e.key === 'Enter' && list.options.length) { change('series')(list.options[0].value); }
    });
    list.addEventListener('change', () => change('series')(list.value));
    fill();
    picker.replaceChildren(h('label', { for: 'series-search', class: 'field' }, h('span', {}, 'Country or aggregate'), search), list);
  }

  async function loadCatalogue() {
    try {
      catalogue = (await get('/markets/catalogue')).rows;
      catalogue.forEach((s) => names.set(s.series, displayName(s.series_name)));
      renderPicker();
    } catch (e) {
      showError(picker, e);
    }
  }

  const seriesName = () => names.get(state.series) || state.series;
  const measureLabel = () => (state.measure === 'cases' ? 'cases' : 'deaths');

  async function drawTimeSeries() {
    const entry = catalogue.find((s) => s.series === state.series);
    const range = entry ? { from: entry.first_date, to: entry.last_date } : {};
    const [covid, close] = await Promise.all([
      get('/markets/series', { series: state.series, metric: state.metric, bucket: state.bucket, ...range }),
      get('/markets/series', { metric: 'close', bucket: state.bucket, ...range }),
    ]);
    const dates = [...new Set([...covid.points, ...close.points].map((p) => p.date))].sort();
    const byDate = (points) => new Map(points.map((p) => [p.date, p.value]));
    const c = byDate(covid.points);
    const d = byDate(close.points);
    const data = [dates.map(dateSeconds), dates.map((x) => c.get(x) ?? null), dates.map((x) => d.get(x) ?? null)];
    const metricLabel = METRICS.find((m) => m[0] === state.metric)[1];
    timeSeries.dataset.covidPoints = String(covid.points.filter((p) => p.value !== null).length);
    timeSeries.dataset.closePoints = String(close.points.filter((p) => p.value !== null).length);
    const rangeLabel = h('p', { class: 'note', id: 'range' });
    const reset = h('button', { type: 'button', onclick: () => plot.setScale('x', { min: data[0][0], max: data[0][data[0].length - 1] }) }, 'Whole range');
    timeSeries.replaceChildren(h('div', { class: 'chart-tools' }, rangeLabel, reset));
    const plot = new uPlot({
      width: chartWidth(timeSeries), height: 320,
      scales: { x: { time: true }, covid: { auto: true }, dax: { auto: true } },
      series: [
        { label: 'Date' },
        { label: `${seriesName()}: ${metricLabel}`, scale: 'covid', stroke: '#c0392b', width: 1.5, spanGaps: true },
        { label: 'DAX close', scale: 'dax', stroke: '#1f5fa8', width: 1.5, spanGaps: true },
      ],
      axes: [
        {},
        { scale: 'covid', label: metricLabel, stroke: '#c0392b', size: 70 },
        { scale: 'dax', side: 1, label: 'DAX close', stroke: '#1f5fa8', grid: { show: false }, size: 70 },
      ],
      cursor: { drag: { x: true, y: false, setScale: true } },
      hooks: {
        setScale: [(u, key) => {
          if (key !== 'x') return;
          const fmt = (s) => new Date(s * 1000).toISOString().slice(0, 10);
          rangeLabel.textContent = `Shown: ${fmt(u.scales.x.min)} to ${fmt(u.scales.x.max)} — drag across the chart to choose a range`;
        }],
      },
    }, data, timeSeries);
    charts.push(plot);
  }

  async function drawScatter() {
    const [aligned, stats] = await Promise.all([
      get('/markets/aligned', { series: state.series }),
      get('/markets/correlations', { series: state.series, measure: state.measure, kind: state.kind, lag: 0 }),
    ]);
    const [xCol, yCol] = state.kind === 'levels'
      ? [state.measure === 'cases' ? 'c7' : 'd7', 'close']
      : [state.measure === 'cases' ? 'g_cases' : 'g_deaths', 'log_return'];
    const pairs = aligned.rows.filter((r) => r[xCol] !== null && r[yCol] !== null);
    const xs = pairs.map((r) => r[xCol]);
    const ys = pairs.map((r) => r[yCol]);
    const s = stats.rows[0];
    const xLabel = state.kind === 'levels' ? `7-day average of ${measureLabel()}` : `growth of the 7-day average of ${measureLabel()}`;
    const yLabel = state.kind === 'levels' ? 'DAX close' : 'DAX log return';
    scatter.replaceChildren(
      statLine(s),
      scatterPlot(xs, ys, xLabel, yLabel, pairs.map((r) => r.date)),
    );
    scatter.dataset.points = String(pairs.length);
  }

  function statLine(s) {
    if (!s) return h('p', { class: 'stats' }, 'No pairs for this series.');
    const part = (label, symbol, by) => {
      const a = inference(s, by);
      return h('span', { class: a.significant ? 'significant' : null },
        `${label} ${symbol} = ${num(s[by])} (p = ${pValue(s[`${by}_p`])}; adjusted p = ${pValue(a.pAdj)} with n_eff = ${num(a.nEff, 1)}, q = ${pValue(a.q)})`,
        a.significant ? ' — significant' : '');
    };
    return h('p', { class: 'stats', dataset: { n: s.n, pearson: s.pearson ?? '', spearman: s.spearman ?? '', significant: String(inference(s, state.by).significant) } },
      part('Pearson', 'r', 'pearson'), ' · ',
      part('Spearman', 'ρ', 'spearman'), ' · ',
      h('span', {}, `n = ${s.n}`),
      s.reason ? h('span', { class: 'reason' }, ` — ${s.reason}`) : null);
  }

  async function drawCorrelogram() {
    const page = await get('/markets/correlations', { series: state.series, measure: state.measure, kind: state.kind });
    const rows = page.rows;
    const W = 560;
    const H = 260;
    const pad = { l: 40, r: 10, t: 10, b: 30 };
    const x = (lag) => pad.l + ((lag + 28.5) / 57) * (W - pad.l - pad.r);
    const y = (r) => pad.t + ((1 - r) / 2) * (H - pad.t - pad.b);
    const bw = (W - pad.l - pad.r) / 57 - 1;
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Correlation of the DAX with ${measureLabel()} of ${seriesName()} at lags −28 to 28 days` });
    // The 5 % band with each lag's effective pairs: coefficients inside it do not differ from
    // zero at that level once autocorrelation is accounted for.
    const band = rows.filter((r) => criticalR(inference(r, state.by).nEff) !== null)
      .map((r) => [r.lag, criticalR(inference(r, state.by).nEff)]);
    if (band.length) {
      const upper = band.map(([l, c]) => `${x(l)},${y(c)}`);
      const lower = band.slice().reverse().map(([l, c]) => `${x(l)},${y(-c)}`);
      chart.append(svg('polygon', { points: [...upper, ...lower].join(' '), class: 'band' }));
    }
    for (const v of [-1, -0.5, 0, 0.5, 1]) {
      chart.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: v === 0 ? 'axis' : 'grid' }));
      chart.append(svg('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)));
    }
    for (const lag of [-28, -21, -14, -7, 0, 7, 14, 21, 28]) {
      chart.append(svg('text', { x: x(lag), y: H - 10, 'text-anchor': 'middle', class: 'tick' }, String(lag)));
    }
    let bars = 0;
    let significant = 0;
    for (const r of rows) {
      const value = r[state.by];
      if (value === null) continue;
      const a = inference(r, state.by);
      const bar = svg('rect', {
        x: x(r.lag) - bw / 2, width: bw, y: Math.min(y(0), y(value)), height: Math.abs(y(value) - y(0)),
        class: a.significant ? 'bar significant' : 'bar', 'data-lag': r.lag,
      }, svg('title', {}, `lag ${r.lag} days: ${state.by} ${num(value)}, n = ${r.n}, p = ${pValue(r[`${state.by}_p`])}; n_eff = ${num(a.nEff, 1)}, adjusted p = ${pValue(a.pAdj)}, q = ${pValue(a.q)}`));
      chart.append(bar);
      bars++;
      if (a.significant) significant++;
    }
    correlogram.dataset.lags = String(bars);
    correlogram.dataset.significant = String(significant);
    const best = rows.filter((r) => r[state.by] !== null).sort((a, b) => Math.abs(b[state.by]) - Math.abs(a[state.by]))[0];
    const bestInference = best ? inference(best, state.by) : null;
    correlogram.replaceChildren(
      h('p', { class: 'note' }, 'Lag > 0: COVID-19 leads the market by that many days. Shaded: the 5 % band around zero with the effective pairs (n_eff); dark bars: significant, q < 0.05.'),
      chart,
      best ? h('p', { class: 'stats' }, `Strongest at lag ${best.lag}: ${state.by} ${num(best[state.by])} (n = ${best.n}, n_eff = ${num(bestInference.nEff, 1)}, adjusted p = ${pValue(bestInference.pAdj)}, q = ${pValue(bestInference.q)})`) : null,
      table(['Lag', 'n', 'n_eff', 'Pearson', 'p', 'p adj.', 'q', 'Spearman', 'p', 'p adj.', 'q'], rows.map((r) => [
        r.lag, r.n, num(r.n_eff, 1), num(r.pearson), pValue(r.pearson_p), pValue(r.pearson_p_adj), pValue(r.pearson_q),
        num(r.spearman), pValue(r.spearman_p), pValue(r.spearman_p_adj), pValue(r.spearman_q),
      ]), 'Correlogram as a table'),
    );
  }

  async function drawRolling() {
    const page = await get('/markets/rolling-correlations', { series: state.series, measure: state.measure, kind: state.kind, window: state.window });
    const rows = page.rows;
    rolling.dataset.points = String(rows.length);
    rolling.replaceChildren(h('p', { class: 'note' }, `Each point: the last ${state.window} trading days (n = ${state.window}); on the right axis its p-value adjusted for autocorrelation (solid) and the plain one (dashed).`));
    if (!rows.length) {
      rolling.append(h('p', {}, 'No complete window for this series.'));
      return;
    }
    const data = [rows.map((r) => dateSeconds(r.date)), rows.map((r) => r[state.by]),
      rows.map((r) => r[`${state.by}_p_adj`]), rows.map((r) => r[`${state.by}_p`])];
    rolling.dataset.significant = String(rows.filter((r) => inference(r, state.by).significant).length);
    const plot = new uPlot({
      width: chartWidth(rolling), height: 240,
      scales: { x: { time: true }, r: { range: [-1, 1] }, p: { range: [0, 1] } },
      series: [
        { label: 'Window end' },
        { label: `${state.by} r`, scale: 'r', stroke: '#6a3d9a', width: 1.5 },
        { label: 'adjusted p-value', scale: 'p', stroke: '#777', width: 1 },
        { label: 'p-value', scale: 'p', stroke: '#bbb', width: 1, dash: [4, 4] },
      ],
      axes: [{}, { scale: 'r', label: state.by }, { scale: 'p', side: 1, label: 'p-value', grid: { show: false } }],
    }, data, rolling);
    charts.push(plot);
  }

  async function drawStrongest() {
    const page = await get('/markets/correlations/strongest', { measure: state.measure, kind: state.kind, lag: 0, by: state.by, limit: 20 });
    const kind = KINDS.find((k) => k[0] === state.kind)[1].split(':')[0].toLowerCase();
    const marks = page.rows.map((r) => inference(r, state.by));
    strongest.replaceChildren(
      h('p', { class: 'note' }, `By |${state.by}| of ${kind} at lag 0, from at least 30 pairs; ✓: significant (q < 0.05). Choose a row to show that series.`),
      table(['Series', state.by, 'n', 'p', 'n_eff', 'p adj.', 'q', 'Significant'], page.rows.map((r, i) => [
        h('button', { type: 'button', class: 'link', onclick: () => change('series')(r.series) }, displayName(r.series_name || r.series)),
        num(r[state.by]), r.n, pValue(r[`${state.by}_p`]), num(marks[i].nEff, 1), pValue(marks[i].pAdj), pValue(marks[i].q),
        marks[i].significant ? h('span', { class: 'significant', title: 'q < 0.05' }, '✓') : '',
      ])),
    );
    strongest.dataset.rows = String(page.rows.length);
    strongest.dataset.significant = String(marks.filter((m) => m.significant).length);
  }

  async function guarded(el, draw) {
    try {
      await draw();
    } catch (e) {
      showError(el, e);
    }
  }

  // One refresh at a time: a change or a new view version while one runs asks for another
  // after it (charts are never destroyed under a draw).
  let running = null;
  let again = null;
  function refresh(changed = 'all') {
    if (running) {
      again = again && again !== changed ? 'all' : changed;
      return running;
    }
    running = redraw(changed).finally(() => {
      running = null;
      if (again) {
        const next = again;
        again = null;
        refresh(next);
      }
    });
    return running;
  }

  async function redraw(changed) {
    charts.splice(0).forEach((c) => c.destroy());
    title.textContent = `Markets × COVID: ${seriesName()}`;
    main.dataset.loading = 'true';
    const jobs = [guarded(timeSeries, drawTimeSeries), guarded(rolling, drawRolling)];
    jobs.push(guarded(scatter, drawScatter), guarded(correlogram, drawCorrelogram));
    if (changed !== 'series' && changed !== 'metric' && changed !== 'bucket') jobs.push(guarded(strongest, drawStrongest));
    else if (!strongest.dataset.rows) jobs.push(guarded(strongest, drawStrongest));
    await Promise.all(jobs);
    main.dataset.loading = 'false';
    main.dataset.series = state.series;
  }

  renderControls();
  loadCatalogue().then(() => refresh());
  // New view versions: draw again from the new data.
  ctx.on('view', () => refresh());
  const onResize = () => charts.forEach((c) => c.setSize({ width: chartWidth(c.root.parentElement), height: c.height }));
  window.addEventListener('resize', onResize);
  return () => {
    window.removeEventListener('resize', onResize);
    charts.forEach((c) => c.destroy());
  };
}

/** ECDC writes names with underscores (`United_Kingdom`). */
export function displayName(name) {
  return String(name).replaceAll('_', ' ');
}

function chartWidth(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width || 800) - 8);
}

/** A scatter plot as SVG with the least-squares line. */
function scatterPlot(xs, ys, xLabel, yLabel, dates) {
  const W = 560;
  const H = 300;
  const pad = { l: 64, r: 12, t: 10, b: 40 };
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${yLabel} against ${xLabel}, ${xs.length} trading days` });
  if (!xs.length) return chart;
  const extent = (v) => {
    let lo = Math.min(...v);
    let hi = Math.max(...v);
    if (lo === hi) { lo -= 1; hi += 1; }
    const m = (hi - lo) * 0.04;
    return [lo - m, hi + m];
  };
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const sx = (v) => pad.l + ((v - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const sy = (v) => H - pad.b - ((v - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  chart.append(
    svg('line', { x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b, class: 'axis' }),
    svg('line', { x1: pad.l, x2: pad.l, y1: pad.t, y2: H - pad.b, class: 'axis' }),
    svg('text', { x: (W + pad.l) / 2, y: H - 6, 'text-anchor': 'middle', class: 'label' }, xLabel),
    svg('text', { x: 12, y: H / 2, transform: `rotate(-90 12 ${H / 2})`, 'text-anchor': 'middle', class: 'label' }, yLabel),
  );
  for (const [v, anchor] of [[x0, 'start'], [x1, 'end']]) chart.append(svg('text', { x: sx(v), y: H - pad.b + 14, 'text-anchor': anchor, class: 'tick' }, num(v, 3)));
  for (const v of [y0, y1]) chart.append(svg('text', { x: pad.l - 4, y: sy(v) + 4, 'text-anchor': 'end', class: 'tick' }, num(v, 4)));
  const points = svg('g', { class: 'points' });
  xs.forEach((x, i) => points.append(svg('circle', { cx: sx(x), cy: sy(ys[i]), r: 2.5 }, svg('title', {}, `${dates[i]}: ${num(x, 4)}, ${num(ys[i], 4)}`))));
  chart.append(points);
  const line = regression(xs, ys);
  if (line) {
    chart.append(svg('line', { x1: sx(x0), y1: sy(line.a + line.b * x0), x2: sx(x1), y2: sy(line.a + line.b * x1), class: 'fit' }, svg('title', {}, 'least-squares line')));
  }
  return chart;
}
