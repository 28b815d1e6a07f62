// Pipeline: sources with their last run, rows and errors; topics with offsets and throughput;
// consumers with their lag; dead letters with their reasons, paged and filtered by source.
import { get } from './api.js';
import { h, num, panel, showError, svg, table, time } from './ui.js';

const REFRESH_MS = 2000;
const PAGE = 20;

export function mount(main) {
  const sources = h('div', { id: 'sources' });
  const topics = h('div', { id: 'topics' });
  const consumers = h('div', { id: 'consumers' });
  const letters = h('div', { id: 'dead-letters' });
  main.append(
    h('h1', {}, 'Pipeline'),
    panel('Sources', sources),
    panel('Topics', topics),
    panel('Consumers', consumers),
    panel('Dead letters', letters),
  );

  async function refresh() {
    try {
      const p = await get('/pipeline');
      sources.dataset.count = String(p.sources.length);
      sources.replaceChildren(p.sources.length
        ? table(['Source', 'Kind', 'Last run', 'Last rows', 'Runs', 'Rows', 'Dead letters', 'Failures', 'Last failure'],
          p.sources.map((s) => [
            h('code', {}, s.source), s.kind, time(s.last_run_ms), num(s.last_rows), num(s.runs), num(s.rows), num(s.errors),
            num(s.failures), s.last_failure ? h('span', { class: 'error' }, `${time(s.last_failure_ms)}: ${s.last_failure}`) : '—',
          ]))
        : h('p', {}, 'No source has run yet.'));
      topics.dataset.count = String(p.topics.length);
      topics.replaceChildren(table(['Topic', 'Partitions', 'Records', 'End offsets', 'Records/s (last 2 min)'],
        p.topics.map((t) => {
          const rates = p.throughput[t.topic] || [];
          return [
            h('code', {}, t.topic), t.partitions.length, num(t.records),
            t.partitions.map((x) => x.end_offset).join(', '),
            h('span', { class: 'spark-cell' }, sparkline(rates), ` ${num(rates.length ? rates[rates.length - 1] : 0, 0)}`),
          ];
        })));
      consumers.replaceChildren(p.consumers.length
        ? table(['Consumer', 'Kind', 'Lag', 'Positions'], p.consumers.map((c) => [
          h('code', {}, c.name), c.kind, h('span', { class: c.lag > 0 ? 'lagging' : '' }, num(c.lag)),
          c.positions.map((x) => `${x.topic}/${x.partition} @ ${x.next_offset}`).join(', '),
        ]))
        : h('p', {}, 'No consumer yet.'));
      letters.dataset.total = String(p.dead_letters);
    } catch (e) {
      showError(sources, e);
    }
  }

  // Dead letters: newest first, a page at a time (the API pages by id).
  const pages = [undefined];
  let source = '';
  async function showLetters() {
    try {
      const page = await get('/dead-letters', { limit: PAGE, before: pages[pages.length - 1], source });
      const filter = h('input', { id: 'letter-source', type: 'search', value: source, placeholder: 'such as dir:/srv/inbox' });
      filter.addEventListener('change', () => { source = filter.value.trim(); pages.splice(1); showLetters(); });
      const older = h('button', { type: 'button', disabled: page.next_before ? undefined : true, onclick: () => { pages.push(page.next_before); showLetters(); } }, 'Older');
      const newer = h('button', { type: 'button', disabled: pages.length > 1 ? undefined : true, onclick: () => { pages.pop(); showLetters(); } }, 'Newer');
      letters.replaceChildren(
        h('div', { class: 'chart-tools' },
          h('label', { for: 'letter-source', class: 'field' }, h('span', {}, 'Source'), filter),
          h('span', { class: 'note' }, `${num(page.total)} in all`), newer, older),
        page.dead_letters.length
          ? table(['Time', 'Source', 'Position', 'Reason', 'Raw (start)'], page.dead_letters.map((d) => [
            time(d.time_ms), h('code', {}, d.source), d.position, d.reason, h('code', { class: 'raw' }, preview(d.raw_base64)),
          ]))
          : h('p', {}, 'No dead letters.'),
      );
      letters.dataset.shown = String(page.dead_letters.length);
    } catch (e) {
      showError(letters, e);
    }
  }

  refresh();
  showLetters();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}

/** The first bytes of a dead letter, readable: printable ASCII as is, the rest as dots. */
function preview(base64) {
  const bytes = atob(base64 || '').slice(0, 120);
  return [...bytes].map((c) => (c >= ' ' && c <= '~' ? c : '·')).join('');
}

/** A small line of `values` (oldest first), scaled to its own maximum. */
function sparkline(values) {
  const W = 120;
  const H = 24;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? W / (values.length - 1) : W;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`).join(' ');
  return svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': `records per second, at most ${num(max, 0)}` },
    svg('polyline', { points }));
}
