// Mobile: the streaming k-means model on a map drawn from an offline outline (Natural Earth, via
// the world-atlas package), cluster centres as circles sized by weight, recent positions, a
// slider through model versions, live updates over Server-Sent Events, and how well the clusters
// fit over time (silhouette, root mean squared distance to the centres).
import { geoConicConformal, geoPath } from 'd3-geo';
import uPlot from 'uplot';
import { feature, mesh } from 'topojson-client';
import atlasUrl from 'world-atlas/countries-50m.json?url';
import { get } from './api.js';
import { h, num, panel, showError, svg, table, time } from './ui.js';

/** What the map shows before there is data: Germany. [[west, south], [east, north]]. */
const GERMANY = [[5.5, 47.2], [15.2, 55.1]];
/** Versions the slider reaches back. */
const SLIDER_VERSIONS = 500;
/** Live redraws at most this often (the model may change 20 times a second). */
const REDRAW_MS = 250;
/** The fit chart is drawn again at most this often while following live. */
const QUALITY_MS = 5000;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

let atlas = null;
async function loadAtlas() {
  if (!atlas) {
    const topology = await (await fetch(atlasUrl)).json();
    atlas = { land: feature(topology, topology.objects.countries), borders: mesh(topology, topology.objects.countries, (a, b) => a !== b) };
  }
  return atlas;
}

