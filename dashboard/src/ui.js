// Small DOM and formatting helpers shared by the pages.

/**
 * Creates an element: `h('p', {class: 'x'}, 'text', child)`. Attributes starting with `on` are
 * listeners; `dataset` sets data-* attributes.
 */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** An SVG element with attributes. */
export function svg(tag, attributes = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  }
  el.append(...children);
  return el;
}

/** A number for people: `digits` significant decimals, thousands separated. */
export function num(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-GB');
  return Number(value).toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A p-value: small ones in scientific notation. */
export function pValue(p) {
  if (p === null || p === undefined) return '—';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

/** A time in ms since the epoch, as local date and time. */
export function time(ms) {
  if (!ms) return '—';
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A labelled select: options as [value, label] pairs. */
export function select(label, name, options, value, onchange) {
  const id = `select-${name}`;
  const el = h('select', { id, name, onchange: (e) => onchange(e.target.value) },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  return h('label', { for: id, class: 'field' }, h('span', {}, label), el);
}

/** A panel with a heading. */
export function panel(title, ...children) {
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', {}, title), ...children);
}

/** Shows an error in `el` (the API's reason). */
export function showError(el, error) {
  el.replaceChildren(h('p', { class: 'error', role: 'alert' }, String(error.message || error)));
}

/** A table, optionally folded into a disclosure. */
export function table(headings, rows, folded) {
  const t = h('table', {}, h('thead', {}, h('tr', {}, headings.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
  return folded ? h('details', {}, h('summary', {}, folded), t) : t;
}