export function mount(main, ctx) {
  const W = 720;
  const H = 600;
  const map = h('div', { class: 'map', id: 'map' });
  const status = h('p', { class: 'note', id: 'model-status', role: 'status' }, 'Loading the model…');
  const slider = h('input', { id: 'version', type: 'range', min: 1, max: 1, value: 1, step: 1, 'aria-describedby': 'model-status' });
  const liveBox = h('input', { id: 'follow', type: 'checkbox', checked: true });
  const clusters = h('div', { id: 'clusters' });
  const fit = h('button', { type: 'button', onclick: () => { projection = null; draw(); } }, 'Fit to the data');
  const quality = h('div', { class: 'chart', id: 'quality' });
  const suggestion = h('div', { id: 'suggest-k' });
  main.append(
    h('h1', {}, 'Mobile: where devices cluster'),
    h('div', { class: 'grid map-grid' },
      panel('Map', h('div', { class: 'chart-tools' },
        h('label', { for: 'version', class: 'field grow' }, h('span', {}, 'Model version'), slider),
        h('label', { for: 'follow', class: 'check' }, liveBox, ' follow live'), fit), status, map),
      panel('Clusters', clusters)),
    panel('How well the clusters fit',
      h('p', { class: 'note' }, 'Per model version: the silhouette of up to 250 events of its micro-batch (−1 to 1; near 1: tight clusters far apart, near 0: overlapping), and the root mean squared distance of the batch\'s events to their centres (km).'),
      quality),
    panel('Which k the data suggest', suggestion),
  );
  let qualityChart = null;
  let qualityAt = 0;

  let model = null;
  let recent = [];
  // Events per cluster in the last minute, while following live (cluster → events).
  let lastMinute = null;
  let projection = null;
  let latest = 0;
  let pending = null;
  let redrawAt = 0;

  async function showVersion(version) {
    try {
      const found = version === latest || !version
        ? await get('/mobile/clusters')
        : (await get('/mobile/clusters/history', { from_version: version, to_version: version, limit: 1 }))[0];
      if (!found) return;
      model = found;
      latest = Math.max(latest, found.version);
      slider.max = String(latest);
      slider.min = String(Math.max(1, latest - SLIDER_VERSIONS + 1));
      if (liveBox.checked) slider.value = String(latest);
      if (liveBox.checked) {
        recent = (await get('/mobile/recent', { limit: 500 }).catch(() => ({ events: [] }))).events;
        const counts = await get('/mobile/counts', { window: 60 }).catch(() => null);
        lastMinute = counts ? new Map(counts.regions.map((r) => [r.cluster, r.points])) : null;
      } else {
        lastMinute = null;
      }
      await draw();
      if (liveBox.checked && Date.now() >= qualityAt) {
        qualityAt = Date.now() + QUALITY_MS;
        await drawQuality().catch((e) => showError(quality, e));
      }
    } catch (e) {
      if (e.status === 404) status.textContent = 'No model yet: drop event files into the inbox or start a generator.';
      else showError(status, e);
    }
  }

  async function draw() {
    const { land, borders } = await loadAtlas();
    const centres = model ? model.centres : [];
    if (!projection) {
      const points = [...centres.map((c) => [c.lon, c.lat]), ...recent.map((e) => [e.lon, e.lat])];
      projection = geoConicConformal().parallels([48, 54]).rotate([-10, 0]);
      const extent = points.length ? bounds(points) : GERMANY;
      projection.fitExtent([[20, 20], [W - 20, H - 20]], {
        type: 'MultiPoint', coordinates: [extent[0], extent[1], [extent[0][0], extent[1][1]], [extent[1][0], extent[0][1]]],
      });
    }
    const path = geoPath(projection);
    const maxWeight = Math.max(1e-9, ...centres.map((c) => c.weight));
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Map of ${centres.length} cluster centres and ${recent.length} recent positions` },
      svg('rect', { width: W, height: H, class: 'sea' }),
      svg('path', { d: path(land), class: 'land' }),
      svg('path', { d: path(borders), class: 'border' }));
    const dots = svg('g', { class: 'recent' });
    for (const e of recent) {
      const [x, y] = projection([e.lon, e.lat]) || [];
      if (x !== undefined) dots.append(svg('circle', { cx: x, cy: y, r: 1.6 }));
    }
    chart.append(dots);
    const circles = svg('g', { class: 'centres' });
    centres.forEach((c, i) => {
      const [x, y] = projection([c.lon, c.lat]) || [];
      if (x === undefined) return;
      const r = 6 + 30 * Math.sqrt(c.weight / maxWeight);
      circles.append(svg('g', { class: 'centre', 'data-cluster': c.cluster },
        svg('circle', { cx: x, cy: y, r, fill: COLOURS[i % COLOURS.length] },
          svg('title', {}, `cluster ${c.cluster}: ${num(c.lat, 4)}, ${num(c.lon, 4)}; weight ${num(c.weight)}, share ${(100 * c.share).toFixed(1)} %`)),
        svg('text', { x, y: y + 4, 'text-anchor': 'middle' }, String(c.cluster))));
    });
    chart.append(circles);
    map.replaceChildren(chart);
    map.dataset.version = model ? String(model.version) : '';
    map.dataset.centres = String(centres.length);
    map.dataset.recent = String(recent.length);
    if (model) {
      // On event time a version is dated by its window's end on the events' own clock.
      const made = model.event_time_ms != null
        ? `for the events up to ${time(model.event_time_ms)} (event time)`
        : `made ${time(model.created_ms)}`;
      status.textContent = `Version ${model.version} of model “${model.model}”, ${made} from ${model.batch_points.toLocaleString('en-GB')} events` +
        (model.split ? `; split cluster ${model.split[0]} (largest) into ${model.split[1]}` : '');
      clusters.replaceChildren(table(['#', 'Lat', 'Lon', 'Weight', 'Share', 'In batch', 'Last 60 s'],
        centres.map((c, i) => [
          h('span', { class: 'swatch', style: `background:${COLOURS[i % COLOURS.length]}` }, String(c.cluster)),
          num(c.lat, 4), num(c.lon, 4), num(c.weight, 1), `${(100 * c.share).toFixed(1)} %`, c.count.toLocaleString('en-GB'),
          lastMinute ? (lastMinute.get(c.cluster) ?? 0).toLocaleString('en-GB') : '–',
        ])));
    }
  }

  /** The last versions' silhouette and RMS distance, over time. */
  async function drawQuality() {
    const from = Math.max(1, latest - SLIDER_VERSIONS + 1);
    const history = await get('/mobile/clusters/history', { from_version: from, to_version: latest, limit: SLIDER_VERSIONS });
    const rows = history.filter((v) => v.silhouette !== null || v.sum_of_squares !== null);
    quality.dataset.versions = String(rows.length);
    if (qualityChart) qualityChart.destroy();
    qualityChart = null;
    if (!rows.length) {
      quality.replaceChildren(h('p', {}, 'No version with a quality yet.'));
      return;
    }
    const rms = (v) => (v.sum_of_squares !== null && v.batch_points > 0 ? Math.sqrt(v.sum_of_squares / v.batch_points) : null);
    // The newest version with a silhouette (a batch of a few events may have none).
    const newest = [...rows].reverse().find((v) => v.silhouette !== null) ?? rows[rows.length - 1];
    quality.replaceChildren(h('p', { class: 'stats', id: 'quality-latest', dataset: { silhouette: newest.silhouette ?? '', version: newest.version } },
      `Version ${newest.version}: silhouette ${num(newest.silhouette)}, root mean squared distance ${num(rms(newest), 2)} km over ${newest.batch_points.toLocaleString('en-GB')} events.`));
    qualityChart = new uPlot({
      width: Math.max(280, Math.floor(quality.getBoundingClientRect().width || 800) - 8), height: 220,
      scales: { x: { time: true }, s: { range: [-1, 1] }, d: { auto: true } },
      series: [
        { label: rows.some((v) => v.event_time_ms != null) ? 'Event time' : 'Made' },
        { label: 'silhouette', scale: 's', stroke: '#6a3d9a', width: 1.5 },
        { label: 'RMS distance, km', scale: 'd', stroke: '#c0392b', width: 1 },
      ],
      axes: [{}, { scale: 's', label: 'silhouette' }, { scale: 'd', side: 1, label: 'km', grid: { show: false } }],
    }, [rows.map((v) => (v.event_time_ms ?? v.created_ms) / 1000), rows.map((v) => v.silhouette), rows.map(rms)], quality);
  }

  /** Batch k-means of the newest events for k = 2..12, from the API, beside the current k. */
  async function drawSuggestion() {
    suggestion.replaceChildren(h('p', { class: 'note' }, 'Clustering the newest events for k = 2 to 12…'));
    const s = await get('/mobile/suggest-k', { from: 2, to: 12 });
    suggestion.dataset.suggested = String(s.suggested_k ?? '');
    suggestion.dataset.current = String(s.current_k ?? '');
    const again = h('button', { type: 'button', onclick: () => drawSuggestion().catch((e) => showError(suggestion, e)) }, 'Suggest again');
    suggestion.replaceChildren(
      h('p', { class: 'stats', id: 'suggested-k' },
        s.suggested_k ? `Suggested k = ${s.suggested_k}` : 'No suggestion', s.current_k ? ` (the model runs with k = ${s.current_k})` : '',
        `: ${s.rule}, over the newest ${s.events.toLocaleString('en-GB')} events (silhouettes on ${s.silhouette_events.toLocaleString('en-GB')}). Changing k starts a new model.`),
      table(['k', 'Sum of squares, km²', 'Silhouette', ''], s.candidates.map((c) => [
        String(c.k), num(c.sum_of_squares, 0), num(c.silhouette),
        [c.k === s.suggested_k ? 'suggested' : '', c.k === s.current_k ? 'current' : ''].filter(Boolean).join(', '),
      ])),
      again,
    );
  }

  slider.addEventListener('input', () => {
    liveBox.checked = Number(slider.value) === latest;
    clearTimeout(pending);
    pending = setTimeout(() => showVersion(Number(slider.value)), 120);
  });
  liveBox.addEventListener('change', () => liveBox.checked && showVersion(latest));
  ctx.on('model', (m) => {
    latest = Math.max(latest, m.version);
    slider.max = String(latest);
    if (!liveBox.checked) return;
    // Many versions a second: draw the newest at most every REDRAW_MS.
    const wait = Math.max(0, redrawAt - Date.now());
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      redrawAt = Date.now() + REDRAW_MS;
      showVersion(latest);
    }, wait);
  });
  showVersion(0);
  drawSuggestion().catch((e) => (e.status === 404
    ? suggestion.replaceChildren(h('p', {}, 'No events yet.'))
    : showError(suggestion, e)));
  return () => {
    clearTimeout(pending);
    if (qualityChart) qualityChart.destroy();
  };
}

/** [[west, south], [east, north]] around the points, at least a degree across, with a margin. */
function bounds(points) {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [lon, lat] of points) {
    w = Math.min(w, lon); e = Math.max(e, lon);
    s = Math.min(s, lat); n = Math.max(n, lat);
  }
  const mx = Math.max(0.5, (e - w) * 0.1);
  const my = Math.max(0.5, (n - s) * 0.1);
  return [[w - mx, s - my], [e + mx, n + my]];
}
